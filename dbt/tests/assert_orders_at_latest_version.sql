-- Every order's current state is its highest version, with every change of it
-- counted: fails with the orders that an incremental run left stale.
select
    o.amazon_order_id as amazon_order_id,
    o.version as model_version,
    c.latest_version as latest_version,
    o.changes as model_changes,
    c.changes as changes
from {{ ref('stg_amazon_orders') }} as o
full outer join (
    select amazon_order_id, max(version) as latest_version, count() as changes
    from {{ ref('stg_amazon_order_changes') }}
    group by amazon_order_id
) as c on c.amazon_order_id = o.amazon_order_id
where o.version != c.latest_version or o.changes != c.changes
   or o.amazon_order_id = '' or c.amazon_order_id = ''
