-- dbt_runs: one row per scheduled `dbt build` that run started (dbt.schedule),
-- written when it ends, so the analytics page, `shopstream status` and SQL
-- clients see when the models were last rebuilt and what failed.
CREATE TABLE IF NOT EXISTS dbt_runs
(
    `run_id` String, -- UUID of the run (also the insert's deduplication token)
    `started_at` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)), -- when dbt was started (after the loader caught up)
    `finished_at` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)), -- when it ended
    `status` LowCardinality(String), -- success, failed (a node failed), error (dbt could not run) or skipped (the loader did not catch up)
    `duration_seconds` Float64, -- finished_at - started_at
    `waited_seconds` Float64, -- time spent waiting for the loader to catch up before starting
    `models_ok` UInt32, -- models (and seeds) built
    `models_failed` UInt32, -- models (and seeds) that failed
    `failed_models` Array(String) CODEC(ZSTD(1)), -- their names
    `tests_ok` UInt32, -- data tests that passed
    `tests_failed` UInt32, -- data tests that failed or warned
    `failed_tests` Array(String) CODEC(ZSTD(1)), -- their names
    `skipped` UInt32, -- nodes dbt skipped because something upstream failed
    `error` String CODEC(ZSTD(1)), -- why the run failed, empty on success
    `command` String, -- the dbt command line (arguments only)
    `dbt_invocation_id` String, -- dbt's own id of the invocation (run_results.json), empty if it wrote none
    `schedule` String -- dbt.schedule as configured
)
ENGINE = MergeTree
-- Monthly partitions: runs are read newest first, by when they started.
PARTITION BY toYYYYMM(started_at)
ORDER BY (started_at, run_id)
-- A retried insert of the same run (token = run_id) adds nothing.
SETTINGS non_replicated_deduplication_window = 1000;
