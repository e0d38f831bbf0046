// Package cursor reads and describes the positions of ingest stages, kept in
// the compacted topic shopstream.cursors.
//
// A cursor is written only by the transactional writer (package
// ingest/emit), in the same Kafka transaction as the records it covers, so
// the latest committed cursor of a name is exactly where the committed output
// ends. [Load] reads the topic to its end with read_committed isolation and
// returns the latest cursor of every name of one source.
//
// Call Load only after the stage's transactional writer exists: creating the
// writer fences a previous incarnation with the same transactional id and
// waits until its open transaction is aborted or committed, so the cursor Load
// returns can no longer move behind the stage's back.
package cursor

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/linkedin/goavro/v2"
)

// Entity is the entity field of a plain cursor record. Other packages store
// per-key state as cursors with their own entity name (see
// ingest/changecapture).
const Entity = "cursor"

// Ops of the change metadata, as in every topic's schema.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Cursor is one record of shopstream.cursors: where the cursor Name of stage
// Source stands. The zero values of Position, WindowStart and WindowEnd are
// written as null.
type Cursor struct {
	// Source is the stage the cursor belongs to, e.g. amazon or tiktokshop.
	Source string
	// Name is the cursor's name within its source, e.g. orders/ATVPDKIKX0DER.
	// It must not be empty.
	Name string
	// Position is an opaque resume position (a NextToken, page token or
	// time); empty when the window is complete.
	Position string
	// WindowStart is the inclusive start of the window being read.
	WindowStart time.Time
	// WindowEnd is the exclusive end of the window being read.
	WindowEnd time.Time

	// Entity is the kind of state: [Entity] for a plain cursor.
	Entity string
	// Op is create for the first record of a name, update afterwards.
	Op string
	// Version grows by one with every record of the same name; 0 means the
	// cursor was never stored.
	Version int64
	// SourceTS is when the position was reached, per the source when it says.
	SourceTS time.Time
	// IngestTS is when the record was built.
	IngestTS time.Time
}

// New returns the cursor name of source before anything was stored for it:
// version 0, no position, no window.
func New(source, name string) Cursor {
	return Cursor{Source: source, Name: name, Entity: Entity}
}

// Key returns the Kafka key of the cursor: source:name.
func (c Cursor) Key() string { return Key(c.Source, c.Name) }

// Key returns the Kafka key of cursor name of source.
func Key(source, name string) string { return source + ":" + name }

// Stored reports whether the cursor came from the topic (rather than from
// [New]).
func (c Cursor) Stored() bool { return c.Version > 0 }

// Advance returns the next record of the cursor: the given position and
// window, the version one higher, op create for the first record and update
// afterwards, SourceTS and IngestTS at now. A version that only counts
// records of one name is deterministic, so an advance re-done after a crash
// gets the same version and event id as the one that was lost.
func (c Cursor) Advance(position string, windowStart, windowEnd, now time.Time) Cursor {
	next := c
	next.Position = position
	next.WindowStart = windowStart
	next.WindowEnd = windowEnd
	next.Version = c.Version + 1
	next.Op = OpUpdate
	if c.Version == 0 {
		next.Op = OpCreate
	}
	if next.Entity == "" {
		next.Entity = Entity
	}
	next.SourceTS = now.UTC()
	next.IngestTS = now.UTC()
	return next
}

// eventNamespace is the UUID namespace of cursor event ids.
var eventNamespace = uuid.MustParse("7b0f4b8e-2f55-4d8e-9c5e-6d1f3c0a9b21")

// EventID returns the deterministic event id of the record: a name-based
// UUID (version 8, SHA-256, RFC 9562 B.2) of the key, version, position and
// window. The same advance of the same cursor always gets the same id.
func (c Cursor) EventID() string {
	var b []byte
	b = appendString(b, c.Key())
	b = binary.BigEndian.AppendUint64(b, uint64(c.Version))
	b = appendString(b, c.Position)
	b = binary.BigEndian.AppendUint64(b, uint64(millisOrZero(c.WindowStart)))
	b = binary.BigEndian.AppendUint64(b, uint64(millisOrZero(c.WindowEnd)))
	return uuid.NewHash(sha256.New(), eventNamespace, b, 8).String()
}

// appendString appends s with a length prefix, so that no two sequences of
// strings share an encoding.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func millisOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Record returns the cursor as a shopstream.cursors record in goavro's
// native form.
func (c Cursor) Record() map[string]any {
	entity := c.Entity
	if entity == "" {
		entity = Entity
	}
	op := c.Op
	if op == "" {
		op = OpUpdate
	}
	return map[string]any{
		"event_id":     c.EventID(),
		"source":       c.Source,
		"entity":       entity,
		"op":           op,
		"source_ts":    c.SourceTS.UTC(),
		"ingest_ts":    c.IngestTS.UTC(),
		"version":      c.Version,
		"cursor_name":  c.Name,
		"position":     optional("string", c.Position, c.Position != ""),
		"window_start": optional("long.timestamp-millis", c.WindowStart.UTC(), !c.WindowStart.IsZero()),
		"window_end":   optional("long.timestamp-millis", c.WindowEnd.UTC(), !c.WindowEnd.IsZero()),
	}
}

func optional(branch string, v any, ok bool) any {
	if !ok {
		return nil
	}
	return goavro.Union(branch, v)
}

// ErrMalformed is returned by [FromRecord] for a record that is not a cursor.
var ErrMalformed = errors.New("cursor: malformed cursor record")

// FromRecord returns the cursor in a decoded shopstream.cursors record.
func FromRecord(rec map[string]any) (Cursor, error) {
	var (
		c    Cursor
		errs []error
	)
	str := func(field string) string {
		s, ok := rec[field].(string)
		if !ok {
			errs = append(errs, fmt.Errorf("field %s is %T, want string", field, rec[field]))
		}
		return s
	}
	ts := func(field string) time.Time {
		t, ok := rec[field].(time.Time)
		if !ok {
			errs = append(errs, fmt.Errorf("field %s is %T, want time.Time", field, rec[field]))
		}
		return t.UTC()
	}
	c.Source = str("source")
	c.Entity = str("entity")
	c.Op = str("op")
	c.Name = str("cursor_name")
	c.SourceTS = ts("source_ts")
	c.IngestTS = ts("ingest_ts")
	switch v := rec["version"].(type) {
	case int64:
		c.Version = v
	default:
		errs = append(errs, fmt.Errorf("field version is %T, want int64", v))
	}
	if u, ok := rec["position"].(map[string]any); ok {
		c.Position, _ = u["string"].(string)
	}
	if u, ok := rec["window_start"].(map[string]any); ok {
		t, _ := u["long.timestamp-millis"].(time.Time)
		c.WindowStart = t.UTC()
	}
	if u, ok := rec["window_end"].(map[string]any); ok {
		t, _ := u["long.timestamp-millis"].(time.Time)
		c.WindowEnd = t.UTC()
	}
	if c.Name == "" && len(errs) == 0 {
		errs = append(errs, errors.New("cursor_name is empty"))
	}
	if len(errs) > 0 {
		return Cursor{}, fmt.Errorf("%w: %w", ErrMalformed, errors.Join(errs...))
	}
	return c, nil
}
