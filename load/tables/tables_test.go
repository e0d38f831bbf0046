package tables

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/shopspring/decimal"
)

func TestTableNames(t *testing.T) {
	for topic, want := range map[string]string{
		"amazon.orders":          "amazon_orders",
		"tiktok.webhook_events":  "tiktok_webhook_events",
		"xchannel.product_daily": "product_daily",
		"xchannel.product_links": "product_links",
	} {
		if got := TableName(topic); got != want {
			t.Errorf("TableName(%s) = %s, want %s", topic, got, want)
		}
	}
	tb, err := ForTopic("tiktok.webhook_events")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Raw != "tiktok_webhook_events_changes" || tb.Current != "" {
		t.Errorf("webhook events: raw %q current %q; events have no current state", tb.Raw, tb.Current)
	}
	if _, err := ForTopic("shopstream.cursors"); err == nil {
		t.Error("shopstream.cursors has no table, but ForTopic returned one")
	}
}

func TestDecimalsAreExact(t *testing.T) {
	conv, err := converterFor(&avroType{kind: "bytes", logical: "decimal", prec: 18, scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	v, err := conv(big.NewRat(-123456789, 10000))
	if err != nil || !v.(decimal.Decimal).Equal(decimal.RequireFromString("-12345.6789")) {
		t.Fatalf("got %v, %v", v, err)
	}
	if _, err := conv(big.NewRat(1, 3)); err == nil {
		t.Error("1/3 accepted at scale 4")
	}
	huge, _ := new(big.Rat).SetString("100000000000000") // 10^14: 19 digits at scale 4
	if _, err := conv(huge); err == nil {
		t.Error("a value beyond precision 18 accepted")
	}
}

func TestRow(t *testing.T) {
	tb, err := ForTopic("amazon.catalog")
	if err != nil {
		t.Fatal(err)
	}
	berlin := time.FixedZone("CET", 3600)
	ts := time.Date(2026, 11, 1, 12, 0, 0, 0, berlin)
	rec := map[string]any{
		"event_id": "e", "source": "amazon", "entity": "product", "op": "snapshot",
		"source_ts": ts, "ingest_ts": ts, "version": int64(3), "marketplace_id": "M", "asin": "A",
		"identifiers": []any{
			map[string]any{"identifier_type": "EAN", "identifier": "1"},
			map[string]any{"identifier_type": "UPC", "identifier": "2"},
		},
		"brand": goavro.Union("string", "Acme"),
		// classification_ranks, display_group_ranks and the other optional
		// fields are absent: written with an older schema.
	}
	row, err := tb.Row(rec, []byte("M:A"), 7, 42)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for i, c := range tb.Columns {
		got[c.Name] = row[i]
	}
	if got["source_ts"].(time.Time).Location() != time.UTC || !got["source_ts"].(time.Time).Equal(ts) {
		t.Errorf("source_ts %v, want %v in UTC", got["source_ts"], ts)
	}
	if ids := got["identifiers.identifier"].([]any); len(ids) != 2 || ids[1] != "2" {
		t.Errorf("identifiers.identifier = %v", ids)
	}
	if ranks := got["classification_ranks.rank"].([]any); len(ranks) != 0 {
		t.Errorf("absent list gives %v, want empty", ranks)
	}
	if got["brand"] != "Acme" || got["color"] != nil || got["_key"] != "M:A" || got["_partition"] != uint32(7) || got["_offset"] != uint64(42) {
		t.Errorf("brand %v color %v key %v partition %v offset %v", got["brand"], got["color"], got["_key"], got["_partition"], got["_offset"])
	}

	rec["gift_wrap"] = "yes"
	_, err = tb.Row(rec, nil, 0, 0)
	var unmapped *UnmappedFieldError
	if !errors.As(err, &unmapped) || unmapped.Field != "gift_wrap" || unmapped.Table != "amazon_catalog_changes" {
		t.Errorf("unknown field: %v", err)
	}
	delete(rec, "gift_wrap")
	rec["version"] = "3"
	_, err = tb.Row(rec, nil, 0, 0)
	var mapping *MappingError
	if !errors.As(err, &mapping) || mapping.Column != "version" {
		t.Errorf("wrong type: %v", err)
	}
}

// TestPrimitiveConvertersCheckTheGoType: each primitive Avro type passes the
// Go type goavro decodes it to through and refuses any other, naming both.
func TestPrimitiveConvertersCheckTheGoType(t *testing.T) {
	for _, c := range []struct {
		kind string
		good any
		want string
	}{
		{"string", "x", "want string, got int64"},
		{"long", int64(1), "want int64, got string"},
		{"int", int32(1), "want int32, got string"},
		{"double", 1.5, "want float64, got string"},
		{"boolean", true, "want bool, got string"},
	} {
		conv, err := converterFor(&avroType{kind: c.kind})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := conv(c.good); err != nil || v != c.good {
			t.Errorf("%s: %v -> %v, %v", c.kind, c.good, v, err)
		}
		bad := any("x")
		if c.kind == "string" {
			bad = int64(1)
		}
		if _, err := conv(bad); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v accepted or wrong error %v, want %q", c.kind, bad, err, c.want)
		}
	}
}
