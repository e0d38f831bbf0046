package join

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/internal/native"
)

// TopicProductDaily is the topic of joined rows.
const TopicProductDaily = schemas.TopicProductDaily

// Key returns the row's Kafka key, product_key:date.
func (r Row) Key() string { return r.ProductKey + ":" + r.Day.String() }

// Record returns the row as an xchannel.product_daily record in goavro's
// native form. A deleted row has op delete and null metrics, so a
// current-state table marks it deleted.
func (r Row) Record() map[string]any {
	op := "update"
	switch {
	case r.Deleted:
		op = "delete"
	case r.First:
		op = "create"
	}
	sum := sha256.Sum256([]byte(r.Key() + "\x00" + strconv.FormatInt(r.Version, 10)))
	terms := make([]any, 0, len(r.SearchTermRanks))
	for _, t := range r.SearchTermRanks {
		terms = append(terms, map[string]any{
			"search_term":           t.Term,
			"department_name":       native.OptStr(t.Department),
			"search_frequency_rank": t.FrequencyRank,
			"click_share_rank":      t.ClickShareRank,
			"click_share":           map[string]any{"double": t.ClickShare},
			"conversion_share":      map[string]any{"double": t.ConversionShare},
		})
	}
	var start, end any
	if p := r.SearchPeriod; p != nil {
		start, end = native.OptDate(p.Start.Time(), true), native.OptDate(p.End.Time(), true)
	}
	return map[string]any{
		"event_id":                      hex.EncodeToString(sum[:16]),
		"source":                        "transform",
		"entity":                        "product_daily",
		"op":                            op,
		"source_ts":                     r.Trigger.SourceTS.UTC(),
		"ingest_ts":                     r.Trigger.IngestTS.UTC(),
		"version":                       r.Version,
		"product_key":                   r.ProductKey,
		"date":                          r.Day.Time(),
		"date_time_zone":                r.Zone,
		"tiktok_views":                  native.OptLongPtr(r.TikTokViews),
		"tiktok_watch_time_seconds":     native.OptDoublePtr(r.TikTokWatchTimeSeconds),
		"tiktok_saves":                  native.OptLongPtr(r.TikTokSaves),
		"tiktok_shares":                 native.OptLongPtr(r.TikTokShares),
		"tiktok_likes":                  native.OptLongPtr(r.TikTokLikes),
		"tiktok_comments":               native.OptLongPtr(r.TikTokComments),
		"tiktok_product_impressions":    native.OptLongPtr(r.TikTokProductImpressions),
		"tiktok_product_clicks":         native.OptLongPtr(r.TikTokProductClicks),
		"tiktok_attention_provenance":   native.OptStr(r.TikTokAttentionProvenance),
		"tiktok_currency":               native.OptStr(r.TikTokCurrency),
		"tiktok_video_gmv":              native.OptDec(r.TikTokVideoGMV),
		"tiktok_orders":                 native.OptLongPtr(r.TikTokOrders),
		"tiktok_units":                  native.OptLongPtr(r.TikTokUnits),
		"tiktok_gmv":                    native.OptDec(r.TikTokGMV),
		"amazon_search_period_start":    start,
		"amazon_search_period_end":      end,
		"amazon_search_impressions":     native.OptLongPtr(r.SearchImpressions),
		"amazon_search_clicks":          native.OptLongPtr(r.SearchClicks),
		"amazon_search_purchases":       native.OptLongPtr(r.SearchPurchases),
		"amazon_search_term_ranks":      terms,
		"amazon_best_sellers_rank_best": native.OptLongPtr(r.BestSellersRankBest),
		"amazon_best_sellers_rank_avg":  native.OptDoublePtr(r.BestSellersRankAvg),
		"amazon_sessions":               native.OptLongPtr(r.AmazonSessions),
		"amazon_page_views":             native.OptLongPtr(r.AmazonPageViews),
		"amazon_units":                  native.OptLongPtr(r.AmazonUnits),
		"amazon_currency":               native.OptStr(r.AmazonCurrency),
		"amazon_sales":                  native.OptDec(r.AmazonSales),
		"amazon_orders":                 native.OptLongPtr(r.AmazonOrders),
	}
}
