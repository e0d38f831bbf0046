package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/native"
	"github.com/shopstream/shopstream/transform/join"
)

// writerVariants returns writer schemas of topic the transform may meet:
// the embedded one; an older version without any of the fields that have
// a default (what a version before they were added wrote); the fields in
// reverse order (decoding must follow the writer's order); and one whose
// first optional long is a string (the reads must fail alike).
func writerVariants(t testing.TB, topic string) map[string]string {
	t.Helper()
	text, err := schemas.Source(topic)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(edit func(fields []any) []any) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			t.Fatal(err)
		}
		m["fields"] = edit(m["fields"].([]any))
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	out := map[string]string{
		"current": text,
		"older": variant(func(fs []any) []any {
			return slices.DeleteFunc(fs, func(f any) bool { _, ok := f.(map[string]any)["default"]; return ok })
		}),
		"reordered": variant(func(fs []any) []any { slices.Reverse(fs); return fs }),
	}
	mismatch := variant(func(fs []any) []any {
		for _, f := range fs {
			fm := f.(map[string]any)
			if reflect.DeepEqual(fm["type"], []any{"null", "long"}) {
				fm["type"] = []any{"null", "string"}
				break
			}
		}
		return fs
	})
	if mismatch != variant(func(fs []any) []any { return fs }) {
		out["mismatch"] = mismatch
	}
	return out
}

// sampleValue returns a value of Avro type typ in goavro's native form;
// seed and the running count n vary the values and which optional
// values are null.
func sampleValue(typ any, named map[string]any, name string, seed int, n *int) any {
	*n++
	i := seed*1000 + *n
	switch typ := typ.(type) {
	case []any: // union
		b := typ[(seed+*n)%len(typ)]
		if b == "null" {
			return nil
		}
		branch := b
		if m, ok := b.(map[string]any); ok {
			branch = m["type"]
			if l, ok := m["logicalType"]; ok {
				branch = fmt.Sprintf("%s.%s", m["type"], l)
			}
			if m["type"] == "record" || m["type"] == "enum" || m["type"] == "fixed" {
				branch = m["name"]
			}
		}
		return goavro.Union(fmt.Sprint(branch), sampleValue(b, named, name, seed, n))
	case map[string]any:
		switch typ["type"] {
		case "record":
			named[typ["name"].(string)] = typ
			rec := map[string]any{}
			for _, f := range typ["fields"].([]any) {
				fm := f.(map[string]any)
				rec[fm["name"].(string)] = sampleValue(fm["type"], named, fm["name"].(string), seed, n)
			}
			return rec
		case "array":
			out := []any{}
			for range (seed + *n) % 3 {
				out = append(out, sampleValue(typ["items"], named, name, seed, n))
			}
			return out
		case "enum":
			named[typ["name"].(string)] = typ
			syms := typ["symbols"].([]any)
			return syms[i%len(syms)]
		}
		logical, _ := typ["logicalType"].(string)
		scale, _ := typ["scale"].(float64)
		if v, ok := schematest.Value(fmt.Sprint(typ["type"]), logical, int(scale), name, i); ok && logical != "" {
			return v
		}
		return sampleValue(typ["type"], named, name, seed, n)
	case string:
		switch name {
		case "op":
			return []string{"create", "update", "delete", "snapshot"}[i%4]
		case "date_time_zone":
			return []string{"UTC", "America/Los_Angeles", "Nowhere/Else"}[i%3]
		case "report_period":
			return []string{"DAY", "WEEK", "MONTH", "YEAR"}[i%4]
		}
		if v, ok := schematest.Value(typ, "", 0, name, i); ok {
			return v
		}
		if m, ok := named[typ]; ok {
			return sampleValue(m, named, name, seed, n)
		}
	}
	panic(fmt.Sprintf("sampleValue: type %v", typ))
}

// readOut is everything the route step reads of an input record.
type readOut struct {
	Meta     join.Meta
	MetaErr  string
	Fact     []byte // join.AppendFact: decimals and times by value
	FactErr  string
	Source   string
	Items    []identity.Item
	ItemsErr string
	SKURef   identity.Ref
	SKU      string
	SKUOK    bool
	Check    string
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// readAll reads r as the route step does; fresh returns r again before
// each reader (each reads a new record in the route step only when the
// earlier one succeeded, so this sees every reader's errors).
func readAll(topic string, fresh func() *native.Record) readOut {
	var o readOut
	m, err := join.ReadNativeMeta(fresh())
	o.Meta, o.MetaErr = m, errText(err)
	switch topic {
	case identity.TopicTikTokProducts:
		var err error
		o.Source, o.Items, err = identity.TikTokProductNative(fresh())
		o.ItemsErr = errText(err)
		return o
	case identity.TopicAmazonCatalog:
		var err error
		o.Source, o.Items, err = identity.AmazonCatalogNative(fresh())
		o.ItemsErr = errText(err)
	}
	f, err := join.ReadNative(topic, fresh())
	o.FactErr = errText(err)
	if err == nil {
		o.Fact = join.AppendFact(nil, f)
		o.Check = errText(join.Check(f))
	}
	o.SKURef, o.SKU, o.SKUOK = learntSKU(topic, fresh())
	return o
}

// writerSchema is a writer schema compiled both ways, and a sampler of records.
type writerSchema struct {
	codec *goavro.Codec
	plan  *native.Plan
	json  any
}

func newWriter(t testing.TB, schema string) writerSchema {
	t.Helper()
	w := writerSchema{}
	var err error
	if w.codec, err = goavro.NewCodec(schema); err != nil {
		t.Fatal(err)
	}
	if w.plan, err = native.Compile(schema); err != nil {
		t.Fatalf("the fast decoder does not compile the schema: %v", err)
	}
	if err := json.Unmarshal([]byte(schema), &w.json); err != nil {
		t.Fatal(err)
	}
	return w
}

// sample returns a record (seed varies it) and its Avro binary.
func (w writerSchema) sample(t testing.TB, seed int) (map[string]any, []byte) {
	t.Helper()
	n := 0
	rec := sampleValue(w.json, map[string]any{}, "", seed, &n).(map[string]any)
	payload, err := w.codec.BinaryFromNative(nil, rec)
	if err != nil {
		t.Fatalf("seed %d: encode: %v", seed, err)
	}
	return rec, payload
}

// TestFastDecodeEqualsGoavro holds the route step's fast decoder
// (native.Plan) to the goavro path on records of every input topic, as
// written by the current schema and by older, reordered and mismatched
// writer schemas: every read (metadata, fact, identity items, learnt SKU)
// and every error must be the same; and a truncated record fails on both
// paths as undecodable.
func TestFastDecodeEqualsGoavro(t *testing.T) {
	for _, topic := range Topics() {
		for vname, schema := range writerVariants(t, topic) {
			t.Run(topic+"/"+vname, func(t *testing.T) {
				w := newWriter(t, schema)
				codec, plan := w.codec, w.plan
				var into native.Record
				for seed := range 12 {
					_, payload := w.sample(t, seed)
					back, _, err := codec.NativeFromBinary(payload)
					if err != nil {
						t.Fatal(err)
					}
					want := readAll(topic, func() *native.Record { return native.Wrap(back.(map[string]any)) })
					got := readAll(topic, func() *native.Record {
						if err := plan.Decode(payload, &into); err != nil {
							t.Fatalf("seed %d: fast decode: %v", seed, err)
						}
						return &into
					})
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d: the fast decoder reads\n%+v\ngoavro reads\n%+v", seed, got, want)
					}
					if vname == "current" && (want.MetaErr != "" || want.FactErr != "" || want.ItemsErr != "") {
						t.Errorf("seed %d: a current record does not read: %+v", seed, want)
					}
					for cut := range len(payload) {
						_, _, gerr := codec.NativeFromBinary(payload[:cut])
						ferr := plan.Decode(payload[:cut], &into)
						if gerr == nil || !errors.Is(ferr, schemas.ErrUndecodable) {
							t.Fatalf("seed %d, %d of %d bytes: goavro: %v; fast: %v", seed, cut, len(payload), gerr, ferr)
						}
					}
					if ferr := plan.Decode(append(bytes.Clone(payload), 0), &into); !errors.Is(ferr, schemas.ErrUndecodable) {
						t.Fatalf("seed %d: a trailing byte: %v", seed, ferr)
					}
				}
			})
		}
	}
}

// TestFastDecodeCatchesDisagreement makes sure the comparison above can
// fail: a fast record that reads one field differently must differ.
func TestFastDecodeCatchesDisagreement(t *testing.T) {
	topic := join.TopicTikTokEngagement
	w := newWriter(t, writerVariants(t, topic)["current"])
	rec, payload := w.sample(t, 2)
	rec["item_id"] = rec["item_id"].(string) + "x"
	other, err := w.codec.BinaryFromNative(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	plan := w.plan
	read := func(b []byte) readOut {
		return readAll(topic, func() *native.Record {
			var r native.Record
			if err := plan.Decode(b, &r); err != nil {
				t.Fatal(err)
			}
			return &r
		})
	}
	if a, b := read(payload), read(other); reflect.DeepEqual(a, b) {
		t.Fatalf("records that differ in item_id read the same: %+v", a)
	}
}

// BenchmarkDecode compares the fast decoder with goavro's map and the
// native reads on a video engagement snapshot and a video performance
// day, the transform's most frequent inputs.
func BenchmarkDecode(b *testing.B) {
	for _, topic := range []string{join.TopicTikTokEngagement, join.TopicTikTokVideoPerf, join.TopicTikTokOrders} {
		schema, err := schemas.Source(topic)
		if err != nil {
			b.Fatal(err)
		}
		w := newWriter(b, schema)
		codec, plan := w.codec, w.plan
		_, payload := w.sample(b, 4)
		b.Run(topic+"/goavro", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, _, err := codec.NativeFromBinary(payload)
				if err != nil {
					b.Fatal(err)
				}
				r := native.Wrap(v.(map[string]any))
				if _, err := join.ReadNativeMeta(r); err != nil {
					b.Fatal(err)
				}
				_, _ = join.ReadNative(topic, r)
			}
		})
		b.Run(topic+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			var r native.Record
			for b.Loop() {
				if err := plan.Decode(payload, &r); err != nil {
					b.Fatal(err)
				}
				if _, err := join.ReadNativeMeta(&r); err != nil {
					b.Fatal(err)
				}
				_, _ = join.ReadNative(topic, &r)
			}
		})
	}
}

// codecSerde is a one-topic WireFormat over a schemas.Codec, values
// without a header: only goavro decodes them.
type codecSerde struct {
	topic string
	codec *schemas.Codec
}

func (s codecSerde) Encode(_ string, v map[string]any) ([]byte, error) { return s.codec.Encode(v) }
func (s codecSerde) Decode(_ context.Context, b []byte) (map[string]any, error) {
	return s.codec.Decode(b)
}

// namingSerde names the writer schema, so the fast decoder reads its
// values; its goavro Decode fails, so a read that falls back shows.
type namingSerde struct{ codecSerde }

func (namingSerde) Decode(context.Context, []byte) (map[string]any, error) {
	return nil, errors.New("decoded through goavro")
}

func (s namingSerde) WriterSchema(_ context.Context, b []byte) (int, string, []byte, error) {
	text, err := schemas.Source(s.topic)
	return 1, text, b, err
}

// TestLinksDecodeFastEqualsGoavro holds the links table's reads of
// product_links records through the fast decoder to the goavro path:
// both channels, a delete, optional fields absent.
func TestLinksDecodeFastEqualsGoavro(t *testing.T) {
	topic := identity.TopicProductLinks
	codec, err := schemas.NewCodec(topic)
	if err != nil {
		t.Fatal(err)
	}
	plain := codecSerde{topic: topic, codec: codec}
	fast, slow := newLinksTable(topic, namingSerde{plain}), newLinksTable(topic, plain)
	fill := schematest.NewFiller()
	for i, rec := range []map[string]any{
		{"channel": "amazon", "marketplace_id": map[string]any{"string": "ATVPDKIKX0DER"}, "asin": map[string]any{"string": "B000000001"},
			"product_key": "gtin:00800000000017", "op": "upsert"},
		{"channel": "tiktok", "shop_id": map[string]any{"string": "S1"}, "sku_id": map[string]any{"string": "K1"},
			"product_id": map[string]any{"string": "P1"}, "product_key": "sku:S1:K1", "op": "upsert"},
		{"channel": "tiktok", "shop_id": map[string]any{"string": "S1"}, "sku_id": map[string]any{"string": "K2"},
			"product_key": "sku:S1:K2", "op": "delete"},
	} {
		if err := fill.Fill(topic, rec); err != nil {
			t.Fatal(err)
		}
		v, err := plain.Encode(topic, rec)
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: topic, Partition: 2, Offset: int64(i), Value: v}
		want, wok, werr := slow.decode(context.Background(), r)
		got, gok, gerr := fast.decode(context.Background(), r)
		if werr != nil || gerr != nil || !wok || !gok {
			t.Fatalf("record %d: goavro: %v %v; fast: %v %v", i, wok, werr, gok, gerr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: the fast decoder reads\n%+v\ngoavro reads\n%+v", i, got, want)
		}
		if want.ref.ID == "" || want.entry.key == "" || want.entry.sourceTS.IsZero() {
			t.Errorf("record %d: a field did not read: %+v", i, want)
		}
	}
}
