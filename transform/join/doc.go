// Package join is the state of the cross-channel join: one row per product
// key and day of the reporting time zone (default UTC), putting TikTok
// attention next to Amazon demand and both channels' orders. It does no
// I/O: package stream feeds it records and produces what it returns.
//
// Every input change returns the rows it changed, each in full with a
// version above the row's last one (xchannel.product_daily, Row.Record). A
// row whose content did not change is not re-emitted. A row that loses all
// its contributions (its product was re-keyed, its facts deleted) is
// emitted once more as a delete with null metrics.
//
// # Keys and identity
//
// Facts name channel products (an ASIN in a marketplace, a TikTok SKU in a
// shop, a TikTok product for video figures). The product key comes from the
// identity links applied with ApplyLinks; a channel product without a link
// uses the channel-scoped key identity gives unmatched products
// (amazon:<marketplace>:<ASIN>, tiktok:<shop>:<SKU>), and video figures of
// a TikTok product none of whose SKUs is linked use
// tiktok:<shop>:product:<product id>. Nothing is dropped. When a link
// changes, the rows under the old and the new key are recomputed.
//
// # Days
//
// Instants (order times, snapshot capture times) fall on their day in the
// reporting zone. Days a source cuts in its own zone (Sales & Traffic and
// Brand Analytics in the marketplace zone, TikTok Shop analytics in the
// shop zone, each recorded in date_time_zone) go whole to the reporting day
// that contains their midpoint, i.e. the one they overlap most; a daily
// figure cannot be split by the hour.
//
// # Rules per source
//
//   - tiktok.video_performance and tiktok.video_engagement: TikTok
//     attention, per video, then credited to product keys (see "TikTok
//     attention" below). products[].gmv is the product's video GMV on the
//     day, credited to its SKUs' keys the same way.
//   - tiktok.orders: by create_time; orders = distinct orders, units =
//     lines (TikTok sends one line per unit), GMV = sum of sale_price.
//     CANCELLED orders count for nothing.
//   - amazon.sales_traffic: sessions, page views, units and sales of the
//     child ASIN (the parent at PARENT granularity), summed over rows.
//   - amazon.search_query_performance: the weekly (Sunday to Saturday)
//     totals of the week holding the day, summed over the ASIN's queries
//     and carried whole on every day of the week together with its
//     bounds; never sum them over days (take one day per week). Monthly
//     and quarterly periods make no row and no figure here: next to the
//     weeks they would be counted twice by any sum over days; they stay
//     queryable in amazon_search_query_performance.
//   - amazon.search_terms: the terms for which one of the key's ASINs is
//     among the top three clicked, for the week holding the day, sorted by
//     search frequency rank (months and quarters as above: only in
//     amazon_search_terms). Clicked ASINs that are not the seller's (no
//     identity link) make no row.
//   - amazon.catalog: each snapshot with a top-level (display group) rank
//     is one observation on the day of its source_ts; the row has the best
//     (lowest) and the mean of the day's observations over the key's ASINs.
//   - amazon.order_items: distinct orders per product by purchase date;
//     Canceled orders count for nothing. Items without a purchase date take
//     it from amazon.orders, and wait for it.
//
// # TikTok attention
//
// Shop analytics (tiktok.video_performance, one record per video and shop
// day) measures a video's views, likes, comments, shares, product
// impressions and clicks per day; the Business API (tiktok.video_engagement)
// reports lifetime totals of views, watch time, saves (favorites), shares,
// likes and comments at each snapshot. Per video:
//
//   - Measured days: every figure a current shop analytics record reports
//     lands on the record's day (converted from the shop zone).
//   - One source per metric, so nothing is counted twice: views, likes,
//     comments and shares come from shop analytics for a video if any of
//     its current records reports that metric (a null is not reported),
//     and from the Business API otherwise. Watch time and saves always come
//     from the Business API; product impressions and clicks only exist in
//     shop analytics.
//   - Business API figures: snapshots count in version order; a delete
//     retracts every snapshot up to it. The first value a video's
//     snapshots report of a metric is its lifetime total so far, never one
//     day's figure: it is spread over the video's life, the days from the
//     post day to the day of that snapshot (source_ts in the reporting
//     zone). The post day is the day of create_time of the latest snapshot
//     that reports one, else of the earliest video_post_time of its current
//     shop analytics records; unknown, or after the snapshot's day, the
//     window is the snapshot's day alone; at most maxSpreadDays (1096) days
//     ending on the snapshot's day. The weight of each day of the window
//     is the views shop analytics measured on it (sum over its records
//     reporting views, a negative figure counting 0) when the video's views
//     come from shop analytics and those weights add up to more than 0;
//     else every day weighs 1. Weighted by views, a day whose views shop
//     analytics did not measure (no current record of the day reporting
//     views: a day before the backfill's first, or not yet published) gets
//     no share at all, not a share of 0, so it makes no row of estimated
//     zeros; the lifetime total lands on the measured days. Spread evenly,
//     every day of the window gets its share, before a backfill's first
//     day too (real estimates). Counts are apportioned by largest remainder:
//     a day gets floor(total x weight / sum of weights), and the units
//     this leaves go one each to the days with the largest remainders
//     (total x weight mod sum), the earlier day first on a tie, so the days
//     add up to the total exactly. Watch time is counted in whole
//     milliseconds throughout (total_time_watched rounded half to even),
//     shown in seconds. A negative first value counts as 0. Every later
//     snapshot that reports the metric adds its growth above the highest
//     value seen so far (never negative; a null keeps the last value) to
//     the day of its source_ts, 0 when it did not grow.
//   - When shop analytics of a day arrive later (a backfill reads days in
//     any order), the weights change, the spread is recomputed and the
//     rows of the window are emitted again.
//   - Keys: the video's figures of a day are credited to the product keys
//     of every SKU of every product its current shop analytics records
//     list (Attribution: full credit to each key by default, or an even
//     split, counts by largest remainder in key order, watch time divided).
//     A video that lists no product (an organic video, or one without shop
//     analytics) counts under its account's key: tiktok:<shop_id>:unlinked
//     when it has shop analytics records (the least shop id if several),
//     else tiktok:<business_id>:unlinked, the business of its latest
//     snapshot. Nothing a video does is dropped.
//   - Provenance: a figure from shop analytics or from the growth between
//     snapshots is measured; a share of a spread first value is estimated.
//     A row's tiktok_attention_provenance is measured, estimated or mixed
//     over every attention figure credited to it (views, watch time, saves,
//     shares, likes, comments, product impressions and clicks, a zero
//     share included), and null when it has none. Video GMV and orders are
//     not attention.
//
// What the rules need per video, all keyed by the video id (the state a
// keyed store would hold per video): its current shop analytics records
// (day, measured figures, post day, shop, products with GMV), and of its
// snapshots only the business id, the latest post day, per metric the
// first value, its day and the highest value seen, and the growth per day.
// Spreads are recomputed from these whenever rows are, never stored. The
// sums of the videos under an unlinked key are kept per key and day
// (attAgg), updated as each video changes.
//
// # Changes, duplicates, order
//
// Each source record is identified by its topic and key. A record with an
// event id or a version not above the last one accepted for its key is a
// duplicate or out of order, and is ignored. A higher version replaces the
// record's earlier contribution (late data and restated days update the
// rows of those days); op delete retracts it. Catalog snapshots are the
// exception: each is its own observation, so a late one still counts,
// unless an ASIN delete with a higher version came first.
//
// Money is never converted: a row whose amounts come in more than one
// currency reports those amounts as null.
package join
