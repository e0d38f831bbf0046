package stream

import (
	"fmt"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/join"
)

// benchInputs is a synthetic history: products listed on both channels
// under one GTIN, daily sales & traffic, TikTok orders, and videos with
// daily engagement snapshots and per-day shop analytics.
func benchInputs(b *testing.B, products, videos, days int) []input {
	var in []input
	d0 := time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC)
	add := func(topic, key string, v int64, ts time.Time, f map[string]any) {
		rec := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d", topic, key, v), "source": "bench", "entity": "x",
			"op": "snapshot", "source_ts": ts, "ingest_ts": ts, "version": v}
		for k, x := range f {
			rec[k] = x
		}
		in = append(in, input{topic, key, fill(b, topic, rec)})
	}
	gtinOf := func(i int) string {
		body := fmt.Sprintf("0080000%06d", i)
		sum := 0
		for k := 0; k < len(body); k++ {
			v := int(body[len(body)-1-k] - '0')
			if k%2 == 0 {
				v *= 3
			}
			sum += v
		}
		return body + fmt.Sprint((10-sum%10)%10)
	}
	for i := range products {
		asin, pid, g := fmt.Sprintf("B%09d", i), fmt.Sprintf("P%d", i), gtinOf(i)
		add("amazon.catalog", mkt+":"+asin, 1, d0, map[string]any{"marketplace_id": mkt, "asin": asin,
			"identifiers": []any{map[string]any{"identifier_type": "GTIN", "identifier": g}}})
		add("tiktok.products", shop+":"+pid, 1, d0, map[string]any{"shop_id": shop, "product_id": pid, "status": "ACTIVATE",
			"skus": []any{map[string]any{"sku_id": pid + "-1", "identifiers": []any{map[string]any{"identifier_type": "GTIN", "identifier": g}}}}})
	}
	for d := range days {
		day := d0.Add(time.Duration(d) * 24 * time.Hour)
		for i := range products {
			asin := fmt.Sprintf("B%09d", i)
			add("amazon.sales_traffic", fmt.Sprintf("%s:%d:%s", mkt, d, asin), 1, day, map[string]any{"marketplace_id": mkt,
				"date": day.Truncate(24 * time.Hour), "date_time_zone": la, "asin_granularity": "CHILD", "parent_asin": asin,
				"child_asin": some(asin), "currency_code": "USD", "ordered_product_sales": big.NewRat(int64(i%50), 1),
				"units_ordered": int64(i % 5), "sessions": int64(i % 70)})
			add("tiktok.orders", fmt.Sprintf("%s:O%d-%d", shop, d, i), 1, day, map[string]any{"shop_id": shop,
				"order_id": fmt.Sprintf("O%d-%d", d, i), "status": "COMPLETED", "create_time": day, "update_time": day,
				"line_items": []any{map[string]any{"id": "1", "product_id": fmt.Sprintf("P%d", i), "sku_id": fmt.Sprintf("P%d-1", i),
					"currency": some("USD"), "sale_price": map[string]any{"bytes.decimal": big.NewRat(10, 1)}}}})
		}
		for v := range videos {
			vid := fmt.Sprintf("V%d", v)
			add("tiktok.video_performance", fmt.Sprintf("%s:%s:%d", shop, vid, d), 1, day, map[string]any{"shop_id": shop,
				"video_id": vid, "date": day.Truncate(24 * time.Hour), "date_time_zone": la, "currency": "USD",
				"products": []any{map[string]any{"product_id": fmt.Sprintf("P%d", v%products), "gmv": map[string]any{"bytes.decimal": big.NewRat(3, 1)}}}})
			add("tiktok.video_engagement", "biz:"+vid, int64(d+1), day, map[string]any{"business_id": "biz", "item_id": vid,
				"video_views": map[string]any{"long": int64(100 * (d + 1))}, "total_time_watched": map[string]any{"double": float64(40 * (d + 1))}})
		}
	}
	return in
}

// BenchmarkProcessor measures joined input records per second on one
// goroutine (decoded records in, output records out, no Kafka) and the
// heap the state holds afterwards.
func BenchmarkProcessor(b *testing.B) {
	ins := benchInputs(b, 1000, 10000, 7)
	b.ResetTimer()
	var p *Processor
	for range b.N {
		p = NewProcessor(nil, join.Config{})
		for _, in := range ins {
			if _, err := p.Process(in.topic, in.rec); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(len(ins)*b.N)/b.Elapsed().Seconds(), "records/s")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(p)
}
