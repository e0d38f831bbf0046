package modelcheck

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSearchTermsRulesOnModelExamples: the Search Terms schema's own
// examples keep the rules (one rank per term, unique within a department,
// click share ranks in order, shares parts of one total); documents that
// break each rule are reported, naming the rule.
func TestSearchTermsRulesOnModelExamples(t *testing.T) {
	m := load(t, "sellingPartnerSearchTermsReport.json")
	examples, _ := m.root["examples"].([]any)
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	for i, ex := range examples {
		b, _ := json.Marshal(ex)
		if err := CheckSearchTermsReport(b); err != nil {
			t.Errorf("example %d: %v", i, err)
		}
	}
	row := func(dept, term string, rank, csr int, click, conv float64) string {
		b, _ := json.Marshal(map[string]any{"departmentName": dept, "searchTerm": term, "searchFrequencyRank": rank,
			"clickedAsin": "B0" + term[:1] + "000000" + string(rune('0'+csr)), "clickShareRank": csr, "clickShare": click, "conversionShare": conv})
		return string(b)
	}
	doc := func(rows ...string) []byte {
		return []byte(`{"dataByDepartmentAndSearchTerm":[` + strings.Join(rows, ",") + `]}`)
	}
	cases := map[string]struct {
		doc  []byte
		want string
	}{
		"conversion shares above the whole (issue 8's example)": {doc(
			row("Amazon.com", "serum", 10, 1, 0.3, 0.4745), row("Amazon.com", "serum", 10, 2, 0.2, 0.3155), row("Amazon.com", "serum", 10, 3, 0.1, 0.2427)),
			"conversionShare of the clicked ASINs sums to 1.0327"},
		"click shares above the whole": {doc(
			row("Amazon.com", "serum", 10, 1, 0.6, 0.1), row("Amazon.com", "serum", 10, 2, 0.5, 0.1)),
			"clickShare of the clicked ASINs sums to 1.1000"},
		"two terms share a rank": {doc(
			row("Amazon.com", "serum", 10, 1, 0.3, 0.3), row("Amazon.com", "toner", 10, 1, 0.3, 0.3)),
			`"serum" and "toner" share searchFrequencyRank 10`},
		"one term, two ranks": {doc(
			row("Amazon.com", "serum", 10, 1, 0.3, 0.3), row("Amazon.com", "serum", 11, 2, 0.2, 0.2)),
			"searchFrequencyRank 10 and 11 in one period"},
		"click share ranks out of order": {doc(
			row("Amazon.com", "serum", 10, 1, 0.1, 0.1), row("Amazon.com", "serum", 10, 2, 0.3, 0.2)),
			"clickShareRank 2 has clickShare 0.3"},
		"a share that is no fraction": {doc(row("Amazon.com", "serum", 10, 1, 0.3, 1.2)), "is not a fraction"},
	}
	for name, c := range cases {
		err := CheckSearchTermsReport(c.doc)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
	// The same rank in two departments is fine: ranks are per department.
	if err := CheckSearchTermsReport(doc(row("Amazon.com", "serum", 10, 1, 0.3, 0.3), row("Beauty", "toner", 10, 1, 0.3, 0.3))); err != nil {
		t.Errorf("ranks of two departments: %v", err)
	}
}

// TestOrderRules: ShippingAddress only on the statuses the Orders model
// names. Amazon's own getOrders example shows it on a Pending order,
// against the note on the field; the rule follows the note, and so reports
// the example.
func TestOrderRules(t *testing.T) {
	m := load(t, "ordersV0.json")
	ex := dig(m.root, "paths", "/orders/v0/orders", "get", "responses", "200", "examples", "application/json")
	b, _ := json.Marshal(ex)
	if err := CheckOrderRules(b); err == nil || !strings.Contains(err.Error(), "ShippingAddress on a Pending order") {
		t.Errorf("model example (Pending with ShippingAddress): %v", err)
	}
	for status, ok := range map[string]bool{"Pending": false, "Canceled": false, "Unshipped": true, "PartiallyShipped": true, "Shipped": true, "InvoiceUnconfirmed": true} {
		order := `{"AmazonOrderId":"1","OrderStatus":"` + status + `","ShippingAddress":{"City":"X"}}`
		for _, body := range []string{`{"payload":{"Orders":[` + order + `]}}`, `{"payload":` + order + `}`} {
			if err := CheckOrderRules([]byte(body)); (err == nil) != ok {
				t.Errorf("%s: %s: %v", status, body, err)
			}
		}
		if err := CheckOrderRules([]byte(`{"payload":{"Orders":[{"AmazonOrderId":"1","OrderStatus":"` + status + `"}]}}`)); err != nil {
			t.Errorf("%s without an address: %v", status, err)
		}
	}
}

// TestCatalogMarketplaceRule: datasets keyed to a marketplace the request
// did not name are reported, for a single item and for search results.
func TestCatalogMarketplaceRule(t *testing.T) {
	item := `{"asin":"B000000001","attributes":{},"summaries":[{"marketplaceId":"ATVPDKIKX0DER","itemName":"x"}],"salesRanks":[{"marketplaceId":"ATVPDKIKX0DER"}]}`
	if err := CheckCatalogMarketplaces([]byte(item), []string{"ATVPDKIKX0DER"}); err != nil {
		t.Errorf("matching marketplace: %v", err)
	}
	err := CheckCatalogMarketplaces([]byte(item), []string{"A1F83G8C2ARO7P"})
	if err == nil || !strings.Contains(err.Error(), "salesRanks keyed to marketplace ATVPDKIKX0DER") || !strings.Contains(err.Error(), "summaries keyed") {
		t.Errorf("other marketplace asked: %v", err)
	}
	search := `{"numberOfResults":1,"items":[` + item + `]}`
	if err := CheckCatalogMarketplaces([]byte(search), []string{"A1F83G8C2ARO7P"}); err == nil {
		t.Error("search results keyed to another marketplace accepted")
	}
}
