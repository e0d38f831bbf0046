package native

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// slot is a decoded field of a Record read through a Plan.
type slot struct {
	k     kind
	i, j  int32    // the payload range of a string, bytes or decimal
	n     int64    // a long, int, boolean, timestamp (ms), date (days) or decimal scale; a double's or float's bits
	items []Record // the records of an array of records
}

// maxBlockCount bounds the entries of one array block, as package schemas
// does for goavro: a corrupt count must not allocate the process away.
const maxBlockCount = 1 << 20

// Decode reads payload, one record's Avro binary written with the plan's
// schema, into r, reusing r's memory: what an earlier Decode into r
// returned is no longer valid. r reads payload until the next Decode, so
// payload must not change meanwhile. Bytes that are not a record of the
// schema fail with an error matching schemas.ErrUndecodable, as goavro's
// would.
func (p *Plan) Decode(payload []byte, r *Record) error {
	d := decoder{b: payload}
	*r = Record{p: p.root, b: payload, v: r.v[:0]}
	r.v = d.record(p.root, r.v)
	if d.err == nil && d.i != len(d.b) {
		d.fail(fmt.Sprintf("%d trailing bytes after the record", len(d.b)-d.i))
	}
	if d.err != nil {
		*r = Record{v: r.v[:0]}
		return d.err
	}
	return nil
}

// decoder reads Avro binary with a sticky error.
type decoder struct {
	b   []byte
	i   int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", schemas.ErrUndecodable, d.i, what)
		d.i = len(d.b)
	}
}

func (d *decoder) long() int64 {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.b) {
			d.fail("unexpected end of the record")
			return 0
		}
		c := d.b[d.i]
		d.i++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.fail("varint longer than 10 bytes")
	return 0
}

// span skips n bytes and returns where they start.
func (d *decoder) span(n int64) int32 {
	if n < 0 || n > int64(len(d.b)-d.i) {
		d.fail(fmt.Sprintf("length %d past the end of the record", n))
		return 0
	}
	i := d.i
	d.i += int(n)
	return int32(i)
}

func (d *decoder) record(rp *recordPlan, v []slot) []slot {
	if cap(v) < len(rp.fields) {
		v = make([]slot, len(rp.fields))
	}
	v = v[:len(rp.fields)]
	for f, t := range rp.fields {
		d.value(t, &v[f])
	}
	return v
}

func (d *decoder) value(t *typ, s *slot) {
	if t.branches != nil {
		b := d.long()
		if d.err != nil {
			return
		}
		if b < 0 || b >= int64(len(t.branches)) {
			d.fail(fmt.Sprintf("union branch %d of %d", b, len(t.branches)))
			return
		}
		t = t.branches[b]
	}
	*s = slot{k: t.k}
	switch t.k {
	case kNull:
	case kString, kBytes, kDecimal:
		n := int64(t.fixed)
		if t.fixed == 0 {
			n = d.long()
		}
		s.i = d.span(n)
		s.j = s.i + int32(n)
		if t.k == kDecimal {
			s.n = int64(t.scale)
		}
	case kLong, kTimestamp:
		s.n = d.long()
	case kInt, kDate:
		s.n = d.long()
		if s.n < math.MinInt32 || s.n > math.MaxInt32 {
			d.fail(fmt.Sprintf("int %d out of range", s.n))
		}
	case kDouble:
		if i := d.span(8); d.err == nil {
			s.n = int64(binary.LittleEndian.Uint64(d.b[i:]))
		}
	case kFloat:
		if i := d.span(4); d.err == nil {
			s.n = int64(binary.LittleEndian.Uint32(d.b[i:]))
		}
	case kBool:
		i := d.span(1)
		if d.err == nil {
			s.n = int64(d.b[i])
			if s.n > 1 {
				d.fail(fmt.Sprintf("boolean byte %d", s.n))
			}
		}
	case kArray:
		d.array(t, s)
	}
}

// array reads an array's blocks: records into s.items, other items
// counted in s.n and skipped.
func (d *decoder) array(t *typ, s *slot) {
	for d.err == nil {
		n := d.long()
		if n == 0 || d.err != nil {
			return
		}
		if n < 0 {
			n = -n
			d.long() // the block's size in bytes
		}
		if n > maxBlockCount {
			d.fail(fmt.Sprintf("array block of %d entries", n))
			return
		}
		if t.rec == nil {
			var skip slot
			for range n {
				d.value(t.item, &skip)
			}
			s.n += n
			continue
		}
		nf := len(t.rec.fields)
		slab := make([]slot, int(n)*nf)
		for k := range int(n) {
			v := d.record(t.rec, slab[k*nf:(k+1)*nf:(k+1)*nf])
			s.items = append(s.items, Record{p: t.rec, b: d.b, v: v})
		}
		s.n += n
	}
}

// goZero is a value of the Go type goavro decodes a kind into, for the
// messages of type mismatches (which print it with %T).
func goZero(k kind) any {
	switch k {
	case kString:
		return ""
	case kBytes:
		return []byte(nil)
	case kLong:
		return int64(0)
	case kInt:
		return int32(0)
	case kDouble:
		return float64(0)
	case kFloat:
		return float32(0)
	case kBool:
		return false
	case kTimestamp, kDate:
		return time.Time{}
	case kDecimal:
		return (*big.Rat)(nil)
	case kArray:
		return []any(nil)
	}
	return nil
}

// lookup returns the slot of field, nil when the field is missing or
// null.
func (r *Record) lookup(field string) *slot {
	i, ok := r.p.index[field]
	if !ok || r.v[i].k == kNull {
		return nil
	}
	return &r.v[i]
}

func (r *Record) str(s *slot) string { return string(r.b[s.i:s.j]) }

func (r *Record) mismatch(field string, s *slot, want string) {
	r.fail(field, goZero(s.k), want)
}

func slotTime(s *slot) time.Time {
	if s.k == kDate {
		return time.Unix(s.n*86400, 0).UTC()
	}
	return time.UnixMilli(s.n).UTC()
}

var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decimal returns the *big.Rat goavro decodes a decimal's bytes into.
func (r *Record) decimal(s *slot) *big.Rat {
	b := r.b[s.i:s.j]
	if len(b) <= 8 {
		var v int64
		if len(b) > 0 {
			v = int64(int8(b[0])) // sign-extended
			for _, x := range b[1:] {
				v = v<<8 | int64(x)
			}
		}
		return new(big.Rat).SetFrac64(v, pow10[s.n])
	}
	n := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return new(big.Rat).SetFrac(n, big.NewInt(pow10[s.n]))
}

// arrayItem returns the item type of an array field (in a union or not).
func arrayItem(t *typ) *typ {
	for _, b := range t.branches {
		if b.k == kArray {
			return b.item
		}
	}
	return t.item
}
