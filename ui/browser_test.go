package ui_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/xuri/excelize/v2"

	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/ui"
)

// chromiumVar names the headless Chromium `make test` installs (make
// chromium); without it the test looks for chromium on the PATH.
const chromiumVar = "SHOPSTREAM_TEST_CHROMIUM"

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromiumVar); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return testenv.Require(t, chromiumVar, "headless Chromium (make chromium)")
}

// artifactsDir is where the screenshots go: $SHOPSTREAM_TEST_ARTIFACTS/ui,
// else .cache/test-artifacts/ui at the top of the repository.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SHOPSTREAM_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", ".cache", "test-artifacts")
	}
	dir, err := filepath.Abs(filepath.Join(dir, "ui"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPageInBrowser drives the analytics page in headless Chromium against
// a warehouse holding a known world, and checks what a person sees against
// SQL over the same tables: every figure of the products table and its
// totals, search by key, ASIN, SKU id, seller SKU and title, filters that
// try SQL injection, one product's days and charts (values at a day, the
// inverted rank axis, estimated days marked), the identity view (whose
// mapping lines, fed to the identity resolver, link the pair and settle
// the conflict), and the pipeline view. No console error, no request
// outside the page's origin, titles shown as text. Screenshots of every
// view are saved (see artifactsDir).
func TestPageInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wh, admin := startWorld(t, ctx)
	sql := oracle{t: t, url: wh.URL}
	sql.exec("INSERT INTO dead_letters (source_topic, source_partition, source_offset, key, value, error_class, reason, stage, dead_at) VALUES ('tiktok.orders', 0, 7, 'k', 'v', 'mapping', 'bad amount', 'load', '2026-03-20 10:00:00')")
	sql.exec("INSERT INTO amazon_orders_changes (event_id, source_ts, ingest_ts, version, amazon_order_id, marketplace_id, purchase_date) VALUES ('e1', '2026-03-20 10:00:00', '2026-03-20 10:00:01', 1, 'o1', 'ATVPDKIKX0DER', '2026-03-20 09:00:00'), ('e2', '2026-03-21 11:30:00', '2026-03-21 11:30:01', 1, 'o2', 'ATVPDKIKX0DER', '2026-03-21 11:00:00')")
	sql.exec(`INSERT INTO dbt_runs (run_id, started_at, finished_at, status, duration_seconds, waited_seconds, models_ok, models_failed, failed_models,
		tests_ok, tests_failed, failed_tests, skipped, error, command, dbt_invocation_id, schedule) VALUES
		('r1', '2026-03-28 01:00:00', '2026-03-28 01:02:05', 'success', 125, 3.5, 9, 0, [], 31, 0, [], 0, '', 'build', 'i1', '@daily'),
		('r2', '2026-03-29 01:00:00', '2026-03-29 01:01:10', 'failed', 70, 0, 7, 1, ['product_halo'], 20, 2, ['between_strength', 'unique_rank'], 1,
			'Database Error in model product_halo', 'build', 'i2', '@daily')`)
	linksBefore := sql.one("SELECT count() FROM product_links")

	conn, err := ui.Open(ctx, load.Warehouse{Addr: wh.Addr, Protocol: "http", Database: "default", User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	statusCfg, lagTopic := statusConfig(t, ctx)
	srv, err := ui.New(ui.Options{Warehouse: conn, Status: statusCfg, Models: martsDB})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	b := startBrowser(t, ctx, chromium, ts.URL)
	shots := artifactsDir(t)
	t.Logf("screenshots in %s", shots)

	period := "from=" + worldFrom + "&to=" + worldTo

	t.Run("products", func(t *testing.T) {
		b.open(t, "#/products?"+period, "products")
		b.screenshot(t, filepath.Join(shots, "products.png"))
		rows := b.rows(t, "products")
		want := sql.productsByKey(worldFrom, worldTo)
		if got := slices.Sorted(maps.Keys(rows)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("products listed %v, SQL has %v", got, slices.Sorted(maps.Keys(want)))
		}
		for key, cells := range rows {
			compareCells(t, key, cells, want[key])
		}
		// The totals above the table add up the rows.
		kpis := b.kpis(t)
		for _, col := range []string{"tiktok_views", "tiktok_orders", "tiktok_gmv", "amazon_search_impressions", "amazon_sessions", "amazon_orders", "amazon_sales"} {
			var sum float64
			for _, r := range want {
				if v, ok := r[col]; ok && v != nil {
					sum += *v
				}
			}
			compareValue(t, "total", col, kpis[col], &sum)
		}
		// The HTML-looking, formula-looking, non-ASCII title is text.
		if got := b.text(t, `[data-card=products] tr[data-key="`+keyOdd+`"] td[data-col=title] .t`); got != oddTitle {
			t.Errorf("odd title shown as %q, want %q", got, oddTitle)
		}
		if n := b.eval(t, `document.querySelectorAll("img[src=x]").length`); n != "0" {
			t.Errorf("a title became HTML: %s img elements", n)
		}
	})

	t.Run("another period", func(t *testing.T) {
		// One week: its search week counts, the others do not.
		b.open(t, "#/products?from=2026-03-08&to=2026-03-14", "products")
		rows := b.rows(t, "products")
		want := sql.productsByKey("2026-03-08", "2026-03-14")
		compareCells(t, keySerum, rows[keySerum], want[keySerum])
		compareCells(t, keyMat, rows[keyMat], want[keyMat])
	})

	t.Run("search", func(t *testing.T) {
		b.open(t, "#/products?"+period, "products")
		if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS("#q"), "bamboo")); err != nil {
			t.Fatal(err)
		}
		b.wait(t, "products", "q=bamboo")
		b.screenshot(t, filepath.Join(shots, "products-search.png"))
		for q, want := range map[string][]string{
			"bamboo":              {keyBrushAmazon, keyBrushTikTok},
			"B0TESTA002":          {keyMat},
			"7300000000000000111": {keySerum},
			"MAT-01":              {keyMat},
			"CAFÉ":                {keyOdd},
			`set\2×, 'paris`:      {keyOdd},
			"travel mug":          {keyMugAmazon, keyMugCeramic, keyMugSteel},
			keySerum:              {keySerum},
		} {
			b.open(t, "#/products?"+period+"&q="+url.QueryEscape(q), "products")
			slices.Sort(want)
			if got := slices.Sorted(maps.Keys(b.rows(t, "products"))); !slices.Equal(got, want) {
				t.Errorf("search %q found %v, want %v", q, got, want)
			}
		}
	})

	t.Run("injection", func(t *testing.T) {
		for _, q := range []string{
			`'); DROP TABLE product_links; --`,
			`' OR '1'='1`,
			`%' OR 1=1 --`,
			`{q:String}`,
			`\' OR 1=1 --`,
			"x') UNION ALL SELECT name FROM system.tables --",
			`%`,
		} {
			b.open(t, "#/products?"+period+"&q="+url.QueryEscape(q), "products")
			if rows := b.rows(t, "products"); len(rows) != 0 {
				t.Errorf("filter %q matched %d products; it is text, which no product has", q, len(rows))
			}
			if b.eval(t, `document.body.dataset.failed || ""`) != "" {
				t.Errorf("filter %q failed the page", q)
			}
		}
		if got := sql.one("SELECT count() FROM product_links"); got != linksBefore {
			t.Errorf("product_links has %s rows after the filters, %s before", got, linksBefore)
		}
	})

	t.Run("api", func(t *testing.T) {
		// The page's connection cannot write, whatever it is asked.
		for _, q := range []string{
			"INSERT INTO product_links (product_key) VALUES ('x')",
			"CREATE TABLE ui_probe (a UInt8) ENGINE = MergeTree ORDER BY a",
			"DROP TABLE product_links",
			"ALTER TABLE product_links DELETE WHERE 1",
		} {
			err := conn.Exec(ctx, q)
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || ex.Code != 164 {
				t.Errorf("%s through the page's connection: %v, want READONLY (164)", q, err)
			}
		}
		if conn.ReadOnly != "readonly=2 on every query" {
			t.Errorf("read-only mode %q", conn.ReadOnly)
		}
		get := func(path string) (int, string) {
			resp, err := http.Get(ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		for path, want := range map[string]int{
			"/api/data/products?from=2026-03-01%27+OR+%271%27%3D%271&to=2026-03-28": 400,
			"/api/data/products?from=2026-03-01&to=2026-03-28&limit=1000000":        400,
			"/api/data/identity_unmatched?side=amazon%27+OR+1%3D1":                  400,
			"/api/data/system.tables":                         404,
			"/api/data/..%2F..%2Fetc%2Fpasswd":                404,
			"/api/data/products;DROP%20TABLE%20product_links": 404,
		} {
			if code, body := get(path); code != want {
				t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
			}
		}
		// A filter is text: quotes, a backslash and a line break are
		// characters to find, not syntax.
		for q, want := range map[string]int{`Set\2×, 'Paris'`: 1, `Set\\2`: 0, `Set\2\n`: 0, "Set\n2": 0} {
			code, body := get("/api/data/products?from=" + worldFrom + "&to=" + worldTo + "&q=" + url.QueryEscape(q))
			var res struct{ Rows [][]any }
			if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil {
				t.Fatalf("search %q: %d %s", q, code, body)
			}
			if len(res.Rows) != want {
				t.Errorf("search %q found %d products, want %d", q, len(res.Rows), want)
			}
		}
	})

	t.Run("product", func(t *testing.T) {
		b.open(t, "#/products?"+period, "products")
		if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`tr[data-key="`+keySerum+`"]`))); err != nil {
			t.Fatal(err)
		}
		b.wait(t, "product", "key="+url.QueryEscape(keySerum))
		b.screenshot(t, filepath.Join(shots, "product.png"))
		days := b.rows(t, "product-days")
		want := sql.daysByDate(keySerum, worldFrom, worldTo)
		if len(days) != 28 || len(want) != 28 {
			t.Fatalf("product shows %d days, SQL has %d; want 28", len(days), len(want))
		}
		for date, cells := range days {
			compareCells(t, date, cells, want[date])
			estimated := sql.provenance(keySerum, date) != "measured"
			for _, col := range []string{"tiktok_views", "tiktok_watch_hours", "tiktok_saves", "tiktok_shares"} {
				if strings.HasPrefix(cells[col], "≈") != estimated {
					t.Errorf("%s %s %q: estimated attention is marked ≈, measured is not (provenance %s)", date, col, cells[col], sql.provenance(keySerum, date))
				}
			}
		}
		kpis := b.kpis(t)
		total := sql.productsByKey(worldFrom, worldTo)[keySerum]
		for _, col := range []string{"tiktok_views", "tiktok_gmv", "amazon_sales", "amazon_search_impressions"} {
			compareValue(t, "product total", col, kpis[col], total[col])
		}
		// The charts' legends read the figures of the day under the cursor.
		march10 := want["2026-03-10"]
		legend := b.legendAt(t, "tiktok-reach", "2026-03-10")
		compareValue(t, "legend 2026-03-10", "tiktok_views", legend["Views"], march10["tiktok_views"])
		compareValue(t, "legend 2026-03-10", "tiktok_watch_hours", legend["Watch time (h)"], march10["tiktok_watch_hours"])
		legend = b.legendAt(t, "amazon-bsr", "2026-03-10")
		compareValue(t, "legend 2026-03-10", "amazon_best_sellers_rank_best", legend["BSR (best)"], march10["amazon_best_sellers_rank_best"])
		legend = b.legendAt(t, "gmv", "2026-03-10")
		compareValue(t, "legend 2026-03-10", "tiktok_gmv", legend["TikTok GMV"], march10["tiktok_gmv"])
		compareValue(t, "legend 2026-03-10", "amazon_sales", legend["Amazon sales"], march10["amazon_sales"])
		// Best Sellers Rank: lower is better, so rank 1,000 is drawn above
		// rank 5,000.
		if got := b.eval(t, `(() => { const u = shopstream.charts["amazon-bsr"]; return String(u.valToPos(1000, "bsr") < u.valToPos(5000, "bsr")); })()`); got != "true" {
			t.Errorf("the BSR axis is not inverted: rank 1000 is not above rank 5000")
		}
		if got := b.eval(t, `(() => { const u = shopstream.charts["amazon-traffic"]; return String(u.valToPos(100, u.series[1].scale) > u.valToPos(200, u.series[1].scale)); })()`); got != "true" {
			t.Errorf("the sessions axis is inverted; only rank is")
		}
		if !strings.Contains(b.text(t, `[data-card="chart-tiktok-reach"] .legend-note`), "estimated") {
			t.Errorf("the TikTok chart does not say which days are estimated")
		}
		links := b.rows(t, "product-links")
		if len(links) != 2 {
			t.Errorf("the serum has %d channel products on the page, want 2", len(links))
		}
	})

	t.Run("identity", func(t *testing.T) {
		b.open(t, "#/identity", "identity")
		b.screenshot(t, filepath.Join(shots, "identity.png"))
		rules := b.rows(t, "identity-rules")
		want := sql.rows("SELECT match_rule, countIf(channel = 'amazon') AS amazon_products, countIf(channel = 'tiktok') AS tiktok_products, " +
			"count(DISTINCT product_key) AS product_keys, countIf(conflict_reason IS NOT NULL) AS in_conflict FROM product_links FINAL GROUP BY match_rule")
		if len(rules) != len(want) {
			t.Errorf("links per rule: %d rules shown, SQL has %d", len(rules), len(want))
		}
		for _, w := range want {
			rule := w["match_rule"].(string)
			compareCells(t, rule, rules[rule], numbers(w))
		}
		involved := sql.set("SELECT DISTINCT ifNull(l.asin, l.sku_id) FROM product_links AS l FINAL WHERE l.product_key IN " +
			"(SELECT arrayJoin(arrayPushFront(conflicting_product_keys, product_key)) FROM product_links FINAL WHERE conflict_reason IS NOT NULL)")
		if got := slices.Sorted(maps.Keys(b.rows(t, "identity-conflicts"))); !slices.Equal(got, involved) {
			t.Errorf("conflicts show %v, SQL says %v are involved", got, involved)
		}
		for _, side := range []string{"amazon", "tiktok"} {
			want := sql.set("SELECT ifNull(asin, sku_id) FROM product_links FINAL WHERE unmatched AND channel = '" + side + "'")
			if got := slices.Sorted(maps.Keys(b.rows(t, "unmatched-"+side))); !slices.Equal(got, want) {
				t.Errorf("unmatched on %s: page shows %v, SQL has %v", side, got, want)
			}
		}
		// The suggested lines form a mapping file the transform accepts,
		// and with it the resolver links what the page says belongs
		// together and settles the conflict.
		text := b.eval(t, `document.querySelector("textarea.mapping").value`)
		if got := b.eval(t, `decodeURIComponent(document.querySelector('[data-card="mapping-lines"] a[download]').href.split(",").slice(1).join(","))`); got != text+"\n" {
			t.Errorf("the mapping file download holds %q, the box %q", got, text)
		}
		mapping, err := identity.ParseMapping(strings.NewReader(text))
		if err != nil {
			t.Fatalf("the page's mapping lines are not a valid mapping file: %v\n%s", err, text)
		}
		r := identity.NewResolver(mapping)
		for source, items := range identityItems() {
			r.Put(source, items)
		}
		key := func(l link) identity.Link {
			got, ok := r.Link(identityRef(l))
			if !ok {
				t.Fatalf("no link for %s", l.id)
			}
			return got
		}
		byID := map[string]link{}
		for _, l := range worldLinks {
			byID[l.id] = l
		}
		brushA, brushT := key(byID["B0TESTA003"]), key(byID["7300000000000000333"])
		if brushA.ProductKey != brushT.ProductKey || brushA.Rule != identity.RuleMapping {
			t.Errorf("with the page's lines the toothbrush is %s (%s) on Amazon and %s on TikTok; want one mapped key", brushA.ProductKey, brushA.Rule, brushT.ProductKey)
		}
		steel, ceramic, mug := key(byID["7300000000000000444"]), key(byID["7300000000000000555"]), key(byID["B0TESTA004"])
		if steel.ProductKey != mug.ProductKey || steel.ProductKey == ceramic.ProductKey {
			t.Errorf("with the page's lines: steel mug %s, ceramic mug %s, Amazon steel mug %s; want the steel ones together, the ceramic apart", steel.ProductKey, ceramic.ProductKey, mug.ProductKey)
		}
		for _, l := range r.Links() {
			if l.ConflictReason != "" {
				t.Errorf("%s still in conflict with the page's lines: %s", l.Ref, l.ConflictReason)
			}
		}
		if serum := key(byID["B0TESTA001"]); serum.ProductKey != keySerum {
			t.Errorf("the page's lines moved the serum, which was linked, to %s", serum.ProductKey)
		}
	})

	t.Run("pipeline", func(t *testing.T) {
		b.open(t, "#/pipeline", "pipeline")
		b.screenshot(t, filepath.Join(shots, "pipeline.png"))
		tables := b.rows(t, "pipeline-tables")
		want := sql.rows("SELECT name FROM system.tables WHERE database = currentDatabase() AND endsWith(name, '_changes')")
		if len(tables) != len(want) {
			t.Errorf("pipeline shows %d raw change tables, the warehouse has %d", len(tables), len(want))
		}
		for _, w := range want {
			name := w["name"].(string)
			n, err := strconv.ParseFloat(sql.one("SELECT count() FROM "+name), 64)
			if err != nil {
				t.Fatal(err)
			}
			compareValue(t, name, "rows", tables[name]["rows"], &n)
		}
		if got := tables["amazon_orders_changes"]["newest_change"]; got != "2026-03-21 11:30:00 UTC" {
			t.Errorf("amazon_orders_changes newest change shown as %q", got)
		}
		dead := b.rows(t, "pipeline-dead_letters")
		if got := dead["tiktok.orders"]["open"]; got != sql.one("SELECT count() FROM dead_letters_open WHERE source_topic = 'tiktok.orders'") {
			t.Errorf("open dead letters of tiktok.orders shown as %q", got)
		}
		lags := b.rows(t, "pipeline-lags")
		if got := lags[lagTopic]["lag"]; got != "2" {
			t.Errorf("lag of %s shown as %q; the group committed 1 of 3 records", lagTopic, got)
		}
		if msg := b.text(t, `[data-card="pipeline-cursors"] .empty`); msg != "No cursor stored yet." {
			t.Errorf("without cursors the pipeline view says %q", msg)
		}
		for _, part := range []string{"cursors", "lags"} {
			if msg := b.text(t, `[data-card="pipeline-`+part+`"] .error`); msg != "" {
				t.Errorf("pipeline %s unavailable: %s", part, msg)
			}
		}
		// Scheduled dbt runs, newest first, with what failed.
		runs := b.rows(t, "dbt-runs")
		for _, w := range sql.rows("SELECT run_id, models_ok, models_failed, tests_ok, tests_failed, skipped, status, arrayStringConcat(failed_models, ', ') AS fm, arrayStringConcat(failed_tests, ', ') AS ft FROM dbt_runs") {
			id := w["run_id"].(string)
			compareCells(t, id, runs[id], numbers(w))
			if runs[id]["status"] != w["status"] || runs[id]["failed_models"] != w["fm"] || runs[id]["failed_tests"] != w["ft"] {
				t.Errorf("dbt run %s shown as %v, SQL has %v", id, runs[id], w)
			}
		}
		if first := b.eval(t, `document.querySelector('[data-card="dbt-runs"] tbody tr').dataset.key`); first != sql.one("SELECT run_id FROM dbt_runs ORDER BY started_at DESC LIMIT 1") {
			t.Errorf("the first dbt run shown is %s, not the newest", first)
		}
	})

	t.Run("halo without the mart", func(t *testing.T) {
		b.open(t, "#/halo", "halo")
		b.screenshot(t, filepath.Join(shots, "halo-missing.png"))
		if msg := b.text(t, `[data-card="halo"] .missing`); !strings.Contains(msg, "dbt build") {
			t.Errorf("without the halo mart the page says %q, not to run dbt", msg)
		}
	})

	t.Run("halo", func(t *testing.T) {
		writeHaloMarts(t, ctx, admin)
		// The page learns which tables exist when it loads.
		if err := chromedp.Do(b.ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		b.open(t, "#/halo", "halo")
		b.screenshot(t, filepath.Join(shots, "halo.png"))
		rows := b.rows(t, "halo")
		want := sql.rows("SELECT product_key, rank, halo_score, strength, p_value_adjusted FROM " + martsDB + ".halo_ranking")
		if len(rows) != len(want) {
			t.Fatalf("halo ranking shows %d products, the mart has %d", len(rows), len(want))
		}
		for _, w := range want {
			compareCells(t, w["product_key"].(string), rows[w["product_key"].(string)], numbers(w))
		}
		if got := rows[keySerum]["lift"]; got != "+24%" {
			t.Errorf("serum lift shown as %q, want +24%%", got)
		}

		b.open(t, "#/product?key="+url.QueryEscape(keySerum)+"&"+period, "product")
		b.screenshot(t, filepath.Join(shots, "product-halo.png"))
		// The strongest significant outcome's lag is the note's.
		top := sql.one("SELECT best_lag_days FROM " + martsDB + ".product_halo WHERE product_key = '" + keySerum + "' AND significant ORDER BY strength DESC LIMIT 1")
		if got := b.eval(t, `document.querySelector("[data-halo]").dataset.halo`); got != top {
			t.Errorf("halo note gives lag %s, the mart's strongest significant one is %s", got, top)
		}
		// Marks: the peak of each significant outcome's TikTok metric, and
		// the peak plus the lag on the outcome's chart.
		peak := func(col string) time.Time {
			return mustDate(sql.one("SELECT toString(argMax(date, " + col + ")) FROM product_daily FINAL WHERE product_key = '" + keySerum + "' AND date BETWEEN '" + worldFrom + "' AND '" + worldTo + "'"))
		}
		for chart, want := range map[string]string{
			"tiktok-reach":      peak("tiktok_views").Format(time.DateOnly),
			"amazon-traffic":    peak("tiktok_views").AddDate(0, 0, 3).Format(time.DateOnly),
			"tiktok-engagement": peak("tiktok_saves").Format(time.DateOnly),
			"amazon-bsr":        peak("tiktok_saves").AddDate(0, 0, 5).Format(time.DateOnly),
		} {
			if got := b.eval(t, `document.querySelector('[data-chart="`+chart+`"]').dataset.marks || ""`); !strings.Contains(got, `"day":"`+want+`"`) {
				t.Errorf("chart %s marks %s, want a mark on %s", chart, got, want)
			}
		}
		if got := b.eval(t, `document.querySelector('[data-chart="amazon-search"]').dataset.marks || ""`); got != "" {
			t.Errorf("search clicks have no significant halo, but their chart has marks %s", got)
		}
		outcomes := b.rows(t, "product-halo")
		for _, w := range sql.rows("SELECT outcome, strength, p_value_adjusted, spikes, n FROM " + martsDB + ".product_halo WHERE product_key = '" + keySerum + "'") {
			compareCells(t, w["outcome"].(string), outcomes[w["outcome"].(string)], numbers(w))
		}
		got := b.eval(t, `(() => { const u = shopstream.charts["halo-by-lag"]; u.setCursor({left: u.valToPos(3, "x"), top: 10});
			return [...u.root.querySelectorAll(".u-legend .u-series")].map(s => s.querySelector(".u-label").textContent + "=" + s.querySelector(".u-value").textContent).join(";"); })()`)
		corr := sql.one("SELECT correlation FROM " + martsDB + ".halo_by_lag WHERE product_key = '" + keySerum + "' AND outcome = 'amazon_sessions' AND attention_metric = 'tiktok_views' AND lag_days = 3")
		if !strings.Contains(got, "sessions="+corr) {
			t.Errorf("halo by lag at 3 days reads %s; the mart's sessions correlation is %s", got, corr)
		}
	})

	t.Run("downloads", func(t *testing.T) {
		// Every table and chart on every view offers CSV and XLSX, and
		// each answers with a file of the same data.
		hrefs := map[string]bool{}
		for _, v := range []struct{ hash, view string }{
			{"#/products?" + period, "products"}, {"#/product?key=" + url.QueryEscape(keySerum) + "&" + period, "product"},
			{"#/halo", "halo"}, {"#/identity", "identity"}, {"#/pipeline", "pipeline"},
		} {
			b.open(t, v.hash, v.view)
			var cards map[string][]string
			if err := json.Unmarshal([]byte(b.eval(t, `JSON.stringify(Object.fromEntries([...document.querySelectorAll("[data-card]")].map(c =>
				[c.dataset.card, [...c.querySelectorAll(".card-head a[download]")].map(a => a.href)])))`)), &cards); err != nil {
				t.Fatal(err)
			}
			for card, links := range cards {
				api := 0
				for _, l := range links {
					if strings.HasPrefix(l, ts.URL+"/api/") {
						hrefs[l] = true
						api++
					}
				}
				// The mapping file box offers its text as a file instead.
				if want := 2; card != "mapping-lines" && api != want {
					t.Errorf("%s: card %s has downloads %v, want CSV and XLSX", v.view, card, links)
				}
			}
		}
		for _, l := range slices.Sorted(maps.Keys(hrefs)) {
			resp, err := http.Get(l)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
				t.Errorf("GET %s: %d %s %.200s", l, resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
				continue
			}
			if strings.Contains(l, "format=csv") {
				if _, err := readCSV(body); err != nil {
					t.Errorf("%s: %v", l, err)
				}
				continue
			}
			if _, err := readXLSX(body); err != nil {
				t.Errorf("%s: %v", l, err)
			}
		}

		// The products download has every product, with the figures SQL
		// has (the page's row bound does not apply).
		get := func(path string) []byte {
			resp, err := http.Get(ts.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
			}
			return body
		}
		want := sql.productsByKey(worldFrom, worldTo)
		rows, err := readCSV(get("/api/data/products?q=&from=" + worldFrom + "&to=" + worldTo + "&format=csv"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want) {
			t.Errorf("products CSV has %d rows, SQL %d products", len(rows), len(want))
		}
		for _, r := range rows {
			for _, col := range []string{"tiktok_views", "tiktok_gmv", "amazon_sales", "amazon_search_impressions", "amazon_bsr_best"} {
				compareValue(t, "CSV "+r["product_key"], col, r[col], want[r["product_key"]][col])
			}
		}
		sheet, err := readXLSX(get("/api/data/product_days?key=" + url.QueryEscape(keySerum) + "&from=" + worldFrom + "&to=" + worldTo + "&format=xlsx"))
		if err != nil {
			t.Fatal(err)
		}
		days := sql.daysByDate(keySerum, worldFrom, worldTo)
		if len(sheet) != len(days) {
			t.Errorf("product days XLSX has %d rows, SQL %d days", len(sheet), len(days))
		}
		for _, r := range sheet {
			for _, col := range []string{"tiktok_views", "tiktok_gmv", "amazon_sessions", "amazon_best_sellers_rank_best"} {
				compareValue(t, "XLSX "+r["date"], col, r[col], days[r["date"]][col])
			}
		}
		tables, err := readCSV(get("/api/pipeline?part=tables&format=csv"))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range tables {
			if r["table"] == "amazon_orders_changes" {
				found = r["rows"] == "2" && r["newest_change"] == "2026-03-21 11:30:00"
			}
		}
		if !found {
			t.Errorf("the raw change tables download lacks amazon_orders_changes with 2 rows: %v", tables)
		}
	})

	b.checkClean(t, ts.URL)
	if got := sql.one("SELECT count() FROM product_links"); got != linksBefore {
		t.Errorf("product_links has %s rows after the test, %s before", got, linksBefore)
	}
}

// statusConfig points the pipeline view at the test's share of the Kafka
// broker and its schema registry (testenv.Kafka), with a cursors topic and a
// group of its own: the group has committed the first of the three records
// of its topic.
func statusConfig(t *testing.T, ctx context.Context) (*status.Config, string) {
	t.Helper()
	k := testenv.NewKafka(t)
	topic, group := k.CreateTopic(t, "ui-test-orders", 1, nil), k.Prefix+"ui-test-load"
	for i := range 3 {
		if err := k.Client.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1})
	if _, err := k.Admin.CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	return &status.Config{
		KafkaOpts:   k.ClientOpts(),
		Registry:    k.Registry,
		CursorTopic: k.Topic("ui-test-cursors"),
		Sources:     []string{"amazon"},
		Groups:      []string{group},
	}, topic
}

// browser is one headless Chromium tab on the page, recording the console
// and every request.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	console  []string
	requests []string
	dialogs  []string
}

func startBrowser(t *testing.T, ctx context.Context, chromium, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("hide-scrollbars", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	b := &browser{}
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, e.Request.URL)
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, e.Message)
		}
	}))
	t.Cleanup(cancel)
	b.ctx = bctx
	messages := chromedp.Console(bctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
				b.mu.Lock()
				b.console = append(b.console, m.String())
				b.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	return b
}

// open shows the page at hash and waits until view has loaded all of it.
func (b *browser) open(t *testing.T, hash, view string) {
	t.Helper()
	js := fmt.Sprintf(`location.hash = %q; true`, hash)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatal(err)
	}
	b.wait(t, view, strings.TrimPrefix(hash, "#/"+view))
}

// wait waits until the page shows view for a route whose hash contains
// part, loaded.
func (b *browser) wait(t *testing.T, view, part string) {
	t.Helper()
	cond := fmt.Sprintf(`document.body.dataset.ready === %q && location.hash.includes(%q) && document.body.dataset.route === location.hash`, view, part)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("view %s (%s) did not load: %v; page says %q", view, part, err, b.eval(t, `document.querySelector("#banner").textContent`))
	}
}

func (b *browser) eval(t *testing.T, js string) string {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return fmt.Sprint(v)
}

// text is the text of the first element sel matches, "" if none.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return b.eval(t, fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel))
}

// rows are the rows of the table in the card named card, by their
// data-key, each cell's text by its data-col.
func (b *browser) rows(t *testing.T, card string) map[string]map[string]string {
	t.Helper()
	js := fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('[data-card=%q] tbody tr[data-key]')].map(tr => [tr.dataset.key,
		Object.fromEntries([...tr.querySelectorAll("td[data-col]")].map(td => [td.dataset.col, td.textContent]))]))`, card)
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal([]byte(b.eval(t, js)), &pairs); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, p := range pairs {
		var key string
		cells := map[string]string{}
		if err := json.Unmarshal(p[0], &key); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(p[1], &cells); err != nil {
			t.Fatal(err)
		}
		out[key] = cells
	}
	return out
}

// kpis are the headline figures, by their data-kpi.
func (b *browser) kpis(t *testing.T) map[string]string {
	t.Helper()
	var out map[string]string
	js := `JSON.stringify(Object.fromEntries([...document.querySelectorAll("[data-kpi]")].map(k => [k.dataset.kpi, k.querySelector(".value").textContent])))`
	if err := json.Unmarshal([]byte(b.eval(t, js)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// legendAt puts the cursor of chart on date and returns its legend's
// values by series label.
func (b *browser) legendAt(t *testing.T, chart, date string) map[string]string {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const u = shopstream.charts[%q];
		const x = Date.parse(%q + "T00:00:00Z") / 1000;
		u.setCursor({left: u.valToPos(x, "x"), top: 10});
		return JSON.stringify(Object.fromEntries([...u.root.querySelectorAll(".u-legend .u-series")].map(s =>
			[s.querySelector(".u-label").textContent, s.querySelector(".u-value").textContent])));
	})()`, chart, date)
	var out map[string]string
	if err := json.Unmarshal([]byte(b.eval(t, js)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *browser) screenshot(t *testing.T, path string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkClean fails on console errors and warnings, dialogs, and requests
// that left the page's origin (the page must work offline).
func (b *browser) checkClean(t *testing.T, base string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		t.Errorf("console: %s", m)
	}
	for _, d := range b.dialogs {
		t.Errorf("the page opened a dialog: %s", d)
	}
	if len(b.requests) == 0 {
		t.Error("no request recorded: the check would not see one leave")
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, outside its origin", u)
		}
	}
}

// oracle answers SQL over the warehouse's HTTP interface, independently of
// the page (its own queries, another client).
type oracle struct {
	t   *testing.T
	url string
}

func (o oracle) do(q string) string {
	o.t.Helper()
	resp, err := http.Post(o.url+"/", "text/plain", strings.NewReader(q))
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		o.t.Fatalf("%s: %s", q, body)
	}
	return string(body)
}

func (o oracle) exec(q string) { o.do(q) }

func (o oracle) one(q string) string { return strings.TrimSpace(o.do(q)) }

// rows are q's rows, numbers as json.Number.
func (o oracle) rows(q string) []map[string]any {
	o.t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(o.do(q + " FORMAT JSONEachRow SETTINGS output_format_json_quote_64bit_integers = 0, output_format_json_quote_decimals = 0")))
	dec.UseNumber()
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			o.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// set is q's first column, sorted.
func (o oracle) set(q string) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(o.do(q)), "\n") {
		if line != "" {
			out = append(out, line)
		}
	}
	slices.Sort(out)
	return out
}

// productsByKey sums each product's figures over [from, to] (search
// figures once per Brand Analytics week within it), keyed by product.
func (o oracle) productsByKey(from, to string) map[string]map[string]*float64 {
	q := fmt.Sprintf(`SELECT k.product_key AS product_key, tiktok_views, tiktok_watch_hours, tiktok_saves, tiktok_shares, tiktok_orders, tiktok_gmv,
			amazon_sessions, amazon_units, amazon_orders, amazon_sales, amazon_bsr_best, amazon_search_impressions, amazon_search_clicks
		FROM (SELECT product_key FROM product_links FINAL UNION DISTINCT SELECT product_key FROM product_daily FINAL) AS k
		LEFT JOIN (
			SELECT product_key, sum(tiktok_views) AS tiktok_views, round(sum(tiktok_watch_time_seconds) / 3600, 1) AS tiktok_watch_hours,
				sum(tiktok_saves) AS tiktok_saves, sum(tiktok_shares) AS tiktok_shares, sum(tiktok_orders) AS tiktok_orders, sum(tiktok_gmv) AS tiktok_gmv,
				sum(amazon_sessions) AS amazon_sessions, sum(amazon_units) AS amazon_units, sum(amazon_orders) AS amazon_orders,
				sum(amazon_sales) AS amazon_sales, min(amazon_best_sellers_rank_best) AS amazon_bsr_best
			FROM product_daily FINAL WHERE date >= '%[1]s' AND date <= '%[2]s' GROUP BY product_key) AS d ON d.product_key = k.product_key
		LEFT JOIN (
			SELECT product_key, sum(amazon_search_impressions) AS amazon_search_impressions, sum(amazon_search_clicks) AS amazon_search_clicks
			FROM (SELECT DISTINCT product_key, amazon_search_period_start, amazon_search_period_end, amazon_search_impressions, amazon_search_clicks
				FROM product_daily FINAL WHERE amazon_search_period_start >= '%[1]s' AND amazon_search_period_end <= '%[2]s')
			GROUP BY product_key) AS s ON s.product_key = k.product_key
		SETTINGS join_use_nulls = 1`, from, to)
	out := map[string]map[string]*float64{}
	for _, r := range o.rows(q) {
		out[r["product_key"].(string)] = numbers(r)
	}
	return out
}

// daysByDate is one product's days, keyed by date.
func (o oracle) daysByDate(key, from, to string) map[string]map[string]*float64 {
	q := fmt.Sprintf(`SELECT toString(date) AS date, tiktok_views, round(tiktok_watch_time_seconds / 3600, 1) AS tiktok_watch_hours, tiktok_saves, tiktok_shares,
			tiktok_product_impressions, tiktok_product_clicks, tiktok_orders, tiktok_units, tiktok_gmv, amazon_search_impressions, amazon_search_clicks,
			amazon_sessions, amazon_page_views, amazon_units, amazon_orders, amazon_sales, amazon_best_sellers_rank_best
		FROM product_daily FINAL WHERE product_key = '%s' AND date BETWEEN '%s' AND '%s'`, key, from, to)
	out := map[string]map[string]*float64{}
	for _, r := range o.rows(q) {
		out[r["date"].(string)] = numbers(r)
	}
	return out
}

func (o oracle) provenance(key, date string) string {
	return o.one(fmt.Sprintf("SELECT tiktok_attention_provenance FROM product_daily FINAL WHERE product_key = '%s' AND date = '%s'", key, date))
}

// numbers are r's numeric values (nil for NULL).
func numbers(r map[string]any) map[string]*float64 {
	out := map[string]*float64{}
	for k, v := range r {
		switch n := v.(type) {
		case nil:
			out[k] = nil
		case json.Number:
			f, err := n.Float64()
			if err != nil {
				panic(err)
			}
			out[k] = &f
		}
	}
	return out
}

// decimalsShown are the digits the page shows after the point; money
// columns show cents, the rest whole numbers.
var decimalsShown = map[string]int{"tiktok_watch_hours": 1, "tiktok_gmv": 2, "amazon_sales": 2}

// compareCells checks every numeric cell of a row against SQL.
func compareCells(t *testing.T, row string, cells map[string]string, want map[string]*float64) {
	t.Helper()
	if cells == nil {
		t.Errorf("%s: not on the page", row)
		return
	}
	for col, w := range want {
		shown, ok := cells[col]
		if !ok {
			continue
		}
		compareValue(t, row, col, shown, w)
	}
}

// compareValue checks that shown (as the page formats it: grouping
// commas, a currency symbol, ≈ for estimates, – for none) is want rounded
// to the digits the page shows.
func compareValue(t *testing.T, row, col, shown string, want *float64) {
	t.Helper()
	got, isNull := parseShown(shown)
	switch {
	case want == nil && isNull:
	case want == nil || isNull:
		t.Errorf("%s %s: page shows %q, SQL has %v", row, col, shown, deref(want))
	default:
		scale := math.Pow(10, float64(decimalsShown[col]))
		if math.Round(*want*scale) != math.Round(got*scale) {
			t.Errorf("%s %s: page shows %q, SQL has %v", row, col, shown, *want)
		}
	}
}

func deref(f *float64) any {
	if f == nil {
		return "NULL"
	}
	return *f
}

// parseShown reads a figure as the page shows it.
func parseShown(s string) (float64, bool) {
	s = strings.TrimSpace(strings.NewReplacer("≈", "", "$", "", ",", "", " ", "").Replace(s))
	if s == "–" || s == "" {
		return 0, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN(), false
	}
	return f, false
}

// readCSV reads a downloaded CSV (UTF-8 with a byte order mark, RFC 4180)
// into rows by column name.
func readCSV(b []byte) ([]map[string]string, error) {
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		return nil, errors.New("no UTF-8 byte order mark (Excel needs it for non-ASCII text)")
	}
	recs, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		return nil, err
	}
	return byHeader(recs)
}

// readXLSX reads the first sheet of a downloaded workbook into rows by
// column name, each cell as the spreadsheet shows it.
func readXLSX(b []byte) ([]map[string]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		return nil, err
	}
	return byHeader(recs)
}

func byHeader(recs [][]string) ([]map[string]string, error) {
	if len(recs) == 0 || len(recs[0]) == 0 {
		return nil, errors.New("no header row")
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		r := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				r[h] = rec[i]
			}
		}
		out = append(out, r)
	}
	return out, nil
}
