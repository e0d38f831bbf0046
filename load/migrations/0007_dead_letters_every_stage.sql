-- Dead letters of every stage (package deadletter), not only the loader's:
-- the loader also loads the ingest and transform dead letters from the
-- dead-letter topics. An ingest dead letter is an API payload that never
-- was a Kafka record: it has the endpoint it came from instead of original
-- coordinates, and source_partition and source_offset hold its own position
-- in <topic>.dlq, so (source_topic, source_partition, source_offset, stage)
-- names every dead letter.
ALTER TABLE dead_letters
    -- the API operation an ingest payload came from ('' for the others)
    ADD COLUMN IF NOT EXISTS `source_endpoint` LowCardinality(String) AFTER `dead_at`,
    -- the value's full length when it was cut to the size limit, else 0
    ADD COLUMN IF NOT EXISTS `truncated_from_bytes` UInt64 AFTER `source_endpoint`;

-- A replayed dead letter is named with its stage: the transform and the
-- loader can both give up on one record, and each replays its own. Rows
-- recorded before this migration have no stage: they are the loader's.
ALTER TABLE dead_letters_replayed
    ADD COLUMN IF NOT EXISTS `stage` LowCardinality(String),
    MODIFY ORDER BY (source_topic, source_partition, source_offset, stage);

-- The dead letters no replay has handled yet, of every stage.
CREATE OR REPLACE VIEW dead_letters_open AS
SELECT *
FROM dead_letters
WHERE (source_topic, source_partition, source_offset, stage) GLOBAL NOT IN (
    SELECT source_topic, source_partition, source_offset, if(stage = '', 'load', stage) FROM dead_letters_replayed
);
