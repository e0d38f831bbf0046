package join

import (
	"fmt"
	"sync"
)

// Partial is one entity's share of one joined row (a product key and a
// day): its contributions to the row, reduced as far as they can be
// without the other entities'. Every part of it can be added to a row and
// taken out again (sums and counts; money per currency; the search
// figures per period; the terms; the best ranks), so a row keeps the sum
// of its partials instead of the partials (RowState), and an entity's
// change moves the row by the difference between what it sent before and
// what it sends now (as Kafka Streams' table aggregations do with their
// adder and subtractor).
type Partial struct {
	// has: the entity contributes to the row (a partial with no figure,
	// such as a video's day that lists the product without figures,
	// still makes a row).
	has bool
	// Amazon sales & traffic.
	st                         bool
	sessions, pageViews, units int64
	amzMoney                   money
	// Brand Analytics: figures per period, terms per period.
	sqp   []sqpContrib
	terms []termContrib
	// Sales ranks observed on the day: how many, the best, the sum.
	rankN, rankBest, rankSum int64
	// Orders: an order entity reaches a row with its one order.
	amzOrders int64
	tt        bool
	ttUnits   int64
	ttOrders  int64
	ttMoney   money
	// A video's attention credited to the row's key (watch time in
	// milliseconds, divided by watchDen: 1, or the number of keys an even
	// split divides it among), whether a figure is measured or estimated,
	// and its GMV.
	engHas              uint8 // bit m: metric m has a figure
	eng                 [nMetrics]int64
	watchDen            int64
	measured, estimated bool
	videoMoney          money
}

// sqpContrib is what a search query performance row contributes to each
// day of its period.
type sqpContrib struct {
	period                         Period // converted to reporting days
	impressions, clicks, purchases int64
}

// termContrib is a search term listed on each day of its period.
type termContrib struct {
	period Period // converted to reporting days
	term   TermRank
}

// AppendPartial appends the wire form of p to b.
func AppendPartial(b []byte, p *Partial) []byte {
	w := writer{b: append(b, wireVersion)}
	p.fields(encoder{&w})
	return w.b
}

// fields is the layout of a partial, for both directions (codec.go):
// flags, then the figures the flags and counts say it has.
func (p *Partial) fields(c codec) {
	var flags byte
	for i, f := range []bool{p.has, p.st, p.tt, p.measured, p.estimated} {
		if f {
			flags |= 1 << i
		}
	}
	// Encoding writes the flags of p; decoding reads them and sets p's.
	c.byteField(&flags)
	p.has, p.st, p.tt, p.measured, p.estimated = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0, flags&16 != 0
	if p.st {
		c.int(&p.sessions)
		c.int(&p.pageViews)
		c.int(&p.units)
		c.moneyField(&p.amzMoney)
	}
	list(c, &p.sqp, func(x *sqpContrib) { x.fields(c) })
	list(c, &p.terms, func(x *termContrib) {
		c.periodField(&x.period)
		c.termRankField(&x.term)
	})
	if c.int(&p.rankN); p.rankN > 0 {
		c.int(&p.rankBest)
		c.int(&p.rankSum)
	}
	c.int(&p.amzOrders)
	if p.tt {
		c.int(&p.ttUnits)
		c.int(&p.ttOrders)
		c.moneyField(&p.ttMoney)
	}
	c.byteField(&p.engHas)
	for m := range nMetrics {
		if p.engHas&(1<<m) != 0 {
			c.int(&p.eng[m])
		}
	}
	if p.engHas&(1<<mWatch) != 0 {
		c.int(&p.watchDen)
	}
	c.moneyField(&p.videoMoney)
}

// DecodePartial reads what AppendPartial wrote.
func DecodePartial(b []byte) (Partial, error) {
	var p Partial
	if err := decodePartial(b, &p); err != nil {
		return Partial{}, err
	}
	return p, nil
}

// decodePartial is DecodePartial into *p, which must be zero.
func decodePartial(b []byte, p *Partial) error {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return fmt.Errorf("join: partial of layout %d, want %d", v, wireVersion)
	}
	p.fields(decoder{&r})
	if r.Err == nil && p.engHas&(1<<mWatch) != 0 && p.watchDen < 1 {
		return fmt.Errorf("join: partial with watch time divided by %d", p.watchDen)
	}
	if r.Err == nil && len(r.B) > 0 {
		return fmt.Errorf("join: %d bytes after a partial", len(r.B))
	}
	return r.Err
}

// partials are the scratch partials of RowState.Apply: a partial read
// through the codec interface lives on the heap, and the rows step reads
// two per change.
var partials = sync.Pool{New: func() any { return new(Partial) }}

func (w *writer) period(p Period) { w.s(p.Kind); w.i(int64(p.Start)); w.i(int64(p.End)); w.s(p.Zone) }

func (r *unwire) period() Period {
	return Period{Kind: r.String(), Start: Day(r.Varint()), End: Day(r.Varint()), Zone: r.String()}
}

func (w *writer) money(m money) {
	w.bool(m.mixed)
	w.s(m.currency)
	w.amount(m.total)
}

func (r *unwire) money() money {
	return money{mixed: r.Bool(), currency: r.String(), total: r.amount()}
}

func (w *writer) termRank(t TermRank) {
	w.s(t.Term)
	w.s(t.Department)
	w.i(t.FrequencyRank)
	w.i(t.ClickShareRank)
	w.f(t.ClickShare)
	w.f(t.ConversionShare)
}

func (r *unwire) termRank() TermRank {
	return TermRank{Term: r.String(), Department: r.String(), FrequencyRank: r.Varint(), ClickShareRank: r.Varint(), ClickShare: r.Float64(), ConversionShare: r.Float64()}
}

// PartialChange is what an entity sends the row (Key, Day) when its
// partial of the row changed: the partial it sent before (Old, nil if
// none) and the one it sends now (New, nil when it no longer reaches the
// row), both in their wire form (AppendPartial). Trigger is the change
// metadata of the input that caused it.
type PartialChange struct {
	Key      string
	Day      Day
	Old, New []byte
	Trigger  Meta
}

// AppendPartialChange appends the wire form of c (what the facts step
// sends the rows step) to b.
func AppendPartialChange(b []byte, c *PartialChange) []byte {
	w := writer{b: append(b, wireVersion)}
	w.s(c.Key)
	w.i(int64(c.Day))
	w.meta(c.Trigger)
	w.optBytes(c.Old)
	w.optBytes(c.New)
	return w.b
}

// DecodePartialChange reads what AppendPartialChange wrote. Old and New
// alias b.
func DecodePartialChange(b []byte) (PartialChange, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return PartialChange{}, fmt.Errorf("join: partial change of layout %d, want %d", v, wireVersion)
	}
	c := PartialChange{Key: r.String(), Day: Day(r.Varint()), Trigger: r.meta(), Old: r.optBytes(), New: r.optBytes()}
	if r.Err == nil && len(r.B) > 0 {
		return PartialChange{}, fmt.Errorf("join: %d bytes after a partial change", len(r.B))
	}
	return c, r.Err
}

func (w *writer) optBytes(b []byte) {
	if b == nil {
		w.byte1(0)
		return
	}
	w.byte1(1)
	w.u(uint64(len(b)))
	w.b = append(w.b, b...)
}

func (r *unwire) optBytes() []byte {
	if r.Byte() == 0 {
		return nil
	}
	b := r.Raw(r.Uvarint())
	if b == nil {
		return []byte{}
	}
	return b
}
