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

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// lateCatalog returns ASIN B1's catalog item, n TikTok orders of SKU S1
// over n/4 days, and then the TikTok product of S1, with B1's GTIN: the
// link that moves B1 and S1 to one GTIN key arrives when every order
// depends on it.
func lateCatalog(t *testing.T, n int) []schematest.Input {
	d0 := date("2026-03-01")
	b1 := schematest.NewInput(t, "amazon.catalog", mkt+":B1", map[string]any{"event_id": "B1", "source": "test",
		"entity": "x", "op": "snapshot", "source_ts": d0, "ingest_ts": d0, "version": int64(1), "marketplace_id": mkt, "asin": "B1",
		"identifiers": []any{map[string]any{"identifier_type": "EAN", "identifier": gtin[1:]}}})
	return append([]schematest.Input{b1}, ordersThenProduct(t, n, "P1", "S1", []any{map[string]any{"identifier_type": "UPC", "identifier": gtin[2:]}})...)
}

// ordersThenProduct returns n TikTok orders of a SKU over n/4 days, then
// its product, listing the SKU with identifiers ids. The product goes to
// identity only, so the transactions that react to its link flush
// relinked entities only.
func ordersThenProduct(t *testing.T, n int, product, sku string, ids []any) []schematest.Input {
	d0 := date("2026-03-01")
	rec := func(topic, key string, ts time.Time, fields map[string]any) schematest.Input {
		r := map[string]any{"event_id": topic + "/" + key, "source": "test", "entity": "x", "op": "snapshot",
			"source_ts": ts, "ingest_ts": ts, "version": int64(1)}
		for k, v := range fields {
			r[k] = v
		}
		return schematest.NewInput(t, topic, key, r)
	}
	var ins []schematest.Input
	for i := range n {
		id := fmt.Sprintf("%s-O%d", sku, i)
		created := d0.Add(time.Duration(i*6) * time.Hour)
		ins = append(ins, rec("tiktok.orders", shop+":"+id, created, map[string]any{"shop_id": shop, "order_id": id,
			"status": "AWAITING_SHIPMENT", "create_time": created, "update_time": created, "payment_currency": some("USD"),
			"line_items": []any{map[string]any{"id": id + "-1", "product_id": product, "sku_id": sku,
				"sale_price": map[string]any{"bytes.decimal": big.NewRat(int64(1000+i), 100)}}}}))
	}
	return append(ins, rec("tiktok.products", shop+":"+product, d0.AddDate(0, 1, 0), map[string]any{"shop_id": shop,
		"product_id": product, "status": "ACTIVATE", "skus": []any{map[string]any{"sku_id": sku, "identifiers": ids}}}))
}

// relinkCounter sums, per transaction, the entities the facts tasks
// flush (factsFlushed) once counting starts, and can fail the flush of
// a given relink transaction (a crash before its commit).
type relinkCounter struct {
	mu       sync.Mutex
	counting bool
	cur      int
	txns     []int // entities flushed per committed transaction with any
	crashAt  int   // fail the flush of this transaction (1-based; 0: none)
	crashed  bool
}

var errCrash = errors.New("simulated crash")

func (c *relinkCounter) flushed(_ string, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.counting || n == 0 {
		return nil
	}
	if c.crashAt > 0 && len(c.txns)+1 == c.crashAt {
		c.crashAt, c.crashed, c.cur = 0, true, 0
		return errCrash
	}
	c.cur += n
	return nil
}

func (c *relinkCounter) committed(int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur > 0 {
		c.txns = append(c.txns, c.cur)
	}
	c.cur = 0
}

// take returns the transactions counted so far and starts again.
func (c *relinkCounter) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.txns
	c.txns = nil
	return t
}

func total(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestRelinkSpread: a link change that more entities depend on than a
// transaction may relink (MaxTransactionRelinks) is spread over
// transactions, run one after the other without new input, each
// flushing at most that many; the rows equal the serial reference's,
// which relinks everything at once. A crash in the middle (the
// transaction's writes lost, the driver reopened on its state) resumes
// from the last committed cursor: only the entities not committed yet
// are relinked again, and the rows are the same.
func TestRelinkSpread(t *testing.T) {
	const n, budget = 40, 3
	serde := testenv.NewRegistry(t).Serde
	ins := lateCatalog(t, n)
	wantRows, wantLinks := expected(t, ins)
	for _, crashAt := range []int{0, 5} {
		t.Run(fmt.Sprintf("crash_at_%d", crashAt), func(t *testing.T) {
			c := &relinkCounter{crashAt: crashAt}
			factsFlushed = c.flushed
			t.Cleanup(func() { factsFlushed = nil })
			tables, output := outputTables(t, serde)
			metrics := NewMetrics(nil)
			d, err := NewDriver(Config{Serde: serde, Partitions: 1, StateDir: t.TempDir(), CacheBytes: 8 << 20,
				MaxTransactionRelinks: budget, OnBatch: c.committed, Metrics: metrics})
			if err != nil {
				t.Fatal(err)
			}
			d.Output = output
			for _, in := range ins {
				feed(t, d, serde, in)
				if in.Topic == "tiktok.products" {
					c.counting = true
				}
				if err := d.Commit(); err != nil {
					if !errors.Is(err, errCrash) {
						t.Fatal(err)
					}
					before := c.take()
					t.Logf("crashed after relink transactions of %v entities", before)
					if d, err = d.Reopen(); err != nil {
						t.Fatal(err)
					}
					if err := d.Commit(); err != nil {
						t.Fatal(err)
					}
					after := c.take()
					t.Logf("after the restart: %v", after)
					if len(before) != crashAt-1 || total(before)+total(after) != n {
						t.Errorf("%v entities relinked before the crash and %v after, want %d transactions before and %d entities in all",
							before, after, crashAt-1, n)
					}
				}
			}
			if crashAt > 0 && !c.crashed {
				t.Fatal("no crash")
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			txns := c.take()
			t.Logf("relink transactions: %v", txns)
			if crashAt == 0 && (total(txns) != n || len(txns) < n/budget) {
				t.Errorf("relink transactions of %v entities, want %d entities in at least %d", txns, n, n/budget)
			}
			for _, k := range txns {
				if k > budget {
					t.Errorf("a transaction flushed %d entities, want at most %d", k, budget)
				}
			}
			// The metric counts the committed relinks, the aborted one not.
			if got := testutil.ToFloat64(metrics.relinked); got != n {
				t.Errorf("shopstream_transform_relinked_entities_total %v, want %d", got, n)
			}
			if got := tables[join.TopicProductDaily].current(); !slices.Equal(got, wantRows) {
				t.Errorf("rows differ:\n%s", diff(got, wantRows))
			}
			if got := tables[identity.TopicProductLinks].current(); !slices.Equal(got, wantLinks) {
				t.Errorf("links differ:\n%s", diff(got, wantLinks))
			}
		})
	}
}

// TestRelinkSpreadKafka: the same through a broker, with four facts
// tasks sharing the instance's budget: each relink transaction flushes
// at most the budget; a crash before one commits (its partials already
// produced) aborts it; the restarted instance resumes from the last
// committed cursor, and the rows, read back read_committed, equal the
// serial reference's. Then a relink that sends nothing: no record
// arrives after its first transaction, and the engine still runs the
// others back to back instead of waiting for input.
func TestRelinkSpreadKafka(t *testing.T) {
	const n, budget, crashAt = 40, 3, 4
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, links := e.followOutputs(t, ctx)
	dir := t.TempDir()
	ins := lateCatalog(t, n)
	before, _ := expected(t, ins[:n+1])
	wantRows, wantLinks := expected(t, ins)

	c := &relinkCounter{}
	factsFlushed = c.flushed
	crashBeforeEnd = func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.counting && c.cur > 0 && len(c.txns)+1 == crashAt {
			// Its flush is not counted: the transaction aborts.
			c.crashed, c.cur = true, 0
			return errCrash
		}
		return nil
	}
	t.Cleanup(func() { factsFlushed, crashBeforeEnd = nil, nil })
	run := func() (errc chan error, stop func()) {
		cfg := e.config("0", dir)
		cfg.MaxTransactionRelinks, cfg.OnBatch = budget, c.committed
		tr, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		errc = make(chan error, 1)
		go func() { errc <- tr.Run(runCtx) }()
		return errc, stop
	}
	errc, _ := run()
	e.produce(t, ins[:n+1])
	waitFor(t, "the rows before the catalog", time.Minute, func() bool { return slices.Equal(rows.current(), before) },
		func() string { return diff(rows.current(), before) })
	c.mu.Lock()
	c.counting = true
	c.mu.Unlock()
	e.produce(t, ins[n+1:])
	waitCrash(t, errc, errCrash)
	committed := c.take()
	t.Logf("relink transactions before the crash: %v", committed)
	if len(committed) != crashAt-1 {
		t.Fatalf("%d relink transactions before the crash, want %d", len(committed), crashAt-1)
	}

	errc, stop := run()
	waitTables(t, "the rows after the restart", time.Minute, rows, links, wantRows, wantLinks)
	after := c.take()
	t.Logf("relink transactions after the restart: %v", after)
	if total(committed)+total(after) != n {
		t.Errorf("%d entities relinked before the crash and %d after, want %d in all", total(committed), total(after), n)
	}
	for _, k := range append(committed, after...) {
		if k > budget {
			t.Errorf("a transaction flushed %d entities, want at most %d", k, budget)
		}
	}

	// A link that moves no row: SKU S9, seen in orders, gets its first
	// link, unmatched, under the key it had. Its relink sends nothing,
	// so no record follows it, and its transactions still run to the end.
	c.mu.Lock()
	c.counting = false
	c.mu.Unlock()
	quiet := ordersThenProduct(t, n, "P9", "S9", nil)
	ins = append(ins, quiet[:n]...)
	e.produce(t, quiet[:n])
	wantRows, wantLinks = expected(t, ins)
	waitTables(t, "the rows of S9's orders", time.Minute, rows, links, wantRows, wantLinks)
	c.take()
	c.mu.Lock()
	c.counting = true
	c.mu.Unlock()
	e.produce(t, quiet[n:])
	var relinked []int
	waitFor(t, "S9's relink", time.Minute, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		relinked = slices.Clone(c.txns)
		return total(relinked) >= n
	}, func() string { return fmt.Sprintf("relink transactions %v, want %d entities", relinked, n) })
	wantRows, wantLinks = expected(t, append(ins, quiet[n:]...))
	waitTables(t, "the rows and links after S9's link", time.Minute, rows, links, wantRows, wantLinks)
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	checkTables(t, rows, links)
	t.Logf("relink transactions of S9: %v", c.txns)
	if total(c.txns) != n || slices.Max(c.txns) > budget {
		t.Errorf("S9's relink transactions %v, want %d entities, at most %d a transaction", c.txns, n, budget)
	}
}
