package warehouse_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestDbtProject runs the real dbt (dbt-core + dbt-clickhouse over HTTP, from the
// Makefile's virtual environment) on the project in dbt/ against a fresh
// warehouse whose tables come from the loader's own migrations: `dbt debug`,
// then `dbt build` twice, with new source rows in between so that the second
// build runs the incremental models incrementally. It checks the models'
// contents in the warehouse after each build against values computed by hand.
func TestDbtProject(t *testing.T) {
	w, d := newDbtWarehouse(t)
	insertRawOrders(t, w.URL, firstBatch)
	// No background merge may collapse the versions of a key: the models must
	// get the current state from FINAL, not from a merge that happened to run.
	dbtExec(t, w.URL, "SYSTEM STOP MERGES raw.product_daily")
	dbtExec(t, w.URL, "SYSTEM STOP MERGES raw.product_links")
	for _, batch := range dailyBatch1 {
		insertProductDaily(t, w.URL, batch)
	}
	for _, batch := range linksBatch1 {
		insertProductLinks(t, w.URL, batch)
	}
	// The restated and the deleted day have two versions each in the table.
	dbtExpect(t, w.URL, "SELECT (SELECT count() FROM raw.product_daily), (SELECT count() FROM raw.product_daily FINAL)", "14\t11")

	d.run(t, "debug")
	run1 := d.run(t, "build")

	const (
		o1 = "111-0000001-0000001"
		o2 = "111-0000002-0000002"
		o3 = "302-0000003-0000003"
		o4 = "302-0000004-0000004"
		o5 = "111-0000005-0000005"
		o6 = "111-0000006-0000006"
	)
	ordersQuery := `SELECT amazon_order_id, marketplace_id, country_code, purchase_day, order_status,
		currency_code, order_total_amount, is_deleted, version, changes, dbt_invocation_id
		FROM analytics.stg_amazon_orders ORDER BY amazon_order_id`
	salesQuery := `SELECT purchase_day, marketplace_id, country_code, currency_code, orders,
		orders_without_amount, sales FROM analytics.amazon_sales_daily ORDER BY purchase_day, marketplace_id`
	us, de := "ATVPDKIKX0DER\tUS", "A1PA6795UKMFR9\tDE"

	// Seven distinct changes: the replayed o2-v1 counts once.
	dbtExpect(t, w.URL, "SELECT count(), uniqExact(event_id) FROM analytics.stg_amazon_order_changes", "7\t7")
	dbtExpect(t, w.URL, ordersQuery, dbtRows(
		o1+"\t"+us+"\t2026-11-01\tUnshipped\tUSD\t19.99\tfalse\t2\t2\t"+run1,
		o2+"\t"+us+"\t2026-11-01\tShipped\tUSD\t35.5\tfalse\t1\t1\t"+run1,
		o6+"\t"+us+"\t2026-11-01\tPending\tUSD\t\\N\tfalse\t1\t1\t"+run1,
		o3+"\t"+de+"\t2026-11-02\tShipped\tEUR\t12\tfalse\t2\t1\t"+run1,
		o4+"\t"+de+"\t2026-11-02\tCanceled\tEUR\t40\tfalse\t2\t2\t"+run1,
	))
	dbtExpect(t, w.URL, salesQuery, dbtRows(
		"2026-11-01\t"+us+"\tUSD\t3\t1\t55.49",
		"2026-11-02\t"+de+"\tEUR\t1\t0\t12",
	))
	checkProductModels(t, w.URL, weeklyAfterBuild1(run1), crossChannelAfterBuild1)

	// Second batch: a new version of o1, a new order o5, a late lower version
	// of o3 (it must not win over v2) and a replay of o2-v1 (it must not count).
	insertRawOrders(t, w.URL, secondBatch)
	insertProductDaily(t, w.URL, dailyBatch2)
	insertProductLinks(t, w.URL, linksBatch2)
	run2 := d.run(t, "build")
	if run2 == run1 {
		t.Fatalf("both builds report invocation id %s", run1)
	}

	dbtExpect(t, w.URL, "SELECT count(), uniqExact(event_id) FROM analytics.stg_amazon_order_changes", "10\t10")
	// Each order exactly once. Only the orders with changes ingested at or after
	// the first build's watermark (o6 holds it) were recomputed by the second
	// build: the others keep the first build's invocation id, which a full
	// rebuild would have replaced.
	dbtExpect(t, w.URL, ordersQuery, dbtRows(
		o1+"\t"+us+"\t2026-11-01\tShipped\tUSD\t19.99\tfalse\t3\t3\t"+run2,
		o2+"\t"+us+"\t2026-11-01\tShipped\tUSD\t35.5\tfalse\t1\t1\t"+run1,
		o5+"\t"+us+"\t2026-11-02\tShipped\tUSD\t7.25\tfalse\t1\t1\t"+run2,
		o6+"\t"+us+"\t2026-11-01\tPending\tUSD\t\\N\tfalse\t1\t1\t"+run2,
		o3+"\t"+de+"\t2026-11-02\tShipped\tEUR\t12\tfalse\t2\t2\t"+run2,
		o4+"\t"+de+"\t2026-11-02\tCanceled\tEUR\t40\tfalse\t2\t2\t"+run1,
	))
	dbtExpect(t, w.URL, salesQuery, dbtRows(
		"2026-11-01\t"+us+"\tUSD\t3\t1\t55.49",
		"2026-11-02\t"+de+"\tEUR\t1\t0\t12",
		"2026-11-02\t"+us+"\tUSD\t1\t0\t7.25",
	))
	checkProductModels(t, w.URL, weeklyAfterBuild2(run1, run2), crossChannelAfterBuild2)
	// Money stays decimal all the way through.
	dbtExpect(t, w.URL, `SELECT table, name, type FROM system.columns WHERE database = 'analytics'
		AND name IN ('order_total_amount', 'sales', 'tiktok_gmv', 'tiktok_video_gmv', 'amazon_sales') ORDER BY table, name`, dbtRows(
		"amazon_sales_daily\tsales\tNullable(Decimal(38, 4))",
		"product_channel_weekly\tamazon_sales\tNullable(Decimal(38, 4))",
		"product_channel_weekly\ttiktok_gmv\tNullable(Decimal(38, 4))",
		"product_channel_weekly\ttiktok_video_gmv\tNullable(Decimal(38, 4))",
		"stg_amazon_order_changes\torder_total_amount\tNullable(Decimal(18, 4))",
		"stg_amazon_orders\torder_total_amount\tNullable(Decimal(18, 4))",
		"stg_product_daily\tamazon_sales\tNullable(Decimal(18, 4))",
		"stg_product_daily\ttiktok_gmv\tNullable(Decimal(18, 4))",
		"stg_product_daily\ttiktok_video_gmv\tNullable(Decimal(18, 4))",
	))
	// The weekly mart has one partition per week, as the incremental builds
	// replace them.
	dbtExpect(t, w.URL, `SELECT arraySort(groupUniqArray(partition)) FROM system.parts
		WHERE database = 'analytics' AND table = 'product_channel_weekly' AND active`,
		"['2026-11-02','2026-11-09','2026-11-16']")
	// No intermediate relation (backup, new-data, exchange probe) is left
	// behind (raw holds the loader's tables).
	dbtExpect(t, w.URL, `SELECT database, name FROM system.tables
		WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema', 'raw') ORDER BY database, name`, dbtRows(
		"analytics\tamazon_marketplaces",
		"analytics\tamazon_sales_daily",
		"analytics\tcross_channel_products",
		"analytics\thalo_by_lag",
		"analytics\thalo_ranking",
		"analytics\tint_halo_days",
		"analytics\tproduct_channel_weekly",
		"analytics\tproduct_halo",
		"analytics\tstg_amazon_order_changes",
		"analytics\tstg_amazon_orders",
		"analytics\tstg_product_daily",
		"analytics\tstg_product_links",
	))
	dbtExpect(t, w.URL, "SELECT count() FROM system.tables WHERE database = 'raw' AND name = 'amazon_orders_changes'", "1")
}

type rawOrderChange struct {
	eventID, op                   string
	ingestTS                      string
	version                       int
	orderID, marketplace          string
	purchaseDate, lastUpdate      string
	status, currency, totalAmount string // "" = NULL
}

var firstBatch = []rawOrderChange{
	// o1's v2 was ingested before its v1.
	{"o1-v2", "update", "2026-11-02 00:00:01", 2, "111-0000001-0000001", "ATVPDKIKX0DER", "2026-11-01 10:00:00", "2026-11-01 10:05:00", "Unshipped", "USD", "19.99"},
	{"o1-v1", "create", "2026-11-02 00:00:02", 1, "111-0000001-0000001", "ATVPDKIKX0DER", "2026-11-01 10:00:00", "2026-11-01 10:00:00", "Pending", "", ""},
	{"o2-v1", "create", "2026-11-02 00:00:01", 1, "111-0000002-0000002", "ATVPDKIKX0DER", "2026-11-01 23:30:00", "2026-11-01 23:30:00", "Shipped", "USD", "35.50"},
	// The loader replayed o2-v1: the same record landed twice.
	{"o2-v1", "create", "2026-11-02 00:00:01", 1, "111-0000002-0000002", "ATVPDKIKX0DER", "2026-11-01 23:30:00", "2026-11-01 23:30:00", "Shipped", "USD", "35.50"},
	{"o3-v2", "update", "2026-11-02 00:00:03", 2, "302-0000003-0000003", "A1PA6795UKMFR9", "2026-11-02 08:00:00", "2026-11-02 09:00:00", "Shipped", "EUR", "12.00"},
	{"o4-v1", "create", "2026-11-02 00:00:03", 1, "302-0000004-0000004", "A1PA6795UKMFR9", "2026-11-02 09:00:00", "2026-11-02 09:00:00", "Unshipped", "EUR", "40.00"},
	{"o4-v2", "update", "2026-11-02 00:00:04", 2, "302-0000004-0000004", "A1PA6795UKMFR9", "2026-11-02 09:00:00", "2026-11-02 09:30:00", "Canceled", "EUR", "40.00"},
	// Pending: no amount and no currency yet.
	{"o6-v1", "create", "2026-11-02 00:00:05", 1, "111-0000006-0000006", "ATVPDKIKX0DER", "2026-11-01 12:00:00", "2026-11-01 12:00:00", "Pending", "", ""},
}

var secondBatch = []rawOrderChange{
	{"o1-v3", "update", "2026-11-03 00:00:01", 3, "111-0000001-0000001", "ATVPDKIKX0DER", "2026-11-01 10:00:00", "2026-11-02 15:00:00", "Shipped", "USD", "19.99"},
	{"o5-v1", "create", "2026-11-03 00:00:01", 1, "111-0000005-0000005", "ATVPDKIKX0DER", "2026-11-02 12:00:00", "2026-11-02 12:00:00", "Shipped", "USD", "7.25"},
	// A lower version of o3 arriving late.
	{"o3-v1", "create", "2026-11-03 00:00:02", 1, "302-0000003-0000003", "A1PA6795UKMFR9", "2026-11-02 08:00:00", "2026-11-02 08:00:00", "Unshipped", "EUR", "12.00"},
	// A replay of a record from the first batch, outside the dedup window.
	{"o2-v1", "create", "2026-11-02 00:00:01", 1, "111-0000002-0000002", "ATVPDKIKX0DER", "2026-11-01 23:30:00", "2026-11-01 23:30:00", "Shipped", "USD", "35.50"},
}

func insertRawOrders(t *testing.T, baseURL string, batch []rawOrderChange) {
	t.Helper()
	nullable := func(s string) string {
		if s == "" {
			return "NULL"
		}
		return "'" + s + "'"
	}
	values := make([]string, len(batch))
	for i, r := range batch {
		values[i] = fmt.Sprintf("('%s', 'amazon', 'order', '%s', '%s', '%s', %d, '%s', '%s', '%s', '%s', '%s', %s, %s)",
			r.eventID, r.op, r.lastUpdate, r.ingestTS, r.version, r.orderID, r.marketplace,
			r.purchaseDate, r.lastUpdate, r.status, nullable(r.currency), nullable(r.totalAmount))
	}
	dbtExec(t, baseURL, `INSERT INTO raw.amazon_orders_changes (event_id, source, entity, op, source_ts, ingest_ts,
		version, amazon_order_id, marketplace_id, purchase_date, last_update_date, order_status, currency_code,
		order_total_amount) VALUES `+strings.Join(values, ",\n"))
}

// dbtRunner runs dbt on the repository's dbt/ project with its target and log
// directories outside the tree.
type dbtRunner struct {
	bin, projectDir, targetDir, logDir, workDir string
	env                                         []string
}

// newDbtWarehouse starts a warehouse holding the loader's tables in the
// database raw (made by the loader's own migrations, so the models are tested
// against the real tables) and a dbt runner for it. It skips (fails under
// make test) without dbt.
func newDbtWarehouse(t *testing.T) (*testenv.Warehouse, *dbtRunner) {
	t.Helper()
	bin := testenv.Require(t, testenv.DbtVar, "dbt")
	w, _ := pipelinetest.MigratedWarehouse(t, "raw")
	tmp := t.TempDir()
	d := &dbtRunner{
		bin:        bin,
		projectDir: pipelinetest.DbtProject(t),
		targetDir:  filepath.Join(tmp, "target"),
		logDir:     filepath.Join(tmp, "logs"),
		workDir:    tmp,
		env:        pipelinetest.DbtEnv(t, w.URL, "raw", tmp),
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, err := os.ReadFile(filepath.Join(d.logDir, "dbt.log"))
		if err != nil {
			return
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) > 300 {
			lines = lines[len(lines)-300:]
		}
		t.Logf("tail of dbt.log:\n%s", strings.Join(lines, "\n"))
	})
	return w, d
}

// run runs `dbt <command> [args]`, fails the test unless it exits 0, and
// returns the invocation id from run_results.json (empty for commands that
// write none). A plain build must have run every node of the project.
func (d *dbtRunner) run(t *testing.T, command string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_ = os.Remove(filepath.Join(d.targetDir, "run_results.json"))
	cmd := exec.CommandContext(ctx, d.bin, append([]string{command, "--project-dir", d.projectDir, "--profiles-dir", d.projectDir}, args...)...)
	cmd.Dir = d.workDir
	cmd.Env = d.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("dbt %s exited with %d after %s:\n%s", command, exit.ExitCode(), time.Since(start).Round(time.Millisecond), out.String())
	case err != nil:
		t.Fatalf("dbt %s: %v\n%s", command, err, out.String())
	}
	t.Logf("dbt %s: ok in %s", command, time.Since(start).Round(time.Millisecond))
	if command != "build" {
		return ""
	}
	results, err := dbtrun.ReadRunResults(filepath.Join(d.targetDir, "run_results.json"))
	if err != nil {
		t.Fatalf("dbt %s wrote no run results: %v\n%s", command, err, out.String())
	}
	ran := map[string]string{}
	for _, r := range results.Results {
		ran[r.UniqueID] = r.Status
		if r.Status != "success" && r.Status != "pass" {
			t.Errorf("dbt %s: %s ended with status %q", command, r.UniqueID, r.Status)
		}
	}
	for _, node := range []string{
		"seed.shopstream.amazon_marketplaces",
		"model.shopstream.stg_amazon_order_changes",
		"model.shopstream.stg_amazon_orders",
		"model.shopstream.amazon_sales_daily",
		"model.shopstream.stg_product_daily",
		"model.shopstream.stg_product_links",
		"model.shopstream.product_channel_weekly",
		"model.shopstream.cross_channel_products",
		"test.shopstream.assert_orders_at_latest_version",
		"test.shopstream.assert_product_channel_weekly_matches_daily",
		"model.shopstream.int_halo_days",
		"model.shopstream.halo_by_lag",
		"model.shopstream.product_halo",
		"model.shopstream.halo_ranking",
	} {
		if len(args) > 0 {
			break // a selection: the caller checks what it selected
		}
		if _, ok := ran[node]; !ok {
			t.Errorf("dbt %s did not run %s", command, node)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if results.Metadata.InvocationID == "" {
		t.Fatalf("run_results.json has no invocation id")
	}
	return results.Metadata.InvocationID
}

// dbtExec runs one statement on the warehouse over HTTP and returns its output
// (TabSeparated).
func dbtExec(t *testing.T, baseURL, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/", strings.NewReader(sql))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read answer: %v", sql, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", sql, resp.Status, body)
	}
	return string(body)
}

// dbtExpect fails the test unless sql answers want (TabSeparated, without the
// final newline).
func dbtExpect(t *testing.T, baseURL, sql, want string) {
	t.Helper()
	if got := strings.TrimSuffix(dbtExec(t, baseURL, sql), "\n"); got != want {
		t.Errorf("%s\n got:\n%s\nwant:\n%s", sql, got, want)
	}
}

func dbtRows(lines ...string) string { return strings.Join(lines, "\n") }

// The product models' data: four product keys over ISO weeks 2026-W45 (from
// Monday 2026-11-02), W46 and W47, in the loader's raw change tables (the
// materialized views fill the current-state tables from them).
const (
	pkGlow       = "glow-serum-30ml"                 // mapped by the mapping file on both channels
	pkGTIN       = "gtin:00850001234567"             // linked by GTIN: Amazon DE (EUR) and UK (GBP), TikTok (USD)
	pkAmazonOnly = "amazon:ATVPDKIKX0DER:B0UNMATCH1" // unmatched, Amazon only
	pkTikTokOnly = "tiktok:7495001:1729384756001"    // unmatched, TikTok only
)

// dailyChange is one change of xchannel.product_daily; figures maps columns to
// SQL literals, and a column it does not name is NULL (no source reported it).
type dailyChange struct {
	op, ingestTS string
	version      int
	key, date    string
	figures      map[string]string
}

// tiktokDay and amazonDay give a day's figures of one channel; "" is NULL.
func tiktokDay(views, watchSeconds, saves, shares, likes, comments, currency, videoGMV, orders, units, gmv string) map[string]string {
	return figures(map[string]string{
		"tiktok_views": views, "tiktok_watch_time_seconds": watchSeconds, "tiktok_saves": saves,
		"tiktok_shares": shares, "tiktok_likes": likes, "tiktok_comments": comments,
		"tiktok_currency": sqlString(currency), "tiktok_video_gmv": videoGMV, "tiktok_orders": orders,
		"tiktok_units": units, "tiktok_gmv": gmv,
	})
}

func amazonDay(searchStart, searchEnd, impressions, clicks, purchases, bsrBest, sessions, pageViews, units, currency, sales, orders string) map[string]string {
	return figures(map[string]string{
		"amazon_search_period_start": sqlString(searchStart), "amazon_search_period_end": sqlString(searchEnd),
		"amazon_search_impressions": impressions, "amazon_search_clicks": clicks,
		"amazon_search_purchases": purchases, "amazon_best_sellers_rank_best": bsrBest,
		"amazon_sessions": sessions, "amazon_page_views": pageViews, "amazon_units": units,
		"amazon_currency": sqlString(currency), "amazon_sales": sales, "amazon_orders": orders,
	})
}

func figures(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func sqlString(s string) string {
	if s == "" {
		return ""
	}
	return "'" + s + "'"
}

func withFigures(a, b map[string]string) map[string]string {
	m := map[string]string{}
	maps.Copy(m, a)
	maps.Copy(m, b)
	return m
}

var (
	// The Brand Analytics weeks (Sunday to Saturday) around W45: their totals
	// are carried on every day of the period.
	search1101 = [5]string{"2026-11-01", "2026-11-07", "5000", "200", "20"}
	search1108 = [5]string{"2026-11-08", "2026-11-14", "7000", "300", "33"}

	glow1109 = amazonDay(search1108[0], search1108[1], search1108[2], search1108[3], search1108[4], "1700", "200", "300", "10", "USD", "210.00", "9")
)

// dailyBatch1 is inserted before the first build, one INSERT per element: a
// late lower version of glow's 2026-11-03 and the delete of its 2026-11-04
// come in a second insert, so the table holds both versions of those keys.
var dailyBatch1 = [][]dailyChange{{
	// W45, ingested 2026-11-09: before the second build's lookback.
	{"create", "2026-11-09 08:00:00", 1, pkGlow, "2026-11-02", withFigures(
		tiktokDay("1000", "1500.5", "10", "5", "100", "3", "USD", "50.00", "2", "3", "60.00"),
		amazonDay(search1101[0], search1101[1], search1101[2], search1101[3], search1101[4], "1500", "300", "450", "12", "USD", "240.00", "11"))},
	// The restated day: version 2 wins over the version 1 below.
	{"update", "2026-11-09 08:00:00", 2, pkGlow, "2026-11-03", withFigures(
		tiktokDay("3000", "2000.25", "30", "15", "300", "9", "USD", "150.00", "4", "5", "100.00"),
		amazonDay(search1101[0], search1101[1], search1101[2], search1101[3], search1101[4], "1200", "500", "700", "18", "USD", "360.00", "16"))},
	{"create", "2026-11-09 08:00:00", 1, pkGlow, "2026-11-04", withFigures(
		tiktokDay("50000", "9000", "500", "500", "5000", "50", "USD", "900.00", "90", "90", "900.00"),
		amazonDay(search1101[0], search1101[1], search1101[2], search1101[3], search1101[4], "1", "9000", "9000", "900", "USD", "9000.00", "900"))},
	// Sunday: no TikTok data, and the next search week, which ends in W46.
	{"create", "2026-11-09 08:00:00", 1, pkGlow, "2026-11-08",
		amazonDay(search1108[0], search1108[1], search1108[2], search1108[3], search1108[4], "1800", "100", "150", "4", "USD", "40.00", "4")},
	{"create", "2026-11-09 08:00:00", 1, pkGTIN, "2026-11-05", withFigures(
		tiktokDay("400", "60", "4", "2", "40", "1", "USD", "20.00", "1", "1", "25.00"),
		amazonDay("", "", "", "", "", "5000", "50", "70", "2", "EUR", "30.00", "2"))},
	{"create", "2026-11-09 08:00:00", 1, pkGTIN, "2026-11-06",
		amazonDay("", "", "", "", "", "4000", "40", "60", "3", "GBP", "45.00", "3")},
	// Sold in both marketplaces that day: no amount and no currency.
	{"create", "2026-11-09 08:00:00", 1, pkGTIN, "2026-11-07",
		amazonDay("", "", "", "", "", "", "10", "20", "4", "", "", "4")},
	// Video figures only: no TikTok Shop orders, nothing on Amazon.
	{"create", "2026-11-09 08:00:00", 1, pkTikTokOnly, "2026-11-06",
		tiktokDay("800", "40.5", "8", "4", "80", "2", "USD", "12.50", "", "", "")},

	// W46, ingested 2026-11-16: the newest rows of the first build.
	{"create", "2026-11-16 10:00:00", 1, pkGlow, "2026-11-09", withFigures(
		tiktokDay("2000", "100", "20", "10", "200", "6", "USD", "80.00", "3", "3", "90.00"), glow1109)},
	// Zero views is data, not NULL; TikTok in USD, Amazon in EUR.
	{"create", "2026-11-16 10:00:00", 1, pkGTIN, "2026-11-10", withFigures(
		tiktokDay("0", "0", "0", "0", "0", "0", "USD", "0.00", "1", "2", "30.00"),
		amazonDay("", "", "", "", "", "3500", "30", "40", "1", "EUR", "15.00", "1"))},
	{"create", "2026-11-16 10:00:00", 1, pkAmazonOnly, "2026-11-10",
		amazonDay("", "", "", "", "", "20000", "10", "12", "1", "USD", "9.99", "1")},
	{"create", "2026-11-16 10:00:00", 1, pkAmazonOnly, "2026-11-11",
		amazonDay("", "", "", "", "", "18000", "20", "25", "2", "USD", "19.98", "2")},
}, {
	{"create", "2026-11-09 07:00:00", 1, pkGlow, "2026-11-03", withFigures(
		tiktokDay("999", "10", "1", "1", "1", "1", "USD", "1.00", "1", "1", "1.00"),
		amazonDay(search1101[0], search1101[1], search1101[2], search1101[3], search1101[4], "9999", "1", "1", "1", "USD", "1.00", "1"))},
	// The day lost its contributions: deleted, all figures NULL.
	{"delete", "2026-11-09 08:00:00", 2, pkGlow, "2026-11-04", nil},
}}

// dailyBatch2 comes before the second build: a restated W46 day, a deleted
// W46 day and a new W47 day. W45 has no change.
var dailyBatch2 = []dailyChange{
	{"update", "2026-11-20 09:00:00", 2, pkGlow, "2026-11-09", withFigures(
		tiktokDay("2500", "100", "20", "10", "200", "6", "USD", "80.00", "3", "3", "90.00"), glow1109)},
	{"delete", "2026-11-20 09:00:00", 2, pkAmazonOnly, "2026-11-10", nil},
	{"create", "2026-11-20 09:00:00", 1, pkAmazonOnly, "2026-11-16",
		amazonDay("", "", "", "", "", "15000", "5", "6", "1", "USD", "9.99", "1")},
}

var dailyFigureColumns = []string{
	"tiktok_views", "tiktok_watch_time_seconds", "tiktok_saves", "tiktok_shares", "tiktok_likes",
	"tiktok_comments", "tiktok_currency", "tiktok_video_gmv", "tiktok_orders", "tiktok_units", "tiktok_gmv",
	"amazon_search_period_start", "amazon_search_period_end", "amazon_search_impressions",
	"amazon_search_clicks", "amazon_search_purchases", "amazon_best_sellers_rank_best", "amazon_sessions",
	"amazon_page_views", "amazon_units", "amazon_currency", "amazon_sales", "amazon_orders",
	"tiktok_attention_provenance",
}

func insertProductDaily(t *testing.T, baseURL string, batch []dailyChange) {
	t.Helper()
	values := make([]string, len(batch))
	for i, r := range batch {
		key := r.key + ":" + r.date
		row := []string{
			fmt.Sprintf("'%s:v%d'", key, r.version), "'transform'", "'product_daily'", sqlString(r.op),
			sqlString(r.ingestTS), sqlString(r.ingestTS), strconv.Itoa(r.version), sqlString(r.key), sqlString(r.date),
			"'UTC'", sqlString(key),
		}
		for _, c := range dailyFigureColumns {
			row = append(row, cmp.Or(r.figures[c], "NULL"))
		}
		values[i] = "(" + strings.Join(row, ", ") + ")"
	}
	dbtExec(t, baseURL, `INSERT INTO raw.product_daily_changes (event_id, source, entity, op, source_ts, ingest_ts,
		version, product_key, date, date_time_zone, _key, `+strings.Join(dailyFigureColumns, ", ")+`) VALUES `+
		strings.Join(values, ",\n"))
}

// linkChange is one change of xchannel.product_links; "" is NULL.
type linkChange struct {
	op          string
	version     int
	key         string // channel:account:item
	productKey  string
	previousKey string
	asin, sku   string // the ASIN (amazon) or the TikTok SKU id
	gtin14      string
	matchRule   string
	conflict    string
	conflicting []string
}

var linksBatch1 = [][]linkChange{{
	{op: "create", version: 1, key: "amazon:ATVPDKIKX0DER:B0GLOW0001", productKey: pkGlow, asin: "B0GLOW0001", matchRule: "mapping_file"},
	{op: "create", version: 1, key: "tiktok:7495001:1729384756000", productKey: pkGlow, sku: "1729384756000", matchRule: "mapping_file"},
	{op: "create", version: 1, key: "amazon:A1PA6795UKMFR9:B0GTIN0001", productKey: pkGTIN, asin: "B0GTIN0001", gtin14: "00850001234567", matchRule: "gtin"},
	{op: "create", version: 1, key: "amazon:A1F83G8C2ARO7P:B0GTIN0001", productKey: pkGTIN, asin: "B0GTIN0001", gtin14: "00850001234567", matchRule: "gtin"},
	{op: "create", version: 1, key: "tiktok:7495001:1729384756100", productKey: "sku:GS-OLD", sku: "1729384756100", matchRule: "seller_sku"},
	{op: "create", version: 1, key: "amazon:ATVPDKIKX0DER:B0TRAVEL01", productKey: "sku:GS-TRAVEL", asin: "B0TRAVEL01", matchRule: "seller_sku"},
	{op: "create", version: 1, key: "tiktok:7495001:1729384756200", productKey: "sku:GS-TRAVEL", sku: "1729384756200", matchRule: "seller_sku"},
	{op: "create", version: 1, key: "amazon:ATVPDKIKX0DER:B0UNMATCH1", productKey: pkAmazonOnly, asin: "B0UNMATCH1", matchRule: "unmatched"},
	{op: "create", version: 1, key: "tiktok:7495001:1729384756001", productKey: pkTikTokOnly, sku: "1729384756001", matchRule: "unmatched"},
}, {
	// Re-keyed once its GTIN was known: sku:GS-OLD is gone.
	{op: "update", version: 2, key: "tiktok:7495001:1729384756100", productKey: pkGTIN, previousKey: "sku:GS-OLD", sku: "1729384756100", gtin14: "00850001234567", matchRule: "gtin"},
	// Deleted at the source: sku:GS-TRAVEL is Amazon only now.
	{op: "delete", version: 2, key: "tiktok:7495001:1729384756200", productKey: "sku:GS-TRAVEL", sku: "1729384756200", matchRule: "seller_sku"},
}}

// linksBatch2 links a second TikTok SKU to glow by GTIN, with a conflict.
var linksBatch2 = []linkChange{
	{op: "create", version: 1, key: "tiktok:7495001:1729384756002", productKey: pkGlow, sku: "1729384756002", gtin14: "00850009999991", matchRule: "gtin",
		conflict: "GTIN 00850009999991 is also on sku:GS-30", conflicting: []string{"sku:GS-30"}},
}

func insertProductLinks(t *testing.T, baseURL string, batch []linkChange) {
	t.Helper()
	values := make([]string, len(batch))
	for i, l := range batch {
		channel, rest, _ := strings.Cut(l.key, ":")
		account, _, _ := strings.Cut(rest, ":")
		var marketplace, shop string
		if channel == "amazon" {
			marketplace = account
		} else {
			shop = account
		}
		conflicting := make([]string, len(l.conflicting))
		for j, k := range l.conflicting {
			conflicting[j] = sqlString(k)
		}
		row := []string{
			fmt.Sprintf("'%s:v%d'", l.key, l.version), "'transform'", "'product_link'", sqlString(l.op),
			"'2026-11-01 00:00:00'", "'2026-11-01 00:00:00'", strconv.Itoa(l.version), sqlString(l.productKey),
			sqlString(l.previousKey), sqlString(channel), sqlString(marketplace), sqlString(shop), sqlString(l.asin),
			sqlString(l.sku), sqlString(l.gtin14), sqlString(l.matchRule), strconv.FormatBool(l.matchRule == "unmatched"),
			sqlString(l.conflict), "[" + strings.Join(conflicting, ", ") + "]", sqlString(l.key),
		}
		for j, v := range row {
			if v == "" {
				row[j] = "NULL"
			}
		}
		values[i] = "(" + strings.Join(row, ", ") + ")"
	}
	dbtExec(t, baseURL, `INSERT INTO raw.product_links_changes (event_id, source, entity, op, source_ts, ingest_ts,
		version, product_key, previous_product_key, channel, marketplace_id, shop_id, asin, sku_id, gtin14,
		match_rule, unmatched, conflict_reason, conflicting_product_keys, _key) VALUES `+strings.Join(values, ",\n"))
}

// weeklyWant is one expected row of product_channel_weekly, its columns
// tab-separated in groups (see checkProductModels for their order).
type weeklyWant struct {
	key, week, days, tiktok, amazon, ratios, run string
}

func tsv(fields ...string) string { return strings.Join(fields, "\t") }

const tsvNull = `\N` // NULL in TabSeparated

var noTikTok = tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull)

// weeklyAfterBuild1 is computed by hand from dailyBatch1.
func weeklyAfterBuild1(run1 string) []weeklyWant {
	return []weeklyWant{
		// glow W45: 11-02, 11-03 at version 2 and 11-08; 11-04 is deleted.
		// Search: the week 11-01..11-07 once (11-08's ends in W46). Sales
		// 60+100 = 160 on TikTok and 240+360+40 = 640 on Amazon, all USD.
		{pkGlow, "2026-11-02\t2026-W45", tsv("3", "2", "3"),
			tsv("4000", "3500.75", "40", "20", "400", "12", "6", "8", "USD", "200", "160"),
			tsv("2026-11-01", "2026-11-07", "5000", "200", "20", "1200", "900", "1300", "34", "31", "USD", "640"),
			tsv("8.5", "0.2", "0.8"), run1},
		// gtin W45: Amazon days in EUR, GBP and mixed: no Amazon amount, so no shares.
		{pkGTIN, "2026-11-02\t2026-W45", tsv("3", "1", "3"),
			tsv("400", "60", "4", "2", "40", "1", "1", "1", "USD", "20", "25"),
			tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, "4000", "100", "150", "9", "9", tsvNull, tsvNull),
			tsv("22.5", tsvNull, tsvNull), run1},
		// TikTok only: every Amazon figure and ratio stays NULL, not 0.
		{pkTikTokOnly, "2026-11-02\t2026-W45", tsv("1", "1", "0"),
			tsv("800", "40.5", "8", "4", "80", "2", tsvNull, tsvNull, "USD", "12.5", tsvNull),
			tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, tsvNull),
			tsv(tsvNull, tsvNull, tsvNull), run1},
		// Amazon only.
		{pkAmazonOnly, "2026-11-09\t2026-W46", tsv("2", "0", "2"), noTikTok,
			tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, "18000", "30", "37", "3", "3", "USD", "29.97"),
			tsv(tsvNull, tsvNull, tsvNull), run1},
		// glow W46: the search week 11-08..11-14 ends here. 90 / (90 + 210).
		{pkGlow, "2026-11-09\t2026-W46", tsv("1", "1", "1"),
			tsv("2000", "100", "20", "10", "200", "6", "3", "3", "USD", "80", "90"),
			tsv("2026-11-08", "2026-11-14", "7000", "300", "33", "1700", "200", "300", "10", "9", "USD", "210"),
			tsv("5", "0.3", "0.7"), run1},
		// Zero views: no units per 1,000 views; USD next to EUR: no shares.
		{pkGTIN, "2026-11-09\t2026-W46", tsv("1", "1", "1"),
			tsv("0", "0", "0", "0", "0", "0", "1", "2", "USD", "0", "30"),
			tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, "3500", "30", "40", "1", "1", "EUR", "15"),
			tsv(tsvNull, tsvNull, tsvNull), run1},
	}
}

// weeklyAfterBuild2 adds dailyBatch2: W46 and W47 are rebuilt by the second
// build, W45 (no change, ingested before the lookback) keeps the first's rows.
func weeklyAfterBuild2(run1, run2 string) []weeklyWant {
	want := weeklyAfterBuild1(run1)
	for i := range want {
		if want[i].week != "2026-11-02\t2026-W45" {
			want[i].run = run2
		}
	}
	// The Amazon-only product lost 11-10.
	want[3].days = tsv("1", "0", "1")
	want[3].amazon = tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, "18000", "20", "25", "2", "2", "USD", "19.98")
	// glow's 11-09 restated with 2500 views: 10 units per 2,500 views.
	want[4].tiktok = tsv("2500", "100", "20", "10", "200", "6", "3", "3", "USD", "80", "90")
	want[4].ratios = tsv("4", "0.3", "0.7")
	return append(want, weeklyWant{pkAmazonOnly, "2026-11-16\t2026-W47", tsv("1", "0", "1"), noTikTok,
		tsv(tsvNull, tsvNull, tsvNull, tsvNull, tsvNull, "15000", "5", "6", "1", "1", "USD", "9.99"),
		tsv(tsvNull, tsvNull, tsvNull), run2})
}

var crossChannelAfterBuild1 = dbtRows(
	tsv(pkGlow, "mapping_file", "['mapping_file']", "1", "1", "['amazon:ATVPDKIKX0DER:B0GLOW0001']",
		"['tiktok:7495001:1729384756000']", "[]", "false", "[]"),
	tsv(pkGTIN, "gtin", "['gtin']", "2", "1", "['amazon:A1F83G8C2ARO7P:B0GTIN0001','amazon:A1PA6795UKMFR9:B0GTIN0001']",
		"['tiktok:7495001:1729384756100']", "['00850001234567']", "false", "[]"),
)

var crossChannelAfterBuild2 = dbtRows(
	tsv(pkGlow, "mixed", "['gtin','mapping_file']", "1", "2", "['amazon:ATVPDKIKX0DER:B0GLOW0001']",
		"['tiktok:7495001:1729384756000','tiktok:7495001:1729384756002']", "['00850009999991']", "true", "['sku:GS-30']"),
	tsv(pkGTIN, "gtin", "['gtin']", "2", "1", "['amazon:A1F83G8C2ARO7P:B0GTIN0001','amazon:A1PA6795UKMFR9:B0GTIN0001']",
		"['tiktok:7495001:1729384756100']", "['00850001234567']", "false", "[]"),
)

// checkProductModels compares product_channel_weekly (ordered by week, then
// product) and cross_channel_products with what is wanted.
func checkProductModels(t *testing.T, baseURL string, weekly []weeklyWant, crossChannel string) {
	t.Helper()
	// 11 current days after either batch; 2026-11-03 at its version 2.
	dbtExpect(t, baseURL, `SELECT count(), countIf(product_key = 'glow-serum-30ml' AND date = '2026-11-04'),
		sumIf(tiktok_views, product_key = 'glow-serum-30ml' AND date = '2026-11-03') FROM analytics.stg_product_daily`,
		"11\t0\t3000")

	const from = " FROM analytics.product_channel_weekly ORDER BY week_start, product_key"
	groups := []struct {
		columns string
		field   func(weeklyWant) string
	}{
		{"days_reported, days_with_tiktok, days_with_amazon", func(w weeklyWant) string { return w.days }},
		{`tiktok_views, tiktok_watch_time_seconds, tiktok_saves, tiktok_shares, tiktok_likes, tiktok_comments,
			tiktok_orders, tiktok_units, tiktok_currency, tiktok_video_gmv, tiktok_gmv`, func(w weeklyWant) string { return w.tiktok }},
		{`amazon_search_period_start, amazon_search_period_end, amazon_search_impressions, amazon_search_clicks,
			amazon_search_purchases, amazon_best_sellers_rank_best, amazon_sessions, amazon_page_views, amazon_units,
			amazon_orders, amazon_currency, amazon_sales`, func(w weeklyWant) string { return w.amazon }},
		{"amazon_units_per_1k_tiktok_views, tiktok_sales_share, amazon_sales_share", func(w weeklyWant) string { return w.ratios }},
		{"dbt_invocation_id", func(w weeklyWant) string { return w.run }},
	}
	for _, g := range groups {
		lines := make([]string, len(weekly))
		for i, w := range weekly {
			lines[i] = tsv(w.key, w.week, g.field(w))
		}
		dbtExpect(t, baseURL, "SELECT product_key, week_start, iso_week, "+g.columns+from, dbtRows(lines...))
	}

	dbtExpect(t, baseURL, `SELECT product_key, match_rule, match_rules, amazon_listings, tiktok_skus,
		amazon_link_keys, tiktok_link_keys, gtin14s, has_conflict, conflicting_product_keys
		FROM analytics.cross_channel_products ORDER BY product_key`, crossChannel)
}
