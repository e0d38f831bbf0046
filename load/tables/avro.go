package tables

import (
	"encoding/json"
	"fmt"
)

// avroType is the part of an Avro schema that decides a column: a primitive
// with an optional logical type, a ["null", T] union, an array or a record.
type avroType struct {
	kind     string // string, long, int, double, boolean, bytes, null, record, array, union
	logical  string // timestamp-millis, date, decimal
	scale    int    // decimals only
	prec     int    // decimals only
	nullable *avroType
	items    *avroType
	fields   []avroField
}

type avroField struct {
	name string
	typ  *avroType
}

// parseAvro parses the schema text of a record into its type tree. Named
// types are resolved, so a record reused by name keeps its fields.
func parseAvro(text string) (*avroType, error) {
	var raw any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("parse schema JSON: %w", err)
	}
	named := map[string]*avroType{}
	return toAvroType(raw, named)
}

func toAvroType(raw any, named map[string]*avroType) (*avroType, error) {
	switch v := raw.(type) {
	case string:
		if t, ok := named[v]; ok {
			return t, nil
		}
		return &avroType{kind: v}, nil
	case []any:
		var branches []*avroType
		for _, b := range v {
			t, err := toAvroType(b, named)
			if err != nil {
				return nil, err
			}
			branches = append(branches, t)
		}
		if len(branches) != 2 || branches[0].kind != "null" {
			return nil, fmt.Errorf("only [\"null\", T] unions map to columns, got %d branches", len(branches))
		}
		return &avroType{kind: "union", nullable: branches[1]}, nil
	case map[string]any:
		kind, _ := v["type"].(string)
		switch kind {
		case "record":
			t := &avroType{kind: "record"}
			if name, ok := v["name"].(string); ok {
				named[name] = t
			}
			fields, _ := v["fields"].([]any)
			for _, f := range fields {
				fm, _ := f.(map[string]any)
				name, _ := fm["name"].(string)
				ft, err := toAvroType(fm["type"], named)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", name, err)
				}
				t.fields = append(t.fields, avroField{name: name, typ: ft})
			}
			return t, nil
		case "array":
			items, err := toAvroType(v["items"], named)
			if err != nil {
				return nil, err
			}
			return &avroType{kind: "array", items: items}, nil
		case "":
			return toAvroType(v["type"], named)
		default:
			t := &avroType{kind: kind}
			t.logical, _ = v["logicalType"].(string)
			if p, ok := v["precision"].(float64); ok {
				t.prec = int(p)
			}
			if s, ok := v["scale"].(float64); ok {
				t.scale = int(s)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("unsupported schema node %T", raw)
}
