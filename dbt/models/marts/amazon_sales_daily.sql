-- Amazon orders and sales per marketplace and purchase day (in the reporting
-- time zone), from the orders' current state. Canceled and deleted orders do
-- not count; orders still Pending count as orders but carry no amount yet.

select
    o.purchase_day as purchase_day,
    o.marketplace_id as marketplace_id,
    any(o.country_code) as country_code,
    o.currency_code as currency_code,
    count() as orders,
    countIf(o.order_total_amount is null) as orders_without_amount,
    sum(o.order_total_amount) as sales
from {{ ref('stg_amazon_orders') }} as o
where not o.is_deleted and o.order_status != 'Canceled'
group by o.purchase_day, o.marketplace_id, o.currency_code
