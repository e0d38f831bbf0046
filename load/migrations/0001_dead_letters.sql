-- Dead letters: records the loader could not decode or map. Each one is also
-- in <topic>.dlq with the same coordinates; this table makes them queryable
-- next to the data, and `shopstream dlq replay` reads the topic.
CREATE TABLE IF NOT EXISTS dead_letters
(
    `source_topic` LowCardinality(String), -- few topics: stored as dictionary ids
    `source_partition` UInt32,
    `source_offset` UInt64,
    `key` String CODEC(ZSTD(1)), -- text compresses far better with ZSTD than LZ4
    `value` String CODEC(ZSTD(3)), -- the value's bytes exactly as read, rarely read: trade CPU for space
    `error_class` LowCardinality(String), -- bad_header, unknown_schema, undecodable or mapping
    `reason` String CODEC(ZSTD(1)), -- the error text
    `stage` LowCardinality(String), -- the stage that gave up on the record
    `dead_at` DateTime64(3, 'UTC') CODEC(Delta(8), ZSTD(1)) -- when the loader gave up on it
)
ENGINE = MergeTree
-- Monthly partitions: dead letters are reviewed by when they happened.
PARTITION BY toYYYYMM(dead_at)
-- One topic partition's dead letters in offset order: the order to replay them.
ORDER BY (source_topic, source_partition, source_offset)
-- No TTL: a dead letter must stay until someone has looked at it.
-- The loader inserts them with its batch's token: a replay must not repeat them.
SETTINGS non_replicated_deduplication_window = 10000;
