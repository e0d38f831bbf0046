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
