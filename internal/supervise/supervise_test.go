package supervise

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

// fakeClock records the waits; a sleep moves its time and returns at once.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// part plays a list of outcomes, one per Run; when they are played out it
// ends the test's context (stop) and returns nil once the context is done.
type part struct {
	mu       sync.Mutex
	outcomes []func(ctx context.Context) error
	runs     int
	closed   int
	stop     context.CancelFunc
}

func (p *part) Run(ctx context.Context) error {
	p.mu.Lock()
	p.runs++
	var next func(ctx context.Context) error
	if len(p.outcomes) > 0 {
		next, p.outcomes = p.outcomes[0], p.outcomes[1:]
	}
	p.mu.Unlock()
	if next == nil {
		p.stop()
		<-ctx.Done()
		return nil
	}
	return next(ctx)
}

func (p *part) Close() error {
	p.mu.Lock()
	p.closed++
	p.mu.Unlock()
	return nil
}

func fail(msg string) func(context.Context) error {
	return func(context.Context) error { return errors.New(msg) }
}

// TestFailingPartRestartsAlone: a part that fails is run again after waits
// that double up to the cap, each restart counted under its name and logged
// with its cause; a panic counts as a failure; a part running beside it is
// never restarted; both are closed once after the context ends.
func TestFailingPartRestartsAlone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fc := &fakeClock{now: time.Unix(0, 0)}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := New(zerolog.New(&logs), m, Policy{Initial: time.Second, Max: 4 * time.Second, Clock: fc})

	steady := &part{stop: func() {}}
	flaky := &part{stop: cancel, outcomes: []func(context.Context) error{
		fail("broker gone"), fail("broker gone"), func(context.Context) error { panic("nil map") }, fail("auth revoked"),
	}}
	s.Go(ctx, "steady", steady)
	s.Go(ctx, "flaky", flaky)
	s.Wait()

	if flaky.runs != 5 || steady.runs != 1 {
		t.Fatalf("flaky ran %d times (want 5), steady %d (want 1)", flaky.runs, steady.runs)
	}
	if flaky.closed != 1 || steady.closed != 1 {
		t.Fatalf("closed flaky %d, steady %d times; want once each", flaky.closed, steady.closed)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	if len(fc.waits) != len(want) {
		t.Fatalf("waits %v, want %v", fc.waits, want)
	}
	for i := range want {
		if fc.waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", fc.waits, want)
		}
	}
	if got := counter(t, m.Restarts("flaky")); got != 4 {
		t.Errorf("%s{part=flaky} = %v, want 4", MetricRestarts, got)
	}
	if got := counter(t, m.Restarts("steady")); got != 0 {
		t.Errorf("%s{part=steady} = %v, want 0", MetricRestarts, got)
	}
	for _, line := range []string{`"stage":"flaky","error":"broker gone","restart_in":1000`, `"error":"panic: nil map`, `"error":"auth revoked"`} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %s:\n%s", line, logs.String())
		}
	}
	if strings.Contains(logs.String(), `"stage":"steady"`) {
		t.Errorf("the steady part logged:\n%s", logs.String())
	}
}

// TestHealthyRunResetsWait: a failure after an incarnation that ran for
// ResetAfter waits Initial again, not the doubled wait.
func TestHealthyRunResetsWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fc := &fakeClock{now: time.Unix(0, 0)}
	s := New(zerolog.Nop(), nil, Policy{Initial: time.Second, Max: time.Minute, ResetAfter: 10 * time.Minute, Clock: fc})
	p := &part{stop: cancel, outcomes: []func(context.Context) error{
		fail("a"), fail("b"),
		func(context.Context) error { fc.advance(time.Hour); return errors.New("after an hour") },
	}}
	s.Go(ctx, "p", p)
	s.Wait()
	want := []time.Duration{time.Second, 2 * time.Second, time.Second}
	if len(fc.waits) != 3 || fc.waits[0] != want[0] || fc.waits[1] != want[1] || fc.waits[2] != want[2] {
		t.Fatalf("waits %v, want %v", fc.waits, want)
	}
}

// TestDoneIsNotRestarted: a part whose Run returns nil before the context
// ends is done: not run again, closed once; a part never run (its context
// ended before it started) is still closed.
func TestDoneIsNotRestarted(t *testing.T) {
	s := New(zerolog.Nop(), nil, Policy{Clock: &fakeClock{}})
	done := &part{stop: func() {}, outcomes: []func(context.Context) error{func(context.Context) error { return nil }}}
	s.Go(context.Background(), "done", done)
	s.Wait()
	if done.runs != 1 || done.closed != 1 {
		t.Fatalf("runs %d, closed %d", done.runs, done.closed)
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
