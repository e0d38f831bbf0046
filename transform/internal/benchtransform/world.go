package main

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"time"

	"github.com/shopstream/shopstream/internal/gs1"
)

const (
	mkt      = "ATVPDKIKX0DER"
	shop     = "7495001"
	business = "biz-1"
	srcZone  = "America/Los_Angeles" // marketplace and shop zone
)

// world generates the synthetic history. Identity mix of the catalog
// (product i of n):
//   - i%20 != 0: the ASIN and the TikTok SKU share a GTIN (UPC on TikTok);
//   - i%20 == 0: no GTIN; the TikTok SKU's seller SKU is the one Amazon's
//     sales & traffic report for the ASIN, so the seller-SKU rule links them;
//   - i%200 == 1: the ASIN carries product i-1's GTIN too, two ASINs in one
//     marketplace with one GTIN: a conflict, both fall through;
//   - i%25 == 0: on Amazon only (unmatched);
//   - i%4 == 0: a second TikTok SKU without identifiers;
//   - n/25 extra TikTok-only products.
//
// Activity per day: a snapshot of about 55% of the videos (lifetime
// totals, one metric sometimes missing, 1% delivered twice); shop
// analytics of yesterday for 20% of the videos (each shows one product,
// a third two), restating the day before for some; sales & traffic of
// yesterday for every ASIN and a restatement of three days ago for 10%; a
// catalog rank snapshot per ASIN; 1.5 TikTok orders per product and 10%
// of yesterday's updated; 2 Amazon orders per product (header and items,
// 20% of the items without a purchase date, arriving before the header);
// and on the second day of each week the previous week's search query
// performance (3 queries per ASIN) and search terms (one per product,
// three clicked ASINs, one a competitor's).
//
// With relinkDay set, the catalog changes late: from that day of the
// history on, one ASIN in ten (i%10 == 3) carries a GTIN of its own, so
// its link to its TikTok SKU breaks and every entity of either (their
// orders, sales & traffic and search rows, the videos of the product)
// is relinked, long after the store has filled.
type world struct {
	products, videos int
	posted           int // videos are posted up to this many days before d0 (0: no create_time)
	relinkDay        int // 0: the catalog's identifiers never change
	b                sink
	rnd              *rand.Rand
	d0               time.Time
}

// sink takes the world's records: the in-process topology (bench) or the
// broker (the restart benchmark).
type sink interface {
	// add takes one record of a topic, in goavro's native form.
	add(topic string, rec map[string]any) error
	// day is called after each day of the history.
	day(d int)
}

func newWorld(products, videos, posted, relinkDay int, b sink) *world {
	return &world{products: products, videos: videos, posted: posted, relinkDay: relinkDay, b: b, rnd: rand.New(rand.NewPCG(1, 2)),
		d0: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)} // a Monday
}

func asin(i int) string { return fmt.Sprintf("B%09d", i) }
func pid(i int) string  { return fmt.Sprintf("P%d", i) }

// gtin returns a valid GTIN-13 for i.
func gtin(i int) string {
	body := fmt.Sprintf("0080000%05d", i)
	return body + fmt.Sprint(gs1.CheckDigit(body))
}

func some(v any) any {
	switch x := v.(type) {
	case string:
		return map[string]any{"string": x}
	case int64:
		return map[string]any{"long": x}
	case float64:
		return map[string]any{"double": x}
	case *big.Rat:
		return map[string]any{"bytes.decimal": x}
	case time.Time:
		return map[string]any{"long.timestamp-millis": x}
	}
	panic(fmt.Sprintf("some(%T)", v))
}

func dec(cents int64) *big.Rat { return big.NewRat(cents, 100) }

func date(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// rec returns a record with its change metadata.
func rec(topic, key string, version int64, ts time.Time, op string, fields map[string]any) map[string]any {
	r := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d", topic, key, version), "source": "bench", "entity": topic,
		"op": op, "source_ts": ts, "ingest_ts": ts.Add(time.Minute), "version": version}
	for k, v := range fields {
		r[k] = v
	}
	return r
}

func (w *world) generate(days int) error {
	if err := w.catalog(); err != nil {
		return err
	}
	for d := range days {
		for h := range 24 {
			if err := w.hour(d, h); err != nil {
				return err
			}
		}
		w.b.day(d + 1)
	}
	return nil
}

func (w *world) catalogRecord(i int, version int64, ts time.Time) map[string]any {
	var ids []any
	switch {
	case w.relinkDay > 0 && i%10 == 3 && !ts.Before(w.d0.Add(time.Duration(w.relinkDay)*24*time.Hour)):
		// A GTIN no other product has (below TikTok-only products'
		// 50000+ while products stay under 20,000).
		ids = append(ids, map[string]any{"identifier_type": "EAN", "identifier": gtin(80000 + i%20000)})
	case i%20 != 0:
		ids = append(ids, map[string]any{"identifier_type": "EAN", "identifier": gtin(i)})
	}
	if i%200 == 1 {
		ids = append(ids, map[string]any{"identifier_type": "EAN", "identifier": gtin(i - 1)})
	}
	return rec("amazon.catalog", mkt+":"+asin(i), version, ts, "snapshot", map[string]any{
		"marketplace_id": mkt, "asin": asin(i), "identifiers": ids,
		"item_name": some(fmt.Sprintf("Product %d, 12 oz, pack of 2", i)), "brand": some("Shopstream Labs"),
		"display_group_ranks": []any{map[string]any{"website_display_group": "home_display_on_website", "title": "Home & Kitchen",
			"rank": int64(1000 + (i*37+int(ts.Unix()/3600))%50000)}},
		"classification_ranks": []any{map[string]any{"classification_id": "1055398", "title": "Kitchen", "rank": int64(10 + i%900)}},
	})
}

func (w *world) catalog() error {
	t := w.d0.Add(-24 * time.Hour)
	for i := range w.products {
		if err := w.b.add("amazon.catalog", w.catalogRecord(i, 1, t)); err != nil {
			return err
		}
	}
	for i := range w.products + w.products/25 {
		if i < w.products && i%25 == 0 {
			continue
		}
		sku := map[string]any{"sku_id": pid(i) + "-1", "seller_sku": some(fmt.Sprintf("SKU-%d", i)),
			"currency": some("USD"), "sale_price": some(dec(1999))}
		switch {
		case i >= w.products:
			sku["identifiers"] = []any{map[string]any{"identifier_type": "UPC", "identifier": gtin(50000 + i)[1:]}}
		case i%20 != 0:
			sku["identifiers"] = []any{map[string]any{"identifier_type": "UPC", "identifier": gtin(i)[1:]}}
		}
		skus := []any{sku}
		if i%4 == 0 {
			skus = append(skus, map[string]any{"sku_id": pid(i) + "-2", "seller_sku": some(fmt.Sprintf("SKU-%d-B", i))})
		}
		r := rec("tiktok.products", shop+":"+pid(i), 1, t, "snapshot", map[string]any{"shop_id": shop, "product_id": pid(i),
			"status": "ACTIVATE", "title": some(fmt.Sprintf("Product %d", i)), "skus": skus})
		if err := w.b.add("tiktok.products", r); err != nil {
			return err
		}
	}
	return nil
}

// videoProducts returns the products video v shows.
func (w *world) videoProducts(v int) []int {
	ps := []int{v % w.products}
	if v%3 == 0 {
		ps = append(ps, (v*7919+13)%w.products)
	}
	return ps
}

func (w *world) hour(d, h int) error {
	day := w.d0.Add(time.Duration(d) * 24 * time.Hour)
	at := day.Add(time.Duration(h) * time.Hour)
	add := w.b.add

	// TikTok Business video snapshots: lifetime totals.
	for v := h; v < w.videos; v += 24 {
		if v%2 != d%2 && v%10 != 0 {
			continue
		}
		n := int64(d + 1)
		base := int64(v%997 + 10)
		fields := map[string]any{"business_id": business, "item_id": fmt.Sprintf("V%d", v),
			"caption":     some("New drop #tiktokmademebuyit"),
			"video_views": some(base * 50 * n * (n + 1) / 2), "likes": some(base * 3 * n), "comments": some(base / 3 * n),
			"shares": some(base / 5 * n), "favorites": some(base / 2 * n), "reach": some(base * 40 * n)}
		if w.posted > 0 {
			// The post time: the first snapshot is spread from there.
			fields["create_time"] = map[string]any{"long.timestamp-millis": w.d0.Add(-time.Duration(v%(24*w.posted)+1) * time.Hour)}
		}
		if (v+d)%13 != 0 { // sometimes missing: keeps its last value
			fields["total_time_watched"] = some(float64(base*n) * 7.5)
		}
		r := rec("tiktok.video_engagement", business+":"+fmt.Sprintf("V%d", v), n, at.Add(time.Duration(v%60)*time.Minute), "snapshot", fields)
		if err := add("tiktok.video_engagement", r); err != nil {
			return err
		}
		if v%100 == h { // redelivered
			if err := add("tiktok.video_engagement", r); err != nil {
				return err
			}
		}
	}

	// TikTok Shop video analytics of yesterday, and a restated day before.
	vperf := func(v int, dd time.Time, version int64) error {
		var ps []any
		for _, p := range w.videoProducts(v) {
			ps = append(ps, map[string]any{"product_id": pid(p), "product_name": some(fmt.Sprintf("Product %d", p)),
				"gmv": some(dec(int64(v%40)*1999 + version)), "units_sold": some(int64(v % 40))})
		}
		vid := fmt.Sprintf("V%d", v)
		return add("tiktok.video_performance", rec("tiktok.video_performance", shop+":"+vid+":"+dd.Format(time.DateOnly), version, at, "snapshot",
			map[string]any{"shop_id": shop, "video_id": vid, "date": date(dd), "date_time_zone": srcZone, "currency": "USD",
				"views": some(int64(v%997) * 50), "gmv": some(dec(int64(v%40) * 1999)), "products": ps}))
	}
	for v := h; v < w.videos; v += 24 {
		if (v+d)%5 == 0 {
			if err := vperf(v, day.Add(-24*time.Hour), 1); err != nil {
				return err
			}
		}
		if d >= 1 && (v+d-1)%5 == 0 && v%50 == 0 {
			if err := vperf(v, day.Add(-48*time.Hour), 2); err != nil {
				return err
			}
		}
	}

	// Amazon: sales & traffic (with restatements) and catalog rank snapshots.
	st := func(i int, dd time.Time, version int64) error {
		fields := map[string]any{"marketplace_id": mkt, "date": date(dd), "date_time_zone": srcZone, "asin_granularity": "CHILD",
			"parent_asin": asin(i), "child_asin": some(asin(i)), "currency_code": "USD",
			"ordered_product_sales": dec(int64(i%50)*1999 + version), "units_ordered": int64(i % 5), "total_order_items": int64(i % 5),
			"sessions": int64(i%70 + 1), "page_views": int64(i%70*2 + 1), "browser_sessions": int64(i % 30), "mobile_app_sessions": int64(i % 40)}
		key := mkt + ":" + dd.Format(time.DateOnly) + ":" + asin(i) + ":" + asin(i) + ":"
		if i%20 == 0 {
			fields["sku"] = some(fmt.Sprintf("SKU-%d", i))
			key += fmt.Sprintf("SKU-%d", i)
		}
		return add("amazon.sales_traffic", rec("amazon.sales_traffic", key, version, at, "snapshot", fields))
	}
	for i := h; i < w.products; i += 24 {
		if err := st(i, day.Add(-24*time.Hour), 1); err != nil {
			return err
		}
		if i%10 == 0 {
			if err := st(i, day.Add(-72*time.Hour), 2); err != nil {
				return err
			}
		}
		if err := add("amazon.catalog", w.catalogRecord(i, int64(d+2), at)); err != nil {
			return err
		}
	}

	// TikTok orders, skewed towards popular products; 10% of yesterday's
	// orders change status.
	perHour := w.products * 3 / 2 / 24
	for k := range perHour {
		o := (d*24+h)*perHour + k
		id := fmt.Sprintf("T%d", o)
		created := at.Add(time.Duration(k%60) * time.Minute)
		lines := []any{}
		for l := range 1 + o%3 {
			p := w.rnd.IntN(w.rnd.IntN(w.products) + 1)
			sku := pid(p) + "-1"
			if p%25 == 0 {
				p = w.products + p%(w.products/25)
				sku = pid(p) + "-1"
			}
			lines = append(lines, map[string]any{"id": fmt.Sprintf("%s-%d", id, l), "product_id": pid(p), "sku_id": sku,
				"currency": some("USD"), "sale_price": some(dec(1999)), "original_price": some(dec(2499))})
		}
		status := "AWAITING_SHIPMENT"
		if o%33 == 0 {
			status = "CANCELLED"
		}
		fields := map[string]any{"shop_id": shop, "order_id": id, "status": status, "create_time": created, "update_time": created,
			"payment_currency": some("USD"), "payment_total_amount": some(dec(1999 * int64(len(lines)))), "line_items": lines}
		if err := add("tiktok.orders", rec("tiktok.orders", shop+":"+id, 1, created, "create", fields)); err != nil {
			return err
		}
		if d > 0 && o%10 == 0 {
			old := o - 24*perHour
			oid := fmt.Sprintf("T%d", old)
			upd := map[string]any{}
			for k, v := range fields {
				upd[k] = v
			}
			upd["order_id"], upd["status"], upd["update_time"] = oid, "DELIVERED", at
			upd["create_time"] = created.Add(-24 * time.Hour)
			if err := add("tiktok.orders", rec("tiktok.orders", shop+":"+oid, 2, at, "update", upd)); err != nil {
				return err
			}
		}
	}

	// Amazon orders: items (from the order report) and headers.
	perHour = w.products * 2 / 24
	for k := range perHour {
		o := (d*24+h)*perHour + k
		id := fmt.Sprintf("%03d-%07d-%07d", o%1000, o, o*7%10000000)
		purchased := at.Add(time.Duration(k%60) * time.Minute)
		status := "Shipped"
		if o%50 == 0 {
			status = "Canceled"
		}
		for it := range 1 + o%5/4 {
			p := w.rnd.IntN(w.rnd.IntN(w.products) + 1)
			fields := map[string]any{"marketplace_id": mkt, "amazon_order_id": id, "order_item_id": itemID(it), "asin": asin(p),
				"quantity_ordered": int64(1), "order_status": some(status), "currency_code": some("USD"), "item_price": some(dec(2999))}
			if p%20 == 0 {
				fields["seller_sku"] = some(fmt.Sprintf("SKU-%d", p))
			}
			if o%5 != 0 {
				fields["purchase_date"] = some(purchased)
			}
			if err := add("amazon.order_items", rec("amazon.order_items", mkt+":"+id+":"+itemID(it), 1, purchased, "create", fields)); err != nil {
				return err
			}
		}
		if err := add("amazon.orders", rec("amazon.orders", mkt+":"+id, 1, purchased, "create", map[string]any{
			"marketplace_id": mkt, "amazon_order_id": id, "purchase_date": purchased, "last_update_date": purchased,
			"order_status": status, "currency_code": some("USD"), "order_total_amount": some(dec(2999))})); err != nil {
			return err
		}
	}

	// Brand Analytics: last week's reports, on the second day of a week.
	if d%7 == 1 {
		start := day.Add(-8 * 24 * time.Hour) // the Sunday before last
		end := start.Add(6 * 24 * time.Hour)
		period := map[string]any{"marketplace_id": mkt, "report_period": "WEEK", "start_date": start, "end_date": end,
			"date_time_zone": srcZone}
		for i := h; i < w.products; i += 24 {
			for q := range 3 {
				query := fmt.Sprintf("query %d", (i+q*101)%(w.products/2+1))
				fields := map[string]any{"asin": asin(i), "search_query": query, "search_query_volume": int64(1000 + i%500),
					"asin_impression_count": int64(i%300 + q), "asin_click_count": int64(i%30 + q), "asin_purchase_count": int64(i % 4)}
				for k, v := range period {
					fields[k] = v
				}
				key := mkt + ":WEEK:" + start.Format(time.DateOnly) + ":" + asin(i) + ":" + query
				if err := add("amazon.search_query_performance", rec("amazon.search_query_performance", key, 1, at, "snapshot", fields)); err != nil {
					return err
				}
			}
			term := fmt.Sprintf("term %d", i)
			clicked := []any{
				map[string]any{"clicked_asin": asin(i), "click_share_rank": int64(1), "click_share": 0.31, "conversion_share": 0.28},
				map[string]any{"clicked_asin": fmt.Sprintf("C%09d", i), "click_share_rank": int64(2), "click_share": 0.2, "conversion_share": 0.1},
				map[string]any{"clicked_asin": asin((i + 1) % w.products), "click_share_rank": int64(3), "click_share": 0.1, "conversion_share": 0.05},
			}
			fields := map[string]any{"department_name": "Amazon.com", "search_term": term, "search_frequency_rank": int64(i + 1), "clicked_asins": clicked}
			for k, v := range period {
				fields[k] = v
			}
			key := mkt + ":WEEK:" + start.Format(time.DateOnly) + ":Amazon.com:" + term
			if err := add("amazon.search_terms", rec("amazon.search_terms", key, 1, at, "snapshot", fields)); err != nil {
				return err
			}
		}
	}
	return nil
}

func itemID(i int) string { return fmt.Sprint(i + 1) }
