package join

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"time"
)

// wire is the compact binary form in which facts, partials and entity
// state travel through the transform's internal topics and stores. It is
// private to the stage (both ends run the same code), so it has no
// schema: fields are written in a fixed order. Its first byte is a
// version, so a change of layout fails loudly instead of misreading.
type wire struct{ b []byte }

// wireVersion is the layout version every encoding starts with.
const wireVersion = 1

func (w *wire) u(v uint64)   { w.b = binary.AppendUvarint(w.b, v) }
func (w *wire) i(v int64)    { w.b = binary.AppendVarint(w.b, v) }
func (w *wire) byte1(v byte) { w.b = append(w.b, v) }
func (w *wire) s(v string)   { w.u(uint64(len(v))); w.b = append(w.b, v...) }
func (w *wire) f(v float64)  { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *wire) bool(v bool) {
	if v {
		w.byte1(1)
	} else {
		w.byte1(0)
	}
}

func (w *wire) optI(p *int64) {
	if p == nil {
		w.byte1(0)
		return
	}
	w.byte1(1)
	w.i(*p)
}

func (w *wire) optF(p *float64) {
	if p == nil {
		w.byte1(0)
		return
	}
	w.byte1(1)
	w.f(*p)
}

// time writes an instant to the nanosecond, in UTC; the zero time is kept.
func (w *wire) time(t time.Time) {
	if t.IsZero() {
		w.byte1(0)
		return
	}
	w.byte1(1)
	w.i(t.Unix())
	w.u(uint64(t.Nanosecond()))
}

func (w *wire) rat(x *big.Rat) {
	if x == nil {
		w.byte1(0)
		return
	}
	w.byte1(1)
	w.bigInt(x.Num())
	w.bigInt(x.Denom())
}

func (w *wire) bigInt(x *big.Int) {
	w.bool(x.Sign() < 0)
	b := x.Bytes()
	w.u(uint64(len(b)))
	w.b = append(w.b, b...)
}

func (w *wire) amount(a amount) {
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

func (w *wire) meta(m Meta) {
	w.s(m.EventID)
	w.s(m.Op)
	w.time(m.SourceTS)
	w.time(m.IngestTS)
	w.i(m.Version)
}

// unwire reads what wire wrote, with a sticky error: reads after the
// first failure return zero values.
type unwire struct {
	b   []byte
	err error
}

var errShort = errors.New("join: truncated internal record")

func (r *unwire) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *unwire) u() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *unwire) i() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *unwire) byte1() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *unwire) bool() bool { return r.byte1() == 1 }

func (r *unwire) raw(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *unwire) s() string { return string(r.raw(r.u())) }

func (r *unwire) f() float64 {
	b := r.raw(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

func (r *unwire) optI() *int64 {
	if r.byte1() == 0 {
		return nil
	}
	v := r.i()
	return &v
}

func (r *unwire) optF() *float64 {
	if r.byte1() == 0 {
		return nil
	}
	v := r.f()
	return &v
}

func (r *unwire) time() time.Time {
	if r.byte1() == 0 {
		return time.Time{}
	}
	sec := r.i()
	return time.Unix(sec, int64(r.u())).UTC()
}

func (r *unwire) rat() *big.Rat {
	if r.byte1() == 0 {
		return nil
	}
	num, den := r.bigInt(), r.bigInt()
	if r.err != nil || den.Sign() == 0 {
		r.fail()
		return nil
	}
	return new(big.Rat).SetFrac(num, den)
}

func (r *unwire) bigInt() *big.Int {
	neg := r.bool()
	x := new(big.Int).SetBytes(r.raw(r.u()))
	if neg {
		x.Neg(x)
	}
	return x
}

func (r *unwire) amount() amount {
	switch r.byte1() {
	case 0:
		return amount{}
	case 1:
		return amount{units: r.i(), set: true}
	default:
		return amount{exact: r.rat(), set: true}
	}
}

func (r *unwire) meta() Meta {
	return Meta{EventID: r.s(), Op: internOp(r.s()), SourceTS: r.time(), IngestTS: r.time(), Version: r.i()}
}

// count reads a length that must fit in what is left (each element takes
// at least one byte), so a corrupt record cannot ask for a huge slice.
func (r *unwire) count() int {
	n := r.u()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}
