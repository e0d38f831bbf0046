{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='product_key',
) }}

-- Products sold on both channels: product keys with at least one current
-- Amazon listing and one TikTok Shop SKU linked to them, with the rule(s)
-- that linked them. Unmatched channel products have a key of their own
-- channel, so they never appear. A table: the identity map is small.

select
    product_key,
    -- The rule when every link of the key used the same one, else 'mixed'
    -- (e.g. the Amazon side from the mapping file, the TikTok side by GTIN).
    if(length(match_rules) = 1, match_rules[1], 'mixed') as match_rule,
    match_rules,
    amazon_listings,
    tiktok_skus,
    amazon_link_keys,
    tiktok_link_keys,
    gtin14s,
    has_conflict,
    conflicting_product_keys
from (
    select
        product_key,
        arraySort(groupUniqArray(match_rule)) as match_rules,
        countIf(channel = 'amazon') as amazon_listings,
        countIf(channel = 'tiktok') as tiktok_skus,
        arraySort(groupArrayIf(link_key, channel = 'amazon')) as amazon_link_keys,
        arraySort(groupArrayIf(link_key, channel = 'tiktok')) as tiktok_link_keys,
        arraySort(groupUniqArray(gtin14)) as gtin14s,
        toBool(countIf(conflict_reason is not null) > 0) as has_conflict,
        arraySort(groupUniqArrayArray(conflicting_product_keys)) as conflicting_product_keys
    from {{ ref('stg_product_links') }}
    where not unmatched
    group by product_key
)
where amazon_listings > 0 and tiktok_skus > 0
