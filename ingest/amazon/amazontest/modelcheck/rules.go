package modelcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// The rules below are constraints the models state in prose (in
// descriptions and notes) that no schema keyword expresses, so Validate
// cannot catch a document that breaks them. Each quotes the text it
// enforces. They take a document as served and what was asked for, and
// return every violation found, joined.

// shippingAddressStatuses are the order statuses that carry ShippingAddress:
// "ShippingAddress is only available for orders with the following status
// values: Unshipped, PartiallyShipped, Shipped and InvoiceUnconfirmed"
// (ordersV0.json, Order.ShippingAddress).
var shippingAddressStatuses = map[string]bool{"Unshipped": true, "PartiallyShipped": true, "Shipped": true, "InvoiceUnconfirmed": true}

// CheckOrderRules checks a getOrders or getOrder response body: an order
// carries ShippingAddress only in the statuses the Orders model names.
func CheckOrderRules(body []byte) error {
	var doc struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("order response is not JSON: %w", err)
	}
	type order struct {
		AmazonOrderID   string          `json:"AmazonOrderId"`
		OrderStatus     string          `json:"OrderStatus"`
		ShippingAddress json.RawMessage `json:"ShippingAddress"`
	}
	var list struct {
		Orders []order `json:"Orders"`
	}
	var orders []order
	if err := json.Unmarshal(doc.Payload, &list); err == nil && list.Orders != nil {
		orders = list.Orders
	} else {
		var one order // getOrder: the payload is the order
		if err := json.Unmarshal(doc.Payload, &one); err != nil {
			return fmt.Errorf("order payload: %w", err)
		}
		orders = []order{one}
	}
	var errs []error
	for _, o := range orders {
		has := len(o.ShippingAddress) > 0 && string(o.ShippingAddress) != "null"
		if has && !shippingAddressStatuses[o.OrderStatus] {
			errs = append(errs, fmt.Errorf("order %s: ShippingAddress on a %s order; the model makes it available only for Unshipped, PartiallyShipped, Shipped and InvoiceUnconfirmed orders", o.AmazonOrderID, o.OrderStatus))
		}
	}
	return errors.Join(errs...)
}

// CheckCatalogMarketplaces checks a getCatalogItem body (an Item) or a
// searchCatalogItems body (ItemSearchResults): every marketplace-keyed
// dataset of every item is keyed to one of the marketplaces the request
// named ("marketplaceIds: A comma-delimited list of Amazon marketplace
// identifiers" the request is for; the datasets are "by marketplace").
func CheckCatalogMarketplaces(body []byte, asked []string) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("catalog response is not a JSON object: %w", err)
	}
	var items []map[string]json.RawMessage
	if raw, ok := doc["items"]; ok {
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Errorf("catalog items: %w", err)
		}
	} else {
		items = []map[string]json.RawMessage{doc}
	}
	want := map[string]bool{}
	for _, m := range asked {
		want[m] = true
	}
	var errs []error
	for _, it := range items {
		var asin string
		_ = json.Unmarshal(it["asin"], &asin)
		names := make([]string, 0, len(it))
		for k := range it {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			var byMarketplace []struct {
				MarketplaceID *string `json:"marketplaceId"`
			}
			if json.Unmarshal(it[name], &byMarketplace) != nil {
				continue // asin, attributes: not an array of marketplace entries
			}
			for _, e := range byMarketplace {
				if e.MarketplaceID != nil && !want[*e.MarketplaceID] {
					errs = append(errs, fmt.Errorf("item %s: %s keyed to marketplace %s, which the request did not ask for (asked %v)", asin, name, *e.MarketplaceID, asked))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// shareTolerance absorbs the rounding of shares to four decimals.
const shareTolerance = 0.0003

// CheckSearchTermsReport checks a GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT
// document (sellingPartnerSearchTermsReport.json):
//
//   - searchFrequencyRank is "the relative ranking of the searchTerm within
//     a departmentName": one rank per term, no two terms of a department
//     sharing one;
//   - clickShareRank is "the relative ranking of the clickedAsin based on
//     clickShare": 1, 2, 3 in order of falling clickShare, each once;
//   - clickShare is "the fraction of clicks that the product received
//     compared to the total clicks for the searchTerm within the
//     departmentName", and conversionShare "the fraction of conversions ...
//     in comparison to the total conversions": the shares of one term's
//     clicked ASINs are parts of one total, so each is in [0, 1] and they
//     sum to at most 1.
func CheckSearchTermsReport(doc []byte) error {
	var d struct {
		Rows []struct {
			Department      string  `json:"departmentName"`
			Term            string  `json:"searchTerm"`
			FrequencyRank   int64   `json:"searchFrequencyRank"`
			ASIN            string  `json:"clickedAsin"`
			ClickShareRank  int64   `json:"clickShareRank"`
			ClickShare      float64 `json:"clickShare"`
			ConversionShare float64 `json:"conversionShare"`
		} `json:"dataByDepartmentAndSearchTerm"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("search terms document: %w", err)
	}
	type termKey struct{ dept, term string }
	type term struct {
		rank              int64
		ranks             []int64
		shareByRank       map[int64]float64
		clicks, converted float64
	}
	terms := map[termKey]*term{}
	var order []termKey
	var errs []error
	for _, r := range d.Rows {
		k := termKey{r.Department, r.Term}
		t, ok := terms[k]
		if !ok {
			t = &term{rank: r.FrequencyRank, shareByRank: map[int64]float64{}}
			terms[k] = t
			order = append(order, k)
		}
		if r.FrequencyRank != t.rank {
			errs = append(errs, fmt.Errorf("%q in %q: searchFrequencyRank %d and %d in one period", r.Term, r.Department, t.rank, r.FrequencyRank))
		}
		if _, dup := t.shareByRank[r.ClickShareRank]; dup {
			errs = append(errs, fmt.Errorf("%q in %q: clickShareRank %d twice", r.Term, r.Department, r.ClickShareRank))
		}
		t.ranks = append(t.ranks, r.ClickShareRank)
		t.shareByRank[r.ClickShareRank] = r.ClickShare
		for _, s := range []struct {
			name string
			v    float64
		}{{"clickShare", r.ClickShare}, {"conversionShare", r.ConversionShare}} {
			if s.v < 0 || s.v > 1 {
				errs = append(errs, fmt.Errorf("%q in %q, %s: %s %v is not a fraction", r.Term, r.Department, r.ASIN, s.name, s.v))
			}
		}
		t.clicks += r.ClickShare
		t.converted += r.ConversionShare
	}
	byRank := map[string]map[int64]string{}
	for _, k := range order {
		t := terms[k]
		if t.clicks > 1+shareTolerance {
			errs = append(errs, fmt.Errorf("%q in %q: clickShare of the clicked ASINs sums to %.4f, more than the whole", k.term, k.dept, t.clicks))
		}
		if t.converted > 1+shareTolerance {
			errs = append(errs, fmt.Errorf("%q in %q: conversionShare of the clicked ASINs sums to %.4f, more than the whole", k.term, k.dept, t.converted))
		}
		sort.Slice(t.ranks, func(i, j int) bool { return t.ranks[i] < t.ranks[j] })
		for i, r := range t.ranks {
			if r != int64(i+1) {
				errs = append(errs, fmt.Errorf("%q in %q: clickShareRanks %v, want 1..%d", k.term, k.dept, t.ranks, len(t.ranks)))
				break
			}
			if i > 0 && t.shareByRank[r] > t.shareByRank[r-1] {
				errs = append(errs, fmt.Errorf("%q in %q: clickShareRank %d has clickShare %v, above rank %d's %v", k.term, k.dept, r, t.shareByRank[r], r-1, t.shareByRank[r-1]))
			}
		}
		if byRank[k.dept] == nil {
			byRank[k.dept] = map[int64]string{}
		}
		if other, dup := byRank[k.dept][t.rank]; dup {
			errs = append(errs, fmt.Errorf("%q and %q share searchFrequencyRank %d in %q; it is a ranking", other, k.term, t.rank, k.dept))
		}
		byRank[k.dept][t.rank] = k.term
	}
	return errors.Join(errs...)
}
