// Package fault injects configured failures into a simulator's responses:
// server errors, hangs (timeouts), throttles, malformed bodies and slow
// answers, and entities broken inside a good answer (a field of the wrong
// type, for the dialects that implement EntityBreaker). The configuration can change while the simulator serves (Set),
// as `shopstream sim` does on POST /_sim/faults.
//
// Decisions are deterministic: the n-th occurrence of the same request (method,
// path and query) always gets the same decision for a given seed, whatever
// order concurrent requests arrive in, and a retried request gets a fresh
// decision, so a client that retries eventually gets through.
package fault

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Kind is a kind of injected fault.
type Kind int

// Fault kinds.
const (
	None Kind = iota
	// ServerError answers 500 or 503 before the request has any effect.
	ServerError
	// Timeout hangs: until the client gives up, or for Config.TimeoutDelay
	// and then answers 504.
	Timeout
	// Throttle answers the API's throttling response before the request has
	// any effect.
	Throttle
	// Malformed lets the request take effect, then cuts the response body
	// short, so it no longer parses.
	Malformed
	// Slow waits Config.SlowDelay, then answers normally: a slow API, not a
	// failed one.
	Slow
	// Entity lets the request take effect, then breaks one entity of the
	// answer (EntityBreaker): the rest of the page is good, so a client
	// parks that entity as a dead letter and goes on. Retrying would not
	// help a real client, whose API sends the same bytes again; here the
	// next request decides afresh.
	Entity
)

func (k Kind) String() string {
	switch k {
	case ServerError:
		return "server_error"
	case Timeout:
		return "timeout"
	case Throttle:
		return "throttle"
	case Malformed:
		return "malformed"
	case Slow:
		return "slow"
	case Entity:
		return "entity"
	}
	return "none"
}

// DefaultMaxHang bounds how long a Timeout fault can hold a request.
const DefaultMaxHang = 30 * time.Second

// DefaultSlowDelay is how long a Slow fault delays its answer.
const DefaultSlowDelay = 2 * time.Second

// Config sets the fault rates. Rates are probabilities per request in [0,1];
// their sum must not exceed 1. The zero value injects nothing.
type Config struct {
	// Seed makes decisions reproducible; simulators default it to the
	// world's seed.
	Seed uint64 `json:"seed,omitempty"`
	// ServerErrorRate is the share of requests answered 500/503.
	ServerErrorRate float64 `json:"server_error_rate,omitempty"`
	// TimeoutRate is the share of requests that hang.
	TimeoutRate float64 `json:"timeout_rate,omitempty"`
	// ThrottleRate is the share of requests throttled regardless of the
	// rate limiter.
	ThrottleRate float64 `json:"throttle_rate,omitempty"`
	// MalformedRate is the share of responses whose body is cut short.
	MalformedRate float64 `json:"malformed_rate,omitempty"`
	// SlowRate is the share of requests answered normally after SlowDelay.
	SlowRate float64 `json:"slow_rate,omitempty"`
	// SlowDelay is how long a slow answer takes (bounded by MaxHang).
	// Default DefaultSlowDelay.
	SlowDelay time.Duration `json:"slow_delay,omitempty"`
	// EntityRate is the share of answers with one entity broken.
	EntityRate float64 `json:"entity_rate,omitempty"`
	// TimeoutDelay is how long a hang lasts before a 504; zero hangs until
	// the client gives up. Either way MaxHang bounds it.
	TimeoutDelay time.Duration `json:"timeout_delay,omitempty"`
	// MaxHang bounds every hang. Default DefaultMaxHang.
	MaxHang time.Duration `json:"max_hang,omitempty"`
	// PathPrefixes limits faults to requests whose path starts with one of
	// them; empty means every request.
	PathPrefixes []string `json:"path_prefixes,omitempty"`
	// OnFault, if set, is called for every injected fault before it takes
	// effect (tests use it to observe faults and to cancel hung requests).
	OnFault func(k Kind, r *http.Request) `json:"-"`
}

// Enabled reports whether any fault rate is set.
func (c Config) Enabled() bool {
	return c.ServerErrorRate > 0 || c.TimeoutRate > 0 || c.ThrottleRate > 0 || c.MalformedRate > 0 || c.SlowRate > 0 || c.EntityRate > 0
}

// Dialect writes faults the way one API does.
type Dialect interface {
	// WriteThrottle writes the API's throttling response.
	WriteThrottle(w http.ResponseWriter, r *http.Request)
	// WriteServerError writes the API's response for an internal error with
	// the given HTTP status (500, 503 or 504).
	WriteServerError(w http.ResponseWriter, r *http.Request, status int)
}

// EntityBreaker is a Dialect that can break one entity of a good answer.
type EntityBreaker interface {
	// BreakEntity returns body with one entity's field of the wrong type,
	// and that entity's id; ok is false when body holds no entity.
	BreakEntity(body []byte) (broken []byte, id string, ok bool)
}

// Injector decides and applies faults. It is safe for concurrent use.
type Injector struct {
	mu     sync.Mutex
	cfg    Config
	seen   map[string]uint64
	counts map[Kind]int
	broken []string
}

// New returns an Injector for cfg.
func New(cfg Config) *Injector {
	in := &Injector{seen: map[string]uint64{}, counts: map[Kind]int{}}
	in.cfg = withDefaults(cfg, cfg)
	return in
}

// withDefaults fills cfg's unset bounds, and its seed and hook from prev
// (a configuration sent over the wire has neither).
func withDefaults(cfg, prev Config) Config {
	if cfg.MaxHang <= 0 {
		cfg.MaxHang = DefaultMaxHang
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	if cfg.Seed == 0 {
		cfg.Seed = prev.Seed
	}
	if cfg.OnFault == nil {
		cfg.OnFault = prev.OnFault
	}
	return cfg
}

// Set replaces the configuration from the next request on; requests in
// flight keep the decision they got. A zero Seed or nil OnFault keeps the
// current one. The counts go on.
func (in *Injector) Set(cfg Config) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cfg = withDefaults(cfg, in.cfg)
}

// Config returns the configuration in force.
func (in *Injector) Config() Config {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cfg
}

// Validate reports a rate outside [0,1] or rates that sum above 1.
func (c Config) Validate() error {
	sum := 0.0
	for _, r := range []float64{c.ServerErrorRate, c.TimeoutRate, c.ThrottleRate, c.MalformedRate, c.SlowRate, c.EntityRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("fault rate %g outside [0,1]", r)
		}
		sum += r
	}
	if sum > 1 {
		return fmt.Errorf("fault rates sum to %g, more than 1", sum)
	}
	return nil
}

// Counts returns how many faults of each kind were injected so far (an
// entity fault only when the answer held an entity to break).
func (in *Injector) Counts() map[Kind]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[Kind]int, len(in.counts))
	for k, v := range in.counts {
		out[k] = v
	}
	return out
}

// Broken returns the ids of the entities broken so far (Entity faults
// whose answer held one), in order.
func (in *Injector) Broken() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.broken...)
}

// Decide returns the fault for r, counting r as one more occurrence of its
// fingerprint.
func (in *Injector) Decide(r *http.Request) Kind {
	k, _ := in.decide(r)
	return k
}

// decide returns the fault for r and the configuration it was decided by.
func (in *Injector) decide(r *http.Request) (Kind, Config) {
	if in == nil {
		return None, Config{}
	}
	in.mu.Lock()
	c := in.cfg
	in.mu.Unlock()
	if !c.Enabled() || !applies(c, r.URL.Path) {
		return None, c
	}
	fp := r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	in.mu.Lock()
	n := in.seen[fp]
	in.seen[fp] = n + 1
	in.mu.Unlock()

	h := fnv.New64a()
	h.Write([]byte(fp))
	u := rand.New(rand.NewPCG(c.Seed, h.Sum64()^(n*0x9e3779b97f4a7c15))).Float64()
	k := None
	switch {
	case u < c.ServerErrorRate:
		k = ServerError
	case u < c.ServerErrorRate+c.TimeoutRate:
		k = Timeout
	case u < c.ServerErrorRate+c.TimeoutRate+c.ThrottleRate:
		k = Throttle
	case u < c.ServerErrorRate+c.TimeoutRate+c.ThrottleRate+c.MalformedRate:
		k = Malformed
	case u < c.ServerErrorRate+c.TimeoutRate+c.ThrottleRate+c.MalformedRate+c.SlowRate:
		k = Slow
	case u < c.ServerErrorRate+c.TimeoutRate+c.ThrottleRate+c.MalformedRate+c.SlowRate+c.EntityRate:
		k = Entity
	}
	// An entity fault counts once an entity was broken (Wrap).
	if k != None && k != Entity {
		in.mu.Lock()
		in.counts[k]++
		in.mu.Unlock()
	}
	return k, c
}

func applies(c Config, path string) bool {
	if len(c.PathPrefixes) == 0 {
		return true
	}
	for _, p := range c.PathPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Wrap returns next with faults injected in the given dialect.
func (in *Injector) Wrap(next http.Handler, d Dialect) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, c := in.decide(r)
		if k != None && c.OnFault != nil {
			c.OnFault(k, r)
		}
		switch k {
		case ServerError:
			status := http.StatusInternalServerError
			if len(r.URL.RawQuery)%2 == 1 { // deterministic mix of 500 and 503
				status = http.StatusServiceUnavailable
			}
			d.WriteServerError(w, r, status)
		case Throttle:
			d.WriteThrottle(w, r)
		case Timeout:
			// Read the body first: net/http notices a client that gave up
			// only once the request body is consumed.
			_, _ = io.Copy(io.Discard, r.Body)
			if hang(r.Context(), c.TimeoutDelay, c.MaxHang) {
				d.WriteServerError(w, r, http.StatusGatewayTimeout)
			}
		case Slow:
			if hang(r.Context(), c.SlowDelay, c.MaxHang) {
				next.ServeHTTP(w, r)
			}
		case Entity:
			rec := &recorder{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			body := rec.body.Bytes()
			if b, ok := d.(EntityBreaker); ok && rec.status == http.StatusOK {
				if broken, id, ok := b.BreakEntity(body); ok {
					body = broken
					in.mu.Lock()
					in.broken = append(in.broken, id)
					in.counts[Entity]++
					in.mu.Unlock()
				}
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status)
			_, _ = w.Write(body)
		case Malformed:
			rec := &recorder{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.status)
			_, _ = w.Write(Truncate(rec.body.Bytes()))
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// hang blocks until the client gives up (false) or delay passes (true),
// never longer than maxHang (zero delay: maxHang).
func hang(ctx context.Context, delay, maxHang time.Duration) bool {
	d := maxHang
	if delay > 0 && delay < d {
		d = delay
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Truncate returns body cut to half its length (at least one byte short), so
// a JSON document no longer parses.
func Truncate(body []byte) []byte {
	if len(body) == 0 {
		return []byte("{")
	}
	return body[:len(body)/2]
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}
