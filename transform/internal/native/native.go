// Package native reads and writes records in goavro's native form (see
// package schemas): maps of field name to value, optional fields as
// single-entry maps keyed by the branch name or nil. It turns a missing or
// mistyped field into an error that names the field, so a bad record can go
// to a dead-letter topic with a reason.
package native

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"time"
)

// Record is a decoded Avro record with a sticky error: the first field that
// is missing or has the wrong type is remembered, and later reads return
// zero values, so callers read every field and check Err once.
type Record struct {
	m   map[string]any
	err error
	// A Record a Plan decoded reads its slots v, in the order of p's
	// fields, and the payload b they point into; m is nil.
	p *recordPlan
	b []byte
	v []slot
}

// Wrap returns a Record reading m.
func Wrap(m map[string]any) *Record { return &Record{m: m} }

// Err returns the first error met while reading.
func (r *Record) Err() error { return r.err }

func (r *Record) fail(field string, v any, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("field %s: got %T, want %s", field, v, want)
	}
}

// unwrap returns the value of field with any union wrapper removed, and
// whether it is present and not null.
func (r *Record) unwrap(field string) (any, bool) {
	v, ok := r.m[field]
	if !ok || v == nil {
		return nil, false
	}
	if u, ok := v.(map[string]any); ok && len(u) == 1 {
		for _, inner := range u {
			return inner, inner != nil
		}
	}
	return v, true
}

// String returns a required string field.
func (r *Record) String(field string) string {
	s, ok := r.optString(field)
	if !ok {
		r.fail(field, nil, "string")
	}
	return s
}

// OptString returns an optional string field, "" when null.
func (r *Record) OptString(field string) string {
	s, _ := r.optString(field)
	return s
}

// optString returns a string field and whether it is set.
func (r *Record) optString(field string) (string, bool) {
	if r.p != nil {
		switch s := r.lookup(field); {
		case s == nil:
		case s.k == kString:
			return r.str(s), true
		default:
			r.mismatch(field, s, "string")
		}
		return "", false
	}
	v, ok := r.unwrap(field)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		r.fail(field, v, "string")
	}
	return s, ok
}

// Long returns a required long field.
func (r *Record) Long(field string) int64 {
	v, ok := r.OptLong(field)
	if !ok {
		r.fail(field, nil, "long")
	}
	return v
}

// OptLong returns an optional long field and whether it is set.
func (r *Record) OptLong(field string) (int64, bool) {
	if r.p != nil {
		switch s := r.lookup(field); {
		case s == nil:
		case s.k == kLong || s.k == kInt:
			return s.n, true
		default:
			r.mismatch(field, s, "long")
		}
		return 0, false
	}
	v, ok := r.unwrap(field)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	}
	r.fail(field, v, "long")
	return 0, false
}

// OptDouble returns an optional double field and whether it is set.
func (r *Record) OptDouble(field string) (float64, bool) {
	if r.p != nil {
		switch s := r.lookup(field); {
		case s == nil:
		case s.k == kDouble:
			return math.Float64frombits(uint64(s.n)), true
		case s.k == kFloat:
			return float64(math.Float32frombits(uint32(s.n))), true
		default:
			r.mismatch(field, s, "double")
		}
		return 0, false
	}
	v, ok := r.unwrap(field)
	if !ok {
		return 0, false
	}
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	r.fail(field, v, "double")
	return 0, false
}

// Double returns a required double field.
func (r *Record) Double(field string) float64 {
	v, ok := r.OptDouble(field)
	if !ok {
		r.fail(field, nil, "double")
	}
	return v
}

// Time returns a required timestamp-millis or date field (UTC).
func (r *Record) Time(field string) time.Time {
	t, ok := r.OptTime(field)
	if !ok {
		r.fail(field, nil, "timestamp")
	}
	return t
}

// OptTime returns an optional timestamp-millis or date field.
func (r *Record) OptTime(field string) (time.Time, bool) {
	if r.p != nil {
		switch s := r.lookup(field); {
		case s == nil:
		case s.k == kTimestamp || s.k == kDate:
			return slotTime(s), true
		default:
			r.mismatch(field, s, "time.Time")
		}
		return time.Time{}, false
	}
	v, ok := r.unwrap(field)
	if !ok {
		return time.Time{}, false
	}
	t, ok := v.(time.Time)
	if !ok {
		r.fail(field, v, "time.Time")
		return time.Time{}, false
	}
	return t.UTC(), true
}

// OptDecimal returns an optional decimal field, nil when null.
func (r *Record) OptDecimal(field string) *big.Rat {
	if r.p != nil {
		switch s := r.lookup(field); {
		case s == nil:
		case s.k == kDecimal:
			return r.decimal(s)
		default:
			r.mismatch(field, s, "*big.Rat")
		}
		return nil
	}
	v, ok := r.unwrap(field)
	if !ok {
		return nil
	}
	d, ok := v.(*big.Rat)
	if !ok {
		r.fail(field, v, "*big.Rat")
		return nil
	}
	return d
}

// Decimal returns a required decimal field.
func (r *Record) Decimal(field string) *big.Rat {
	d := r.OptDecimal(field)
	if d == nil {
		r.fail(field, nil, "decimal")
		return new(big.Rat)
	}
	return d
}

// Array returns an array field's records; non-record items are an error.
func (r *Record) Array(field string) []*Record {
	if r.p != nil {
		s := r.lookup(field)
		switch {
		case s == nil:
			return nil
		case s.k != kArray:
			r.mismatch(field, s, "array")
			return nil
		case s.n > 0 && s.items == nil:
			// Items that are not records, as goavro's []any holds them.
			i := r.p.index[field]
			r.fail(fmt.Sprintf("%s[%d]", field, 0), goZero(arrayItem(r.p.fields[i]).k), "record")
			return nil
		}
		out := make([]*Record, len(s.items))
		for i := range s.items {
			out[i] = &s.items[i]
		}
		return out
	}
	v, ok := r.unwrap(field)
	if !ok {
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		r.fail(field, v, "array")
		return nil
	}
	out := make([]*Record, 0, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			r.fail(fmt.Sprintf("%s[%d]", field, i), it, "record")
			return nil
		}
		out = append(out, &Record{m: m})
	}
	return out
}

// Sub folds the first error of a nested record read into r.
func (r *Record) Sub(field string, sub *Record) {
	if r.err == nil && sub.err != nil {
		r.err = fmt.Errorf("%s: %w", field, sub.err)
	}
}

// Writers of Avro binary, for records written field by field without the
// map (the Avro specification's encodings: strings length-prefixed, an
// optional value as its union branch, 0 for null, before the value).

// AppendString appends an Avro string.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendVarint(b, int64(len(s))), s...)
}

// AppendOptString appends a ["null", "string"] union: null for "".
func AppendOptString(b []byte, s string) []byte {
	if s == "" {
		return binary.AppendVarint(b, 0)
	}
	return AppendString(binary.AppendVarint(b, 1), s)
}
