// Package supervise runs shopstream's long-running parts (the ingest
// stages, the webhook receiver, the transform, the loader, the warehouse
// child) under one restart policy, the only one in the code base.
//
// # The contract of a part
//
// A part is built by a constructor that validates its configuration: a bad
// configuration is an error there, at start, never a restart loop. Then:
//
//   - Run(ctx) runs one incarnation of the part until ctx ends, and then
//     returns nil, or until it fails, and then returns the error, which
//     means "restart me". Run releases what it opened (clients,
//     connections, listeners, child processes) before it returns. After a
//     failure the supervisor calls Run again; every call starts afresh from
//     what the part committed (cursors, consumer offsets), and fences the
//     previous incarnation where that matters (transactional ids). A nil
//     return before ctx ends means the part has nothing more to do; it is
//     not restarted.
//   - Close, if the part has one (io.Closer), releases what outlives the
//     incarnations, such as a client they share. It is idempotent and safe
//     whether or not Run ever ran; the supervisor calls it once, after the
//     part's last Run returned.
//
// # The policy
//
// A part whose Run failed (or panicked) is restarted after a wait that
// starts at Policy.Initial and doubles up to Policy.Max; an incarnation that
// ran for Policy.ResetAfter counts as healthy and starts the wait afresh.
// Every restart is counted in shopstream_restarts_total{part} and logged
// once, at error level, with its cause. A failure of one part restarts that
// part only.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/logging"
)

// Runner is a long-running part; see the package documentation for the
// contract of Run and of the optional io.Closer.
type Runner interface {
	Run(ctx context.Context) error
}

// RunnerFunc adapts a function to Runner: a part whose incarnation is built
// and released inside one call.
type RunnerFunc func(ctx context.Context) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context) error { return f(ctx) }

// MetricRestarts counts the restarts of each part.
const MetricRestarts = "shopstream_restarts_total"

// Metrics are the supervisor's Prometheus metrics.
type Metrics struct {
	restarts *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRestarts,
		Help: "Incarnations of a long-running part (ingest-<source>, ingest-webhooks, transform, load, warehouse, ...) that failed and were restarted."},
		[]string{"part"})}
	if reg != nil {
		if err := reg.Register(m.restarts); err != nil {
			return nil, fmt.Errorf("supervise: register metrics: %w", err)
		}
	}
	return m, nil
}

// Restarts returns the restart counter of part.
func (m *Metrics) Restarts(part string) prometheus.Counter { return m.restarts.WithLabelValues(part) }

// Policy is the restart policy.
type Policy struct {
	// Initial is the wait before the first restart; default 1 s.
	Initial time.Duration
	// Max caps the wait, which doubles with every failure in a row;
	// default 1 min.
	Max time.Duration
	// ResetAfter is how long an incarnation must have run to count as
	// healthy, so that its failure waits Initial again; default Max.
	ResetAfter time.Duration
	// Clock measures and waits; default clock.Wall. Tests pass the
	// simulator's manual clock.
	Clock clock.Clock
}

// Supervisor runs parts under the policy. Its methods are safe for
// concurrent use.
type Supervisor struct {
	log     zerolog.Logger
	metrics *Metrics
	policy  Policy
	wg      sync.WaitGroup
}

// New returns a supervisor that logs through log and counts restarts in m
// (nil: an unregistered set).
func New(log zerolog.Logger, m *Metrics, p Policy) *Supervisor {
	if m == nil {
		m, _ = NewMetrics(nil)
	}
	if p.Initial <= 0 {
		p.Initial = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	p.Max = max(p.Max, p.Initial)
	if p.ResetAfter <= 0 {
		p.ResetAfter = p.Max
	}
	if p.Clock == nil {
		p.Clock = clock.Wall{}
	}
	return &Supervisor{log: log, metrics: m, policy: p}
}

// Part is a named Runner: the name labels its log lines (stage) and its
// restart counter (part).
type Part struct {
	Name   string
	Runner Runner
}

// Start starts every part, as Go does.
func (s *Supervisor) Start(ctx context.Context, parts ...Part) {
	for _, p := range parts {
		s.Go(ctx, p.Name, p.Runner)
	}
}

// Go starts running r as the part name, restarting it on failure, until ctx
// ends; then it closes r (if r is an io.Closer). It returns at once; Wait
// waits for every part started so.
func (s *Supervisor) Go(ctx context.Context, name string, r Runner) {
	s.metrics.Restarts(name) // export 0, so that rates work from the start
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.supervise(ctx, name, r)
	}()
}

// Wait blocks until every part started with Go has stopped and closed.
func (s *Supervisor) Wait() { s.wg.Wait() }

func (s *Supervisor) supervise(ctx context.Context, name string, r Runner) {
	log := s.log.With().Str(logging.Stage, name).Logger()
	defer func() {
		if c, ok := r.(io.Closer); ok {
			if err := c.Close(); err != nil {
				log.Warn().Err(err).Msg("close failed")
			}
		}
	}()
	wait := s.policy.Initial
	for {
		started := s.policy.Clock.Now()
		err := runOnce(ctx, r)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			log.Info().Msg("stopped: nothing more to do")
			return
		}
		if s.policy.Clock.Now().Sub(started) >= s.policy.ResetAfter {
			wait = s.policy.Initial
		}
		s.metrics.Restarts(name).Inc()
		log.Error().Err(err).Dur("restart_in", wait).Msg("failed; restarting")
		if s.policy.Clock.Sleep(ctx, wait) != nil {
			return
		}
		wait = min(2*wait, s.policy.Max)
	}
}

// errPanic marks a Run that panicked.
var errPanic = errors.New("panic")

// runOnce runs one incarnation, turning a panic into its error.
func runOnce(ctx context.Context, r Runner) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", errPanic, p, debug.Stack())
		}
	}()
	return r.Run(ctx)
}
