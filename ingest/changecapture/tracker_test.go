package changecapture

import (
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

func TestNextVersion(t *testing.T) {
	ms := t0.UnixMilli()
	for _, tc := range []struct {
		name string
		prev int64
		ts   time.Time
		want int64
	}{
		{"first change: the source time", 0, t0, ms},
		{"later source time wins", ms, t0.Add(time.Second), ms + 1000},
		{"same millisecond: one more", ms, t0, ms + 1},
		{"sub-millisecond later: one more", ms, t0.Add(time.Microsecond), ms + 1},
		{"source clock went back: one more", ms, t0.Add(-time.Hour), ms + 1},
		{"version ran ahead of the clock: one more", ms + 5, t0.Add(2 * time.Millisecond), ms + 6},
		{"time before the epoch still grows", 0, time.Unix(-10, 0), 1},
	} {
		if got := NextVersion(tc.prev, tc.ts); got != tc.want {
			t.Errorf("%s: NextVersion(%d, %v) = %d, want %d", tc.name, tc.prev, tc.ts, got, tc.want)
		}
	}
}

func TestEventID(t *testing.T) {
	h := Hash{1, 2, 3}
	v := t0.UnixMilli()
	id := EventID("amazon", "order", "A:1", v, h)
	if id != EventID("amazon", "order", "A:1", v, h) {
		t.Fatal("EventID is not deterministic")
	}
	if len(id) != 36 || id[14] != '8' {
		t.Errorf("EventID = %q, want a version-8 UUID", id)
	}
	for name, other := range map[string]string{
		"source":        EventID("tiktokshop", "order", "A:1", v, h),
		"entity":        EventID("amazon", "order_item", "A:1", v, h),
		"key":           EventID("amazon", "order", "A:2", v, h),
		"version":       EventID("amazon", "order", "A:1", v+1, h),
		"content":       EventID("amazon", "order", "A:1", v, Hash{1, 2, 4}),
		"field borders": EventID("amazono", "rder", "A:1", v, h),
	} {
		if other == id {
			t.Errorf("changing the %s keeps the event id", name)
		}
	}
}

// cursors is a CursorSet made of the state records a tracker committed.
type cursors []cursor.Cursor

func (cs cursors) WithPrefix(prefix string) []cursor.Cursor {
	var out []cursor.Cursor
	for _, c := range cs {
		if len(c.Name) >= len(prefix) && c.Name[:len(prefix)] == prefix {
			out = append(out, c)
		}
	}
	return out
}

func newTracker(t *testing.T, state cursors) *Tracker {
	t.Helper()
	tr, err := NewTracker(Config{Source: "amazon", Entity: "order", Exclude: []string{"seller_display_name"}}, state)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func observe(t *testing.T, tr *Tracker, key string, rec map[string]any, ts time.Time) (Change, bool) {
	t.Helper()
	c, ok, err := tr.Observe(key, rec, ts)
	if err != nil {
		t.Fatal(err)
	}
	return c, ok
}

func TestTrackerEmitsOnlyRealChanges(t *testing.T) {
	tr := newTracker(t, nil)
	rec := orderRecord()
	c1, ok := observe(t, tr, "A:1", rec, t0)
	if !ok || c1.Op != cursor.OpCreate || c1.Version != t0.UnixMilli() {
		t.Fatalf("first observation = %+v, %v; want a create at version %d", c1, ok, t0.UnixMilli())
	}
	if c1.EventID != EventID("amazon", "order", "A:1", t0.UnixMilli(), mustHash(t, rec)) {
		t.Error("the change's event id is not EventID of its identity")
	}
	// The same content again, in the same batch or in a later one, with a
	// later capture time and a different volatile field: no change.
	again := orderRecord()
	again["seller_display_name"] = "volatile"
	again["ingest_ts"] = t0.Add(time.Hour)
	if c, ok := observe(t, tr, "A:1", again, t0.Add(time.Minute)); ok {
		t.Fatalf("unchanged content emitted %+v", c)
	}
	tr.Commit()
	if c, ok := observe(t, tr, "A:1", again, t0.Add(2*time.Minute)); ok {
		t.Fatalf("unchanged content after commit emitted %+v", c)
	}

	changed := orderRecord()
	changed["order_status"] = "Shipped"
	c2, ok := observe(t, tr, "A:1", changed, t0) // the source repeats its clock
	if !ok || c2.Op != cursor.OpUpdate || c2.Version != c1.Version+1 {
		t.Fatalf("change = %+v, %v; want an update at version %d", c2, ok, c1.Version+1)
	}
	if c2.EventID == c1.EventID {
		t.Error("two different changes share an event id")
	}
	// A second change of the key in the same batch builds on the pending one.
	changed2 := orderRecord()
	changed2["order_status"] = "Canceled"
	c3, ok := observe(t, tr, "A:1", changed2, t0.Add(time.Second))
	if !ok || c3.Version <= c2.Version {
		t.Fatalf("second change in a batch = %+v, %v; want a version above %d", c3, ok, c2.Version)
	}
	if got := tr.Pending(t0); len(got) != 1 || got[0].Version != c3.Version {
		t.Fatalf("Pending = %+v, want the one key at version %d", got, c3.Version)
	}

	// Rolled back, the changes are gone: observing them again yields the
	// same changes, ids and versions (what a retry after an abort sees).
	tr.Rollback()
	if got := tr.Pending(t0); len(got) != 0 {
		t.Fatalf("Pending after Rollback = %+v", got)
	}
	r2, ok := observe(t, tr, "A:1", changed, t0)
	if !ok || r2 != c2 {
		t.Errorf("change after rollback = %+v, want %+v", r2, c2)
	}
}

// TestTrackerSkipsStaleSnapshots: a snapshot whose source time is before
// the key's last change (a lagging read) is refused with ErrStale, pending
// or committed, and changes nothing; one at the same source time with other
// content is a change (the source repeats its clock).
func TestTrackerSkipsStaleSnapshots(t *testing.T) {
	tr := newTracker(t, nil)
	shipped := orderRecord()
	shipped["order_status"] = "Shipped"
	c1, _ := observe(t, tr, "A:1", shipped, t0.Add(time.Hour))
	for _, commit := range []bool{false, true} {
		if commit {
			tr.Commit()
		}
		c, ok, err := tr.Observe("A:1", orderRecord(), t0)
		if !errors.Is(err, ErrStale) || ok {
			t.Fatalf("older snapshot (committed %v) = %+v, %v, %v; want ErrStale", commit, c, ok, err)
		}
		if got := tr.Pending(t0); !commit && (len(got) != 1 || got[0].Version != c1.Version) {
			t.Fatalf("Pending after a stale snapshot = %+v, want only version %d", got, c1.Version)
		}
	}
	c2, ok := observe(t, tr, "A:1", orderRecord(), t0.Add(time.Hour))
	if !ok || c2.Version != c1.Version+1 {
		t.Fatalf("other content at the same source time = %+v, %v; want an update at version %d", c2, ok, c1.Version+1)
	}
}

func TestTrackerDeletes(t *testing.T) {
	tr := newTracker(t, nil)
	if _, ok := tr.Delete("A:1", t0); ok {
		t.Error("deleting an unknown key emitted a change")
	}
	c1, _ := observe(t, tr, "A:1", orderRecord(), t0)
	d, ok := tr.Delete("A:1", t0)
	if !ok || d.Op != cursor.OpDelete || d.Version <= c1.Version || d.Hash != (Hash{}) {
		t.Fatalf("delete = %+v, %v", d, ok)
	}
	if _, ok := tr.Delete("A:1", t0.Add(time.Second)); ok {
		t.Error("deleting a deleted key emitted a change")
	}
	tr.Commit()
	back, ok := observe(t, tr, "A:1", orderRecord(), t0)
	if !ok || back.Op != cursor.OpCreate || back.Version <= d.Version {
		t.Fatalf("re-appearing key = %+v, %v; want a create above version %d", back, ok, d.Version)
	}
	if back.EventID == c1.EventID {
		// The source repeated its clock: the content is the first change's,
		// but it is a new change after the delete, and the version (from the
		// state) keeps the ids apart.
		t.Errorf("re-appearance after a delete reused the first change's id")
	}
}

// TestTrackerStateSurvivesRestart: the state records a tracker commits are
// cursors; a tracker rebuilt from them, after the round trip through the
// cursor schema, decides exactly as the original would have.
func TestTrackerStateSurvivesRestart(t *testing.T) {
	codec, err := schemas.NewCodec("shopstream.cursors")
	if err != nil {
		t.Fatal(err)
	}
	tr := newTracker(t, nil)
	shipped := orderRecord()
	shipped["order_status"] = "Shipped"
	observe(t, tr, "A:1", orderRecord(), t0)
	observe(t, tr, "A:2", orderRecord(), t0)
	observe(t, tr, "A:3", orderRecord(), t0)
	tr.Delete("A:3", t0.Add(time.Second))
	var stored cursors
	for _, c := range tr.Pending(t0.Add(time.Hour)) {
		_, rec := schematest.RoundTrip(t, codec, c.Record())
		back, err := cursor.FromRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, back)
	}
	tr.Commit()

	restarted := newTracker(t, stored)
	if restarted.Len() != 3 {
		t.Fatalf("restarted tracker knows %d keys, want 3", restarted.Len())
	}
	if c, ok := observe(t, restarted, "A:1", orderRecord(), t0.Add(time.Hour)); ok {
		t.Errorf("unchanged snapshot after restart emitted %+v", c)
	}
	want, _ := observe(t, tr, "A:2", shipped, t0)
	got, ok := observe(t, restarted, "A:2", shipped, t0)
	if !ok || got != want {
		t.Errorf("change after restart = %+v, want %+v", got, want)
	}
	want, _ = observe(t, tr, "A:3", orderRecord(), t0)
	got, ok = observe(t, restarted, "A:3", orderRecord(), t0)
	if !ok || got != want || got.Op != cursor.OpCreate {
		t.Errorf("deleted key coming back after restart = %+v, want %+v", got, want)
	}
}

func TestTrackerRefusesBadInput(t *testing.T) {
	if _, err := NewTracker(Config{Source: "amazon"}, nil); err == nil {
		t.Error("NewTracker without entity succeeded")
	}
	bad := cursors{{Source: "amazon", Name: StatePrefix("order") + "A:1", Position: "not-a-hash", Version: 3}}
	if _, err := NewTracker(Config{Source: "amazon", Entity: "order"}, bad); err == nil {
		t.Error("NewTracker accepted a state record without a hash")
	}
	tr := newTracker(t, nil)
	if _, _, err := tr.Observe("A:1", orderRecord(), time.Time{}); err == nil {
		t.Error("Observe accepted a zero source time")
	}
	if _, _, err := tr.Observe("A:1", map[string]any{"x": struct{}{}}, t0); err == nil {
		t.Error("Observe accepted content without a canonical encoding")
	}
}

func TestChangeStamp(t *testing.T) {
	tr := newTracker(t, nil)
	rec := orderRecord()
	c, _ := observe(t, tr, "A:1", rec, t0)
	out := c.Stamp(orderRecord(), t0.Add(time.Minute))
	codec, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Encode(out); err != nil {
		t.Fatalf("a stamped record does not encode: %v", err)
	}
	if out["event_id"] != c.EventID || out["version"] != c.Version || out["op"] != "create" || out["source"] != "amazon" || out["entity"] != "order" {
		t.Errorf("stamped metadata = %v", out)
	}
	if mustHash(t, out) != c.Hash {
		t.Error("stamping changed the content hash")
	}
}
