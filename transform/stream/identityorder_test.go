package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/transform/join"
)

// TestStaleSnapshotDoesNotChangeIdentity: an older catalog snapshot that
// arrives after a newer one (here without identifiers) must not unlink a
// product, and neither may an older snapshot arriving after a delete.
func TestStaleSnapshotDoesNotChangeIdentity(t *testing.T) {
	p := NewProcessor(nil, join.Config{})
	ts := time.Date(2026, 1, 5, 18, 0, 0, 0, time.UTC)
	apply := func(topic, key string, v int64, op string, fields map[string]any) {
		t.Helper()
		rec := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d/%s", topic, key, v, op), "source": "test", "entity": "x",
			"op": op, "source_ts": ts, "ingest_ts": ts, "version": v}
		for k, x := range fields {
			rec[k] = x
		}
		if _, err := p.Process(topic, fill(t, topic, rec)); err != nil {
			t.Fatalf("%s %s v%d: %v", topic, key, v, err)
		}
	}
	ids := func(typ, v string) []any { return []any{map[string]any{"identifier_type": typ, "identifier": v}} }
	linkOf := func(id string) string {
		for _, l := range p.Links() {
			if l.Ref.ID == id {
				return l.ProductKey
			}
		}
		return ""
	}

	apply("amazon.catalog", mkt+":B1", 2, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B1", "identifiers": ids("EAN", gtin[1:])})
	apply("tiktok.products", shop+":P1", 1, "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S1", "identifiers": ids("UPC", gtin[2:])}}})
	want := "gtin:" + gtin
	if got := linkOf("B1"); got != want {
		t.Fatalf("B1 linked to %q, want %q", got, want)
	}
	apply("amazon.catalog", mkt+":B1", 1, "snapshot", map[string]any{"marketplace_id": mkt, "asin": "B1"}) // late and older
	if got, gotS1 := linkOf("B1"), linkOf("S1"); got != want || gotS1 != want {
		t.Fatalf("after a stale snapshot: B1 %q, S1 %q, want both %q", got, gotS1, want)
	}

	apply("tiktok.products", shop+":P1", 3, "delete", map[string]any{"shop_id": shop, "product_id": "P1"})
	apply("tiktok.products", shop+":P1", 2, "snapshot", map[string]any{"shop_id": shop, "product_id": "P1", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S1", "identifiers": ids("UPC", gtin[2:])}}}) // older than the delete
	if got := linkOf("B1"); got == want {
		t.Fatalf("a snapshot older than the delete brought P1 back: B1 still linked to %q", got)
	}
}
