{{ config(
    materialized='incremental',
    unique_key='amazon_order_id',
    engine='MergeTree()',
    order_by='amazon_order_id',
) }}

-- The current state of each Amazon order: the values of its highest version.
-- An incremental run recomputes only the orders that changed since the last
-- run, but from all of their versions, so a late-arriving lower version can
-- never overwrite a newer state.

with changes as (
    select *
    from {{ ref('stg_amazon_order_changes') }}
    {% if is_incremental() %}
    where amazon_order_id in (
        select amazon_order_id
        from {{ ref('stg_amazon_order_changes') }}
        where ingest_ts >= (select max(last_ingest_ts) from {{ this }})
    )
    {% endif %}
)

select
    c.amazon_order_id as amazon_order_id,
    argMax(c.marketplace_id, c.version) as marketplace_id,
    argMax(c.country_code, c.version) as country_code,
    argMax(c.purchase_date, c.version) as purchase_date,
    argMax(c.purchase_day, c.version) as purchase_day,
    argMax(c.last_update_date, c.version) as last_update_date,
    argMax(c.order_status, c.version) as order_status,
    -- Pending orders carry no amount and no currency yet.
    coalesce(argMax(c.currency_code, c.version), argMax(c.marketplace_currency_code, c.version)) as currency_code,
    argMax(c.order_total_amount, c.version) as order_total_amount,
    toBool(argMax(c.op, c.version) = 'delete') as is_deleted,
    max(c.version) as version,
    count() as changes,
    max(c.ingest_ts) as last_ingest_ts,
    '{{ invocation_id }}' as dbt_invocation_id
from changes as c
group by c.amazon_order_id
