// Package schematest builds records of the topics' schemas for tests.
package schematest

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

var (
	mu     sync.Mutex
	shared = NewFiller()
)

// Fill completes rec, in goavro's native form, with a zero value for every
// field of topic's schema that rec lacks and that has no default, so that
// goavro accepts it. It returns rec.
func Fill(topic string, rec map[string]any) (map[string]any, error) {
	mu.Lock()
	defer mu.Unlock()
	if err := shared.Fill(topic, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// Input is one input change of a test: its topic, Kafka key and value in
// goavro's native form.
type Input struct {
	Topic, Key string
	Value      map[string]any
}

// NewInput returns rec as the change of topic under key, completed by
// Fill, failing t when topic has no schema.
func NewInput(t testing.TB, topic, key string, rec map[string]any) Input {
	t.Helper()
	rec, err := Fill(topic, rec)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Topic: topic, Key: key, Value: rec}
}

// Filler is Fill for one goroutine: it reads each topic's schema once and
// keeps the fields to fill. It is not safe for concurrent use.
type Filler struct {
	fields map[string][]zeroField
}

// zeroField is a field without a default and the zero value it is given.
type zeroField struct {
	name string
	zero func() any
}

// NewFiller returns an empty Filler.
func NewFiller() *Filler { return &Filler{fields: map[string][]zeroField{}} }

// Fill completes rec as the package's Fill does.
func (f *Filler) Fill(topic string, rec map[string]any) error {
	zs, ok := f.fields[topic]
	if !ok {
		var err error
		if zs, err = zeroFields(topic); err != nil {
			return err
		}
		f.fields[topic] = zs
	}
	for _, z := range zs {
		if _, ok := rec[z.name]; !ok {
			rec[z.name] = z.zero()
		}
	}
	return nil
}

// zeroFields returns the fields of topic's schema that have no default,
// each with its zero value in goavro's native form.
func zeroFields(topic string) ([]zeroField, error) {
	text, err := schemas.Source(topic)
	if err != nil {
		return nil, err
	}
	var sch struct {
		Fields []struct {
			Name    string          `json:"name"`
			Type    json.RawMessage `json:"type"`
			Default json.RawMessage `json:"default"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(text), &sch); err != nil {
		return nil, fmt.Errorf("schematest: parse schema of %s: %w", topic, err)
	}
	var zs []zeroField
	for _, fl := range sch.Fields {
		if fl.Default != nil {
			continue
		}
		var s string
		var lt struct{ Type, LogicalType string }
		switch {
		case json.Unmarshal(fl.Type, &s) == nil:
			z := map[string]any{"string": "", "long": int64(0), "double": 0.0, "boolean": false}[s]
			zs = append(zs, zeroField{fl.Name, func() any { return z }})
		case json.Unmarshal(fl.Type, &lt) == nil:
			switch lt.LogicalType {
			case "timestamp-millis", "date":
				zs = append(zs, zeroField{fl.Name, func() any { return time.Unix(0, 0).UTC() }})
			case "decimal":
				zs = append(zs, zeroField{fl.Name, func() any { return new(big.Rat) }})
			default:
				zs = append(zs, zeroField{fl.Name, func() any { return []any{} }})
			}
		}
	}
	return zs, nil
}

// RoundTrip encodes rec with c and decodes it again, failing t on either
// error: the check that a record is one the topic's schema accepts, and the
// record as a consumer reads it back.
func RoundTrip(t testing.TB, c *schemas.Codec, rec map[string]any) (wire []byte, back map[string]any) {
	t.Helper()
	wire, err := c.Encode(rec)
	if err != nil {
		t.Fatalf("encode %s: %v", c.Topic(), err)
	}
	back, err = c.Decode(wire)
	if err != nil {
		t.Fatalf("decode %s: %v", c.Topic(), err)
	}
	return wire, back
}

// Value returns the i-th sample value, in goavro's native form, of an Avro
// primitive kind (null, boolean, int, long, float, double, bytes, fixed,
// string) or of the logical types decimal (with scale), timestamp-millis
// and date on theirs; name goes into strings and bytes. Values differ with
// i, and decimals take both signs. ok is false for another type.
func Value(kind, logical string, scale int, name string, i int) (v any, ok bool) {
	switch logical {
	case "decimal":
		// Exactly representable at the schema's scale, with both signs, so
		// a lost digit or a broken two's complement shows up.
		unscaled := big.NewInt(int64(i)*1234567 + 89)
		if i%2 == 1 {
			unscaled.Neg(unscaled)
		}
		return new(big.Rat).SetFrac(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)), true
	case "timestamp-millis":
		return time.UnixMilli(1_717_000_000_000 + int64(i)*86_400_123).UTC(), true
	case "date":
		return time.Date(2024, time.June, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i), true
	}
	switch kind {
	case "null":
		return nil, true
	case "boolean":
		return i%2 == 0, true
	case "int":
		return int32(i), true
	case "long":
		return int64(i) * 1_000_003, true
	case "float":
		return float32(i) + 0.5, true
	case "double":
		return float64(i) + 0.25, true
	case "bytes", "fixed":
		return []byte(fmt.Sprintf("%s-%d", name, i)), true
	case "string":
		return fmt.Sprintf("%s-%d", name, i), true
	}
	return nil, false
}
