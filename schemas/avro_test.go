package schemas_test

import (
	"encoding/json"
	"fmt"
	"strings"
)

// node is a parsed Avro schema, small enough for the tests to walk: the
// convention checks, the sample generator and the compatibility checker.
type node struct {
	kind      string // a primitive name, or record, enum, fixed, array, map, union
	name      string // full name of a record, enum or fixed
	namespace string // namespace of a record, enum or fixed
	doc       string
	logical   string
	precision int
	scale     int
	size      int
	symbols   []string
	enumDef   bool
	fields    []field
	items     *node // array items or map values
	branches  []*node
}

type field struct {
	name       string
	aliases    []string
	doc        string
	typ        *node
	hasDefault bool
	def        any
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// String describes n for error messages, e.g. long(timestamp-millis).
func (n *node) String() string {
	switch {
	case n.kind == "union":
		parts := make([]string, len(n.branches))
		for i, b := range n.branches {
			parts[i] = b.String()
		}
		return "[" + strings.Join(parts, ",") + "]"
	case n.kind == "array":
		return "array<" + n.items.String() + ">"
	case n.kind == "map":
		return "map<" + n.items.String() + ">"
	case n.name != "":
		return n.kind + " " + n.name
	case n.logical == "decimal":
		return fmt.Sprintf("%s(decimal %d,%d)", n.kind, n.precision, n.scale)
	case n.logical != "":
		return n.kind + "(" + n.logical + ")"
	}
	return n.kind
}

// parseSchema parses Avro schema JSON.
func parseSchema(text string) (*node, error) {
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	p := parser{named: map[string]*node{}}
	return p.parse(v, "")
}

type parser struct {
	named map[string]*node
}

func fullName(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

func shortName(full string) string {
	return full[strings.LastIndex(full, ".")+1:]
}

func (p *parser) parse(v any, ns string) (*node, error) {
	switch s := v.(type) {
	case string:
		if primitives[s] {
			return &node{kind: s}, nil
		}
		if n, ok := p.named[fullName(s, ns)]; ok {
			return n, nil
		}
		if n, ok := p.named[s]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("unknown type %q", s)
	case []any:
		n := &node{kind: "union"}
		for _, b := range s {
			bn, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, bn)
		}
		return n, nil
	case map[string]any:
		return p.parseObject(s, ns)
	}
	return nil, fmt.Errorf("unexpected schema JSON %T", v)
}

func (p *parser) parseObject(s map[string]any, ns string) (*node, error) {
	t, ok := s["type"].(string)
	if !ok {
		return p.parse(s["type"], ns)
	}
	n := &node{kind: t}
	n.doc, _ = s["doc"].(string)
	n.logical, _ = s["logicalType"].(string)
	if f, ok := s["precision"].(float64); ok {
		n.precision = int(f)
	}
	if f, ok := s["scale"].(float64); ok {
		n.scale = int(f)
	}
	switch t {
	case "record", "error", "enum", "fixed":
		name, _ := s["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s without a name", t)
		}
		if nsv, ok := s["namespace"].(string); ok && !strings.Contains(name, ".") {
			ns = nsv
		}
		n.name = fullName(name, ns)
		n.namespace = n.name[:max(strings.LastIndex(n.name, "."), 0)]
		if _, dup := p.named[n.name]; dup {
			return nil, fmt.Errorf("type %s defined twice", n.name)
		}
		p.named[n.name] = n
	}
	switch t {
	case "record", "error":
		n.kind = "record"
		fs, _ := s["fields"].([]any)
		for _, fv := range fs {
			fm, ok := fv.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: field is %T", n.name, fv)
			}
			var f field
			f.name, _ = fm["name"].(string)
			f.doc, _ = fm["doc"].(string)
			f.def, f.hasDefault = fm["default"]
			if as, ok := fm["aliases"].([]any); ok {
				for _, a := range as {
					if a, ok := a.(string); ok {
						f.aliases = append(f.aliases, a)
					}
				}
			}
			ft, err := p.parse(fm["type"], n.namespace)
			if err != nil {
				return nil, fmt.Errorf("record %s field %s: %w", n.name, f.name, err)
			}
			f.typ = ft
			n.fields = append(n.fields, f)
		}
	case "enum":
		syms, _ := s["symbols"].([]any)
		for _, sv := range syms {
			sym, _ := sv.(string)
			n.symbols = append(n.symbols, sym)
		}
		_, n.enumDef = s["default"]
	case "fixed":
		if f, ok := s["size"].(float64); ok {
			n.size = int(f)
		}
	case "array":
		items, err := p.parse(s["items"], ns)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		n.items = items
	case "map":
		values, err := p.parse(s["values"], ns)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		n.items = values
	default:
		if !primitives[t] {
			return p.parse(t, ns)
		}
	}
	return n, nil
}

// field returns the field called name, or nil.
func (n *node) field(name string) *field {
	for i := range n.fields {
		if n.fields[i].name == name {
			return &n.fields[i]
		}
	}
	return nil
}

// optional returns T when n is the union ["null", T], else nil.
func (n *node) optional() *node {
	if n.kind == "union" && len(n.branches) == 2 && n.branches[0].kind == "null" {
		return n.branches[1]
	}
	return nil
}

// unionBranchName is the key goavro uses for a union branch of type n.
func unionBranchName(n *node) string {
	switch {
	case n.name != "":
		return n.name
	case n.logical != "":
		return n.kind + "." + n.logical
	}
	return n.kind
}
