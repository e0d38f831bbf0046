package native

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A Plan reads the Avro binary of records written with one writer schema
// straight into a Record, without goavro's maps: every field is decoded
// into a slot of the Record (strings and decimals are kept as ranges of
// the payload and converted only when read), and the Record's accessors
// answer as they do for the map goavro would have decoded from the same
// bytes with the same schema. A field the writer schema lacks is missing,
// as in goavro's map, so records of older schema versions read the same
// through either path.
//
// Compile accepts the types the input topics use: the primitives,
// fixed, the logical types date, timestamp-millis and decimal (bytes),
// unions of those, and arrays (of records of those, or of those). Any
// other schema (an enum, a map, a record field that is a record, a record
// named before) fails with ErrUnsupported: decode such records through
// goavro.
type Plan struct {
	root *recordPlan
}

// ErrUnsupported says a writer schema needs the goavro path.
var ErrUnsupported = errors.New("native: writer schema not supported by the fast decoder")

// kind is the Go type goavro decodes a value into.
type kind uint8

const (
	kNull      kind = iota // null, or a field the writer does not have
	kString                // string
	kBytes                 // bytes, fixed
	kLong                  // long
	kInt                   // int
	kDouble                // double
	kFloat                 // float
	kBool                  // boolean
	kTimestamp             // long timestamp-millis
	kDate                  // int date
	kDecimal               // bytes decimal
	kArray                 // array
)

// logicalType is an Avro type name and its logical type ("" for none).
type logicalType struct{ name, logical string }

// plainKinds are the types that compile to their kind alone, whether named
// ("long") or written as an object ({"type": "long"}, with a logical type
// or not).
var plainKinds = map[logicalType]kind{
	{"null", ""}: kNull, {"string", ""}: kString, {"bytes", ""}: kBytes, {"long", ""}: kLong,
	{"int", ""}: kInt, {"double", ""}: kDouble, {"float", ""}: kFloat, {"boolean", ""}: kBool,
	{"long", "timestamp-millis"}: kTimestamp, {"int", "date"}: kDate,
}

// typ is a compiled writer type.
type typ struct {
	k        kind
	fixed    int         // size of a fixed
	scale    int         // of a decimal
	branches []*typ      // of a union; nil otherwise
	item     *typ        // of an array whose items are not records
	rec      *recordPlan // of an array whose items are records
}

// recordPlan is a compiled record type: its fields in writer order.
type recordPlan struct {
	name   string
	fields []*typ
	index  map[string]int // field name -> slot
}

// Compile compiles schema, the writer's Avro schema text, which must be a
// record.
func Compile(schema string) (*Plan, error) {
	var v any
	if err := json.Unmarshal([]byte(schema), &v); err != nil {
		return nil, fmt.Errorf("%w: parse: %w", ErrUnsupported, err)
	}
	c := compiler{named: map[string]*typ{}, busy: map[string]bool{}}
	m, ok := v.(map[string]any)
	if !ok || m["type"] != "record" {
		return nil, fmt.Errorf("%w: the schema is not a record", ErrUnsupported)
	}
	rp, err := c.record(m, "")
	if err != nil {
		return nil, err
	}
	return &Plan{root: rp}, nil
}

type compiler struct {
	named map[string]*typ // fixed types by full and short name
	busy  map[string]bool // records being compiled (recursion)
}

func fullName(m map[string]any, ns string) (full, short, space string) {
	name, _ := m["name"].(string)
	if s, ok := m["namespace"].(string); ok {
		ns = s
	}
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name, name[i+1:], name[:i]
	}
	if ns == "" {
		return name, name, ns
	}
	return ns + "." + name, name, ns
}

func (c *compiler) record(m map[string]any, ns string) (*recordPlan, error) {
	full, short, ns := fullName(m, ns)
	if c.busy[full] {
		return nil, fmt.Errorf("%w: recursive record %s", ErrUnsupported, full)
	}
	c.busy[full] = true
	fields, ok := m["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: record %s has no fields", ErrUnsupported, full)
	}
	rp := &recordPlan{name: short, index: make(map[string]int, len(fields))}
	for _, f := range fields {
		fm, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: record %s: a field is not an object", ErrUnsupported, full)
		}
		name, _ := fm["name"].(string)
		t, err := c.typ(fm["type"], ns)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", full, name, err)
		}
		if t.k == kArray && t.rec == nil && t.item == nil {
			return nil, fmt.Errorf("%w: %s.%s", ErrUnsupported, full, name)
		}
		if _, dup := rp.index[name]; dup || name == "" {
			return nil, fmt.Errorf("%w: record %s: field name %q", ErrUnsupported, full, name)
		}
		rp.index[name] = len(rp.fields)
		rp.fields = append(rp.fields, t)
	}
	return rp, nil
}

func (c *compiler) typ(v any, ns string) (*typ, error) {
	switch v := v.(type) {
	case string:
		if k, ok := plainKinds[logicalType{v, ""}]; ok {
			return &typ{k: k}, nil
		}
		if t, ok := c.named[v]; ok {
			return t, nil
		}
		if t, ok := c.named[ns+"."+v]; ok && ns != "" {
			return t, nil
		}
		return nil, fmt.Errorf("%w: type %q", ErrUnsupported, v)
	case []any:
		t := &typ{branches: make([]*typ, 0, len(v))}
		for _, b := range v {
			bt, err := c.typ(b, ns)
			if err != nil {
				return nil, err
			}
			if bt.branches != nil {
				return nil, fmt.Errorf("%w: a union in a union", ErrUnsupported)
			}
			t.branches = append(t.branches, bt)
		}
		return t, nil
	case map[string]any:
		return c.complex(v, ns)
	}
	return nil, fmt.Errorf("%w: type %v", ErrUnsupported, v)
}

func (c *compiler) complex(m map[string]any, ns string) (*typ, error) {
	kindName, _ := m["type"].(string)
	logical, _ := m["logicalType"].(string)
	switch kindName {
	case "record":
		// Only as the items of an array (see array below).
		return nil, fmt.Errorf("%w: a record field that is a record", ErrUnsupported)
	case "array":
		if im, ok := m["items"].(map[string]any); ok && im["type"] == "record" {
			rp, err := c.record(im, ns)
			if err != nil {
				return nil, err
			}
			return &typ{k: kArray, rec: rp}, nil
		}
		it, err := c.typ(m["items"], ns)
		if err != nil {
			return nil, err
		}
		if it.k == kArray || it.branches != nil {
			return nil, fmt.Errorf("%w: an array of arrays or unions", ErrUnsupported)
		}
		return &typ{k: kArray, item: it}, nil
	case "fixed":
		full, short, _ := fullName(m, ns)
		size, ok := m["size"].(float64)
		if !ok || size < 0 || logical != "" {
			return nil, fmt.Errorf("%w: fixed %s", ErrUnsupported, full)
		}
		t := &typ{k: kBytes, fixed: int(size)}
		c.named[full], c.named[short] = t, t
		return t, nil
	case "bytes":
		if logical == "decimal" {
			scale, _ := m["scale"].(float64)
			if scale < 0 || scale > 18 || scale != float64(int(scale)) {
				return nil, fmt.Errorf("%w: decimal scale %v", ErrUnsupported, m["scale"])
			}
			return &typ{k: kDecimal, scale: int(scale)}, nil
		}
	}
	if k, ok := plainKinds[logicalType{kindName, logical}]; ok {
		return &typ{k: k}, nil
	}
	return nil, fmt.Errorf("%w: type %q (logical type %q)", ErrUnsupported, kindName, logical)
}
