package join

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/shopstream/shopstream/transform/identity"
)

// A link change relinks every entity that depends on the channel product:
// after a long backlog (a restart, a catalog that arrives late) that can
// be most of a task's entities, too many to hold in memory and send in
// one transaction. So the products whose links changed wait in a queue in
// the store, with how far their dependents were relinked, and each batch
// relinks at most a budget of entities (RelinkQueued) and moves the
// cursor in the same batch: the queue and the entities' state commit
// together, so a crash resumes from the last commit and relinks nothing
// twice into the outputs.

// queuePrefix starts the keys of the relink queue: q/<ref>.
const queuePrefix = "q/"

// queued is an entry of the relink queue: a channel product (or TikTok
// product, ProductRef) whose links changed.
type queued struct {
	ref     identity.Ref
	trigger Meta // of the link change, for the rows it moves
	// after is the last dependent relinked (started: some were).
	after   string
	started bool
}

func queueKey(ref identity.Ref) []byte { return []byte(queuePrefix + ref.String()) }

// dependents is the prefix of the index entries of ref's dependents.
func dependents(ref identity.Ref) []byte { return append([]byte("x/"+ref.String()), 0) }

func (f *Facts) putQueued(q queued) error {
	w := writer{b: append(f.buf[:0], wireVersion)}
	w.ref(q.ref)
	w.meta(q.trigger)
	w.bool(q.started)
	w.s(q.after)
	f.buf = w.b
	return f.st.Set(queueKey(q.ref), w.b)
}

func decodeQueued(b []byte) (queued, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return queued{}, fmt.Errorf("join: relink queue entry of layout %d, want %d", v, wireVersion)
	}
	q := queued{ref: r.ref(), trigger: r.meta(), started: r.Bool()}
	q.after = r.String()
	if r.Err == nil && len(r.B) > 0 {
		r.Fail()
	}
	if r.Err != nil {
		return queued{}, fmt.Errorf("join: relink queue entry: %w", r.Err)
	}
	return q, nil
}

// Relink queues the channel products (or TikTok products, ProductRef)
// whose links changed: RelinkQueued recomputes the entities that depend
// on them. A product already queued starts again from its first
// dependent, with the new trigger; one that nothing depends on is not
// queued.
func (f *Facts) Relink(refs []identity.Ref, trigger Meta) error {
	// The reads first: they go through the batch's writes too, so
	// writing while reading would cost the square of a large change. One
	// pass for all refs: a whole catalog's change asks of every channel
	// product, and most have no dependent in this task.
	prefixes := make([][]byte, len(refs))
	for i, ref := range refs {
		prefixes[i] = dependents(ref)
	}
	has := make([]bool, len(refs))
	if err := f.st.HasPrefixes(prefixes, has); err != nil {
		return err
	}
	var queue []identity.Ref
	for i, ref := range refs {
		if has[i] {
			queue = append(queue, ref)
		}
	}
	for _, ref := range queue {
		if err := f.putQueued(queued{ref: ref, trigger: trigger}); err != nil {
			return err
		}
	}
	return nil
}

// queueRead is how many queue entries RelinkQueued reads at a time.
const queueRead = 64

// RelinkQueued marks for the next Flush the entities that depend on the
// queued products, at most budget of them (0: all), in queue order, and
// writes how far it got into the queue in the same batch. It returns how
// many it marked and whether the queue holds more: the caller then ends
// its transaction and calls again in the next, without waiting for input.
//
// Spreading a relink does not change where the rows end: an entity
// relinked is recomputed under the links of its batch, one that a fact
// touches first is recomputed then (and relinking it again sends
// nothing), and a product whose links change again while it waits is
// queued again from its first dependent, so every dependent is computed
// under the last links after all. Until then, rows of entities not
// relinked yet still show their old keys, as they did between a link
// change and the transaction that reacted to it.
func (f *Facts) RelinkQueued(budget int) (relinked int, more bool, err error) {
	for {
		var qs []queued
		var bad error
		err := f.st.Scan([]byte(queuePrefix), func(_, v []byte) bool {
			q, err := decodeQueued(v)
			if err != nil {
				bad = err
				return false
			}
			qs = append(qs, q)
			return len(qs) < queueRead
		})
		if err = cmp.Or(err, bad); err != nil {
			return relinked, false, err
		}
		if len(qs) == 0 {
			return relinked, false, nil
		}
		for _, q := range qs {
			left := 0 // no bound
			if budget > 0 {
				if left = budget - relinked; left == 0 {
					return relinked, true, nil
				}
			}
			n, err := f.relinkFrom(q, left)
			relinked += n
			if err != nil {
				return relinked, false, err
			}
		}
		// Every entry read is done (deleted) unless the budget ran out,
		// which the next round finds.
	}
}

// relinkFrom marks up to left (0: all) dependents of q after its cursor,
// and moves the cursor, or drops q when none is left.
func (f *Facts) relinkFrom(q queued, left int) (int, error) {
	prefix := dependents(q.ref)
	from := prefix
	if q.started {
		// The least key after the cursor's.
		from = append(append(prefix[:len(prefix):len(prefix)], q.after...), 0)
	}
	var ids []string
	more := false
	err := f.st.ScanFrom(prefix, from, func(k, _ []byte) bool {
		if left > 0 && len(ids) == left {
			more = true
			return false
		}
		ids = append(ids, string(k[len(prefix):]))
		return true
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := f.relinkEntity(id, q.trigger); err != nil {
			return len(ids), err
		}
	}
	if !more {
		return len(ids), f.st.Delete(queueKey(q.ref))
	}
	q.after, q.started = ids[len(ids)-1], true
	return len(ids), f.putQueued(q)
}

// relinkEntity marks every partial of entity id for recomputation.
func (f *Facts) relinkEntity(id string, trigger Meta) error {
	var e pendingEntity
	var err error
	switch {
	case strings.HasPrefix(id, "bsr|"):
		e, err = f.ranks(id)
	case strings.HasPrefix(id, "v|"):
		e, err = f.video(id)
	default:
		e, err = f.simple(id)
	}
	if err == nil {
		err = e.relink(f, trigger)
	}
	return err
}
