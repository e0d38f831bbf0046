package warehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
)

// TestDbtProject runs the real dbt (dbt-core + dbt-clickhouse over HTTP, from the
// Makefile's virtual environment) on the project in dbt/ against a fresh
// warehouse: `dbt debug`, then `dbt build` twice, with new source rows in
// between so that the second build runs the incremental model incrementally.
// It checks the models' contents in the warehouse after each build.
func TestDbtProject(t *testing.T) {
	dbt := testenv.Require(t, testenv.DbtVar, "dbt")
	w := startWarehouse(t)
	d := newDbtRunner(t, dbt, w.URL)

	dbtExec(t, w.URL, "CREATE DATABASE raw")
	migrateRaw(t, w.Addr)
	insertRawOrders(t, w.URL, firstBatch)

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

	// Second batch: a new version of o1, a new order o5, a late lower version
	// of o3 (it must not win over v2) and a replay of o2-v1 (it must not count).
	insertRawOrders(t, w.URL, secondBatch)
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
	// Money stays decimal all the way through.
	dbtExpect(t, w.URL, `SELECT table, type FROM system.columns WHERE database = 'analytics'
		AND name IN ('order_total_amount', 'sales') ORDER BY table, name`, dbtRows(
		"amazon_sales_daily\tNullable(Decimal(38, 4))",
		"stg_amazon_order_changes\tNullable(Decimal(18, 4))",
		"stg_amazon_orders\tNullable(Decimal(18, 4))",
	))
	// No intermediate relation (backup, new-data, exchange probe) is left
	// behind (raw holds the loader's tables).
	dbtExpect(t, w.URL, `SELECT database, name FROM system.tables
		WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema', 'raw') ORDER BY database, name`, dbtRows(
		"analytics\tamazon_marketplaces",
		"analytics\tamazon_sales_daily",
		"analytics\tstg_amazon_order_changes",
		"analytics\tstg_amazon_orders",
	))
	dbtExpect(t, w.URL, "SELECT count() FROM system.tables WHERE database = 'raw' AND name = 'amazon_orders_changes'", "1")
}

// migrateRaw creates the loader's tables in the database raw with the
// loader's own migrations, so the models are tested against the real raw
// change tables (amazon_orders_changes).
func migrateRaw(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := load.Open(ctx, load.Warehouse{Addr: addr, Protocol: "http", Database: "raw", User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
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

func newDbtRunner(t *testing.T, bin, baseURL string) *dbtRunner {
	t.Helper()
	projectDir, err := filepath.Abs(filepath.Join("..", "..", "dbt"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	d := &dbtRunner{
		bin:        bin,
		projectDir: projectDir,
		targetDir:  filepath.Join(tmp, "target"),
		logDir:     filepath.Join(tmp, "logs"),
		workDir:    tmp,
	}
	// The caller's DBT_* variables (a profile, a real server) must not leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBT_") {
			d.env = append(d.env, kv)
		}
	}
	d.env = append(d.env,
		"DBT_CLICKHOUSE_HOST="+u.Hostname(),
		"DBT_CLICKHOUSE_PORT="+u.Port(),
		"DBT_CLICKHOUSE_SCHEMA=analytics",
		"DBT_CLICKHOUSE_RAW_SCHEMA=raw",
		"DBT_TARGET_PATH="+d.targetDir,
		"DBT_LOG_PATH="+d.logDir,
		"DBT_SEND_ANONYMOUS_USAGE_STATS=false",
		"DBT_USE_COLORS=false",
	)
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
	return d
}

// run runs `dbt <command>`, fails the test unless it exits 0, and returns the
// invocation id from run_results.json (empty for commands that write none).
func (d *dbtRunner) run(t *testing.T, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_ = os.Remove(filepath.Join(d.targetDir, "run_results.json"))
	cmd := exec.CommandContext(ctx, d.bin, command, "--project-dir", d.projectDir, "--profiles-dir", d.projectDir)
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
	b, err := os.ReadFile(filepath.Join(d.targetDir, "run_results.json"))
	if err != nil {
		t.Fatalf("dbt %s wrote no run results: %v\n%s", command, err, out.String())
	}
	var results struct {
		Metadata struct {
			InvocationID string `json:"invocation_id"`
		} `json:"metadata"`
		Results []struct {
			UniqueID string `json:"unique_id"`
			Status   string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &results); err != nil {
		t.Fatalf("read run_results.json: %v", err)
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
		"test.shopstream.assert_orders_at_latest_version",
	} {
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
