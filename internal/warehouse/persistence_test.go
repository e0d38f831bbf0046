package warehouse_test

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestPersistenceAcrossCrash: after SIGKILL and a restart on the same data
// directory, acknowledged rows are there and a replayed batch is still
// recognised as a duplicate (the deduplication log is on disk).
func TestPersistenceAcrossCrash(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	conn := openClickHouse(t, w.Addr)
	mustExec(ctx, t, conn, "CREATE TABLE kept (k UInt32) ENGINE = MergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100")
	send := func(token string) {
		t.Helper()
		c := openClickHouse(t, w.Addr)
		b, err := c.PrepareBatch(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": token})), "INSERT INTO kept")
		if err != nil {
			t.Fatal(err)
		}
		for k := range uint32(10) {
			if err := b.Append(k); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	send("kept-0-0-9")
	w.Restart(t) // SIGKILL, then start on the same directory

	send("kept-0-0-9")
	var n uint64
	if err := openClickHouse(t, w.Addr).QueryRow(ctx, "SELECT count() FROM kept").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("rows after crash and replay = %d, want 10", n)
	}
}
