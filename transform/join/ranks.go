package join

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/shopstream/shopstream/transform/identity"
)

// Sales ranks. Each amazon.catalog snapshot with a top-level (display
// group) rank is one observation on the day of its source_ts: they are
// kept side by side, so a snapshot that arrives late still counts. A
// delete retracts every observation of the ASIN and ignores snapshots
// older than it; a version counts once, whatever its day.
//
// An ASIN (entity bsr|<marketplace>:<asin>) keeps the version of its last
// delete in e/<entity>, each day of observations in e/<entity>\x00<day>
// (the ASIN, version -> best rank, and the partial the day sent) and the
// versions seen in e/<entity>\x01<version>, so a new snapshot reads and
// writes one day.

// rankDay is one day of an ASIN's rank snapshots.
type rankDay struct {
	ref   identity.Ref
	obs   map[int64]int64 // version -> best rank
	sent  sent
	dirty bool
}

// ranksEntity is an ASIN's sales ranks in a batch.
type ranksEntity struct {
	id      string
	tomb    int64
	days    map[Day]*rankDay // loaded
	all     bool             // every day is loaded and to be recomputed
	trigger Meta
}

func (f *Facts) ranks(id string) (*ranksEntity, error) {
	if p, ok := f.pending[id]; ok {
		return p.(*ranksEntity), nil
	}
	e := &ranksEntity{id: id, days: map[Day]*rankDay{}}
	if b, ok, err := f.st.Get([]byte("e/" + id)); err != nil {
		return nil, err
	} else if ok {
		r := newUnwire(b)
		r.Byte()
		e.tomb = r.Varint()
		if r.Err != nil {
			return nil, fmt.Errorf("join: entity %s: %w", id, r.Err)
		}
	}
	f.pending[id] = e
	return e, nil
}

func (e *ranksEntity) dayKey(d Day) []byte {
	return binary.BigEndian.AppendUint32(append([]byte("e/"+e.id), 0), uint32(d))
}

// day returns day d, loading it.
func (e *ranksEntity) day(f *Facts, d Day) (*rankDay, error) {
	if rd, ok := e.days[d]; ok {
		return rd, nil
	}
	rd := &rankDay{obs: map[int64]int64{}, sent: sent{}}
	if b, ok, err := f.st.Get(e.dayKey(d)); err != nil {
		return nil, err
	} else if ok {
		if rd, err = decodeRankDay(b); err != nil {
			return nil, fmt.Errorf("join: entity %s: %w", e.id, err)
		}
	}
	e.days[d] = rd
	return rd, nil
}

// loadAll loads every day of the ASIN: those in the store and those the
// batch added.
func (e *ranksEntity) loadAll(f *Facts) error {
	if e.all {
		return nil
	}
	prefix := append([]byte("e/"+e.id), 0)
	var days []Day
	err := f.st.Scan(prefix, func(k, _ []byte) bool {
		days = append(days, Day(int32(binary.BigEndian.Uint32(k[len(prefix):]))))
		return true
	})
	if err != nil {
		return err
	}
	for _, d := range days {
		if _, err := e.day(f, d); err != nil {
			return err
		}
	}
	for _, rd := range e.days {
		rd.dirty = true
	}
	e.all = true
	return nil
}

func decodeRankDay(b []byte) (*rankDay, error) {
	r := newUnwire(b)
	r.Byte()
	rd := &rankDay{ref: r.ref(), obs: map[int64]int64{}}
	for range r.Count() {
		v := r.Varint()
		rd.obs[v] = r.Varint()
	}
	rd.sent = r.sent()
	if r.Err == nil && len(r.B) > 0 {
		return rd, fmt.Errorf("join: %d bytes after a rank day", len(r.B))
	}
	return rd, r.Err
}

func (f *Facts) appendRankDay(rd *rankDay) []byte {
	w := writer{b: append(f.buf[:0], wireVersion)}
	w.ref(rd.ref)
	w.u(uint64(len(rd.obs)))
	for _, v := range slices.Sorted(maps.Keys(rd.obs)) {
		w.i(v)
		w.i(rd.obs[v])
	}
	w.sent(rd.sent)
	f.buf = w.b
	return w.b
}

func (e *ranksEntity) apply(f *Facts, s BestSellersRank) error {
	ref := amazonRef(s.MarketplaceID, s.ASIN)
	if s.deleted() {
		if s.Version <= e.tomb {
			return nil
		}
		e.tomb = s.Version
		w := writer{b: []byte{wireVersion}}
		w.i(s.Version)
		if err := f.st.Set([]byte("e/"+e.id), w.b); err != nil {
			return err
		}
		if err := e.loadAll(f); err != nil {
			return err
		}
		for _, rd := range e.days {
			clear(rd.obs)
		}
		var versions [][]byte
		err := f.st.Scan(append([]byte("e/"+e.id), 1), func(k, _ []byte) bool {
			versions = append(versions, slices.Clone(k))
			return true
		})
		if err != nil {
			return err
		}
		for _, k := range versions {
			if err := f.st.Delete(k); err != nil {
				return err
			}
		}
		e.trigger = s.Meta
		return f.index(e.id, []identity.Ref{ref}, nil)
	}
	if s.Version <= e.tomb || len(s.DisplayGroupRanks) == 0 {
		return nil
	}
	vk := binary.BigEndian.AppendUint64(append([]byte("e/"+e.id), 1), uint64(s.Version))
	if _, dup, err := f.st.Get(vk); err != nil || dup {
		return err
	}
	if err := f.st.Set(vk, nil); err != nil {
		return err
	}
	rd, err := e.day(f, DayOf(s.SourceTS, f.zone))
	if err != nil {
		return err
	}
	if len(rd.obs) == 0 {
		// The index entry, once per day rather than per snapshot.
		if err := f.index(e.id, nil, []identity.Ref{ref}); err != nil {
			return err
		}
	}
	rd.ref = ref
	rd.obs[s.Version] = slices.Min(s.DisplayGroupRanks)
	rd.dirty, e.trigger = true, s.Meta
	return nil
}

func (e *ranksEntity) relink(f *Facts, trigger Meta) error {
	e.trigger = trigger
	return e.loadAll(f)
}

// flush re-sends the dirty days under the ASIN's current key.
func (e *ranksEntity) flush(f *Facts, out []PartialChange) ([]PartialChange, error) {
	for _, d := range slices.Sorted(maps.Keys(e.days)) {
		rd := e.days[d]
		if !rd.dirty {
			continue
		}
		if len(rd.obs) > 0 {
			key, _ := f.key(rd.ref)
			p := f.ps.of(d, key)
			for _, rank := range rd.obs {
				if p.rankN == 0 || rank < p.rankBest {
					p.rankBest = rank
				}
				p.rankSum += rank
				p.rankN++
			}
		}
		out, rd.sent = f.diff(out, rd.sent, &f.ps, e.trigger)
		var err error
		if len(rd.obs) == 0 && len(rd.sent) == 0 {
			err = f.st.Delete(e.dayKey(d))
		} else {
			err = f.st.Set(e.dayKey(d), f.appendRankDay(rd))
		}
		if err != nil {
			return nil, err
		}
		rd.dirty = false
	}
	return out, nil
}
