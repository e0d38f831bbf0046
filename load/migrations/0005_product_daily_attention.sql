-- product_daily gains TikTok Shop analytics' product impressions and clicks
-- and the provenance of the day's TikTok attention (measured, estimated or
-- mixed; see the doc of package transform/join), schema version 2 of
-- xchannel.product_daily. Nullable with no default expression: rows written
-- before hold NULL, as the schema's null defaults say.
--
-- AFTER keeps the TikTok columns together for SELECT *; the loader inserts by
-- column name, so the position does not matter to it.
ALTER TABLE product_daily_changes
    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions` Nullable(Int64) AFTER `tiktok_comments`,
    ADD COLUMN IF NOT EXISTS `tiktok_product_clicks` Nullable(Int64) AFTER `tiktok_product_impressions`,
    ADD COLUMN IF NOT EXISTS `tiktok_attention_provenance` LowCardinality(Nullable(String)) AFTER `tiktok_product_clicks`;

ALTER TABLE product_daily
    ADD COLUMN IF NOT EXISTS `tiktok_product_impressions` Nullable(Int64) AFTER `tiktok_comments`,
    ADD COLUMN IF NOT EXISTS `tiktok_product_clicks` Nullable(Int64) AFTER `tiktok_product_impressions`,
    ADD COLUMN IF NOT EXISTS `tiktok_attention_provenance` LowCardinality(Nullable(String)) AFTER `tiktok_product_clicks`;

-- The view names its columns, so it must select the new ones too. MODIFY
-- QUERY swaps the query in one step: a DROP and CREATE would lose what a
-- loader that is still running inserts in between.
ALTER TABLE product_daily_mv MODIFY QUERY
SELECT
    `event_id`,
    `source`,
    `entity`,
    `op`,
    `source_ts`,
    `ingest_ts`,
    `version`,
    `product_key`,
    `date`,
    `date_time_zone`,
    `tiktok_views`,
    `tiktok_watch_time_seconds`,
    `tiktok_saves`,
    `tiktok_shares`,
    `tiktok_likes`,
    `tiktok_comments`,
    `tiktok_product_impressions`,
    `tiktok_product_clicks`,
    `tiktok_attention_provenance`,
    `tiktok_currency`,
    `tiktok_video_gmv`,
    `tiktok_orders`,
    `tiktok_units`,
    `tiktok_gmv`,
    `amazon_search_period_start`,
    `amazon_search_period_end`,
    `amazon_search_impressions`,
    `amazon_search_clicks`,
    `amazon_search_purchases`,
    `amazon_search_term_ranks.search_term`,
    `amazon_search_term_ranks.department_name`,
    `amazon_search_term_ranks.search_frequency_rank`,
    `amazon_search_term_ranks.click_share_rank`,
    `amazon_search_term_ranks.click_share`,
    `amazon_search_term_ranks.conversion_share`,
    `amazon_best_sellers_rank_best`,
    `amazon_best_sellers_rank_avg`,
    `amazon_sessions`,
    `amazon_page_views`,
    `amazon_units`,
    `amazon_currency`,
    `amazon_sales`,
    `amazon_orders`,
    `_key`,
    `_partition`,
    `_offset`,
    toUInt8(op = 'delete') AS `is_deleted`
FROM product_daily_changes;
