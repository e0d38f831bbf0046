package changecapture

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"time"
)

// Hash is the content hash of an entity: the first 128 bits of SHA-256 over
// the canonical encoding of its content. Only successive contents of one key
// are ever compared, so 128 bits leave no practical chance of a collision
// hiding a change.
type Hash [16]byte

// String returns the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the hex form of [Hash.String].
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("changecapture: %q is not a content hash", s)
	}
	copy(h[:], b)
	return h, nil
}

// encodingVersion starts every canonical encoding, so that a future change of
// the encoding cannot be mistaken for a change of every entity's content
// without anyone noticing: it would be a deliberate version bump.
const encodingVersion = "shopstream/changecapture/v1"

// metadata are the change metadata fields every record starts with. They
// describe the observation, not the entity, so they never take part in the
// content hash.
var metadata = []string{"event_id", "source", "entity", "op", "source_ts", "ingest_ts", "version"}

// HashRecord returns the content hash of an Avro record in goavro's native
// form, leaving out the change metadata fields and the top-level fields in
// exclude (volatile fields such as a fetch time or a signed URL that change
// without the entity changing).
//
// The encoding is canonical for the native form: map keys are sorted, every
// integer type is one 64-bit integer, float32 is widened to float64, a
// decimal (*big.Rat) is its reduced fraction, a time.Time is its Unix
// millisecond (timestamp-millis and date carry no more). A record therefore
// hashes the same before encoding and after decoding, which also lets the
// last hash of a key be recomputed from the output topic. Arrays keep their
// order: where the order carries no meaning (identifiers, payment methods),
// sort them before hashing and writing, so that a reordering by the API is
// not a change.
func HashRecord(rec map[string]any, exclude ...string) (Hash, error) {
	content := make(map[string]any, len(rec))
	for k, v := range rec {
		if !slices.Contains(metadata, k) && !slices.Contains(exclude, k) {
			content[k] = v
		}
	}
	return HashValue(content)
}

// HashValue returns the content hash of v, which may be nil, a bool, any
// integer or float, a string, []byte, *big.Rat, time.Time, or a slice, array
// or string-keyed map of those (goavro's native form is all of these).
// Anything else (structs, channels, functions) is an error: their encoding
// would not be well defined.
func HashValue(v any) (Hash, error) {
	e := encoder{buf: append(make([]byte, 0, 512), encodingVersion...)}
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return Hash{}, fmt.Errorf("changecapture: hash: %w", err)
	}
	sum := sha256.Sum256(e.buf)
	var h Hash
	copy(h[:], sum[:])
	return h, nil
}

// encoder writes the canonical encoding: a one-byte tag per value, then its
// payload; variable-length payloads are length-prefixed, so no two values
// share an encoding.
type encoder struct{ buf []byte }

var (
	timeType   = reflect.TypeFor[time.Time]()
	ratType    = reflect.TypeFor[big.Rat]()
	ratPtrType = reflect.TypeFor[*big.Rat]()
)

func (e *encoder) str(tag byte, s string) {
	e.buf = append(e.buf, tag)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) value(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, 'n')
		return nil
	}
	switch v.Type() {
	case timeType:
		e.buf = append(e.buf, 'T')
		e.buf = binary.AppendVarint(e.buf, v.Interface().(time.Time).UnixMilli())
		return nil
	case ratPtrType:
		if v.IsNil() {
			e.buf = append(e.buf, 'n')
			return nil
		}
		e.str('r', v.Interface().(*big.Rat).RatString())
		return nil
	case ratType:
		r := v.Interface().(big.Rat)
		e.str('r', r.RatString())
		return nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, 'n')
			return nil
		}
		return e.value(v.Elem())
	case reflect.Bool:
		if v.Bool() {
			e.buf = append(e.buf, 't')
		} else {
			e.buf = append(e.buf, 'f')
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = append(e.buf, 'i')
		e.buf = binary.AppendVarint(e.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("unsigned integer %d does not fit a long", u)
		}
		e.buf = append(e.buf, 'i')
		e.buf = binary.AppendVarint(e.buf, int64(u))
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case f == 0:
			f = 0 // -0 and +0 are the same value
		case math.IsNaN(f):
			f = math.NaN() // one NaN, whatever its payload
		}
		e.buf = append(e.buf, 'd')
		e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
	case reflect.String:
		e.str('s', v.String())
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice && v.IsNil() {
				e.str('b', "")
				return nil
			}
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			e.str('b', string(b))
			return nil
		}
		e.buf = append(e.buf, 'a')
		e.buf = binary.AppendUvarint(e.buf, uint64(v.Len()))
		for i := range v.Len() {
			if err := e.value(v.Index(i)); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("map with %s keys: only string keys have a canonical order", v.Type().Key())
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			switch as, bs := a.String(), b.String(); {
			case as < bs:
				return -1
			case as > bs:
				return 1
			}
			return 0
		})
		e.buf = append(e.buf, 'm')
		e.buf = binary.AppendUvarint(e.buf, uint64(len(keys)))
		for _, k := range keys {
			e.str('k', k.String())
			if err := e.value(v.MapIndex(k)); err != nil {
				return fmt.Errorf("%s: %w", k.String(), err)
			}
		}
	default:
		return fmt.Errorf("values of type %s have no canonical encoding", v.Type())
	}
	return nil
}
