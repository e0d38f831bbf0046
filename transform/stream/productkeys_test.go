package stream

import (
	"slices"
	"testing"

	"github.com/shopstream/shopstream/transform/identity"
)

// TestLinksTableProductKeys: the keys of a TikTok product follow every
// link update that drain applies (ProductKeys caches them): a SKU linked,
// re-keyed, moved to another product, and unlinked.
func TestLinksTableProductKeys(t *testing.T) {
	lt := newLinksTable("product_links", nil)
	sku := func(id string) identity.Ref {
		return identity.Ref{Channel: identity.ChannelTikTok, Account: "shop", ID: id}
	}
	offset := int64(0)
	apply := func(ref identity.Ref, key, product string, deleted bool) {
		t.Helper()
		offset++
		lt.queue = append(lt.queue, linkUpdate{ref: ref, entry: linkEntry{key: key, product: product, deleted: deleted, offset: offset}})
		if _, err := lt.drain(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step, product string, want ...string) {
		t.Helper()
		// Twice: built, then from the cache.
		for range 2 {
			if got := lt.ProductKeys("shop", product); !slices.Equal(got, want) {
				t.Fatalf("%s: keys of %s %v, want %v", step, product, got, want)
			}
		}
	}
	check("empty", "P1")
	apply(sku("S1"), "k1", "P1", false)
	check("S1 linked", "P1", "k1")
	apply(sku("S2"), "k0", "P1", false)
	check("S2 linked", "P1", "k0", "k1")
	apply(sku("S1"), "k2", "P1", false)
	check("S1 re-keyed", "P1", "k0", "k2")
	check("P2 before the move", "P2")
	apply(sku("S2"), "k0", "P2", false)
	check("S2 moved to P2", "P1", "k2")
	check("S2 moved to P2", "P2", "k0")
	apply(sku("S1"), "k2", "P1", true)
	check("S1 unlinked", "P1")
}
