package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// nativeTypesDDL covers every column type the raw tables and product_daily
// use: Nullable, LowCardinality (also of Nullable), Decimal(18, 4),
// DateTime64(3, 'UTC'), Date32, Array and Nested.
const nativeTypesDDL = `CREATE TABLE %s (
	id UInt64, s String, ns Nullable(String),
	lc LowCardinality(String), lcn LowCardinality(Nullable(String)),
	d Decimal(18, 4), nd Nullable(Decimal(18, 4)),
	ts DateTime64(3, 'UTC'), nts Nullable(DateTime64(3, 'UTC')),
	day Date32, nday Nullable(Date32),
	i32 Int32, n64 Nullable(Int64), f Float64, nf Nullable(Float64), b Bool, p UInt32,
	tags Array(String), amounts Array(Decimal(18, 4)),
	items Nested(sku String, qty Int32, price Nullable(Decimal(18, 4)))
) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`

const nativeTypesColumns = "id, s, ns, lc, lcn, d, nd, ts, nts, day, nday, i32, n64, f, nf, b, p, tags, amounts, `items.sku`, `items.qty`, `items.price`"

// typesRow is one row of the types table.
type typesRow struct {
	ID         uint64
	S          string
	NS         *string
	LC         string
	LCN        *string
	D          decimal.Decimal
	ND         *decimal.Decimal
	TS         time.Time
	NTS        *time.Time
	Day        time.Time
	NDay       *time.Time
	I32        int32
	N64        *int64
	F          float64
	NF         *float64
	B          bool
	P          uint32
	Tags       []string
	Amounts    []decimal.Decimal
	ItemSKU    []string
	ItemQty    []int32
	ItemPrices []*decimal.Decimal
}

func ptr[T any](v T) *T { return &v }

// typesRowAt generates row i: every nullable is null on some rows, text has
// quotes, tabs and non-ASCII, amounts are negative and tiny, dates predate
// 1970, arrays are empty on some rows.
func typesRowAt(i int) typesRow {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	r := typesRow{
		ID:   uint64(i),
		S:    fmt.Sprintf("sku-%d 'quoted'\tüñï", i),
		LC:   []string{"amazon", "tiktok", "both"}[i%3],
		D:    decimal.New(int64(i*7919-500000), -4),
		TS:   base.Add(time.Duration(i) * 1234567 * time.Microsecond).Truncate(time.Millisecond),
		Day:  time.Date(1960+i%100, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC),
		I32:  int32(i%2000 - 1000),
		F:    float64(i) / 7,
		B:    i%2 == 0,
		P:    uint32(i % 4),
		Tags: make([]string, i%4),
	}
	for j := range r.Tags {
		r.Tags[j] = fmt.Sprintf("t%d", i+j)
	}
	if i%3 != 0 {
		r.NS = ptr(fmt.Sprintf("note %d", i))
		r.LCN = ptr([]string{"USD", "EUR"}[i%2])
		r.ND = ptr(decimal.New(int64(i), -4))
		r.NTS = ptr(r.TS.Add(time.Hour))
		r.NDay = ptr(r.Day.AddDate(0, 0, 1))
		r.N64 = ptr(int64(i) << 33)
		r.NF = ptr(-float64(i))
	}
	for j := range i % 3 {
		r.Amounts = append(r.Amounts, decimal.New(int64(j*100+i), -2))
		r.ItemSKU = append(r.ItemSKU, fmt.Sprintf("item-%d-%d", i, j))
		r.ItemQty = append(r.ItemQty, int32(j+1))
		if j%2 == 0 {
			r.ItemPrices = append(r.ItemPrices, ptr(decimal.New(int64(i+j), -4)))
		} else {
			r.ItemPrices = append(r.ItemPrices, nil)
		}
	}
	return r
}

func (r typesRow) values() []any {
	amounts := r.Amounts
	if amounts == nil {
		amounts = []decimal.Decimal{}
	}
	skus, qtys, prices := r.ItemSKU, r.ItemQty, r.ItemPrices
	if skus == nil {
		skus, qtys, prices = []string{}, []int32{}, []*decimal.Decimal{}
	}
	return []any{r.ID, r.S, r.NS, r.LC, r.LCN, r.D, r.ND, r.TS, r.NTS, r.Day, r.NDay, r.I32, r.N64, r.F, r.NF, r.B, r.P, r.Tags, amounts, skus, qtys, prices}
}

func (r *typesRow) targets() []any {
	return []any{&r.ID, &r.S, &r.NS, &r.LC, &r.LCN, &r.D, &r.ND, &r.TS, &r.NTS, &r.Day, &r.NDay, &r.I32, &r.N64, &r.F, &r.NF, &r.B, &r.P, &r.Tags, &r.Amounts, &r.ItemSKU, &r.ItemQty, &r.ItemPrices}
}

// canonical renders a row as text that is equal exactly when the values are.
func (r typesRow) canonical() string {
	var b strings.Builder
	opt := func(p any) string {
		switch v := p.(type) {
		case *string:
			if v != nil {
				return "'" + *v + "'"
			}
		case *decimal.Decimal:
			if v != nil {
				return v.StringFixed(4)
			}
		case *time.Time:
			if v != nil {
				return v.UTC().Format(time.RFC3339Nano)
			}
		case *int64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		case *float64:
			if v != nil {
				return fmt.Sprint(*v)
			}
		}
		return "NULL"
	}
	fmt.Fprintf(&b, "%d|%q|%s|%s|%s|%s|%s|%s|%s|%s|%s|%d|%s|%v|%s|%v|%d|%q|",
		r.ID, r.S, opt(r.NS), r.LC, opt(r.LCN), r.D.StringFixed(4), opt(r.ND), r.TS.UTC().Format(time.RFC3339Nano), opt(r.NTS),
		r.Day.UTC().Format(time.DateOnly), opt(r.NDay), r.I32, opt(r.N64), r.F, opt(r.NF), r.B, r.P, r.Tags)
	for _, a := range r.Amounts {
		b.WriteString(a.StringFixed(4) + ",")
	}
	fmt.Fprintf(&b, "|%q|%v|", r.ItemSKU, r.ItemQty)
	for _, p := range r.ItemPrices {
		b.WriteString(opt(p) + ",")
	}
	return b.String()
}

func openNative(t *testing.T, addr string, comp *clickhouse.Compression, auth clickhouse.Auth) driver.Conn {
	t.Helper()
	return openConn(t, &clickhouse.Options{
		Addr:        []string{addr},
		Protocol:    clickhouse.Native,
		Auth:        auth,
		Compression: comp,
		DialTimeout: 10 * time.Second,
		ReadTimeout: 2 * time.Minute,
	})
}

// TestNativeClickHouseGo drives the native protocol with clickhouse-go v2
// beyond the matrix row (TestClientMatrix): once per compression method
// (none, LZ4, ZSTD), rows of every column type, LowCardinality(Nullable) and
// Nullable decimals inside Nested included, inserted in several batches and
// read back equal, query parameters that need quoting, a query's settings
// not outliving it, an empty result's columns, an error with its code, and
// a replayed insert token landing once.
func TestNativeClickHouseGo(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	const n = 30_000
	want := make([]typesRow, n)
	for i := range want {
		want[i] = typesRowAt(i)
	}
	for _, tc := range []struct {
		name string
		comp *clickhouse.Compression
	}{
		{"none", nil},
		{"lz4", &clickhouse.Compression{Method: clickhouse.CompressionLZ4}},
		{"zstd", &clickhouse.Compression{Method: clickhouse.CompressionZSTD}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := openNative(t, w.NativeAddr, tc.comp, clickhouse.Auth{})
			if err := conn.Ping(ctx); err != nil {
				t.Fatalf("ping: %v", err)
			}
			sv, err := conn.ServerVersion()
			if err != nil {
				t.Fatalf("server version: %v", err)
			}
			if sv.Version.Major != 26 || sv.Version.Minor != 5 || sv.Revision != 54460 {
				t.Fatalf("server version = %v revision %d, want ClickHouse 26.5 at revision 54460", sv.Version, sv.Revision)
			}
			table := "types_" + tc.name
			mustExec(ctx, t, conn, fmt.Sprintf(nativeTypesDDL, table))
			for start := 0; start < n; start += 12_000 {
				batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+nativeTypesColumns+")")
				if err != nil {
					t.Fatalf("prepare batch: %v", err)
				}
				for _, r := range want[start:min(start+12_000, n)] {
					if err := batch.Append(r.values()...); err != nil {
						t.Fatalf("append row %d: %v", r.ID, err)
					}
				}
				if err := batch.Send(); err != nil {
					t.Fatalf("send batch at %d: %v", start, err)
				}
			}
			rows, err := conn.Query(ctx, "SELECT "+nativeTypesColumns+" FROM "+table+" ORDER BY id")
			if err != nil {
				t.Fatalf("select: %v", err)
			}
			got := 0
			for rows.Next() {
				var r typesRow
				if err := rows.Scan(r.targets()...); err != nil {
					t.Fatalf("scan row %d: %v", got, err)
				}
				if got >= n {
					t.Fatalf("more than %d rows", n)
				}
				if g, w := r.canonical(), want[got].canonical(); g != w {
					t.Fatalf("row %d differs:\n got  %s\n want %s", got, g, w)
				}
				got++
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("rows: %v", err)
			}
			if got != n {
				t.Fatalf("read back %d rows, want %d", got, n)
			}

			// Parameters, with text that needs quoting.
			var id uint64
			var s string
			const text = "O'Brien, üñï"
			pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"id": "7", "s": text}))
			if err := conn.QueryRow(pctx, "SELECT id, {s:String} FROM "+table+" WHERE id = {id:UInt64}").Scan(&id, &s); err != nil {
				t.Fatalf("query with parameters: %v", err)
			}
			if id != 7 || s != text {
				t.Fatalf("parameterised query returned %d, %q; want 7, %q", id, s, text)
			}

			// A query's settings apply to it and not to the next query.
			const threads = "SELECT toString(getSetting('max_threads'))"
			if v := queryString(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_threads": 3})), t, conn, threads); v != "3" {
				t.Fatalf("max_threads in a query that set it = %q, want 3", v)
			}
			if v := queryString(ctx, t, conn, threads); v == "3" {
				t.Fatal("a query's setting outlived the query")
			}

			// An empty result still has its columns.
			rows, err = conn.Query(ctx, "SELECT id, lcn FROM "+table+" WHERE id > 1e9")
			if err != nil {
				t.Fatalf("empty select: %v", err)
			}
			cols := rows.Columns()
			if rows.Next() {
				t.Fatal("empty select returned a row")
			}
			rows.Close()
			if strings.Join(cols, ",") != "id,lcn" {
				t.Fatalf("empty result columns = %v, want [id lcn]", cols)
			}

			// Errors are exceptions with ClickHouse's code.
			err = conn.Exec(ctx, "SELECT * FROM missing_table")
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || ex.Code != 60 {
				t.Fatalf("query of a missing table: got %v, want *clickhouse.Exception with code 60", err)
			}
			if err := conn.Exec(ctx, "SELECT 1"); err != nil {
				t.Fatalf("connection unusable after an exception: %v", err)
			}

			// The loader's contract: a replayed token lands once.
			for range 2 {
				bctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
					"insert_deduplication_token": "dedup-1", "insert_deduplicate": 1}))
				batch, err := conn.PrepareBatch(bctx, "INSERT INTO "+table+" ("+nativeTypesColumns+")")
				if err != nil {
					t.Fatalf("prepare batch: %v", err)
				}
				r := typesRowAt(n + 1)
				if err := batch.Append(r.values()...); err != nil {
					t.Fatal(err)
				}
				if err := batch.Send(); err != nil {
					t.Fatalf("send dedup batch: %v", err)
				}
			}
			var count uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE id = ?", uint64(n+1)).Scan(&count); err != nil {
				t.Fatal(err)
			}
			if count != 1 {
				t.Fatalf("a replayed insert token landed %d times, want 1", count)
			}
		})
	}
}

// TestNativeCancel: a client that gives up on a long query (clickhouse-go
// sends Cancel when its context ends) gets control back at once, the
// statement stops in the engine instead of running its course, and the
// server goes on serving.
func TestNativeCancel(t *testing.T) {
	w := startWarehouse(t)
	conn := openNative(t, w.NativeAddr, nil, clickhouse.Auth{})
	ctx := context.Background()
	// Five minutes of sleeping in the engine, unless it is killed.
	const slow = "SELECT sum(sleepEachRow(0.5)) FROM numbers(600) SETTINGS max_block_size = 1"
	qctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		var n uint64
		errc <- conn.QueryRow(qctx, slow).Scan(&n)
	}()
	running := func() uint64 {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE query LIKE '%sleepEachRow(0.5)%' AND query NOT LIKE '%system.processes%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for running() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow query never showed up in system.processes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query returned %v, want context.Canceled", err)
	}
	for running() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cancelled query still runs in the engine")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var one uint8
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after a cancel: %v", err)
	}
}
