// Package modelcheck validates JSON documents against Amazon's Selling Partner
// API models: the Swagger 2.0 API models and the JSON Schema (draft-07)
// report document schemas in shared/reference/amazon-models.
//
// It implements the subset of Swagger / JSON Schema those files use: local
// $ref, type, required, properties, additionalProperties, items, enum,
// minimum, maximum, minItems, maxItems, pattern, and the date and date-time
// formats. In strict mode it also reports properties the schema does not
// define, which catches misspelt field names that a lenient validator lets
// through.
package modelcheck

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Model is one loaded model or schema file.
type Model struct {
	root map[string]any
	// Strict makes Validate report properties the schema does not define.
	Strict bool
}

// models is a copy of Amazon's published API models and report schemas
// (Apache-2.0, see models/LICENSE), kept in the repository so the fidelity
// tests run on any clone.
//
//go:embed models/*.json
var models embed.FS

// Load parses the embedded model file name, e.g. "ordersV0.json".
func Load(name string) (*Model, error) {
	b, err := models.ReadFile("models/" + name)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("parse model %s: %w", name, err)
	}
	return &Model{root: root}, nil
}

// ResponseRef returns the $ref of an operation's response schema in a
// Swagger model, e.g. ("/orders/v0/orders", "get", 200) →
// "#/definitions/GetOrdersResponse".
func (m *Model) ResponseRef(path, method string, status int) (string, error) {
	op, ok := dig(m.root, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		return "", fmt.Errorf("no operation %s %s in model", method, path)
	}
	resp, ok := dig(op, "responses", strconv.Itoa(status)).(map[string]any)
	if !ok {
		return "", fmt.Errorf("%s %s declares no %d response", method, path, status)
	}
	ref, _ := dig(resp, "schema", "$ref").(string)
	if ref == "" {
		return "", fmt.Errorf("%s %s %d response has no schema", method, path, status)
	}
	return ref, nil
}

// Validate checks doc against the schema at ref ("" for the file's root
// schema) and returns every violation found, joined.
func (m *Model) Validate(doc []byte, ref string) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("document is not JSON: %w", err)
	}
	schema := m.root
	if ref != "" {
		s, err := m.resolve(ref)
		if err != nil {
			return err
		}
		schema = s
	}
	var errs []error
	m.check(v, schema, "$", &errs, 0)
	return errors.Join(errs...)
}

func (m *Model) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	var cur any = m.root
	for _, part := range strings.Split(ref[2:], "/") {
		cur = dig(cur, part)
	}
	s, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q does not resolve", ref)
	}
	return s, nil
}

func dig(v any, path ...string) any {
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func (m *Model) check(v any, s map[string]any, at string, errs *[]error, depth int) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, fmt.Errorf("%s: "+format, append([]any{at}, args...)...))
	}
	if depth > 64 {
		fail("schema nesting too deep")
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		rs, err := m.resolve(ref)
		if err != nil {
			fail("%v", err)
			return
		}
		m.check(v, rs, at, errs, depth+1)
		return
	}
	if typ, ok := s["type"].(string); ok && !hasType(v, typ) {
		fail("want %s, got %s", typ, jsonType(v))
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			fail("value %v not in enum %v", v, enum)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					fail("missing required property %q", r)
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]any); ok {
				m.check(x[k], ps, at+"."+k, errs, depth+1)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				m.check(x[k], ap, at+"."+k, errs, depth+1)
			case bool:
				if !ap {
					fail("property %q not allowed", k)
				}
			default:
				if m.Strict && props != nil {
					fail("property %q is not defined by the model", k)
				}
			}
		}
	case []any:
		if n, ok := num(s["minItems"]); ok && float64(len(x)) < n {
			fail("%d items, want at least %v", len(x), n)
		}
		if n, ok := num(s["maxItems"]); ok && float64(len(x)) > n {
			fail("%d items, want at most %v", len(x), n)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				m.check(e, is, fmt.Sprintf("%s[%d]", at, i), errs, depth+1)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if n, ok := num(s["minimum"]); ok && f < n {
			fail("%v below minimum %v", f, n)
		}
		if n, ok := num(s["maximum"]); ok && f > n {
			fail("%v above maximum %v", f, n)
		}
	case string:
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				fail("bad pattern %q: %v", p, err)
			} else if !re.MatchString(x) {
				fail("%q does not match %s", x, p)
			}
		}
		switch s["format"] {
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil {
				fail("%q is not a date", x)
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				fail("%q is not a date-time", x)
			}
		}
	}
}

func num(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f) && !strings.ContainsAny(string(n), ".eE")
	case "null":
		return v == nil
	}
	return true
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
