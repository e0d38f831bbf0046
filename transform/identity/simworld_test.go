package identity_test

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
)

const simShop = "7494000000000000001"

// catalogRecords returns the world's Amazon catalog and TikTok products as
// the amazon.catalog and tiktok.products records ingest writes, so the test
// also exercises the record readers.
func catalogRecords(t *testing.T, w *simworld.World) (amazon, tiktok []map[string]any) {
	t.Helper()
	ts := w.Now()
	meta := func(id string) map[string]any {
		return map[string]any{"event_id": id, "source": "test", "entity": "product", "op": "snapshot",
			"source_ts": ts, "ingest_ts": ts, "version": int64(1)}
	}
	for _, e := range w.Truth().Catalog() {
		m := meta("c-" + e.ASIN)
		m["marketplace_id"], m["asin"] = w.Config().MarketplaceID, e.ASIN
		ids := []any{}
		for _, id := range e.Identifiers {
			ids = append(ids, map[string]any{"identifier_type": id.Type, "identifier": id.Value})
		}
		m["identifiers"] = ids
		amazon = append(amazon, m)
	}
	for _, p := range w.TikTokProducts() {
		m := meta("p-" + p.TikTokID)
		m["shop_id"], m["product_id"], m["status"] = simShop, p.TikTokID, "ACTIVATE"
		skus := []any{}
		for _, v := range p.Variants {
			ids := []any{}
			if c := v.TikTok.IdentifierCode; c != nil {
				ids = append(ids, map[string]any{"identifier_type": c.Type, "identifier": c.Value})
			}
			skus = append(skus, map[string]any{"sku_id": v.TikTok.SKUID,
				"seller_sku": map[string]any{"string": v.TikTok.SellerSKU}, "identifiers": ids})
		}
		m["skus"] = skus
		tiktok = append(tiktok, m)
	}
	return amazon, tiktok
}

// TestSimworldCatalogs checks resolution against the simulated world's
// ground truth over several seeds: variants sold under the same seller SKU
// or GTIN end up with one key on both channels, unmatched ones are flagged,
// ambiguous ones are reported as conflicts, and nothing is dropped.
func TestSimworldCatalogs(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		w := simworld.MustNew(simworld.Config{Seed: seed, Scale: simworld.Scale{Products: 60}})
		mkt := w.Config().MarketplaceID
		amazon, tiktok := catalogRecords(t, w)
		r := identity.NewResolver(nil)
		for _, rec := range amazon {
			src, items, err := identity.AmazonCatalogItems(rec)
			if err != nil {
				t.Fatal(err)
			}
			r.Put(src, items)
		}
		for _, rec := range tiktok {
			src, items, err := identity.TikTokProductItems(rec)
			if err != nil {
				t.Fatal(err)
			}
			r.Put(src, items)
		}
		// Seller SKUs of ASINs come from sales & traffic and order items.
		for _, v := range w.AmazonVariants() {
			r.LearnSellerSKU(identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: v.Amazon.ASIN}, v.Amazon.SellerSKU)
		}

		if got, want := len(r.Links()), len(w.Truth().Catalog())+len(w.TikTokVariants()); got != want {
			t.Errorf("seed %d: %d links, want one per ASIN and SKU (%d)", seed, got, want)
		}
		conflicted := map[identity.Ref]bool{}
		for _, c := range r.Conflicts() {
			for _, p := range c.Products {
				conflicted[p] = true
			}
		}
		kinds := map[simworld.MatchKind]int{}
		for _, p := range w.Products() {
			for _, v := range p.Variants {
				kinds[v.Match]++
				var a, tk identity.Link
				var hasA, hasT bool
				if v.Amazon != nil {
					a, hasA = r.Link(identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: v.Amazon.ASIN})
					if !hasA {
						t.Fatalf("seed %d: %s: ASIN has no link", seed, v.Key)
					}
				}
				if v.TikTok != nil {
					tk, hasT = r.Link(identity.Ref{Channel: identity.ChannelTikTok, Account: simShop, ID: v.TikTok.SKUID})
					if !hasT {
						t.Fatalf("seed %d: %s: SKU has no link", seed, v.Key)
					}
				}
				switch v.Match {
				case simworld.MatchSKU, simworld.MatchGTIN:
					if a.ProductKey != tk.ProductKey || a.Unmatched || tk.Unmatched {
						t.Errorf("seed %d: %s (%s): keys %q / %q, want one linked key", seed, v.Key, v.Match, a.ProductKey, tk.ProductKey)
					}
				case simworld.MatchNone:
					if !a.Unmatched || !tk.Unmatched || a.ProductKey == tk.ProductKey {
						t.Errorf("seed %d: %s unmatched: links %+v / %+v", seed, v.Key, a, tk)
					}
				case simworld.MatchAmbiguous:
					if !conflicted[a.Ref] || !conflicted[tk.Ref] || a.ConflictReason == "" || tk.ConflictReason == "" {
						t.Errorf("seed %d: %s ambiguous, not reported as a conflict: %+v / %+v", seed, v.Key, a, tk)
					}
					if a.ProductKey == tk.ProductKey {
						t.Errorf("seed %d: %s ambiguous but linked under %q", seed, v.Key, a.ProductKey)
					}
				case simworld.MatchAmazonOnly:
					if !a.Unmatched {
						t.Errorf("seed %d: %s Amazon only but linked: %+v", seed, v.Key, a)
					}
				case simworld.MatchTikTokOnly:
					if !tk.Unmatched {
						t.Errorf("seed %d: %s TikTok only but linked: %+v", seed, v.Key, tk)
					}
				}
				if (hasA && conflicted[a.Ref] || hasT && conflicted[tk.Ref]) && v.Match != simworld.MatchAmbiguous {
					t.Errorf("seed %d: %s (%s) reported as a conflict", seed, v.Key, v.Match)
				}
			}
		}
		for _, k := range []simworld.MatchKind{simworld.MatchSKU, simworld.MatchGTIN, simworld.MatchNone, simworld.MatchAmbiguous} {
			if kinds[k] == 0 {
				t.Errorf("seed %d: world has no %s variant; the test proves nothing for it", seed, k)
			}
		}

		// Retracting the whole TikTok catalog retracts every SKU link and
		// every link that needed a TikTok SKU.
		for _, rec := range tiktok {
			rec["op"] = "delete"
			src, items, _ := identity.TikTokProductItems(rec)
			r.Put(src, items)
		}
		for _, l := range r.Links() {
			if l.Ref.Channel == identity.ChannelTikTok || l.Rule == identity.RuleSellerSKU {
				t.Errorf("seed %d: link left after TikTok catalog deleted: %+v", seed, l)
			}
		}
	}
}

// TestLinkRecordEncodes checks that every kind of change maps to a record
// the xchannel.product_links schema accepts, and reads back.
func TestLinkRecordEncodes(t *testing.T) {
	codec, err := schemas.NewCodec(identity.TopicProductLinks)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	changes := []identity.Change{
		{Link: identity.Link{Ref: identity.Ref{Channel: identity.ChannelAmazon, Account: "M", ID: "B1"}, GTIN14: "00887276302195", ProductKey: "gtin:00887276302195", Rule: identity.RuleGTIN}},
		{Link: identity.Link{Ref: identity.Ref{Channel: identity.ChannelTikTok, Account: "S", ID: "1"}, ProductID: "P", SellerSKU: "K", ProductKey: "tiktok:S:1", Rule: identity.RuleUnmatched, Unmatched: true,
			ConflictReason: "x", ConflictingKeys: []string{"a", "b"}}, PreviousKey: "sku:K"},
		{Link: identity.Link{Ref: identity.Ref{Channel: identity.ChannelTikTok, Account: "S", ID: "2"}, ProductKey: "tiktok:S:2", Rule: identity.RuleUnmatched, Unmatched: true}, PreviousKey: "tiktok:S:2", Deleted: true},
	}
	wantOps := []string{"create", "update", "delete"}
	for i, c := range changes {
		key, rec := identity.LinkRecord(c, int64(i+1), ts, ts)
		if key != c.Link.Ref.String() {
			t.Errorf("key %q, want %q", key, c.Link.Ref.String())
		}
		_, back := schematest.RoundTrip(t, codec, rec)
		if back["op"] != wantOps[i] || back["product_key"] != c.Link.ProductKey || back["version"] != int64(i+1) {
			t.Errorf("read back %v", back)
		}
		if c.PreviousKey != "" && back["previous_product_key"].(map[string]any)["string"] != c.PreviousKey {
			t.Errorf("previous key %v", back["previous_product_key"])
		}
		if got := back["conflicting_product_keys"].([]any); len(got) != len(c.Link.ConflictingKeys) {
			t.Errorf("conflicting keys %v", got)
		}
	}
}
