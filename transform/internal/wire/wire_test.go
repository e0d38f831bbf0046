package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

// TestRoundTrip: what the append functions and binary's varints write,
// Reader reads back in order.
func TestRoundTrip(t *testing.T) {
	b := binary.AppendUvarint(nil, 300)
	b = binary.AppendVarint(b, -7)
	b = append(b, 9)
	b = AppendBool(b, true)
	b = AppendString(b, "héllo")
	b = AppendFloat64(b, 2.5)
	b = binary.AppendUvarint(b, 2)
	r := Reader{B: b}
	if u, v, by, bo, s, f, c := r.Uvarint(), r.Varint(), r.Byte(), r.Bool(), r.String(), r.Float64(), r.Count(); u != 300 ||
		v != -7 || by != 9 || !bo || s != "héllo" || f != 2.5 || c != 0 || r.Err == nil {
		// Count 2 with nothing left is a failure: a corrupt length.
		t.Fatalf("read %d %d %d %v %q %v %d, err %v", u, v, by, bo, s, f, c, r.Err)
	}
}

// TestSticky: a truncated input fails once and every later read returns
// zero values, whatever it asks.
func TestSticky(t *testing.T) {
	r := Reader{B: AppendString(nil, "abcdef")[:4]}
	if s := r.String(); s != "" || !errors.Is(r.Err, ErrTruncated) {
		t.Fatalf("truncated string read %q, err %v", s, r.Err)
	}
	if r.Uvarint() != 0 || r.Varint() != 0 || r.Byte() != 0 || r.Float64() != 0 || len(r.B) != 0 {
		t.Fatal("a read after the failure returned something")
	}
	r = Reader{B: []byte{0x80}} // a varint that does not end
	if r.Varint() != 0 || r.Err == nil {
		t.Fatal("an unterminated varint read")
	}
}
