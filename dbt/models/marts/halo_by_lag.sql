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
{#- The daily attention series: metric, x, x the day before, and the flag
    that says the day's figure is estimated. #}
{%- set attention = [
    ('tiktok_views', 'x_views', 'x_views_prev', 'views_estimated'),
    ('tiktok_watch_time_seconds', 'x_watch', 'x_watch_prev', 'attention_estimated'),
    ('tiktok_saves', 'x_saves', 'x_saves_prev', 'attention_estimated'),
    ('tiktok_shares', 'x_shares', 'x_shares_prev', 'attention_estimated'),
] %}

with days as (
    select * from {{ ref('int_halo_days') }}
),

-- Daily grain: sessions, units and rank, day by day. For lag L the
-- attention of day d (x, its weekday mean removed) is paired with the
-- outcome of day d + L less the outcome's level in the week before d; that
-- difference, less its mean per weekday, is y.

attention_ac as (
    -- Lag-1 autocorrelation of each attention series (0 when it cannot be told).
    select product_key, a.1 as attention_metric, corr(a.2, a.3) as ac_raw, if(isFinite(ac_raw), ac_raw, 0) as ac
    from days
    array join [
        {%- for metric, x, x_prev, estimated in attention %}('{{ metric }}', {{ x }}, {{ x_prev }}){{ ', ' if not loop.last }}{% endfor -%}
    ] as a
    group by product_key, attention_metric
),

attention_days as (
    select
        product_key,
        date,
        att.3 as estimated,
        att.1 as attention_metric,
        att.2 as x,
        oc.1 as outcome,
        oc.2 as baseline,
        lag_days,
        date + lag_days as outcome_date
    from days
    array join [
        {%- for metric, x, x_prev, estimated in attention %}('{{ metric }}', {{ x }}, {{ estimated }}){{ ', ' if not loop.last }}{% endfor -%}
    ] as att
    array join [
        ('amazon_sessions', b_sessions),
        ('amazon_units', b_units),
        ('amazon_best_sellers_rank', b_rank)
    ] as oc
    array join range(toUInt8({{ max_lag }} + 1)) as lag_days
    where att.2 is not null and oc.2 is not null
),

outcome_days as (
    select product_key, date, o.1 as outcome, o.2 as level
    from days
    array join [
        ('amazon_sessions', l_sessions),
        ('amazon_units', l_units),
        ('amazon_best_sellers_rank', l_rank)
    ] as o
    where o.2 is not null
),

daily_pairs as (
    select
        a.product_key as product_key,
        a.attention_metric as attention_metric,
        a.outcome as outcome,
        a.lag_days as lag_days,
        a.date as date,
        o.date as outcome_date,
        a.x as x,
        o.level - a.baseline as y_raw,
        a.estimated as attention_estimated
    from attention_days as a
    inner join outcome_days as o
        on o.product_key = a.product_key and o.outcome = a.outcome and o.date = a.outcome_date
),

daily_residuals as (
    select
        *,
        y_raw - avg(y_raw) over (partition by product_key, attention_metric, outcome, lag_days, toDayOfWeek(date)) as y
    from daily_pairs
),

daily_series as (
    select
        *,
        -- The pair of the day before, if it was compared too.
        if(lagInFrame(date) over w = date - 1, lagInFrame(y) over w, null) as y_prev
    from daily_residuals
    window w as (partition by product_key, attention_metric, outcome, lag_days order by date
                 rows between 1 preceding and current row)
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
        corr(p.y, p.y_prev) as ac_y_raw,
        -- Bartlett: n / (1 + 2 ac_x ac_y), never above n, less the six weekday
        -- means removed beyond the one mean any correlation removes.
        greatest(least(n / (1 + 2 * any(aa.ac) * if(isFinite(ac_y_raw), ac_y_raw, 0)), toFloat64(n)) - 6, 0) as n_effective,
        avg(p.attention_estimated) as attention_estimated_share,
        min(p.outcome_date) as first_date,
        max(p.outcome_date) as last_date
    from daily_series as p
    inner join attention_ac as aa on aa.product_key = p.product_key and aa.attention_metric = p.attention_metric
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
        avg(d.attention_estimated) as attention_estimated,
        avg(d.views_estimated) as views_estimated
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
        a.3 as attention_estimated
    from weeks as w
    inner join week_attention as wa on wa.product_key = w.product_key and wa.week_start = w.week_start
    array join
        [('tiktok_views', wa.views, wa.views_estimated),
         ('tiktok_watch_time_seconds', wa.watch_time_seconds, wa.attention_estimated),
         ('tiktok_saves', wa.saves, wa.attention_estimated), ('tiktok_shares', wa.shares, wa.attention_estimated)] as a
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

-- Kendall's tau at weekly grain: a handful of weekly changes, heavy-tailed
-- (one viral week), would let Pearson's r reach 0.99 by one extreme pair;
-- a rank correlation cannot, and its significance is bounded by how few
-- weeks there are.
week_known as (
    select * from week_changes_prev where x is not null and y is not null
),

week_concordance as (
    select
        a.product_key as product_key,
        a.attention_metric as attention_metric,
        a.outcome as outcome,
        a.lag_days as lag_days,
        sum(sign(a.x - b.x) * sign(a.y - b.y)) as concordance
    from week_known as a
    inner join week_known as b
        on b.product_key = a.product_key and b.attention_metric = a.attention_metric
        and b.outcome = a.outcome and b.lag_days = a.lag_days
    where b.week_start > a.week_start
    group by a.product_key, a.attention_metric, a.outcome, a.lag_days
),

weekly as (
    select
        k.product_key as product_key,
        k.attention_metric as attention_metric,
        k.outcome as outcome,
        'weekly' as grain,
        k.lag_days as lag_days,
        count() as n,
        -- tau-a: ties count neither way.
        if(n >= 2, any(c.concordance) / (n * (n - 1) / 2), null) as r,
        corr(k.x, k.x_prev) as ac_x_raw,
        corr(k.y, k.y_prev) as ac_y_raw,
        least(n / (1 + 2 * if(isFinite(ac_x_raw), ac_x_raw, 0) * if(isFinite(ac_y_raw), ac_y_raw, 0)), toFloat64(n)) as n_effective,
        avg(k.attention_estimated) as attention_estimated_share,
        min(k.week_start) as first_date,
        max(k.week_start) + 6 as last_date
    from week_known as k
    left join week_concordance as c
        on c.product_key = k.product_key and c.attention_metric = k.attention_metric
        and c.outcome = k.outcome and c.lag_days = k.lag_days
    group by k.product_key, k.attention_metric, k.outcome, k.lag_days
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
    multiIf(
        correlation is null or n_effective <= 3, null,
        -- Daily: Fisher's z, atanh(r) is about normal with variance 1 / (n - 3).
        grain = 'daily', atanh(least(greatest(correlation, -0.999999), 0.999999)) * sqrt(n_effective - 3),
        -- Weekly: Kendall's tau is about normal with variance 2 (2n + 5) / (9 n (n - 1)).
        3 * correlation * sqrt(n_effective * (n_effective - 1)) / sqrt(2 * (2 * n_effective + 5))
    ) as z,
    if(z is null, null, erfc(abs(z) / sqrt(2))) as p_value,
    toNullable(toFloat64(attention_estimated_share)) as attention_estimated_share,
    first_date,
    last_date
from all_lags
