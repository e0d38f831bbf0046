package main

import (
	"strings"
	"testing"
	"time"
)

// TestProgressLine: the mean freshness of the interval, with the age of the
// newest change loaded next to it (a backfill's mean is hours).
func TestProgressLine(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	last := progress{freshSum: 100, freshCount: 10}
	p := progress{ingested: 7, transformed: 5, loaded: 12, lag: 1, freshSum: 100 + 2*7200, freshCount: 12,
		newest: float64(now.Add(-3 * time.Second).Unix())}
	want := "progress  ingested 7 records | joined 5 rows | loaded 12 rows | load lag 1 | freshness 2h0m0s (newest change 3s ago)"
	if got := progressLine(p, last, now); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := progressLine(progress{}, progress{}, now); !strings.HasSuffix(got, "| freshness -") {
		t.Errorf("nothing loaded yet: %q", got)
	}
}
