package changecapture

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// orderRecord is an amazon.orders record in goavro's native form, with
// optional fields, a decimal, an array and the change metadata.
func orderRecord() map[string]any {
	return map[string]any{
		"event_id":                "e-1",
		"source":                  "amazon",
		"entity":                  "order",
		"op":                      "update",
		"source_ts":               t0,
		"ingest_ts":               t0.Add(time.Minute),
		"version":                 int64(17),
		"amazon_order_id":         "902-3159896-1390916",
		"marketplace_id":          "ATVPDKIKX0DER",
		"purchase_date":           t0.Add(-time.Hour),
		"last_update_date":        t0,
		"order_status":            "Unshipped",
		"currency_code":           goavro.Union("string", "USD"),
		"order_total_amount":      goavro.Union("bytes.decimal", big.NewRat(23844, 100)),
		"number_of_items_shipped": goavro.Union("long", int64(0)),
		"payment_method_details":  []any{"Standard", "GiftCard"},
		"is_prime":                goavro.Union("boolean", true),
		"seller_order_id":         nil,
	}
}

func mustHash(t *testing.T, rec map[string]any, exclude ...string) Hash {
	t.Helper()
	h, err := HashRecord(rec, exclude...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashIgnoresChangeMetadata(t *testing.T) {
	a, b := orderRecord(), orderRecord()
	b["event_id"] = "e-2"
	b["op"] = "create"
	b["source_ts"] = t0.Add(time.Hour)
	b["ingest_ts"] = t0.Add(2 * time.Hour)
	b["version"] = int64(99)
	if mustHash(t, a) != mustHash(t, b) {
		t.Error("records differing only in change metadata hash differently")
	}
	delete(b, "event_id")
	if mustHash(t, a) != mustHash(t, b) {
		t.Error("a missing metadata field changes the hash")
	}
}

func TestHashExcludesVolatileFields(t *testing.T) {
	a, b := orderRecord(), orderRecord()
	b["seller_display_name"] = goavro.Union("string", "fetched at 12:01")
	if mustHash(t, a) == mustHash(t, b) {
		t.Fatal("an extra field does not change the hash")
	}
	a["seller_display_name"] = goavro.Union("string", "fetched at 12:00")
	if mustHash(t, a, "seller_display_name") != mustHash(t, b, "seller_display_name") {
		t.Error("an excluded field changes the hash")
	}
}

// TestHashIsCanonical: the native form allows several Go values for one Avro
// value; all of them hash alike.
func TestHashIsCanonical(t *testing.T) {
	base := map[string]any{"n": int64(5), "f": 0.5, "m": map[string]any{"b": 1, "a": 2}, "t": t0}
	same := []map[string]any{
		{"n": 5, "f": 0.5, "m": map[string]any{"a": 2, "b": 1}, "t": t0},
		{"n": int32(5), "f": float32(0.5), "m": map[string]int{"a": 2, "b": 1}, "t": t0.In(time.FixedZone("X", 3600))},
		{"n": uint8(5), "f": 0.5, "m": map[string]any{"a": int64(2), "b": int64(1)}, "t": t0.Add(500 * time.Microsecond)},
	}
	want, err := HashValue(base)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range same {
		got, err := HashValue(v)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("variant %d hashes differently", i)
		}
	}
	if h1, h2 := mustHashValue(t, 0.0), mustHashValue(t, math.Copysign(0, -1)); h1 != h2 {
		t.Error("-0 and +0 hash differently")
	}
	if h1, h2 := mustHashValue(t, big.NewRat(1, 2)), mustHashValue(t, big.NewRat(50, 100)); h1 != h2 {
		t.Error("equal decimals hash differently")
	}
}

func mustHashValue(t *testing.T, v any) Hash {
	t.Helper()
	h, err := HashValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHashSeesEveryChange: every change of content, including ones that
// only a typed encoding tells apart, changes the hash.
func TestHashSeesEveryChange(t *testing.T) {
	distinct := []any{
		nil, "", []byte{}, []any{}, map[string]any{}, false, true, int64(0), 0.0, "0",
		"a", []any{"a"}, []any{"a", "b"}, []any{"b", "a"}, []any{[]any{"a"}, "b"}, []any{"a", []any{"b"}},
		map[string]any{"a": nil}, map[string]any{"a": ""}, map[string]any{"ab": "c"}, map[string]any{"a": "bc"},
		big.NewRat(1, 3), big.NewRat(1, 2), t0, t0.Add(time.Millisecond), int64(1), 1.0,
	}
	seen := map[Hash]int{}
	for i, v := range distinct {
		h := mustHashValue(t, v)
		if j, ok := seen[h]; ok {
			t.Errorf("values %d (%#v) and %d (%#v) hash alike", j, distinct[j], i, v)
		}
		seen[h] = i
	}
	for field, v := range map[string]any{
		"order_status":           "Shipped",
		"order_total_amount":     goavro.Union("bytes.decimal", big.NewRat(23845, 100)),
		"payment_method_details": []any{"GiftCard", "Standard"},
		"is_prime":               nil,
		"seller_order_id":        goavro.Union("string", ""),
	} {
		rec := orderRecord()
		rec[field] = v
		if mustHash(t, rec) == mustHash(t, orderRecord()) {
			t.Errorf("changing %s does not change the hash", field)
		}
	}
}

func TestHashRejectsValuesWithoutCanonicalForm(t *testing.T) {
	for _, v := range []any{
		struct{ A int }{1},
		map[int]string{1: "a"},
		make(chan int),
		uint64(math.MaxUint64),
		map[string]any{"nested": []any{func() {}}},
	} {
		if _, err := HashValue(v); err == nil {
			t.Errorf("HashValue(%T) succeeded", v)
		}
	}
}

// TestHashSurvivesAvroRoundTrip: a record hashes the same before encoding
// and after decoding, so the hash of what was written can be recomputed from
// the topic.
func TestHashSurvivesAvroRoundTrip(t *testing.T) {
	codec, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	rec := orderRecord()
	rec["event_id"] = "e-1"
	_, decoded := schematest.RoundTrip(t, codec, rec)
	// The decoder fills the fields the record left to their defaults.
	full := orderRecord()
	for k, v := range decoded {
		if _, ok := full[k]; !ok {
			full[k] = v
		}
	}
	if mustHash(t, full) != mustHash(t, decoded) {
		t.Error("the decoded record hashes differently from the one encoded")
	}
}

func TestParseHash(t *testing.T) {
	h := mustHash(t, orderRecord())
	got, err := ParseHash(h.String())
	if err != nil || got != h {
		t.Errorf("ParseHash(%s) = %s, %v", h, got, err)
	}
	for _, bad := range []string{"", "zz", strings.Repeat("a", 30), strings.Repeat("a", 34)} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
}

// BenchmarkHashRecord measures the cost of change detection per polled
// record (an order header with optional fields, a decimal and an array).
func BenchmarkHashRecord(b *testing.B) {
	rec := orderRecord()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HashRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}
