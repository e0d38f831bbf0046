-- The cross-channel join per (product_key, day), written as plain SQL over
-- the raw change tables, from the rules in the doc of package join. The
-- reporting zone is UTC. ZDAY(date, zone) is expanded by the test into a
-- multiIf over the source zones (ClickHouse wants constant zone names): the
-- UTC day holding the midpoint of the source zone's day. EVEN_SPLIT is
-- replaced by true under join.EvenSplit, false under full credit.
--
-- Product keys come from product_links (checked separately against the raw
-- catalog and product tables by identity.sql): a channel product without a
-- link keeps its channel-scoped key.
WITH
links AS (
    SELECT channel, ifNull(marketplace_id, shop_id) AS account, ifNull(asin, sku_id) AS id,
           ifNull(product_id, '') AS product_id, product_key
    FROM product_links FINAL
    WHERE is_deleted = 0
),
amazon_links AS (SELECT account, id, product_key FROM links WHERE channel = 'amazon'),
tiktok_links AS (SELECT account, id, product_key FROM links WHERE channel = 'tiktok'),
-- The product keys of a TikTok product: those of its SKUs.
product_keys AS (
    SELECT account AS shop_id, product_id, groupUniqArray(product_key) AS keys
    FROM links WHERE channel = 'tiktok' AND product_id != ''
    GROUP BY account, product_id
),

-- Sales & Traffic: the latest version per key, deletes dropped.
sales AS (
    SELECT marketplace_id, ifNull(child_asin, parent_asin) AS asin, ZDAY(date, date_time_zone) AS day,
           sessions, page_views, units_ordered, ordered_product_sales, currency_code
    FROM (SELECT * FROM amazon_sales_traffic_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
),
-- Search Query Performance: the latest version per key, carried whole on
-- every day of its period; a day shows the best period (the shortest, then
-- the latest start), summed over the key's ASINs and queries.
sqp_days AS (
    SELECT marketplace_id, asin, report_period, ZDAY(start_date, date_time_zone) AS p_start,
           ZDAY(end_date, date_time_zone) AS p_end,
           arrayJoin(arrayMap(i -> ZDAY(addDays(start_date, i), date_time_zone), range(toUInt32(dateDiff('day', start_date, end_date)) + 1))) AS day,
           asin_impression_count, asin_click_count, asin_purchase_count
    FROM (SELECT * FROM amazon_search_query_performance_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
),
sqp_periods AS (
    SELECT ifNull(l.product_key, concat('amazon:', s.marketplace_id, ':', s.asin)) AS product_key, s.day AS day,
           s.report_period AS report_period, s.p_start AS p_start, s.p_end AS p_end,
           sum(s.asin_impression_count) AS impressions, sum(s.asin_click_count) AS clicks,
           sum(s.asin_purchase_count) AS purchases
    FROM sqp_days AS s LEFT JOIN amazon_links AS l ON l.account = s.marketplace_id AND l.id = s.asin
    GROUP BY product_key, day, report_period, p_start, p_end
),
sqp AS (
    SELECT product_key, day, p_start, p_end, impressions, clicks, purchases
    FROM sqp_periods
    ORDER BY product_key, day,
             indexOf(['DAY', 'WEEK', 'MONTH', 'QUARTER'], report_period) = 0,
             indexOf(['DAY', 'WEEK', 'MONTH', 'QUARTER'], report_period), p_start DESC, p_end
    LIMIT 1 BY product_key, day
),
-- Search terms: the latest version per key, listed on every day of its
-- period for each clicked ASIN that has a link (a competitor's makes no
-- row); a day shows the terms of its best period, sorted by frequency
-- rank, term, department, click share rank, click share, conversion share.
term_days AS (
    SELECT marketplace_id, report_period, ZDAY(start_date, date_time_zone) AS p_start, ZDAY(end_date, date_time_zone) AS p_end,
           arrayJoin(arrayMap(i -> ZDAY(addDays(start_date, i), date_time_zone), range(toUInt32(dateDiff('day', start_date, end_date)) + 1))) AS day,
           search_term, department_name, search_frequency_rank, asin, click_share_rank, click_share, conversion_share
    FROM (SELECT * FROM amazon_search_terms_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    ARRAY JOIN `clicked_asins.clicked_asin` AS asin, `clicked_asins.click_share_rank` AS click_share_rank,
               `clicked_asins.click_share` AS click_share, `clicked_asins.conversion_share` AS conversion_share
    WHERE op != 'delete'
),
term_rows AS (
    SELECT l.product_key AS product_key, t.*
    FROM term_days AS t JOIN amazon_links AS l ON l.account = t.marketplace_id AND l.id = t.asin
),
term_best AS (
    SELECT product_key, day, report_period, p_start, p_end FROM term_rows
    ORDER BY product_key, day,
             indexOf(['DAY', 'WEEK', 'MONTH', 'QUARTER'], report_period) = 0,
             indexOf(['DAY', 'WEEK', 'MONTH', 'QUARTER'], report_period), p_start DESC, p_end
    LIMIT 1 BY product_key, day
),
terms AS (
    SELECT t.product_key AS term_key, t.day AS term_day,
           arrayStringConcat(arrayMap(x -> concat(x.2, '/', x.3, '/', toString(x.1), '/', toString(x.4), '/',
                                                  toString(round(x.5, 6)), '/', toString(round(x.6, 6))),
               arraySort(groupArray((t.search_frequency_rank, t.search_term, t.department_name, t.click_share_rank,
                                     t.click_share, t.conversion_share)))), '; ') AS search_terms
    FROM term_rows AS t JOIN term_best AS b
        ON b.product_key = t.product_key AND b.day = t.day AND b.report_period = t.report_period
        AND b.p_start = t.p_start AND b.p_end = t.p_end
    GROUP BY t.product_key, t.day
),
-- Best sellers rank: every snapshot is an observation (the best of its
-- display group ranks) on the UTC day of its source_ts, unless a delete of
-- the ASIN with a higher version exists; one per version.
tombs AS (
    SELECT marketplace_id, asin, max(version) AS tomb FROM amazon_catalog_changes WHERE op = 'delete'
    GROUP BY marketplace_id, asin
),
bsr AS (
    SELECT c.marketplace_id AS marketplace_id, c.asin AS asin, toDate32(c.source_ts) AS day,
           arrayMin(c.`display_group_ranks.rank`) AS rank
    FROM amazon_catalog_changes AS c LEFT JOIN tombs AS t ON t.marketplace_id = c.marketplace_id AND t.asin = c.asin
    WHERE c.op != 'delete' AND length(c.`display_group_ranks.rank`) > 0 AND c.version > ifNull(t.tomb, 0)
    LIMIT 1 BY c.marketplace_id, c.asin, c.version
),
-- Amazon orders: distinct orders per ASIN on the UTC purchase day, from
-- the latest version of each line; canceled lines count for nothing. A
-- line without a purchase date takes the order header's (latest version),
-- and counts nowhere without one.
order_dates AS (
    SELECT marketplace_id, amazon_order_id, purchase_date AS header_date
    FROM (SELECT * FROM amazon_orders_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
),
amazon_orders AS (
    SELECT i.marketplace_id AS marketplace_id, i.asin AS asin, toDate32(ifNull(i.purchase_date, h.header_date)) AS day,
           concat(i.marketplace_id, ':', i.amazon_order_id) AS order_key
    FROM (SELECT * FROM amazon_order_items_changes ORDER BY _key, version DESC LIMIT 1 BY _key) AS i
    LEFT JOIN order_dates AS h ON h.marketplace_id = i.marketplace_id AND h.amazon_order_id = i.amazon_order_id
    WHERE i.op != 'delete' AND ifNull(i.order_status, '') != 'Canceled'
          AND (i.purchase_date IS NOT NULL OR h.header_date IS NOT NULL)
),
-- TikTok orders: one unit per line, on the UTC create day, in the line's
-- currency, else the order's.
tiktok_lines AS (
    SELECT shop_id, sku_id, toDate32(create_time) AS day, concat(shop_id, ':', order_id) AS order_key, sale_price,
           if(ifNull(line_currency, '') != '', line_currency, ifNull(payment_currency, '')) AS currency
    FROM (SELECT * FROM tiktok_orders_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    ARRAY JOIN `line_items.sku_id` AS sku_id, `line_items.sale_price` AS sale_price, `line_items.currency` AS line_currency
    WHERE op != 'delete' AND status != 'CANCELLED'
),
-- Shop video analytics: the latest version per video and shop day.
video_perf AS (
    SELECT shop_id, video_id, ZDAY(date, date_time_zone) AS day, currency, `products.product_id` AS pids, `products.gmv` AS gmvs
    FROM (SELECT * FROM tiktok_video_performance_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
),
video_products AS (
    SELECT DISTINCT v.shop_id AS shop_id, v.video_id AS video_id, v.pid AS product_id,
           arraySort(if(empty(k.keys), [concat('tiktok:', v.shop_id, ':product:', v.pid)], k.keys)) AS keys
    FROM (SELECT shop_id, video_id, arrayJoin(pids) AS pid FROM video_perf) AS v
    LEFT JOIN product_keys AS k ON k.shop_id = v.shop_id AND k.product_id = v.pid
),
-- Attribution: a figure x of a video (engagement: among the sorted keys
-- of all the products it shows; GMV: among those of the product) goes to
-- the key at 1-based position idx of n as intDiv(x, n) plus one unit if
-- idx <= x % n, i.e. the remainder one unit each to the first keys. Money
-- is split in units of 0.0001. Full credit is n = idx = 1: all of x.
-- split marks a split share (1), and one that took a remainder unit (2).
video_keys AS (
    SELECT video_id, arrayJoin(keys) AS product_key, toInt64(if(EVEN_SPLIT, length(keys), 1)) AS n,
           toInt64(if(EVEN_SPLIT, indexOf(keys, product_key), 1)) AS idx
    FROM (SELECT video_id, arraySort(groupUniqArrayArray(keys)) AS keys FROM video_products GROUP BY video_id)
),
video_gmv AS (
    SELECT vp.keys[i] AS product_key, v.day AS day, v.currency AS currency, toInt64(if(EVEN_SPLIT, length(vp.keys), 1)) AS n,
           toInt64(if(EVEN_SPLIT, i, 1)) AS idx, toInt64(toDecimal128(v.gmv, 4) * 10000) AS units,
           CAST(intDiv(units, n) + (units % n >= idx) AS Decimal128(4)) / 10000 AS gmv,
           if(n > 1, 1 + (units % n >= idx), 0) AS split
    FROM (SELECT shop_id, video_id, day, currency, pid, gmv FROM video_perf ARRAY JOIN pids AS pid, gmvs AS gmv) AS v
    JOIN video_products AS vp ON vp.shop_id = v.shop_id AND vp.video_id = v.video_id AND vp.product_id = v.pid
    ARRAY JOIN arrayEnumerate(vp.keys) AS i
),
-- Engagement: a snapshot counts only if its version is above every earlier
-- one of its key (in log order); a video whose last accepted change is a
-- delete has none. Daily deltas: growth above the highest value seen
-- before, never negative, on the snapshot's UTC day; a null keeps the
-- high-water mark and does not report the metric.
engagement_accepted AS (
    SELECT * FROM (
        SELECT *, max(version) OVER (PARTITION BY _key ORDER BY _offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
        FROM tiktok_video_engagement_changes
    ) WHERE version > before
),
engagement_live AS (
    SELECT * FROM engagement_accepted
    WHERE item_id NOT IN (
        SELECT item_id FROM (SELECT item_id, op FROM engagement_accepted ORDER BY version DESC LIMIT 1 BY item_id) WHERE op = 'delete')
),
engagement_deltas AS (
    SELECT item_id AS video_id, toDate32(source_ts) AS day,
        if(video_views IS NULL, NULL, greatest(0, video_views - ifNull(max(video_views) OVER w, 0))) AS d_views,
        if(total_time_watched IS NULL, NULL, greatest(0, total_time_watched - ifNull(max(total_time_watched) OVER w, 0))) AS d_watch,
        if(favorites IS NULL, NULL, greatest(0, favorites - ifNull(max(favorites) OVER w, 0))) AS d_saves,
        if(shares IS NULL, NULL, greatest(0, shares - ifNull(max(shares) OVER w, 0))) AS d_shares,
        if(likes IS NULL, NULL, greatest(0, likes - ifNull(max(likes) OVER w, 0))) AS d_likes,
        if(comments IS NULL, NULL, greatest(0, comments - ifNull(max(comments) OVER w, 0))) AS d_comments
    FROM engagement_live
    WINDOW w AS (PARTITION BY item_id ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
engagement_days AS (
    SELECT video_id, day, sum(d_views) AS views, sum(d_watch) AS watch, sum(d_saves) AS saves,
           sum(d_shares) AS shares, sum(d_likes) AS likes, sum(d_comments) AS comments
    FROM engagement_deltas GROUP BY video_id, day
),
engagement_shares AS (
    SELECT k.product_key AS product_key, e.day AS day, e.watch / k.n AS watch,
           arrayMap(x -> intDiv(x, k.n) + (x % k.n >= k.idx), [e.views, e.saves, e.shares, e.likes, e.comments]) AS counts,
           if(k.n > 1, 1 + arrayExists(x -> ifNull(x % k.n >= k.idx, 0), [e.views, e.saves, e.shares, e.likes, e.comments]), 0) AS split
    FROM engagement_days AS e JOIN video_keys AS k ON k.video_id = e.video_id
),

-- Every contribution, keyed by product key and day; money with its
-- currency.
contributions AS (
    SELECT ifNull(l.product_key, concat('amazon:', s.marketplace_id, ':', s.asin)) AS product_key, s.day AS day,
           'sales' AS kind, toNullable(s.sessions) AS sessions, toNullable(s.page_views) AS page_views,
           toNullable(s.units_ordered) AS units, toNullable(toDecimal128(s.ordered_product_sales, 4)) AS sales,
           CAST(NULL AS Nullable(Int64)) AS rank, CAST(NULL AS Nullable(String)) AS order_key,
           CAST(NULL AS Nullable(Decimal128(4))) AS money,
           CAST(NULL AS Nullable(Int64)) AS views, CAST(NULL AS Nullable(Float64)) AS watch,
           CAST(NULL AS Nullable(Int64)) AS saves, CAST(NULL AS Nullable(Int64)) AS shares,
           CAST(NULL AS Nullable(Int64)) AS likes, CAST(NULL AS Nullable(Int64)) AS comments,
           CAST(s.currency_code AS Nullable(String)) AS currency, toUInt8(0) AS split
    FROM sales AS s LEFT JOIN amazon_links AS l ON l.account = s.marketplace_id AND l.id = s.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('amazon:', b.marketplace_id, ':', b.asin)), b.day, 'bsr', NULL, NULL, NULL, NULL,
           b.rank, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0
    FROM bsr AS b LEFT JOIN amazon_links AS l ON l.account = b.marketplace_id AND l.id = b.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('amazon:', o.marketplace_id, ':', o.asin)), o.day, 'amazon_order', NULL, NULL, NULL, NULL,
           NULL, o.order_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0
    FROM amazon_orders AS o LEFT JOIN amazon_links AS l ON l.account = o.marketplace_id AND l.id = o.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('tiktok:', o.shop_id, ':', o.sku_id)), o.day, 'tiktok_order', NULL, NULL, NULL, NULL,
           NULL, o.order_key, toDecimal128(o.sale_price, 4), NULL, NULL, NULL, NULL, NULL, NULL, o.currency, 0
    FROM tiktok_lines AS o LEFT JOIN tiktok_links AS l ON l.account = o.shop_id AND l.id = o.sku_id
    UNION ALL
    SELECT product_key, day, 'video_gmv', NULL, NULL, NULL, NULL, NULL, NULL, toDecimal128(gmv, 4),
           NULL, NULL, NULL, NULL, NULL, NULL, currency, split
    FROM video_gmv
    UNION ALL
    SELECT product_key, day, 'engagement', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           counts[1], watch, counts[2], counts[3], counts[4], counts[5], NULL, split
    FROM engagement_shares
    UNION ALL
    SELECT product_key, day, 'search', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0
    FROM sqp
    UNION ALL
    SELECT term_key, term_day, 'terms', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0
    FROM terms
),
-- Amounts in more than one currency are not added up: the row has no
-- currency and null amounts (TikTok order and video GMV share one
-- currency). split_* count the row's split shares, for the coverage check.
joined AS (
    SELECT product_key, day AS date,
        sumIf(views, kind = 'engagement') AS tiktok_views,
        sumIf(watch, kind = 'engagement') AS tiktok_watch_time_seconds,
        sumIf(saves, kind = 'engagement') AS tiktok_saves,
        sumIf(shares, kind = 'engagement') AS tiktok_shares,
        sumIf(likes, kind = 'engagement') AS tiktok_likes,
        sumIf(comments, kind = 'engagement') AS tiktok_comments,
        uniqExactIf(currency, kind IN ('tiktok_order', 'video_gmv') AND money IS NOT NULL) AS tiktok_currencies,
        if(tiktok_currencies = 1, anyIf(currency, kind IN ('tiktok_order', 'video_gmv') AND money IS NOT NULL), NULL) AS tiktok_currency,
        if(tiktok_currencies > 1, NULL, sumIf(money, kind = 'video_gmv')) AS tiktok_video_gmv,
        if(countIf(kind = 'tiktok_order') > 0, toNullable(toInt64(uniqExactIf(order_key, kind = 'tiktok_order'))), NULL) AS tiktok_orders,
        if(countIf(kind = 'tiktok_order') > 0, toNullable(toInt64(countIf(kind = 'tiktok_order'))), NULL) AS tiktok_units,
        if(tiktok_currencies > 1, NULL, sumIf(money, kind = 'tiktok_order')) AS tiktok_gmv,
        if(countIf(kind = 'bsr') > 0, toNullable(minIf(rank, kind = 'bsr')), NULL) AS amazon_best_sellers_rank_best,
        if(countIf(kind = 'bsr') > 0, toNullable(avgIf(rank, kind = 'bsr')), NULL) AS amazon_best_sellers_rank_avg,
        sumIf(sessions, kind = 'sales') AS amazon_sessions,
        sumIf(page_views, kind = 'sales') AS amazon_page_views,
        sumIf(units, kind = 'sales') AS amazon_units,
        uniqExactIf(currency, kind = 'sales' AND sales IS NOT NULL) AS amazon_currencies,
        if(amazon_currencies = 1, anyIf(currency, kind = 'sales' AND sales IS NOT NULL), NULL) AS amazon_currency,
        if(amazon_currencies > 1, NULL, sumIf(sales, kind = 'sales')) AS amazon_sales,
        if(countIf(kind = 'amazon_order') > 0, toNullable(toInt64(uniqExactIf(order_key, kind = 'amazon_order'))), NULL) AS amazon_orders,
        countIf(kind = 'engagement' AND split > 0) AS split_engagement,
        countIf(kind = 'video_gmv' AND split > 0) AS split_video_gmv,
        countIf(kind = 'engagement' AND split = 2) AS split_engagement_remainder,
        countIf(kind = 'video_gmv' AND split = 2) AS split_video_gmv_remainder
    FROM contributions
    GROUP BY product_key, day
)
SELECT j.product_key AS product_key, j.* EXCEPT (product_key), s.p_start AS amazon_search_period_start, s.p_end AS amazon_search_period_end,
       s.impressions AS amazon_search_impressions, s.clicks AS amazon_search_clicks, s.purchases AS amazon_search_purchases,
       if(t.search_terms IS NULL, '', t.search_terms) AS search_terms
FROM joined AS j
LEFT JOIN sqp AS s ON s.product_key = j.product_key AND s.day = j.date
LEFT JOIN terms AS t ON t.term_key = j.product_key AND t.term_day = j.date
