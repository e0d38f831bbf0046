package stage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/supervise"
)

// script is a Stepper that plays a list of outcomes.
type script struct {
	steps  *[]error // nil error: did work; errIdle: nothing to do
	closed *int
	// end is called when the script is played out.
	end func()
}

var errIdle = errors.New("idle")

func (s script) Step(ctx context.Context) (stage.Progress, error) {
	if len(*s.steps) == 0 {
		s.end()
		return stage.Progress{}, ctx.Err()
	}
	e := (*s.steps)[0]
	*s.steps = (*s.steps)[1:]
	switch {
	case e == nil:
		return stage.Progress{Done: true, Work: "w"}, nil
	case errors.Is(e, errIdle):
		return stage.Progress{}, nil
	}
	return stage.Progress{}, e
}

func (s script) Close() { *s.closed++ }

// TestRunRestartsFromCursors: under the supervisor, an incarnation that
// fails is closed and a new one opened after the back-off, on the stage's
// clock, and the restart is counted; idle steps wait the poll interval on
// the same clock; Run returns nil when its context ends. No wall-clock time
// passes.
func TestRunRestartsFromCursors(t *testing.T) {
	clock := simworld.NewManualClock(simworld.DefaultStart)
	steps := []error{nil, errIdle, nil, errors.New("commit: broker gone"), nil, errIdle}
	opened, closed, done := 0, 0, 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(context.Context) (stage.Stepper, error) {
		opened++
		return script{steps: &steps, closed: &closed, end: cancel}, nil
	}
	reg := prometheus.NewRegistry()
	metrics, err := stage.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := stage.NewRunner(open, stage.RunConfig{Interval: time.Minute, Clock: clock, Source: "test", Metrics: metrics,
		OnProgress: func(stage.Progress) { done++ }})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := supervise.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := supervise.New(zerolog.Nop(), sm, supervise.Policy{Initial: 10 * time.Second, Clock: clock})
	s.Go(ctx, "ingest-test", r)
	s.Wait()
	if opened != 2 || closed != 2 || done != 3 {
		t.Fatalf("opened %d, closed %d, progress %d", opened, closed, done)
	}
	var m dto.Metric
	if err := sm.Restarts("ingest-test").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("restarts metric %v (%v)", m.GetCounter().GetValue(), err)
	}
	// One idle wait (1 min) and one back-off (10 s) before the last idle step.
	if got := clock.Now().Sub(simworld.DefaultStart); got < time.Minute+10*time.Second {
		t.Fatalf("simulated waits %s", got)
	}
}

// TestOrderQueue: ids are deduplicated, taken in batches, and dropped (and
// counted) beyond the bound.
func TestOrderQueue(t *testing.T) {
	q := &stage.OrderQueue{Max: 3}
	stage.Follower{Queue: q}.FollowOrder(webhookEvent("1"))
	q.Add("1", "2", "3", "4")
	if q.Len() != 3 || q.Dropped() != 1 {
		t.Fatalf("len %d dropped %d", q.Len(), q.Dropped())
	}
}

func webhookEvent(orderID string) webhook.Event {
	return webhook.Event{Type: webhook.TypeOrderStatusChange, NotificationID: "n" + orderID, Order: &webhook.OrderData{OrderID: orderID}}
}

// backlogScript is a script that reads one more day of ten per step.
type backlogScript struct {
	script
	read *float64
}

func (b backlogScript) Step(ctx context.Context) (stage.Progress, error) {
	p, err := b.script.Step(ctx)
	if p.Done {
		*b.read++
	}
	return p, err
}

func (b backlogScript) Backlog(time.Time) stage.Backlog {
	return stage.Backlog{Days: 10, Done: *b.read}
}

// TestRunPublishesBacklog: after every step the Runner publishes the stage's
// backlog (days of history, days read) under the declared metric names, and
// the time of the first step that found nothing left to read, once: a
// later idle step does not move it.
func TestRunPublishesBacklog(t *testing.T) {
	clock := simworld.NewManualClock(simworld.DefaultStart)
	steps := []error{nil, nil, nil, errIdle, nil, errIdle}
	closed, read := 0, 0.0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	metrics, err := stage.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var idleAt time.Time
	gauges := func() map[string]float64 {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "source" && l.GetValue() == "amazon" && m.GetGauge() != nil {
						out[f.GetName()] = m.GetGauge().GetValue()
					}
				}
			}
		}
		return out
	}
	open := func(context.Context) (stage.Stepper, error) {
		return backlogScript{script: script{steps: &steps, closed: &closed, end: cancel}, read: &read}, nil
	}
	r, err := stage.NewRunner(open, stage.RunConfig{Interval: time.Minute, Clock: clock, Source: "amazon", Metrics: metrics,
		OnProgress: func(stage.Progress) {
			g := gauges()
			if g[stage.MetricBackfillDays] != 10 || g[stage.MetricBackfillDaysDone] != read {
				t.Errorf("after %v steps: %v", read, g)
			}
			if read == 4 {
				idleAt = time.Unix(int64(g[stage.MetricBackfillDone]), 0)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	g := gauges()
	if g[stage.MetricBackfillDaysDone] != 4 {
		t.Errorf("days done %v, want 4", g[stage.MetricBackfillDaysDone])
	}
	// The first idle step came after three steps, on the starting clock;
	// the second one, a minute later, did not move the time.
	if want := simworld.DefaultStart; !idleAt.Equal(want) || !time.Unix(int64(g[stage.MetricBackfillDone]), 0).Equal(want) {
		t.Errorf("backfill done at %s (then %v), want %s", idleAt, g[stage.MetricBackfillDone], want)
	}
}

// idleQueue is a Stepper that has nothing to do until its queue has ids,
// and wakes Run through the queue, as the TikTok Shop stage does with the
// orders webhooks name.
type idleQueue struct {
	q     *stage.OrderQueue
	steps chan int // receives the number of ids each step found
}

func (s idleQueue) Step(context.Context) (stage.Progress, error) {
	n := s.q.Len()
	s.steps <- n
	return stage.Progress{}, nil // idle either way: Run sleeps again
}

func (s idleQueue) Close()                {}
func (s idleQueue) Wake() <-chan struct{} { return s.q.Wake() }

// stoppedClock never lets time pass: Sleep returns only when ctx ends.
type stoppedClock struct{}

func (stoppedClock) Now() time.Time { return simworld.DefaultStart }
func (stoppedClock) Sleep(ctx context.Context, _ time.Duration) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestWebhookWakesIdleStage: an idle stage waiting for its poll interval
// steps again as soon as a webhook queues an order, on a clock where the
// interval never passes (before, the order waited up to
// sources.tiktokshop.poll_interval, a minute by default).
func TestWebhookWakesIdleStage(t *testing.T) {
	q := &stage.OrderQueue{}
	st := idleQueue{q: q, steps: make(chan int)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r, err := stage.NewRunner(func(context.Context) (stage.Stepper, error) { return st, nil },
		stage.RunConfig{Interval: time.Hour, Clock: stoppedClock{}, Source: "tiktokshop"})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- r.Run(ctx) }()
	if n := <-st.steps; n != 0 {
		t.Fatalf("first step found %d ids", n)
	}
	stage.Follower{Queue: q}.FollowOrder(webhookEvent("576000000000000001"))
	select {
	case n := <-st.steps:
		if n != 1 {
			t.Fatalf("woken step found %d ids", n)
		}
	case <-time.After(time.Minute):
		t.Fatal("the queued order did not wake the idle stage")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
