{{ config(materialized='view') }}

-- The current joined row of each product and day (topic xchannel.product_daily):
-- the loader's ReplacingMergeTree table read with FINAL, so a restated day is
-- its highest version only. A view, not a copy: the table already is the
-- current state, and a copy would only be staler.
--
-- FINAL alone hides keys whose latest version is a delete; the filter on
-- is_deleted says so explicitly. It must stay a WHERE after FINAL (never a
-- PREWHERE before it), or an older version of a deleted day would come back.
--
-- NULL means no source reported the figure for the day, 0 that one reported
-- zero. amazon_search_* are totals of the Brand Analytics week (Sunday to
-- Saturday) [amazon_search_period_start, amazon_search_period_end] holding
-- the day, repeated on every day of it: never sum them over days. Months and
-- quarters are only in amazon_search_query_performance.

select
    product_key,
    toDate(date) as date,
    toString(date_time_zone) as date_time_zone,

    -- TikTok attention: measured per day (shop analytics, growth between
    -- Business API snapshots) or estimated (a first snapshot's lifetime totals
    -- spread over the video's life); tiktok_attention_provenance says which.
    tiktok_views,
    tiktok_watch_time_seconds,
    tiktok_saves,
    tiktok_shares,
    tiktok_likes,
    tiktok_comments,
    tiktok_product_impressions,
    tiktok_product_clicks,
    CAST(tiktok_attention_provenance AS Nullable(String)) as tiktok_attention_provenance,
    -- One currency for both TikTok amounts; NULL with NULL amounts when the
    -- day's amounts came in several currencies (they are never converted).
    CAST(tiktok_currency AS Nullable(String)) as tiktok_currency,
    tiktok_video_gmv,
    tiktok_orders,
    tiktok_units,
    tiktok_gmv,

    toNullable(toDate(amazon_search_period_start)) as amazon_search_period_start,
    toNullable(toDate(amazon_search_period_end)) as amazon_search_period_end,
    amazon_search_impressions,
    amazon_search_clicks,
    amazon_search_purchases,
    amazon_best_sellers_rank_best,
    amazon_best_sellers_rank_avg,
    amazon_sessions,
    amazon_page_views,
    amazon_units,
    CAST(amazon_currency AS Nullable(String)) as amazon_currency,
    amazon_sales,
    amazon_orders,

    version,
    source_ts,
    ingest_ts
from {{ source('shopstream_raw', 'product_daily') }} final
where is_deleted = 0
