{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(product_key, date)',
) }}

-- The daily series the halo models compare, per product and day on a
-- complete calendar (no gaps, so "the day before" and "lag days later" are
-- row arithmetic on dates). See dbt/README.md, "The halo". A table, not a
-- CTE: the three halo models read it many times over.
--
-- Filling: a product's TikTok attention is 0 on a day without a row between
-- its first and last TikTok day (TikTok reports nothing for a day without
-- views), and unknown (NULL) outside; the same for Amazon sessions and units
-- between the first and last Sales and Traffic day. The Best Sellers Rank is
-- never filled: there is no rank history before the first catalog snapshot.
--
-- For the daily comparison (halo_by_lag) the attention is taken as it is,
-- in its own units, less the product's mean on that weekday (the x_*
-- columns): the Amazon response to a video grows with its audience, so a
-- video with a million views must weigh as a million, not as log(1e6)
-- against an ordinary video's log(2e4); and a spike left whole meets the
-- outcome's rise and its decay with one sign. The outcomes are taken as
-- log(1 + x) (-log(rank) for the rank, so up is better), the l_* columns,
-- next to their level in the week before the day, the b_* columns (the mean
-- of the seven days before, NULL unless all seven are known): halo_by_lag
-- compares the outcome L days after an attention day with its level in the
-- week before that day, which removes levels and trends without letting the
-- response into its own baseline.

{#- tiktok_attention_provenance (schema version 2 of product_daily): from the
    staging view once it carries it, else from the loader's table (read as
    the view reads it: FINAL, deleted days removed), else unknown (NULL). -#}
{%- set provenance_from = 'none' -%}
{%- if execute -%}
    {%- set stg_cols = adapter.get_columns_in_relation(ref('stg_product_daily')) | map(attribute='name') | list -%}
    {%- set raw_cols = adapter.get_columns_in_relation(source('shopstream_raw', 'product_daily')) | map(attribute='name') | list -%}
    {%- if 'tiktok_attention_provenance' in stg_cols -%}
        {%- set provenance_from = 'staging' -%}
    {%- elif 'tiktok_attention_provenance' in raw_cols -%}
        {%- set provenance_from = 'raw' -%}
    {%- endif -%}
{%- endif %}

with
{%- if provenance_from == 'raw' %}
provenance as (
    select product_key, toDate(date) as date, toString(tiktok_attention_provenance) as provenance
    from {{ source('shopstream_raw', 'product_daily') }} final
    where is_deleted = 0
),
{%- endif %}

src as (
    select
        d.product_key as product_key,
        d.date as date,
        tiktok_views,
        tiktok_watch_time_seconds,
        tiktok_saves,
        tiktok_shares,
        -- 1 when the day's TikTok attention is estimated (lifetime totals
        -- spread over days) or mixed, 0 when measured, NULL when not known.
        {%- if provenance_from == 'staging' %}
        toString(d.tiktok_attention_provenance) as provenance,
        {%- elif provenance_from == 'raw' %}
        p.provenance as provenance,
        {%- else %}
        cast(null as Nullable(String)) as provenance,
        {%- endif %}
        multiIf(provenance in ('estimated', 'mixed'), 1, provenance = 'measured', 0, null) as attention_estimated,
        -- Views are measured in a mixed row: the join takes a video's views
        -- from TikTok Shop analytics (measured per day) whenever it reports
        -- them, and watch time and saves only from the Business API, whose
        -- first lifetime totals are spread; so what mixes in a row is
        -- measured views with estimated watch time and saves.
        multiIf(provenance = 'estimated', 1, provenance in ('measured', 'mixed'), 0, null) as views_estimated,
        amazon_sessions,
        amazon_units,
        amazon_best_sellers_rank_best,
        -- Brand Analytics totals of the Sunday-to-Saturday week holding the
        -- day, carried on each of its days (product_daily has weeks only).
        amazon_search_period_start as search_week_start,
        amazon_search_impressions as search_impressions,
        amazon_search_clicks as search_clicks,
        amazon_search_purchases as search_purchases,
        coalesce(tiktok_views, tiktok_saves, tiktok_shares) is not null
            or tiktok_watch_time_seconds is not null as has_tiktok,
        coalesce(amazon_sessions, amazon_units) is not null as has_sales
    from {{ ref('stg_product_daily') }} as d
    {%- if provenance_from == 'raw' %}
    left join provenance as p on p.product_key = d.product_key and p.date = d.date
    {%- endif %}
),

spans as (
    select
        product_key,
        min(date) as first_date,
        max(date) as last_date,
        minIf(date, has_tiktok) as tiktok_first,
        maxIf(date, has_tiktok) as tiktok_last,
        minIf(date, has_sales) as sales_first,
        maxIf(date, has_sales) as sales_last,
        countIf(has_sales) > 0 as any_sales
    from src
    group by product_key
    -- Only products with attention: without it there is nothing to relate.
    having countIf(has_tiktok) > 0
),

calendar as (
    select
        product_key,
        arrayJoin(arrayMap(i -> first_date + i, range(toUInt32(dateDiff('day', first_date, last_date) + 1)))) as date,
        tiktok_first, tiktok_last, sales_first, sales_last, any_sales
    from spans
),

filled as (
    select
        c.product_key as product_key,
        c.date as date,
        c.date between c.tiktok_first and c.tiktok_last as in_tiktok,
        c.any_sales and c.date between c.sales_first and c.sales_last as in_sales,
        if(in_tiktok, toFloat64(coalesce(s.tiktok_views, 0)), null) as views,
        if(in_tiktok, toFloat64(coalesce(s.tiktok_watch_time_seconds, 0)), null) as watch_time_seconds,
        if(in_tiktok, toFloat64(coalesce(s.tiktok_saves, 0)), null) as saves,
        if(in_tiktok, toFloat64(coalesce(s.tiktok_shares, 0)), null) as shares,
        s.attention_estimated as attention_estimated,
        s.views_estimated as views_estimated,
        if(in_sales, toFloat64(coalesce(s.amazon_sessions, 0)), null) as sessions,
        if(in_sales, toFloat64(coalesce(s.amazon_units, 0)), null) as units,
        if(s.amazon_best_sellers_rank_best > 0, toFloat64(s.amazon_best_sellers_rank_best), null) as best_sellers_rank,
        s.search_week_start as search_week_start,
        toFloat64(s.search_impressions) as search_impressions,
        toFloat64(s.search_clicks) as search_clicks,
        toFloat64(s.search_purchases) as search_purchases
    from calendar as c
    left join src as s on s.product_key = c.product_key and s.date = c.date
),

logs as (
    select
        *,
        log1p(sessions) as l_sessions,
        log1p(units) as l_units,
        -ln(best_sellers_rank) as l_rank
    from filled
),

baselines as (
    select
        *,
        if(count(l_sessions) over before = 7, avg(l_sessions) over before, null) as b_sessions,
        if(count(l_units) over before = 7, avg(l_units) over before, null) as b_units,
        if(count(l_rank) over before = 7, avg(l_rank) over before, null) as b_rank
    from logs
    -- The calendar has every day, so the seven rows before are the week before.
    window before as (partition by product_key order by date rows between 7 preceding and 1 preceding)
),

residuals as (
    select
        *,
        views - avg(views) over wd as x_views,
        watch_time_seconds - avg(watch_time_seconds) over wd as x_watch,
        saves - avg(saves) over wd as x_saves,
        shares - avg(shares) over wd as x_shares
    from baselines
    window wd as (partition by product_key, toDayOfWeek(date))
)

select
    product_key,
    date,
    views,
    watch_time_seconds,
    saves,
    shares,
    attention_estimated,
    views_estimated,
    sessions,
    units,
    best_sellers_rank,
    search_week_start,
    search_impressions,
    search_clicks,
    search_purchases,
    x_views,
    x_watch,
    x_saves,
    x_shares,
    -- Yesterday's attention residuals, for their lag-1 autocorrelation (Bartlett).
    lagInFrame(x_views) over w as x_views_prev,
    lagInFrame(x_watch) over w as x_watch_prev,
    lagInFrame(x_saves) over w as x_saves_prev,
    lagInFrame(x_shares) over w as x_shares_prev,
    l_sessions,
    l_units,
    l_rank,
    b_sessions,
    b_units,
    b_rank
from residuals
window w as (partition by product_key order by date rows between 1 preceding and current row)
