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

type fields struct {
	Fields []struct {
		Name    string          `json:"name"`
		Type    json.RawMessage `json:"type"`
		Default json.RawMessage `json:"default"`
	} `json:"fields"`
}

var (
	mu     sync.Mutex
	parsed = map[string]fields{}
)

// Fill completes rec, in goavro's native form, with a zero value for every
// field of topic's schema that rec lacks and that has no default, so that
// goavro accepts it. It returns rec.
func Fill(topic string, rec map[string]any) (map[string]any, error) {
	mu.Lock()
	sch, ok := parsed[topic]
	mu.Unlock()
	if !ok {
		text, err := schemas.Source(topic)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(text), &sch); err != nil {
			return nil, fmt.Errorf("schematest: parse schema of %s: %w", topic, err)
		}
		mu.Lock()
		parsed[topic] = sch
		mu.Unlock()
	}
	for _, f := range sch.Fields {
		if _, ok := rec[f.Name]; ok || f.Default != nil {
			continue
		}
		var s string
		var lt struct{ Type, LogicalType string }
		switch {
		case json.Unmarshal(f.Type, &s) == nil:
			rec[f.Name] = map[string]any{"string": "", "long": int64(0), "double": 0.0, "boolean": false}[s]
		case json.Unmarshal(f.Type, &lt) == nil:
			switch lt.LogicalType {
			case "timestamp-millis", "date":
				rec[f.Name] = time.Unix(0, 0).UTC()
			case "decimal":
				rec[f.Name] = new(big.Rat)
			default:
				rec[f.Name] = []any{}
			}
		}
	}
	return rec, nil
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
