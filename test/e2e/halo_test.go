package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/transform/stream"
)

// haloWorld is one demo world the halo test runs through the pipeline.
type haloWorld struct {
	name string
	demo sim.Demo
	// now is the fixed instant the world is read at (its manual clock's
	// start): the backfill reads everything published before it.
	now time.Time
	// withoutOrders leaves both channels' orders out of the backfill (the
	// halo compares attention with Sales & Traffic and Brand Analytics;
	// orders are nine in ten of the records).
	withoutOrders bool
}

// haloDemo is `make run`'s world (sources.sim defaults: seed 1, nine weeks,
// six planted products, four spike controls) with Amazon's published rate
// limits, which cost nothing on the manual clock.
var haloDemo = haloWorld{name: "demo",
	demo: sim.Demo{Seed: 1, HistoryWeeks: 9, Planted: 6, SpikeControls: 4, RateScale: 1},
	now:  time.Date(2026, 12, 2, 20, 0, 0, 0, mustZone(simworld.DefaultAmazonZone))}

// haloFullVar selects TestHaloEndToEnd, which `make test-halo` runs (some
// five minutes on two cores); `make test` runs TestHaloEndToEndShort.
const haloFullVar = "SHOPSTREAM_TEST_HALO"

func mustZone(name string) *time.Location {
	z, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return z
}

// TestHaloEndToEnd runs the demo world with its planted halo through the
// whole pipeline: the marketplace simulators on a manual clock, the three
// ingest stages backfilling its history into a real Kafka broker, then
// `shopstream run` (transform and loader, embedded warehouse) as a process,
// then `shopstream dbt` building the halo marts. The mart must find, for
// every planted product, a significant halo at the planted lag (±1 day) on
// the product keys of its variants, and call at least 90% of the control
// products (spike controls included) insignificant. Deterministic: fixed
// seed, fixed clock. It runs in `make test-halo` (.ci/run calls it).
func TestHaloEndToEnd(t *testing.T) {
	if os.Getenv(haloFullVar) != "1" {
		t.Skipf("the whole demo world takes minutes: make test-halo runs it (%s=1); make test runs TestHaloEndToEndShort", haloFullVar)
	}
	runHalo(t, haloDemo)
}

// TestHaloEndToEndShort is TestHaloEndToEnd on the same world without the
// orders of either channel, which the halo does not read: the same planted
// truth, the same checks, a tenth of the records.
func TestHaloEndToEndShort(t *testing.T) {
	short := haloDemo
	short.name, short.withoutOrders = "demo without orders", true
	runHalo(t, short)
}

func runHalo(t *testing.T, hw haloWorld) {
	brokers := testenv.KafkaBrokers(t)
	bin := testenv.Binary(t)
	dbt := testenv.Require(t, testenv.DbtVar, "dbt")
	project, err := filepath.Abs(filepath.Join("..", "..", "dbt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	began := time.Now()
	phase := func(what string) {
		t.Logf("halo %s: %s done at %s", hw.name, what, time.Since(began).Round(time.Second))
	}

	clock := simworld.NewManualClock(hw.now)
	opts, err := hw.demo.Options(hw.now, clock)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := sim.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sm.Close() })
	truth := sm.World().Truth().Halo()
	if len(truth.Planted) != hw.demo.Planted {
		t.Fatalf("the world planted %d halos, want %d", len(truth.Planted), hw.demo.Planted)
	}

	// `shopstream run` without sources: the transform and the loader on the
	// real broker (topics under a prefix of this test), its own registry
	// and warehouse. The ingest stages run here, on the manual clock.
	prefix := fmt.Sprintf("halo%d.", time.Now().UnixNano())
	dir := haloDir(t)
	run := startHaloRun(t, bin, dir, strings.Join(brokers, ","), prefix)

	_, serde := testenv.SerdeAt(t, ctx, "http://"+run.registry)
	k := stage.Kafka{ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Serde: serde, Prefix: prefix}
	backfillDemo(t, ctx, sm, clock, k, hw.now, hw.withoutOrders)
	phase(fmt.Sprintf("ingest (simulated clock moved %s)", clock.Now().Sub(hw.now).Round(time.Minute)))

	// The transform has read every input, then the loader (which
	// `shopstream dbt` waits for) everything the transform wrote.
	waitTransformed(t, ctx, brokers, prefix)
	phase("transform")
	out := runDbt(t, ctx, bin, run, dbt, project, strings.Join(brokers, ","), prefix)
	phase("load and dbt: " + strings.TrimSpace(out))

	checkSearchWeekly(t, ctx, run.warehouse)
	checkNoEmptyRows(t, ctx, run.warehouse, sm.World().Start())
	planted := checkHalo(t, ctx, run.warehouse, truth)
	checkFirstLook(t, ctx, run.warehouse, planted)
	phase("checks")
}

// haloKeepVar names a directory the halo tests keep their data directory
// in (the warehouse under <dir>/data/warehouse), for looking at the demo
// world's tables afterwards with `shopstream warehouse --data`; unset, the
// test's own temporary directory is used and removed.
const haloKeepVar = "SHOPSTREAM_TEST_HALO_KEEP"

func haloDir(t *testing.T) string {
	dir := os.Getenv(haloKeepVar)
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("halo: keeping the data directory in %s (%s)", dir, haloKeepVar)
	return dir
}

// haloRun is the `shopstream run` process of the test.
type haloRun struct {
	proc                                 *pipelinetest.Process
	dataDir                              string
	warehouse, native, registry, metrics string
}

func startHaloRun(t *testing.T, bin, dir, brokers, prefix string) haloRun {
	t.Helper()
	r := haloRun{dataDir: filepath.Join(dir, "data"), warehouse: testenv.FreeAddr(t), native: testenv.FreeAddr(t), registry: testenv.FreeAddr(t), metrics: testenv.FreeAddr(t)}
	env := append(r.env(brokers, prefix),
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN="+r.registry, "SHOPSTREAM_METRICS_LISTEN="+r.metrics,
		"SHOPSTREAM_TRANSFORM_TOPIC_PREFIX="+prefix, "SHOPSTREAM_TRANSFORM_GROUP="+prefix+"transform",
		"SHOPSTREAM_TRANSFORM_TRANSACTIONAL_ID="+prefix+"transform-0")
	r.proc = pipelinetest.StartProcess(t, "run", bin, dir, []string{"run"}, env)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := r.proc.WaitForOutput(ctx, "all components healthy"); err != nil {
		t.Fatal(err)
	}
	return r
}

// env is what run and the dbt command share: the data directory, the
// warehouse, the broker and the loader's group.
func (r haloRun) env(brokers, prefix string) []string {
	return []string{"SHOPSTREAM_DATA_DIR=" + r.dataDir, "SHOPSTREAM_WAREHOUSE_LISTEN=" + r.warehouse, "SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + r.native,
		"SHOPSTREAM_KAFKA_BROKERS=" + brokers, "SHOPSTREAM_LOAD_TOPIC_PREFIX=" + prefix, "SHOPSTREAM_LOAD_GROUP=" + prefix + "load"}
}

// backfillDemo backfills each source of the simulated world up to now, one
// after the other, with the production clients and stages on the
// simulator's manual clock: sleeps (rate limits, report polls) move
// simulated time instead of waiting.
func backfillDemo(t *testing.T, ctx context.Context, sm *sim.Sim, clock *simworld.ManualClock, k stage.Kafka, now time.Time, withoutOrders bool) {
	t.Helper()
	d := sm.Description()
	cfg := sm.World().Config()
	since := d.WorldStart
	var log bytes.Buffer
	defer func() {
		if t.Failed() {
			t.Logf("backfill:\n%s", tail(log.String(), 8<<10))
		}
	}()
	var disable []string
	if withoutOrders {
		disable = []string{"orders"}
	}
	var took []string
	backfill := func(source string, st stage.Stepper) {
		t.Helper()
		defer st.Close()
		began := time.Now()
		if err := stage.Backfill(ctx, st, stage.BackfillConfig{Since: since, Until: now, Out: &log, Now: clock.Now}); err != nil {
			t.Fatal(err)
		}
		took = append(took, fmt.Sprintf("%s %s", source, time.Since(began).Round(time.Second)))
	}

	// The Business API first: its one snapshot is taken at now exactly.
	bc := d.TikTokBusiness.Credentials
	biz, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: d.TikTokBusiness.BaseURL, BusinessID: bc.BusinessID,
		AccessToken: secret.Secret(bc.AccessToken), RefreshToken: secret.Secret(bc.RefreshToken),
		ClientID: bc.ClientID, ClientSecret: secret.Secret(bc.ClientSecret), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	bst, err := stage.OpenTikTokBusiness(ctx, stage.BusinessConfig{Kafka: k, Client: biz, BusinessID: bc.BusinessID, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	backfill("tiktokbiz", bst)

	sc := d.TikTokShop.Credentials
	shop, err := tiktokshop.New(tiktokshop.Config{APIBaseURL: d.TikTokShop.APIBaseURL, AuthBaseURL: d.TikTokShop.AuthBaseURL,
		AppKey: sc.AppKey, AppSecret: secret.Secret(sc.AppSecret), AuthCode: secret.Secret(sc.AuthCode), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	sst, err := stage.OpenTikTokShop(ctx, stage.ShopConfig{Kafka: k, Client: shop, Since: since, Until: now, Zone: cfg.ShopZone, Disable: disable, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	backfill("tiktokshop", sst)

	ac := d.Amazon.Credentials
	amz, err := amazon.NewClient(amazon.Config{Endpoint: d.Amazon.Endpoint, TokenURL: d.Amazon.TokenURL,
		Credentials:   amazon.Credentials{ClientID: ac.ClientID, ClientSecret: secret.Secret(ac.ClientSecret), RefreshToken: secret.Secret(ac.RefreshToken)},
		MarketplaceID: d.MarketplaceID, ReportZone: cfg.AmazonZone, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	var asins []string
	for _, e := range sm.World().Truth().Catalog() {
		asins = append(asins, e.ASIN)
	}
	ast, err := stage.OpenAmazon(ctx, stage.AmazonConfig{Kafka: k, Client: amz, Since: since, Until: now, ASINs: asins, Disable: disable, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	backfill("amazon", ast)
	t.Logf("backfill (wall %s): %s", strings.Join(took, ", "), testenv.Grep(log.String(), "backfill done"))
}

// waitTransformed waits until the transform's group has committed every
// record of every input topic that has records.
func waitTransformed(t *testing.T, ctx context.Context, brokers []string, prefix string) {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	inputs := map[string]bool{}
	for _, tp := range stream.Topics() {
		inputs[prefix+tp] = true
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last string
	for {
		lags, err := status.Lags(ctx, opts, prefix+"transform")
		if err == nil {
			seen, behind := 0, int64(0)
			var b strings.Builder
			for _, l := range lags {
				if inputs[l.Topic] {
					seen++
					behind += l.Lag
					fmt.Fprintf(&b, " %s=%d", strings.TrimPrefix(l.Topic, prefix), l.Lag)
				}
			}
			last = b.String()
			// Every input topic is assigned to the running group; a topic
			// nobody wrote to is empty and has no lag.
			if seen == len(inputs) && behind == 0 {
				return
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the transform did not catch up: %s", last)
		case <-tick.C:
		}
	}
}

// runDbt runs `shopstream dbt` (it waits for the loader to catch up) with
// the halo marts and what they need, and returns what it printed.
func runDbt(t *testing.T, ctx context.Context, bin string, run haloRun, dbt, project, brokers, prefix string) string {
	t.Helper()
	env := append(run.env(brokers, prefix), "SHOPSTREAM_DBT_BIN="+dbt, "SHOPSTREAM_DBT_PROJECT_DIR="+project,
		"SHOPSTREAM_DBT_ARGS=build,--select,+halo_ranking,--indirect-selection,cautious")
	deadline, _ := ctx.Deadline() // the test's context has one
	out, stderr, err := pipelinetest.Command(t, bin, filepath.Dir(run.dataDir), time.Until(deadline), env, "dbt")
	if err != nil {
		t.Fatalf("shopstream dbt: %v\n%s\n%s", err, out, tail(stderr, 8<<10))
	}
	return out
}

// haloResult is what halo_ranking says of one product key.
type haloResult struct {
	significant bool
	outcome     string
	grain       string
	lag         int
	metric      string
	strength    float64
	pAdjusted   float64
}

// checkHalo compares the mart with the planted truth, per product: the
// product keys of its variants come from product_links (by ASIN). It
// returns the product keys of the planted products.
func checkHalo(t *testing.T, ctx context.Context, warehouseAddr string, truth simworld.HaloTruth) map[string]bool {
	t.Helper()
	rows := query(t, ctx, warehouseAddr, `SELECT asin, product_key FROM product_links FINAL
		WHERE channel = 'amazon' AND is_deleted = 0 AND asin IS NOT NULL`)
	keyOf := map[string]string{}
	for _, r := range rows {
		keyOf[r[0]] = r[1]
	}
	ranking := map[string]haloResult{}
	for _, r := range query(t, ctx, warehouseAddr, `SELECT product_key, significant, best_outcome, best_grain, best_lag_days,
		best_attention_metric, strength, p_value_adjusted FROM analytics.halo_ranking`) {
		ranking[r[0]] = haloResult{significant: r[1] == "true", outcome: r[2], grain: r[3], lag: testenv.Atoi(t, r[4]), metric: r[5],
			strength: atof(t, r[6]), pAdjusted: atof(t, r[7])}
	}
	keysOf := func(p simworld.HaloProduct) []string {
		var keys []string
		for _, a := range p.ASINs {
			if k, ok := keyOf[a]; ok && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return keys
	}

	// A planted product is found when the mart calls a halo significant on
	// at least one of its variants' keys and every such call has the
	// planted lag within a day. (A variant that sells a few units a day
	// may not reach significance; none may name a wrong lag.)
	found, keysSignificant, keysAtLag, keys := 0, 0, 0, 0
	planted := map[string]bool{}
	for _, e := range truth.Planted {
		p := truth.Products[e.ProductKey]
		pkeys := keysOf(p)
		for _, k := range pkeys {
			planted[k] = true
		}
		if len(pkeys) == 0 {
			t.Errorf("planted %s: no product key links its ASINs %v", e.ProductKey, p.ASINs)
			continue
		}
		significant, wrong := 0, 0
		for _, k := range pkeys {
			r, has := ranking[k]
			keys++
			t.Logf("planted %s (spike %s, lag %d, decay %.2f, x%.2f) key %s: %+v", e.ProductKey, e.SpikeDay, e.LagDays, e.DecayDays, 1+e.Magnitude, k, r)
			atLag := has && abs(r.lag-e.LagDays) <= 1
			if atLag {
				keysAtLag++
			}
			if has && r.significant {
				significant++
				keysSignificant++
				if !atLag {
					wrong++
				}
			}
		}
		if significant > 0 && wrong == 0 {
			found++
		} else {
			t.Errorf("planted %s (lag %d): %d of its keys %v significant, %d of them at a wrong lag", e.ProductKey, e.LagDays, significant, pkeys, wrong)
		}
	}
	quiet, controls := 0, 0
	for _, c := range truth.Controls {
		keys := keysOf(c)
		if len(keys) == 0 {
			continue
		}
		controls++
		loud := false
		for _, k := range keys {
			if r := ranking[k]; r.significant {
				loud = true
				t.Logf("control %s key %s (spike %v): significant %+v", c.ProductKey, k, c.SpikeDay, r)
			}
		}
		if !loud {
			quiet++
		}
	}
	t.Logf("halo: planted products found %d of %d (keys significant %d of %d, best lag within a day %d of %d); control products quiet %d of %d",
		found, len(truth.Planted), keysSignificant, keys, keysAtLag, keys, quiet, controls)
	if controls < len(truth.Controls)/2 {
		t.Errorf("only %d of %d control products have a product key", controls, len(truth.Controls))
	}
	if float64(quiet) < 0.9*float64(controls) {
		t.Errorf("controls quiet %d of %d, want at least 90%%", quiet, controls)
	}
	return planted
}

// searchWeeklySQL compares, per product key and Sunday-to-Saturday week,
// product_daily's Brand Analytics figures summed over the week's days with
// the weekly Search Query Performance totals of the key's ASINs: a week
// must be on all seven days, alone (no month or quarter), with the week's
// totals, so the sum over its days is 7 x the weekly total. One line per
// week: the week, the keys, the two totals and the keys that disagree.
const searchWeeklySQL = `WITH sqp AS (
    SELECT coalesce(l.product_key, concat('amazon:', s.marketplace_id, ':', s.asin)) AS product_key, s.start_date AS week,
           sum(s.asin_impression_count) AS impressions, sum(s.asin_click_count) AS clicks, sum(s.asin_purchase_count) AS purchases
    FROM amazon_search_query_performance AS s FINAL
    LEFT JOIN (SELECT marketplace_id, asin, product_key FROM product_links FINAL WHERE channel = 'amazon' AND is_deleted = 0) AS l
        ON l.marketplace_id = s.marketplace_id AND l.asin = s.asin
    WHERE s.report_period = 'WEEK'
    GROUP BY product_key, week
),
daily AS (
    SELECT product_key, toStartOfWeek(date) AS week, count() AS days,
           sum(amazon_search_impressions) AS impressions, sum(amazon_search_clicks) AS clicks,
           sum(amazon_search_purchases) AS purchases,
           uniqExact(amazon_search_period_start, amazon_search_period_end) AS periods,
           min(amazon_search_period_start) AS period_start, max(amazon_search_period_end) AS period_end
    FROM product_daily FINAL
    WHERE amazon_search_impressions IS NOT NULL
    GROUP BY product_key, week
)
SELECT toString(coalesce(d.week, s.week)) AS week, count() AS keys,
       sum(d.impressions) AS daily_impressions, sum(s.impressions) AS weekly_impressions,
       countIf(d.product_key IS NULL OR s.product_key IS NULL OR d.days != 7 OR d.periods != 1
               OR d.period_start != s.week OR d.period_end != s.week + 6 OR d.impressions != 7 * s.impressions
               OR d.clicks != 7 * s.clicks OR d.purchases != 7 * s.purchases) AS bad
FROM daily AS d FULL OUTER JOIN sqp AS s ON s.product_key = d.product_key AND s.week = d.week
GROUP BY week ORDER BY week
SETTINGS join_use_nulls = 1`

// checkSearchWeekly: product_daily's amazon_search_* are the weekly Brand
// Analytics figures only, so summing a week's days gives 7 x the weekly
// Search Query Performance totals of the same ASINs, for every week and
// key, and no day carries a month or a quarter (the demo world's backfill
// reads all three). Before, the month and quarter that began before the
// world's first week sat alone on the days before it (and on 2026-10-01
// with October's 10.36M on `make run` a week later).
func checkSearchWeekly(t *testing.T, ctx context.Context, warehouseAddr string) {
	t.Helper()
	rows := query(t, ctx, warehouseAddr, searchWeeklySQL)
	if len(rows) < 8 {
		t.Errorf("Brand Analytics weeks in product_daily: %d, want the demo world's 8 or more: %v", len(rows), rows)
	}
	for _, r := range rows {
		t.Logf("search week %s: %s keys, product_daily sum over days %s = 7 x weekly SQP %s", r[0], r[1], r[2], r[3])
		if r[4] != "0" {
			t.Errorf("week %s: %s of %s product keys disagree with the weekly Search Query Performance (product_daily sum over days %s, weekly total %s)",
				r[0], r[4], r[1], r[2], r[3])
		}
	}
	months := query(t, ctx, warehouseAddr, `SELECT count() FROM amazon_search_query_performance FINAL WHERE report_period IN ('MONTH', 'QUARTER')`)
	if months[0][0] == "0" {
		t.Error("no monthly or quarterly Search Query Performance loaded: the check above proves nothing about them")
	}
}

// checkNoEmptyRows: every product_daily row carries a figure, and the rows
// before the world's first day (videos posted before it) carry estimated
// attention above zero: the spread of a first Business API snapshot gives
// the days shop analytics never read no row (before, 684 rows of estimated
// zeros here, 632 on make run's world).
func checkNoEmptyRows(t *testing.T, ctx context.Context, warehouseAddr string, start time.Time) {
	t.Helper()
	attention := `greatest(ifNull(tiktok_views, 0), ifNull(tiktok_saves, 0), ifNull(tiktok_shares, 0), ifNull(tiktok_likes, 0),
		ifNull(tiktok_comments, 0), ifNull(tiktok_product_impressions, 0), ifNull(tiktok_product_clicks, 0),
		ifNull(toInt64(tiktok_watch_time_seconds * 1000), 0)) > 0`
	empty := `coalesce(tiktok_views, tiktok_saves, tiktok_shares, tiktok_likes, tiktok_comments, tiktok_product_impressions,
		tiktok_product_clicks, tiktok_orders, amazon_search_impressions, amazon_best_sellers_rank_best, amazon_sessions,
		amazon_units, amazon_orders) IS NULL AND tiktok_watch_time_seconds IS NULL AND tiktok_video_gmv IS NULL
		AND tiktok_gmv IS NULL AND amazon_sales IS NULL AND empty(amazon_search_term_ranks.search_term)`
	r := query(t, ctx, warehouseAddr, fmt.Sprintf(`SELECT countIf(%s), countIf(date < toDate32('%s')),
		countIf(date < toDate32('%s') AND NOT (%s)) FROM product_daily FINAL`,
		empty, start.Format(time.DateOnly), start.Format(time.DateOnly), attention))
	t.Logf("product_daily: %s rows without a figure, %s before the world's first day %s, %s of them without attention above 0",
		r[0][0], r[0][1], start.Format(time.DateOnly), r[0][2])
	if r[0][0] != "0" || r[0][2] != "0" {
		t.Errorf("product_daily has %s rows without a figure and %s rows before the world's first day (%s) without attention",
			r[0][0], r[0][2], start.Format(time.DateOnly))
	}
}

// query runs sql against the warehouse's HTTP interface and returns its
// TabSeparated rows.
func query(t *testing.T, ctx context.Context, addr, sql string) [][]string {
	t.Helper()
	rows, err := warehouseAt(addr).Rows(ctx, sql)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// atof is testenv.Atof with NULL (\N) read as NaN.
func atof(t *testing.T, s string) float64 {
	t.Helper()
	if s == `\N` {
		return math.NaN()
	}
	return testenv.Atof(t, s)
}

func abs(v int) int { return max(v, -v) }

// warehouseAt queries run's warehouse at addr; the test's context bounds
// the queries.
func warehouseAt(addr string) *pipelinetest.Warehouse {
	return &pipelinetest.Warehouse{URL: "http://" + addr, Client: http.DefaultClient}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
