package stream

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/join"
)

// salesDays returns n Sales & Traffic records of one ASIN, a day each from
// day first on.
func salesDays(t *testing.T, first, n int) []input {
	t.Helper()
	var out []input
	d0 := date("2026-01-01")
	for i := first; i < first+n; i++ {
		day := d0.AddDate(0, 0, i)
		key := fmt.Sprintf("%s:%s:BP:B1:", mkt, day.Format(time.DateOnly))
		out = append(out, input{"amazon.sales_traffic", key, fill(t, "amazon.sales_traffic", map[string]any{
			"event_id": key, "source": "test", "entity": "sales_traffic", "op": "snapshot",
			"source_ts": day.Add(30 * time.Hour), "ingest_ts": day.Add(30 * time.Hour), "version": int64(1),
			"marketplace_id": mkt, "date": day, "date_time_zone": la, "asin_granularity": "CHILD",
			"parent_asin": "BP", "child_asin": some("B1"), "currency_code": "USD",
			"ordered_product_sales": big.NewRat(int64(100+i), 1), "units_ordered": int64(1 + i%5), "sessions": int64(10 + i)})})
	}
	return out
}

// TestRunBoundsTransactions: a backlog is worked off in transactions of at
// most MaxTransactionRecords input records (the records that arrive during
// a rebuild at most twice that: they wait while the rebuild reads), both
// when the group starts with nothing committed and after a restart that
// rebuilds. An unbounded transaction of a large backlog (a backfill, `make
// run` on a real broker) outlasted the transaction timeout, ended in
// INVALID_PRODUCER_EPOCH, and the restarted run tried the same backlog
// again, forever. Nothing is lost on the way: the rows are the Processor's.
func TestRunBoundsTransactions(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := e.follow(t, ctx, join.TopicProductDaily)
	group := strings.TrimSuffix(e.prefix, ".") + "-group"
	const max = 10

	var mu sync.Mutex
	var batches []int
	inputs := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range batches {
			n += b
		}
		return n
	}
	run := func() func() {
		runCtx, stop := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			errc <- Run(runCtx, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: group, TransactionalID: group + "-txn",
				Serde: e.serde, MaxTransactionRecords: max,
				OnBatch: func(in, _ int) { mu.Lock(); batches = append(batches, in); mu.Unlock() }})
		}()
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

	// The first transaction carries what arrived while the run was getting
	// ready (the rebuild, the assignment): at most two polls of max.
	check := func(when string, batches []int) {
		t.Helper()
		t.Logf("%s: transactions of %v input records", when, batches)
		for i, b := range batches {
			if b > 2*max || (i > 0 && b > max) {
				t.Errorf("%s: transaction %d of %d input records, want at most %d (the first at most %d): %v", when, i, b, max, 2*max, batches)
				return
			}
		}
	}
	first := salesDays(t, 0, 6*max)
	e.produce(t, first)
	stop := run()
	waitFor(t, "the first backlog", 2*time.Minute, func() bool { return inputs() == len(first) },
		func() string { return fmt.Sprint(inputs()) })
	stop()
	mu.Lock()
	check("with nothing committed", batches)
	batches = nil
	mu.Unlock()

	// A restart rebuilds from the committed history while the new backlog
	// arrives.
	second := salesDays(t, len(first), 8*max)
	e.produce(t, second)
	stop = run()
	all := append(slices.Clone(first), second...)
	want, _ := expected(t, all)
	waitFor(t, "the rows of both backlogs", 2*time.Minute, func() bool { return slices.Equal(rows.current(), want) },
		func() string { return diff(rows.current(), want) })
	waitFor(t, "the second backlog committed", time.Minute, func() bool { return inputs() == len(second) },
		func() string { return fmt.Sprint(inputs()) })
	stop()
	mu.Lock()
	defer mu.Unlock()
	check("after a restart", batches)
}
