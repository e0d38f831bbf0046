package amazon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
)

// reportTime is how long every report takes in these tests: five minutes
// IN_QUEUE and five IN_PROGRESS, so that reports in flight at once are the
// createReport calls of any ten minutes.
const reportTime = 10 * time.Minute

type queueRun struct {
	elapsed  time.Duration // simulated
	maxAlive int           // most reports the simulator was generating at once
	creates  int
	errs     []error
}

// runDays prefetches n Sales & Traffic days, then asks for them one by one,
// as the stage does, on a client that keeps at most concurrency reports in flight.
func runDays(t *testing.T, n, concurrency int, fatal float64) queueRun {
	t.Helper()
	fixed := [2]time.Duration{reportTime / 2, reportTime / 2}
	e := newEnv(t, envOptions{
		start:  simworld.DefaultStart.Add(20 * 24 * time.Hour),
		sim:    amazontest.Options{ReportQueueTime: fixed, ReportProcessingTime: fixed, ReportFatalRate: fatal},
		client: func(c *Config) { c.ReportsInFlight = concurrency },
	})
	ctx := context.Background()
	first := DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(1)
	days := make([]Date, n)
	for i := range days {
		days[i] = first.AddDays(i)
	}
	start := e.clock.Now()
	e.cl.PrefetchSalesAndTraffic(days...)
	var r queueRun
	for _, d := range days {
		res, err := e.cl.SalesAndTrafficDay(ctx, d)
		if err == nil && (res.Report == nil || res.Day != d) {
			t.Fatalf("day %s: %+v", d, res)
		}
		r.errs = append(r.errs, err)
	}
	r.elapsed = e.clock.Now().Sub(start)
	hits := e.rec.snapshot()
	assertBucketsRespected(t, hits)
	var created []time.Time
	for _, h := range hits {
		if h.op == OpCreateReport {
			created = append(created, h.at)
		}
	}
	r.creates = len(created)
	for i := range created {
		alive := 0
		for _, c := range created[:i+1] {
			if created[i].Sub(c) < reportTime {
				alive++
			}
		}
		r.maxAlive = max(r.maxAlive, alive)
	}
	return r
}

// TestReportsRunConcurrently: prefetched reports are generated together, at
// most ReportsInFlight at a time, so n ten-minute reports take about
// n/concurrency rounds of simulated time instead of n; one at a time they
// take at least n × 10 minutes.
func TestReportsRunConcurrently(t *testing.T) {
	const n = 8
	serial := runDays(t, n, 1, 0)
	conc := runDays(t, n, 4, 0)
	for _, r := range []queueRun{serial, conc} {
		for i, err := range r.errs {
			if err != nil {
				t.Fatalf("day %d: %v", i, err)
			}
		}
		if r.creates != n {
			t.Fatalf("%d createReport calls for %d days: prefetched reports were not taken over", r.creates, n)
		}
	}
	t.Logf("one at a time: %s, at most %d alive; four: %s, at most %d alive", serial.elapsed, serial.maxAlive, conc.elapsed, conc.maxAlive)
	if serial.elapsed < n*reportTime || serial.maxAlive != 1 {
		t.Fatalf("concurrency 1: %s for %d reports, %d at once", serial.elapsed, n, serial.maxAlive)
	}
	if conc.maxAlive != 4 {
		t.Fatalf("concurrency 4: %d reports at once", conc.maxAlive)
	}
	// Two rounds of four, plus polling latency.
	if conc.elapsed > n*reportTime/3 {
		t.Fatalf("concurrency 4: %s for %d reports of %s", conc.elapsed, n, reportTime)
	}
}

// TestFatalReportsDoNotHoldUpOthers: reports that end FATAL are handed to
// their callers with their reason, and the queue keeps generating the rest
// concurrently.
func TestFatalReportsDoNotHoldUpOthers(t *testing.T) {
	const n = 6
	r := runDays(t, n, 3, 1)
	for i, err := range r.errs {
		var fe *ReportFatalError
		if !errors.As(err, &fe) || fe.Reason == "" {
			t.Fatalf("day %d: %v, want FATAL with a reason", i, err)
		}
	}
	if r.maxAlive != 3 || r.elapsed > n*reportTime/2 {
		t.Fatalf("%d at once, %s for %d reports", r.maxAlive, r.elapsed, n)
	}
}

// TestAbandonedClaimIsTakenOver: a caller whose context ends leaves its
// report queued, and the next caller asking for the same report takes it
// over instead of creating another.
func TestAbandonedClaimIsTakenOver(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(5 * 24 * time.Hour)})
	day := DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(1)
	abandonClaim(t, e, day)
	if _, err := e.cl.SalesAndTrafficDay(context.Background(), day); err != nil {
		t.Fatal(err)
	}
	if n := e.rec.count(OpCreateReport, 0); n != 1 {
		t.Fatalf("%d createReport calls, want 1", n)
	}
	if len(e.cl.reports.jobs) != 0 {
		t.Fatalf("%d jobs left in the queue", len(e.cl.reports.jobs))
	}
}

// TestStaleAbandonedClaimIsNotTakenOver: a report abandoned by a killed
// step is as old as its creation; a caller asking for the same report more
// than prefetchTTL later (the next run, re-reading a day for its
// restatement) gets a new report, generated now, never the old one.
func TestStaleAbandonedClaimIsNotTakenOver(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(5 * 24 * time.Hour)})
	day := DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(1)
	abandonClaim(t, e, day)
	e.clock.Advance(prefetchTTL + time.Minute)
	asked := e.clock.Now()
	got, err := e.cl.SalesAndTrafficDay(context.Background(), day)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.rec.count(OpCreateReport, 0); n != 2 {
		t.Fatalf("%d createReport calls, want 2 (the abandoned report is stale)", n)
	}
	if got.Generated.Before(asked) {
		t.Fatalf("report generated %s, before it was asked for at %s", got.Generated, asked)
	}
}

// abandonClaim claims day's report, has it created and stops waiting for
// it, as a step killed mid-run does.
func abandonClaim(t *testing.T, e *env, day Date) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j := e.cl.reports.claim(e.cl.salesTrafficSpec(day))
	if err := e.cl.reports.start(ctx, j); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := e.cl.reports.await(ctx, j); !errors.Is(err, context.Canceled) {
		t.Fatalf("await with a cancelled context: %v", err)
	}
}
