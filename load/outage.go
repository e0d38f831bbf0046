package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/retry"
)

// Retries of the warehouse and the brokers: the project's backoff
// (internal/retry, jittered ±50%), from a short first wait, so that a
// blip costs little, up to a cap short enough that the loader is back
// within seconds of the end of an outage.
const (
	retryInitial = 200 * time.Millisecond
	retryMax     = 10 * time.Second
)

// dependency is one thing the loader needs that can go away (the
// warehouse, the Kafka brokers). The loader rides out its outages in
// place: it keeps its group membership and its batches and retries, and
// dependency says what is going on without a log line per retry: a gauge
// that is 1 while it answers, one warning when an outage starts and one
// info line when it ends, with how long it lasted and how many attempts
// failed.
type dependency struct {
	name string
	log  zerolog.Logger
	up   prometheus.Gauge

	mu       sync.Mutex
	down     bool
	since    time.Time // when the current outage started
	failures int       // failed attempts in the current outage
	last     error     // the last failure
	// nodes is, for the brokers, how each one's last exchange went: the
	// brokers are down when every broker heard from lately failed.
	nodes map[int32]nodeResult
}

// nodeResult is how the last exchange with a broker went, and when.
type nodeResult struct {
	failed bool
	at     time.Time
}

// nodeMemory is how long a broker's last exchange counts: a seed broker
// asked for metadata once, or a broker the client no longer talks to,
// must not keep the brokers "up" while every broker in use fails.
const nodeMemory = 15 * time.Second

func newDependency(name string, log zerolog.Logger, up prometheus.Gauge) *dependency {
	up.Set(1)
	return &dependency{name: name, log: log, up: up, nodes: map[int32]nodeResult{}}
}

// failed records a failed attempt; the first one of an outage logs it.
func (d *dependency) failed(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failures++
	d.last = err
	if d.down {
		return
	}
	d.down, d.since = true, time.Now()
	d.up.Set(0)
	d.log.Warn().Err(err).Msg(d.name + " unreachable; retrying in place (logged again when it answers)")
}

// answered records a successful exchange; the first one after an outage
// logs its end.
func (d *dependency) answered() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.down {
		return
	}
	d.log.Info().Dur("down_for", time.Since(d.since)).Int("failed_attempts", d.failures).Msg(d.name + " back")
	d.down, d.failures, d.last = false, 0, nil
	d.up.Set(1)
}

// downFor returns how long the current outage has lasted (0: none) and
// its last failure.
func (d *dependency) downFor() (time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.down {
		return 0, nil
	}
	return time.Since(d.since), d.last
}

// node records the outcome of a request to one broker: the brokers are up
// while any of them answers.
func (d *dependency) node(id int32, err error) {
	now := time.Now()
	d.mu.Lock()
	d.nodes[id] = nodeResult{failed: err != nil, at: now}
	all := true
	for n, r := range d.nodes {
		if now.Sub(r.at) > nodeMemory {
			delete(d.nodes, n)
			continue
		}
		all = all && r.failed
	}
	d.mu.Unlock()
	if err == nil {
		d.answered()
	} else if all {
		d.failed(err)
	}
}

// brokerHook feeds the brokers' dependency from the Kafka client: every
// dial and every request/response exchange, including the group's
// heartbeats, which go on while fetching is paused.
type brokerHook struct{ dep *dependency }

var (
	_ kgo.HookBrokerConnect = brokerHook{}
	_ kgo.HookBrokerE2E     = brokerHook{}
)

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h brokerHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.dep.node(meta.NodeID, fmt.Errorf("broker %s:%d: %w", meta.Host, meta.Port, err))
	}
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h brokerHook) OnBrokerE2E(meta kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	err := e2e.Err()
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		// Ours: a request given up or the client closing, not the broker.
		return
	}
	if err != nil {
		err = fmt.Errorf("broker %s:%d: %w", meta.Host, meta.Port, err)
	}
	h.dep.node(meta.NodeID, err)
}

// unreachable reports whether a failed warehouse operation failed for want
// of an answer (refused, reset, timed out, a proxy's error page) rather
// than with an answer of the server's (a ClickHouse exception): only the
// former is an outage.
func unreachable(err error) bool {
	var ex *clickhouse.Exception
	return err != nil && !errors.As(err, &ex) && !errors.Is(err, context.Canceled)
}

// retryOp runs op until it succeeds, fails permanently or ctx ends, with
// the project's backoff. op marks what another attempt can fix with
// retry.Retryable; anything else is returned at once. Failures are counted
// in retries. An operation on the warehouse passes its dependency (wh),
// which hears of the failures that say it is away (unreachable) and of the
// success; the brokers' dependency hears from the Kafka client itself
// (brokerHook). A failure no dependency reports logs at warn level the
// first time, at debug level after.
func retryOp(ctx context.Context, retries prometheus.Counter, wh *dependency, log zerolog.Logger, what string, op func() error) error {
	warned := false
	err := retry.Do(ctx, retry.Policy{Op: "load: " + what, Initial: retryInitial, Max: retryMax,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			retries.Inc()
			switch {
			case wh != nil && unreachable(err):
				wh.failed(err)
				log.Debug().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg(what + " failed; retrying")
			case !warned:
				warned = true
				log.Warn().Err(err).Dur("retry_in", wait).Msg(what + " failed; retrying (further failures at debug level)")
			default:
				log.Debug().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg(what + " failed; retrying")
			}
		}}, func(int) error { return op() })
	if err == nil && wh != nil {
		wh.answered()
	}
	return err
}
