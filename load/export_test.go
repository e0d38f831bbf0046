package load

import (
	"context"

	"github.com/shopstream/shopstream/load/tables"
)

// InsertRowsForTest inserts rows the way the loader does, for the ceiling
// of the load benchmark.
func InsertRowsForTest(ctx context.Context, conn BatchConn, http bool, tbl *tables.Table, token string, rows [][]any) error {
	return insertRows(ctx, conn, http, tbl.Raw, tbl.Columns, token, rows)
}
