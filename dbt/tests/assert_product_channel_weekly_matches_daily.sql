-- product_channel_weekly is the sum of its days: every product and ISO week of
-- stg_product_daily has exactly one row in the mart with the same totals, and
-- the mart has no other row (a week an incremental build left stale, a day
-- counted twice or lost). Both sides are grouped on every figure together:
-- GROUP BY treats NULLs as equal, so "no data" must match "no data", and a
-- figure that differs leaves groups with one side only. Those are the failures.

with daily as (
    select
        product_key,
        toMonday(date) as week_start,
        count() as days_reported,
        sum(tiktok_views) as tiktok_views,
        round(sum(tiktok_watch_time_seconds), 3) as tiktok_watch_time_seconds,
        sum(tiktok_saves) as tiktok_saves,
        sum(tiktok_shares) as tiktok_shares,
        sum(tiktok_likes) as tiktok_likes,
        sum(tiktok_comments) as tiktok_comments,
        sum(tiktok_orders) as tiktok_orders,
        sum(tiktok_units) as tiktok_units,
        -- Money of a week in one currency is the sum of its days, per currency.
        if(uniqExact(tiktok_currency) = 1, sum(tiktok_gmv), null) as tiktok_gmv,
        min(amazon_best_sellers_rank_best) as amazon_best_sellers_rank_best,
        sum(amazon_sessions) as amazon_sessions,
        sum(amazon_page_views) as amazon_page_views,
        sum(amazon_units) as amazon_units,
        sum(amazon_orders) as amazon_orders,
        if(uniqExact(amazon_currency) = 1, sum(amazon_sales), null) as amazon_sales
    from {{ ref('stg_product_daily') }}
    group by product_key, week_start
),

both_sides as (
    select
        'mart' as side, product_key, week_start, days_reported,
        tiktok_views, round(tiktok_watch_time_seconds, 3) as tiktok_watch_time_seconds,
        tiktok_saves, tiktok_shares, tiktok_likes, tiktok_comments, tiktok_orders,
        tiktok_units, tiktok_gmv, amazon_best_sellers_rank_best, amazon_sessions,
        amazon_page_views, amazon_units, amazon_orders, amazon_sales
    from {{ ref('product_channel_weekly') }}
    union all
    select
        'daily' as side, product_key, week_start, days_reported,
        tiktok_views, tiktok_watch_time_seconds,
        tiktok_saves, tiktok_shares, tiktok_likes, tiktok_comments, tiktok_orders,
        tiktok_units, tiktok_gmv, amazon_best_sellers_rank_best, amazon_sessions,
        amazon_page_views, amazon_units, amazon_orders, amazon_sales
    from daily
)

select
    product_key,
    week_start,
    countIf(side = 'mart') as mart_rows,
    countIf(side = 'daily') as daily_rows
from both_sides
group by
    product_key, week_start, days_reported,
    tiktok_views, tiktok_watch_time_seconds, tiktok_saves, tiktok_shares, tiktok_likes,
    tiktok_comments, tiktok_orders, tiktok_units, tiktok_gmv, amazon_best_sellers_rank_best,
    amazon_sessions, amazon_page_views, amazon_units, amazon_orders, amazon_sales
having mart_rows != 1 or daily_rows != 1
