package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/transform/stream"
)

// TestProgressLine: the mean freshness of the interval, with the age of the
// newest change loaded next to it (a backfill's mean is hours).
func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	last := progress{freshSum: 100, freshCount: 10}
	p := progress{ingested: 7, transformed: 5, loaded: 12, lag: 1, freshSum: 100 + 2*7200, freshCount: 12,
		newest: float64(now.Add(-3 * time.Second).Unix())}
	want := "progress  ingested 7 records | joined 5 rows | loaded 12 rows | load lag 1 | freshness 2h0m0s (newest change 3s ago)"
	if got := progressLine(p, last, now, now.Add(-time.Minute)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := progressLine(progress{}, progress{}, now, now); !strings.HasSuffix(got, "| freshness -") {
		t.Errorf("nothing loaded yet: %q", got)
	}
}

// TestProgressLineBackfill: while sources backfill, the line says per
// source how many days of history it has read of how many, and the time
// left at the pace so far; a finished source says how long it took after
// run started; once all are done, the line says when the last one was.
func TestProgressLineBackfill(t *testing.T) {
	started := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := started.Add(4 * time.Minute)
	at := func(d time.Duration) float64 { return float64(started.Add(d).Unix()) }
	p := progress{backfill: map[string]*sourceBackfill{
		"amazon":     {days: 63, done: 21},
		"tiktokshop": {days: 63, done: 63, doneAt: at(3*time.Minute + 2*time.Second)},
		"tiktokbiz":  {doneAt: at(5 * time.Second)},
		"webhooks":   {},
	}}
	got := progressLine(p, progress{}, now, started)
	// 21 of 63 days in 4 minutes: 42 more take 8 minutes at that pace.
	want := " | backfill amazon 21.0/63 days ETA 8m0s, tiktokbiz done in 5s, tiktokshop done in 3m2s, webhooks starting"
	if !strings.HasSuffix(got, want) {
		t.Errorf("got  %q\nwant suffix %q", got, want)
	}
	p.backfill["amazon"].done, p.backfill["amazon"].doneAt = 63, at(6*time.Minute+12*time.Second)
	delete(p.backfill, "webhooks")
	got = progressLine(p, progress{}, now.Add(3*time.Minute), started)
	want = " | backfill done in 6m12s (amazon done in 6m12s, tiktokbiz done in 5s, tiktokshop done in 3m2s)"
	if !strings.HasSuffix(got, want) {
		t.Errorf("got  %q\nwant suffix %q", got, want)
	}
}

// TestProgressLineBackfilling: while a backfill runs, freshness (the age of
// history being loaded, hundreds of hours) is replaced by "backfilling, N
// of M days" of the source furthest behind; once every backfill is done,
// freshness comes back.
func TestProgressLineBackfilling(t *testing.T) {
	started := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	now := started.Add(4 * time.Minute)
	p := progress{ingested: 9, transformed: 8, loaded: 7, freshSum: 300 * 3600 * 4, freshCount: 4,
		newest: float64(now.Add(-400 * time.Hour).Unix()),
		backfill: map[string]*sourceBackfill{
			"amazon":     {days: 63, done: 21},
			"tiktokshop": {days: 63, done: 40},
			"tiktokbiz":  {doneAt: float64(started.Add(5 * time.Second).Unix())},
		}}
	got := progressLine(p, progress{}, now, started)
	want := "progress  ingested 9 records | joined 8 rows | loaded 7 rows | load lag 0 | freshness backfilling, 21 of 63 days | backfill "
	if !strings.HasPrefix(got, want) {
		t.Errorf("got  %q\nwant prefix %q", got, want)
	}
	if strings.Contains(got, "300h") || strings.Contains(got, "400h") || strings.Contains(got, "ago") {
		t.Errorf("a backfill's age shown as freshness: %q", got)
	}
	p.backfill["amazon"].done, p.backfill["amazon"].doneAt = 63, float64(now.Unix())
	p.backfill["tiktokshop"].done, p.backfill["tiktokshop"].doneAt = 63, float64(now.Unix())
	got = progressLine(p, progress{}, now, started)
	if !strings.Contains(got, "| freshness 300h0m0s (newest change 400h0m0s ago) | backfill done in") {
		t.Errorf("after the backfill, freshness is back: %q", got)
	}
}

// recording records what a NewMetrics registers.
type recording struct {
	prometheus.Registerer
	got []prometheus.Collector
}

func (c *recording) Register(x prometheus.Collector) error {
	c.got = append(c.got, x)
	return c.Registerer.Register(x)
}

func (c *recording) MustRegister(xs ...prometheus.Collector) {
	for _, x := range xs {
		if err := c.Register(x); err != nil {
			panic(err)
		}
	}
}

// TestProgressReadsRegisteredMetrics: every metric name the progress line
// reads is one that the ingest stages, the transform or the loader
// register, so renaming a metric there fails here instead of silently
// blanking the line.
func TestProgressReadsRegisteredMetrics(t *testing.T) {
	reg := &recording{Registerer: prometheus.NewRegistry()}
	if _, err := stage.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	load.NewMetrics(reg)
	stream.NewMetrics(reg)
	registered := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range reg.got {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				registered[m[1]] = true
			}
		}
	}
	if len(registered) < 10 {
		t.Fatalf("only %d metric names found: the test reads descriptors wrongly", len(registered))
	}
	for _, name := range progressMetrics {
		if !registered[name] {
			t.Errorf("the progress line reads %s, which nothing registers", name)
		}
	}
}

// TestProgressLineOutage: while the loader's warehouse (or brokers) gauge
// reads 0, the line says what the loader waits for and its retries; when
// both read 1 it says nothing of it.
func TestProgressLineOutage(t *testing.T) {
	reg := prometheus.NewRegistry()
	load.NewMetrics(reg) // the gauges start at 1
	p, err := readProgress(reg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if got := progressLine(p, progress{}, now, now); strings.Contains(got, "waiting") {
		t.Errorf("nothing is away, yet: %s", got)
	}
	p.away, p.loadRetries = []string{"warehouse"}, 57
	if got := progressLine(p, progress{}, now, now); !strings.HasSuffix(got, "| load waiting for warehouse (retries 57)") {
		t.Errorf("during an outage: %s", got)
	}
}
