package load

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load/tables"
)

func orderRows(t *testing.T, tbl *tables.Table, from, n int) [][]any {
	t.Helper()
	var rows [][]any
	for i := from; i < from+n; i++ {
		ts := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		id := fmt.Sprintf("111-%07d-0000000", i)
		rec := map[string]any{
			"event_id": id + "-v1", "source": "amazon", "entity": "order", "op": "create",
			"source_ts": ts, "ingest_ts": ts, "version": int64(1), "amazon_order_id": id,
			"marketplace_id": "ATVPDKIKX0DER", "purchase_date": ts, "last_update_date": ts, "order_status": "Shipped",
			"order_total_amount":     goavro.Union("bytes.decimal", big.NewRat(1999, 100)),
			"payment_method_details": []any{"Standard"},
		}
		row, err := tbl.Row(rec, []byte("ATVPDKIKX0DER:"+id), 0, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestReplayedBatchIsDroppedByTableAndView pins down how this engine treats
// a replayed batch and the materialized view that feeds the current-state
// table (merges stopped, so every inserted row stays visible):
//   - the same token twice: the raw table and the view's target each get
//     the rows once;
//   - a first attempt that reached the raw table but not the view (the view
//     detached stands in for a crash between the two) and then a replay with
//     the same token: the raw table drops it, and the view's target gets the
//     rows, because deduplicate_blocks_in_dependent_materialized_views = 1
//     lets the view's insert run and deduplicate on its own.
func TestReplayedBatchIsDroppedByTableAndView(t *testing.T) {
	w := testenv.StartWarehouse(t)
	ctx := context.Background()
	conn, err := Open(ctx, Warehouse{Addr: w.Addr, Protocol: "http", Database: "default", User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := Migrate(ctx, conn, MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl, err := tables.ForTopic("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SYSTEM STOP MERGES amazon_orders_changes", "SYSTEM STOP MERGES amazon_orders"} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows := orderRows(t, tbl, 0, 50)
	for range 2 {
		if err := insertRows(ctx, conn, true, tbl.Raw, tbl.Columns, "amazon.orders-0-0-49", rows); err != nil {
			t.Fatal(err)
		}
	}
	if n := QueryUint(t, conn, "SELECT count() FROM amazon_orders_changes"); n != 50 {
		t.Errorf("raw table: %d rows after a replay, want 50", n)
	}
	if n := QueryUint(t, conn, "SELECT count() FROM amazon_orders"); n != 50 {
		t.Errorf("current-state table: %d rows after a replay, want 50", n)
	}

	more := orderRows(t, tbl, 50, 30)
	if err := conn.Exec(ctx, "DETACH TABLE amazon_orders_mv"); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, true, tbl.Raw, tbl.Columns, "amazon.orders-0-50-79", more); err != nil {
		t.Fatal(err)
	}
	if err := conn.Exec(ctx, "ATTACH TABLE amazon_orders_mv"); err != nil {
		t.Fatal(err)
	}
	if err := insertRows(ctx, conn, true, tbl.Raw, tbl.Columns, "amazon.orders-0-50-79", more); err != nil {
		t.Fatal(err)
	}
	raw := QueryUint(t, conn, "SELECT count() FROM amazon_orders_changes")
	cur := QueryUint(t, conn, "SELECT count() FROM amazon_orders")
	t.Logf("after a first attempt that missed the view and its replay: raw %d rows, current state %d rows", raw, cur)
	if raw != 80 {
		t.Errorf("raw table: %d rows, want 80", raw)
	}
	if cur != 80 {
		t.Errorf("current-state table: %d rows, want 80 (the replay must reach the view)", cur)
	}
}

// BenchmarkRow measures mapping one decoded amazon.orders record to a row.
func BenchmarkRow(b *testing.B) {
	tbl, err := tables.ForTopic("amazon.orders")
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Now().UTC()
	rec := map[string]any{
		"event_id": "x-v1", "source": "amazon", "entity": "order", "op": "create",
		"source_ts": ts, "ingest_ts": ts, "version": int64(1), "amazon_order_id": "x",
		"marketplace_id": "ATVPDKIKX0DER", "purchase_date": ts, "last_update_date": ts, "order_status": "Shipped",
		"order_total_amount":     goavro.Union("bytes.decimal", big.NewRat(1999, 100)),
		"payment_method_details": []any{"Standard"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tbl.Row(rec, []byte("k"), 0, 1); err != nil {
			b.Fatal(err)
		}
	}
}
