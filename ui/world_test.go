package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/transform/identity"
)

// The known world the page is tested on: a few products on both channels
// over four Brand Analytics weeks of March 2026, written into the tables
// the migrations create, as the loader would leave them (current-state
// tables, read with FINAL).
const (
	marketplace = "ATVPDKIKX0DER"
	shop        = "7494001"
	worldFrom   = "2026-03-01" // a Sunday: weeks run Sunday to Saturday
	worldTo     = "2026-03-28"
)

// link is one product_links row.
type link struct {
	key, channel, id, productID, sellerSKU, gtin, rule, title string
	unmatched                                                 bool
	conflict                                                  string
	conflicting                                               []string
}

const (
	keySerum = "gtin:00012345678905"
	keyMat   = "sku:MAT-01"
	// An unmatched pair whose titles differ in punctuation only: the
	// identity view must pair them.
	keyBrushAmazon = "amazon:" + marketplace + ":B0TESTA003"
	keyBrushTikTok = "tiktok:" + shop + ":7300000000000000333"
	// Two TikTok SKUs in one shop carry one GTIN (a conflict); an Amazon
	// ASIN carries it too.
	keyMugSteel   = "tiktok:" + shop + ":7300000000000000444"
	keyMugCeramic = "tiktok:" + shop + ":7300000000000000555"
	keyMugAmazon  = "amazon:" + marketplace + ":B0TESTA004"
	// A title that is HTML and starts like a formula: shown as text.
	keyOdd   = "amazon:" + marketplace + ":B0TESTA005"
	oddTitle = `=<img src=x onerror=alert(1)> Café "Crème" Set\2×, 'Paris'`
)

var mugConflict = "GTIN 00099999999997 is on several products of tiktok:" + shop

var worldLinks = []link{
	{key: keySerum, channel: "amazon", id: "B0TESTA001", gtin: "00012345678905", rule: "gtin", title: "Glow Serum 30ml"},
	{key: keySerum, channel: "tiktok", id: "7300000000000000111", productID: "1730000000000000111", gtin: "00012345678905", rule: "gtin", title: "Glow Serum 30 ml"},
	{key: keyMat, channel: "amazon", id: "B0TESTA002", sellerSKU: "MAT-01", rule: "seller_sku", title: "Yoga Mat Pro"},
	{key: keyMat, channel: "tiktok", id: "7300000000000000222", productID: "1730000000000000222", sellerSKU: "MAT-01", rule: "seller_sku", title: "Yoga Mat Pro"},
	{key: keyBrushAmazon, channel: "amazon", id: "B0TESTA003", rule: "unmatched", unmatched: true, title: "Bamboo Toothbrush 4-Pack"},
	{key: keyBrushTikTok, channel: "tiktok", id: "7300000000000000333", productID: "1730000000000000333", rule: "unmatched", unmatched: true, title: "Bamboo Toothbrush (4 Pack)"},
	{key: keyMugSteel, channel: "tiktok", id: "7300000000000000444", productID: "1730000000000000444", gtin: "00099999999997", rule: "unmatched", unmatched: true,
		title: "Travel Mug Steel", conflict: mugConflict, conflicting: []string{keyMugCeramic}},
	{key: keyMugCeramic, channel: "tiktok", id: "7300000000000000555", productID: "1730000000000000555", gtin: "00099999999997", rule: "unmatched", unmatched: true,
		title: "Travel Mug Ceramic", conflict: mugConflict, conflicting: []string{keyMugSteel}},
	{key: keyMugAmazon, channel: "amazon", id: "B0TESTA004", gtin: "00099999999997", rule: "unmatched", unmatched: true, title: "Travel Mug Steel 12oz"},
	{key: keyOdd, channel: "amazon", id: "B0TESTA005", rule: "unmatched", unmatched: true, title: oddTitle},
}

// day is one product_daily row; nil figures are NULL.
type day struct {
	key                                       string
	date                                      time.Time
	version                                   int64
	views, saves, shares, ttOrders, ttUnits   *int64
	watchSeconds                              *float64
	ttGMV, amzSales                           *decimal.Decimal
	sessions, units, amzOrders, bsr           *int64
	impressions, clicks                       *int64
	periodStart, periodEnd                    *time.Time
	provenance                                *string
	ttCurrency, amzCurrency                   *string
	productImpressions, productClicks, pageVs *int64
}

// views are the serum's TikTok views on day i of March: a ramp, with a
// spike on March 10 (a video that took off).
func views(i int) int64 {
	if i == 9 {
		return 9000
	}
	return 1000 + 137*int64(i)
}

func i64(v int64) *int64 { return &v }

func f64(v float64) *float64 { return &v }

func str(v string) *string { return &v }

func dec(s string) *decimal.Decimal {
	d := decimal.RequireFromString(s)
	return &d
}

func mustDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// worldDays: the serum every day of March 1-28 (TikTok attention measured
// the first two weeks, estimated the third, mixed the fourth; search
// figures weekly), the mat on a few days with one channel each, the brush
// on Amazon only. One serum day also has an older version that FINAL must
// hide.
func worldDays() []day {
	var out []day
	from := mustDate(worldFrom)
	for i := range 28 {
		d := from.AddDate(0, 0, i)
		week := int64(i / 7)
		start, end := from.AddDate(0, 0, int(week)*7), from.AddDate(0, 0, int(week)*7+6)
		orders := int64(i%5 + 1)
		units := int64(10 + i%7)
		prov := "measured"
		switch {
		case i >= 21:
			prov = "mixed"
		case i >= 14:
			prov = "estimated"
		}
		out = append(out, day{
			key: keySerum, date: d, version: 2,
			views: i64(views(i)), watchSeconds: f64(1800.5 * float64(i+1)), saves: i64(3 * int64(i)), shares: i64(2*int64(i) + 1),
			ttOrders: i64(orders), ttUnits: i64(orders + 1), ttGMV: dec(decimal.NewFromInt(orders).Mul(decimal.RequireFromString("19.99")).String()), ttCurrency: str("USD"),
			sessions: i64(200 + int64(i)), pageVs: i64(300 + 2*int64(i)), units: i64(units), amzOrders: i64(units - 1),
			amzSales: dec(decimal.NewFromInt(units).Mul(decimal.RequireFromString("24.50")).String()), amzCurrency: str("USD"),
			bsr:         i64(5000 - 150*int64(i)),
			impressions: i64(5000 + 1000*week), clicks: i64(300 + 50*week), periodStart: &start, periodEnd: &end,
			provenance:         str(prov),
			productImpressions: i64(400 + 10*int64(i)), productClicks: i64(40 + int64(i)),
		})
	}
	// An older version of March 10 with other figures: FINAL drops it.
	old := out[9]
	old.version, old.views, old.ttOrders, old.amzSales = 1, i64(999999), i64(99), dec("9999.99")
	out = append(out, old)
	for _, n := range []int{2, 5, 9} {
		d := from.AddDate(0, 0, n)
		out = append(out,
			day{key: keyMat, date: d, version: 1, views: i64(500 * int64(n)), ttOrders: i64(int64(n)), ttGMV: dec(fmt.Sprintf("%d.25", 30*n)), ttCurrency: str("USD"), provenance: str("measured")},
		)
	}
	out = append(out, day{key: keyMat, date: from.AddDate(0, 0, 20), version: 1, sessions: i64(80), units: i64(4), amzOrders: i64(4), amzSales: dec("119.96"), amzCurrency: str("USD"), bsr: i64(12000)})
	for n := range 3 {
		out = append(out, day{key: keyBrushAmazon, date: from.AddDate(0, 0, 3+n), version: 1, sessions: i64(50), units: i64(2), amzOrders: i64(2), amzSales: dec("13.98"), amzCurrency: str("USD"), bsr: i64(30000)})
	}
	return out
}

// startWorld starts a warehouse, applies the migrations and writes the
// world. It returns the warehouse and a connection that may
// write (the test's own).
func startWorld(t *testing.T, ctx context.Context) (*testenv.Warehouse, driver.Conn) {
	t.Helper()
	wh := testenv.StartWarehouse(t)
	conn, err := load.Open(ctx, load.Warehouse{Addr: wh.Addr, Protocol: "http", Database: "default", User: "default", MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	insertWorld(t, ctx, conn)
	return wh, conn
}

func insertWorld(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	now := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)
	batch := func(q string) driver.Batch {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return b
	}
	links := batch("INSERT INTO product_links (event_id, source, entity, op, source_ts, ingest_ts, version, product_key, channel, marketplace_id, shop_id, asin, seller_sku, product_id, sku_id, gtin14, match_rule, unmatched, conflict_reason, conflicting_product_keys, _key)")
	catalog := batch("INSERT INTO amazon_catalog (event_id, source, entity, op, source_ts, ingest_ts, version, marketplace_id, asin, item_name, _key)")
	products := batch("INSERT INTO tiktok_products (event_id, source, entity, op, source_ts, ingest_ts, version, shop_id, product_id, title, status, _key)")
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for i, l := range worldLinks {
		ref := identityRef(l).String()
		var mkt, shopID, asin, pid, sku *string
		if l.channel == "amazon" {
			mkt, asin = opt(marketplace), opt(l.id)
			if err := catalog.Append(fmt.Sprint("c", i), "amazon", "catalog_item", "snapshot", now, now, int64(1), marketplace, l.id, opt(l.title), marketplace+":"+l.id); err != nil {
				t.Fatal(err)
			}
		} else {
			shopID, pid, sku = opt(shop), opt(l.productID), opt(l.id)
			if err := products.Append(fmt.Sprint("p", i), "tiktokshop", "product", "snapshot", now, now, int64(1), shop, l.productID, opt(l.title), "ACTIVATE", shop+":"+l.productID); err != nil {
				t.Fatal(err)
			}
		}
		conflicting := l.conflicting
		if conflicting == nil {
			conflicting = []string{}
		}
		if err := links.Append(fmt.Sprint("l", i), "transform", "product_link", "create", now, now, int64(1), l.key, l.channel, mkt, shopID, asin,
			opt(l.sellerSKU), pid, sku, opt(l.gtin), l.rule, l.unmatched, opt(l.conflict), conflicting, ref); err != nil {
			t.Fatal(err)
		}
	}
	days := batch("INSERT INTO product_daily (event_id, source, entity, op, source_ts, ingest_ts, version, product_key, date, date_time_zone, " +
		"tiktok_views, tiktok_watch_time_seconds, tiktok_saves, tiktok_shares, tiktok_currency, tiktok_orders, tiktok_units, tiktok_gmv, " +
		"amazon_search_period_start, amazon_search_period_end, amazon_search_impressions, amazon_search_clicks, amazon_best_sellers_rank_best, " +
		"amazon_sessions, amazon_page_views, amazon_units, amazon_currency, amazon_sales, amazon_orders, " +
		"tiktok_attention_provenance, tiktok_product_impressions, tiktok_product_clicks, _key)")
	for i, d := range worldDays() {
		if err := days.Append(fmt.Sprint("d", i), "transform", "product_day", "update", now, now, d.version, d.key, d.date, "UTC",
			d.views, d.watchSeconds, d.saves, d.shares, d.ttCurrency, d.ttOrders, d.ttUnits, d.ttGMV,
			d.periodStart, d.periodEnd, d.impressions, d.clicks, d.bsr,
			d.sessions, d.pageVs, d.units, d.amzCurrency, d.amzSales, d.amzOrders,
			d.provenance, d.productImpressions, d.productClicks, d.key+"/"+d.date.Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range map[string]driver.Batch{"product_links": links, "amazon_catalog": catalog, "tiktok_products": products, "product_daily": days} {
		if err := b.Send(); err != nil {
			t.Fatalf("insert %s: %v", name, err)
		}
	}
}

// identityRef is the identity Ref of a world link.
func identityRef(l link) identity.Ref {
	if l.channel == "amazon" {
		return identity.Ref{Channel: identity.ChannelAmazon, Account: marketplace, ID: l.id}
	}
	return identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: l.id}
}

// identityItems are the world's channel products as the resolver reads
// them from amazon.catalog and tiktok.products.
func identityItems() map[string][]identity.Item {
	out := map[string][]identity.Item{}
	for _, l := range worldLinks {
		it := identity.Item{Ref: identityRef(l), SellerSKU: l.sellerSKU}
		if l.gtin != "" {
			it.Identifiers = []identity.Identifier{{Type: "GTIN", Value: l.gtin}}
		}
		source := "amazon.catalog/" + marketplace + ":" + l.id
		if l.channel == "tiktok" {
			it.ProductID = l.productID
			source = "tiktok.products/" + shop + ":" + l.productID
		}
		out[source] = append(out[source], it)
	}
	return out
}

// haloMartsDDL are the halo marts as dbt builds them (dbt/models/marts,
// columns as in _halo.yml), for the page to read; the test fills them
// with known values rather than running dbt (TestDbtHalo tests the
// models).
var haloMartsDDL = []string{
	`CREATE TABLE halo_ranking (rank UInt64, product_key String, halo_score Float64, significant Bool, best_outcome String,
		best_grain String, best_lag_days Int64, best_attention_metric String, strength Float64, lift Nullable(Float64),
		p_value_adjusted Float64, outcomes_tested UInt32, outcomes_significant UInt32, first_date Date, last_date Date)
		ENGINE = MergeTree ORDER BY rank`,
	`CREATE TABLE product_halo (product_key String, outcome String, grain String, best_attention_metric String, best_lag_days Int64,
		strength Nullable(Float64), n UInt64, n_effective Nullable(Float64), p_value Nullable(Float64), tests UInt64,
		p_value_adjusted Nullable(Float64), significant Bool, attention_estimated Bool, spikes UInt64,
		outcome_baseline Nullable(Float64), outcome_after Nullable(Float64), lift Nullable(Float64), first_date Date, last_date Date)
		ENGINE = MergeTree ORDER BY (product_key, outcome)`,
	`CREATE TABLE halo_by_lag (product_key String, attention_metric String, outcome String, grain String, lag_days Int64,
		n UInt64, n_effective Nullable(Float64), correlation Nullable(Float64), z Nullable(Float64), p_value Nullable(Float64),
		attention_estimated_share Nullable(Float64), first_date Date, last_date Date)
		ENGINE = MergeTree ORDER BY (product_key, attention_metric, outcome, lag_days)`,
}

// martsDB is the database the halo marts are written to, as dbt builds
// them in its own (dbt.schema, default analytics), not in the pipeline's.
const martsDB = "analytics"

// writeHaloMarts creates the halo marts in martsDB with the serum's halo:
// Amazon sessions follow its TikTok views by 3 days and its rank its
// saves by 5 (both significant), search clicks its views weakly; the mat
// has none.
func writeHaloMarts(t *testing.T, ctx context.Context, conn driver.Conn) {
	t.Helper()
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + martsDB}
	for _, ddl := range haloMartsDDL {
		stmts = append(stmts, strings.Replace(ddl, "CREATE TABLE ", "CREATE TABLE "+martsDB+".", 1))
	}
	stmts = append(stmts,
		`INSERT INTO `+martsDB+`.halo_ranking VALUES
			(1, '`+keySerum+`', 0.71, true, 'amazon_sessions', 'daily', 3, 'tiktok_views', 0.71, 0.24, 0.004, 3, 2, '2026-03-01', '2026-03-28'),
			(2, '`+keyMat+`', 0, false, 'amazon_units', 'daily', 1, 'tiktok_views', 0.2, NULL, 0.62, 3, 0, '2026-03-03', '2026-03-21')`,
		`INSERT INTO `+martsDB+`.product_halo VALUES
			('`+keySerum+`', 'amazon_sessions', 'daily', 'tiktok_views', 3, 0.71, 24, 19.5, 0.0001, 60, 0.006, true, false, 1, 205, 254.2, 0.24, '2026-03-01', '2026-03-28'),
			('`+keySerum+`', 'amazon_best_sellers_rank', 'daily', 'tiktok_saves', 5, 0.55, 22, 18.1, 0.0004, 60, 0.024, true, false, 1, 3700, 2642.9, 0.4, '2026-03-01', '2026-03-28'),
			('`+keySerum+`', 'amazon_search_clicks', 'weekly', 'tiktok_views', 7, 0.3, 3, 3, 0.6, 60, 1, false, false, 1, 325, 350, 0.077, '2026-03-01', '2026-03-28'),
			('`+keyMat+`', 'amazon_units', 'daily', 'tiktok_views', 1, 0.2, 5, 4, 0.7, 60, 1, false, false, 0, NULL, NULL, NULL, '2026-03-03', '2026-03-21')`,
		`INSERT INTO `+martsDB+`.halo_by_lag SELECT '`+keySerum+`', m, o, if(o = 'amazon_search_clicks', 'weekly', 'daily'), lag, 24, 19.5,
			round(if(o = 'amazon_sessions', 0.71 - 0.09 * abs(lag - 3), if(o = 'amazon_best_sellers_rank', 0.55 - 0.07 * abs(lag - 5), 0.3 - 0.05 * abs(lag - 7))), 4),
			NULL, NULL, 0, '2026-03-01', '2026-03-28'
		FROM (SELECT arrayJoin([('tiktok_views', 'amazon_sessions'), ('tiktok_saves', 'amazon_best_sellers_rank'), ('tiktok_views', 'amazon_search_clicks'), ('tiktok_shares', 'amazon_sessions')]) AS mo, mo.1 AS m, mo.2 AS o)
		ARRAY JOIN range(15) AS lag`,
	)
	for _, q := range stmts {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
