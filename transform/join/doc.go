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
//   - tiktok.video_engagement: lifetime snapshots become daily deltas per
//     video: growth above the highest value seen, never negative, on the
//     day of the snapshot; a metric a snapshot omits (null) keeps its last
//     value; the first snapshot counts in full on its day, so a video's
//     days add up to its lifetime totals. Views, watch time, saves, shares,
//     likes and comments are credited to the product keys of the products
//     tiktok.video_performance shows in the video (Attribution: full credit
//     to each key by default, or an even split). A video's product keys are
//     those of every SKU of every product it shows.
//   - tiktok.video_performance: products[].gmv is the product's video GMV
//     on the day, credited to its SKUs' keys the same way. It is also the
//     only source of the video-to-product link.
//   - tiktok.orders: by create_time; orders = distinct orders, units =
//     lines (TikTok sends one line per unit), GMV = sum of sale_price.
//     CANCELLED orders count for nothing.
//   - amazon.sales_traffic: sessions, page views, units and sales of the
//     child ASIN (the parent at PARENT granularity), summed over rows.
//   - amazon.search_query_performance: weekly (monthly, quarterly) totals,
//     summed over the ASIN's queries and carried whole on every day of the
//     period together with its bounds; never sum them over days. A day
//     covered by periods of several kinds shows the shortest one.
//   - amazon.search_terms: the terms for which one of the key's ASINs is
//     among the top three clicked, for the period covering the day (the
//     shortest if several), sorted by search frequency rank. Clicked ASINs
//     that are not the seller's (no identity link) make no row.
//   - amazon.catalog: each snapshot with a top-level (display group) rank
//     is one observation on the day of its source_ts; the row has the best
//     (lowest) and the mean of the day's observations over the key's ASINs.
//   - amazon.order_items: distinct orders per product by purchase date;
//     Canceled orders count for nothing. Items without a purchase date take
//     it from amazon.orders, and wait for it.
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
