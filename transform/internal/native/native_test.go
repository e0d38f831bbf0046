package native

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestRecordReads(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := Wrap(map[string]any{
		"s": "a", "os": map[string]any{"string": "b"}, "null": nil, "l": int64(3), "ol": map[string]any{"long": int64(4)},
		"d": 1.5, "t": ts, "dec": big.NewRat(1, 4), "odec": map[string]any{"bytes.decimal": big.NewRat(3, 4)},
		"arr": []any{map[string]any{"x": "y"}},
	})
	if r.String("s") != "a" || r.OptString("os") != "b" || r.OptString("null") != "" || r.Long("l") != 3 {
		t.Error("strings or longs")
	}
	if v, ok := r.OptLong("ol"); !ok || v != 4 {
		t.Error("optional long")
	}
	if r.Double("d") != 1.5 || !r.Time("t").Equal(ts) || r.Decimal("dec").Cmp(big.NewRat(1, 4)) != 0 || r.OptDecimal("odec").Cmp(big.NewRat(3, 4)) != 0 {
		t.Error("double, time or decimals")
	}
	if a := r.Array("arr"); len(a) != 1 || a[0].String("x") != "y" {
		t.Error("array")
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	// The first problem sticks.
	_ = r.String("missing")
	_ = r.Long("s")
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "field missing") {
		t.Errorf("sticky error %v", err)
	}
}
