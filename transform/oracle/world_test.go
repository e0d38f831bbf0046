package oracle

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/gs1"
	"github.com/shopstream/shopstream/schemas/schematest"
)

const (
	mkt      = "ATVPDKIKX0DER"
	mktZone  = "America/Los_Angeles"
	shop     = "7495001"
	shopZone = "America/New_York"
	business = "biz-1"
)

// day0 is the first day of the world, a Sunday, so that the Brand
// Analytics weeks (Sunday to Saturday) start on it.
var day0 = time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)

const days = 7

// Product kinds of a world: how the product exists on the two channels and
// how identity resolution should treat it.
const (
	kindGTIN       = iota // on both channels with one GTIN: linked by gtin
	kindGTINSpaced        // as kindGTIN, TikTok lists the UPC with spaces and hyphens
	kindSellerSKU         // no GTIN; Amazon's seller SKU (learnt from sales) equals TikTok's
	kindAmazonOnly        // unmatched on Amazon
	kindTikTokOnly        // unmatched on TikTok
	kindConflict          // two ASINs of one marketplace share the GTIN: conflict, nobody links by it
	kindBadGTIN           // the Amazon GTIN has a wrong check digit: not used, both stay unmatched
	nKinds
)

// world generates input changes. Every key gets a sequence of versions;
// sequences of different keys are interleaved at random, each key's own
// order kept, so the stream carries late data (a restatement of the first
// day can come last) while one key stays in order except where the world
// puts an older version after a newer one on purpose.
type world struct {
	t   testing.TB
	rng *rand.Rand
	// seqs are the per-key sequences, in creation order.
	seqs [][]schematest.Input
	// staleIdentity ends the catalog and product sequences of GTIN
	// products with a newer version followed by an older one without the
	// GTIN. The older one is out of order and must not count (the
	// transform once applied it; transform/stream
	// TestStaleSnapshotDoesNotChangeIdentity guards the fix). Set
	// ORACLE_STALE_IDENTITY=1 to include it.
	staleIdentity bool
	// maxShown is the most products a video shows.
	maxShown int
	// mixCurrencies puts some TikTok orders, videos and Amazon sales in a
	// second currency, so that some rows mix two.
	mixCurrencies bool
	// mapped makes build set mapping: the rows of a mapping file, in the
	// order of mappingColumns (see mappingRows).
	mapped  bool
	mapping [][]string
}

type product struct {
	i          int
	kind       int
	asins      []string
	productID  string
	skus       []string
	upc        string // GTIN-12 shared by the channels, "" for none
	sellerSKU  string
	deletedAmz bool
	deletedTT  bool
	lateLink   bool // the TikTok product first comes without its GTIN

	severalGTINs bool
	skuConflict  bool
}

func newWorld(t testing.TB, seed uint64) *world {
	return &world{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), maxShown: 2}
}

// build returns the world's inputs in arrival order. Whatever the seed,
// the world has every case checkCoverage demands: the random draws add
// variety and chaos (skipped days, restatements, duplicates, deletes), but
// each case is also planted by construction where no chaos removes it
// (anchors: the first product of each kind, the first video of each kind,
// day 0 of every ASIN, the first order of every product).
func (w *world) build(nProducts, nVideos int) []schematest.Input {
	var ps []*product
	for i := range nProducts {
		p := &product{i: i, kind: i % nKinds}
		if p.kind != kindTikTokOnly {
			p.asins = []string{fmt.Sprintf("B0%08d", i)}
			if p.kind == kindConflict {
				p.asins = append(p.asins, fmt.Sprintf("B1%08d", i))
			}
		}
		if p.kind != kindAmazonOnly {
			p.productID = fmt.Sprintf("17%08d", i)
			p.skus = []string{fmt.Sprintf("18%08d", i)}
			// Product 0 always has two: the mapping file's product rows
			// and an even split of its GMV need one.
			if w.rng.IntN(3) == 0 || i == 0 {
				p.skus = append(p.skus, fmt.Sprintf("19%08d", i))
			}
		}
		switch p.kind {
		case kindGTIN, kindGTINSpaced, kindConflict, kindBadGTIN:
			p.upc = w.upc()
		case kindSellerSKU:
			p.sellerSKU = fmt.Sprintf("SS-%d", i)
		}
		// Some products carry a second GTIN on Amazon (a conflict of
		// their own: the GTIN rule skips them), some ASINs are sold under
		// two seller SKUs (the SKU rule skips them).
		p.severalGTINs = p.kind == kindGTIN && i%(2*nKinds) == 0
		p.skuConflict = p.kind == kindSellerSKU && i%(2*nKinds) == kindSellerSKU
		p.deletedAmz = p.kind == kindAmazonOnly && w.rng.IntN(2) == 0
		p.deletedTT = p.kind == kindTikTokOnly && w.rng.IntN(2) == 0
		p.lateLink = p.kind == kindGTIN && w.rng.IntN(2) == 0
		ps = append(ps, p)
		w.catalog(p)
		w.products(p)
		w.salesTraffic(p)
		w.searchQuery(p)
		w.amazonOrders(p)
		w.tiktokOrders(p)
	}
	for v := range nVideos {
		w.video(v, ps)
	}
	if w.mapped {
		w.mapping = w.mappingRows(ps)
	}
	w.searchTerms(ps)
	return w.interleave()
}

// Mapped product keys, named after the case of the mapping rule they cover.
const (
	mappedAmazonSide = "mapped-amazon-side" // the ASIN of a GTIN pair: its TikTok twin is left alone, unmatched
	mappedBothSides  = "mapped-both-sides"  // both sides of a GTIN pair, the ASIN scoped, TikTok by product
	mappedProduct    = "mapped-product"     // product:ID, for the SKUs no more specific row names
	mappedShopSKU    = "mapped-shop-sku"    // SHOP:SKU, which wins over the same SKU unscoped
	mappedSKU        = "mapped-sku"         // the unscoped SKU: loses, no link has it
	mappedJoin       = "mapped-join"        // two products unmatched for a wrong GTIN
	mappedPair       = "mapped-pair"        // the two ASINs of a GTIN conflict
	mappedGhost      = "mapped-ghost"       // an ASIN nobody sells: no link
)

// mappingRows returns the rows of the mapping file for the products of a
// world, one per case of the rule (see the mapped* keys): it overrides GTIN
// links, joins unmatched products, applies the most specific row. Products
// are picked by kind, not at random, so the world's draws do not change.
func (w *world) mappingRows(ps []*product) [][]string {
	first := func(ok func(*product) bool) *product {
		for _, p := range ps {
			if ok(p) {
				return p
			}
		}
		w.t.Fatal("the world has no product for a case of the mapping file")
		return nil
	}
	amazonSide := first(func(p *product) bool { return p.kind == kindGTIN && !p.severalGTINs })
	both := first(func(p *product) bool { return p.kind == kindGTINSpaced })
	twoSKUs := first(func(p *product) bool {
		return p != amazonSide && p != both && p.kind != kindTikTokOnly && p.kind != kindConflict && len(p.skus) > 1
	})
	badGTIN := first(func(p *product) bool { return p.kind == kindBadGTIN })
	pair := first(func(p *product) bool { return p.kind == kindConflict })
	return [][]string{
		{"amazon", amazonSide.asins[0], mappedAmazonSide, "GTIN override, Amazon side"},
		{"amazon", mkt + ":" + both.asins[0], mappedBothSides, "GTIN override"},
		{"tiktok", "product:" + both.productID, mappedBothSides, "GTIN override"},
		{"tiktok", "product:" + twoSKUs.productID, mappedProduct, "every SKU"},
		{"tiktok", shop + ":" + twoSKUs.skus[0], mappedShopSKU, "one SKU, scoped"},
		{"tiktok", twoSKUs.skus[0], mappedSKU, "one SKU, unscoped"},
		{"amazon", badGTIN.asins[0], mappedJoin, "wrong GTIN on Amazon"},
		{"tiktok", shop + ":" + badGTIN.skus[0], mappedJoin, "wrong GTIN on Amazon"},
		{"amazon", badGTIN.asins[0], mappedJoin, "a repeated row"},
		{"amazon", pair.asins[0], mappedPair, "GTIN conflict"},
		{"amazon", mkt + ":" + pair.asins[1], mappedPair, "GTIN conflict"},
		{"amazon", "B0NOTSOLD1", mappedGhost, "no such product"},
	}
}

// currency returns the currency of an amount: USD, or sometimes EUR when
// the world mixes currencies.
func (w *world) currency() string {
	if w.mixCurrencies && w.rng.IntN(6) == 0 {
		return "EUR"
	}
	return "USD"
}

// upc returns a random valid GTIN-12.
func (w *world) upc() string {
	body := fmt.Sprintf("%d%010d", 1+w.rng.IntN(9), w.rng.Int64N(1e10))
	return body + string(rune('0'+gs1.CheckDigit(body)))
}

func (w *world) ts(day int) time.Time {
	return day0.AddDate(0, 0, day).Add(time.Duration(w.rng.IntN(24*60)) * time.Minute)
}

func dayDate(day int) time.Time { return day0.AddDate(0, 0, day) }

// seq is a key's sequence under construction.
type seq struct {
	w          *world
	topic, key string
	recs       []schematest.Input
}

func (w *world) seq(topic, key string) *seq { return &seq{w: w, topic: topic, key: key} }

// add appends version v of the key.
func (s *seq) add(v int64, op string, ts time.Time, fields map[string]any) *seq {
	rec := map[string]any{"event_id": fmt.Sprintf("%s/%s/%d", s.topic, s.key, v), "source": "oracle", "entity": "x",
		"op": op, "source_ts": ts, "ingest_ts": ts, "version": v}
	for k, x := range fields {
		rec[k] = x
	}
	s.recs = append(s.recs, schematest.NewInput(s.w.t, s.topic, s.key, rec))
	return s
}

// done adds the sequence to the world, with chaos: a duplicate (same event
// id, same version) and, when outOfOrder, the last two versions swapped, so
// the older one arrives after the newer and must be ignored.
func (s *seq) done(outOfOrder bool) {
	r := s.recs
	if outOfOrder && len(r) >= 2 && s.w.rng.IntN(3) == 0 {
		r[len(r)-1], r[len(r)-2] = r[len(r)-2], r[len(r)-1]
	}
	if len(r) > 0 && s.w.rng.IntN(4) == 0 {
		i := s.w.rng.IntN(len(r))
		r = append(r[:i+1], r[i:]...)
	}
	s.w.seqs = append(s.w.seqs, r)
}

func some(s string) map[string]any { return map[string]any{"string": s} }

func dec(r *big.Rat) map[string]any { return map[string]any{"bytes.decimal": r} }

func ids(typ, v string) []any {
	if v == "" {
		return []any{}
	}
	return []any{map[string]any{"identifier_type": typ, "identifier": v}}
}

// catalog writes the ASINs' catalog snapshots: identifiers and best sellers
// ranks on several days, late snapshots (an older version after a newer one
// still counts as an observation) and deletes.
func (w *world) catalog(p *product) {
	for n, asin := range p.asins {
		var idv string
		switch p.kind {
		case kindGTIN, kindGTINSpaced, kindConflict:
			idv = "0" + p.upc // EAN-13
		case kindBadGTIN:
			idv = "0" + p.upc[:11] + string(rune('0'+(int(p.upc[11]-'0')+1)%10))
		}
		idList := ids("EAN", idv)
		if p.severalGTINs {
			idList = append(idList, map[string]any{"identifier_type": "GTIN", "identifier": w.upc()})
		}
		s := w.seq("amazon.catalog", mkt+":"+asin)
		versions := 1 + w.rng.IntN(4)
		v := int64(0)
		for range versions {
			v += int64(1 + w.rng.IntN(2))
			ranks := []any{}
			if w.rng.IntN(5) != 0 || v <= 2 { // the first version always has a rank
				ranks = append(ranks, map[string]any{"website_display_group": "beauty", "title": "Beauty", "rank": int64(1 + w.rng.IntN(5000))})
				if w.rng.IntN(3) == 0 {
					ranks = append(ranks, map[string]any{"website_display_group": "home", "title": "Home", "rank": int64(1 + w.rng.IntN(5000))})
				}
			}
			s.add(v, "snapshot", w.ts(w.rng.IntN(days)), map[string]any{"marketplace_id": mkt, "asin": asin,
				"identifiers": idList, "display_group_ranks": ranks})
		}
		if p.deletedAmz && n == 0 {
			s.add(v+1, "delete", w.ts(days-1), map[string]any{"marketplace_id": mkt, "asin": asin})
			s.done(false)
			continue
		}
		if w.staleIdentity && idv != "" {
			// An older snapshot arriving last, listing no identifiers.
			s.add(v+1, "snapshot", w.ts(days-1), map[string]any{"marketplace_id": mkt, "asin": asin,
				"identifiers": ids("EAN", idv), "display_group_ranks": []any{}})
			s.add(v, "snapshot", w.ts(days-1), map[string]any{"marketplace_id": mkt, "asin": asin,
				"identifiers": []any{}, "display_group_ranks": []any{}})
		}
		// Swapping identical identifiers only makes a late BSR snapshot.
		s.done(true)
	}
}

// products writes the TikTok product with its SKUs.
func (w *world) products(p *product) {
	if p.productID == "" {
		return
	}
	sku := func(withID bool) []any {
		var out []any
		for n, id := range p.skus {
			var idv string
			if n == 0 && withID && p.upc != "" {
				idv = p.upc
				if p.kind == kindGTINSpaced {
					idv = idv[:1] + " " + idv[1:6] + "-" + idv[6:]
				}
			}
			m := map[string]any{"sku_id": id, "identifiers": ids("UPC", idv), "inventory": []any{}}
			switch {
			case p.sellerSKU != "" && n == 0:
				m["seller_sku"] = some(p.sellerSKU)
			case n > 0:
				m["seller_sku"] = some(fmt.Sprintf("TT-%d-%d", p.i, n))
			}
			out = append(out, m)
		}
		return out
	}
	s := w.seq("tiktok.products", shop+":"+p.productID)
	fields := func(status string, withID bool) map[string]any {
		return map[string]any{"shop_id": shop, "product_id": p.productID, "status": status, "skus": sku(withID)}
	}
	s.add(1, "create", w.ts(0), fields("ACTIVATE", !p.lateLink))
	// A late link: the GTIN appears with version 2, late in the stream,
	// and re-keys every earlier row of the product.
	s.add(2, "update", w.ts(days-1), fields("ACTIVATE", true))
	if p.deletedTT {
		s.add(3, "update", w.ts(days-1), fields("DELETED", true))
	}
	if w.staleIdentity && p.upc != "" {
		s.add(4, "update", w.ts(days-1), fields("ACTIVATE", true))
		s.add(3, "update", w.ts(days-1), fields("ACTIVATE", false))
	}
	s.done(false)
}

// salesTraffic writes Sales & Traffic per ASIN and day (marketplace zone)
// with restated days, deletes and, for seller-SKU products, the SKU.
func (w *world) salesTraffic(p *product) {
	for n, asin := range p.asins {
		for d := range days {
			// Day 0 is an anchor: never skipped or deleted, never zero,
			// the first ASIN in USD (a second ASIN sells in EUR).
			if w.rng.IntN(4) == 0 && d > 0 {
				continue
			}
			var sku any
			if p.sellerSKU != "" {
				sku = some(p.sellerSKU)
			}
			key := fmt.Sprintf("%s:%s:P%s:%s:%s", mkt, dayDate(d).Format(time.DateOnly), asin, asin, p.sellerSKU)
			s := w.seq("amazon.sales_traffic", key)
			versions := 1 + w.rng.IntN(3)
			for v := 1; v <= versions; v++ {
				cur := w.currency()
				if w.mixCurrencies && n > 0 {
					// A second ASIN sells in the other currency: where the
					// mapping puts it under one key with the first, its
					// days mix two.
					cur = "EUR"
				}
				if d == 0 && n == 0 {
					cur = "USD"
				}
				sessions := int64(1 + w.rng.IntN(200))
				op := "snapshot"
				if v == versions && v > 1 && w.rng.IntN(6) == 0 && d > 0 {
					op = "delete"
				}
				s.add(int64(v), op, w.ts(d+v-1), map[string]any{"marketplace_id": mkt, "date": dayDate(d),
					"date_time_zone": mktZone, "asin_granularity": "SKU", "parent_asin": "P" + asin, "child_asin": some(asin),
					"sku": sku, "currency_code": cur, "ordered_product_sales": big.NewRat(int64(1+w.rng.IntN(100000)), 100),
					"units_ordered": int64(1 + w.rng.IntN(20)), "sessions": sessions, "page_views": sessions + int64(w.rng.IntN(50))})
			}
			s.done(true)
		}
	}
}

// searchQuery writes weekly Search Query Performance per ASIN and query.
func (w *world) searchQuery(p *product) {
	for _, asin := range p.asins {
		for wk := range 2 {
			start := day0.AddDate(0, 0, 7*(wk-1))
			for q := range 1 + w.rng.IntN(2) {
				query := fmt.Sprintf("query %d", q)
				s := w.seq("amazon.search_query_performance", fmt.Sprintf("%s:WEEK:%s:%s:%s", mkt, start.Format(time.DateOnly), asin, query))
				for v := 1; v <= 1+w.rng.IntN(2); v++ {
					s.add(int64(v), "snapshot", w.ts(days-1), map[string]any{"marketplace_id": mkt, "report_period": "WEEK",
						"start_date": start, "end_date": start.AddDate(0, 0, 6), "date_time_zone": mktZone, "asin": asin,
						"search_query": query, "asin_impression_count": int64(1 + w.rng.IntN(10000)),
						"asin_click_count": int64(1 + w.rng.IntN(500)), "asin_purchase_count": int64(1 + w.rng.IntN(50))})
				}
				s.done(true)
			}
		}
	}
}

// searchTerms writes Brand Analytics search terms: weekly, and monthly for
// a few terms (a day covered by both shows the week), each with three
// clicked ASINs that may include a competitor's (no link: no row).
func (w *world) searchTerms(ps []*product) {
	var asins []string
	for _, p := range ps {
		asins = append(asins, p.asins...)
	}
	asins = append(asins, "B9COMPET01")
	periods := []struct {
		kind       string
		start, end time.Time
		terms      int
	}{
		{"WEEK", day0.AddDate(0, 0, -7), day0.AddDate(0, 0, -1), 6},
		{"WEEK", day0, day0.AddDate(0, 0, 6), 6},
		{"MONTH", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), 2},
	}
	for _, pd := range periods {
		for n := range pd.terms {
			term := fmt.Sprintf("term %d", n)
			s := w.seq("amazon.search_terms", fmt.Sprintf("%s:%s:%s:Amazon.com:%s", mkt, pd.kind, pd.start.Format(time.DateOnly), term))
			versions := 1 + w.rng.IntN(2)
			for v := 1; v <= versions; v++ {
				var clicked []any
				perm := w.rng.Perm(len(asins))[:3]
				if n == 0 && !slices.Contains(perm, 0) {
					// An anchor: product 0's ASIN (never deleted) is among
					// the clicked of every period's first term.
					perm[0] = 0
				}
				for r, i := range perm {
					clicked = append(clicked, map[string]any{"clicked_asin": asins[i], "click_share_rank": int64(r + 1),
						"click_share": float64(w.rng.IntN(1000)) / 1000, "conversion_share": float64(w.rng.IntN(1000)) / 1000})
				}
				op := "snapshot"
				if v == versions && v > 1 && w.rng.IntN(5) == 0 && n > 0 {
					op = "delete"
				}
				s.add(int64(v), op, w.ts(days-1), map[string]any{"marketplace_id": mkt, "report_period": pd.kind,
					"start_date": pd.start, "end_date": pd.end, "date_time_zone": mktZone, "department_name": "Amazon.com",
					"search_term": term, "search_frequency_rank": int64(1 + w.rng.IntN(100000)), "clicked_asins": clicked})
			}
			s.done(true)
		}
	}
}

// amazonOrders writes order lines; some are canceled later, some come
// without a purchase date and take it from the order header, which may
// arrive after them.
func (w *world) amazonOrders(p *product) {
	for _, asin := range p.asins {
		// Order 0 is an anchor: dated, never canceled (and, for a
		// product whose ASIN has two seller SKUs, sold under the second).
		for o := range 1 + w.rng.IntN(4) {
			order := fmt.Sprintf("111-%s-%d", asin, o)
			when := w.ts(w.rng.IntN(days))
			headerOnly := w.rng.IntN(3) == 0 && o > 0
			if headerOnly {
				w.seq("amazon.orders", mkt+":"+order).add(1, "create", when, map[string]any{"marketplace_id": mkt,
					"amazon_order_id": order, "purchase_date": when, "last_update_date": when, "order_status": "Unshipped",
					"payment_method_details": []any{}}).done(false)
			}
			for item := range 1 + w.rng.IntN(2) {
				s := w.seq("amazon.order_items", fmt.Sprintf("%s:%s:%d", mkt, order, item))
				var sku any
				if p.sellerSKU != "" {
					sku = some(p.sellerSKU)
					if p.skuConflict && o == 0 {
						sku = some(p.sellerSKU + "-B")
					}
				}
				var date any
				if !headerOnly {
					date = map[string]any{"long.timestamp-millis": when}
				}
				fields := func(status string) map[string]any {
					return map[string]any{"marketplace_id": mkt, "amazon_order_id": order, "order_item_id": fmt.Sprint(item),
						"asin": asin, "seller_sku": sku, "quantity_ordered": int64(1),
						"purchase_date": date, "order_status": some(status)}
				}
				s.add(1, "create", when, fields("Unshipped"))
				if w.rng.IntN(4) == 0 && o > 0 {
					s.add(2, "update", when.Add(time.Hour), fields("Canceled"))
				}
				s.done(true)
			}
		}
	}
}

// tiktokOrders writes orders of the product's SKUs, one line per unit;
// some are cancelled, some deleted.
//
// Anchors: order 0 of every product is never cancelled or deleted and
// sells its first SKU (the one the mapping file joins); where the world
// mixes currencies, the first TikTok-only product also sells one in EUR
// on that day, next to its USD order 0.
func (w *world) tiktokOrders(p *product) {
	if p.productID == "" {
		return
	}
	n := 1 + len(p.skus)*w.rng.IntN(4)
	mixed := w.mixCurrencies && p.i == kindTikTokOnly
	if mixed {
		n = max(n, 2)
	}
	first := dayDate(w.rng.IntN(days)).Add(time.Duration(w.rng.IntN(23*60)) * time.Minute) // minutes later stay on its day
	for o := range n {
		anchor := o == 0 || mixed && o == 1
		order := fmt.Sprintf("58%06d%02d", p.i, o)
		when := w.ts(w.rng.IntN(days))
		var lines []any
		for l := range 1 + w.rng.IntN(3) {
			sku := p.skus[w.rng.IntN(len(p.skus))]
			if anchor && l == 0 {
				sku = p.skus[0]
			}
			lines = append(lines, map[string]any{"id": fmt.Sprintf("%s-%d", order, l), "product_id": p.productID,
				"sku_id": sku, "sale_price": dec(big.NewRat(int64(100+w.rng.IntN(5000)), 100))})
		}
		s := w.seq("tiktok.orders", shop+":"+order)
		cur := w.currency()
		if anchor {
			when, cur = first.Add(time.Duration(o)*time.Minute), "USD"
			if o == 1 {
				cur = "EUR"
			}
		}
		fields := func(status string) map[string]any {
			return map[string]any{"shop_id": shop, "order_id": order, "status": status, "create_time": when,
				"update_time": when, "payment_currency": some(cur), "line_items": lines}
		}
		s.add(1, "create", when, fields("AWAITING_SHIPMENT"))
		switch chaos := w.rng.IntN(6); {
		case anchor:
		case chaos == 0:
			s.add(2, "update", when.Add(time.Hour), fields("CANCELLED"))
		case chaos == 1:
			s.add(2, "delete", when.Add(time.Hour), fields("AWAITING_SHIPMENT"))
		}
		s.done(true)
	}
}

// Video kinds of a world (video v is of kind v % nVideoKinds). The first
// video of each kind is an anchor: no chaos removes what it plants (no
// delete of it, its snapshots or its first shop days), so every case
// below exists in every world, whatever the seed.
const (
	// Shop analytics report every metric on most days; snapshots too (posted
	// before the first day): views, likes, comments and shares measured by
	// the shop, watch time and saves spread in proportion to its views.
	vkShopAll = iota
	// Shop analytics report views only: likes, comments and shares come from
	// the snapshots, spread in proportion to the measured views over a
	// window that starts before the first shop day (days weighing 0).
	vkShopViews
	// No shop analytics: an organic video under the business's unlinked
	// key, its first snapshot spread evenly.
	vkOrganic
	// Shop analytics that list no product: the shop's unlinked key.
	vkShopNoProducts
	// Shop analytics only, no snapshot: measured figures alone.
	vkShopOnly
	// Snapshots without create_time: the post day comes from the shop's
	// video_post_time.
	vkShopPostTime
	nVideoKinds
)

// video writes a video's shop analytics (which products it shows, their
// GMV and measured figures per shop day, restated) and its lifetime
// engagement snapshots.
func (w *world) video(v int, ps []*product) {
	id := fmt.Sprintf("73%08d", v)
	kind, anchor := v%nVideoKinds, v < nVideoKinds
	var shown []string
	for range 1 + w.rng.IntN(w.maxShown) {
		p := ps[w.rng.IntN(len(ps))]
		pid := p.productID
		if pid == "" {
			// A product the shop API never listed: its video figures stay
			// under the product's fallback key.
			pid = fmt.Sprintf("16%08d", p.i)
		}
		if !contains(shown, pid) {
			shown = append(shown, pid)
		}
	}
	switch {
	case kind == vkShopNoProducts:
		shown = nil
	case anchor && kind == vkShopAll:
		// Two products, one with two SKUs (product 0, see build): several
		// keys, for the even split of attention and of a product's GMV.
		shown = []string{ps[0].productID, ps[nKinds].productID}
	case anchor && kind == vkShopViews:
		// A product the shop API never listed: the fallback key.
		shown = append(shown, fmt.Sprintf("16%08d", ps[kindAmazonOnly].i))
	}
	// Posted up to three days before the first day.
	posted := day0.AddDate(0, 0, -w.rng.IntN(4)).Add(-time.Duration(1+w.rng.IntN(20*60)) * time.Minute)
	if kind != vkOrganic {
		for d := range days {
			// Anchors keep their first two days: weights of a spread.
			firstDays := anchor && d < 2
			if w.rng.IntN(3) == 0 && !firstDays {
				continue
			}
			s := w.seq("tiktok.video_performance", fmt.Sprintf("%s:%s:%s", shop, id, dayDate(d).Format(time.DateOnly)))
			versions := 1 + w.rng.IntN(2)
			for ver := 1; ver <= versions; ver++ {
				cur := w.currency()
				prods := []any{}
				for n, pid := range shown {
					// In units of 0.0001, the schema's scale: an even split
					// then has remainders to hand out (an odd number of units
					// for the anchor's first product).
					units := int64(w.rng.IntN(2000000))
					if firstDays && n == 0 {
						units = 2*units + 1
					}
					prods = append(prods, map[string]any{"product_id": pid, "gmv": dec(big.NewRat(units, 10000))})
				}
				op := "snapshot"
				if ver == versions && ver > 1 && w.rng.IntN(8) == 0 && !firstDays {
					op = "delete"
				}
				views := int64(w.rng.IntN(5000))
				switch {
				case firstDays && d == 0:
					// 1 more than a multiple of 12: a remainder to hand out
					// under an even split among 2, 3 or 4 keys.
					views = 12*views + 1
				case firstDays:
					views++ // a weight
				}
				f := map[string]any{"shop_id": shop, "video_id": id, "date": dayDate(d),
					"date_time_zone": shopZone, "currency": cur, "products": prods, "views": map[string]any{"long": views}}
				if kind == vkShopAll {
					f["likes"] = map[string]any{"long": int64(1 + w.rng.IntN(300))}
					f["comments"] = map[string]any{"long": int64(1 + w.rng.IntN(30))}
					f["shares"] = map[string]any{"long": int64(1 + w.rng.IntN(30))}
					f["product_impressions"] = map[string]any{"long": int64(1 + w.rng.IntN(2000))}
					f["product_clicks"] = map[string]any{"long": int64(1 + w.rng.IntN(90))}
				}
				if kind == vkShopPostTime || w.rng.IntN(2) == 0 {
					f["video_post_time"] = map[string]any{"long.timestamp-millis": posted}
				}
				s.add(int64(ver), op, w.ts(d+ver-1), f)
			}
			s.done(true)
		}
	}
	if kind == vkShopOnly {
		return
	}
	// Lifetime snapshots, a few a day, growing with an occasional dip (an
	// unlike) and a vanished watch time. The first one reports every
	// metric, saves 1: spread over at least two days, that unit is a
	// remainder. Anchors take two snapshots on their first day (a spread
	// and a delta on one day) from the second day of the world on, when
	// the shop has measured views on two days.
	s := w.seq("tiktok.video_engagement", business+":"+id)
	var views, likes, saves, shares, comments int64
	var watch float64
	ver := int64(0)
	for d := range days {
		n := w.rng.IntN(3)
		if anchor && ver == 0 {
			n = 0
			if d >= 1 {
				n = 2
			}
		}
		for range n {
			views += int64(1 + w.rng.IntN(1000))
			likes += int64(w.rng.IntN(100)) - 5
			saves += int64(w.rng.IntN(10))
			shares += int64(w.rng.IntN(10))
			comments += int64(w.rng.IntN(10))
			watch += float64(1+w.rng.IntN(100000)) / 8
			if ver == 0 {
				saves, likes = 1, max(likes, 1)
			}
			ver++
			f := map[string]any{"business_id": business, "item_id": id,
				"video_views": map[string]any{"long": views}, "likes": map[string]any{"long": max(likes, 0)},
				"favorites": map[string]any{"long": saves}, "shares": map[string]any{"long": shares}}
			if kind != vkShopPostTime {
				f["create_time"] = map[string]any{"long.timestamp-millis": posted}
			}
			if w.rng.IntN(4) != 0 || ver == 1 {
				f["total_time_watched"] = map[string]any{"double": watch}
			}
			if w.rng.IntN(3) != 0 || ver == 1 {
				f["comments"] = map[string]any{"long": comments}
			}
			s.add(ver, "snapshot", w.ts(d), f)
		}
	}
	if ver > 0 && w.rng.IntN(10) == 0 && !anchor {
		s.add(ver+1, "delete", w.ts(days-1), map[string]any{"business_id": business, "item_id": id})
		s.done(false)
		return
	}
	s.done(true)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// interleave merges the sequences at random, keeping each one's order.
func (w *world) interleave() []schematest.Input {
	var out []schematest.Input
	pos := make([]int, len(w.seqs))
	var live []int
	for i, s := range w.seqs {
		if len(s) > 0 {
			live = append(live, i)
		}
	}
	for len(live) > 0 {
		n := w.rng.IntN(len(live))
		i := live[n]
		out = append(out, w.seqs[i][pos[i]])
		pos[i]++
		if pos[i] == len(w.seqs[i]) {
			live = append(live[:n], live[n+1:]...)
		}
	}
	return out
}

// zones are the source time zones of the worlds; ZDAY expands over them.
var zones = []string{mktZone, shopZone}
