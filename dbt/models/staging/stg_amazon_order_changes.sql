{{ config(
    materialized='table',
    engine='MergeTree()',
    order_by='(amazon_order_id, version)',
) }}

-- Every change of every Amazon order exactly once, with its marketplace.
-- A change replayed by the loader keeps its event_id: the first copy wins.

select
    c.event_id as event_id,
    c.op as op,
    c.source_ts as source_ts,
    c.ingest_ts as ingest_ts,
    c.version as version,
    c.amazon_order_id as amazon_order_id,
    c.marketplace_id as marketplace_id,
    m.country_code as country_code,
    m.region as region,
    m.currency_code as marketplace_currency_code,
    c.purchase_date as purchase_date,
    toDate(c.purchase_date, '{{ var("reporting_time_zone") }}') as purchase_day,
    c.last_update_date as last_update_date,
    c.order_status as order_status,
    c.currency_code as currency_code,
    c.order_total_amount as order_total_amount
from {{ source('shopstream_raw', 'amazon_orders_changes') }} as c
left join {{ ref('amazon_marketplaces') }} as m on m.marketplace_id = c.marketplace_id
order by c.event_id, c.ingest_ts
limit 1 by c.event_id
