package stream

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas/schematest"
)

const (
	mkt  = "ATVPDKIKX0DER"
	shop = "7495001"
	la   = "America/Los_Angeles"
	gtin = "00887276302195"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func some(s string) map[string]any { return map[string]any{"string": s} }

// history returns a small two-channel history in arrival order: one
// product listed on both channels under one GTIN, one unmatched ASIN,
// restated sales, duplicates, an out-of-order version, a cancelled order,
// engagement snapshots with a vanished field, and a late catalog change
// that links a second TikTok SKU.
func history(t testing.TB) []schematest.Input {
	var in []schematest.Input
	n := 0
	add := func(topic, key string, v int64, ts time.Time, op string, fields map[string]any) {
		n++
		rec := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d", topic, key, v), "source": "test", "entity": "x",
			"op": op, "source_ts": ts, "ingest_ts": ts, "version": v}
		for k, x := range fields {
			rec[k] = x
		}
		in = append(in, schematest.NewInput(t, topic, key, rec))
	}
	d0 := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	ids := func(typ, v string) []any {
		return []any{map[string]any{"identifier_type": typ, "identifier": v}}
	}
	add("amazon.catalog", mkt+":B1", 1, d0, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B1",
		"identifiers":         ids("EAN", gtin[1:]),
		"display_group_ranks": []any{map[string]any{"website_display_group": "g", "title": "G", "rank": int64(500)}}})
	add("amazon.catalog", mkt+":B2", 1, d0, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B2"})
	add("tiktok.products", shop+":P1", 1, d0, "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S1", "seller_sku": some("TT-1"), "identifiers": ids("UPC", gtin[2:])}}})
	for i, dd := range []string{"2026-01-05", "2026-01-06"} {
		st := func(v int64, sessions int64) map[string]any {
			return map[string]any{"marketplace_id": mkt, "date": date(dd), "date_time_zone": la, "asin_granularity": "CHILD",
				"parent_asin": "BP", "child_asin": some("B1"), "currency_code": "USD",
				"ordered_product_sales": big.NewRat(int64(1999*(i+1)), 100), "units_ordered": int64(i + 1),
				"sessions": sessions, "page_views": 2 * sessions}
		}
		key := mkt + ":" + dd + ":BP:B1:"
		add("amazon.sales_traffic", key, 1, d0, "snapshot", st(1, 0))
		add("amazon.sales_traffic", key, 2, d0.Add(48*time.Hour), "snapshot", st(2, int64(30+i))) // restated
		add("amazon.sales_traffic", key, 1, d0, "snapshot", st(1, 0))                             // duplicate, stale
	}
	add("amazon.sales_traffic", mkt+":2026-01-05:B2::", 1, d0, "snapshot", map[string]any{"marketplace_id": mkt,
		"date": date("2026-01-05"), "date_time_zone": la, "asin_granularity": "PARENT", "parent_asin": "B2",
		"currency_code": "USD", "ordered_product_sales": big.NewRat(5, 1), "units_ordered": int64(1), "sessions": int64(3)})
	order := func(id, status string, v int64, created time.Time) {
		add("tiktok.orders", shop+":"+id, v, created, "update", map[string]any{"shop_id": shop, "order_id": id,
			"status": status, "create_time": created, "update_time": created, "payment_currency": some("USD"),
			"line_items": []any{map[string]any{"id": id + "-1", "product_id": "P1", "sku_id": "S1",
				"sale_price": map[string]any{"bytes.decimal": big.NewRat(1250, 100)}}}})
	}
	order("O1", "AWAITING_SHIPMENT", 1, d0.Add(time.Hour))
	order("O2", "AWAITING_SHIPMENT", 1, d0.Add(2*time.Hour))
	order("O2", "CANCELLED", 2, d0.Add(2*time.Hour))
	add("tiktok.video_performance", shop+":V1:2026-01-05", 1, d0, "snapshot", map[string]any{"shop_id": shop,
		"video_id": "V1", "date": date("2026-01-05"), "date_time_zone": la, "currency": "USD",
		"products": []any{map[string]any{"product_id": "P1", "gmv": map[string]any{"bytes.decimal": big.NewRat(25, 1)}}}})
	eng := func(v int64, ts time.Time, views int64, watch any) {
		add("tiktok.video_engagement", "biz:V1", v, ts, "snapshot", map[string]any{"business_id": "biz", "item_id": "V1",
			"video_views": map[string]any{"long": views}, "favorites": map[string]any{"long": views / 100}, "total_time_watched": watch})
	}
	eng(1, d0, 1000, map[string]any{"double": 500.0})
	eng(2, d0.Add(24*time.Hour), 1800, nil) // watch time vanished
	eng(3, d0.Add(48*time.Hour), 2000, map[string]any{"double": 900.0})
	// Late: a second SKU of P1 with the same GTIN is a conflict in the shop.
	add("tiktok.products", shop+":P1", 2, d0.Add(72*time.Hour), "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{
			map[string]any{"sku_id": "S1", "seller_sku": some("TT-1"), "identifiers": ids("UPC", gtin[2:])},
			map[string]any{"sku_id": "S2", "seller_sku": some("TT-2"), "identifiers": []any{}},
		}})
	add("amazon.order_items", mkt+":A1:1", 1, d0, "create", map[string]any{"marketplace_id": mkt, "amazon_order_id": "A1",
		"order_item_id": "1", "asin": "B1", "seller_sku": some("AMZ-1"), "quantity_ordered": int64(1),
		"purchase_date": map[string]any{"long.timestamp-millis": d0}, "order_status": some("Unshipped")})
	return in
}
