package schemas_test

import (
	"encoding/binary"
	"errors"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// designTopics are the topics that DESIGN.md's Contracts section lists.
var designTopics = []string{
	"amazon.catalog",
	"amazon.order_items",
	"amazon.orders",
	"amazon.sales_traffic",
	"amazon.search_query_performance",
	"amazon.search_terms",
	"shopstream.cursors",
	"tiktok.orders",
	"tiktok.products",
	"tiktok.video_engagement",
	"tiktok.video_performance",
	"tiktok.webhook_events",
	"xchannel.product_daily",
	"xchannel.product_links",
}

func TestTopics(t *testing.T) {
	got := schemas.Topics()
	if !slices.Equal(got, designTopics) {
		t.Fatalf("Topics() = %q, want %q", got, designTopics)
	}
	got[0] = "mutated"
	if schemas.Topics()[0] != designTopics[0] {
		t.Fatal("Topics returned its internal slice")
	}
}

func TestSourceAndSubject(t *testing.T) {
	text, err := schemas.Source("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `"name": "Order"`) {
		t.Errorf("Source(amazon.orders) does not look like the orders schema:\n%.200s", text)
	}
	if _, err := schemas.Source("amazon.nope"); !errors.Is(err, schemas.ErrUnknownTopic) {
		t.Errorf("Source(unknown) error = %v, want ErrUnknownTopic", err)
	}
	if _, err := schemas.NewCodec("amazon.nope"); !errors.Is(err, schemas.ErrUnknownTopic) {
		t.Errorf("NewCodec(unknown) error = %v, want ErrUnknownTopic", err)
	}
	if got := schemas.Subject("amazon.orders"); got != "amazon.orders-value" {
		t.Errorf("Subject = %q, want amazon.orders-value", got)
	}
}

var (
	ts   = &node{kind: "long", logical: "timestamp-millis"}
	long = &node{kind: "long"}
	str  = &node{kind: "string"}
)

// metadata are the change-metadata fields every record starts with.
var metadata = []struct {
	name string
	typ  *node
}{
	{"event_id", str},
	{"source", str},
	{"entity", str},
	{"op", str},
	{"source_ts", ts},
	{"ingest_ts", ts},
	{"version", long},
}

var (
	// moneyish: names that suggest money must never be floating point.
	moneyish = regexp.MustCompile(`amount|price|sales|gmv|gpm|fee|discount|tax`)
	// money: names that are money must be decimals.
	money = regexp.MustCompile(`(^|_)(amount|price|sales|gmv|gpm|fee|discount|tax)$`)
	// timeish: names of instants and days.
	timeish = regexp.MustCompile(`(^|_)(time|ts|date|timestamp|start|end)$`)
)

// zonelessDates are date fields that are calendar dates, not days cut in a
// time zone.
var zonelessDates = map[string]bool{"amazon.catalog.release_date": true}

func TestSchemaConventions(t *testing.T) {
	for _, topic := range schemas.Topics() {
		t.Run(topic, func(t *testing.T) {
			if _, err := schemas.NewCodec(topic); err != nil {
				t.Fatalf("goavro rejects the schema: %v", err)
			}
			root := mustParse(t, topic)
			if root.kind != "record" {
				t.Fatalf("top-level type is %s, want record", root)
			}
			prefix, _, _ := strings.Cut(topic, ".")
			if want := "com.shopstream." + prefix; root.namespace != want {
				t.Errorf("namespace = %q, want %q", root.namespace, want)
			}
			if !strings.Contains(root.doc, "Key: ") {
				t.Errorf("record doc does not name the Kafka key (\"Key: ...\"): %q", root.doc)
			}
			if len(root.fields) < len(metadata) {
				t.Fatalf("only %d fields", len(root.fields))
			}
			for i, m := range metadata {
				f := root.fields[i]
				if f.name != m.name || f.typ.String() != m.typ.String() {
					t.Errorf("field %d = %s %s, want %s %s", i, f.name, f.typ, m.name, m.typ)
				}
			}
			checkFields(t, topic, root, root, false)
		})
	}
}

// checkFields applies the field conventions to rec and the records nested in
// it. hasCurrency tells whether an enclosing record has a currency field.
func checkFields(t *testing.T, topic string, root, rec *node, hasCurrency bool) {
	t.Helper()
	for _, f := range rec.fields {
		if strings.Contains(f.name, "currency") {
			hasCurrency = true
		}
	}
	for _, f := range rec.fields {
		where := topic + "." + f.name
		if rec != root {
			where = topic + "." + rec.name + "." + f.name
		}
		if f.doc == "" {
			t.Errorf("%s: no doc", where)
		}
		typ := f.typ
		if inner := typ.optional(); inner != nil {
			typ = inner
			if !f.hasDefault || f.def != nil {
				t.Errorf("%s: optional field needs \"default\": null", where)
			}
		} else if typ.kind == "union" {
			t.Errorf("%s: union %s is not [\"null\", T]", where, typ)
		}
		if typ.kind == "enum" {
			t.Errorf("%s: Avro enum; use a string so that new values stay compatible", where)
		}
		if typ.kind == "array" {
			if !f.hasDefault || !isEmptyList(f.def) {
				t.Errorf("%s: array needs \"default\": []", where)
			}
			if typ.items.kind == "record" {
				checkFields(t, topic, root, typ.items, hasCurrency)
			}
		}
		if typ.kind == "record" {
			checkFields(t, topic, root, typ, hasCurrency)
		}

		name := strings.TrimSuffix(f.name, "_b2b")
		if moneyish.MatchString(name) && (typ.kind == "float" || typ.kind == "double") {
			t.Errorf("%s: money-like field is %s; money is a decimal", where, typ)
		}
		if typ.logical == "decimal" || (money.MatchString(name) && typ.kind != "array") {
			if typ.kind != "bytes" || typ.logical != "decimal" || typ.precision != 18 || typ.scale < 4 {
				t.Errorf("%s: %s, want bytes decimal with precision 18 and scale >= 4", where, typ)
			}
			if !strings.HasSuffix(f.name, "_rate") && !hasCurrency {
				t.Errorf("%s: money without a currency field in its record", where)
			}
		}
		if typ.kind == "long" && typ.logical != "" && typ.logical != "timestamp-millis" {
			t.Errorf("%s: %s; instants are timestamp-millis", where, typ)
		}
		if timeish.MatchString(f.name) && typ.logical != "timestamp-millis" && typ.logical != "date" {
			t.Errorf("%s: %s; an instant is timestamp-millis and a day is date", where, typ)
		}
		if typ.logical == "date" && !zonelessDates[where] {
			if z := root.field("date_time_zone"); z == nil || z.typ.kind != "string" {
				t.Errorf("%s: a date needs a date_time_zone string field in the record", where)
			}
		}
	}
}

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}

func TestCodecRoundTrip(t *testing.T) {
	for _, topic := range schemas.Topics() {
		t.Run(topic, func(t *testing.T) {
			c, err := schemas.NewCodec(topic)
			if err != nil {
				t.Fatal(err)
			}
			if c.Topic() != topic {
				t.Errorf("Topic() = %q", c.Topic())
			}
			want := sample(t, topic, 1)
			b, got := schematest.RoundTrip(t, c, want)
			requireSameRecord(t, want, got)

			if _, err := c.Decode(append(b, 0)); err == nil {
				t.Error("Decode accepted a trailing byte")
			}
			if _, err := c.Decode(b[:len(b)-1]); err == nil {
				t.Error("Decode accepted a truncated record")
			}
		})
	}
}

// TestCodecOrderExample encodes the getOrders example of the Orders API model
// and checks the values that matter downstream survive exactly.
func TestCodecOrderExample(t *testing.T) {
	c, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	purchase := time.Date(2017, 1, 20, 19, 49, 35, 0, time.UTC)
	total, _ := new(big.Rat).SetString("238.44")
	rec := map[string]any{
		"event_id":                "amazon.orders:ATVPDKIKX0DER:902-3159896-1390916:1484941775000",
		"source":                  "amazon",
		"entity":                  "order",
		"op":                      "create",
		"source_ts":               purchase,
		"ingest_ts":               purchase.Add(3 * time.Minute),
		"version":                 int64(1484941775000),
		"amazon_order_id":         "902-3159896-1390916",
		"marketplace_id":          "ATVPDKIKX0DER",
		"purchase_date":           purchase,
		"last_update_date":        purchase,
		"order_status":            "Pending",
		"fulfillment_channel":     goavro.Union("string", "MFN"),
		"currency_code":           goavro.Union("string", "USD"),
		"order_total_amount":      goavro.Union("bytes.decimal", total),
		"number_of_items_shipped": goavro.Union("long", int64(0)),
		"is_prime":                goavro.Union("boolean", false),
	}
	_, got := schematest.RoundTrip(t, c, rec)
	amount := got["order_total_amount"].(map[string]any)["bytes.decimal"].(*big.Rat)
	if amount.FloatString(4) != "238.4400" {
		t.Errorf("order_total_amount = %s, want 238.4400", amount.FloatString(4))
	}
	if d := got["purchase_date"].(time.Time); !d.Equal(purchase) || d.Location() != time.UTC {
		t.Errorf("purchase_date = %v, want %v in UTC", d, purchase)
	}
	if got["seller_order_id"] != nil {
		t.Errorf("absent optional field decoded as %v, want nil", got["seller_order_id"])
	}
	if l := got["payment_method_details"].([]any); len(l) != 0 {
		t.Errorf("absent list decoded as %v, want empty", l)
	}
}

// TestDecimalWireEncoding pins the Avro spec encoding of decimals (two's
// complement, big-endian unscaled value, as bytes) that ClickHouse and Java
// readers expect.
func TestDecimalWireEncoding(t *testing.T) {
	c, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	base := sample(t, "amazon.orders", 2)
	for _, tc := range []struct {
		amount string
		want   []byte // union branch 1, bytes length, unscaled value at scale 4
	}{
		{"-1", []byte{0x02, 0x04, 0xd8, 0xf0}}, // -10000
		{"0.0001", []byte{0x02, 0x02, 0x01}},   // 1
		{"12.8", []byte{0x02, 0x06, 0x01, 0xf4, 0x00}},
	} {
		amount, _ := new(big.Rat).SetString(tc.amount)
		base["order_total_amount"] = goavro.Union("bytes.decimal", amount)
		withAmount, err := c.Encode(base)
		if err != nil {
			t.Fatal(err)
		}
		base["order_total_amount"] = nil
		without, err := c.Encode(base)
		if err != nil {
			t.Fatal(err)
		}
		// The field is the only difference, so the encodings differ exactly
		// where it is written: a null branch (0x00) versus tc.want.
		i := commonPrefix(withAmount, without)
		got := withAmount[i : i+len(tc.want)]
		if string(got) != string(tc.want) || without[i] != 0x00 {
			t.Errorf("%s encodes as % x, want % x", tc.amount, got, tc.want)
		}
	}
}

func commonPrefix(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// TestCorruptBlockCount feeds a record whose array claims 2^31-1 entries. goavro
// would allocate them all before noticing the value is five bytes short, which
// kills the process with a fatal out-of-memory error; the package's limit must
// turn it into an ordinary decode error.
func TestCorruptBlockCount(t *testing.T) {
	if goavro.MaxBlockCount > 1<<20 {
		t.Fatalf("goavro.MaxBlockCount = %d; the package must lower it", goavro.MaxBlockCount)
	}
	c, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	rec := sample(t, "amazon.orders", 6)
	rec["payment_method_details"] = []any{}
	empty, err := c.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	rec["payment_method_details"] = []any{"x"}
	one, err := c.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	// The encodings differ first at the array's block count.
	i := commonPrefix(empty, one)
	corrupt := binary.AppendVarint(slices.Clone(empty[:i]), 1<<31-1)
	corrupt = append(corrupt, empty[i+1:]...)
	if _, err := c.Decode(corrupt); err == nil {
		t.Fatal("a corrupt block count decoded")
	}
}

// TestDecimalExtraDigits documents goavro's behaviour that the package doc
// warns about: digits beyond the scale are not rejected but rounded toward
// negative infinity.
func TestDecimalExtraDigits(t *testing.T) {
	c, err := schemas.NewCodec("amazon.orders")
	if err != nil {
		t.Fatal(err)
	}
	rec := sample(t, "amazon.orders", 5)
	for in, want := range map[string]string{"12.34567": "12.3456", "-12.34567": "-12.3457"} {
		amount, _ := new(big.Rat).SetString(in)
		rec["order_total_amount"] = goavro.Union("bytes.decimal", amount)
		_, got := schematest.RoundTrip(t, c, rec)
		if amt := got["order_total_amount"].(map[string]any)["bytes.decimal"].(*big.Rat); amt.FloatString(4) != want {
			t.Errorf("%s at scale 4 decoded as %s, want %s; if goavro changed, update the package doc", in, amt.FloatString(4), want)
		}
	}
}
