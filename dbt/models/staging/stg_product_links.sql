{{ config(materialized='view') }}

-- The current identity map (topic xchannel.product_links): which product_key
-- each channel product belongs to, and by which rule. FINAL keeps each
-- link's highest version and hides channel products deleted at the source.

select
    _key as link_key,
    product_key,
    previous_product_key,
    toString(channel) as channel,
    CAST(marketplace_id AS Nullable(String)) as marketplace_id,
    shop_id,
    asin,
    seller_sku,
    product_id,
    sku_id,
    gtin14,
    toString(match_rule) as match_rule,
    unmatched,
    conflict_reason,
    conflicting_product_keys,
    version,
    ingest_ts
from {{ source('shopstream_raw', 'product_links') }} final
where is_deleted = 0
