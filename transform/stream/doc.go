// Package stream runs the transform stage: it consumes the input topics,
// resolves product identity and joins per product and day (packages
// identity and join keep the rules), and produces xchannel.product_links
// and xchannel.product_daily.
//
// It runs as a partitioned, stateful stream processor on Kafka, the way
// Kafka Streams does: the work is split into sub-topologies connected by
// internal repartition topics, each sub-topology into tasks (one per
// partition of its source topic), and the tasks are spread over any number
// of instances that share one consumer group. Each task keeps its state in
// a local embedded store on disk (package transform/state, over
// github.com/cockroachdb/pebble) backed by a compacted changelog topic that
// is written in the same Kafka transaction as the task's outputs and the
// consumed offsets. Memory is bounded by configuration (caches), not by
// the history the stage has seen.
//
// # Topology
//
// Internal topics are named <topic_prefix><group>-<name>, like Kafka
// Streams' <application.id>-<name>, so two deployments (groups) never share
// them. P is Config.Partitions (default 12), the most instances that can
// share the work of a step; it cannot change for a group (New refuses
// internal topics with other partition counts).
//
//	input topics (amazon.*, tiktok.*; their own partitions and keys)
//	  │ 1 route (a task per input partition; stateless)
//	  │   decode the Avro input (straight from its bytes by a decoder
//	  │   compiled per writer schema, native.Plan, or through goavro's
//	  │   maps for a schema it does not compile; both read alike; a
//	  │   record that cannot be decoded or read
//	  │   goes to <topic>.dlq here, the only place that reads inputs;
//	  │   replay requests on the dead-letter topics are routed here too),
//	  │   and forward what each later step needs, re-keyed, in a compact
//	  │   binary form (join.AppendFact), so inputs are decoded once:
//	  ├──> <group>-identity-repartition (1 partition)
//	  │      catalog items (amazon.catalog identifiers, tiktok.products SKUs)
//	  │      and the seller SKUs learnt from sales & traffic and order lines
//	  └──> <group>-facts-repartition (P partitions, keyed by entity)
//	         the entity is the unit of state the join's rules need together:
//	         a video (tiktok.video_performance and tiktok.video_engagement
//	         by video id), an Amazon order (amazon.orders and
//	         amazon.order_items by marketplace and order, for items that
//	         wait for their order's purchase date), a channel product's
//	         sales-rank snapshots (amazon.catalog by ASIN), and otherwise
//	         the input record's own key (sales & traffic, search query
//	         performance, search terms, TikTok orders).
//
//	<group>-identity-repartition
//	  │ 2 identity (1 task; store "identity")
//	  │   identity.Resolver over the current catalog: the store holds the
//	  │   items per source record, the learnt seller SKUs, the last
//	  │   version applied per source and the last version emitted per
//	  │   link; the Resolver's indexes are rebuilt from it when the task
//	  │   starts.
//	  └──> xchannel.product_links (output, compacted, keyed by channel product)
//
//	xchannel.product_links, read in full by every instance (a global table)
//
//	<group>-facts-repartition
//	  │ 3 facts (P tasks; store "facts")
//	  │   the join's state per entity: the last change accepted per source
//	  │   key (duplicates and stale versions stop here), a video's shop
//	  │   analytics days and snapshot state, an order's purchase day and
//	  │   waiting items; and what the entity last sent: its partial figures
//	  │   per (product key, day). Product keys come from the global links
//	  │   table. A changed entity sends the partials that changed, and
//	  │   retracts those under keys or days it no longer reaches.
//	  └──> <group>-partials-repartition (P partitions, keyed by product key)
//
//	<group>-partials-repartition
//	  │ 4 rows (P tasks; store "rows")
//	  │   per (product key, day): the current partial of every entity
//	  │   that reaches it, and the version and content of the row last
//	  │   emitted. The row is the join's combination of its partials; it is
//	  │   emitted, with the next version, when its content changed.
//	  └──> xchannel.product_daily (output, keyed by product_key:date)
//
// Every store has a changelog <group>-<store>-changelog (compacted,
// partitions as the store's source topic).
//
// # Why identity is one task and a global table
//
// Identity resolution is a connected-components problem over the whole
// catalog: a GTIN or seller SKU shared by two listings, in any shop or
// marketplace, decides both keys, and a conflict anywhere unlinks a group.
// Partitioning it would need a distributed union-find; its input is the
// catalog and the learnt seller SKUs, a small fraction of the records, and
// its state is bounded by the number of channel products, not by history.
// So it is one task (a one-partition repartition topic, as a Kafka Streams
// application gets when it repartitions to one partition), which runs on
// one instance at a time and moves like any other task.
//
// Its output, xchannel.product_links, is what the join needs of identity:
// for each channel product its product key and, for a TikTok SKU, its
// product. Every instance reads it in full into memory (about 200 bytes a
// channel product: 4 MiB for 20,000), like a GlobalKTable, so that the
// facts tasks map a channel product to its key without a second foreign-key
// hop. A global table is not synchronised with the task's input, so the
// facts tasks treat a link change as an event of its own: each facts task
// indexes, in its store, which of its entities reach which channel
// products and TikTok products, and when a link changes it recomputes and
// re-sends those entities' partials. Each facts task records in its store
// (in the same transaction as the partials) the product_links offsets it
// has reacted to; after a restart or when it takes over a task, it reads
// the table to its end and reacts to every link that changed after those
// offsets. The rows converge to the join of the current facts under the
// current links, whatever the interleaving, as the join's rules require.
//
// One link change can reach many entities: a catalog that changes after
// months of history reaches every order, sales row and video of the
// product, and a task that restarts after a backlog reacts to every link
// that changed meanwhile. Recomputing all of them in one transaction
// held every one in memory with all its partial changes (above 1 GiB in
// the restart benchmark) and outlasted the transaction timeout, so the
// restarted instance tried the same relink again, forever. So a facts
// task queues the channel products whose links changed in its store
// (q/<ref>, with the link change's metadata for the rows), and each
// transaction relinks the queue's next entities, at most
// Config.MaxTransactionRelinks for all the facts tasks of the instance
// (default 1000), and stores how far it got (the last dependent entity
// relinked, per channel product) in the same transaction, as Kafka
// Streams bounds the work of a commit. The engine runs the next
// transaction at once, without waiting for records, while a task has
// relinks left; input records go on being processed in the same
// transactions. A crash resumes from the cursor of the last commit; a
// channel product whose links change again while queued starts again
// from its first dependent. The rows end as the one-transaction relink
// left them (join.Facts.RelinkQueued says why); until a relink is done,
// the rows of the entities not relinked yet keep their old keys, as they
// did until the transaction that reacted.
//
// # Why partials
//
// A row combines the facts of every channel product linked to its key and
// every video showing one of its products, which live in different facts
// partitions (by entity). The facts tasks send each entity's share of a
// row, already reduced (sums, money per currency, order ids for distinct
// counts, search figures per period, ranks, a video's credited
// engagement), and the rows task combines them, as package join defines.
// Re-keying (a link that changes) moves partials, never facts: the facts
// of an entity stay in the partition of the entity.
//
// # State, and why it is bounded
//
// A task's store lives on the instance's local disk, under
// Config.StateDir, one pebble database per instance with a key range per
// task (one memtable budget and one block cache for all tasks of an
// instance). What is in memory: Config.CacheBytes, split between a
// bounded cache of committed values (kept outside the Go heap, so the
// garbage collector never scans it), a bloom filter of the stored keys
// of a fixed size (reads of keys never written skip pebble), pebble's
// block cache and its memtables (package state); the global links table and the identity
// resolver (both bounded by the catalog); and one transaction's writes
// (bounded by the records per poll and the entities relinked per
// transaction, Config.MaxTransactionRelinks). Nothing grows with the days of
// history: old days' state is on disk and read back when late data
// touches it. The per-record path reads and writes whole keys (an
// entity, with the partials it sent; a row, with its partials): scans
// are left to rare events (a link change, a sales-rank delete, a task's
// start).
//
// A transaction's writes are held in a write cache (one write per key,
// as Kafka Streams' record cache) and produced to the changelog in the
// transaction. When the transaction commits, they are applied to the
// local store together with each task's checkpoint: the changelog offset
// it now reflects. If the transaction aborts (a rebalance, a fenced
// producer), they are dropped and the tasks' in-memory state is reset:
// the store is still exactly the committed state.
//
// # Restart, rebalance, crash
//
// When a task is assigned to an instance, it is restored before it
// processes anything: from the local store's checkpoint onwards, the task's
// changelog partition is read (read_committed) up to its end and applied.
// A warm restart (the same instance, its state_dir kept) reads only the
// changelog written after the last commit it applied (normally nothing, or
// one transaction); a task that moved to another instance, or a wiped
// state_dir, reads its whole changelog partition, which compaction keeps
// at the size of the task's state. The input history is never replayed.
// The local checkpoint is ignored (the task's range is wiped and restored
// in full) when it does not fit the changelog: the topic was recreated
// (checkpoint beyond its end), its start moved past the checkpoint, or the
// checkpoint is older than the changelog's delete.retention.ms, after
// which compaction may have removed tombstones the store never applied.
//
// A crash (SIGKILL) at any point loses nothing: before the commit, the
// transaction is aborted by the next producer with the same transactional
// id (or times out) and neither the changelog nor the local store holds
// its writes; after the commit and before the local batch was applied,
// the restore reads those writes back from the changelog. The local store
// has no write-ahead log (as Kafka Streams runs RocksDB: the changelog is
// the log), so after a crash it is at the last commit pebble flushed to
// disk, with that commit's checkpoint (a commit's writes and checkpoint
// are one batch, flushed whole), and the restore reads the changelog from
// there: at most the memtables' worth of commits more than a clean stop,
// which flushes.
//
// Instances are static group members (group.instance.id =
// Config.InstanceID) balanced cooperative-sticky, so a restarted
// instance gets its tasks back without a rebalance and restores from its
// local stores; a new or departed instance moves only the tasks that
// must move. Each instance has its own transactional id
// (<group>-<InstanceID>, or Config.TransactionalID), and franz-go's
// GroupTransactSession gives exactly-once v2 (KIP-447): offsets are
// committed in the transaction with the group's generation, so a zombie
// (an instance that lost its tasks and does not know yet) cannot commit,
// and a restarted instance fences its previous incarnation's open
// transaction through the shared transactional id (at its start, before
// it restores anything). The transaction timeout is 20 seconds (Kafka
// Streams sets 10): an open transaction of a crashed instance holds back
// the read_committed consumers of its partitions (the next steps) until it
// is fenced or times out, and a restore waits until no transaction is open
// on its changelog partition, so that it cannot miss writes that commit
// after it read (the task's consumer, fetching the group's offsets
// stable, would start after their inputs). A transaction takes at most
// Config.MaxTransactionRecords records, fewer while transactions are slow
// (a loaded machine), so that it lasts a small part of the timeout. A
// stopping instance still ends its transaction.
//
// # No standby replicas
//
// Kafka Streams can keep warm copies of a task's store on other
// instances. We do not: with static membership a restart keeps its tasks,
// a restore reads one task's compacted changelog (the task's state, not
// the history), and standbys would double every store's reads and disk.
// When an instance is lost for good, its tasks restore from their
// changelogs on the others, measured by the restart benchmark.
//
// # Retention of the topics
//
// Input topics need only keep records until every transform instance has
// consumed them (plus the time an operator wants to re-run the stage
// from scratch, see below): their facts live in the stores. The
// changelogs are compacted (cleanup.policy=compact, never expire), as is
// xchannel.product_links. Records of the repartition topics are deleted by
// the stage once they are consumed and committed (DeleteRecords, as Kafka
// Streams purges its repartition topics); their retention.ms of a week
// only bounds what a stopped deployment leaves behind. Recomputing everything from
// scratch (a new rule) needs the inputs' history: keep it as long as
// such a re-run must reach back, or re-ingest.
package stream
