package join

import (
	"encoding/binary"
	"math/big"
	"time"

	"github.com/shopstream/shopstream/transform/internal/wire"
)

// writer is the compact binary form in which facts, partials and entity
// state travel through the transform's internal topics and stores. It is
// private to the stage (both ends run the same code), so it has no
// schema: fields are written in a fixed order. Its first byte is a
// version, so a change of layout fails loudly instead of misreading.
type writer struct{ b []byte }

// wireVersion is the layout version every encoding starts with.
const wireVersion = 1

func (w *writer) u(v uint64)   { w.b = binary.AppendUvarint(w.b, v) }
func (w *writer) i(v int64)    { w.b = binary.AppendVarint(w.b, v) }
func (w *writer) byte1(v byte) { w.b = append(w.b, v) }
func (w *writer) s(v string)   { w.b = wire.AppendString(w.b, v) }
func (w *writer) f(v float64)  { w.b = wire.AppendFloat64(w.b, v) }
func (w *writer) bool(v bool)  { w.b = wire.AppendBool(w.b, v) }

// present writes the marker of an optional field, 1 if it is set and 0 if
// not, and returns set: the field's value follows only when it is set.
func (w *writer) present(set bool) bool {
	if set {
		w.byte1(1)
	} else {
		w.byte1(0)
	}
	return set
}

func (w *writer) optI(p *int64) {
	if w.present(p != nil) {
		w.i(*p)
	}
}

func (w *writer) optF(p *float64) {
	if w.present(p != nil) {
		w.f(*p)
	}
}

// time writes an instant to the nanosecond, in UTC; the zero time is kept.
func (w *writer) time(t time.Time) {
	if w.present(!t.IsZero()) {
		w.i(t.Unix())
		w.u(uint64(t.Nanosecond()))
	}
}

func (w *writer) rat(x *big.Rat) {
	if w.present(x != nil) {
		w.bigInt(x.Num())
		w.bigInt(x.Denom())
	}
}

func (w *writer) bigInt(x *big.Int) {
	w.bool(x.Sign() < 0)
	b := x.Bytes()
	w.u(uint64(len(b)))
	w.b = append(w.b, b...)
}

func (w *writer) amount(a amount) {
	switch {
	case !a.set:
		w.byte1(0)
	case a.exact == nil:
		w.byte1(1)
		w.i(a.units)
	default:
		w.byte1(2)
		w.rat(a.exact)
	}
}

func (w *writer) meta(m Meta) {
	w.s(m.EventID)
	w.s(m.Op)
	w.time(m.SourceTS)
	w.time(m.IngestTS)
	w.i(m.Version)
}

// unwire reads what writer wrote: wire.Reader's sticky-error reads,
// with the join's own composite fields.
type unwire struct{ wire.Reader }

func newUnwire(b []byte) unwire { return unwire{wire.Reader{B: b}} }

func (r *unwire) optI() *int64 {
	if r.Byte() == 0 {
		return nil
	}
	v := r.Varint()
	return &v
}

func (r *unwire) optF() *float64 {
	if r.Byte() == 0 {
		return nil
	}
	v := r.Float64()
	return &v
}

func (r *unwire) time() time.Time {
	if r.Byte() == 0 {
		return time.Time{}
	}
	sec := r.Varint()
	return time.Unix(sec, int64(r.Uvarint())).UTC()
}

func (r *unwire) rat() *big.Rat {
	if r.Byte() == 0 {
		return nil
	}
	num, den := r.bigInt(), r.bigInt()
	if r.Err != nil || den.Sign() == 0 {
		r.Fail()
		return nil
	}
	return new(big.Rat).SetFrac(num, den)
}

func (r *unwire) bigInt() *big.Int {
	neg := r.Bool()
	x := new(big.Int).SetBytes(r.Raw(r.Uvarint()))
	if neg {
		x.Neg(x)
	}
	return x
}

func (r *unwire) amount() amount {
	switch r.Byte() {
	case 0:
		return amount{}
	case 1:
		return amount{units: r.Varint(), set: true}
	default:
		return amount{exact: r.rat(), set: true}
	}
}

func (r *unwire) meta() Meta {
	return Meta{EventID: r.String(), Op: internOp(r.String()), SourceTS: r.time(), IngestTS: r.time(), Version: r.Varint()}
}
