package join

import (
	"slices"
	"testing"
	"time"
)

func st(asin string, d string, v int64, sessions, units int64, sales string) SalesTraffic {
	return SalesTraffic{Meta: m(v, t0), Key: mkt + ":" + d + ":" + asin, MarketplaceID: mkt,
		Date: ZonedDay{day(d), la}, ASIN: asin, Sessions: sessions, PageViews: sessions * 2, Units: units,
		Currency: "USD", Sales: rat(sales)}
}

func TestSalesTrafficRestatementDuplicatesOrder(t *testing.T) {
	j := New(Config{})
	d := day("2026-01-05")
	rows := must(j.ApplySalesTraffic(st("B1", "2026-01-05", 1, 0, 2, "19.98")))
	if len(rows) != 1 || rows[0].ProductKey != "amazon:"+mkt+":B1" || rows[0].Version != 1 || !rows[0].First {
		t.Fatalf("first row: %+v", rows)
	}
	r := current(t, j, "amazon:"+mkt+":B1", d)
	if str(r.AmazonSessions) != "0" || str(r.AmazonUnits) != "2" || strR(r.AmazonSales) != "19.9800" || r.AmazonCurrency != "USD" {
		t.Errorf("row %+v", r)
	}
	if r.TikTokViews != nil || r.AmazonOrders != nil {
		t.Error("unreported metrics must be null, not zero")
	}

	// Restated: sessions filled in days later, higher version replaces.
	restated := st("B1", "2026-01-05", 2, 40, 3, "29.97")
	rows = must(j.ApplySalesTraffic(restated))
	if len(rows) != 1 || rows[0].Version != 2 || str(rows[0].AmazonSessions) != "40" || str(rows[0].AmazonUnits) != "3" {
		t.Fatalf("restated: %+v", rows)
	}
	// The same event again: ignored.
	if rows := must(j.ApplySalesTraffic(restated)); rows != nil {
		t.Errorf("duplicate event re-emitted %+v", rows)
	}
	// An older version arriving late: ignored.
	if rows := must(j.ApplySalesTraffic(st("B1", "2026-01-05", 1, 5, 1, "9.99"))); rows != nil {
		t.Errorf("out-of-order version applied %+v", rows)
	}
	if got := current(t, j, "amazon:"+mkt+":B1", d); str(got.AmazonSessions) != "40" {
		t.Errorf("sessions %s after stale version", str(got.AmazonSessions))
	}
	// A second SKU of the same ASIN adds up.
	other := st("B1", "2026-01-05", 1, 10, 1, "9.99")
	other.Key += ":SKU2"
	rows = must(j.ApplySalesTraffic(other))
	if len(rows) != 1 || str(rows[0].AmazonSessions) != "50" || strR(rows[0].AmazonSales) != "39.9600" || rows[0].Version != 3 {
		t.Fatalf("second row: %+v", rows)
	}
	// Deletes retract; the last one makes the row a delete.
	_ = must(j.ApplySalesTraffic(SalesTraffic{Meta: del(3, t0), Key: restated.Key}))
	rows = must(j.ApplySalesTraffic(SalesTraffic{Meta: del(2, t0), Key: other.Key}))
	if len(rows) != 1 || !rows[0].Deleted || rows[0].Version != 5 || rows[0].Record()["op"] != "delete" {
		t.Fatalf("after deletes: %+v", rows)
	}
	if len(j.Rows()) != 0 {
		t.Errorf("rows left: %v", keysOf(j.Rows()))
	}
}

func TestSalesTrafficZoneConversion(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	j := New(Config{Zone: tokyo})
	rows := must(j.ApplySalesTraffic(st("B1", "2026-01-05", 1, 1, 1, "1")))
	if len(rows) != 1 || rows[0].Day.String() != "2026-01-06" || rows[0].Zone != "Asia/Tokyo" {
		t.Fatalf("LA day in Tokyo reporting: %+v", rows)
	}
	bad := st("B1", "2026-01-05", 2, 5, 5, "5")
	bad.Date.Zone = "Nowhere/Land"
	if _, err := j.ApplySalesTraffic(bad); err == nil {
		t.Error("unknown zone accepted")
	}
	// The bad record left no trace: the same version with a good zone applies.
	bad.Date.Zone = la
	if rows := must(j.ApplySalesTraffic(bad)); len(rows) != 1 {
		t.Errorf("after a rejected record: %+v", rows)
	}
}

func ve(item string, v int64, ts string, views *int64, watch *float64) VideoEngagement {
	return VideoEngagement{Meta: m(v, at(ts)), BusinessID: "biz", ItemID: item, Views: views, WatchTimeSeconds: watch,
		Likes: views}
}

func f64(v float64) *float64 { return &v }

func vperfRec(video, d string, v int64, products ...VideoProduct) VideoPerformance {
	return VideoPerformance{Meta: m(v, t0), ShopID: shop, VideoID: video, Date: ZonedDay{day(d), la},
		Currency: "USD", Products: products}
}

func TestEngagementDeltas(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	must(j.ApplyVideoPerformance(vperfRec("V1", "2026-01-05", 1, VideoProduct{ProductID: "P1"})))

	steps := []struct {
		ev    VideoEngagement
		day   string
		views string // row's views for that day after the step
		watch string
	}{
		{ve("V1", 1, "2026-01-05T10:00:00Z", i64(100), f64(50)), "2026-01-05", "100", "50"}, // first snapshot counts in full
		{ve("V1", 2, "2026-01-05T20:00:00Z", i64(150), f64(80)), "2026-01-05", "150", "80"},
		{ve("V1", 3, "2026-01-06T08:00:00Z", i64(140), nil), "2026-01-06", "0", "nil"},  // drop: never negative; watch time vanished
		{ve("V1", 4, "2026-01-06T20:00:00Z", i64(170), nil), "2026-01-06", "20", "nil"}, // growth above the high-water mark only
		{ve("V1", 5, "2026-01-07T20:00:00Z", nil, f64(120)), "2026-01-07", "nil", "40"}, // vanished views keep 170; watch time resumes from 80
		{ve("V1", 6, "2026-01-08T20:00:00Z", i64(175), f64(120)), "2026-01-08", "5", "0"},
	}
	for i, s := range steps {
		j.ApplyVideoEngagement(s.ev)
		r := current(t, j, "K1", day(s.day))
		if str(r.TikTokViews) != s.views || strF(r.TikTokWatchTimeSeconds) != s.watch {
			t.Errorf("step %d: views %s watch %s, want %s %s", i, str(r.TikTokViews), strF(r.TikTokWatchTimeSeconds), s.views, s.watch)
		}
	}
	// Out-of-order and duplicate snapshots change nothing.
	if rows := j.ApplyVideoEngagement(ve("V1", 3, "2026-01-06T09:00:00Z", i64(1000), nil)); rows != nil {
		t.Errorf("older version applied: %+v", rows)
	}
	// Days add up to the lifetime value.
	var sum int64
	for _, r := range j.Rows() {
		if r.TikTokViews != nil {
			sum += *r.TikTokViews
		}
	}
	if sum != 175 {
		t.Errorf("daily views add up to %d, want the lifetime 175", sum)
	}
	// A delete retracts all of the video's engagement; the vperf row stays.
	j.ApplyVideoEngagement(VideoEngagement{Meta: del(7, t0), BusinessID: "biz", ItemID: "V1"})
	if r := current(t, j, "K1", day("2026-01-05")); r.TikTokViews != nil {
		t.Errorf("views after delete: %s", str(r.TikTokViews))
	}
	if len(j.Rows()) != 1 {
		t.Errorf("rows after delete: %v", keysOf(j.Rows()))
	}
}

func TestEngagementAttribution(t *testing.T) {
	for _, tc := range []struct {
		attr  Attribution
		views map[string]string
		watch map[string]string
	}{
		{FullCredit, map[string]string{"K1": "100", "K2": "100", "K3": "100"}, map[string]string{"K1": "30", "K2": "30", "K3": "30"}},
		// 100 over three keys: 34, 33, 33 in key order, adding up to 100.
		{EvenSplit, map[string]string{"K1": "34", "K2": "33", "K3": "33"}, map[string]string{"K1": "10", "K2": "10", "K3": "10"}},
	} {
		j := New(Config{Attribution: tc.attr})
		// Product P1 has two SKUs with their own keys; P2 one SKU.
		link(j, "K1", tref("P1-1"))
		link(j, "K2", tref("P1-2"))
		link(j, "K3", tref("P2-1"))
		must(j.ApplyVideoPerformance(vperfRec("V1", "2026-01-05", 1,
			VideoProduct{ProductID: "P1", GMV: rat("10.0001")}, VideoProduct{ProductID: "P2", GMV: rat("5")})))
		j.ApplyVideoEngagement(ve("V1", 1, "2026-01-05T10:00:00Z", i64(100), f64(30)))
		for k, want := range tc.views {
			r := current(t, j, k, day("2026-01-05"))
			if str(r.TikTokViews) != want || strF(r.TikTokWatchTimeSeconds) != tc.watch[k] {
				t.Errorf("attr %d %s: views %s watch %s, want %s %s", tc.attr, k, str(r.TikTokViews), strF(r.TikTokWatchTimeSeconds), want, tc.watch[k])
			}
		}
		gmv := map[string]string{}
		for _, k := range []string{"K1", "K2", "K3"} {
			gmv[k] = strR(current(t, j, k, day("2026-01-05")).TikTokVideoGMV)
		}
		want := map[string]string{"K1": "10.0001", "K2": "10.0001", "K3": "5.0000"}
		if tc.attr == EvenSplit {
			// P1's GMV split over its two keys, to the 0.0001.
			want = map[string]string{"K1": "5.0001", "K2": "5.0000", "K3": "5.0000"}
		}
		if !mapsEqual(gmv, want) {
			t.Errorf("attr %d: video GMV %v, want %v", tc.attr, gmv, want)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestVideoPerformanceRestatementAndProducts(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	must(j.ApplyVideoPerformance(vperfRec("V1", "2026-01-05", 1, VideoProduct{ProductID: "P1", GMV: rat("10")})))
	// Engagement before the video is linked to P2: credited to K1 only.
	j.ApplyVideoEngagement(ve("V1", 1, "2026-01-05T10:00:00Z", i64(100), nil))
	// An unlinked product keeps its facts under a product-scoped key.
	rows := must(j.ApplyVideoPerformance(vperfRec("V1", "2026-01-05", 2,
		VideoProduct{ProductID: "P1", GMV: rat("12")}, VideoProduct{ProductID: "P2", GMV: rat("3")})))
	if got := keysOf(rows); !slices.Equal(got, []string{"K1:2026-01-05", "tiktok:" + shop + ":product:P2:2026-01-05"}) {
		t.Fatalf("restated day re-emits %v", got)
	}
	if r := current(t, j, "tiktok:"+shop+":product:P2", day("2026-01-05")); str(r.TikTokViews) != "100" || strR(r.TikTokVideoGMV) != "3.0000" {
		t.Errorf("P2 row %+v", r)
	}
	if r := current(t, j, "K1", day("2026-01-05")); strR(r.TikTokVideoGMV) != "12.0000" || r.TikTokCurrency != "USD" {
		t.Errorf("K1 GMV %s", strR(r.TikTokVideoGMV))
	}
	// P2's SKU gets linked: its row moves to K2.
	rows = link(j, "K2", tref("P2-1"))
	if got := keysOf(rows); !slices.Equal(got, []string{"K2:2026-01-05", "tiktok:" + shop + ":product:P2:2026-01-05(deleted)"}) {
		t.Fatalf("link re-keys %v", got)
	}
	// Deleting the day's record unlinks the video from its products: its
	// engagement goes to the key of the account that posted it.
	must(j.ApplyVideoPerformance(VideoPerformance{Meta: del(3, t0), ShopID: shop, VideoID: "V1", Date: ZonedDay{day("2026-01-05"), la}}))
	if got := keysOf(j.Rows()); !slices.Equal(got, []string{"tiktok:biz:unlinked:2026-01-05"}) {
		t.Errorf("rows after delete: %v", got)
	}
	if r := current(t, j, "tiktok:biz:unlinked", day("2026-01-05")); str(r.TikTokViews) != "100" {
		t.Errorf("unlinked views %s", str(r.TikTokViews))
	}
}

func TestTikTokOrders(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"), tref("P1-2"))
	o := TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O1", Status: "AWAITING_SHIPMENT",
		CreateTime: at("2026-01-05T23:30:00Z"), Currency: "USD", Lines: []TikTokLine{
			{ProductID: "P1", SKUID: "P1-1", SalePrice: rat("10")},
			{ProductID: "P1", SKUID: "P1-1", SalePrice: rat("10")},
			{ProductID: "P1", SKUID: "P1-2", Currency: "USD", SalePrice: rat("12.5")},
			{ProductID: "P9", SKUID: "P9-1", SalePrice: rat("1")},
		}}
	j.ApplyTikTokOrder(o)
	r := current(t, j, "K1", day("2026-01-05"))
	if str(r.TikTokOrders) != "1" || str(r.TikTokUnits) != "3" || strR(r.TikTokGMV) != "32.5000" || r.TikTokCurrency != "USD" {
		t.Errorf("K1: orders %s units %s gmv %s", str(r.TikTokOrders), str(r.TikTokUnits), strR(r.TikTokGMV))
	}
	// The unlinked SKU still flows, under its channel-scoped key.
	current(t, j, "tiktok:"+shop+":P9-1", day("2026-01-05"))
	// A second order the same day.
	j.ApplyTikTokOrder(TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O2", Status: "COMPLETED",
		CreateTime: at("2026-01-05T01:00:00Z"), Lines: []TikTokLine{{SKUID: "P1-2", Currency: "USD", SalePrice: rat("1")}}})
	if r := current(t, j, "K1", day("2026-01-05")); str(r.TikTokOrders) != "2" || str(r.TikTokUnits) != "4" {
		t.Errorf("two orders: %s %s", str(r.TikTokOrders), str(r.TikTokUnits))
	}
	// Cancelling retracts.
	o.Meta, o.Status = m(2, t0), "CANCELLED"
	j.ApplyTikTokOrder(o)
	if r := current(t, j, "K1", day("2026-01-05")); str(r.TikTokOrders) != "1" || strR(r.TikTokGMV) != "1.0000" {
		t.Errorf("after cancel: %s %s", str(r.TikTokOrders), strR(r.TikTokGMV))
	}
	// A second currency on one row: amounts are not added up.
	j.ApplyTikTokOrder(TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O3", Status: "COMPLETED",
		CreateTime: at("2026-01-05T02:00:00Z"), Lines: []TikTokLine{{SKUID: "P1-2", Currency: "GBP", SalePrice: rat("1")}}})
	if r := current(t, j, "K1", day("2026-01-05")); r.TikTokGMV != nil || r.TikTokCurrency != "" || str(r.TikTokUnits) != "2" {
		t.Errorf("mixed currencies: gmv %s currency %q", strR(r.TikTokGMV), r.TikTokCurrency)
	}
}

// TestUnpricedLineDoesNotMixCurrencies: a line without a price in another
// currency, in the same order as a priced line of the same SKU, leaves the
// amount and its currency alone, as it does in a separate order.
func TestUnpricedLineDoesNotMixCurrencies(t *testing.T) {
	for _, lines := range [][]TikTokLine{
		{{SKUID: "P1-1", Currency: "USD", SalePrice: rat("5")}, {SKUID: "P1-1", Currency: "EUR"}},
		{{SKUID: "P1-1", Currency: "EUR"}, {SKUID: "P1-1", Currency: "USD", SalePrice: rat("5")}},
	} {
		j := New(Config{})
		link(j, "K1", tref("P1-1"))
		j.ApplyTikTokOrder(TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O1", Status: "COMPLETED",
			CreateTime: at("2026-01-05T10:00:00Z"), Lines: lines})
		r := current(t, j, "K1", day("2026-01-05"))
		if strR(r.TikTokGMV) != "5.0000" || r.TikTokCurrency != "USD" || str(r.TikTokUnits) != "2" {
			t.Errorf("lines %+v: gmv %s %q, units %s; want 5.0000 USD, 2", lines, strR(r.TikTokGMV), r.TikTokCurrency, str(r.TikTokUnits))
		}
	}
}

func TestAmazonOrders(t *testing.T) {
	j := New(Config{})
	item := func(order, item, asin string, v int64, purchase time.Time, status string) AmazonOrderItem {
		return AmazonOrderItem{Meta: m(v, t0), MarketplaceID: mkt, OrderID: order, ItemID: item, ASIN: asin,
			PurchaseDate: purchase, OrderStatus: status}
	}
	p := at("2026-01-05T10:00:00Z")
	j.ApplyAmazonOrderItem(item("O1", "1", "B1", 1, p, "Unshipped"))
	j.ApplyAmazonOrderItem(item("O1", "2", "B1", 1, p, "Unshipped")) // same order: counts once
	j.ApplyAmazonOrderItem(item("O2", "1", "B1", 1, p, "Shipped"))
	if r := current(t, j, "amazon:"+mkt+":B1", day("2026-01-05")); str(r.AmazonOrders) != "2" {
		t.Errorf("orders %s, want 2", str(r.AmazonOrders))
	}
	// An item without a purchase date waits for its order header.
	if rows := j.ApplyAmazonOrderItem(item("O3", "1", "B1", 1, time.Time{}, "Pending")); rows != nil {
		t.Errorf("undated item emitted %+v", rows)
	}
	rows := j.ApplyAmazonOrder(AmazonOrder{Meta: m(1, t0), MarketplaceID: mkt, OrderID: "O3", PurchaseDate: at("2026-01-06T01:00:00Z")})
	if len(rows) != 1 || rows[0].Day.String() != "2026-01-06" || str(rows[0].AmazonOrders) != "1" {
		t.Errorf("header dates the item: %+v", rows)
	}
	// Canceled: the order no longer counts.
	j.ApplyAmazonOrderItem(item("O2", "1", "B1", 2, p, "Canceled"))
	if r := current(t, j, "amazon:"+mkt+":B1", day("2026-01-05")); str(r.AmazonOrders) != "1" {
		t.Errorf("after cancel %s", str(r.AmazonOrders))
	}
}

// TestAmazonOrderHeaderRestated: lines dated by their header follow the
// header's latest purchase date, whatever the order of arrival; a header
// deleted, or restated without a date, leaves them waiting. (The earlier
// in-memory join kept such lines on the first header's day.)
func TestAmazonOrderHeaderRestated(t *testing.T) {
	header := func(v int64, purchase time.Time, op string) AmazonOrder {
		mt := m(v, t0)
		mt.Op = op
		return AmazonOrder{Meta: mt, MarketplaceID: mkt, OrderID: "O1", PurchaseDate: purchase}
	}
	line := AmazonOrderItem{Meta: m(1, t0), MarketplaceID: mkt, OrderID: "O1", ItemID: "1", ASIN: "B1", OrderStatus: "Pending"}
	k := "amazon:" + mkt + ":B1"
	for _, lineFirst := range []bool{true, false} {
		j := New(Config{})
		if lineFirst {
			j.ApplyAmazonOrderItem(line)
		}
		j.ApplyAmazonOrder(header(1, at("2026-01-05T10:00:00Z"), "update"))
		if !lineFirst {
			j.ApplyAmazonOrderItem(line)
		}
		current(t, j, k, day("2026-01-05"))
		rows := j.ApplyAmazonOrder(header(2, at("2026-01-07T10:00:00Z"), "update"))
		if keysOf(rows)[0] != k+":2026-01-05(deleted)" || current(t, j, k, day("2026-01-07")).AmazonOrders == nil {
			t.Fatalf("line first %v: restated header moves the line: %v", lineFirst, keysOf(rows))
		}
		if rows := j.ApplyAmazonOrder(header(3, time.Time{}, "update")); len(rows) != 1 || !rows[0].Deleted {
			t.Fatalf("a header without a date leaves the line waiting: %v", keysOf(rows))
		}
		j.ApplyAmazonOrder(header(4, at("2026-01-06T10:00:00Z"), "update"))
		current(t, j, k, day("2026-01-06"))
		if rows := j.ApplyAmazonOrder(header(5, time.Time{}, "delete")); len(rows) != 1 || !rows[0].Deleted {
			t.Fatalf("a deleted header leaves the line waiting: %v", keysOf(rows))
		}
		if rows := j.ApplyAmazonOrder(header(4, at("2026-01-08T10:00:00Z"), "update")); rows != nil {
			t.Fatalf("a stale header dated the line: %v", keysOf(rows))
		}
	}
}

func sqpRec(asin, query, kind, start, end string, v, impressions int64) SearchQuery {
	return SearchQuery{Meta: m(v, t0), Key: kind + start + asin + query, MarketplaceID: mkt,
		Period: Period{Kind: kind, Start: day(start), End: day(end), Zone: la}, ASIN: asin,
		Impressions: impressions, Clicks: impressions / 10, Purchases: impressions / 100}
}

func TestSearchQueryPerformanceWeekly(t *testing.T) {
	j := New(Config{})
	link(j, "K1", aref("B1"), aref("B2"))
	// Week Sunday 2026-01-04 .. Saturday 2026-01-10.
	rows := must(j.ApplySearchQuery(sqpRec("B1", "serum", "WEEK", "2026-01-04", "2026-01-10", 1, 1000)))
	if len(rows) != 7 {
		t.Fatalf("weekly figures on %d days, want 7", len(rows))
	}
	must(j.ApplySearchQuery(sqpRec("B1", "vitamin c", "WEEK", "2026-01-04", "2026-01-10", 1, 500)))
	must(j.ApplySearchQuery(sqpRec("B2", "serum", "WEEK", "2026-01-04", "2026-01-10", 1, 200)))
	for d := day("2026-01-04"); d <= day("2026-01-10"); d++ {
		r := current(t, j, "K1", d)
		if str(r.SearchImpressions) != "1700" || str(r.SearchClicks) != "170" || str(r.SearchPurchases) != "17" ||
			r.SearchPeriod == nil || r.SearchPeriod.Kind != "WEEK" || r.SearchPeriod.Start.String() != "2026-01-04" || r.SearchPeriod.End.String() != "2026-01-10" {
			t.Errorf("%s: impressions %s period %+v", d, str(r.SearchImpressions), r.SearchPeriod)
		}
	}
	rec := current(t, j, "K1", day("2026-01-05")).Record()
	if rec["amazon_search_period_start"].(map[string]any)["int.date"].(time.Time).Format(time.DateOnly) != "2026-01-04" {
		t.Errorf("record period start %v", rec["amazon_search_period_start"])
	}
}

// TestSearchPeriodsWeeklyOnly: product_daily carries the Brand Analytics
// week holding the day, never a month or a quarter. Days 2026-01-04..10
// are covered by a week, January and Q1; their rows show the week alone,
// so summing the days of a week's rows gives 7 x the week, not the month
// or quarter on top. 2026-01-20 (no week read) gets no row from the month
// and the quarter: they stay in amazon_search_query_performance and
// amazon_search_terms. The old rule (the shortest period covering a day)
// put January on 2026-01-20, and on rows before a backfill's first week.
func TestSearchPeriodsWeeklyOnly(t *testing.T) {
	j := New(Config{})
	link(j, "K1", aref("B1"))
	term := func(kind, start, end string, rank int64) SearchTerm {
		return SearchTerm{Meta: m(1, t0), Key: kind + start + ":serum", MarketplaceID: mkt,
			Period:     Period{Kind: kind, Start: day(start), End: day(end), Zone: la},
			Department: "Beauty", Term: "serum", FrequencyRank: rank, Clicked: []ClickedASIN{{"B1", 1, 0.5, 0.4}}}
	}
	must(j.ApplySearchQuery(sqpRec("B1", "serum", "QUARTER", "2026-01-01", "2026-03-31", 1, 7_000_000)))
	must(j.ApplySearchQuery(sqpRec("B1", "serum", "MONTH", "2026-01-01", "2026-01-31", 1, 2_000_000)))
	must(j.ApplySearchTerm(term("QUARTER", "2026-01-01", "2026-03-31", 30)))
	must(j.ApplySearchTerm(term("MONTH", "2026-01-01", "2026-01-31", 20)))
	if rows := j.Rows(); len(rows) != 0 {
		t.Fatalf("a month and a quarter made rows: %v", keysOf(rows))
	}
	must(j.ApplySearchQuery(sqpRec("B1", "serum", "WEEK", "2026-01-04", "2026-01-10", 1, 500_000)))
	must(j.ApplySearchTerm(term("WEEK", "2026-01-04", "2026-01-10", 10)))
	var sum int64
	for d := day("2026-01-04"); d <= day("2026-01-10"); d++ {
		r := current(t, j, "K1", d)
		if r.SearchPeriod == nil || r.SearchPeriod.Kind != "WEEK" || str(r.SearchImpressions) != "500000" {
			t.Errorf("%s: impressions %s period %+v, want the week's 500000", d, str(r.SearchImpressions), r.SearchPeriod)
		} else {
			sum += *r.SearchImpressions
		}
		if len(r.SearchTermRanks) != 1 || r.SearchTermRanks[0].FrequencyRank != 10 {
			t.Errorf("%s: terms %+v, want the week's (rank 10)", d, r.SearchTermRanks)
		}
	}
	if sum != 7*500_000 {
		t.Errorf("the week's rows add up to %d impressions, want 7 x 500000", sum)
	}
	for _, r := range j.Rows() {
		if r.Day < day("2026-01-04") || r.Day > day("2026-01-10") {
			t.Errorf("row %s outside the week (a month or quarter day)", r.Key())
		}
	}
}

func TestSearchTerms(t *testing.T) {
	j := New(Config{})
	link(j, "K1", aref("B1"))
	term := func(name string, rank int64, v int64, clicked ...ClickedASIN) SearchTerm {
		return SearchTerm{Meta: m(v, t0), Key: "WEEK:2026-01-04:Beauty:" + name, MarketplaceID: mkt,
			Period:     Period{Kind: "WEEK", Start: day("2026-01-04"), End: day("2026-01-10"), Zone: la},
			Department: "Beauty", Term: name, FrequencyRank: rank, Clicked: clicked}
	}
	must(j.ApplySearchTerm(term("vitamin c serum", 120, 1,
		ClickedASIN{"BCOMP", 1, 0.3, 0.2}, ClickedASIN{"B1", 2, 0.2, 0.25})))
	must(j.ApplySearchTerm(term("serum", 15, 1, ClickedASIN{"B1", 3, 0.05, 0.01})))
	r := current(t, j, "K1", day("2026-01-07"))
	want := []TermRank{
		{Term: "serum", Department: "Beauty", FrequencyRank: 15, ClickShareRank: 3, ClickShare: 0.05, ConversionShare: 0.01},
		{Term: "vitamin c serum", Department: "Beauty", FrequencyRank: 120, ClickShareRank: 2, ClickShare: 0.2, ConversionShare: 0.25},
	}
	if !slices.Equal(r.SearchTermRanks, want) {
		t.Errorf("ranks %+v", r.SearchTermRanks)
	}
	// The competitor's ASIN makes no row.
	for _, row := range j.Rows() {
		if row.ProductKey != "K1" {
			t.Errorf("row for %s", row.ProductKey)
		}
	}
}

// TestSearchTermClickedTwice: a search term that lists one clicked ASIN
// twice lists the term twice on the key's rows, as the report has it (the
// earlier in-memory join panicked on it), and a restatement without the
// repeat takes both out.
func TestSearchTermClickedTwice(t *testing.T) {
	j := New(Config{})
	link(j, "K1", aref("B1"))
	term := SearchTerm{Meta: m(1, t0), Key: "WEEK:2026-01-04:Beauty:serum", MarketplaceID: mkt,
		Period:     Period{Kind: "WEEK", Start: day("2026-01-04"), End: day("2026-01-10"), Zone: la},
		Department: "Beauty", Term: "serum", FrequencyRank: 15,
		Clicked: []ClickedASIN{{"B1", 1, 0.3, 0.2}, {"B1", 2, 0.1, 0.05}}}
	must(j.ApplySearchTerm(term))
	if r := current(t, j, "K1", day("2026-01-07")); len(r.SearchTermRanks) != 2 ||
		r.SearchTermRanks[0].ClickShareRank != 1 || r.SearchTermRanks[1].ClickShareRank != 2 {
		t.Errorf("ranks %+v", r.SearchTermRanks)
	}
	term.Meta, term.Clicked = m(2, t0), []ClickedASIN{{"B1", 1, 0.3, 0.2}}
	must(j.ApplySearchTerm(term))
	if r := current(t, j, "K1", day("2026-01-07")); len(r.SearchTermRanks) != 1 {
		t.Errorf("restated ranks %+v", r.SearchTermRanks)
	}
}

func bsr(asin string, v int64, ts string, ranks ...int64) BestSellersRank {
	return BestSellersRank{Meta: m(v, at(ts)), MarketplaceID: mkt, ASIN: asin, DisplayGroupRanks: ranks}
}

func TestBestSellersRank(t *testing.T) {
	j := New(Config{})
	j.ApplyBestSellersRank(bsr("B1", 1, "2026-01-05T01:00:00Z", 300, 900))
	j.ApplyBestSellersRank(bsr("B1", 2, "2026-01-05T02:00:00Z", 100))
	j.ApplyBestSellersRank(bsr("B1", 4, "2026-01-05T04:00:00Z", 200))
	// Late, lower version: still an observation of the day.
	j.ApplyBestSellersRank(bsr("B1", 3, "2026-01-05T03:00:00Z", 400))
	// Duplicate: ignored.
	if rows := j.ApplyBestSellersRank(bsr("B1", 3, "2026-01-05T03:00:00Z", 400)); rows != nil {
		t.Errorf("duplicate applied %+v", rows)
	}
	// No rank in a snapshot: nothing to observe.
	j.ApplyBestSellersRank(bsr("B1", 5, "2026-01-05T05:00:00Z"))
	r := current(t, j, "amazon:"+mkt+":B1", day("2026-01-05"))
	if str(r.BestSellersRankBest) != "100" || strF(r.BestSellersRankAvg) != "250" {
		t.Errorf("best %s avg %s, want 100 and (300+100+200+400)/4", str(r.BestSellersRankBest), strF(r.BestSellersRankAvg))
	}
	j.ApplyBestSellersRank(BestSellersRank{Meta: del(6, t0), MarketplaceID: mkt, ASIN: "B1"})
	if len(j.Rows()) != 0 {
		t.Errorf("delete left %v", keysOf(j.Rows()))
	}
	if rows := j.ApplyBestSellersRank(bsr("B1", 5, "2026-01-05T05:00:00Z", 1)); rows != nil {
		t.Error("snapshot older than the delete applied")
	}
}

func TestRekeyingAndVersions(t *testing.T) {
	j := New(Config{})
	must(j.ApplySalesTraffic(st("B1", "2026-01-05", 1, 10, 1, "5")))
	j.ApplyTikTokOrder(TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O1", Status: "COMPLETED",
		CreateTime: at("2026-01-05T10:00:00Z"), Lines: []TikTokLine{{SKUID: "P1-1", Currency: "USD", SalePrice: rat("7")}}})
	// Identity links both to one key: the channel-scoped rows are deleted
	// and one joined row appears.
	rows := link(j, "gtin:00887276302195", aref("B1"), tref("P1-1"))
	want := []string{"amazon:" + mkt + ":B1:2026-01-05(deleted)", "gtin:00887276302195:2026-01-05", "tiktok:" + shop + ":P1-1:2026-01-05(deleted)"}
	if got := keysOf(rows); !slices.Equal(got, want) {
		t.Fatalf("re-key emits %v, want %v", got, want)
	}
	r := current(t, j, "gtin:00887276302195", day("2026-01-05"))
	if str(r.AmazonSessions) != "10" || strR(r.TikTokGMV) != "7.0000" || r.Version != 1 {
		t.Errorf("joined row %+v", r)
	}
	// The link changes again (e.g. a conflict appears): back to channel keys,
	// with versions above the deleted rows' ones.
	rows = j.ApplyLinks([]Change{{Link: Link{Ref: aref("B1"), ProductKey: "amazon:" + mkt + ":B1", Unmatched: true},
		PreviousKey: "gtin:00887276302195"}}, m(2, t0))
	if len(rows) != 2 || rows[0].ProductKey != "amazon:"+mkt+":B1" || rows[0].Version != 3 || rows[1].Version != 2 {
		t.Fatalf("second re-key: %+v", rows)
	}
	// A retracted link falls back to the channel-scoped key too.
	rows = j.ApplyLinks([]Change{{Link: Link{Ref: tref("P1-1"), ProductID: "P1", ProductKey: "gtin:00887276302195"}, Deleted: true}}, m(3, t0))
	if got := keysOf(rows); !slices.Equal(got, []string{"gtin:00887276302195:2026-01-05(deleted)", "tiktok:" + shop + ":P1-1:2026-01-05"}) {
		t.Errorf("retracted link: %v", got)
	}
	// The version floor lifts every later version.
	j.SetVersionFloor(1_000_000)
	rows = must(j.ApplySalesTraffic(st("B1", "2026-01-05", 2, 11, 1, "5")))
	if len(rows) != 1 || rows[0].Version != 1_000_000 {
		t.Errorf("floor: %+v", rows)
	}
	rows = must(j.ApplySalesTraffic(st("B1", "2026-01-05", 3, 12, 1, "5")))
	if len(rows) != 1 || rows[0].Version != 1_000_001 {
		t.Errorf("after floor: %+v", rows)
	}
	// An input that changes nothing emits nothing.
	if rows := must(j.ApplySalesTraffic(st("B1", "2026-01-05", 4, 12, 1, "5"))); rows != nil {
		t.Errorf("unchanged row re-emitted: %+v", rows)
	}
}
