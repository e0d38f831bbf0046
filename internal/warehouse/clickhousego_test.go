package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// openConn opens a clickhouse-go connection with opts, closed when the
// test ends.
func openConn(t *testing.T, opts *clickhouse.Options) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(opts)
	if err != nil {
		t.Fatalf("open clickhouse-go over %s: %v", opts.Protocol, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// queryString runs sql, which answers one String, and returns the answer.
func queryString(ctx context.Context, t *testing.T, conn driver.Conn, sql string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// mustExec runs sql on conn and fails the test on an error.
func mustExec(ctx context.Context, t *testing.T, conn driver.Conn, sql string) {
	t.Helper()
	if err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func openClickHouse(t *testing.T, addr string) driver.Conn {
	t.Helper()
	return openConn(t, &clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.HTTP,
		DialTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second,
	})
}

type allTypesRow struct {
	ID       uint64
	Name     string
	Channel  string
	Delta    int64
	Score    float64
	Price    decimal.Decimal
	Note     *string
	Tags     []string
	Day      time.Time
	ChangeAt time.Time
}

// TestClickHouseGoContract drives the warehouse with clickhouse-go/v2 over HTTP
// the way the loader does: hello, ping, DDL, batch insert of every column type
// the tables use, read back with Scan, and token deduplication.
func TestClickHouseGoContract(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	conn := openClickHouse(t, w.Addr)

	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	sv, err := conn.ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if sv.Version.Major != 26 || sv.Version.Minor != 5 {
		t.Fatalf("server version = %v, want ClickHouse 26.5", sv.Version)
	}

	mustExec(ctx, t, conn, `CREATE TABLE all_types (
		id UInt64, name String, channel LowCardinality(String), delta Int64, score Float64,
		price Decimal(18,4), note Nullable(String), tags Array(String), day Date,
		change_at DateTime64(3, 'UTC')
	) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`)

	note := "restated"
	want := []allTypesRow{
		{1, "Glow Serum", "amazon", -3, 0.25, decimal.RequireFromString("19.9900"), &note, []string{"a", "b"},
			time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 13, 4, 5, 678e6, time.UTC)},
		{2, "Ünïcødé \t tab", "tiktok", 1 << 40, -1.5e10, decimal.RequireFromString("-0.0001"), nil, []string{},
			time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)},
	}
	send := func(token string) {
		t.Helper()
		batchCtx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_deduplication_token": token}))
		batch, err := conn.PrepareBatch(batchCtx, "INSERT INTO all_types")
		if err != nil {
			t.Fatalf("prepare batch: %v", err)
		}
		for _, r := range want {
			if err := batch.Append(r.ID, r.Name, r.Channel, r.Delta, r.Score, r.Price, r.Note, r.Tags, r.Day, r.ChangeAt); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	send("all_types-0-0-1")
	send("all_types-0-0-1") // a replay of the same batch must land once

	rows, err := conn.Query(ctx, "SELECT id, name, channel, delta, score, price, note, tags, day, change_at FROM all_types ORDER BY id")
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	var got []allTypesRow
	for rows.Next() {
		var r allTypesRow
		if err := rows.Scan(&r.ID, &r.Name, &r.Channel, &r.Delta, &r.Score, &r.Price, &r.Note, &r.Tags, &r.Day, &r.ChangeAt); err != nil {
			t.Fatalf("scan: %v", err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows after a deduplicated replay, want %d", len(got), len(want))
	}
	for i := range want {
		if d := diffRow(got[i], want[i]); d != "" {
			t.Errorf("row %d: %s", i, d)
		}
	}

	// A different token is a different batch and lands.
	send("all_types-0-2-3")
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM all_types").Scan(&n); err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != 4 {
		t.Fatalf("count after a new batch = %d, want 4", n)
	}

	// Server-side query parameters.
	var name string
	if err := conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"id": "2"})),
		"SELECT name FROM all_types WHERE id = {id:UInt64} LIMIT 1").Scan(&name); err != nil {
		t.Fatalf("query with parameter: %v", err)
	}
	if name != want[1].Name {
		t.Fatalf("parameterised query returned %q, want %q", name, want[1].Name)
	}

	// Errors arrive as typed exceptions with the ClickHouse code.
	err = conn.Exec(ctx, "SELECT * FROM missing_table")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 {
		t.Fatalf("query of a missing table: got %v, want *clickhouse.Exception with code 60", err)
	}
}

func diffRow(got, want allTypesRow) string {
	var d []string
	check := func(field string, ok bool, g, w any) {
		if !ok {
			d = append(d, fmt.Sprintf("%s = %v, want %v", field, g, w))
		}
	}
	check("id", got.ID == want.ID, got.ID, want.ID)
	check("name", got.Name == want.Name, got.Name, want.Name)
	check("channel", got.Channel == want.Channel, got.Channel, want.Channel)
	check("delta", got.Delta == want.Delta, got.Delta, want.Delta)
	check("score", got.Score == want.Score, got.Score, want.Score)
	check("price", got.Price.Equal(want.Price), got.Price, want.Price)
	check("note", (got.Note == nil) == (want.Note == nil) && (got.Note == nil || *got.Note == *want.Note), got.Note, want.Note)
	check("tags", strings.Join(got.Tags, "\x00") == strings.Join(want.Tags, "\x00") && len(got.Tags) == len(want.Tags), got.Tags, want.Tags)
	check("day", got.Day.Equal(want.Day), got.Day, want.Day)
	check("change_at", got.ChangeAt.Equal(want.ChangeAt), got.ChangeAt, want.ChangeAt)
	return strings.Join(d, "; ")
}

// TestConcurrentClients runs inserts and reads from several clients at once;
// every insert must land and every read must see a consistent count.
func TestConcurrentClients(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	conn := openClickHouse(t, w.Addr)
	mustExec(ctx, t, conn, "CREATE TABLE events (worker UInt8, seq UInt32) ENGINE = MergeTree ORDER BY (worker, seq)")
	const workers, inserts = 6, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := openClickHouse(t, w.Addr)
			for i := range inserts {
				if err := c.Exec(ctx, fmt.Sprintf("INSERT INTO events VALUES (%d, %d)", g, i)); err != nil {
					errs <- fmt.Errorf("worker %d insert %d: %w", g, i, err)
					return
				}
				var n uint64
				if err := c.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM events WHERE worker = %d", g)).Scan(&n); err != nil {
					errs <- fmt.Errorf("worker %d count: %w", g, err)
					return
				}
				if n != uint64(i+1) {
					errs <- fmt.Errorf("worker %d sees %d of its rows after %d inserts", g, n, i+1)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != workers*inserts {
		t.Fatalf("total rows = %d, want %d", total, workers*inserts)
	}
}
