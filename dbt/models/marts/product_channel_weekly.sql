{{ config(
    materialized='incremental',
    incremental_strategy='insert_overwrite',
    engine='MergeTree()',
    partition_by='week_start',
    order_by='(product_key, week_start)',
) }}

-- TikTok attention next to Amazon demand per product and ISO week (Monday to
-- Sunday), from the current joined days. Partitioned by week so that an
-- incremental build replaces whole weeks (REPLACE PARTITION, atomic per week):
-- the weeks with a change of product_daily ingested since the last build,
-- less var product_weekly_lookback_hours for changes that reach ClickHouse
-- after later ones (a stage that lagged). A week whose every row was deleted
-- has nothing to replace its partition with: --full-refresh clears it, and
-- the singular test assert_product_channel_weekly_matches_daily reports it.

{#- The daily counts a week adds up and the money columns, each channel's in
    its column order (macros/channel_week.sql writes a channel's columns). #}
{%- set tiktok_sums = ['views', 'watch_time_seconds', 'saves', 'shares', 'likes', 'comments', 'orders', 'units'] %}
{%- set tiktok_amounts = ['video_gmv', 'gmv'] %}
{%- set amazon_sums = ['sessions', 'page_views', 'units', 'orders'] %}
{%- set amazon_amounts = ['sales'] %}

with days as (
    select
        *,
        toMonday(date) as week_start,
        -- Did the channel report anything for the day? NULL is "no data", 0 is data.
        coalesce(tiktok_views, tiktok_saves, tiktok_shares, tiktok_likes, tiktok_comments,
                 tiktok_orders, tiktok_units) is not null
            or tiktok_watch_time_seconds is not null
            or tiktok_video_gmv is not null
            or tiktok_gmv is not null as has_tiktok,
        coalesce(amazon_search_impressions, amazon_search_clicks, amazon_search_purchases,
                 amazon_best_sellers_rank_best, amazon_sessions, amazon_page_views,
                 amazon_units, amazon_orders) is not null
            or amazon_sales is not null as has_amazon
    from {{ ref('stg_product_daily') }}
    {% if is_incremental() %}
    where toMonday(date) in (
        -- The raw change table, not the view: it also holds the deletes.
        select toMonday(toDate(date))
        from {{ source('shopstream_raw', 'product_daily_changes') }}
        where ingest_ts >= (select max(last_ingest_ts) from {{ this }})
            - toIntervalHour({{ var('product_weekly_lookback_hours') }})
    )
    {% endif %}
),

-- Brand Analytics figures in product_daily are the totals of the
-- Sunday-to-Saturday week holding the day (never a month or a quarter),
-- repeated on each of its days: each week counts once, in the ISO week it
-- ends in (its Saturday; the ISO week that holds six of its seven days).
search as (
    select
        product_key,
        week_start,
        amazon_search_period_start as search_period_start,
        amazon_search_period_end as search_period_end,
        any(amazon_search_impressions) as search_impressions,
        any(amazon_search_clicks) as search_clicks,
        any(amazon_search_purchases) as search_purchases
    from days
    where toMonday(amazon_search_period_end) = week_start
    group by product_key, week_start, search_period_start, search_period_end
),

weekly as (
    select
        product_key,
        week_start,
        count() as days_reported,
        countIf(has_tiktok) as days_with_tiktok,
        countIf(has_amazon) as days_with_amazon,

        {{ channel_week_sums('tiktok', tiktok_sums, tiktok_amounts) }}

        -- Lower is better: the week's best rank.
        min(amazon_best_sellers_rank_best) as min_amazon_best_sellers_rank,
        {{ channel_week_sums('amazon', amazon_sums, amazon_amounts) }}

        max(ingest_ts) as max_ingest_ts
    from days
    group by product_key, week_start
),

figures as (
    select
        w.product_key as product_key,
        w.week_start as week_start,
        formatDateTime(w.week_start, '%G-W%V') as iso_week,
        w.days_reported as days_reported,
        w.days_with_tiktok as days_with_tiktok,
        w.days_with_amazon as days_with_amazon,

        {{ channel_week_figures('tiktok', tiktok_sums, tiktok_amounts) }}

        s.search_period_start as amazon_search_period_start,
        s.search_period_end as amazon_search_period_end,
        s.search_impressions as amazon_search_impressions,
        s.search_clicks as amazon_search_clicks,
        s.search_purchases as amazon_search_purchases,
        w.min_amazon_best_sellers_rank as amazon_best_sellers_rank_best,
        {{ channel_week_figures('amazon', amazon_sums, amazon_amounts) }}

        w.max_ingest_ts as last_ingest_ts
    from weekly as w
    -- search's columns are Nullable: a week without a Brand Analytics week ending in it gets NULLs.
    left join search as s on s.product_key = w.product_key and s.week_start = w.week_start
)

select
    *,
    -- Amazon units sold per 1,000 TikTok views: NULL without views or without Amazon data.
    if(tiktok_views > 0, 1000 * amazon_units / tiktok_views, null) as amazon_units_per_1k_tiktok_views,
    -- Each channel's share of the week's sales (TikTok Shop GMV + Amazon ordered
    -- product sales): only when both channels report sales in the same currency.
    if(tiktok_currency = amazon_currency and tiktok_gmv + amazon_sales > 0,
       toFloat64(tiktok_gmv) / toFloat64(tiktok_gmv + amazon_sales), null) as tiktok_sales_share,
    if(tiktok_currency = amazon_currency and tiktok_gmv + amazon_sales > 0,
       toFloat64(amazon_sales) / toFloat64(tiktok_gmv + amazon_sales), null) as amazon_sales_share,
    '{{ invocation_id }}' as dbt_invocation_id
from figures
