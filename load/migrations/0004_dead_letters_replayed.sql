-- Dead letters that `shopstream dlq replay` has loaded (or found loaded by an
-- earlier replay): what is left in dead_letters_open still needs a fix.
CREATE TABLE IF NOT EXISTS dead_letters_replayed
(
    `source_topic` LowCardinality(String), -- few topics: stored as dictionary ids
    `source_partition` UInt32,
    `source_offset` UInt64,
    `replayed_at` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)) -- when the replay loaded it
)
-- A record replayed twice is one fact; keep the first replay's row.
ENGINE = ReplacingMergeTree
-- The coordinates of dead_letters, so the view below is a merge of the two.
ORDER BY (source_topic, source_partition, source_offset)
-- Replays insert with their batch's token: a repeated batch adds nothing.
SETTINGS non_replicated_deduplication_window = 10000;

-- The dead letters no replay has loaded yet. GLOBAL: on a cluster the
-- replayed coordinates are gathered once, not per shard.
CREATE VIEW IF NOT EXISTS dead_letters_open AS
SELECT *
FROM dead_letters
WHERE (source_topic, source_partition, source_offset) GLOBAL NOT IN (
    SELECT source_topic, source_partition, source_offset FROM dead_letters_replayed
);
