package warehouse_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/testenv"
)

// BenchmarkQuerySettings measures what per-query settings cost, over both
// protocols: an insert of 100 rows as the loader sends it (its three
// deduplication settings) and without settings, and a one-row query as the
// analytics page sends it (readonly=2 and max_execution_time) and without.
// The difference between each pair is the settings' cost. Run it against
// another binary with SHOPSTREAM_TEST_BINARY to compare:
//
//	go test -run '^$' -bench QuerySettings -benchtime 200x ./internal/warehouse/
func BenchmarkQuerySettings(b *testing.B) {
	testenv.Binary(b)
	w := testenv.StartWarehouse(b)
	ctx := context.Background()
	for _, protocol := range []string{"native", "http"} {
		p := clickhouse.Native
		if protocol == "http" {
			p = clickhouse.HTTP
		}
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{w.AddrFor(protocol)}, Protocol: p, MaxOpenConns: 1})
		if err != nil {
			b.Fatal(err)
		}
		// A table per insert variant: parts piling up would slow the later one.
		for _, variant := range []string{"a", "b"} {
			if err := conn.Exec(ctx, "CREATE TABLE bench_"+protocol+"_"+variant+" (id UInt64, s String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 1000"); err != nil {
				b.Fatal(err)
			}
		}
		insert := func(b *testing.B, settings bool) {
			table := "bench_" + protocol + "_a"
			if !settings {
				table = "bench_" + protocol + "_b"
			}
			for i := range b.N {
				var opts []clickhouse.QueryOption
				if protocol == "http" {
					// As the loader: the columns known, no DESCRIBE per batch.
					opts = append(opts, clickhouse.WithColumnNamesAndTypes([]clickhouse.ColumnNameAndType{{Name: "id", Type: "UInt64"}, {Name: "s", Type: "String"}}))
				}
				if settings {
					opts = append(opts, clickhouse.WithSettings(clickhouse.Settings{
						"insert_deduplicate": 1, "insert_deduplication_token": fmt.Sprintf("%s-%d-%d", table, b.N, i),
						"deduplicate_blocks_in_dependent_materialized_views": 1}))
				}
				benchInsert(b, clickhouse.Context(ctx, opts...), conn, table, i)
			}
		}
		read := func(b *testing.B, settings bool) {
			qctx := ctx
			if settings {
				qctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"readonly": 2, "max_execution_time": 30}))
			}
			for range b.N {
				var n uint64
				if err := conn.QueryRow(qctx, "SELECT count() FROM bench_"+protocol+"_a").Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(protocol+"/insert/loader-settings", func(b *testing.B) { insert(b, true) })
		b.Run(protocol+"/insert/no-settings", func(b *testing.B) { insert(b, false) })
		b.Run(protocol+"/select/page-settings", func(b *testing.B) { read(b, true) })
		b.Run(protocol+"/select/no-settings", func(b *testing.B) { read(b, false) })
		_ = conn.Close()
	}
}

func benchInsert(b *testing.B, ctx context.Context, conn driver.Conn, table string, i int) {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table)
	if err != nil {
		b.Fatal(err)
	}
	for j := range 100 {
		if err := batch.Append(uint64(i*100+j), "x"); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		b.Fatal(err)
	}
}
