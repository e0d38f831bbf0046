// Package superset_test imports the Superset bundle of deploy/superset into a
// fresh Superset (SQLite metadata) against a warehouse holding a known world
// and the dbt marts built on it, and checks every chart's data, read through
// Superset's API, against SQL over the same tables.
package superset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// The dashboard's charts and the SQL each must equal, columns in the
// chart's order. The time series and the pie leave the order of their rows
// to the database: those are compared sorted.
var unordered = map[string]bool{"TikTok attention per day": true, "Amazon demand per day": true, "Channel products per match rule": true}

var chartSQL = map[string]string{
	"TikTok attention per day": `SELECT toUnixTimestamp(toDateTime(toDate(date))) * 1000, sum(tiktok_views), sum(tiktok_saves), sum(tiktok_shares)
		FROM product_daily FINAL WHERE is_deleted = 0 GROUP BY 1 ORDER BY 1`,
	"Amazon demand per day": `SELECT toUnixTimestamp(toDateTime(toDate(date))) * 1000, sum(amazon_sessions), sum(amazon_units), min(amazon_best_sellers_rank_best)
		FROM product_daily FINAL WHERE is_deleted = 0 GROUP BY 1 ORDER BY 1`,
	"Both channels per product": `SELECT product_key, sum(tiktok_views) AS v, sum(tiktok_units), sum(amazon_sessions), sum(amazon_units)
		FROM product_daily FINAL WHERE is_deleted = 0 GROUP BY product_key ORDER BY v DESC LIMIT 1000`,
	"Halo ranking": `SELECT rank, product_key, halo_score, significant, best_outcome, best_lag_days, best_attention_metric, lift, p_value_adjusted
		FROM analytics.halo_ranking ORDER BY rank`,
	"Best lag per product and outcome": `SELECT product_key, outcome, grain, best_lag_days, strength, significant, lift
		FROM analytics.product_halo ORDER BY product_key, outcome`,
	"Channel products per match rule": `SELECT toString(match_rule), count() AS n FROM product_links FINAL WHERE is_deleted = 0
		GROUP BY 1 ORDER BY n DESC`,
}

func TestSupersetDashboard(t *testing.T) {
	venv := testenv.Require(t, testenv.SupersetVar, "Superset")
	dbt := testenv.Require(t, testenv.DbtVar, "dbt")
	start := time.Now()
	w, conn := pipelinetest.MigratedWarehouse(t, "default")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	for _, q := range knownWorld() {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%v\n%.300s", err, q)
		}
	}
	buildMarts(ctx, t, dbt, w.URL)
	t.Logf("warehouse with the known world and the marts: %s", time.Since(start).Round(time.Second))

	// A fresh Superset: metadata, admin, the bundle imported by the script users run.
	setupStart := time.Now()
	home := t.TempDir()
	script, err := filepath.Abs("superset.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SHOPSTREAM_SUPERSET_CLICKHOUSE_URI=clickhousedb://default:@"+w.Addr+"/default",
		"SUPERSET_ADMIN_PASSWORD=test-admin")
	run(ctx, t, env, script, "setup", venv, home)
	t.Logf("superset setup (metadata, admin, import): %s", time.Since(setupStart).Round(time.Second))

	addr := testenv.FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	server := exec.Command(script, "run", venv, home, port)
	server.Env = env
	logFile, err := os.Create(filepath.Join(home, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = server.Process.Kill()
		_ = server.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(home, "server.log"))
			t.Logf("superset log (tail):\n%s", tailLines(string(b), 60))
		}
	})
	api := &client{base: "http://" + addr}
	api.waitHealthy(ctx, t)
	api.login(ctx, t, "admin", "test-admin")

	// Every chart of the dashboard, by its data API, against SQL.
	var charts struct {
		Result []struct {
			ID        int    `json:"id"`
			SliceName string `json:"slice_name"`
		} `json:"result"`
	}
	api.get(ctx, t, "/api/v1/dashboard/shopstream/charts", &charts)
	var names []string
	for _, c := range charts.Result {
		names = append(names, c.SliceName)
		want, ok := chartSQL[c.SliceName]
		if !ok {
			t.Errorf("chart %q has no SQL to compare with in this test", c.SliceName)
			continue
		}
		var data struct {
			Result []struct {
				Colnames []string         `json:"colnames"`
				Data     []map[string]any `json:"data"`
				Error    string           `json:"error"`
			} `json:"result"`
		}
		api.get(ctx, t, fmt.Sprintf("/api/v1/chart/%d/data/", c.ID), &data)
		if len(data.Result) != 1 {
			t.Errorf("chart %q: %d results", c.SliceName, len(data.Result))
			continue
		}
		res := data.Result[0]
		got := make([][]any, len(res.Data))
		for i, row := range res.Data {
			for _, col := range res.Colnames {
				got[i] = append(got[i], row[col])
			}
		}
		wantRows := querySQL(ctx, t, w.URL, want)
		if unordered[c.SliceName] {
			sortRows(got)
			sortRows(wantRows)
		}
		if len(wantRows) == 0 {
			t.Errorf("chart %q: the known world gives it no rows to compare", c.SliceName)
		}
		if diff := compareRows(got, wantRows); diff != "" {
			t.Errorf("chart %q (columns %v): %s", c.SliceName, res.Colnames, diff)
		} else {
			t.Logf("chart %q: %d rows equal to SQL", c.SliceName, len(got))
		}
	}
	slices.Sort(names)
	var want []string
	for n := range chartSQL {
		want = append(want, n)
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the dashboard has charts %q, want %q", names, want)
	}
	t.Logf("superset test: %s in all", time.Since(start).Round(time.Second))
}

// knownWorld is the rows of the world: four products over four weeks on
// both channels, a restated day (two versions: FINAL keeps the second), a
// deleted day, days without one channel, and the identity links.
func knownWorld() []string {
	var daily []string
	for p, key := range []string{"glow-serum-30ml", "gtin:00850001234567", "sku:GS-TRAVEL", "tiktok:7495001:1729384756001"} {
		for d := range 28 {
			day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d)
			views := 1000 + 37*d + 400*p
			if d == 10 && p < 2 {
				views *= 12 // a spike
			}
			amazon := fmt.Sprintf("%d, %d, %d", 20000-100*d+p, 200+3*d+p*5+(d%7)*4, 10+d/3+p)
			if p == 3 { // TikTok only
				amazon = "NULL, NULL, NULL"
			}
			weekStart := day.AddDate(0, 0, -int(day.Weekday()))
			search := fmt.Sprintf("'%s', '%s', %d, %d, %d", weekStart.Format(time.DateOnly), weekStart.AddDate(0, 0, 6).Format(time.DateOnly),
				50000+1000*p+int(weekStart.Sub(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)).Hours()), 900+p, 90+p)
			row := func(version int, op string, views int) string {
				k := key + ":" + day.Format(time.DateOnly)
				return fmt.Sprintf("('%s:v%d', 'transform', 'product_daily', '%s', '2026-12-01 00:00:00', '2026-12-01 00:00:00', %d, '%s', '%s', 'UTC', '%s', "+
					"%d, %d, %d, %d, %d, %s, %s)", k, version, op, version, key, day.Format(time.DateOnly), k,
					views, views*9, views/80, views/200, 3+d%4, amazon, search)
			}
			daily = append(daily, row(1, "create", views))
			switch {
			case p == 0 && d == 5:
				daily = append(daily, row(2, "update", views+555)) // restated
			case p == 1 && d == 6:
				daily = append(daily, row(2, "delete", views)) // deleted
			}
		}
	}
	links := []string{
		"('l1', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'glow-serum-30ml', 'amazon', 'mapping_file', false, 'amazon:ATVPDKIKX0DER:B0GLOW0001')",
		"('l2', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'glow-serum-30ml', 'tiktok', 'mapping_file', false, 'tiktok:7495001:1729384756000')",
		"('l3', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'gtin:00850001234567', 'amazon', 'gtin', false, 'amazon:A1PA6795UKMFR9:B0GTIN0001')",
		"('l4', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'gtin:00850001234567', 'tiktok', 'gtin', false, 'tiktok:7495001:1729384756100')",
		"('l5', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'gtin:00850001234567', 'amazon', 'gtin', false, 'amazon:A1F83G8C2ARO7P:B0GTIN0001')",
		"('l6', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'sku:GS-TRAVEL', 'amazon', 'seller_sku', false, 'amazon:ATVPDKIKX0DER:B0TRAVEL01')",
		"('l7', 'transform', 'product_link', 'create', now64(3), now64(3), 1, 'tiktok:7495001:1729384756001', 'tiktok', 'unmatched', true, 'tiktok:7495001:1729384756001')",
		"('l8', 'transform', 'product_link', 'delete', now64(3), now64(3), 2, 'tiktok:7495001:1729384756001', 'tiktok', 'unmatched', true, 'tiktok:7495001:1729384756001')",
	}
	return []string{
		`INSERT INTO product_daily_changes (event_id, source, entity, op, source_ts, ingest_ts, version, product_key, date,
			date_time_zone, _key, tiktok_views, tiktok_watch_time_seconds, tiktok_saves, tiktok_shares, tiktok_units,
			amazon_best_sellers_rank_best, amazon_sessions, amazon_units, amazon_search_period_start, amazon_search_period_end,
			amazon_search_impressions, amazon_search_clicks, amazon_search_purchases) VALUES ` + strings.Join(daily, ",\n"),
		`INSERT INTO product_links_changes (event_id, source, entity, op, source_ts, ingest_ts, version, product_key, channel,
			match_rule, unmatched, _key) VALUES ` + strings.Join(links, ",\n"),
	}
}

// buildMarts runs the real dbt for the halo marts over the loader's tables.
func buildMarts(ctx context.Context, t *testing.T, dbt, warehouseURL string) {
	t.Helper()
	project, work := pipelinetest.DbtProject(t), t.TempDir()
	cmd := exec.CommandContext(ctx, dbt, "run", "--select", "+halo_ranking", "--project-dir", project, "--profiles-dir", project)
	cmd.Dir, cmd.Env = work, pipelinetest.DbtEnv(t, warehouseURL, "default", work)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dbt run: %v\n%s", err, out)
	}
}

func run(ctx context.Context, t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// client speaks Superset's REST API as the admin user.
type client struct {
	base, token string
}

func (c *client) waitHealthy(ctx context.Context, t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("superset not healthy after 5 minutes: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *client) login(ctx context.Context, t *testing.T, user, password string) {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	c.do(ctx, t, http.MethodPost, "/api/v1/security/login",
		map[string]any{"username": user, "password": password, "provider": "db", "refresh": false}, &out)
	if out.AccessToken == "" {
		t.Fatal("login gave no access token")
	}
	c.token = out.AccessToken
}

func (c *client) get(ctx context.Context, t *testing.T, path string, out any) {
	t.Helper()
	c.do(ctx, t, http.MethodGet, path, nil, out)
}

func (c *client) do(ctx context.Context, t *testing.T, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s %s: %v: %.300s", method, path, err, b)
	}
}

// querySQL runs q on the warehouse and returns its rows (JSON values,
// numbers as json.Number).
func querySQL(ctx context.Context, t *testing.T, base, q string) [][]any {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		base+"/?default_format=JSONCompact&output_format_json_quote_64bit_integers=0&output_format_json_quote_decimals=0", strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %v: %s", q, resp.Status, err, b)
	}
	var out struct {
		Data [][]any `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// compareRows says how got and want differ: row by row, numbers equal to
// 1e-9 relative, everything else as text.
func compareRows(got, want [][]any) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d rows, want %d (got %v, want %v)", len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return fmt.Sprintf("row %d has %d columns, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			if !sameValue(got[i][j], want[i][j]) {
				return fmt.Sprintf("row %d column %d: %v, want %v (row %v, want %v)", i, j, got[i][j], want[i][j], got[i], want[i])
			}
		}
	}
	return ""
}

func sameValue(a, b any) bool {
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum && bNum {
		return fa == fb || math.Abs(fa-fb) <= 1e-9*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func sortRows(rows [][]any) {
	slices.SortFunc(rows, func(a, b []any) int { return strings.Compare(fmt.Sprint(a...), fmt.Sprint(b...)) })
}

func head(rows [][]any) [][]any { return rows[:min(3, len(rows))] }

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
