package join

import (
	"math/big"
	"testing"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// record builds a record of topic that goavro accepts: every field without
// a default gets a zero value of its type, then set overrides some. It is
// encoded and decoded with the topic's schema, so the join reads exactly
// the native form a consumer gets.
func record(t *testing.T, topic string, set map[string]any) map[string]any {
	t.Helper()
	rec, err := schematest.Fill(topic, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		rec[k] = v
	}
	codec, err := schemas.NewCodec(topic)
	if err != nil {
		t.Fatal(err)
	}
	_, back := schematest.RoundTrip(t, codec, rec)
	return back
}

func str1(s string) map[string]any { return map[string]any{"string": s} }

func TestApplyRecordEveryTopic(t *testing.T) {
	j := New(Config{})
	d := day("2026-01-05").Time()
	ts := at("2026-01-05T12:00:00Z")
	base := func(v int64, extra map[string]any) map[string]any {
		m := map[string]any{"event_id": "e" + extra["_id"].(string), "op": "update", "version": v, "source_ts": ts, "ingest_ts": ts}
		for k, x := range extra {
			if k != "_id" {
				m[k] = x
			}
		}
		return m
	}
	link(j, "K1", aref("B1"), tref("P1-1"))
	steps := []struct {
		topic string
		rec   map[string]any
	}{
		{TopicAmazonCatalog, base(1, map[string]any{"_id": "c", "marketplace_id": mkt, "asin": "B1",
			"display_group_ranks": []any{map[string]any{"website_display_group": "g", "title": "G", "rank": int64(42)}}})},
		{TopicAmazonSalesTraffic, base(1, map[string]any{"_id": "s", "marketplace_id": mkt, "date": d, "date_time_zone": la,
			"asin_granularity": "CHILD", "parent_asin": "BP", "child_asin": str1("B1"), "currency_code": "USD",
			"ordered_product_sales": big.NewRat(1999, 100), "units_ordered": int64(1), "sessions": int64(7), "page_views": int64(9)})},
		{TopicAmazonSearchQuery, base(1, map[string]any{"_id": "q", "marketplace_id": mkt, "report_period": "WEEK",
			"start_date": day("2026-01-04").Time(), "end_date": day("2026-01-10").Time(), "date_time_zone": la, "asin": "B1",
			"search_query": "serum", "asin_impression_count": int64(100), "asin_click_count": int64(10), "asin_purchase_count": int64(1)})},
		{TopicAmazonSearchTerms, base(1, map[string]any{"_id": "t", "marketplace_id": mkt, "report_period": "WEEK",
			"start_date": day("2026-01-04").Time(), "end_date": day("2026-01-10").Time(), "date_time_zone": la,
			"department_name": "Beauty", "search_term": "serum", "search_frequency_rank": int64(5),
			"clicked_asins": []any{map[string]any{"clicked_asin": "B1", "click_share_rank": int64(1), "click_share": 0.5, "conversion_share": 0.4}}})},
		{TopicAmazonOrderItems, base(1, map[string]any{"_id": "i", "marketplace_id": mkt, "amazon_order_id": "O1",
			"order_item_id": "1", "asin": "B1", "quantity_ordered": int64(1)})},
		{TopicAmazonOrders, base(1, map[string]any{"_id": "o", "marketplace_id": mkt, "amazon_order_id": "O1",
			"purchase_date": ts, "last_update_date": ts, "order_status": "Unshipped"})},
		{TopicTikTokOrders, base(1, map[string]any{"_id": "to", "shop_id": shop, "order_id": "T1", "status": "COMPLETED",
			"create_time": ts, "update_time": ts, "payment_currency": str1("USD"),
			"line_items": []any{map[string]any{"id": "l1", "product_id": "P1", "sku_id": "P1-1",
				"sale_price": map[string]any{"bytes.decimal": big.NewRat(5, 1)}}}})},
		{TopicTikTokVideoPerf, base(1, map[string]any{"_id": "vp", "shop_id": shop, "video_id": "V1", "date": d,
			"date_time_zone": la, "currency": "USD", "views": map[string]any{"long": int64(800)},
			"likes": map[string]any{"long": int64(40)}, "comments": map[string]any{"long": int64(4)},
			"shares": map[string]any{"long": int64(2)}, "product_impressions": map[string]any{"long": int64(500)},
			"product_clicks": map[string]any{"long": int64(25)},
			"products":       []any{map[string]any{"product_id": "P1", "gmv": map[string]any{"bytes.decimal": big.NewRat(3, 1)}}}})},
		{TopicTikTokEngagement, base(1, map[string]any{"_id": "ve", "business_id": "biz", "item_id": "V1",
			"create_time": map[string]any{"long.timestamp-millis": at("2026-01-04T20:00:00Z")},
			"video_views": map[string]any{"long": int64(1000)}, "favorites": map[string]any{"long": int64(12)},
			"total_time_watched": map[string]any{"double": 321.5}})},
	}
	for _, s := range steps {
		if _, err := j.ApplyRecord(s.topic, record(t, s.topic, s.rec)); err != nil {
			t.Fatalf("%s: %v", s.topic, err)
		}
	}
	r := current(t, j, "K1", day("2026-01-05"))
	checks := map[string][2]string{
		"bsr":         {str(r.BestSellersRankBest), "42"},
		"sessions":    {str(r.AmazonSessions), "7"},
		"sales":       {strR(r.AmazonSales), "19.9900"},
		"impressions": {str(r.SearchImpressions), "100"},
		"amz orders":  {str(r.AmazonOrders), "1"},
		"tt orders":   {str(r.TikTokOrders), "1"},
		"tt gmv":      {strR(r.TikTokGMV), "5.0000"},
		"video gmv":   {strR(r.TikTokVideoGMV), "3.0000"},
		// Views, likes, comments and shares measured by the shop (the
		// snapshot's 1000 views not counted again); saves and watch time
		// spread from the post day by measured views: all on 01-05.
		"views":          {str(r.TikTokViews), "800"},
		"likes":          {str(r.TikTokLikes), "40"},
		"comments":       {str(r.TikTokComments), "4"},
		"shares":         {str(r.TikTokShares), "2"},
		"tt impressions": {str(r.TikTokProductImpressions), "500"},
		"tt clicks":      {str(r.TikTokProductClicks), "25"},
		"saves":          {str(r.TikTokSaves), "12"},
		"watch":          {strF(r.TikTokWatchTimeSeconds), "321.5"},
		"provenance":     {r.TikTokAttentionProvenance, "mixed"},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %s, want %s", name, c[0], c[1])
		}
	}
	if len(r.SearchTermRanks) != 1 || r.SearchTermRanks[0].Term != "serum" {
		t.Errorf("terms %+v", r.SearchTermRanks)
	}
	// The post day (create_time) opens the window: 01-04, no views
	// measured, gets no share (its row is the search week's alone).
	if r := current(t, j, "K1", day("2026-01-04")); r.TikTokSaves != nil || r.TikTokAttentionProvenance != "" || str(r.SearchImpressions) != "100" {
		t.Errorf("post day: saves %s provenance %q impressions %s", str(r.TikTokSaves), r.TikTokAttentionProvenance, str(r.SearchImpressions))
	}

	// Records that cannot be read are errors, and change nothing.
	if _, err := j.ApplyRecord(TopicAmazonSalesTraffic, map[string]any{"event_id": "x"}); err == nil {
		t.Error("broken record accepted")
	}
	if _, err := j.ApplyRecord("nope", nil); err == nil {
		t.Error("unknown topic accepted")
	}
}
