// Package wire reads and writes the transform's private binary encoding:
// the records of its internal topics (facts, partials, identity messages)
// and the values of its stores. Both ends run the same code, so there is
// no schema: fields are written in a fixed order, integers as varints,
// strings and byte strings behind their length. The layouts themselves
// are their packages' (transform/join, transform/stream).
package wire

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrTruncated is the error of a Reader that ran out of bytes (or met a
// length longer than what is left).
var ErrTruncated = errors.New("truncated internal record")

// Reader reads an encoding with a sticky error: after the first failure
// every read returns a zero value and Err stays set, so a decoder reads
// every field and checks once.
type Reader struct {
	B   []byte // what is left to read
	Err error
}

// Fail records a truncated input.
func (r *Reader) Fail() {
	if r.Err == nil {
		r.Err = ErrTruncated
	}
	r.B = nil
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 { return readVarint(r, binary.Uvarint) }

// Varint reads a signed (zig-zag) varint.
func (r *Reader) Varint() int64 { return readVarint(r, binary.Varint) }

func readVarint[T uint64 | int64](r *Reader, read func([]byte) (T, int)) T {
	v, n := read(r.B)
	if n <= 0 {
		r.Fail()
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.B) == 0 {
		r.Fail()
		return 0
	}
	v := r.B[0]
	r.B = r.B[1:]
	return v
}

// Bool reads a byte that is 1 for true.
func (r *Reader) Bool() bool { return r.Byte() == 1 }

// Raw reads n bytes, aliasing the input.
func (r *Reader) Raw(n uint64) []byte {
	if uint64(len(r.B)) < n {
		r.Fail()
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}

// String reads a length and that many bytes.
func (r *Reader) String() string { return string(r.Raw(r.Uvarint())) }

// Float64 reads 8 bytes, little-endian IEEE 754.
func (r *Reader) Float64() float64 {
	b := r.Raw(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// Count reads the length of a list, which must fit in what is left (each
// element takes at least one byte), so a corrupt input cannot ask for a
// huge slice.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		r.Fail()
		return 0
	}
	return int(n)
}

// AppendString appends a length and the bytes of s.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendFloat64 appends f as 8 bytes, little-endian IEEE 754.
func AppendFloat64(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// AppendBool appends 1 for true, 0 for false.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}
