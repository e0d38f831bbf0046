package identity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/gs1"
)

const (
	mkt  = "ATVPDKIKX0DER"
	shop = "7495001"
	// g1 and g2 are valid GTINs: g1 as UPC-A, EAN-13 and GTIN-14.
	g1UPC  = "887276302195"
	g1EAN  = "0887276302195"
	g1     = "00887276302195"
	g2EAN  = "4006381333931"
	g2     = "04006381333931"
	badUPC = "887276302194"
)

func amz(asin, sku string, ids ...string) Item {
	it := Item{Ref: Ref{ChannelAmazon, mkt, asin}, SellerSKU: sku}
	for _, id := range ids {
		it.Identifiers = append(it.Identifiers, Identifier{Type: idType(id), Value: id})
	}
	return it
}

func tt(skuID, productID, sellerSKU string, ids ...string) Item {
	it := Item{Ref: Ref{ChannelTikTok, shop, skuID}, ProductID: productID, SellerSKU: sellerSKU}
	for _, id := range ids {
		it.Identifiers = append(it.Identifiers, Identifier{Type: idType(id), Value: id})
	}
	return it
}

func idType(id string) string {
	switch len(id) {
	case 12:
		return "UPC"
	case 13:
		return "EAN"
	}
	return "GTIN"
}

// put feeds each item as its own source record (amazon) or groups TikTok
// SKUs by product, as the topics do.
func putAll(r *Resolver, items ...Item) []Change {
	var out []Change
	byProduct := map[string][]Item{}
	var order []string
	for _, it := range items {
		if it.Ref.Channel == ChannelAmazon {
			out = append(out, r.Put("a/"+it.Ref.String(), []Item{it})...)
			continue
		}
		if _, ok := byProduct[it.ProductID]; !ok {
			order = append(order, it.ProductID)
		}
		byProduct[it.ProductID] = append(byProduct[it.ProductID], it)
	}
	for _, p := range order {
		out = append(out, r.Put("t/"+p, byProduct[p])...)
	}
	return out
}

type want struct {
	key       string
	rule      Rule
	unmatched bool
	conflict  string // substring of ConflictReason; "" = none
}

func TestResolverRules(t *testing.T) {
	mapping, err := ParseMapping(strings.NewReader("product_key,channel,channel_id\nhero,amazon,BMAPPED\nhero,tiktok,product:PMAPPED\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		items []Item
		want  map[string]want // by Ref.String()
	}{
		{
			name:  "GTIN in any form links across channels",
			items: []Item{amz("B1", "A-SKU", g1EAN, g1UPC, g1), tt("S1", "P1", "T-SKU", g1UPC)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "gtin:" + g1, rule: RuleGTIN},
				"tiktok:" + shop + ":S1": {key: "gtin:" + g1, rule: RuleGTIN},
			},
		},
		{
			name:  "seller SKU links when there is no GTIN",
			items: []Item{amz("B1", "SKU-1"), tt("S1", "P1", " SKU-1 ")},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "sku:SKU-1", rule: RuleSellerSKU},
				"tiktok:" + shop + ":S1": {key: "sku:SKU-1", rule: RuleSellerSKU},
			},
		},
		{
			name:  "GTIN wins over seller SKU",
			items: []Item{amz("B1", "SKU-1", g1), tt("S1", "P1", "SKU-X", g1), tt("S2", "P2", "SKU-1")},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "gtin:" + g1, rule: RuleGTIN},
				"tiktok:" + shop + ":S1": {key: "gtin:" + g1, rule: RuleGTIN},
				"tiktok:" + shop + ":S2": {key: "tiktok:" + shop + ":S2", rule: RuleUnmatched, unmatched: true},
			},
		},
		{
			name:  "mapping file wins over GTIN",
			items: []Item{amz("BMAPPED", "", g1), tt("S1", "PMAPPED", "", g2), tt("S2", "P2", "", g1)},
			want: map[string]want{
				"amazon:" + mkt + ":BMAPPED": {key: "hero", rule: RuleMapping},
				"tiktok:" + shop + ":S1":     {key: "hero", rule: RuleMapping},
				// The mapped ASIN takes no part in GTIN groups, so S2 is alone.
				"tiktok:" + shop + ":S2": {key: "tiktok:" + shop + ":S2", rule: RuleUnmatched, unmatched: true},
			},
		},
		{
			name:  "unmatched products keep a channel-scoped key",
			items: []Item{amz("B1", "X", g1), tt("S1", "P1", "Y", g2)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true},
			},
		},
		{
			name:  "invalid GTIN is ignored, not matched",
			items: []Item{amz("B1", "", badUPC), tt("S1", "P1", "", badUPC)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true},
			},
		},
		{
			name:  "one GTIN on two ASINs of a marketplace is a conflict",
			items: []Item{amz("B1", "", g1), amz("B2", "", g1), tt("S1", "P1", "", g1)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true, conflict: "GTIN " + g1 + " is on several products of amazon:" + mkt},
				"amazon:" + mkt + ":B2":  {key: "amazon:" + mkt + ":B2", rule: RuleUnmatched, unmatched: true, conflict: "several products"},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true, conflict: "several products"},
			},
		},
		{
			name:  "GTIN conflict falls through to seller SKU",
			items: []Item{amz("B1", "K", g1), amz("B2", "", g1), tt("S1", "P1", "K", g1)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "sku:K", rule: RuleSellerSKU, conflict: "several products"},
				"tiktok:" + shop + ":S1": {key: "sku:K", rule: RuleSellerSKU, conflict: "several products"},
				"amazon:" + mkt + ":B2":  {key: "amazon:" + mkt + ":B2", rule: RuleUnmatched, unmatched: true, conflict: "several products"},
			},
		},
		{
			name:  "same ASIN in two marketplaces is one product, not a conflict",
			items: []Item{amz("B1", "", g1), {Ref: Ref{ChannelAmazon, "A2EUQ1WTGCTBG2", "B1"}, Identifiers: []Identifier{{"EAN", g1EAN}}}},
			want: map[string]want{
				"amazon:" + mkt + ":B1":    {key: "gtin:" + g1, rule: RuleGTIN},
				"amazon:A2EUQ1WTGCTBG2:B1": {key: "gtin:" + g1, rule: RuleGTIN},
			},
		},
		{
			name:  "product with several GTINs is a conflict",
			items: []Item{amz("B1", "", g1, g2EAN), tt("S1", "P1", "", g1)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true, conflict: "several GTINs"},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true},
			},
		},
		{
			name:  "seller SKU on products with different GTINs is a conflict",
			items: []Item{amz("B1", "K", g1), tt("S1", "P1", "K", g2)},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true, conflict: "different GTINs"},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true, conflict: "different GTINs"},
			},
		},
		{
			name:  "seller SKU on two SKUs of one shop is a conflict",
			items: []Item{amz("B1", "K"), tt("S1", "P1", "K"), tt("S2", "P2", "K")},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "amazon:" + mkt + ":B1", rule: RuleUnmatched, unmatched: true, conflict: `seller SKU "K" is on several products of tiktok:` + shop},
				"tiktok:" + shop + ":S1": {key: "tiktok:" + shop + ":S1", rule: RuleUnmatched, unmatched: true, conflict: "several products"},
				"tiktok:" + shop + ":S2": {key: "tiktok:" + shop + ":S2", rule: RuleUnmatched, unmatched: true, conflict: "several products"},
			},
		},
		{
			name:  "catalog SKU identifier serves as seller SKU",
			items: []Item{{Ref: Ref{ChannelAmazon, mkt, "B1"}, Identifiers: []Identifier{{"SKU", "K"}}}, tt("S1", "P1", "K")},
			want: map[string]want{
				"amazon:" + mkt + ":B1":  {key: "sku:K", rule: RuleSellerSKU},
				"tiktok:" + shop + ":S1": {key: "sku:K", rule: RuleSellerSKU},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResolver(mapping)
			putAll(r, tc.items...)
			checkLinks(t, r, tc.want)
			// The outcome does not depend on arrival order.
			rev := slices.Clone(tc.items)
			slices.Reverse(rev)
			r2 := NewResolver(mapping)
			putAll(r2, rev...)
			if !slices.EqualFunc(r.Links(), r2.Links(), Link.equal) {
				t.Errorf("reverse order gives other links:\n%v\n%v", r.Links(), r2.Links())
			}
		})
	}
}

func checkLinks(t *testing.T, r *Resolver, want map[string]want) {
	t.Helper()
	got := map[string]Link{}
	for _, l := range r.Links() {
		got[l.Ref.String()] = l
	}
	for ref, w := range want {
		l, ok := got[ref]
		if !ok {
			t.Errorf("%s: no link", ref)
			continue
		}
		if l.ProductKey != w.key || l.Rule != w.rule || l.Unmatched != w.unmatched {
			t.Errorf("%s: key %q rule %s unmatched %v; want %q %s %v", ref, l.ProductKey, l.Rule, l.Unmatched, w.key, w.rule, w.unmatched)
		}
		if (w.conflict == "") != (l.ConflictReason == "") || !strings.Contains(l.ConflictReason, w.conflict) {
			t.Errorf("%s: conflict %q; want %q", ref, l.ConflictReason, w.conflict)
		}
		if w.conflict != "" && len(l.ConflictingKeys) == 0 && !strings.Contains(l.ConflictReason, "several GTINs") {
			t.Errorf("%s: conflict without conflicting keys", ref)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d links, want %d", len(got), len(want))
	}
}

func TestResolverConflictRecords(t *testing.T) {
	r := NewResolver(nil)
	putAll(r, amz("B1", "", g1), amz("B2", "", g1UPC), tt("S1", "P1", "K"), tt("S2", "P2", "K"))
	got := r.Conflicts()
	want := []Conflict{
		{Rule: RuleGTIN, Identifier: g1, Reason: "GTIN " + g1 + " is on several products of amazon:" + mkt,
			Products: []Ref{{ChannelAmazon, mkt, "B1"}, {ChannelAmazon, mkt, "B2"}}},
		{Rule: RuleSellerSKU, Identifier: "K", Reason: `seller SKU "K" is on several products of tiktok:` + shop,
			Products: []Ref{{ChannelTikTok, shop, "S1"}, {ChannelTikTok, shop, "S2"}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Conflicts =\n%v\nwant\n%v", got, want)
	}
	l, _ := r.Link(Ref{ChannelAmazon, mkt, "B1"})
	if !slices.Equal(l.ConflictingKeys, []string{"amazon:" + mkt + ":B2"}) {
		t.Errorf("B1 conflicting keys %v, want the other side", l.ConflictingKeys)
	}
}

func TestResolverIncremental(t *testing.T) {
	r := NewResolver(nil)
	b1 := Ref{ChannelAmazon, mkt, "B1"}
	s1 := Ref{ChannelTikTok, shop, "S1"}
	type ch struct {
		ref     Ref
		key     string
		prev    string
		deleted bool
	}
	step := func(name string, got []Change, want ...ch) {
		t.Helper()
		var g []ch
		for _, c := range got {
			g = append(g, ch{c.Link.Ref, c.Link.ProductKey, c.PreviousKey, c.Deleted})
		}
		if fmt.Sprint(g) != fmt.Sprint(want) {
			t.Errorf("%s: changes\n%v\nwant\n%v", name, g, want)
		}
	}
	step("new unmatched ASIN", r.Put("a/B1", []Item{amz("B1", "", g1)}),
		ch{b1, b1.String(), "", false})
	step("same ASIN again: no change", r.Put("a/B1", []Item{amz("B1", "", g1EAN)}))
	step("TikTok SKU with the GTIN re-keys the ASIN", r.Put("t/P1", []Item{tt("S1", "P1", "", g1UPC)}),
		ch{b1, "gtin:" + g1, b1.String(), false},
		ch{s1, "gtin:" + g1, "", false})
	step("SKU loses its GTIN: both fall back", r.Put("t/P1", []Item{tt("S1", "P1", "")}),
		ch{b1, b1.String(), "gtin:" + g1, false},
		ch{s1, s1.String(), "gtin:" + g1, false})
	step("learnt seller SKU shows on the link", r.LearnSellerSKU(b1, "K"),
		ch{b1, b1.String(), b1.String(), false})
	step("TikTok seller SKU K", r.Put("t/P1", []Item{tt("S1", "P1", "K")}),
		ch{b1, "sku:K", b1.String(), false},
		ch{s1, "sku:K", s1.String(), false})
	step("second learnt SKU is a conflict", r.LearnSellerSKU(b1, "K2"),
		ch{b1, b1.String(), "sku:K", false},
		ch{s1, s1.String(), "sku:K", false})
	step("product deleted retracts its SKUs", r.Delete("t/P1"),
		ch{s1, s1.String(), s1.String(), true})
	step("deleting again is a no-op", r.Delete("t/P1"))
	if _, ok := r.Link(s1); ok {
		t.Error("deleted SKU still has a link")
	}
}

// TestResolverOrderIndependent feeds random catalogs in random orders, with
// repeats and deletes, and checks the final links match a fresh resolver fed
// only the final catalog once.
func TestResolverOrderIndependent(t *testing.T) {
	gtins := []string{g1, g1UPC, g2, g2EAN, badUPC, ""}
	skus := []string{"K1", "K2", "K3", ""}
	for seed := uint64(0); seed < 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		var items []Item
		for i := range 8 {
			g, s := gtins[rng.IntN(len(gtins))], skus[rng.IntN(len(skus))]
			var ids []string
			if g != "" {
				ids = append(ids, g)
			}
			if i%2 == 0 {
				items = append(items, amz(fmt.Sprintf("B%d", i%4), s, ids...))
			} else {
				// SKU ids are unique: a SKU never moves between products.
				items = append(items, tt(fmt.Sprintf("S%d", i), fmt.Sprintf("P%d", i%3), s, ids...))
			}
		}
		r := NewResolver(nil)
		final := map[string][]Item{}
		for range 30 {
			it := items[rng.IntN(len(items))]
			src := "a/" + it.Ref.ID
			var put []Item
			if it.Ref.Channel == ChannelTikTok {
				src = "t/" + it.ProductID
				// a product record lists some of its SKUs
				for _, o := range items {
					if o.Ref.Channel == ChannelTikTok && o.ProductID == it.ProductID && rng.IntN(3) > 0 {
						put = append(put, o)
					}
				}
			} else if rng.IntN(4) > 0 {
				put = []Item{it}
			}
			r.Put(src, put)
			final[src] = put
		}
		fresh := NewResolver(nil)
		srcs := make([]string, 0, len(final))
		for s := range final {
			srcs = append(srcs, s)
		}
		slices.Sort(srcs)
		for _, s := range srcs {
			fresh.Put(s, final[s])
		}
		if !slices.EqualFunc(r.Links(), fresh.Links(), Link.equal) {
			t.Fatalf("seed %d: incremental links differ from a fresh build:\n%v\n%v", seed, r.Links(), fresh.Links())
		}
	}
}

// BenchmarkConflicts: the conflicts of a catalog of 10,000 products per
// channel, mostly linked by GTIN, some by seller SKU, a few in conflict
// (the stage counts them after every transaction that moved links).
func BenchmarkConflicts(b *testing.B) {
	r := NewResolver(nil)
	var items []Item
	for i := range 10000 {
		body := fmt.Sprintf("0088727%06d", i)
		gtin := body + strconv.Itoa(gs1.CheckDigit(body))
		sku := fmt.Sprintf("SKU-%d", i)
		switch i % 10 {
		case 0: // no GTIN: linked by seller SKU, and in conflict where two ASINs share one
			sku = fmt.Sprintf("SKU-%d", i/20)
			items = append(items, amz(fmt.Sprintf("B%06d", i), sku), tt(fmt.Sprintf("S%06d", i), fmt.Sprintf("P%06d", i), sku))
		default:
			items = append(items, amz(fmt.Sprintf("B%06d", i), sku, gtin), tt(fmt.Sprintf("S%06d", i), fmt.Sprintf("P%06d", i), sku, gtin))
		}
	}
	putAll(r, items...)
	if len(r.Conflicts()) == 0 {
		b.Fatal("no conflicts in the catalog")
	}
	b.ResetTimer()
	for range b.N {
		r.Conflicts()
	}
}
