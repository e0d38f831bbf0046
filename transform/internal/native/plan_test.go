package native

import (
	"errors"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// TestCompileUnsupported: schemas the plan cannot read the way goavro
// does must be refused, so their records go through goavro.
func TestCompileUnsupported(t *testing.T) {
	for _, field := range []string{
		`{"type": "enum", "name": "E", "symbols": ["a", "b"]}`,
		`{"type": "map", "values": "long"}`,
		`{"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}]}`,
		`{"type": "string", "logicalType": "uuid"}`,
		`{"type": "long", "logicalType": "timestamp-micros"}`,
		`{"type": "array", "items": {"type": "array", "items": "long"}}`,
		`["null", "long", ["string"]]`,
		`"Unknown"`,
	} {
		schema := `{"type": "record", "name": "T", "fields": [{"name": "f", "type": ` + field + `}]}`
		if _, err := goavro.NewCodec(schema); err != nil && field != `"Unknown"` && field != `["null", "long", ["string"]]` {
			t.Fatalf("%s: goavro: %v", field, err)
		}
		if _, err := Compile(schema); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: Compile: %v, want ErrUnsupported", field, err)
		}
	}
}

// TestPlanReadsLikeGoavro checks the types the input topics do not use
// yet (int, float, fixed, a union with the null branch last) against
// goavro's map, and that a record with the wrong type fails alike.
func TestPlanReadsLikeGoavro(t *testing.T) {
	schema := `{"type": "record", "name": "T", "fields": [
		{"name": "i", "type": "int"}, {"name": "f", "type": "float"},
		{"name": "x", "type": {"type": "fixed", "name": "F", "size": 3}},
		{"name": "y", "type": "F"},
		{"name": "s", "type": ["string", "null"]}, {"name": "n", "type": ["string", "null"]},
		{"name": "l", "type": {"type": "array", "items": "string"}}]}`
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := codec.BinaryFromNative(nil, map[string]any{"i": int32(-7), "f": float32(1.5), "x": []byte("abc"),
		"y": []byte("xyz"), "s": goavro.Union("string", "s"), "n": nil, "l": []any{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	back, _, err := codec.NativeFromBinary(payload)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(schema)
	if err != nil {
		t.Fatal(err)
	}
	var fast Record
	if err := p.Decode(payload, &fast); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Record{Wrap(back.(map[string]any)), &fast} {
		i, _ := r.OptLong("i")
		f, _ := r.OptDouble("f")
		if i != -7 || f != 1.5 || r.OptString("s") != "s" || r.OptString("n") != "" || r.Err() != nil {
			t.Errorf("%v: i %d, f %v, s %q, n %q, err %v", r.m == nil, i, f, r.OptString("s"), r.OptString("n"), r.Err())
		}
	}
	for _, read := range []func(r *Record){
		func(r *Record) { r.String("x") },
		func(r *Record) { r.Long("f") },
		func(r *Record) { r.Array("l") },
		func(r *Record) { r.OptTime("i") },
		func(r *Record) { r.String("missing") },
	} {
		slow, fastR := Wrap(back.(map[string]any)), fast
		read(slow)
		read(&fastR)
		if slow.Err() == nil || fastR.Err() == nil || slow.Err().Error() != fastR.Err().Error() {
			t.Errorf("errors differ: goavro %v, fast %v", slow.Err(), fastR.Err())
		}
	}
}
