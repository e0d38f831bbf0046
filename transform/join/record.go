package join

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/shopstream/shopstream/schemas"
)

// TopicProductDaily is the topic of joined rows.
const TopicProductDaily = schemas.TopicProductDaily

// Key returns the row's Kafka key, product_key:date.
func (r Row) Key() string { return r.ProductKey + ":" + r.Day.String() }

// op is the row's change operation: create for its first version,
// delete when it lost every contribution, update otherwise.
func (r *Row) op() string {
	switch {
	case r.Deleted:
		return "delete"
	case r.First:
		return "create"
	}
	return "update"
}

// eventID is the row version's deterministic event id.
func (r *Row) eventID() string {
	sum := sha256.Sum256([]byte(r.Key() + "\x00" + strconv.FormatInt(r.Version, 10)))
	return hex.EncodeToString(sum[:16])
}

// Record returns the row as an xchannel.product_daily record in goavro's
// native form. A deleted row has op delete and null metrics, so a
// current-state table marks it deleted.
func (r Row) Record() map[string]any {
	terms := make([]any, 0, len(r.SearchTermRanks))
	for _, t := range r.SearchTermRanks {
		terms = append(terms, map[string]any{
			"search_term":           t.Term,
			"department_name":       schemas.OptString(t.Department),
			"search_frequency_rank": t.FrequencyRank,
			"click_share_rank":      t.ClickShareRank,
			"click_share":           map[string]any{"double": t.ClickShare},
			"conversion_share":      map[string]any{"double": t.ConversionShare},
		})
	}
	var start, end any
	if p := r.SearchPeriod; p != nil {
		start, end = schemas.OptDate(p.Start.Time(), true), schemas.OptDate(p.End.Time(), true)
	}
	return map[string]any{
		"event_id":                      r.eventID(),
		"source":                        "transform",
		"entity":                        "product_daily",
		"op":                            r.op(),
		"source_ts":                     r.Trigger.SourceTS.UTC(),
		"ingest_ts":                     r.Trigger.IngestTS.UTC(),
		"version":                       r.Version,
		"product_key":                   r.ProductKey,
		"date":                          r.Day.Time(),
		"date_time_zone":                r.Zone,
		"tiktok_views":                  schemas.OptLong(r.TikTokViews),
		"tiktok_watch_time_seconds":     schemas.OptDouble(r.TikTokWatchTimeSeconds),
		"tiktok_saves":                  schemas.OptLong(r.TikTokSaves),
		"tiktok_shares":                 schemas.OptLong(r.TikTokShares),
		"tiktok_likes":                  schemas.OptLong(r.TikTokLikes),
		"tiktok_comments":               schemas.OptLong(r.TikTokComments),
		"tiktok_product_impressions":    schemas.OptLong(r.TikTokProductImpressions),
		"tiktok_product_clicks":         schemas.OptLong(r.TikTokProductClicks),
		"tiktok_attention_provenance":   schemas.OptString(r.TikTokAttentionProvenance),
		"tiktok_currency":               schemas.OptString(r.TikTokCurrency),
		"tiktok_video_gmv":              schemas.OptDecimal(r.TikTokVideoGMV),
		"tiktok_orders":                 schemas.OptLong(r.TikTokOrders),
		"tiktok_units":                  schemas.OptLong(r.TikTokUnits),
		"tiktok_gmv":                    schemas.OptDecimal(r.TikTokGMV),
		"amazon_search_period_start":    start,
		"amazon_search_period_end":      end,
		"amazon_search_impressions":     schemas.OptLong(r.SearchImpressions),
		"amazon_search_clicks":          schemas.OptLong(r.SearchClicks),
		"amazon_search_purchases":       schemas.OptLong(r.SearchPurchases),
		"amazon_search_term_ranks":      terms,
		"amazon_best_sellers_rank_best": schemas.OptLong(r.BestSellersRankBest),
		"amazon_best_sellers_rank_avg":  schemas.OptDouble(r.BestSellersRankAvg),
		"amazon_sessions":               schemas.OptLong(r.AmazonSessions),
		"amazon_page_views":             schemas.OptLong(r.AmazonPageViews),
		"amazon_units":                  schemas.OptLong(r.AmazonUnits),
		"amazon_currency":               schemas.OptString(r.AmazonCurrency),
		"amazon_sales":                  schemas.OptDecimal(r.AmazonSales),
		"amazon_orders":                 schemas.OptLong(r.AmazonOrders),
	}
}
