package changecapture

import (
	"time"

	"github.com/shopstream/shopstream/ingest/cursor"
)

// Replay returns the change that writes rec, the record of key that a
// dead-lettered payload maps to now (`shopstream dlq replay`), and whether
// it still needs writing. It changes no state: once the record is in the
// batch, hand the change to [Tracker.Accept].
//
// recordedOp and recordedVersion are the change the tracker recorded when
// the payload was dead-lettered (writing it failed after change capture), or
// "" and 0 when it recorded none (the payload did not parse or map). With a
// recorded change, Replay returns that change (same version, hence the
// event id the original would have had with this content). Without one:
//   - the content the tracker holds already for key was written since
//     (nothing to write);
//   - a payload newer than the tracker's state (sourceTS at or above its
//     version) is a change like one [Tracker.Observe] finds;
//   - an older one is a past version of the entity, written with the
//     version its source time gives, below the current one, so it lands in
//     the history without replacing the current state.
func (t *Tracker) Replay(key string, rec map[string]any, sourceTS time.Time, recordedOp string, recordedVersion int64) (Change, bool, error) {
	h, err := t.hash(key, rec, sourceTS)
	if err != nil {
		return Change{}, false, err
	}
	prev, known := t.last(key)
	c := Change{Source: t.cfg.Source, Entity: t.cfg.Entity, Key: key, SourceTS: sourceTS.UTC(), Hash: h}
	switch {
	case recordedVersion > 0:
		c.Op, c.Version = recordedOp, recordedVersion
	case known && !prev.deleted && prev.hash == h:
		return Change{}, false, nil
	case !known || prev.deleted:
		c.Op, c.Version = cursor.OpCreate, NextVersion(prev.version, sourceTS)
	case sourceTS.UnixMilli() >= prev.version:
		c.Op, c.Version = cursor.OpUpdate, NextVersion(prev.version, sourceTS)
	default:
		c.Op, c.Version = cursor.OpUpdate, sourceTS.UnixMilli()
	}
	c.EventID = EventID(c.Source, c.Entity, key, c.Version, h)
	return c, true, nil
}

// Accept records c, a change from [Tracker.Replay] that is now in the
// batch, as pending state when it is at least as new as the state the
// tracker holds for its key: a past version written into the history
// leaves the current state alone.
func (t *Tracker) Accept(c Change) {
	if prev, known := t.last(c.Key); known && prev.version > c.Version {
		return
	}
	t.setPending(c.Key, state{hash: c.Hash, deleted: c.Op == cursor.OpDelete, version: c.Version, sourceTS: c.SourceTS})
}
