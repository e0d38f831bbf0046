package join

import (
	"math/big"
	"time"
)

// Meta is the change metadata every input record carries.
type Meta struct {
	EventID  string
	Op       string // create, update, delete or snapshot
	SourceTS time.Time
	IngestTS time.Time
	Version  int64
}

func (m Meta) deleted() bool { return m.Op == "delete" }

// ZonedDay is a day as a source cut it, in the source's zone.
type ZonedDay struct {
	Day  Day
	Zone string // IANA zone
}

// BestSellersRank is one amazon.catalog snapshot's sales ranks. Key:
// marketplace_id:asin.
type BestSellersRank struct {
	Meta
	MarketplaceID, ASIN string
	// DisplayGroupRanks are the top-level (website display group) ranks.
	DisplayGroupRanks []int64
}

// SalesTraffic is an amazon.sales_traffic row. Key:
// marketplace_id:date:parent_asin:child_asin:sku.
type SalesTraffic struct {
	Meta
	Key           string
	MarketplaceID string
	Date          ZonedDay
	ASIN          string // child ASIN, or the parent at PARENT granularity
	SellerSKU     string // set at SKU granularity
	Sessions      int64
	PageViews     int64
	Units         int64
	Currency      string
	Sales         *big.Rat
}

// Period is a Brand Analytics reporting period; Start and End are
// inclusive days in Zone.
type Period struct {
	Kind       string // DAY, WEEK, MONTH, QUARTER
	Start, End Day
	Zone       string
}

// SearchQuery is an amazon.search_query_performance row. Key:
// marketplace_id:report_period:start_date:asin:search_query.
type SearchQuery struct {
	Meta
	Key           string
	MarketplaceID string
	Period        Period
	ASIN          string
	Impressions   int64
	Clicks        int64
	Purchases     int64
}

// ClickedASIN is one of a search term's top clicked ASINs.
type ClickedASIN struct {
	ASIN            string
	ClickShareRank  int64
	ClickShare      float64
	ConversionShare float64
}

// SearchTerm is an amazon.search_terms row. Key:
// marketplace_id:report_period:start_date:department_name:search_term.
type SearchTerm struct {
	Meta
	Key           string
	MarketplaceID string
	Period        Period
	Department    string
	Term          string
	FrequencyRank int64
	Clicked       []ClickedASIN
}

// AmazonOrder is the part of an amazon.orders header the join needs: the
// purchase date for items that lack it. Key: marketplace_id:amazon_order_id.
type AmazonOrder struct {
	Meta
	MarketplaceID, OrderID string
	PurchaseDate           time.Time
}

// AmazonOrderItem is an amazon.order_items line. Key:
// marketplace_id:amazon_order_id:order_item_id.
type AmazonOrderItem struct {
	Meta
	MarketplaceID, OrderID, ItemID string
	ASIN, SellerSKU                string
	PurchaseDate                   time.Time // zero when the record has none
	OrderStatus                    string
}

// TikTokLine is one line item of a TikTok order: one unit.
type TikTokLine struct {
	ProductID, SKUID string
	Currency         string
	SalePrice        *big.Rat // nil when not reported
}

// TikTokOrder is a tiktok.orders record. Key: shop_id:order_id.
type TikTokOrder struct {
	Meta
	ShopID, OrderID string
	Status          string
	CreateTime      time.Time
	Currency        string // payment currency, used when a line has none
	Lines           []TikTokLine
}

// VideoProduct is a product shown in a video, with its sales through it.
type VideoProduct struct {
	ProductID string
	GMV       *big.Rat
}

// VideoPerformance is a tiktok.video_performance record; a nil metric was
// not reported. Key: shop_id:video_id:date.
type VideoPerformance struct {
	Meta
	ShopID, VideoID    string
	Date               ZonedDay
	Currency           string
	PostTime           time.Time // video_post_time, zero when not reported
	Views, Likes       *int64
	Comments, Shares   *int64
	ProductImpressions *int64
	ProductClicks      *int64
	Products           []VideoProduct
}

// VideoEngagement is a tiktok.video_engagement lifetime snapshot; a nil
// metric was not reported by this snapshot. Key: business_id:item_id.
type VideoEngagement struct {
	Meta
	BusinessID, ItemID string
	CreateTime         time.Time // when the video was posted, zero when not reported
	Views, Likes       *int64
	Comments, Shares   *int64
	Saves              *int64 // favorites
	WatchTimeSeconds   *float64
}
