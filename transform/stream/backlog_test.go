package stream

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/join"
)

// salesDays returns n Sales & Traffic records of one ASIN, a day each from
// day first on.
func salesDays(t *testing.T, first, n int) []schematest.Input {
	t.Helper()
	var out []schematest.Input
	d0 := date("2026-01-01")
	for i := first; i < first+n; i++ {
		day := d0.AddDate(0, 0, i)
		key := fmt.Sprintf("%s:%s:BP:B1:", mkt, day.Format(time.DateOnly))
		out = append(out, schematest.NewInput(t, "amazon.sales_traffic", key, map[string]any{
			"event_id": key, "source": "test", "entity": "sales_traffic", "op": "snapshot",
			"source_ts": day.Add(30 * time.Hour), "ingest_ts": day.Add(30 * time.Hour), "version": int64(1),
			"marketplace_id": mkt, "date": day, "date_time_zone": la, "asin_granularity": "CHILD",
			"parent_asin": "BP", "child_asin": some("B1"), "currency_code": "USD",
			"ordered_product_sales": big.NewRat(int64(100+i), 1), "units_ordered": int64(1 + i%5), "sessions": int64(10 + i)}))
	}
	return out
}

// TestBoundedTransactions: a backlog is worked off in transactions that
// consume at most MaxTransactionRecords records (inputs and internal
// records), both when the group starts with nothing committed and after a
// restart of the instance on its state directory. An unbounded transaction
// of a large backlog (a backfill, `make run` on a real broker) outlasted
// the transaction timeout, ended in INVALID_PRODUCER_EPOCH, and the
// restarted stage tried the same backlog again, forever. Nothing is lost
// on the way: the rows are the serial reference's.
func TestBoundedTransactions(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := e.follow(t, ctx, join.TopicProductDaily)
	dir := t.TempDir()
	const max = 10

	var mu sync.Mutex
	var batches []int
	run := func() func() {
		cfg := e.config("0", dir)
		cfg.MaxTransactionRecords = max
		cfg.OnBatch = func(in, _ int) { mu.Lock(); batches = append(batches, in); mu.Unlock() }
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() { errc <- tr.Run(runCtx) }()
		return func() {
			stop()
			select {
			case err := <-errc:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Run did not stop")
			}
		}
	}
	check := func(when string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%s: %d transactions of %v records", when, len(batches), batches)
		if len(batches) < 6 {
			t.Errorf("%s: %d transactions, a backlog of many times %d records needs more", when, len(batches), max)
		}
		for i, b := range batches {
			if b > max {
				t.Errorf("%s: transaction %d consumed %d records, want at most %d", when, i, b, max)
			}
		}
		batches = nil
	}

	first := salesDays(t, 0, 6*max)
	e.produce(t, first)
	stop := run()
	want, _ := expected(t, first)
	waitFor(t, "the rows of the first backlog", 2*time.Minute, func() bool { return slices.Equal(rows.current(), want) },
		func() string { return diff(rows.current(), want) })
	stop()
	check("with nothing committed")

	second := salesDays(t, len(first), 8*max)
	e.produce(t, second)
	stop = run()
	want, _ = expected(t, append(slices.Clone(first), second...))
	waitFor(t, "the rows of both backlogs", 2*time.Minute, func() bool { return slices.Equal(rows.current(), want) },
		func() string { return diff(rows.current(), want) })
	stop()
	check("after a restart")
}
