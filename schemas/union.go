package schemas

import (
	"math/big"
	"time"
)

// The values of optional fields in the native form (see the package
// documentation): nil for null, else the value wrapped in its union
// branch, for the producers that build records as maps.

// OptString returns the union value of an optional string: nil for "".
func OptString(s string) any {
	if s == "" {
		return nil
	}
	return map[string]any{"string": s}
}

// OptLong returns the union value of an optional long.
func OptLong(v *int64) any { return optional("long", v) }

// OptDouble returns the union value of an optional double.
func OptDouble(v *float64) any { return optional("double", v) }

// OptBool returns the union value of an optional boolean.
func OptBool(v *bool) any { return optional("boolean", v) }

// OptDecimal returns the union value of an optional decimal (the
// *big.Rat itself, as goavro takes it).
func OptDecimal(v *big.Rat) any {
	if v == nil {
		return nil
	}
	return map[string]any{"bytes.decimal": v}
}

// optional is the union value of branch holding *v, nil for a nil v.
func optional[T any](branch string, v *T) any {
	if v == nil {
		return nil
	}
	return map[string]any{branch: *v}
}

// OptDate returns the union value of an optional date: nil unless ok.
func OptDate(t time.Time, ok bool) any {
	if !ok {
		return nil
	}
	return map[string]any{"int.date": t}
}
