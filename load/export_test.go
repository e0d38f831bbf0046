package load

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/load/tables"
)

// InsertRowsForTest inserts rows the way the loader does, for the ceiling
// of the load benchmark.
func InsertRowsForTest(ctx context.Context, conn BatchConn, http bool, tbl *tables.Table, token string, rows [][]any) error {
	return insertRows(ctx, conn, http, tbl.Raw, tbl.Columns, token, rows)
}

// QueryUint runs q, whose answer is one UInt64, for the tests of both
// packages.
func QueryUint(t testing.TB, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
