package changecapture

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/shopstream/shopstream/ingest/cursor"
)

// StateEntity is the entity field of the cursor records that hold a
// Tracker's state.
const StateEntity = "changecapture"

// StatePrefix returns the cursor-name prefix under which the state of entity
// is kept: changecapture/<entity>/, followed by the entity key.
func StatePrefix(entity string) string { return StateEntity + "/" + entity + "/" }

// Config names what a Tracker tracks.
type Config struct {
	// Source is the stage, e.g. amazon or tiktokbiz.
	Source string
	// Entity is the kind of entity, e.g. order or video_engagement.
	Entity string
	// Exclude names top-level record fields left out of the content hash
	// besides the change metadata: fields that change without the entity
	// changing, such as a fetch time.
	Exclude []string
}

// CursorSet is the loaded state a Tracker starts from; *cursor.Set is one.
type CursorSet interface {
	WithPrefix(prefix string) []cursor.Cursor
}

// state is what a Tracker remembers of one key.
type state struct {
	hash     Hash // zero when deleted
	deleted  bool
	version  int64
	sourceTS time.Time
}

// Tracker decides, for the polled snapshots of one entity of one source,
// which records are real changes, and gives each its change metadata.
//
// It keeps the last content hash and version of every key it has emitted.
// That state is committed in the same Kafka transaction as the records,
// as cursor records in shopstream.cursors (one per key, name
// changecapture/<entity>/<key>, position = content hash, version = the
// key's version), so after a crash it is rebuilt by [NewTracker] from
// [cursor.Load] exactly as the committed output left it. Observations first
// go to a pending layer: [Tracker.Pending] returns their state records for
// the transaction, then [Tracker.Commit] or [Tracker.Rollback] settles them
// with the transaction's outcome.
//
// Each key must be observed by one stage instance only (shard instances by
// key, e.g. by marketplace or shop): the state of a key is fenced only
// through the transactional id of the instance that writes it.
//
// A Tracker is not safe for concurrent use.
type Tracker struct {
	cfg       Config
	committed map[string]state
	pending   map[string]state
	order     []string // pending keys in the order they were first observed
}

// NewTracker returns a Tracker whose committed state is what cursors hold
// under [StatePrefix] of cfg.Entity.
func NewTracker(cfg Config, cursors CursorSet) (*Tracker, error) {
	if cfg.Source == "" || cfg.Entity == "" {
		return nil, errors.New("changecapture: tracker needs a source and an entity")
	}
	t := &Tracker{cfg: cfg, committed: map[string]state{}, pending: map[string]state{}}
	if cursors == nil {
		return t, nil
	}
	prefix := StatePrefix(cfg.Entity)
	for _, c := range cursors.WithPrefix(prefix) {
		key := strings.TrimPrefix(c.Name, prefix)
		s := state{version: c.Version, sourceTS: c.SourceTS, deleted: c.Op == cursor.OpDelete}
		if !s.deleted {
			h, err := ParseHash(c.Position)
			if err != nil {
				return nil, fmt.Errorf("changecapture: state of %s key %q: %w", cfg.Entity, key, err)
			}
			s.hash = h
		}
		t.committed[key] = s
	}
	return t, nil
}

// Len returns the number of keys the tracker remembers, committed or pending.
func (t *Tracker) Len() int {
	n := len(t.committed)
	for k := range t.pending {
		if _, ok := t.committed[k]; !ok {
			n++
		}
	}
	return n
}

func (t *Tracker) last(key string) (state, bool) {
	if s, ok := t.pending[key]; ok {
		return s, true
	}
	s, ok := t.committed[key]
	return s, ok
}

func (t *Tracker) setPending(key string, s state) {
	if _, ok := t.pending[key]; !ok {
		t.order = append(t.order, key)
	}
	t.pending[key] = s
}

// ErrStale is wrapped by Observe's error for a snapshot older than the
// key's last change.
var ErrStale = errors.New("snapshot older than the last change")

// Change is the metadata of one real change of one key.
type Change struct {
	Source   string
	Entity   string
	Key      string
	Op       string // create, update or delete
	EventID  string
	Version  int64
	SourceTS time.Time
	Hash     Hash // zero for a delete
}

// Stamp sets the seven change metadata fields of rec (event_id, source,
// entity, op, source_ts, ingest_ts, version) and returns rec.
func (c Change) Stamp(rec map[string]any, ingestTS time.Time) map[string]any {
	rec["event_id"] = c.EventID
	rec["source"] = c.Source
	rec["entity"] = c.Entity
	rec["op"] = c.Op
	rec["source_ts"] = c.SourceTS.UTC()
	rec["ingest_ts"] = ingestTS.UTC()
	rec["version"] = c.Version
	return rec
}

// Observe compares rec, the current snapshot of key in goavro's native form,
// with the last content the tracker holds for key (pending or committed).
// When the content is the same it returns false and nothing changes. When it
// differs, or the key is new or was deleted, it records the new state as
// pending and returns the change: op create for a new (or re-appearing) key,
// update otherwise.
//
// sourceTS is when the source says the entity changed (an order's
// LastUpdateDate), or, for a snapshot without a change time, the capture
// time of the window. It must not be zero.
//
// A snapshot whose sourceTS is before that of the key's last change is
// older than what was emitted (a lagging read, or two fetches of one key
// that finished out of order): it returns an error that wraps ErrStale and
// changes nothing, so older content never gets a newer version.
func (t *Tracker) Observe(key string, rec map[string]any, sourceTS time.Time) (Change, bool, error) {
	h, err := t.hash(key, rec, sourceTS)
	if err != nil {
		return Change{}, false, err
	}
	prev, known := t.last(key)
	if known && !prev.deleted && prev.hash == h {
		return Change{}, false, nil
	}
	if known && !prev.deleted && sourceTS.Before(prev.sourceTS) {
		return Change{}, false, fmt.Errorf("changecapture: %s %q changed at %s, the snapshot is from %s: %w",
			t.cfg.Entity, key, prev.sourceTS.UTC().Format(time.RFC3339Nano), sourceTS.UTC().Format(time.RFC3339Nano), ErrStale)
	}
	op := cursor.OpUpdate
	if !known || prev.deleted {
		op = cursor.OpCreate
	}
	return t.change(key, op, h, prev.version, sourceTS), true, nil
}

// hash is the content hash of rec, the state of key at sourceTS.
func (t *Tracker) hash(key string, rec map[string]any, sourceTS time.Time) (Hash, error) {
	if sourceTS.IsZero() {
		return Hash{}, fmt.Errorf("changecapture: %s %q: zero source time", t.cfg.Entity, key)
	}
	h, err := HashRecord(rec, t.cfg.Exclude...)
	if err != nil {
		return Hash{}, fmt.Errorf("changecapture: %s %q: %w", t.cfg.Entity, key, err)
	}
	return h, nil
}

// Delete records that key no longer exists at the source. It returns false
// when the key is unknown or already deleted. The state of a deleted key is
// kept, so a key that comes back gets a higher version.
func (t *Tracker) Delete(key string, sourceTS time.Time) (Change, bool) {
	prev, known := t.last(key)
	if !known || prev.deleted || sourceTS.IsZero() {
		return Change{}, false
	}
	return t.change(key, cursor.OpDelete, deletedMarker, prev.version, sourceTS), true
}

func (t *Tracker) change(key, op string, h Hash, prevVersion int64, sourceTS time.Time) Change {
	version := NextVersion(prevVersion, sourceTS)
	c := Change{
		Source:   t.cfg.Source,
		Entity:   t.cfg.Entity,
		Key:      key,
		Op:       op,
		EventID:  EventID(t.cfg.Source, t.cfg.Entity, key, version, h),
		Version:  version,
		SourceTS: sourceTS.UTC(),
		Hash:     h,
	}
	t.setPending(key, state{hash: h, deleted: op == cursor.OpDelete, version: c.Version, sourceTS: c.SourceTS})
	return c
}

// Pending returns the state records of the pending changes, in the order
// their keys were first observed, for the transaction that writes the
// changes. ingestTS stamps them.
func (t *Tracker) Pending(ingestTS time.Time) []cursor.Cursor {
	out := make([]cursor.Cursor, 0, len(t.order))
	prefix := StatePrefix(t.cfg.Entity)
	for _, key := range t.order {
		s := t.pending[key]
		c := cursor.Cursor{
			Source:   t.cfg.Source,
			Name:     prefix + key,
			Entity:   StateEntity,
			Op:       cursor.OpUpdate,
			Version:  s.version,
			SourceTS: s.sourceTS,
			IngestTS: ingestTS.UTC(),
		}
		if s.deleted {
			c.Op = cursor.OpDelete
		} else {
			c.Position = s.hash.String()
		}
		out = append(out, c)
	}
	return out
}

// Commit makes the pending state committed: call it once the transaction
// holding the changes and [Tracker.Pending] committed.
func (t *Tracker) Commit() {
	for _, key := range t.order {
		t.committed[key] = t.pending[key]
	}
	t.Rollback()
}

// Rollback forgets the pending state: call it when the transaction aborted.
// When its outcome is unknown, rebuild the tracker from a fresh
// [cursor.Load] instead.
func (t *Tracker) Rollback() {
	clear(t.pending)
	t.order = t.order[:0]
}

// NextVersion returns the version of a key's next change: the source time in
// Unix milliseconds, or one more than the previous version when that is not
// higher (the source's clock repeated a millisecond or went back). The
// version is thus strictly increasing per key by construction, and stays
// close to the source time, so even a key whose state was lost gets a
// version above its earlier ones unless its source clock went backwards.
// prev is 0 for a key never seen.
func NextVersion(prev int64, sourceTS time.Time) int64 {
	return max(prev+1, sourceTS.UnixMilli())
}

// eventNamespace is the UUID namespace of change event ids.
var eventNamespace = uuid.MustParse("3c2e8a4f-9d61-4b7a-8f0e-5a1d2c6b7e90")

// deletedMarker stands for the content of a delete in its event id.
var deletedMarker = Hash{}

// EventID returns the deterministic event id of a change: a name-based UUID
// (version 8, SHA-256, RFC 9562 B.2) of the source, entity, key, version and
// content hash (the zero hash for a delete).
//
// The version is the source time in milliseconds whenever the source's
// clock moves forward (see [NextVersion]), so the id is then the source's
// own identity of the change: which entity, when the source says it
// changed, and what it changed to. Re-reading that change (a retried
// window, an overlap, a restart, even a tracker whose state was lost) yields
// the same id, and consumers can drop the replay. Only when the source
// repeats or turns back its clock does the version, and with it the id, come
// from the committed state (previous version + 1), which is what keeps a
// change back to an earlier content (A, B, A at one source time) from
// reusing the first change's id; a re-read then still yields the same id,
// because the state it builds on is committed with the records.
func EventID(source, entity, key string, version int64, content Hash) string {
	var b []byte
	for _, s := range []string{source, entity, key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(version))
	b = append(b, content[:]...)
	return uuid.NewHash(sha256.New(), eventNamespace, b, 8).String()
}
