// Package simapi holds what the marketplace simulators (amazontest,
// tiktokshoptest, tiktokbiztest) share beyond the world and the fault layer:
// the Base every simulator is built on, opaque paging tokens, the seeded
// strings their default credentials are made of, and the server that runs
// one on a loopback listener.
package simapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

// Base is what every simulator is built on: the world it serves and that
// world's clock, the credentials it accepts (C), its fault injector, and the
// handler ServeHTTP runs. A simulator embeds it.
type Base[C any] struct {
	world  *simworld.World
	clock  simworld.Clock
	creds  C
	faults *fault.Injector
	h      http.Handler
	// requests counts the requests NextRequest numbered.
	requests *atomic.Uint64
}

// NewBase returns the base of a simulator over w: it accepts creds, or
// defaults(w) when creds is nil, and injects faults, whose Seed defaults to
// the world's seed. Until SetHandler it serves nothing.
func NewBase[C any](w *simworld.World, creds *C, defaults func(*simworld.World) C, faults fault.Config) Base[C] {
	if faults.Seed == 0 {
		faults.Seed = w.Seed()
	}
	b := Base[C]{world: w, clock: w.Clock(), faults: fault.New(faults), h: http.NotFoundHandler(),
		requests: new(atomic.Uint64)}
	if creds != nil {
		b.creds = *creds
	} else {
		b.creds = defaults(w)
	}
	return b
}

// SetHandler sets the handler ServeHTTP runs: the simulator's routes,
// wrapped by the fault injector and whatever else the API puts in front.
func (b *Base[C]) SetHandler(h http.Handler) { b.h = h }

// World returns the simulated world.
func (b *Base[C]) World() *simworld.World { return b.world }

// Clock returns the world's clock, which the simulator runs on.
func (b *Base[C]) Clock() simworld.Clock { return b.clock }

// Credentials returns the credentials the simulator accepts.
func (b *Base[C]) Credentials() C { return b.creds }

// Faults returns the fault injector, to read what it injected.
func (b *Base[C]) Faults() *fault.Injector { return b.faults }

// NextRequest numbers a request: 1 for the first, then 2, 3, ..., for the
// request ids every API puts on its answers.
func (b *Base[C]) NextRequest() uint64 { return b.requests.Add(1) }

// ServeHTTP serves the API.
func (b *Base[C]) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.h.ServeHTTP(w, r) }

// EncodeToken and DecodeToken make opaque paging tokens: base64url JSON of
// the paging state. They are not signed: a simulator only needs clients to
// treat them as opaque, and a tampered token fails to decode or finds
// nothing.
func EncodeToken(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken reads a token of EncodeToken into v.
func DecodeToken(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode token: %w", err)
	}
	return nil
}

// Alphabets of RandomString.
const (
	Hex    = "0123456789abcdef"
	Digits = "0123456789"
	// LowerAlnum is lower-case letters and digits.
	LowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// RandomString draws n characters of alphabet from r, one r.IntN each, so
// that a seeded r gives the same credentials on every run.
func RandomString(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Server is a simulator listening on a loopback address, like
// httptest.Server. Each simulator's Server embeds it and adds the URLs of
// the hosts it stands in for.
type Server[S http.Handler] struct {
	*httptest.Server
	// Sim is the simulator behind the server.
	Sim S
}

// NewServer starts sim on a loopback listener. Close it when done.
func NewServer[S http.Handler](sim S) *Server[S] {
	return &Server[S]{Server: httptest.NewServer(sim), Sim: sim}
}
