package export

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
)

// runCLI runs `shopstream export` against the world's warehouse.
func (w *world) runCLI(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), append([]string{"export"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), w.wh.Env()...), "SHOPSTREAM_LOG_FORMAT=console")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestExportCommand runs the binary as a person would: a table filtered by
// dates and products, a query with parameters (a list given as a,b) and a
// query file become the sheets of one workbook, in order, with the names
// given; a dbt model goes to CSV. Every cell equals SQL over the same data.
func TestExportCommand(t *testing.T) {
	w := newWorld(t)
	w.loadFixture(t)
	w.loadProductDaily(t)
	w.exec(t, "CREATE DATABASE analytics",
		"CREATE VIEW analytics.product_totals AS SELECT product_key, sum(tiktok_views) AS views, sum(amazon_sales) AS amazon_sales, any(amazon_currency) AS amazon_currency FROM product_daily FINAL GROUP BY product_key ORDER BY product_key")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "by id.sql"), []byte("SELECT * FROM fixture WHERE id IN {ids:Array(UInt32)} ORDER BY id;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	query := `SELECT product_key, count() AS days, sum(amazon_units) AS units FROM product_daily FINAL
		WHERE date BETWEEN {from:Date} AND {to:Date} AND product_key IN {keys:Array(String)} GROUP BY product_key ORDER BY product_key`
	out, err := w.runCLI(t, dir,
		"--sheet", "Daily", "--table", "product_daily", "--from", "2026-10-01", "--to", "2026-10-10",
		"--products", "gtin:00012345678912,tiktok:7495001:1729384756",
		"--sheet", "Units", "--query", query, "--param", "keys=gtin:00012345678905, gtin:00012345678912",
		"--query-file", "by id.sql", "--param", "ids=1,4,6",
		"-o", "book.xlsx")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "export written") {
		t.Errorf("no summary line:\n%s", out)
	}
	book := readXLSX(t, filepath.Join(dir, "book.xlsx"))
	var names []string
	for _, sh := range book.Sheets {
		names = append(names, sh.Name)
	}
	if strings.Join(names, "|") != "Daily|Units|by id" {
		t.Fatalf("sheets %q", names)
	}
	checkXLSXSheet(t, book.Sheets[0], w.sql(t, productDailyOracle, map[string]string{"from": "2026-10-01", "to": "2026-10-10",
		"products": "['gtin:00012345678912','tiktok:7495001:1729384756']"}))
	checkXLSXSheet(t, book.Sheets[1], w.sql(t, query, map[string]string{"from": "2026-10-01", "to": "2026-10-10",
		"keys": "['gtin:00012345678905','gtin:00012345678912']"}))
	checkXLSXSheet(t, book.Sheets[2], w.sql(t, "SELECT * FROM fixture WHERE id IN (1, 4, 6) ORDER BY id", nil))

	if out, err := w.runCLI(t, dir, "--model", "product_totals", "-o", "totals.csv"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkCSV(t, readCSV(t, filepath.Join(dir, "totals.csv")), w.sql(t, "SELECT * FROM analytics.product_totals", nil))
	// An injection attempt through a parameter is a value that matches no
	// product: the query keeps its meaning and finds nothing.
	if out, err := w.runCLI(t, dir, "--query", query, "--from", "2026-10-01", "--to", "2026-10-10",
		"--param", "keys=x') OR 1=1 --", "-o", "none.csv"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if recs := readCSV(t, filepath.Join(dir, "none.csv")); len(recs) != 1 {
		t.Errorf("a parameter changed the query: %d records", len(recs))
	}
}

// TestExportCommandErrors: bad input gets a clear error, and no file (not
// even a partial one) is left where the output was to go.
func TestExportCommandErrors(t *testing.T) {
	w := newWorld(t)
	w.loadFixture(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--table", "nope", "-o", "x.xlsx"}, "no table or view nope"},
		{[]string{"--query", "SELECT {n:UInt8}", "-o", "x.xlsx"}, "no value for {n:UInt8}: give --param n=VALUE"},
		{[]string{"--query", "SELECT 1", "--param", "typo=1", "-o", "x.xlsx"}, "--param typo: no query has a {typo:Type} placeholder"},
		{[]string{"--table", "fixture", "--query", "SELECT 1", "-o", "x.csv"}, "a CSV file holds one result, not 2"},
		{[]string{"--table", "fixture", "--from", "2026-13-01", "-o", "x.xlsx"}, `from date "2026-13-01" is not YYYY-MM-DD`},
		{[]string{"--table", "fixture", "--from", "2026-10-01", "-o", "x.xlsx"}, `has no date column "date" for --from/--to; its date columns: day, day_opt, at, at_s`},
		{[]string{"--table", "fixture", "--products", "a", "-o", "x.xlsx"}, "has no product_key column"},
		{[]string{"--table", "fixture", "-o", "x.ods"}, "the extension says no format"},
		{[]string{"--table", "fixture", "--sheet", "dangling", "-o", "x.xlsx"}, `--sheet "dangling" names no source`},
		{[]string{"-o", "x.xlsx"}, "nothing to export"},
		{[]string{"--query", "SELEC 1", "-o", "x.xlsx"}, "Syntax error"},
		{[]string{"--query", "SELECT number, throwIf(number = 50000, 'boom') FROM numbers(100000)", "-o", "x.csv"}, "boom"},
		{[]string{"--query", "SELECT {n:Array(String)}", "--param", "n=['x') OR 1=1 --']", "-o", "x.xlsx"}, "cannot be parsed as Array(String)"},
	} {
		out, err := w.runCLI(t, dir, tc.args...)
		if err == nil || !strings.Contains(out, tc.want) {
			t.Errorf("export %q: %v, want an error saying %q:\n%s", tc.args, err, tc.want, out)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			t.Errorf("export %q left %s behind", tc.args, e.Name())
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
