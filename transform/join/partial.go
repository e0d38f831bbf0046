package join

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Partial is one entity's share of one joined row (a product key and a
// day): the entity's contributions to the row, already reduced as far as
// they can be without the other entities' (sums, money in one currency,
// order ids for distinct counts, search figures per period, ranks, a
// video's credited engagement). Combine turns the partials of every
// entity that reaches a row into the row, as the join defines it.
type Partial struct {
	// Amazon sales & traffic.
	st                         bool
	sessions, pageViews, units int64
	amzMoney                   money
	// Brand Analytics: figures per period, terms per period.
	sqp   []sqpContrib
	terms []termContrib
	// Sales ranks observed on the day.
	rankN    int
	rankBest int64
	rankSum  float64
	// Orders, by id, for distinct counts.
	amzOrders []string
	tt        bool
	ttUnits   int64
	ttOrders  []string
	ttMoney   money
	// A video's engagement and GMV credited to the row's key.
	engHas     uint8 // bit m: metric m reported
	engInt     [nMetrics]int64
	watch      float64
	videoMoney money
	// has: the entity contributes to the row (a partial with no figure,
	// such as a video's day without engagement, still makes a row).
	has bool
}

// Empty reports whether the partial contributes nothing to its row.
func (p *Partial) Empty() bool { return !p.has }

func (m money) merge(o money) money {
	switch {
	case o.mixed:
		return money{mixed: true}
	case o.total.set:
		m.add(o.currency, o.total)
	}
	return m
}

// Combine builds row (k, d) of the reporting zone from the partials of the
// entities that reach it, given in the order of their entity ids (float
// sums then do not depend on arrival order); ok is false when none
// contributes.
func Combine(k string, d Day, zone string, parts []Partial) (Row, bool) {
	r := Row{ProductKey: k, Day: d, Zone: zone}
	has := false
	var amzMoney, ttMoney, videoMoney money
	var amzOrders, ttOrders []string
	var sqp []sqpContrib
	var terms []termContrib
	var bsrSum float64
	var bsrN int
	var engHas uint8
	var engInt [nMetrics]int64
	var watch float64
	for i := range parts {
		p := &parts[i]
		if !p.has {
			continue
		}
		has = true
		if p.st {
			addI(&r.AmazonSessions, p.sessions)
			addI(&r.AmazonPageViews, p.pageViews)
			addI(&r.AmazonUnits, p.units)
			amzMoney = amzMoney.merge(p.amzMoney)
		}
		sqp = append(sqp, p.sqp...)
		terms = append(terms, p.terms...)
		if p.rankN > 0 {
			if r.BestSellersRankBest == nil || p.rankBest < *r.BestSellersRankBest {
				b := p.rankBest
				r.BestSellersRankBest = &b
			}
			bsrSum += p.rankSum
			bsrN += p.rankN
		}
		amzOrders = append(amzOrders, p.amzOrders...)
		if p.tt {
			ttOrders = append(ttOrders, p.ttOrders...)
			addI(&r.TikTokUnits, p.ttUnits)
			ttMoney = ttMoney.merge(p.ttMoney)
		}
		if p.engHas != 0 {
			engHas |= p.engHas
			for m := range nMetrics {
				if p.engHas&(1<<m) != 0 {
					if m == mWatch {
						watch += p.watch
					} else {
						engInt[m] += p.engInt[m]
					}
				}
			}
		}
		videoMoney = videoMoney.merge(p.videoMoney)
	}
	if !has {
		return r, false
	}
	if bsrN > 0 {
		avg := bsrSum / float64(bsrN)
		r.BestSellersRankAvg = &avg
	}
	if len(amzOrders) > 0 {
		n := int64(distinct(amzOrders))
		r.AmazonOrders = &n
	}
	if len(ttOrders) > 0 {
		n := int64(distinct(ttOrders))
		r.TikTokOrders = &n
	}
	if len(sqp) > 0 {
		best := sqp[0].period
		for _, c := range sqp[1:] {
			if betterPeriod(c.period, best) {
				best = c.period
			}
		}
		r.SearchPeriod = &best
		for _, c := range sqp {
			if c.period == best {
				addI(&r.SearchImpressions, c.impressions)
				addI(&r.SearchClicks, c.clicks)
				addI(&r.SearchPurchases, c.purchases)
			}
		}
	}
	if len(terms) > 0 {
		best := terms[0].period
		for _, c := range terms[1:] {
			if betterPeriod(c.period, best) {
				best = c.period
			}
		}
		for _, c := range terms {
			if c.period == best {
				r.SearchTermRanks = append(r.SearchTermRanks, c.term)
			}
		}
		slices.SortFunc(r.SearchTermRanks, func(a, b TermRank) int {
			return cmp.Or(cmp.Compare(a.FrequencyRank, b.FrequencyRank), strings.Compare(a.Term, b.Term),
				strings.Compare(a.Department, b.Department), cmp.Compare(a.ClickShareRank, b.ClickShareRank),
				cmp.Compare(a.ClickShare, b.ClickShare), cmp.Compare(a.ConversionShare, b.ConversionShare))
		})
	}
	set := func(m int, dst **int64) {
		if engHas&(1<<m) != 0 {
			v := engInt[m]
			*dst = &v
		}
	}
	set(mViews, &r.TikTokViews)
	set(mSaves, &r.TikTokSaves)
	set(mShares, &r.TikTokShares)
	set(mLikes, &r.TikTokLikes)
	set(mComments, &r.TikTokComments)
	if engHas&(1<<mWatch) != 0 {
		w := watch
		r.TikTokWatchTimeSeconds = &w
	}
	r.AmazonCurrency, r.AmazonSales = amzMoney.currency, amzMoney.sum()
	// TikTok order GMV and video GMV share one currency field.
	if ttMoney.has() && videoMoney.has() && ttMoney.currency != videoMoney.currency || ttMoney.mixed || videoMoney.mixed {
		r.TikTokCurrency = ""
	} else {
		r.TikTokCurrency = cmp.Or(ttMoney.currency, videoMoney.currency)
		r.TikTokGMV, r.TikTokVideoGMV = ttMoney.sum(), videoMoney.sum()
	}
	return r, true
}

// Emitted is what the rows step keeps of the last version of a row it
// emitted: the encoding of its figures (enough to tell whether a
// recomputed row changed), its version, and whether it was deleted.
type Emitted struct {
	content []byte
	version int64
	deleted bool
}

// NextRow decides what to emit for row (k, d) after its partials changed:
// the row combined from parts, with the version after prev's (at least
// floor), unless its content did not change. A row that lost every
// contribution is emitted once as a delete. ok is false when nothing is to
// be emitted; next is then prev.
func NextRow(k string, d Day, zone string, parts []Partial, prev *Emitted, floor int64, trigger Meta) (row Row, next Emitted, ok bool) {
	row, has := Combine(k, d, zone, parts)
	var content []byte
	if !has {
		if prev == nil || prev.deleted {
			return Row{}, derefEmitted(prev), false
		}
		row = Row{ProductKey: k, Day: d, Zone: zone, Deleted: true}
	} else {
		var comparable bool
		content, comparable = row.appendContent(nil)
		if comparable && prev != nil && !prev.deleted && string(prev.content) == string(content) {
			return Row{}, *prev, false
		}
	}
	var v int64 = 1
	if prev != nil {
		v = prev.version + 1
	} else {
		row.First = true
	}
	row.Version = max(v, floor)
	row.Trigger = trigger
	return row, Emitted{content: content, version: row.Version, deleted: row.Deleted}, true
}

func derefEmitted(e *Emitted) Emitted {
	if e == nil {
		return Emitted{}
	}
	return *e
}

// AppendPartial appends the wire form of p to b.
func AppendPartial(b []byte, p *Partial) []byte {
	w := wire{b: append(b, wireVersion)}
	w.bool(p.has)
	w.bool(p.st)
	if p.st {
		w.i(p.sessions)
		w.i(p.pageViews)
		w.i(p.units)
		w.money(p.amzMoney)
	}
	w.u(uint64(len(p.sqp)))
	for _, c := range p.sqp {
		w.period(c.period)
		w.i(c.impressions)
		w.i(c.clicks)
		w.i(c.purchases)
	}
	w.u(uint64(len(p.terms)))
	for _, c := range p.terms {
		w.period(c.period)
		w.termRank(c.term)
	}
	w.u(uint64(p.rankN))
	if p.rankN > 0 {
		w.i(p.rankBest)
		w.f(p.rankSum)
	}
	w.strs(p.amzOrders)
	w.bool(p.tt)
	if p.tt {
		w.i(p.ttUnits)
		w.strs(p.ttOrders)
		w.money(p.ttMoney)
	}
	w.byte1(p.engHas)
	for m := range nMetrics {
		if p.engHas&(1<<m) != 0 {
			if m == mWatch {
				w.f(p.watch)
			} else {
				w.i(p.engInt[m])
			}
		}
	}
	w.money(p.videoMoney)
	return w.b
}

// DecodePartial reads what AppendPartial wrote.
func DecodePartial(b []byte) (Partial, error) {
	r := unwire{b: b}
	if v := r.byte1(); v != wireVersion && r.err == nil {
		return Partial{}, fmt.Errorf("join: partial of layout %d, want %d", v, wireVersion)
	}
	var p Partial
	p.has = r.bool()
	if p.st = r.bool(); p.st {
		p.sessions, p.pageViews, p.units = r.i(), r.i(), r.i()
		p.amzMoney = r.money()
	}
	for range r.count() {
		p.sqp = append(p.sqp, sqpContrib{period: r.period(), impressions: r.i(), clicks: r.i(), purchases: r.i()})
	}
	for range r.count() {
		c := termContrib{period: r.period()}
		c.term = r.termRank()
		p.terms = append(p.terms, c)
	}
	if p.rankN = r.count(); p.rankN > 0 {
		p.rankBest, p.rankSum = r.i(), r.f()
	}
	p.amzOrders = r.strs()
	if p.tt = r.bool(); p.tt {
		p.ttUnits = r.i()
		p.ttOrders = r.strs()
		p.ttMoney = r.money()
	}
	p.engHas = r.byte1()
	for m := range nMetrics {
		if p.engHas&(1<<m) != 0 {
			if m == mWatch {
				p.watch = r.f()
			} else {
				p.engInt[m] = r.i()
			}
		}
	}
	p.videoMoney = r.money()
	if r.err == nil && len(r.b) > 0 {
		return Partial{}, fmt.Errorf("join: %d bytes after a partial", len(r.b))
	}
	return p, r.err
}

func (w *wire) period(p Period) { w.s(p.Kind); w.i(int64(p.Start)); w.i(int64(p.End)); w.s(p.Zone) }

func (r *unwire) period() Period {
	return Period{Kind: r.s(), Start: Day(r.i()), End: Day(r.i()), Zone: r.s()}
}

func (w *wire) strs(s []string) {
	w.u(uint64(len(s)))
	for _, v := range s {
		w.s(v)
	}
}

func (r *unwire) strs() []string {
	n := r.count()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		out = append(out, r.s())
	}
	return out
}

func (w *wire) money(m money) {
	w.bool(m.mixed)
	w.s(m.currency)
	w.amount(m.total)
}

func (r *unwire) money() money {
	return money{mixed: r.bool(), currency: r.s(), total: r.amount()}
}

func (w *wire) termRank(t TermRank) {
	w.s(t.Term)
	w.s(t.Department)
	w.i(t.FrequencyRank)
	w.i(t.ClickShareRank)
	w.f(t.ClickShare)
	w.f(t.ConversionShare)
}

func (r *unwire) termRank() TermRank {
	return TermRank{Term: r.s(), Department: r.s(), FrequencyRank: r.i(), ClickShareRank: r.i(), ClickShare: r.f(), ConversionShare: r.f()}
}

// AppendPartialChange appends the wire form of c (what the facts step
// sends the rows step) to b.
func AppendPartialChange(b []byte, c *PartialChange) []byte {
	w := wire{b: append(b, wireVersion)}
	w.s(c.Key)
	w.i(int64(c.Day))
	w.s(c.Entity)
	w.meta(c.Trigger)
	w.bool(c.Retract)
	if !c.Retract {
		w.b = AppendPartial(w.b, &c.Partial)
	}
	return w.b
}

// DecodePartialChange reads what AppendPartialChange wrote.
func DecodePartialChange(b []byte) (PartialChange, error) {
	r := unwire{b: b}
	if v := r.byte1(); v != wireVersion && r.err == nil {
		return PartialChange{}, fmt.Errorf("join: partial change of layout %d, want %d", v, wireVersion)
	}
	c := PartialChange{Key: r.s(), Day: Day(r.i()), Entity: r.s(), Trigger: r.meta(), Retract: r.bool()}
	if r.err != nil {
		return PartialChange{}, r.err
	}
	if !c.Retract {
		p, err := DecodePartial(r.b)
		if err != nil {
			return PartialChange{}, err
		}
		c.Partial = p
	} else if len(r.b) > 0 {
		return PartialChange{}, fmt.Errorf("join: %d bytes after a retraction", len(r.b))
	}
	return c, nil
}

// RowState is what the rows step keeps of one row: the partial of every
// entity that reaches it (in entity order) and the last version emitted.
type RowState struct {
	entities []string
	parts    [][]byte // wire form, as sent
	emitted  *Emitted
}

// Apply applies a partial change to the row and returns the row to emit,
// if its content changed (see NextRow).
func (s *RowState) Apply(c *PartialChange, zone string, floor int64) (Row, bool, error) {
	i, found := slices.BinarySearch(s.entities, c.Entity)
	switch {
	case c.Retract && found:
		s.entities = slices.Delete(s.entities, i, i+1)
		s.parts = slices.Delete(s.parts, i, i+1)
	case c.Retract:
	case found:
		s.parts[i] = AppendPartial(s.parts[i][:0], &c.Partial)
	default:
		s.entities = slices.Insert(s.entities, i, c.Entity)
		s.parts = slices.Insert(s.parts, i, AppendPartial(nil, &c.Partial))
	}
	parts := make([]Partial, 0, len(s.parts))
	for _, b := range s.parts {
		p, err := DecodePartial(b)
		if err != nil {
			return Row{}, false, err
		}
		parts = append(parts, p)
	}
	row, next, ok := NextRow(c.Key, c.Day, zone, parts, s.emitted, floor, c.Trigger)
	if ok {
		s.emitted = &next
	}
	return row, ok, nil
}

// Empty reports whether the row has no partial and was never emitted, or
// was emitted as deleted: nothing of it needs keeping but its version.
func (s *RowState) Empty() bool { return len(s.entities) == 0 && s.emitted == nil }

// AppendRowState appends the wire form of s to b.
func AppendRowState(b []byte, s *RowState) []byte {
	w := wire{b: append(b, wireVersion)}
	w.bool(s.emitted != nil)
	if s.emitted != nil {
		w.i(s.emitted.version)
		w.bool(s.emitted.deleted)
		w.u(uint64(len(s.emitted.content)))
		w.b = append(w.b, s.emitted.content...)
	}
	w.u(uint64(len(s.entities)))
	for i, e := range s.entities {
		w.s(e)
		w.u(uint64(len(s.parts[i])))
		w.b = append(w.b, s.parts[i]...)
	}
	return w.b
}

// DecodeRowState reads what AppendRowState wrote.
func DecodeRowState(b []byte) (RowState, error) {
	r := unwire{b: b}
	if v := r.byte1(); v != wireVersion && r.err == nil {
		return RowState{}, fmt.Errorf("join: row state of layout %d, want %d", v, wireVersion)
	}
	var s RowState
	if r.bool() {
		e := Emitted{version: r.i(), deleted: r.bool()}
		e.content = append([]byte(nil), r.raw(r.u())...)
		s.emitted = &e
	}
	n := r.count()
	s.entities, s.parts = make([]string, 0, n), make([][]byte, 0, n)
	for range n {
		s.entities = append(s.entities, r.s())
		s.parts = append(s.parts, append([]byte(nil), r.raw(r.u())...))
	}
	if r.err == nil && len(r.b) > 0 {
		return RowState{}, fmt.Errorf("join: %d bytes after a row state", len(r.b))
	}
	return s, r.err
}
