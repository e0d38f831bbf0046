-- Every raw change table and current-state table gets _inserted_at, the
-- instant the warehouse stored the row, filled by ClickHouse itself
-- (DEFAULT now64(3)): the loader never sends it, so it is when the row became
-- queryable, not when any stage thought it was.
--
-- What it is for:
-- * end-to-end latency: `make bench-latency` measures from a webhook's
--   arrival to the order's row in tiktok_orders and to its product's row in
--   product_daily by this column;
-- * exact incremental watermarks: a model or export that read everything up
--   to T reads `WHERE _inserted_at > T` next time, instead of a lookback over
--   source_ts (which late and restated data make unreliable).
--
-- Notes:
-- * now64 is evaluated once per INSERT, so a loader batch shares one value;
--   a batch replayed after a crash is dropped by its deduplication token and
--   keeps the first attempt's time.
-- * Current-state tables are fed by materialized views that do not select
--   the column, so it takes its default in the view's insert: the same
--   INSERT as the raw change table's row. FINAL shows the newest version's.
-- * Rows stored before this migration get the migration's time: a DEFAULT
--   column is computed on every read of parts written without it (so old
--   rows would look new at every query), hence MATERIALIZE COLUMN right
--   after, waiting for the mutation (mutations_sync = 2), which writes the
--   column into the existing parts once. A watermark starting now is exact;
--   history before it has no insertion time. On a cluster the mutation runs
--   on the local tables only (allow_nondeterministic_mutations: Replicated
--   tables refuse now64 in a mutation otherwise).
-- * Delta+ZSTD as for the other instants; in time order within a part.

ALTER TABLE amazon_catalog_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_catalog_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_catalog
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_catalog
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_order_items_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_order_items_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_order_items
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_order_items
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_orders_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_orders_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_orders
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_orders
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_sales_traffic_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_sales_traffic_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_sales_traffic
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_sales_traffic
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_search_query_performance_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_search_query_performance_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_search_query_performance
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_search_query_performance
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_search_terms_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_search_terms_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE amazon_search_terms
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE amazon_search_terms
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_orders_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_orders_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_orders
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_orders
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_products_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_products_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_products
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_products
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_video_engagement_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_video_engagement_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_video_engagement
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_video_engagement
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_video_performance_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_video_performance_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_video_performance
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_video_performance
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE tiktok_webhook_events_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE tiktok_webhook_events_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE product_daily_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE product_daily_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE product_daily
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE product_daily
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE product_links_changes
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE product_links_changes
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
ALTER TABLE product_links
    ADD COLUMN IF NOT EXISTS `_inserted_at` DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC') CODEC(Delta(8), ZSTD(1));
ALTER TABLE product_links
    MATERIALIZE COLUMN `_inserted_at`
    SETTINGS mutations_sync = 2, allow_nondeterministic_mutations = 1;
