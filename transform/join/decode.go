package join

import (
	"fmt"
	"strings"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/internal/native"
)

// Input topics of the join.
const (
	TopicAmazonCatalog      = schemas.TopicAmazonCatalog
	TopicAmazonSalesTraffic = schemas.TopicAmazonSalesTraffic
	TopicAmazonSearchQuery  = schemas.TopicAmazonSearchQueryPerformance
	TopicAmazonSearchTerms  = schemas.TopicAmazonSearchTerms
	TopicAmazonOrders       = schemas.TopicAmazonOrders
	TopicAmazonOrderItems   = schemas.TopicAmazonOrderItems
	TopicTikTokOrders       = schemas.TopicTikTokOrders
	TopicTikTokVideoPerf    = schemas.TopicTikTokVideoPerformance
	TopicTikTokEngagement   = schemas.TopicTikTokVideoEngagement
)

// InputTopics lists the topics ApplyRecord understands.
func InputTopics() []string {
	return []string{TopicAmazonCatalog, TopicAmazonSalesTraffic, TopicAmazonSearchQuery, TopicAmazonSearchTerms,
		TopicAmazonOrders, TopicAmazonOrderItems, TopicTikTokOrders, TopicTikTokVideoPerf, TopicTikTokEngagement}
}

// Fact is an input record read into its type: BestSellersRank,
// SalesTraffic, SearchQuery, SearchTerm, AmazonOrder, AmazonOrderItem,
// TikTokOrder, VideoPerformance or VideoEngagement.
type Fact interface{ meta() Meta }

func (m Meta) meta() Meta { return m }

// ReadRecord reads a record of one of InputTopics (goavro native form)
// into its Fact. An error means the record cannot be used.
func ReadRecord(topic string, rec map[string]any) (Fact, error) {
	return ReadNative(topic, native.Wrap(rec))
}

// ReadNative is ReadRecord for a record read through package native: a
// goavro map, or Avro binary decoded by a native.Plan. r must not have
// failed a read yet.
func ReadNative(topic string, r *native.Record) (Fact, error) {
	m := meta(r)
	fail := func() (Fact, error) { return nil, fmt.Errorf("join: %s record: %w", topic, r.Err()) }
	switch topic {
	case TopicAmazonCatalog:
		s := BestSellersRank{Meta: m, MarketplaceID: r.String("marketplace_id"), ASIN: r.String("asin")}
		for _, g := range r.Array("display_group_ranks") {
			s.DisplayGroupRanks = append(s.DisplayGroupRanks, g.Long("rank"))
			r.Sub("display_group_ranks", g)
		}
		if r.Err() != nil {
			return fail()
		}
		return s, nil
	case TopicAmazonSalesTraffic:
		s := SalesTraffic{Meta: m, MarketplaceID: r.String("marketplace_id"),
			Date: ZonedDay{DayFromDate(r.Time("date")), r.String("date_time_zone")},
			ASIN: r.OptString("child_asin"), SellerSKU: r.OptString("sku"),
			Sessions: r.Long("sessions"), PageViews: r.Long("page_views"), Units: r.Long("units_ordered"),
			Currency: r.String("currency_code"), Sales: r.Decimal("ordered_product_sales")}
		parent := r.String("parent_asin")
		if s.ASIN == "" {
			s.ASIN = parent
		}
		s.Key = strings.Join([]string{s.MarketplaceID, s.Date.Day.String(), parent, r.OptString("child_asin"), s.SellerSKU}, ":")
		if r.Err() != nil {
			return fail()
		}
		return s, nil
	case TopicAmazonSearchQuery:
		s := SearchQuery{Meta: m, MarketplaceID: r.String("marketplace_id"), Period: period(r), ASIN: r.String("asin"),
			Impressions: r.Long("asin_impression_count"), Clicks: r.Long("asin_click_count"), Purchases: r.Long("asin_purchase_count")}
		s.Key = strings.Join([]string{s.MarketplaceID, s.Period.Kind, s.Period.Start.String(), s.ASIN, r.String("search_query")}, ":")
		if r.Err() != nil {
			return fail()
		}
		return s, nil
	case TopicAmazonSearchTerms:
		s := SearchTerm{Meta: m, MarketplaceID: r.String("marketplace_id"), Period: period(r),
			Department: r.String("department_name"), Term: r.String("search_term"), FrequencyRank: r.Long("search_frequency_rank")}
		for _, c := range r.Array("clicked_asins") {
			s.Clicked = append(s.Clicked, ClickedASIN{ASIN: c.String("clicked_asin"), ClickShareRank: c.Long("click_share_rank"),
				ClickShare: c.Double("click_share"), ConversionShare: c.Double("conversion_share")})
			r.Sub("clicked_asins", c)
		}
		s.Key = strings.Join([]string{s.MarketplaceID, s.Period.Kind, s.Period.Start.String(), s.Department, s.Term}, ":")
		if r.Err() != nil {
			return fail()
		}
		return s, nil
	case TopicAmazonOrders:
		o := AmazonOrder{Meta: m, MarketplaceID: r.String("marketplace_id"), OrderID: r.String("amazon_order_id"),
			PurchaseDate: r.Time("purchase_date")}
		if r.Err() != nil {
			return fail()
		}
		return o, nil
	case TopicAmazonOrderItems:
		it := AmazonOrderItem{Meta: m, MarketplaceID: r.String("marketplace_id"), OrderID: r.String("amazon_order_id"),
			ItemID: r.String("order_item_id"), ASIN: r.String("asin"), SellerSKU: r.OptString("seller_sku"),
			OrderStatus: r.OptString("order_status")}
		it.PurchaseDate, _ = r.OptTime("purchase_date")
		if r.Err() != nil {
			return fail()
		}
		return it, nil
	case TopicTikTokOrders:
		o := TikTokOrder{Meta: m, ShopID: r.String("shop_id"), OrderID: r.String("order_id"), Status: r.String("status"),
			CreateTime: r.Time("create_time"), Currency: r.OptString("payment_currency")}
		for _, l := range r.Array("line_items") {
			o.Lines = append(o.Lines, TikTokLine{ProductID: l.String("product_id"), SKUID: l.String("sku_id"),
				Currency: l.OptString("currency"), SalePrice: l.OptDecimal("sale_price")})
			r.Sub("line_items", l)
		}
		if r.Err() != nil {
			return fail()
		}
		return o, nil
	case TopicTikTokVideoPerf:
		v := VideoPerformance{Meta: m, ShopID: r.String("shop_id"), VideoID: r.String("video_id"),
			Date: ZonedDay{DayFromDate(r.Time("date")), r.String("date_time_zone")}, Currency: r.String("currency"),
			Views: optLong(r, "views"), Likes: optLong(r, "likes"), Comments: optLong(r, "comments"), Shares: optLong(r, "shares"),
			ProductImpressions: optLong(r, "product_impressions"), ProductClicks: optLong(r, "product_clicks")}
		v.PostTime, _ = r.OptTime("video_post_time")
		for _, p := range r.Array("products") {
			v.Products = append(v.Products, VideoProduct{ProductID: p.String("product_id"), GMV: p.OptDecimal("gmv")})
			r.Sub("products", p)
		}
		if r.Err() != nil {
			return fail()
		}
		return v, nil
	case TopicTikTokEngagement:
		e := VideoEngagement{Meta: m, BusinessID: r.String("business_id"), ItemID: r.String("item_id"),
			Views: optLong(r, "video_views"), Likes: optLong(r, "likes"), Comments: optLong(r, "comments"),
			Shares: optLong(r, "shares"), Saves: optLong(r, "favorites")}
		e.CreateTime, _ = r.OptTime("create_time")
		if w, ok := r.OptDouble("total_time_watched"); ok {
			e.WatchTimeSeconds = &w
		}
		if r.Err() != nil {
			return fail()
		}
		return e, nil
	}
	return nil, fmt.Errorf("join: topic %q is not an input of the join", topic)
}

// meta reads the change metadata every record starts with.
func meta(r *native.Record) Meta {
	return Meta{EventID: r.String("event_id"), Op: internOp(r.String("op")), SourceTS: r.Time("source_ts"),
		IngestTS: r.Time("ingest_ts"), Version: r.Long("version")}
}

// internOp returns a known op as a constant: a change's metadata is kept
// as the trigger of the rows it emitted, and should not keep the decoded
// string.
func internOp(op string) string {
	for _, c := range [...]string{"create", "update", "delete", "snapshot"} {
		if op == c {
			return c
		}
	}
	return op
}

func period(r *native.Record) Period {
	return Period{Kind: r.String("report_period"), Start: DayFromDate(r.Time("start_date")),
		End: DayFromDate(r.Time("end_date")), Zone: r.String("date_time_zone")}
}

func optLong(r *native.Record, field string) *int64 {
	if v, ok := r.OptLong(field); ok {
		return &v
	}
	return nil
}

// ReadMeta reads the change metadata every record starts with.
func ReadMeta(rec map[string]any) (Meta, error) {
	return ReadNativeMeta(native.Wrap(rec))
}

// ReadNativeMeta is ReadMeta for a record read through package native.
func ReadNativeMeta(r *native.Record) (Meta, error) {
	m := meta(r)
	if err := r.Err(); err != nil {
		return Meta{}, fmt.Errorf("join: change metadata: %w", err)
	}
	return m, nil
}
