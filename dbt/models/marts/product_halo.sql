{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(product_key, outcome)',
) }}

-- Per product and Amazon outcome: the best lag of halo_by_lag, its
-- significance corrected for every lag and attention metric tried
-- (Bonferroni), and the lift of the outcome after attention spikes at that
-- lag. See dbt/README.md, "The halo".

with tested as (
    select
        *,
        coalesce(attention_estimated_share, 0) <= 0.5 as measured,
        -- Measured attention first: when the product has mostly measured
        -- series for this outcome, only they may date the halo, because an
        -- estimate spread over days has no timing of its own.
        max(measured) over (partition by product_key, outcome) as has_measured
    from {{ ref('halo_by_lag') }}
    where p_value is not null
),

best as (
    select
        product_key,
        outcome,
        any(grain) as grain,
        -- The strongest positive relationship (largest z) among the
        -- candidates, which are also what the correction counts: the
        -- estimated series are set aside before looking at any outcome.
        argMax(
            (attention_metric, lag_days, correlation, n, n_effective, p_value, first_date, last_date, not measured),
            z
        ) as b,
        count() as tests
    from tested
    where measured = has_measured
    group by product_key, outcome
),

halo as (
    select
        product_key,
        outcome,
        grain,
        b.1 as best_attention_metric,
        b.2 as best_lag_days,
        b.3 as strength,
        b.4 as n,
        b.5 as n_effective,
        b.6 as p_value,
        toUInt32(tests) as tests,
        least(1.0, b.6 * tests) as p_value_adjusted,
        toBool(p_value_adjusted < {{ var('halo_alpha') }} and strength > 0) as significant,
        toBool(b.9) as attention_estimated,
        b.7 as first_date,
        b.8 as last_date
    from best
),

days as (
    select * from {{ ref('int_halo_days') }}
),

-- Attention spikes in tiktok_views: at least halo_spike_ratio times the
-- median of the 14 days before (of which at least 7 known), and at least
-- halo_spike_min_views; the peak of each run of such days.
spike_candidates as (
    select
        product_key,
        date,
        views,
        views >= {{ var('halo_spike_min_views') }}
            and count(views) over before >= 7
            and views >= {{ var('halo_spike_ratio') }} * quantileExact(0.5)(views) over before as is_spike,
        -- The spike's views above its usual: its weight in the lift.
        views - quantileExact(0.5)(views) over before as excess_views
    from days
    window before as (partition by product_key order by date rows between 14 preceding and 1 preceding)
),

spikes as (
    select product_key, date as spike_date, excess_views
    from (
        select
            *,
            lagInFrame(views) over (partition by product_key order by date rows between 1 preceding and current row) as views_before,
            leadInFrame(views) over (partition by product_key order by date rows between current row and 1 following) as views_after
        from spike_candidates
    )
    -- The peak of each run of spike days (a viral video on the heels of an
    -- ordinary one is its own spike).
    where is_spike and views > coalesce(views_before, 0) and views >= coalesce(views_after, 0)
),

-- The outcome's own values per day: at weekly grain the period total carried
-- on each day of its week (so a mean over days is a mean of weekly totals,
-- never a sum of them as if they were daily).
outcome_values as (
    select product_key, date, v.1 as outcome, v.2 as value
    from days
    array join [
        ('amazon_sessions', sessions), ('amazon_units', units), ('amazon_best_sellers_rank', best_sellers_rank),
        ('amazon_search_impressions', search_impressions), ('amazon_search_clicks', search_clicks),
        ('amazon_search_purchases', search_purchases)
    ] as v
),

spike_outcomes as (
    select h.product_key as product_key, h.outcome as outcome, s.spike_date as spike_date, h.best_lag_days as lag_days,
        s.excess_views as weight
    from halo as h
    inner join spikes as s on s.product_key = h.product_key
),

after_spike as (
    select so.product_key as product_key, so.outcome as outcome, so.spike_date as spike_date, v.value as value,
        so.weight as weight
    from spike_outcomes as so
    inner join outcome_values as v
        on v.product_key = so.product_key and v.outcome = so.outcome and v.date = so.spike_date + so.lag_days
    where v.value is not null
),

before_spike as (
    select so.product_key as product_key, so.outcome as outcome, so.spike_date as spike_date, avg(v.value) as value
    from (select *, arrayJoin(range(1, 8)) as back from spike_outcomes) as so
    inner join outcome_values as v
        on v.product_key = so.product_key and v.outcome = so.outcome and v.date = so.spike_date - so.back
    where v.value is not null
    group by so.product_key, so.outcome, so.spike_date
),

lifts as (
    select
        a.product_key as product_key,
        a.outcome as outcome,
        toNullable(toUInt32(count())) as spikes,
        -- Weighted by the spikes' excess views, as the halo grows with the
        -- audience: a viral day counts for more than an ordinary video's.
        toNullable(avgWeighted(b.value, a.weight)) as outcome_baseline,
        toNullable(avgWeighted(a.value, a.weight)) as outcome_after
    from after_spike as a
    inner join before_spike as b
        on b.product_key = a.product_key and b.outcome = a.outcome and b.spike_date = a.spike_date
    group by a.product_key, a.outcome
)

select
    h.product_key as product_key,
    h.outcome as outcome,
    h.grain as grain,
    h.best_attention_metric as best_attention_metric,
    h.best_lag_days as best_lag_days,
    h.strength as strength,
    h.n as n,
    h.n_effective as n_effective,
    h.p_value as p_value,
    h.tests as tests,
    h.p_value_adjusted as p_value_adjusted,
    h.significant as significant,
    h.attention_estimated as attention_estimated,
    coalesce(l.spikes, 0) as spikes,
    l.outcome_baseline as outcome_baseline,
    l.outcome_after as outcome_after,
    -- Positive = better; for the rank (lower is better) the ratio is turned over.
    multiIf(
        l.outcome_baseline is null or l.outcome_after is null, null,
        h.outcome = 'amazon_best_sellers_rank',
            if(l.outcome_after > 0, l.outcome_baseline / l.outcome_after - 1, null),
        if(l.outcome_baseline > 0, l.outcome_after / l.outcome_baseline - 1, null)
    ) as lift,
    h.first_date as first_date,
    h.last_date as last_date
from halo as h
left join lifts as l on l.product_key = h.product_key and l.outcome = h.outcome
