package join

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// RowState is what the rows step keeps of one row: the sum of the
// partials of every entity that reaches it, and the last version emitted.
// A partial change takes the old partial out and puts the new one in, so
// the work and the size of a row do not depend on how many entities reach
// it (a brand's organic videos all reach its unlinked key). Every sum is
// exact (integers, watch time in milliseconds, money as decimal units),
// so taking a partial out leaves exactly what the others put in, in any
// order.
type RowState struct {
	n                          int64 // partials
	stN                        int64
	sessions, pageViews, units int64
	amzMoney                   moneyAgg
	sqp                        []sqpAgg
	terms                      []termAgg
	rankN, rankSum             int64
	rankBests                  []valueCount // the partials' best ranks
	amzOrders                  int64
	ttN, ttUnits, ttOrders     int64
	ttMoney                    moneyAgg
	engN                       [nMetrics]int64 // partials with a figure of metric m
	eng                        [nMetrics]int64 // sums (watch time apart)
	watch                      []valueCount    // watch time (ms) per divisor
	measured, estimated        int64
	videoMoney                 moneyAgg

	emitted *Emitted
}

// sqpAgg sums the search figures of one period.
type sqpAgg struct {
	period                            Period
	n, impressions, clicks, purchases int64
}

// termAgg counts one listed term of one period.
type termAgg struct {
	period Period
	term   TermRank
	n      int64
}

// valueCount is a multiset entry: v with multiplicity n (for watch time,
// v is the divisor and n the milliseconds).
type valueCount struct{ v, n int64 }

// moneyAgg sums amounts per currency: a row whose amounts come in more
// than one currency (or from a partial that mixed them) has none.
type moneyAgg struct {
	mixed int64 // partials whose money mixed currencies
	cur   []currencySum
}

type currencySum struct {
	currency string
	n        int64 // partials with an amount in the currency
	total    amount
}

func (a *moneyAgg) add(m money, sign int64) {
	switch {
	case m.mixed:
		a.mixed += sign
	case m.total.set:
		i := slices.IndexFunc(a.cur, func(c currencySum) bool { return c.currency == m.currency })
		if i < 0 {
			i = len(a.cur)
			a.cur = append(a.cur, currencySum{currency: m.currency, total: amount{set: true}})
		}
		c := &a.cur[i]
		c.n += sign
		t := m.total
		if sign < 0 {
			t = t.neg()
		}
		c.total = c.total.plus(t)
		if c.n == 0 {
			a.cur = slices.Delete(a.cur, i, i+1)
		}
	}
}

// money returns the sum as one money: none, one currency, or mixed.
func (a *moneyAgg) money() money {
	switch {
	case a.mixed > 0 || len(a.cur) > 1:
		return money{mixed: true}
	case len(a.cur) == 1:
		return money{currency: a.cur[0].currency, total: a.cur[0].total}
	}
	return money{}
}

func addCount(s []valueCount, v, n int64) []valueCount {
	i := slices.IndexFunc(s, func(c valueCount) bool { return c.v == v })
	if i < 0 {
		return append(s, valueCount{v, n})
	}
	if s[i].n += n; s[i].n == 0 {
		s = slices.Delete(s, i, i+1)
	}
	return s
}

// add puts partial p into the row (sign 1) or takes it out (sign -1).
func (s *RowState) add(p *Partial, sign int64) {
	if !p.has {
		return
	}
	s.n += sign
	if p.st {
		s.stN += sign
		s.sessions += sign * p.sessions
		s.pageViews += sign * p.pageViews
		s.units += sign * p.units
		s.amzMoney.add(p.amzMoney, sign)
	}
	for _, c := range p.sqp {
		i := slices.IndexFunc(s.sqp, func(a sqpAgg) bool { return a.period == c.period })
		if i < 0 {
			i = len(s.sqp)
			s.sqp = append(s.sqp, sqpAgg{period: c.period})
		}
		a := &s.sqp[i]
		a.n += sign
		a.impressions += sign * c.impressions
		a.clicks += sign * c.clicks
		a.purchases += sign * c.purchases
		if a.n == 0 {
			s.sqp = slices.Delete(s.sqp, i, i+1)
		}
	}
	for _, c := range p.terms {
		i := slices.IndexFunc(s.terms, func(a termAgg) bool { return a.period == c.period && a.term == c.term })
		if i < 0 {
			i = len(s.terms)
			s.terms = append(s.terms, termAgg{period: c.period, term: c.term})
		}
		if s.terms[i].n += sign; s.terms[i].n == 0 {
			s.terms = slices.Delete(s.terms, i, i+1)
		}
	}
	if p.rankN > 0 {
		s.rankN += sign * p.rankN
		s.rankSum += sign * p.rankSum
		s.rankBests = addCount(s.rankBests, p.rankBest, sign)
	}
	s.amzOrders += sign * p.amzOrders
	if p.tt {
		s.ttN += sign
		s.ttUnits += sign * p.ttUnits
		s.ttOrders += sign * p.ttOrders
		s.ttMoney.add(p.ttMoney, sign)
	}
	for m := range nMetrics {
		if p.engHas&(1<<m) == 0 {
			continue
		}
		s.engN[m] += sign
		if m == mWatch {
			s.watch = addCount(s.watch, p.watchDen, sign*p.eng[m])
		} else {
			s.eng[m] += sign * p.eng[m]
		}
	}
	if p.measured {
		s.measured += sign
	}
	if p.estimated {
		s.estimated += sign
	}
	s.videoMoney.add(p.videoMoney, sign)
}

// Apply applies a partial change: the old partial out, the new one in.
func (s *RowState) Apply(c *PartialChange) error {
	p := partials.Get().(*Partial)
	defer partials.Put(p)
	for _, x := range []struct {
		b    []byte
		sign int64
	}{{c.Old, -1}, {c.New, 1}} {
		if x.b == nil {
			continue
		}
		*p = Partial{} // drops what s.add kept of the last one
		if err := decodePartial(x.b, p); err != nil {
			return err
		}
		s.add(p, x.sign)
	}
	if s.n < 0 {
		return fmt.Errorf("join: row %s:%s lost a partial it never had", c.Key, c.Day)
	}
	return nil
}

// Row builds row (k, d) of the reporting zone from the sum; ok is false
// when no partial reaches it.
func (s *RowState) Row(k string, d Day, zone string) (Row, bool) {
	r := Row{ProductKey: k, Day: d, Zone: zone}
	if s.n == 0 {
		return r, false
	}
	if s.stN > 0 {
		r.AmazonSessions, r.AmazonPageViews, r.AmazonUnits = ptr(s.sessions), ptr(s.pageViews), ptr(s.units)
	}
	amz := s.amzMoney.money()
	r.AmazonCurrency, r.AmazonSales = amz.currency, amz.sum()
	var week *sqpAgg
	for i, a := range s.sqp {
		if rowPeriod(a.period) && (week == nil || betterPeriod(a.period, week.period)) {
			week = &s.sqp[i]
		}
	}
	if week != nil {
		p := week.period
		r.SearchPeriod = &p
		r.SearchImpressions, r.SearchClicks, r.SearchPurchases = ptr(week.impressions), ptr(week.clicks), ptr(week.purchases)
	}
	var termWeek *Period
	for i, a := range s.terms {
		if rowPeriod(a.period) && (termWeek == nil || betterPeriod(a.period, *termWeek)) {
			termWeek = &s.terms[i].period
		}
	}
	if termWeek != nil {
		best := *termWeek
		for _, a := range s.terms {
			if a.period == best {
				for range a.n {
					r.SearchTermRanks = append(r.SearchTermRanks, a.term)
				}
			}
		}
		slices.SortFunc(r.SearchTermRanks, func(a, b TermRank) int {
			return cmp.Or(cmp.Compare(a.FrequencyRank, b.FrequencyRank), strings.Compare(a.Term, b.Term),
				strings.Compare(a.Department, b.Department), cmp.Compare(a.ClickShareRank, b.ClickShareRank),
				cmp.Compare(a.ClickShare, b.ClickShare), cmp.Compare(a.ConversionShare, b.ConversionShare))
		})
	}
	if s.rankN > 0 {
		best := s.rankBests[0].v
		for _, b := range s.rankBests[1:] {
			best = min(best, b.v)
		}
		avg := float64(s.rankSum) / float64(s.rankN)
		r.BestSellersRankBest, r.BestSellersRankAvg = &best, &avg
	}
	if s.amzOrders > 0 {
		r.AmazonOrders = ptr(s.amzOrders)
	}
	if s.ttN > 0 {
		r.TikTokOrders, r.TikTokUnits = ptr(s.ttOrders), ptr(s.ttUnits)
	}
	set := func(m int, dst **int64) {
		if s.engN[m] > 0 {
			*dst = ptr(s.eng[m])
		}
	}
	set(mViews, &r.TikTokViews)
	set(mSaves, &r.TikTokSaves)
	set(mShares, &r.TikTokShares)
	set(mLikes, &r.TikTokLikes)
	set(mComments, &r.TikTokComments)
	set(mImpressions, &r.TikTokProductImpressions)
	set(mClicks, &r.TikTokProductClicks)
	if s.engN[mWatch] > 0 {
		// Seconds, per divisor in a fixed order: the same sum whatever
		// order the partials came in.
		slices.SortFunc(s.watch, func(a, b valueCount) int { return cmp.Compare(a.v, b.v) })
		var w float64
		for _, c := range s.watch {
			w += float64(c.n) / 1000 / float64(c.v)
		}
		r.TikTokWatchTimeSeconds = &w
	}
	r.TikTokAttentionProvenance = provenance(s.measured > 0, s.estimated > 0)
	// TikTok order GMV and video GMV share one currency field.
	tt, video := s.ttMoney.money(), s.videoMoney.money()
	if tt.has() && video.has() && tt.currency != video.currency || tt.mixed || video.mixed {
		r.TikTokCurrency = ""
	} else {
		r.TikTokCurrency = cmp.Or(tt.currency, video.currency)
		r.TikTokGMV, r.TikTokVideoGMV = tt.sum(), video.sum()
	}
	return r, true
}

func ptr(v int64) *int64 { return &v }

// Emitted is what the rows step keeps of the last version of a row it
// emitted: the encoding of its figures (enough to tell whether a
// recomputed row changed), its version, and whether it was deleted.
type Emitted struct {
	content []byte
	version int64
	deleted bool
}

// Next decides what to emit for row (k, d) after its partials changed:
// the row built from the sum, with the version after the last one emitted
// (at least floor), unless its content did not change. A row that lost
// every contribution is emitted once as a delete. ok is false when
// nothing is to be emitted.
func (s *RowState) Next(k string, d Day, zone string, floor int64, trigger Meta) (row Row, ok bool) {
	row, has := s.Row(k, d, zone)
	prev := s.emitted
	var content []byte
	if !has {
		if prev == nil || prev.deleted {
			return Row{}, false
		}
		row = Row{ProductKey: k, Day: d, Zone: zone, Deleted: true}
	} else {
		var comparable bool
		content, comparable = row.appendContent(nil)
		if comparable && prev != nil && !prev.deleted && string(prev.content) == string(content) {
			return Row{}, false
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
	s.emitted = &Emitted{content: content, version: row.Version, deleted: row.Deleted}
	return row, true
}

// Version returns the version of the row last emitted, 0 if none.
func (s *RowState) Version() int64 {
	if s.emitted == nil {
		return 0
	}
	return s.emitted.version
}

// AppendRowState appends the wire form of s to b.
func AppendRowState(b []byte, s *RowState) []byte {
	w := writer{b: append(b, wireVersion)}
	w.bool(s.emitted != nil)
	if e := s.emitted; e != nil {
		w.i(e.version)
		w.bool(e.deleted)
		w.u(uint64(len(e.content)))
		w.b = append(w.b, e.content...)
	}
	w.i(s.n)
	if s.n == 0 {
		return w.b
	}
	w.i(s.stN)
	if s.stN != 0 {
		w.i(s.sessions)
		w.i(s.pageViews)
		w.i(s.units)
	}
	w.moneyAgg(s.amzMoney)
	w.u(uint64(len(s.sqp)))
	for _, a := range s.sqp {
		w.period(a.period)
		w.i(a.n)
		w.i(a.impressions)
		w.i(a.clicks)
		w.i(a.purchases)
	}
	w.u(uint64(len(s.terms)))
	for _, a := range s.terms {
		w.period(a.period)
		w.termRank(a.term)
		w.i(a.n)
	}
	w.i(s.rankN)
	if s.rankN != 0 {
		w.i(s.rankSum)
		w.counts(s.rankBests)
	}
	w.i(s.amzOrders)
	w.i(s.ttN)
	if s.ttN != 0 {
		w.i(s.ttUnits)
		w.i(s.ttOrders)
	}
	w.moneyAgg(s.ttMoney)
	var has byte
	for m := range nMetrics {
		if s.engN[m] != 0 {
			has |= 1 << m
		}
	}
	w.byte1(has)
	for m := range nMetrics {
		if has&(1<<m) != 0 {
			w.i(s.engN[m])
			if m != mWatch {
				w.i(s.eng[m])
			}
		}
	}
	if has&(1<<mWatch) != 0 {
		w.counts(s.watch)
	}
	w.i(s.measured)
	w.i(s.estimated)
	w.moneyAgg(s.videoMoney)
	return w.b
}

// DecodeRowState reads what AppendRowState wrote.
func DecodeRowState(b []byte) (RowState, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return RowState{}, fmt.Errorf("join: row state of layout %d, want %d", v, wireVersion)
	}
	var s RowState
	if r.Bool() {
		e := Emitted{version: r.Varint(), deleted: r.Bool()}
		e.content = append([]byte(nil), r.Raw(r.Uvarint())...)
		s.emitted = &e
	}
	if s.n = r.Varint(); s.n != 0 {
		if s.stN = r.Varint(); s.stN != 0 {
			s.sessions, s.pageViews, s.units = r.Varint(), r.Varint(), r.Varint()
		}
		s.amzMoney = r.moneyAgg()
		for range r.Count() {
			s.sqp = append(s.sqp, sqpAgg{period: r.period(), n: r.Varint(), impressions: r.Varint(), clicks: r.Varint(), purchases: r.Varint()})
		}
		for range r.Count() {
			a := termAgg{period: r.period()}
			a.term = r.termRank()
			a.n = r.Varint()
			s.terms = append(s.terms, a)
		}
		if s.rankN = r.Varint(); s.rankN != 0 {
			s.rankSum = r.Varint()
			s.rankBests = r.counts()
		}
		s.amzOrders = r.Varint()
		if s.ttN = r.Varint(); s.ttN != 0 {
			s.ttUnits, s.ttOrders = r.Varint(), r.Varint()
		}
		s.ttMoney = r.moneyAgg()
		has := r.Byte()
		for m := range nMetrics {
			if has&(1<<m) != 0 {
				s.engN[m] = r.Varint()
				if m != mWatch {
					s.eng[m] = r.Varint()
				}
			}
		}
		if has&(1<<mWatch) != 0 {
			s.watch = r.counts()
		}
		s.measured, s.estimated = r.Varint(), r.Varint()
		s.videoMoney = r.moneyAgg()
	}
	if r.Err == nil && len(r.B) > 0 {
		return RowState{}, fmt.Errorf("join: %d bytes after a row state", len(r.B))
	}
	return s, r.Err
}

// Empty reports whether no partial reaches the row.
func (s *RowState) Empty() bool { return s.n == 0 }

func (w *writer) counts(s []valueCount) {
	w.u(uint64(len(s)))
	for _, c := range s {
		w.i(c.v)
		w.i(c.n)
	}
}

func (r *unwire) counts() []valueCount {
	n := r.Count()
	out := make([]valueCount, 0, n)
	for range n {
		out = append(out, valueCount{r.Varint(), r.Varint()})
	}
	return out
}

func (w *writer) moneyAgg(a moneyAgg) {
	w.i(a.mixed)
	w.u(uint64(len(a.cur)))
	for _, c := range a.cur {
		w.s(c.currency)
		w.i(c.n)
		w.amount(c.total)
	}
}

func (r *unwire) moneyAgg() moneyAgg {
	a := moneyAgg{mixed: r.Varint()}
	for range r.Count() {
		a.cur = append(a.cur, currencySum{currency: r.String(), n: r.Varint(), total: r.amount()})
	}
	return a
}
