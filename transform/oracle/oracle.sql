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
-- Search Query Performance: the latest version per key of a WEEK period
-- (months and quarters never reach product_daily), carried whole on every
-- day of its week; a day covered by two weeks (zones) shows the latest
-- start, then the earliest end, summed over the key's ASINs and queries.
sqp_days AS (
    SELECT marketplace_id, asin, report_period, ZDAY(start_date, date_time_zone) AS p_start,
           ZDAY(end_date, date_time_zone) AS p_end,
           arrayJoin(arrayMap(i -> ZDAY(addDays(start_date, i), date_time_zone), range(toUInt32(dateDiff('day', start_date, end_date)) + 1))) AS day,
           asin_impression_count, asin_click_count, asin_purchase_count
    FROM (SELECT * FROM amazon_search_query_performance_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete' AND report_period = 'WEEK'
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
    ORDER BY product_key, day, p_start DESC, p_end
    LIMIT 1 BY product_key, day
),
-- Search terms: the latest version per key of a WEEK period, listed on
-- every day of its week for each clicked ASIN that has a link (a
-- competitor's makes no row); a day shows the terms of its week (the
-- latest start, then the earliest end, if two cover it), sorted by frequency
-- rank, term, department, click share rank, click share, conversion share.
term_days AS (
    SELECT marketplace_id, report_period, ZDAY(start_date, date_time_zone) AS p_start, ZDAY(end_date, date_time_zone) AS p_end,
           arrayJoin(arrayMap(i -> ZDAY(addDays(start_date, i), date_time_zone), range(toUInt32(dateDiff('day', start_date, end_date)) + 1))) AS day,
           search_term, department_name, search_frequency_rank, asin, click_share_rank, click_share, conversion_share
    FROM (SELECT * FROM amazon_search_terms_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    ARRAY JOIN `clicked_asins.clicked_asin` AS asin, `clicked_asins.click_share_rank` AS click_share_rank,
               `clicked_asins.click_share` AS click_share, `clicked_asins.conversion_share` AS conversion_share
    WHERE op != 'delete' AND report_period = 'WEEK'
),
term_rows AS (
    SELECT l.product_key AS product_key, t.*
    FROM term_days AS t JOIN amazon_links AS l ON l.account = t.marketplace_id AND l.id = t.asin
),
term_best AS (
    SELECT product_key, day, report_period, p_start, p_end FROM term_rows
    ORDER BY product_key, day, p_start DESC, p_end
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
    SELECT shop_id, video_id, ZDAY(date, date_time_zone) AS day, currency, `products.product_id` AS pids, `products.gmv` AS gmvs,
           views, likes, comments, shares, product_impressions, product_clicks, video_post_time
    FROM (SELECT * FROM tiktok_video_performance_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
),
video_products AS (
    SELECT DISTINCT v.shop_id AS shop_id, v.video_id AS video_id, v.pid AS product_id,
           arraySort(if(empty(k.keys), [concat('tiktok:', v.shop_id, ':product:', v.pid)], k.keys)) AS keys
    FROM (SELECT shop_id, video_id, arrayJoin(pids) AS pid FROM video_perf) AS v
    LEFT JOIN product_keys AS k ON k.shop_id = v.shop_id AND k.product_id = v.pid
),
-- Per video: which of views, likes, comments and shares its shop
-- analytics report (they then come from there only), the day of its
-- earliest video_post_time, and its shop (the least id).
video_shop AS (
    SELECT video_id, min(shop_id) AS shop, toDate32(min(video_post_time)) AS shop_post,
           countIf(views IS NOT NULL) > 0 AS by_shop_views, countIf(likes IS NOT NULL) > 0 AS by_shop_likes,
           countIf(comments IS NOT NULL) > 0 AS by_shop_comments, countIf(shares IS NOT NULL) > 0 AS by_shop_shares
    FROM video_perf GROUP BY video_id
),
-- Measured views per video and day: the weights of a spread (a day listed
-- here is measured, even with 0 views).
shop_views AS (
    SELECT video_id, day, sum(greatest(0, views)) AS w, 1 AS measured FROM video_perf WHERE views IS NOT NULL GROUP BY video_id, day
),
-- Business API snapshots: one counts only if its version is above every
-- earlier one of its key (in log order), and only after the video's last
-- accepted delete.
engagement_accepted AS (
    SELECT * FROM (
        SELECT *, max(version) OVER (PARTITION BY _key ORDER BY _offset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
        FROM tiktok_video_engagement_changes
    ) WHERE version > before
),
engagement_live AS (
    SELECT a.* FROM engagement_accepted AS a
    LEFT JOIN (SELECT item_id, max(version) AS deleted_at FROM engagement_accepted WHERE op = 'delete' GROUP BY item_id) AS d
        ON d.item_id = a.item_id
    WHERE a.op != 'delete' AND a.version > ifNull(d.deleted_at, 0)
),
-- Per video: the business of the latest snapshot, and the day of the
-- create_time of the latest snapshot that has one.
video_eng AS (
    SELECT item_id AS video_id, argMax(business_id, version) AS business,
           if(countIf(create_time IS NOT NULL) > 0, toDate32(argMaxIf(create_time, version, create_time IS NOT NULL)), NULL) AS eng_post
    FROM engagement_live GROUP BY item_id
),
-- Every reported metric of every snapshot, in version order per video
-- (watch time in whole milliseconds, rounded half to even): the first
-- report of a metric is a lifetime total, each later one grows it by its
-- rise above the highest value before (never below 0), on its UTC day. A
-- metric the video's shop analytics report is not taken from here.
engagement_reports AS (
    SELECT e.video_id AS video_id, e.version AS version, e.day AS day, e.metric AS metric, e.value AS value
    FROM (
        SELECT item_id AS video_id, version, toDate32(source_ts) AS day, m.1 AS metric, m.2 AS value
        FROM engagement_live
        ARRAY JOIN [('views', video_views), ('watch', toInt64(round(total_time_watched * 1000))), ('saves', favorites),
                    ('shares', shares), ('likes', likes), ('comments', comments)] AS m
    ) AS e
    LEFT JOIN video_shop AS s ON s.video_id = e.video_id
    WHERE e.value IS NOT NULL
      AND NOT ifNull(multiIf(e.metric = 'views', s.by_shop_views, e.metric = 'likes', s.by_shop_likes,
                             e.metric = 'comments', s.by_shop_comments, e.metric = 'shares', s.by_shop_shares, false), false)
),
engagement_steps AS (
    SELECT video_id, day, metric, value,
           count() OVER w AS reports_before,
           greatest(0, ifNull(max(value) OVER w, 0)) AS high
    FROM engagement_reports
    WINDOW w AS (PARTITION BY video_id, metric ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
-- A first report is spread over the days from the post day (create_time,
-- else the shop's video_post_time; clamped to 1096 days; not after the
-- report) to the report's day; the weight of a day is the video's
-- measured views on it when its views come from shop analytics and add
-- up to more than 0 over the window, else 1. By largest remainder:
-- floor(total x w / W), then one unit each to the largest remainders,
-- earlier day first. A proportional spread gives a day whose views shop
-- analytics did not measure no share at all (its share is 0): no row of
-- estimated zeros on days never read.
spread_days AS (
    SELECT f.video_id AS video_id, f.metric AS metric, f.total AS total, f.first_day AS first_day,
           if(isNull(coalesce(e.eng_post, s.shop_post)), first_day,
              greatest(least(coalesce(e.eng_post, s.shop_post), first_day), subtractDays(first_day, 1095))) AS start,
           ifNull(s.by_shop_views, false) AS by_views,
           addDays(start, arrayJoin(range(toUInt32(dateDiff('day', start, first_day)) + 1))) AS day
    FROM (SELECT video_id, metric, greatest(0, value) AS total, day AS first_day FROM engagement_steps WHERE reports_before = 0) AS f
    LEFT JOIN video_eng AS e ON e.video_id = f.video_id
    LEFT JOIN video_shop AS s ON s.video_id = f.video_id
),
spread_weights AS (
    SELECT d.video_id AS video_id, d.metric AS metric, d.day AS day,
           toInt64(d.total) AS units,
           toInt64(ifNull(v.w, 0)) AS views_w, ifNull(v.measured, 0) = 1 AS views_measured,
           toInt64(sum(views_w) OVER p) AS views_sum, toInt64(count() OVER p) AS n,
           d.by_views AND views_sum > 0 AS proportional,
           toInt128(if(proportional, views_w, toInt64(1))) AS weight, toInt128(if(proportional, views_sum, n)) AS wsum,
           intDiv(toInt128(units) * weight, wsum) AS q, (toInt128(units) * weight) % wsum AS r
    FROM spread_days AS d
    LEFT JOIN shop_views AS v ON v.video_id = d.video_id AND v.day = d.day
    WINDOW p AS (PARTITION BY d.video_id, d.metric)
),
spread_shares AS (
    SELECT video_id, metric, day, proportional, share, leftover FROM (
        SELECT video_id, metric, day, proportional, views_measured,
               toInt64(q) + (row_number() OVER (PARTITION BY video_id, metric ORDER BY r DESC, day ASC) <= units - sum(q) OVER (PARTITION BY video_id, metric)) AS share,
               units - sum(q) OVER (PARTITION BY video_id, metric) > 0 AS leftover
        FROM spread_weights
    ) WHERE NOT proportional OR views_measured
),
-- A video's figures per day and metric: measured (shop analytics, growth
-- between snapshots) and estimated (spread shares). The rule_* flags say
-- which rule made a figure, for the coverage check.
video_attention AS (
    SELECT video_id, day, metric, sum(ival) AS ival, max(measured) AS measured, max(estimated) AS estimated,
           max(by_shop) AS rule_by_shop, max(spread_proportional) AS rule_spread_proportional,
           max(spread_even) AS rule_spread_even, max(spread_leftover) AS rule_spread_leftover
    FROM (
        SELECT video_id, day, m.1 AS metric, toInt64(assumeNotNull(m.2)) AS ival, toUInt8(1) AS measured, toUInt8(0) AS estimated,
               toUInt8(1) AS by_shop, toUInt8(0) AS spread_proportional, toUInt8(0) AS spread_even, toUInt8(0) AS spread_leftover
        FROM video_perf
        ARRAY JOIN [('views', views), ('shares', shares), ('likes', likes), ('comments', comments),
                    ('impressions', product_impressions), ('clicks', product_clicks)] AS m
        WHERE m.2 IS NOT NULL
        UNION ALL
        SELECT video_id, day, metric, toInt64(greatest(0, value - high)), 1, 0, 0, 0, 0, 0
        FROM engagement_steps WHERE reports_before > 0
        UNION ALL
        SELECT video_id, day, metric, share, 0, 1,
               0, proportional, NOT proportional, leftover
        FROM spread_shares
    )
    GROUP BY video_id, day, metric
),
-- A video's keys: those of the products it shows, or, showing none, its
-- shop's (from shop analytics) or its business's unlinked key.
videos AS (SELECT video_id FROM video_perf UNION DISTINCT SELECT item_id FROM engagement_live),
-- Attribution: a figure x of a video (attention: among the sorted keys
-- of all the products it shows; GMV: among those of the product) goes to
-- the key at 1-based position idx of n as intDiv(x, n) plus one unit if
-- idx <= x % n, i.e. the remainder one unit each to the first keys. Money
-- is split in units of 0.0001, watch time (in seconds) divided. Full credit is n = idx
-- = 1: all of x. split marks a split share (1), and one that took a
-- remainder unit (2).
video_keys AS (
    SELECT video_id, arrayJoin(keys) AS product_key, toInt64(if(EVEN_SPLIT, length(keys), 1)) AS n,
           toInt64(if(EVEN_SPLIT, indexOf(keys, product_key), 1)) AS idx
    FROM (
        SELECT v.video_id AS video_id,
               if(empty(p.keys), [concat('tiktok:', ifNull(s.shop, e.business), ':unlinked')], p.keys) AS keys
        FROM videos AS v
        LEFT JOIN (SELECT video_id, arraySort(groupUniqArrayArray(keys)) AS keys FROM video_products GROUP BY video_id) AS p
            ON p.video_id = v.video_id
        LEFT JOIN video_shop AS s ON s.video_id = v.video_id
        LEFT JOIN video_eng AS e ON e.video_id = v.video_id
    )
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
-- Attention per key and day: each metric null unless some video has a
-- figure of it; provenance measured, estimated or mixed over them all.
attention AS (
    SELECT k.product_key AS product_key, a.day AS day,
           if(countIf(a.metric = 'views') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'views')), NULL) AS views,
           if(countIf(a.metric = 'watch') > 0, toNullable(sumIf(a.ival / 1000 / k.n, a.metric = 'watch')), NULL) AS watch,
           if(countIf(a.metric = 'saves') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'saves')), NULL) AS saves,
           if(countIf(a.metric = 'shares') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'shares')), NULL) AS shares,
           if(countIf(a.metric = 'likes') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'likes')), NULL) AS likes,
           if(countIf(a.metric = 'comments') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'comments')), NULL) AS comments,
           if(countIf(a.metric = 'impressions') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'impressions')), NULL) AS impressions,
           if(countIf(a.metric = 'clicks') > 0, toNullable(sumIf(intDiv(a.ival, k.n) + (a.ival % k.n >= k.idx), a.metric = 'clicks')), NULL) AS clicks,
           max(a.measured) AS measured, max(a.estimated) AS estimated,
           maxIf(a.rule_by_shop, a.metric = 'likes') AS rule_shop_likes, max(a.rule_spread_proportional) AS rule_spread_proportional,
           max(a.rule_spread_even) AS rule_spread_even, max(a.rule_spread_leftover) AS rule_spread_leftover,
           max(if(k.n > 1, 1 + (a.metric != 'watch' AND a.ival % k.n >= k.idx), 0)) AS split
    FROM video_attention AS a JOIN video_keys AS k ON k.video_id = a.video_id
    GROUP BY k.product_key, a.day
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
           CAST(s.currency_code AS Nullable(String)) AS currency, toUInt8(0) AS split,
           CAST(NULL AS Nullable(Int64)) AS impressions, CAST(NULL AS Nullable(Int64)) AS clicks,
           toUInt8(0) AS measured, toUInt8(0) AS estimated, toUInt8(0) AS rule_shop_likes,
           toUInt8(0) AS rule_spread_proportional, toUInt8(0) AS rule_spread_even, toUInt8(0) AS rule_spread_leftover
    FROM sales AS s LEFT JOIN amazon_links AS l ON l.account = s.marketplace_id AND l.id = s.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('amazon:', b.marketplace_id, ':', b.asin)), b.day, 'bsr', NULL, NULL, NULL, NULL,
           b.rank, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0
    FROM bsr AS b LEFT JOIN amazon_links AS l ON l.account = b.marketplace_id AND l.id = b.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('amazon:', o.marketplace_id, ':', o.asin)), o.day, 'amazon_order', NULL, NULL, NULL, NULL,
           NULL, o.order_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0
    FROM amazon_orders AS o LEFT JOIN amazon_links AS l ON l.account = o.marketplace_id AND l.id = o.asin
    UNION ALL
    SELECT ifNull(l.product_key, concat('tiktok:', o.shop_id, ':', o.sku_id)), o.day, 'tiktok_order', NULL, NULL, NULL, NULL,
           NULL, o.order_key, toDecimal128(o.sale_price, 4), NULL, NULL, NULL, NULL, NULL, NULL, o.currency, 0, NULL, NULL, 0, 0, 0, 0, 0, 0
    FROM tiktok_lines AS o LEFT JOIN tiktok_links AS l ON l.account = o.shop_id AND l.id = o.sku_id
    UNION ALL
    SELECT product_key, day, 'video_gmv', NULL, NULL, NULL, NULL, NULL, NULL, toDecimal128(gmv, 4),
           NULL, NULL, NULL, NULL, NULL, NULL, currency, split, NULL, NULL, 0, 0, 0, 0, 0, 0
    FROM video_gmv
    UNION ALL
    SELECT product_key, day, 'engagement', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           views, watch, saves, shares, likes, comments, NULL, split, impressions, clicks, measured, estimated,
           rule_shop_likes, rule_spread_proportional, rule_spread_even, rule_spread_leftover
    FROM attention
    UNION ALL
    SELECT product_key, day, 'search', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0
    FROM sqp
    UNION ALL
    SELECT term_key, term_day, 'terms', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0
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
        countIf(kind = 'video_gmv' AND split = 2) AS split_video_gmv_remainder,
        sumIf(impressions, kind = 'engagement') AS tiktok_product_impressions,
        sumIf(clicks, kind = 'engagement') AS tiktok_product_clicks,
        multiIf(max(measured) = 1 AND max(estimated) = 1, 'mixed', max(measured) = 1, 'measured', max(estimated) = 1, 'estimated', NULL) AS tiktok_attention_provenance,
        max(rule_shop_likes) AS rule_shop_likes, max(rule_spread_proportional) AS rule_spread_proportional,
        max(rule_spread_even) AS rule_spread_even, max(rule_spread_leftover) AS rule_spread_leftover
    FROM contributions
    GROUP BY product_key, day
)
SELECT j.product_key AS product_key, j.* EXCEPT (product_key), s.p_start AS amazon_search_period_start, s.p_end AS amazon_search_period_end,
       s.impressions AS amazon_search_impressions, s.clicks AS amazon_search_clicks, s.purchases AS amazon_search_purchases,
       if(t.search_terms IS NULL, '', t.search_terms) AS search_terms
FROM joined AS j
LEFT JOIN sqp AS s ON s.product_key = j.product_key AND s.day = j.date
LEFT JOIN terms AS t ON t.term_key = j.product_key AND t.term_day = j.date
