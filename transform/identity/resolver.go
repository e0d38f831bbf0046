package identity

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Channel is a sales channel.
type Channel string

// Channels.
const (
	ChannelAmazon Channel = "amazon"
	ChannelTikTok Channel = "tiktok"
)

// Ref names one sellable channel product: an Amazon ASIN in a marketplace or
// a TikTok SKU in a shop.
type Ref struct {
	Channel Channel
	Account string // Amazon marketplace id or TikTok shop id
	ID      string // ASIN or TikTok SKU id
}

// String returns channel:account:id, the Kafka key of the product's
// xchannel.product_links record and, when the product is unmatched, its
// channel-scoped product key.
func (r Ref) String() string { return string(r.Channel) + ":" + r.Account + ":" + r.ID }

func (r Ref) compare(o Ref) int {
	return cmp.Or(cmp.Compare(r.Channel, o.Channel), cmp.Compare(r.Account, o.Account), cmp.Compare(r.ID, o.ID))
}

// Identifier is a product identifier as a channel lists it.
type Identifier struct {
	Type  string // GTIN, EAN, UPC, JAN, ISBN, SKU, ...
	Value string
}

// Item is one channel product as identity resolution sees it.
type Item struct {
	Ref Ref
	// ProductID is the TikTok product the SKU belongs to; empty on Amazon.
	ProductID string
	// SellerSKU is the seller's own SKU, if the source lists it.
	SellerSKU   string
	Identifiers []Identifier
}

// Rule is the rule that chose a product key; the values are those of the
// match_rule field of xchannel.product_links.
type Rule string

// Rules, in order of precedence.
const (
	RuleMapping   Rule = "mapping_file"
	RuleGTIN      Rule = "gtin"
	RuleSellerSKU Rule = "seller_sku"
	RuleUnmatched Rule = "unmatched"
)

// Key prefixes of generated product keys. The key of a GTIN match is the
// GTIN-14 itself and the key of a seller-SKU match is the SKU itself: both
// are what the products have in common, so the key does not depend on which
// product arrived first or on a hash nobody can read back, and a product
// that joins a group later gets the same key as the group already has.
const (
	GTINKeyPrefix = "gtin:"
	SKUKeyPrefix  = "sku:"
)

// Link says which product key one channel product belongs to, and why.
type Link struct {
	Ref        Ref
	ProductID  string // TikTok product id
	SellerSKU  string // the seller SKU the SKU rule used (or would have)
	GTIN14     string // the product's GTIN-14, when it has exactly one
	ProductKey string
	Rule       Rule
	Unmatched  bool
	// ConflictReason says why an identifier of this product could not be
	// used; ConflictingKeys are the current keys of the other products
	// involved, sorted. Empty when there is no conflict.
	ConflictReason  string
	ConflictingKeys []string
}

func (l Link) equal(o Link) bool {
	return l.Ref == o.Ref && l.ProductID == o.ProductID && l.SellerSKU == o.SellerSKU &&
		l.GTIN14 == o.GTIN14 && l.ProductKey == o.ProductKey && l.Rule == o.Rule &&
		l.Unmatched == o.Unmatched && l.ConflictReason == o.ConflictReason &&
		slices.Equal(l.ConflictingKeys, o.ConflictingKeys)
}

// Change is a new, changed or retracted link.
type Change struct {
	// Link is the new link, or the last one when Deleted.
	Link Link
	// PreviousKey is the product key the channel product had before this
	// change; empty for a product seen for the first time. When it differs
	// from Link.ProductKey the joined rows under it must be re-keyed.
	PreviousKey string
	// Deleted: the channel product no longer exists (its link is retracted).
	Deleted bool
}

// Conflict is an identifier that more than one product claims in a way no
// rule may decide. Products lists every claimant (both sides), sorted.
type Conflict struct {
	Rule       Rule   // the rule that could not be applied: gtin or seller_sku
	Identifier string // the GTIN-14 or seller SKU
	Reason     string
	Products   []Ref
}

// Resolver assigns product keys to channel products, incrementally: every
// change of the catalog returns the links that changed because of it.
//
// Rules, in order: the mapping file; then a shared GTIN (normalised to
// GTIN-14): products without a mapping row that carry the same GTIN get the
// key gtin:<GTIN-14>; then a shared seller SKU among the products still
// unlinked: key sku:<seller SKU> (compared exactly, after trimming spaces).
// A rule links only if at least two channel products share the identifier;
// a product no rule links is unmatched and keyed by its own Ref
// (amazon:<marketplace>:<ASIN>, tiktok:<shop>:<SKU id>).
//
// Conflicts are reported, never guessed: a GTIN or seller SKU that two
// different products of the same channel account carry (two ASINs in one
// marketplace, two SKUs in one shop), a product carrying several different
// GTINs, an Amazon ASIN sold under several seller SKUs, or a seller SKU
// shared by products whose GTINs differ. The identifier is then not used
// for any of the products involved, which fall through to the next rule.
//
// The outcome depends only on the set of current products, not on the order
// they arrived in, so the state is rebuilt by replaying amazon.catalog and
// tiktok.products (and the seller SKUs learnt from sales and orders).
// A Resolver is not safe for concurrent use.
type Resolver struct {
	mapping *Mapping

	sources map[string][]Ref   // source record key -> products it lists
	items   map[Ref]*itemState // current products
	learned map[Ref][]string   // Amazon seller SKUs seen outside the catalog, sorted
	byGTIN  map[string]map[Ref]struct{}
	bySKU   map[string]map[Ref]struct{}
	links   map[Ref]Link
	// gtinGroups holds the GTIN groups computed during Conflicts, which
	// asks for each again for every product of a seller SKU group; nil
	// otherwise (groups change with every Put).
	gtinGroups map[string]group
}

type itemState struct {
	item        Item
	source      string
	gtins       []string // distinct valid GTIN-14s, sorted
	sku         string   // effective seller SKU
	skuConflict []string // several seller SKUs for one ASIN
	mappedKey   string
	mapped      bool
}

// NewResolver returns a Resolver that applies mapping (nil for none) first.
func NewResolver(mapping *Mapping) *Resolver {
	return &Resolver{
		mapping: mapping,
		sources: map[string][]Ref{},
		items:   map[Ref]*itemState{},
		learned: map[Ref][]string{},
		byGTIN:  map[string]map[Ref]struct{}{},
		bySKU:   map[string]map[Ref]struct{}{},
		links:   map[Ref]Link{},
	}
}

// Put records the current products of one source record (an amazon.catalog
// ASIN, or a tiktok.products product with its SKUs), replacing what that
// record listed before; products it no longer lists are retracted. source
// is the record's Kafka key. It returns the link changes, sorted by Ref.
func (r *Resolver) Put(source string, items []Item) []Change {
	dirty := map[Ref]struct{}{}
	keep := map[Ref]bool{}
	for _, it := range items {
		keep[it.Ref] = true
	}
	for _, ref := range r.sources[source] {
		if !keep[ref] {
			r.remove(ref, dirty)
		}
	}
	refs := make([]Ref, 0, len(items))
	for _, it := range items {
		if keep[it.Ref] {
			keep[it.Ref] = false // a record listing a SKU twice counts once
			r.upsert(source, it, dirty)
			refs = append(refs, it.Ref)
		}
	}
	if len(refs) == 0 {
		delete(r.sources, source)
	} else {
		r.sources[source] = refs
	}
	return r.resolve(dirty)
}

// Delete retracts every product of one source record.
func (r *Resolver) Delete(source string) []Change { return r.Put(source, nil) }

// LearnSellerSKU records that an Amazon ASIN is sold under seller SKU sku,
// as amazon.sales_traffic (SKU granularity) and amazon.order_items show:
// the catalog API does not list seller SKUs. An ASIN learnt with more than
// one SKU is a conflict; the SKU rule then ignores it.
func (r *Resolver) LearnSellerSKU(ref Ref, sku string) []Change {
	sku = strings.TrimSpace(sku)
	if sku == "" {
		return nil
	}
	cur := r.learned[ref]
	i, found := slices.BinarySearch(cur, sku)
	if found {
		return nil
	}
	r.learned[ref] = slices.Insert(cur, i, sku)
	st, ok := r.items[ref]
	if !ok {
		return nil
	}
	dirty := map[Ref]struct{}{}
	r.unindex(ref, st, dirty)
	r.index(ref, r.newState(st.source, st.item), dirty)
	return r.resolve(dirty)
}

// Link returns the current link of a channel product.
func (r *Resolver) Link(ref Ref) (Link, bool) {
	l, ok := r.links[ref]
	return l, ok
}

// Links returns every current link, sorted by Ref.
func (r *Resolver) Links() []Link {
	out := make([]Link, 0, len(r.links))
	for _, l := range r.links {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Link) int { return a.Ref.compare(b.Ref) })
	return out
}

func (r *Resolver) upsert(source string, it Item, dirty map[Ref]struct{}) {
	if old, ok := r.items[it.Ref]; ok {
		if old.source != source {
			// The SKU moved to another product record: that record no
			// longer owns it.
			r.sources[old.source] = slices.DeleteFunc(slices.Clone(r.sources[old.source]), func(x Ref) bool { return x == it.Ref })
		}
		r.unindex(it.Ref, old, dirty)
	}
	r.index(it.Ref, r.newState(source, it), dirty)
}

func (r *Resolver) remove(ref Ref, dirty map[Ref]struct{}) {
	if old, ok := r.items[ref]; ok {
		r.unindex(ref, old, dirty)
		delete(r.items, ref)
	}
}

func (r *Resolver) newState(source string, it Item) *itemState {
	st := &itemState{item: it, source: source}
	st.mappedKey, st.mapped = r.mapping.lookup(it.Ref, it.ProductID)
	st.sku = strings.TrimSpace(it.SellerSKU)
	for _, id := range it.Identifiers {
		switch {
		case IsGTINType(id.Type):
			if g, err := NormalizeGTIN(id.Value); err == nil {
				if i, found := slices.BinarySearch(st.gtins, g); !found {
					st.gtins = slices.Insert(st.gtins, i, g)
				}
			}
		case strings.EqualFold(strings.TrimSpace(id.Type), "SKU") && st.sku == "":
			st.sku = strings.TrimSpace(id.Value)
		}
	}
	if st.sku == "" {
		switch l := r.learned[it.Ref]; len(l) {
		case 0:
		case 1:
			st.sku = l[0]
		default:
			st.skuConflict = l
		}
	}
	return st
}

// index adds st under ref, marking ref and everything that shares an
// identifier with it dirty.
func (r *Resolver) index(ref Ref, st *itemState, dirty map[Ref]struct{}) {
	r.items[ref] = st
	dirty[ref] = struct{}{}
	for _, g := range st.gtins {
		addTo(r.byGTIN, g, ref)
	}
	if st.sku != "" {
		addTo(r.bySKU, st.sku, ref)
	}
}

func (r *Resolver) unindex(ref Ref, st *itemState, dirty map[Ref]struct{}) {
	dirty[ref] = struct{}{}
	r.markGroups(st, dirty)
	for _, g := range st.gtins {
		removeFrom(r.byGTIN, g, ref)
	}
	if st.sku != "" {
		removeFrom(r.bySKU, st.sku, ref)
	}
}

// markGroups marks dirty every product whose link can depend on st's
// identifiers: the members of its GTIN groups, the SKU groups of those
// members (whose SKU rule depends on whether they are GTIN-linked), and the
// members of its SKU group.
func (r *Resolver) markGroups(st *itemState, dirty map[Ref]struct{}) {
	skus := map[string]bool{}
	if st.sku != "" {
		skus[st.sku] = true
	}
	for _, g := range st.gtins {
		for m := range r.byGTIN[g] {
			dirty[m] = struct{}{}
			if ms := r.items[m]; ms != nil && ms.sku != "" {
				skus[ms.sku] = true
			}
		}
	}
	for s := range skus {
		for m := range r.bySKU[s] {
			dirty[m] = struct{}{}
		}
	}
}

func addTo(idx map[string]map[Ref]struct{}, k string, ref Ref) {
	s := idx[k]
	if s == nil {
		s = map[Ref]struct{}{}
		idx[k] = s
	}
	s[ref] = struct{}{}
}

func removeFrom(idx map[string]map[Ref]struct{}, k string, ref Ref) {
	if s := idx[k]; s != nil {
		delete(s, ref)
		if len(s) == 0 {
			delete(idx, k)
		}
	}
}

// resolve recomputes the links of the dirty products and returns the ones
// that changed.
func (r *Resolver) resolve(dirty map[Ref]struct{}) []Change {
	// A product's link depends on its neighbours' links (through the SKU
	// rule and the conflicting keys), so recompute the whole connected
	// component of products that share identifiers. Components are small:
	// a GTIN or SKU is shared by a handful of listings.
	work := make([]Ref, 0, len(dirty))
	for ref := range dirty {
		work = append(work, ref)
	}
	for len(work) > 0 {
		ref := work[len(work)-1]
		work = work[:len(work)-1]
		st := r.items[ref]
		if st == nil {
			continue
		}
		added := map[Ref]struct{}{}
		r.markGroups(st, added)
		for m := range added {
			if _, seen := dirty[m]; !seen {
				dirty[m] = struct{}{}
				work = append(work, m)
			}
		}
	}
	refs := make([]Ref, 0, len(dirty))
	for ref := range dirty {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, Ref.compare)

	next := make(map[Ref]Link, len(refs))
	others := make(map[Ref][]Ref, len(refs))
	for _, ref := range refs {
		if st := r.items[ref]; st != nil {
			next[ref], others[ref] = r.assign(ref, st)
		}
	}
	// Conflicting keys name the other claimants' keys, which are only
	// known once every dirty product has its key.
	keyOf := func(ref Ref) string {
		if l, ok := next[ref]; ok {
			return l.ProductKey
		}
		return r.links[ref].ProductKey
	}
	var changes []Change
	for _, ref := range refs {
		l, ok := next[ref]
		prev, had := r.links[ref]
		if !ok {
			if had {
				delete(r.links, ref)
				changes = append(changes, Change{Link: prev, PreviousKey: prev.ProductKey, Deleted: true})
			}
			continue
		}
		for _, o := range others[ref] {
			if k := keyOf(o); k != "" && k != l.ProductKey && !slices.Contains(l.ConflictingKeys, k) {
				l.ConflictingKeys = append(l.ConflictingKeys, k)
			}
		}
		slices.Sort(l.ConflictingKeys)
		if had && prev.equal(l) {
			continue
		}
		r.links[ref] = l
		c := Change{Link: l}
		if had {
			c.PreviousKey = prev.ProductKey
		}
		changes = append(changes, c)
	}
	return changes
}

// assign applies the rules to one product. It returns the link (without
// conflicting keys) and the other products of any conflict.
func (r *Resolver) assign(ref Ref, st *itemState) (Link, []Ref) {
	l := Link{Ref: ref, ProductID: st.item.ProductID, SellerSKU: st.sku}
	if len(st.gtins) == 1 {
		l.GTIN14 = st.gtins[0]
	}
	if st.mapped {
		l.ProductKey, l.Rule = st.mappedKey, RuleMapping
		return l, nil
	}
	var reasons []string
	var others []Ref

	g := r.gtinGroup(st)
	switch {
	case len(st.gtins) > 1:
		reasons = append(reasons, "product carries several GTINs: "+strings.Join(st.gtins, ", "))
	case g.conflict != "":
		reasons = append(reasons, g.conflict)
		others = append(others, without(g.members, ref)...)
	case len(g.members) >= 2:
		l.ProductKey, l.Rule = GTINKeyPrefix+st.gtins[0], RuleGTIN
	}

	if l.Rule == "" {
		if len(st.skuConflict) > 0 {
			reasons = append(reasons, "ASIN is sold under several seller SKUs: "+strings.Join(st.skuConflict, ", "))
		} else if st.sku != "" {
			s := r.skuGroup(st.sku)
			switch {
			case s.conflict != "":
				reasons = append(reasons, s.conflict)
				others = append(others, without(s.members, ref)...)
			case len(s.members) >= 2:
				l.ProductKey, l.Rule = SKUKeyPrefix+st.sku, RuleSellerSKU
			}
		}
	}
	if l.Rule == "" {
		l.ProductKey, l.Rule, l.Unmatched = ref.String(), RuleUnmatched, true
	}
	l.ConflictReason = strings.Join(reasons, "; ")
	return l, others
}

func without(refs []Ref, ref Ref) []Ref {
	return slices.DeleteFunc(slices.Clone(refs), func(x Ref) bool { return x == ref })
}

type group struct {
	members  []Ref // sorted
	conflict string
}

// gtinGroup returns the unmapped products that carry st's single GTIN.
func (r *Resolver) gtinGroup(st *itemState) group {
	if len(st.gtins) != 1 {
		return group{}
	}
	return r.gtinGroupOf(st.gtins[0])
}

// gtinGroupOf returns the unmapped products whose one GTIN is gtin.
// Products with several GTINs are a conflict of their own and take part in
// no group.
func (r *Resolver) gtinGroupOf(gtin string) group {
	if g, ok := r.gtinGroups[gtin]; ok {
		return g
	}
	var g group
	for m := range r.byGTIN[gtin] {
		if ms := r.items[m]; !ms.mapped && len(ms.gtins) == 1 {
			g.members = append(g.members, m)
		}
	}
	slices.SortFunc(g.members, Ref.compare)
	if dup := sameAccount(g.members); dup != "" {
		g.conflict = fmt.Sprintf("GTIN %s is on several products of %s", gtin, dup)
	}
	if r.gtinGroups != nil {
		r.gtinGroups[gtin] = g
	}
	return g
}

func (r *Resolver) gtinLinked(st *itemState) bool {
	if st.mapped {
		return false
	}
	g := r.gtinGroup(st)
	return g.conflict == "" && len(g.members) >= 2
}

// skuGroup returns the unmapped, not GTIN-linked products with seller SKU sku.
func (r *Resolver) skuGroup(sku string) group {
	var g group
	for m := range r.bySKU[sku] {
		if ms := r.items[m]; !ms.mapped && len(ms.skuConflict) == 0 && !r.gtinLinked(ms) {
			g.members = append(g.members, m)
		}
	}
	slices.SortFunc(g.members, Ref.compare)
	if dup := sameAccount(g.members); dup != "" {
		g.conflict = fmt.Sprintf("seller SKU %q is on several products of %s", sku, dup)
		return g
	}
	var gtins []string
	for _, m := range g.members {
		for _, x := range r.items[m].gtins {
			if !slices.Contains(gtins, x) {
				gtins = append(gtins, x)
			}
		}
	}
	if len(gtins) > 1 {
		slices.Sort(gtins)
		g.conflict = fmt.Sprintf("seller SKU %q is on products with different GTINs (%s)", sku, strings.Join(gtins, ", "))
	}
	return g
}

// sameAccount returns "channel:account" when two of the sorted refs are
// different products of one channel account, or "".
func sameAccount(refs []Ref) string {
	for i := 1; i < len(refs); i++ {
		a, b := refs[i-1], refs[i]
		if a.Channel == b.Channel && a.Account == b.Account && a.ID != b.ID {
			return string(a.Channel) + ":" + a.Account
		}
	}
	return ""
}

// Conflicts returns every current conflict, sorted by rule and identifier.
func (r *Resolver) Conflicts() []Conflict {
	// The stage counts conflicts after every transaction that moved links:
	// each GTIN group is computed once, not again for the seller SKU
	// groups' members.
	r.gtinGroups = make(map[string]group, len(r.byGTIN))
	defer func() { r.gtinGroups = nil }()
	var out []Conflict
	for gtin := range r.byGTIN {
		if g := r.gtinGroupOf(gtin); g.conflict != "" {
			out = append(out, Conflict{Rule: RuleGTIN, Identifier: gtin, Reason: g.conflict, Products: g.members})
		}
	}
	for sku := range r.bySKU {
		if g := r.skuGroup(sku); g.conflict != "" {
			out = append(out, Conflict{Rule: RuleSellerSKU, Identifier: sku, Reason: g.conflict, Products: g.members})
		}
	}
	for ref, st := range r.items {
		switch {
		case st.mapped:
		case len(st.gtins) > 1:
			out = append(out, Conflict{Rule: RuleGTIN, Identifier: strings.Join(st.gtins, ","), Reason: "product carries several GTINs", Products: []Ref{ref}})
		case len(st.skuConflict) > 0:
			out = append(out, Conflict{Rule: RuleSellerSKU, Identifier: strings.Join(st.skuConflict, ","), Reason: "ASIN is sold under several seller SKUs", Products: []Ref{ref}})
		}
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Identifier, b.Identifier), a.Products[0].compare(b.Products[0]))
	})
	return out
}
