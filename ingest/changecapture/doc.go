// Package changecapture turns polled snapshots into change records: a record
// is emitted only when its entity really changed, with a deterministic
// event_id and a version that only grows per key.
//
// # Content hash
//
// [HashRecord] hashes the Avro record (goavro native form) that would be
// written, without the seven change metadata fields (event_id, source,
// entity, op, source_ts, ingest_ts, version) and without the fields the
// caller names as volatile. The encoding is canonical for the native form
// (sorted map keys, one integer type, times as Unix milliseconds, decimals as
// reduced fractions), so a record hashes the same before it is encoded and
// after it is decoded. Arrays keep their order; where the order carries no
// meaning the caller sorts them, both for hashing and for writing.
//
// # Version
//
// version = max(previous version + 1, source_ts in Unix milliseconds)
// ([NextVersion]). source_ts is when the source says the entity changed, or,
// for a snapshot without a change time, the capture time of the window. The
// previous version is committed in the same transaction as the record (see
// State below), so the version is strictly increasing per key by
// construction, across restarts, even when the source repeats a millisecond
// or its clock goes back. It stays equal to the source time whenever the
// source clock moves forward, which keeps it meaningful, and keeps it above
// earlier versions even if the state of a key were lost.
//
// A snapshot whose source_ts is before that of the key's last change is
// older than what was emitted (a lagging replica, two fetches of one key
// that finished out of order): [Tracker.Observe] refuses it with [ErrStale]
// rather than give older content a newer version. A source that repeats a
// millisecond still gets previous + 1.
//
// # Event id
//
// event_id = UUIDv8(SHA-256(source, entity, key, version, content hash))
// ([EventID]). With a forward-moving source clock, version is the source
// time, so the id is the source's own identity of the change (which entity,
// when the source says it changed, what it changed to): re-reading the same
// change (a retried window, an overlap window, a restart) yields the same id
// whatever shopstream's state, and consumers can drop the replay. When the
// source repeats its clock, the version (previous + 1) keeps a change back
// to an earlier content apart from the earlier change.
//
// # State and recovery
//
// A [Tracker] remembers, per key, the last content hash and version. That
// state lives in the compacted cursor topic shopstream.cursors, one cursor
// record per key (name changecapture/<entity>/<key>, position = content hash,
// version = the key's version, op delete for a deleted key), written in the
// same transaction as the change records (the Tracker joins the emit batch).
// After a crash, [NewTracker] rebuilds it from cursor.Load, which returns
// exactly what was committed: a change whose transaction did not commit is
// found again, with the same id and version.
//
// The cursor topic was chosen over rebuilding from the output topics
// because it is compacted: a restart reads one small record per live key
// rather than the whole history of every output topic (whose retention may
// also have dropped a key's last change). The price is that every source's
// start reads every source's keys; see cursor.Load. Rebuilding from an
// output topic remains possible, since the hash of a decoded record equals
// the hash of the record written.
package changecapture
