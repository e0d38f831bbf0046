package tiktokshop

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// FuzzOrderRecord feeds arbitrary order JSON through decoding and mapping: it
// must never panic, and every order that maps must encode with the topic's
// schema. The seeds run as a normal test.
func FuzzOrderRecord(f *testing.F) {
	f.Add([]byte(`{"id":"576461413038785752","status":"UNPAID","create_time":1619611561,"update_time":1619621355,"paid_time":1619611563,
 "user_id":"7021436810468230477","is_on_hold_order":false,"payment":{"currency":"IDR","sub_total":"5000","shipping_fee":"5000","total_amount":"5000.555555"},
 "line_items":[{"id":"577086512123755123","product_id":"1729582718312380123","sku_id":"2729382476852921560","sale_price":"0.01",
 "item_tax":[{"tax_type":"SALES_TAX","tax_amount":"21.2","tax_rate":"0.35"}]}],"packages":[{"id":"1152321127278713123"}]}`))
	f.Add([]byte(`{"id":"1","status":"X","create_time":1,"update_time":1,"payment":{"total_amount":"1/3"}}`))
	f.Add([]byte(`{"id":"1","status":"X","create_time":-5,"update_time":2}`))
	f.Add([]byte(`{"line_items":[{}]}`))
	f.Add([]byte(`null`))
	codec, err := schemas.NewCodec(schemas.TopicTikTokOrders)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Order
		if json.Unmarshal(b, &o) != nil {
			return
		}
		rec, err := OrderRecord("shop", o)
		if err != nil {
			return
		}
		rec["event_id"], rec["version"], rec["ingest_ts"] = "e", int64(1), time.Unix(0, 0)
		if _, err := codec.Encode(rec); err != nil {
			t.Fatalf("mapped order does not encode: %v\n%s", err, b)
		}
	})
}

// FuzzVideoPerformanceRecord does the same for analytics rows.
func FuzzVideoPerformanceRecord(f *testing.F) {
	f.Add([]byte(`{"id":"7300000000000000001","title":"t","username":"u","video_post_time":"2026-01-02 03:04:05","duration":12,
 "hash_tags":["a"],"gmv":{"amount":"12.30","currency":"USD"},"gpm":{"amount":"1.2","currency":"USD"},"avg_customers":1,"sku_orders":2,
 "items_sold":3,"views":400,"click_through_rate":"12.5%","products":[{"id":"17","name":"p"}]}`), "2026-01-02")
	f.Add([]byte(`{"id":"1","video_post_time":"1767225600","click_through_rate":0.5}`), "2026-13-01")
	f.Add([]byte(`{"id":"1","gmv":{"amount":"x"}}`), "2026-01-01")
	codec, err := schemas.NewCodec(schemas.TopicTikTokVideoPerformance)
	if err != nil {
		f.Fatal(err)
	}
	zone, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, day string) {
		var v VideoPerformance
		if json.Unmarshal(b, &v) != nil {
			return
		}
		rec, err := VideoPerformanceRecord("shop", zone, "USD", day, v, time.Unix(0, 0))
		if err != nil {
			return
		}
		rec["event_id"], rec["version"], rec["ingest_ts"] = "e", int64(1), time.Unix(0, 0)
		if _, err := codec.Encode(rec); err != nil {
			t.Fatalf("mapped row does not encode: %v\n%s", err, b)
		}
	})
}
