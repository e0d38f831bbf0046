package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestStatusGivesUp: dependencies that accept connections and never answer
// do not hang status: within --timeout it says which parts it could not
// read, and fails.
func TestStatusGivesUp(t *testing.T) {
	silent := testenv.SilentAddr(t)
	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	t.Setenv("SHOPSTREAM_KAFKA_BROKERS", silent)
	t.Setenv("SHOPSTREAM_SCHEMA_REGISTRY_URL", "http://"+silent)
	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", silent)
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")

	done := make(chan struct{})
	var out string
	var err error
	go func() {
		defer close(done)
		out, err = execute(t, "status", "--timeout", "2s")
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("status hangs on dependencies that do not answer")
	}
	if err == nil || !strings.Contains(err.Error(), "status incomplete: cursors, lag, tables, dbt runs unavailable") {
		t.Fatalf("status = %v\n%s", err, out)
	}
	if strings.Count(out, "(unavailable: ") != 4 {
		t.Errorf("status does not say why each part is missing:\n%s", out)
	}
	// --timeout ended the waits, not the clients' own (much longer) ones.
	if !strings.Contains(err.Error(), "gave up after --timeout 2s") {
		t.Errorf("status did not give up at --timeout: %v", err)
	}
}

// TestStatusNoCommitsYet: on a fresh start the transform group has no
// commits (the broker does not know it: status.Lags says NoCommits, see
// TestLagsGroupWithoutCommits); status says "no commits yet" for it and
// counts no part unavailable, so the command exits 0. It exited non-zero
// before (GROUP_ID_NOT_FOUND made the whole lag part unavailable).
func TestStatusNoCommitsYet(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	r := status.Report{Lags: []status.TopicLag{
		{Group: "shopstream-load", Topic: "amazon.orders", Lag: 3},
		{Group: "shopstream-transform", NoCommits: true},
	}}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 2, 8, 2, ' ', 0)
	unavailable := printReport(tw, r, now)
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if len(unavailable) != 0 {
		t.Errorf("unavailable %v, want none:\n%s", unavailable, out)
	}
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "shopstream-transform") {
			line = l
		}
	}
	if !strings.Contains(line, "(no commits yet)") {
		t.Errorf("the transform group's line %q does not say no commits yet:\n%s", line, out)
	}
	if !strings.Contains(out, "shopstream-load") || !strings.Contains(out, "amazon.orders") {
		t.Errorf("the load group's lag is missing:\n%s", out)
	}
	r.LagsErr = errors.New("broker does not answer")
	if got := printReport(tabwriter.NewWriter(&bytes.Buffer{}, 2, 8, 2, ' ', 0), r, now); len(got) != 1 || got[0] != "lag" {
		t.Errorf("a lag that could not be read: unavailable %v, want [lag]", got)
	}
}
