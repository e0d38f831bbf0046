package schemas_test

import (
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

func TestOptionalValues(t *testing.T) {
	l, d, b, r := int64(2), 1.5, false, big.NewRat(1, 4)
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name      string
		null, set any
		want      any
	}{
		{"string", schemas.OptString(""), schemas.OptString("x"), map[string]any{"string": "x"}},
		{"long", schemas.OptLong(nil), schemas.OptLong(&l), map[string]any{"long": int64(2)}},
		{"double", schemas.OptDouble(nil), schemas.OptDouble(&d), map[string]any{"double": 1.5}},
		{"boolean", schemas.OptBool(nil), schemas.OptBool(&b), map[string]any{"boolean": false}},
		{"decimal", schemas.OptDecimal(nil), schemas.OptDecimal(r), map[string]any{"bytes.decimal": r}},
		{"date", schemas.OptDate(day, false), schemas.OptDate(day, true), map[string]any{"int.date": day}},
	} {
		if c.null != nil {
			t.Errorf("%s: null is %v", c.name, c.null)
		}
		if !reflect.DeepEqual(c.set, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.set, c.want)
		}
	}
}
