package tables

import (
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/shopspring/decimal"
)

// converter turns one value in goavro's native form into the Go value that
// clickhouse-go appends to the column. An error means the record cannot be
// mapped (dead-letter it).
type converter func(v any) (any, error)

// converterFor returns the converter of a non-union, non-array Avro type.
func converterFor(t *avroType) (converter, error) {
	switch {
	case t.logical == "timestamp-millis" || t.logical == "date":
		return func(v any) (any, error) {
			tm, ok := v.(time.Time)
			if !ok {
				return nil, fmt.Errorf("want time.Time, got %T", v)
			}
			if tm.Location() == time.UTC {
				return v, nil // already boxed: no allocation
			}
			return tm.UTC(), nil
		}, nil
	case t.logical == "decimal":
		limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.prec)), nil)
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.scale)), nil)
		exp := int32(-t.scale)
		return func(v any) (any, error) {
			r, ok := v.(*big.Rat)
			if !ok {
				return nil, fmt.Errorf("want *big.Rat, got %T", v)
			}
			num := new(big.Int).Mul(r.Num(), scale)
			q, rem := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
			if rem.Sign() != 0 {
				return nil, fmt.Errorf("decimal %s has more than %d decimal places", r.FloatString(10), -exp)
			}
			if new(big.Int).Abs(q).Cmp(limit) >= 0 {
				return nil, fmt.Errorf("decimal %s does not fit precision %d", r.FloatString(-int(exp)), limit.BitLen())
			}
			return decimal.NewFromBigInt(q, exp), nil
		}, nil
	}
	switch t.kind {
	case "string":
		return checkType[string], nil
	case "long":
		return checkType[int64], nil
	case "int":
		return checkType[int32], nil
	case "double":
		return checkType[float64], nil
	case "boolean":
		return checkType[bool], nil
	}
	return nil, fmt.Errorf("no column type for Avro %s", t.kind)
}

// checkType passes v through if it is a T, the Go type goavro decodes the
// Avro type to.
func checkType[T any](v any) (any, error) {
	if _, ok := v.(T); !ok {
		var want T
		return nil, fmt.Errorf("want %T, got %T", want, v)
	}
	return v, nil
}

// nullableConverter unwraps goavro's single-entry union map, whose key is
// branch (e.g. "string", "bytes.decimal") for the records of our schemas.
func nullableConverter(branch string, inner converter) converter {
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			return nil, fmt.Errorf("want a union value, got %T", v)
		}
		if x, ok := m[branch]; ok {
			return inner(x)
		}
		for _, x := range m { // a branch named otherwise by another schema version
			return inner(x)
		}
		return nil, nil
	}
}

// branchName is goavro's union key of a non-null branch.
func branchName(t *avroType) string {
	if t.logical != "" {
		return t.kind + "." + t.logical
	}
	return t.kind
}

// arrayConverter converts every entry of an Avro array.
func arrayConverter(inner converter) converter {
	return func(v any) (any, error) {
		if v == nil {
			return []any{}, nil
		}
		xs, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("want an array, got %T", v)
		}
		out := make([]any, len(xs))
		for i, x := range xs {
			y, err := inner(x)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
			out[i] = y
		}
		return out, nil
	}
}

// jsonConverter renders a value of type t as JSON text, for lists nested in
// lists, which ClickHouse's flattened Nested columns cannot hold.
func jsonConverter(t *avroType) converter {
	return func(v any) (any, error) {
		b, err := json.Marshal(jsonable(t, v))
		if err != nil {
			return nil, fmt.Errorf("render as JSON: %w", err)
		}
		return string(b), nil
	}
}

// jsonable turns a value of type t in goavro's native form into plain JSON
// values: unions are unwrapped, decimals become exact decimal numbers,
// instants RFC 3339 text.
func jsonable(t *avroType, v any) any {
	if v == nil {
		return nil
	}
	switch t.kind {
	case "union":
		if m, ok := v.(map[string]any); ok {
			for _, x := range m {
				return jsonable(t.nullable, x)
			}
		}
		return nil
	case "record":
		m, _ := v.(map[string]any)
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			out[f.name] = jsonable(f.typ, m[f.name])
		}
		return out
	case "array":
		xs, _ := v.([]any)
		out := make([]any, len(xs))
		for i, x := range xs {
			out[i] = jsonable(t.items, x)
		}
		return out
	}
	switch x := v.(type) {
	case *big.Rat:
		return json.Number(x.FloatString(t.scale))
	case time.Time:
		if t.logical == "date" {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
