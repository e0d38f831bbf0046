package load_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/shopspring/decimal"

	"github.com/shopstream/shopstream/load/tables"
	"github.com/shopstream/shopstream/schemas"
)

// canonicalRow renders a row's values so that two rows print alike exactly
// when clickhouse-go would write the same values.
func canonicalRow(row []any) string {
	var b strings.Builder
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil:
			b.WriteString("NULL")
		case decimal.Decimal:
			b.WriteString("dec:" + x.String())
		case time.Time:
			b.WriteString("time:" + x.UTC().Format(time.RFC3339Nano) + "@" + x.Location().String())
		case []any:
			b.WriteString("[")
			for _, y := range x {
				walk(y)
				b.WriteString(",")
			}
			b.WriteString("]")
		default:
			fmt.Fprintf(&b, "%T:%v", v, v)
		}
	}
	for _, v := range row {
		walk(v)
		b.WriteString(" | ")
	}
	return b.String()
}

// slowRow is the goavro path: decode into a map, then Row.
func slowRow(codec *goavro.Codec, tbl *tables.Table, payload []byte) ([]any, error) {
	native, rest, err := codec.NativeFromBinary(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", schemas.ErrUndecodable, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: trailing bytes", schemas.ErrUndecodable)
	}
	return tbl.Row(native.(map[string]any), []byte("key"), 3, 42)
}

// TestRowDecoderMatchesRow: for every topic, records with every optional
// field set, with every optional field null, with negative and wide
// decimals, decode through the row decoder into exactly the row the goavro
// path builds; schemas the decoder cannot take say so.
func TestRowDecoderMatchesRow(t *testing.T) {
	fast := 0
	for _, topic := range schemas.Topics() {
		if _, ok := tables.KafkaOnly[topic]; ok {
			continue
		}
		tbl, err := tables.ForTopic(topic)
		if err != nil {
			t.Fatal(err)
		}
		text, _ := schemas.Source(topic)
		codec, err := goavro.NewCodec(text)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := tbl.NewRowDecoder(text)
		if errors.Is(err, tables.ErrSlowPath) {
			t.Logf("%s: goavro path (%v)", topic, err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", topic, err)
		}
		fast++
		for variant := range 6 {
			rec := sampleValue(t, json.RawMessage(text), "", variant+1).(map[string]any)
			for name, v := range rec {
				if _, isUnion := v.(map[string]any); isUnion && variant%2 == 1 {
					rec[name] = nil // every optional field null
				}
				if u, ok := v.(map[string]any); ok && variant == 2 {
					if _, dec := u["bytes.decimal"]; dec {
						rec[name] = goavro.Union("bytes.decimal", big.NewRat(-123456789012345678, 10000))
					}
				}
			}
			payload, err := codec.BinaryFromNative(nil, rec)
			if err != nil {
				t.Fatalf("%s variant %d: encode: %v", topic, variant, err)
			}
			want, werr := slowRow(codec, tbl, payload)
			got, ts, gerr := rd.Decode(payload, []byte("key"), 3, 42)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s variant %d: goavro path error %v, row decoder error %v", topic, variant, werr, gerr)
			}
			if werr != nil {
				continue
			}
			if g, w := canonicalRow(got), canonicalRow(want); g != w {
				t.Fatalf("%s variant %d:\n row decoder %s\n goavro path %s", topic, variant, g, w)
			}
			if srcTS, ok := rec["source_ts"].(time.Time); ok && !ts.Equal(srcTS) {
				t.Errorf("%s: source_ts %v, want %v", topic, ts, srcTS)
			}
		}
	}
	if fast < 8 {
		t.Errorf("only %d topics decode through the row decoder", fast)
	}
}

// decodePaths returns the two ways a record of topic becomes a row: the
// table with a goavro codec of the topic's schema (text), and the row
// decoder.
func decodePaths(tb testing.TB, topic string) (tbl *tables.Table, text string, codec *goavro.Codec, rd *tables.RowDecoder) {
	tb.Helper()
	tbl, _ = tables.ForTopic(topic)
	text, _ = schemas.Source(topic)
	codec, _ = goavro.NewCodec(text)
	rd, err := tbl.NewRowDecoder(text)
	if err != nil {
		tb.Fatal(err)
	}
	return tbl, text, codec, rd
}

// TestRowDecoderErrors: what the goavro path dead-letters or stops on, the
// row decoder does too: truncated and trailing bytes are undecodable, a
// decimal beyond the column's precision is a mapping error, a field added
// by a newer writer schema is unmapped, and a field an older writer schema
// lacks takes its default.
func TestRowDecoderErrors(t *testing.T) {
	const topic = "amazon.orders"
	tbl, text, codec, rd := decodePaths(t, topic)
	rec := sampleValue(t, json.RawMessage(text), "", 1).(map[string]any)
	payload, err := codec.BinaryFromNative(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"truncated": payload[:len(payload)-3], "trailing": append(payload[:len(payload):len(payload)], 0)} {
		if _, _, err := rd.Decode(b, nil, 0, 0); !errors.Is(err, schemas.ErrUndecodable) {
			t.Errorf("%s: got %v, want ErrUndecodable", name, err)
		}
	}
	rec["order_total_amount"] = goavro.Union("bytes.decimal", new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(15), nil)))
	wide, _ := codec.BinaryFromNative(nil, rec)
	var me *tables.MappingError
	if _, _, err := rd.Decode(wide, nil, 0, 0); !errors.As(err, &me) || me.Column != "order_total_amount" {
		t.Errorf("decimal of 20 digits in Decimal(18, 4): got %v, want a MappingError of order_total_amount", err)
	}
	if _, err := slowRow(codec, tbl, wide); !errors.As(err, &me) {
		t.Errorf("goavro path: %v, want a MappingError", err)
	}

	newer := strings.Replace(text, `"fields": [`, `"fields": [{"name": "gift_wrap", "type": ["null", "string"], "default": null},`, 1)
	rdNewer, err := tbl.NewRowDecoder(newer)
	if err != nil {
		t.Fatal(err)
	}
	newerCodec, _ := goavro.NewCodec(newer)
	rec = sampleValue(t, json.RawMessage(text), "", 1).(map[string]any)
	rec["gift_wrap"] = goavro.Union("string", "yes")
	b, _ := newerCodec.BinaryFromNative(nil, rec)
	var ue *tables.UnmappedFieldError
	if _, _, err := rdNewer.Decode(b, nil, 0, 0); !errors.As(err, &ue) || ue.Field != "gift_wrap" {
		t.Errorf("newer writer: got %v, want UnmappedFieldError for gift_wrap", err)
	}

	var schema map[string]any
	_ = json.Unmarshal([]byte(text), &schema)
	fields := schema["fields"].([]any)
	var kept []any
	for _, f := range fields {
		if f.(map[string]any)["name"] != "seller_display_name" && f.(map[string]any)["name"] != "payment_method_details" {
			kept = append(kept, f)
		}
	}
	schema["fields"] = kept
	olderText, _ := json.Marshal(schema)
	rdOlder, err := tbl.NewRowDecoder(string(olderText))
	if err != nil {
		t.Fatal(err)
	}
	olderCodec, _ := goavro.NewCodec(string(olderText))
	rec = sampleValue(t, json.RawMessage(olderText), "", 1).(map[string]any)
	b, _ = olderCodec.BinaryFromNative(nil, rec)
	got, _, err := rdOlder.Decode(b, []byte("key"), 3, 42)
	if err != nil {
		t.Fatal(err)
	}
	want, err := slowRow(olderCodec, tbl, b)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := canonicalRow(got), canonicalRow(want); g != w {
		t.Fatalf("older writer:\n row decoder %s\n goavro path %s", g, w)
	}
}

// FuzzRowDecoder feeds arbitrary payloads to the row decoder of
// amazon.orders and tiktok.orders: it never panics, and whenever both it and
// the goavro path accept a payload they build the same row.
func FuzzRowDecoder(f *testing.F) {
	type pair struct {
		rd    *tables.RowDecoder
		tbl   *tables.Table
		codec *goavro.Codec
	}
	var pairs []pair
	for _, topic := range []string{"amazon.orders", "amazon.order_items", "xchannel.product_daily"} {
		tbl, text, codec, rd := decodePaths(f, topic)
		pairs = append(pairs, pair{rd, tbl, codec})
		for i := range 3 {
			rec := sampleValue(&testing.T{}, json.RawMessage(text), "", i)
			b, err := codec.BinaryFromNative(nil, rec)
			if err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range pairs {
			got, _, gerr := p.rd.Decode(b, []byte("key"), 3, 42)
			want, werr := slowRow(p.codec, p.tbl, b)
			if gerr == nil && werr == nil && canonicalRow(got) != canonicalRow(want) {
				t.Fatalf("%s: rows differ:\n row decoder %s\n goavro path %s", p.tbl.Raw, canonicalRow(got), canonicalRow(want))
			}
		}
	})
}

// BenchmarkDecode compares the two ways an amazon.orders record becomes a
// row: goavro's map then Row, and the row decoder.
func BenchmarkDecode(b *testing.B) {
	tbl, _, codec, rd := decodePaths(b, "amazon.orders")
	ts := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	payload, err := codec.BinaryFromNative(nil, map[string]any{
		"event_id": "111-0000001-0000001-v1", "source": "amazon", "entity": "order", "op": "create",
		"source_ts": ts, "ingest_ts": ts, "version": int64(1), "amazon_order_id": "111-0000001-0000001",
		"marketplace_id": "ATVPDKIKX0DER", "purchase_date": ts, "last_update_date": ts, "order_status": "Shipped",
		"currency_code":          goavro.Union("string", "USD"),
		"order_total_amount":     goavro.Union("bytes.decimal", big.NewRat(1999, 100)),
		"payment_method_details": []any{"Standard"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := slowRow(codec, tbl, payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rowdecoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := rd.Decode(payload, []byte("ATVPDKIKX0DER:111-0000001-0000001"), 0, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
