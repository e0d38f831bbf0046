package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas/schematest"
)

// TestStaleSnapshotDoesNotChangeIdentity: an older catalog snapshot that
// arrives after a newer one (here without identifiers) must not unlink a
// product, and neither may an older snapshot arriving after a delete.
func TestStaleSnapshotDoesNotChangeIdentity(t *testing.T) {
	ts := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	var ins []schematest.Input
	add := func(topic, key string, v int64, op string, fields map[string]any) {
		rec := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d/%s", topic, key, v, op), "source": "test", "entity": "x",
			"op": op, "source_ts": ts, "ingest_ts": ts, "version": v}
		for k, x := range fields {
			rec[k] = x
		}
		ins = append(ins, schematest.NewInput(t, topic, key, rec))
	}
	ids := func(typ, v string) []any { return []any{map[string]any{"identifier_type": typ, "identifier": v}} }
	linkOf := func(id string) string {
		t.Helper()
		out := driverOutputs(t, ins, 2)["xchannel.product_links"]
		for _, l := range out {
			if fmt.Sprint(l["asin"]) == fmt.Sprint(map[string]any{"string": id}) || fmt.Sprint(l["sku_id"]) == fmt.Sprint(map[string]any{"string": id}) {
				if l["op"] == "delete" {
					return ""
				}
				return l["product_key"].(string)
			}
		}
		return ""
	}

	add("amazon.catalog", mkt+":B1", 2, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B1", "identifiers": ids("EAN", gtin[1:])})
	add("tiktok.products", shop+":P1", 1, "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S1", "identifiers": ids("UPC", gtin[2:])}}})
	want := "gtin:" + gtin
	if got := linkOf("B1"); got != want {
		t.Fatalf("B1 linked to %q, want %q", got, want)
	}
	add("amazon.catalog", mkt+":B1", 1, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B1"}) // late and older
	if got, gotS1 := linkOf("B1"), linkOf("S1"); got != want || gotS1 != want {
		t.Fatalf("after a stale snapshot: B1 %q, S1 %q, want both %q", got, gotS1, want)
	}

	add("tiktok.products", shop+":P1", 3, "delete", map[string]any{"shop_id": shop, "product_id": "P1"})
	add("tiktok.products", shop+":P1", 2, "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S1", "identifiers": ids("UPC", gtin[2:])}}}) // older than the delete
	if got := linkOf("B1"); got == want {
		t.Fatalf("a snapshot older than the delete brought P1 back: B1 still linked to %q", got)
	}
}

// TestDriverHistory: the figures of the fixture history, as the topology
// emits them: the GTIN link, the unmatched second SKU, restated sales,
// the cancelled order, a video's first snapshot and its growth, its GMV,
// and the video figures credited to both keys of its product.
func TestDriverHistory(t *testing.T) {
	out := driverOutputs(t, history(t), 3)
	links, rows := out["xchannel.product_links"], out["xchannel.product_daily"]
	if b1 := links["amazon:"+mkt+":B1"]; b1["product_key"] != "gtin:"+gtin || b1["match_rule"] != "gtin" {
		t.Errorf("B1 link %v", b1)
	}
	if s2 := links["tiktok:"+shop+":S2"]; s2["unmatched"] != true {
		t.Errorf("S2 link %v", s2)
	}
	field := func(r map[string]any, name string) string {
		switch v := r[name].(type) {
		case nil:
			return "nil"
		case map[string]any:
			for _, x := range v {
				return fmt.Sprint(x)
			}
		}
		return fmt.Sprint(r[name])
	}
	r := rows["gtin:"+gtin+":2026-01-05"]
	want := map[string]string{"amazon_sessions": "30", "tiktok_orders": "1", "tiktok_views": "1000",
		"tiktok_watch_time_seconds": "500", "tiktok_video_gmv": "25/1", "amazon_best_sellers_rank_best": "500", "amazon_orders": "1"}
	for k, w := range want {
		if got := field(r, k); got != w {
			t.Errorf("2026-01-05 %s = %s, want %s", k, got, w)
		}
	}
	if r := rows["gtin:"+gtin+":2026-01-06"]; field(r, "tiktok_views") != "800" || field(r, "tiktok_watch_time_seconds") != "nil" ||
		field(r, "amazon_sessions") != "31" {
		t.Errorf("2026-01-06: %v", r)
	}
	if _, ok := rows["amazon:"+mkt+":B2:2026-01-05"]; !ok {
		t.Error("unmatched ASIN has no row")
	}
	// The second SKU of P1 gets its own key, so P1's video figures are
	// credited to both of its keys.
	if r := rows["tiktok:"+shop+":S2:2026-01-05"]; field(r, "tiktok_views") != "1000" {
		t.Errorf("S2 row %v", r)
	}
}
