package changecapture

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/cursor"
)

// TestReplay: a dead-lettered record replayed is written with the change
// it stood for: the change the tracker recorded (same version and event
// id), a new change when it is newer than the state, a past version below
// the current one when it is older, and nothing when its content was
// written since. Accept moves the state only forward.
func TestReplay(t *testing.T) {
	rec := orderRecord()
	newer := orderRecord()
	newer["order_status"] = "Shipped"
	// settled accepts and commits c, and reports whether content polled
	// later is still a change.
	settled := func(tr *Tracker, c Change, content map[string]any, polled time.Time) bool {
		tr.Accept(c)
		tr.Commit()
		_, changed := observe(t, tr, "A:1", content, polled)
		return changed
	}

	t.Run("recorded change", func(t *testing.T) {
		tr := newTracker(t, nil)
		// The stage recorded the change, then failed to write it.
		c, _ := observe(t, tr, "A:1", rec, t0)
		tr.Commit()
		got, write, err := tr.Replay("A:1", rec, t0, c.Op, c.Version)
		if err != nil || !write || got.Version != c.Version || got.EventID != c.EventID || got.Op != c.Op {
			t.Fatalf("replay = %+v, %v, %v; want the recorded change %+v", got, write, err, c)
		}
		if settled(tr, got, rec, t0.Add(time.Hour)) {
			t.Error("the replayed content polled again is a change")
		}
	})
	t.Run("recorded change, content fixed", func(t *testing.T) {
		tr := newTracker(t, nil)
		c, _ := observe(t, tr, "A:1", rec, t0)
		tr.Commit()
		got, write, _ := tr.Replay("A:1", newer, t0, c.Op, c.Version)
		if !write || got.Version != c.Version || got.EventID == c.EventID {
			t.Fatalf("replay = %+v, %v; want version %d with the new content's event id", got, write, c.Version)
		}
		if settled(tr, got, newer, t0.Add(time.Hour)) {
			t.Error("the fixed content polled again is a change")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		tr := newTracker(t, nil)
		got, write, _ := tr.Replay("A:1", rec, t0, "", 0)
		if !write || got.Op != cursor.OpCreate || got.Version != t0.UnixMilli() {
			t.Fatalf("replay = %+v, %v; want a create at the source time", got, write)
		}
	})
	t.Run("written since", func(t *testing.T) {
		tr := newTracker(t, nil)
		observe(t, tr, "A:1", rec, t0.Add(time.Hour))
		tr.Commit()
		if got, write, _ := tr.Replay("A:1", rec, t0, "", 0); write {
			t.Fatalf("replay of content written since = %+v", got)
		}
	})
	t.Run("newer than the state", func(t *testing.T) {
		tr := newTracker(t, nil)
		c, _ := observe(t, tr, "A:1", rec, t0)
		tr.Commit()
		got, write, _ := tr.Replay("A:1", newer, t0.Add(time.Minute), "", 0)
		if !write || got.Op != cursor.OpUpdate || got.Version <= c.Version {
			t.Fatalf("replay = %+v, %v; want an update above %d", got, write, c.Version)
		}
		if settled(tr, got, newer, t0.Add(time.Hour)) {
			t.Error("the replayed content polled again is a change")
		}
	})
	t.Run("older than the state", func(t *testing.T) {
		tr := newTracker(t, nil)
		c, _ := observe(t, tr, "A:1", newer, t0.Add(time.Hour))
		tr.Commit()
		got, write, _ := tr.Replay("A:1", rec, t0, "", 0)
		if !write || got.Version != t0.UnixMilli() || got.Version >= c.Version {
			t.Fatalf("replay = %+v, %v; want the past version %d below %d", got, write, t0.UnixMilli(), c.Version)
		}
		if settled(tr, got, newer, t0.Add(2*time.Hour)) {
			t.Error("a past version replayed replaced the current state")
		}
	})
}
