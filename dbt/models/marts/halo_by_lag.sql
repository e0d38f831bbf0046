{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(product_key, outcome, attention_metric, lag_days)',
) }}

-- TikTok attention against Amazon outcomes per product at every lag from 0
-- to var halo_max_lag_days: the correlation, its sample size (raw and
-- adjusted for autocorrelation) and its significance. See dbt/README.md,
-- "The halo", for the method and why.

{%- set max_lag = var('halo_max_lag_days') %}

with days as (
    select * from {{ ref('int_halo_days') }}
),

-- Daily grain: sessions, units and rank, day by day.

attention as (
    select
        product_key,
        date,
        attention_estimated,
        a.1 as attention_metric,
        a.2 as x,
        a.3 as x_prev
    from days
    array join [
        ('tiktok_views', r_views, r_views_prev),
        ('tiktok_watch_time_seconds', r_watch, r_watch_prev),
        ('tiktok_saves', r_saves, r_saves_prev),
        ('tiktok_shares', r_shares, r_shares_prev)
    ] as a
),

outcomes as (
    select
        product_key,
        date,
        o.1 as outcome,
        o.2 as y,
        o.3 as y_prev
    from days
    array join [
        ('amazon_sessions', r_sessions, r_sessions_prev),
        ('amazon_units', r_units, r_units_prev),
        ('amazon_best_sellers_rank', r_rank, r_rank_prev)
    ] as o
),

-- Lag-1 autocorrelation of each residual series (0 when it cannot be told).
attention_ac as (
    select product_key, attention_metric, corr(x, x_prev) as ac_raw, if(isFinite(ac_raw), ac_raw, 0) as ac
    from attention
    group by product_key, attention_metric
),

outcomes_ac as (
    select product_key, outcome, corr(y, y_prev) as ac_raw, if(isFinite(ac_raw), ac_raw, 0) as ac
    from outcomes
    group by product_key, outcome
),

daily_pairs as (
    select
        a.product_key as product_key,
        a.attention_metric as attention_metric,
        o.outcome as outcome,
        a.lag_days as lag_days,
        o.date as date,
        a.x as x,
        o.y as y,
        a.attention_estimated as attention_estimated
    from (
        select *, arrayJoin(range(toUInt8({{ max_lag }} + 1))) as lag_days, date + lag_days as outcome_date
        from attention
        where x is not null
    ) as a
    inner join (select * from outcomes where y is not null) as o
        on o.product_key = a.product_key and o.date = a.outcome_date
),

daily as (
    select
        p.product_key as product_key,
        p.attention_metric as attention_metric,
        p.outcome as outcome,
        'daily' as grain,
        p.lag_days as lag_days,
        count() as n,
        corr(p.x, p.y) as r,
        -- Bartlett: n / (1 + 2 ac_x ac_y), never above n, less the six weekday
        -- means removed beyond the one mean any correlation removes.
        greatest(least(n / (1 + 2 * any(aa.ac) * any(oa.ac)), toFloat64(n)) - 6, 0) as n_effective,
        avg(p.attention_estimated) as attention_estimated_share,
        min(p.date) as first_date,
        max(p.date) as last_date
    from daily_pairs as p
    inner join attention_ac as aa on aa.product_key = p.product_key and aa.attention_metric = p.attention_metric
    inner join outcomes_ac as oa on oa.product_key = p.product_key and oa.outcome = p.outcome
    group by p.product_key, p.attention_metric, p.outcome, p.lag_days
),

-- Weekly grain: Brand Analytics totals of Sunday-to-Saturday weeks, each
-- week once, against the attention of the seven days lag_days earlier.

weeks as (
    select
        product_key,
        search_week_start as week_start,
        any(search_impressions) as impressions,
        any(search_clicks) as clicks,
        any(search_purchases) as purchases
    from days
    where search_week_start is not null
    group by product_key, week_start
),

week_days as (
    select
        product_key,
        week_start,
        lag_days,
        week_start - lag_days + i as day
    from weeks
    array join range(toUInt8({{ max_lag }} + 1)) as lag_days
    array join range(7) as i
),

-- The attention of each week's window; NULL unless all seven days are known.
week_attention as (
    select
        wd.product_key as product_key,
        wd.week_start as week_start,
        wd.lag_days as lag_days,
        if(count(d.views) = 7, sum(d.views), null) as views,
        if(count(d.watch_time_seconds) = 7, sum(d.watch_time_seconds), null) as watch_time_seconds,
        if(count(d.saves) = 7, sum(d.saves), null) as saves,
        if(count(d.shares) = 7, sum(d.shares), null) as shares,
        avg(d.attention_estimated) as attention_estimated
    from week_days as wd
    left join days as d on d.product_key = wd.product_key and d.date = wd.day
    group by wd.product_key, wd.week_start, wd.lag_days
),

week_series as (
    select
        w.product_key as product_key,
        w.week_start as week_start,
        wa.lag_days as lag_days,
        a.1 as attention_metric,
        o.1 as outcome,
        log1p(a.2) as la,
        log1p(o.2) as lo,
        wa.attention_estimated as attention_estimated
    from weeks as w
    inner join week_attention as wa on wa.product_key = w.product_key and wa.week_start = w.week_start
    array join
        [('tiktok_views', wa.views), ('tiktok_watch_time_seconds', wa.watch_time_seconds),
         ('tiktok_saves', wa.saves), ('tiktok_shares', wa.shares)] as a
    array join
        [('amazon_search_impressions', w.impressions), ('amazon_search_clicks', w.clicks),
         ('amazon_search_purchases', w.purchases)] as o
),

-- Week-over-week changes, only between consecutive weeks.
week_changes as (
    select
        *,
        lagInFrame(week_start) over w = week_start - 7 as consecutive,
        if(consecutive, la - lagInFrame(la) over w, null) as x,
        if(consecutive, lo - lagInFrame(lo) over w, null) as y
    from week_series
    window w as (partition by product_key, lag_days, attention_metric, outcome order by week_start
                 rows between 1 preceding and current row)
),

week_changes_prev as (
    select
        *,
        if(lagInFrame(week_start) over w = week_start - 7, lagInFrame(x) over w, null) as x_prev,
        if(lagInFrame(week_start) over w = week_start - 7, lagInFrame(y) over w, null) as y_prev
    from week_changes
    window w as (partition by product_key, lag_days, attention_metric, outcome order by week_start
                 rows between 1 preceding and current row)
),

weekly as (
    select
        product_key,
        attention_metric,
        outcome,
        'weekly' as grain,
        lag_days,
        countIf(x is not null and y is not null) as n,
        corr(x, y) as r,
        corr(x, x_prev) as ac_x_raw,
        corr(y, y_prev) as ac_y_raw,
        least(n / (1 + 2 * if(isFinite(ac_x_raw), ac_x_raw, 0) * if(isFinite(ac_y_raw), ac_y_raw, 0)), toFloat64(n)) as n_effective,
        avgIf(attention_estimated, x is not null and y is not null) as attention_estimated_share,
        minIf(week_start, x is not null and y is not null) as first_date,
        maxIf(week_start, x is not null and y is not null) + 6 as last_date
    from week_changes_prev
    group by product_key, attention_metric, outcome, lag_days
    having n > 0
),

all_lags as (
    select product_key, attention_metric, outcome, grain, lag_days, n, r, n_effective,
           attention_estimated_share, first_date, last_date
    from daily
    union all
    select product_key, attention_metric, outcome, grain, lag_days, n, r, n_effective,
           attention_estimated_share, first_date, last_date
    from weekly
)

select
    product_key,
    attention_metric,
    outcome,
    grain,
    toUInt8(lag_days) as lag_days,
    toUInt32(n) as n,
    toFloat64(n_effective) as n_effective,
    if(n >= 3 and isFinite(r), toFloat64(r), null) as correlation,
    -- Fisher's z: atanh(r) is about normal with variance 1 / (n - 3).
    if(correlation is not null and n_effective > 3,
       atanh(least(greatest(correlation, -0.999999), 0.999999)) * sqrt(n_effective - 3), null) as fisher_z,
    if(fisher_z is null, null, erfc(abs(fisher_z) / sqrt(2))) as p_value,
    toNullable(toFloat64(attention_estimated_share)) as attention_estimated_share,
    first_date,
    last_date
from all_lags
