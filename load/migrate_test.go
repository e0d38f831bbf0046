package load_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
)

// openWarehouse starts a fresh embedded warehouse and connects to it over HTTP.
func openWarehouse(t *testing.T) (driver.Conn, *testenv.Warehouse) {
	t.Helper()
	w := testenv.StartWarehouse(t)
	return connect(t, w), w
}

func connect(t *testing.T, w *testenv.Warehouse) driver.Conn {
	t.Helper()
	return connectWith(t, w, "http")
}

// connectWith connects to w over protocol (native or http).
func connectWith(t *testing.T, w *testenv.Warehouse, protocol string) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := load.Open(ctx, load.Warehouse{Addr: w.AddrFor(protocol), Protocol: protocol, Database: "default", User: "default", MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func queryStrings(t *testing.T, conn driver.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateTwiceAndConcurrently applies the migrations from four
// connections at once, then again: every table exists, each migration is
// recorded once (after FINAL), and the second run applies nothing.
func TestMigrateTwiceAndConcurrently(t *testing.T) {
	conn, w := openWarehouse(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		c := connect(t, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = load.Migrate(ctx, c, load.MigrateOptions{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	applied, err := load.Migrate(ctx, conn, load.MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second run applied %v", applied)
	}
	migs, _ := load.Migrations()
	if n := load.QueryUint(t, conn, "SELECT count() FROM shopstream_migrations FINAL"); n != uint64(len(migs)) {
		t.Fatalf("%d migrations recorded, want %d", n, len(migs))
	}
	all, err := tables.All()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dbt_runs", "dead_letters", "dead_letters_open", "dead_letters_replayed", "shopstream_migrations"}
	for _, tb := range all {
		want = append(want, tb.Raw)
		if tb.Current != "" {
			want = append(want, tb.Current, tb.Current+"_mv")
		}
	}
	got := queryStrings(t, conn, "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name")
	if fmt.Sprint(sorted(want)) != fmt.Sprint(got) {
		t.Fatalf("tables:\n got %v\nwant %v", got, sorted(want))
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// migrationStatements returns the statements of the migrations keep
// selects, in order, as Migrate would run them with opts.
func migrationStatements(t *testing.T, opts load.MigrateOptions, keep func(load.Migration) bool) []string {
	t.Helper()
	migs, err := load.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range migs {
		if !keep(m) {
			continue
		}
		s, err := m.Statements(opts)
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		stmts = append(stmts, s...)
	}
	return stmts
}

// TestClusterStatements checks the ON CLUSTER text (the embedded engine has
// no cluster to run it on): every table becomes a Replicated*MergeTree
// <name>_local plus a Distributed <name> sharded by the entity key, views
// read and write the local tables, and the dedup window keeps its size.
func TestClusterStatements(t *testing.T) {
	stmts := migrationStatements(t, load.MigrateOptions{Cluster: "shop"}, func(load.Migration) bool { return true })
	all, _ := tables.All()
	joined := strings.Join(stmts, "\n;\n")
	for _, s := range stmts {
		if !strings.Contains(s, " ON CLUSTER shop") {
			t.Errorf("statement without ON CLUSTER: %.80s", s)
		}
		if strings.Contains(s, "non_replicated_deduplication_window") {
			t.Errorf("replicated table with the non-replicated window: %.80s", s)
		}
	}
	for _, tb := range all {
		for _, want := range []string{
			"CREATE TABLE IF NOT EXISTS " + tb.Raw + "_local ON CLUSTER shop\n",
			"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/" + tb.Raw + "_local', '{replica}')",
			"CREATE TABLE IF NOT EXISTS " + tb.Raw + " ON CLUSTER shop AS " + tb.Raw + "_local\nENGINE = Distributed(shop, currentDatabase(), " + tb.Raw + "_local, cityHash64(_key))",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: missing %q", tb.Topic, want)
			}
		}
		if tb.Current == "" {
			continue
		}
		for _, want := range []string{
			"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/" + tb.Current + "_local', '{replica}', version, is_deleted)",
			"CREATE MATERIALIZED VIEW IF NOT EXISTS " + tb.Current + "_mv ON CLUSTER shop TO " + tb.Current + "_local AS",
			"FROM " + tb.Raw + "_local",
			"ENGINE = Distributed(shop, currentDatabase(), " + tb.Current + "_local, cityHash64(_key))",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: missing %q", tb.Topic, want)
			}
		}
	}
	if want := "CREATE VIEW IF NOT EXISTS dead_letters_open ON CLUSTER shop AS\nSELECT *\nFROM dead_letters\n"; !strings.Contains(joined, want) {
		t.Errorf("missing %q", want)
	}
	// Column changes reach the local tables and the Distributed ones; a
	// view's new query reads the local table.
	for _, want := range []string{
		"ALTER TABLE product_daily_changes_local ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions`",
		"ALTER TABLE product_daily_changes ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions`",
		"ALTER TABLE product_daily_local ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions`",
		"ALTER TABLE product_daily ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions`",
		"ADD COLUMN IF NOT EXISTS `tiktok_attention_provenance` LowCardinality(Nullable(String))",
		"ALTER TABLE product_daily_mv ON CLUSTER shop MODIFY QUERY\nSELECT\n",
		"    `tiktok_attention_provenance`,\n",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, s := range stmts {
		if strings.HasPrefix(s, "ALTER TABLE product_daily_mv") && !strings.HasSuffix(s, "\nFROM product_daily_changes_local") {
			t.Errorf("view query does not read the local table: ...%s", s[max(0, len(s)-60):])
		}
	}
	if !strings.Contains(joined, "replicated_deduplication_window = 10000") {
		t.Error("dedup window lost")
	}
	// A mutation of stored parts (MATERIALIZE COLUMN) runs on the local
	// tables only: a Distributed table has no parts and refuses it.
	for _, tb := range all {
		for _, name := range []string{tb.Raw, tb.Current} {
			if name == "" {
				continue
			}
			if want := "ALTER TABLE " + name + "_local ON CLUSTER shop\n    MATERIALIZE COLUMN `_inserted_at`"; !strings.Contains(joined, want) {
				t.Errorf("missing %q", want)
			}
			if bad := "ALTER TABLE " + name + " ON CLUSTER shop\n    MATERIALIZE COLUMN"; strings.Contains(joined, bad) {
				t.Errorf("mutation of the Distributed table %s", name)
			}
			if want := "ALTER TABLE " + name + " ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `_inserted_at`"; !strings.Contains(joined, want) {
				t.Errorf("missing %q", want)
			}
		}
	}
	migs, err := load.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migs[0].Statements(load.MigrateOptions{Cluster: "x; DROP"}); err == nil {
		t.Error("cluster name with SQL accepted")
	}
}
