{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='rank',
) }}

-- Products ranked by their halo (product_halo): those with a significant
-- halo after correcting for every lag, attention metric and outcome tried
-- come first, by the strength of their best outcome; the rest follow by how
-- close they came. See dbt/README.md, "The halo".

with per_product as (
    select
        product_key,
        toUInt32(count()) as outcomes_tested,
        toUInt32(countIf(significant)) as outcomes_significant,
        -- Bonferroni over outcomes too; only positive relationships count.
        least(1.0, min(if(strength > 0, p_value_adjusted, 1.0)) * count()) as product_p_value_adjusted,
        toBool(product_p_value_adjusted < {{ var('halo_alpha') }}) as product_significant,
        -- The strongest significant outcome; without one, the one that came closest.
        argMax(
            (outcome, grain, best_lag_days, best_attention_metric, strength, lift),
            (significant, if(significant, strength, -p_value_adjusted))
        ) as best,
        min(first_date) as first_date,
        max(last_date) as last_date
    from {{ ref('product_halo') }}
    group by product_key
)

select
    row_number() over (order by significant desc, halo_score desc, p_value_adjusted asc, product_key asc) as rank,
    product_key,
    if(product_significant, greatest(best.5, 0), 0) as halo_score,
    product_significant as significant,
    best.1 as best_outcome,
    best.2 as best_grain,
    best.3 as best_lag_days,
    best.4 as best_attention_metric,
    best.5 as strength,
    best.6 as lift,
    product_p_value_adjusted as p_value_adjusted,
    outcomes_tested,
    outcomes_significant,
    first_date,
    last_date
from per_product
