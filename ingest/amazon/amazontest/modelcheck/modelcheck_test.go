package modelcheck

import (
	"encoding/json"
	"strings"
	"testing"
)

func load(t *testing.T, name string) *Model {
	t.Helper()
	m, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The models' own examples must validate: that proves the validator reads the
// subset of the schema language the models use correctly.
func TestModelExamplesValidate(t *testing.T) {
	for _, name := range []string{"sellerSalesAndTrafficReport.json", "sellingPartnerSearchQueryPerformanceReport.json", "sellingPartnerSearchTermsReport.json"} {
		m := load(t, name)
		examples, _ := m.root["examples"].([]any)
		if len(examples) == 0 {
			t.Fatalf("%s: no examples", name)
		}
		for i, ex := range examples {
			b, _ := json.Marshal(ex)
			err := m.Validate(b, "")
			// Amazon's S&T example misspells one field ("browerPageViews")
			// and so omits a required one; everything else must pass.
			if err != nil && !(name == "sellerSalesAndTrafficReport.json" && strings.Contains(err.Error(), "browserPageViews")) {
				t.Errorf("%s example %d: %v", name, i, err)
			}
		}
	}
}

func TestViolationsAreFound(t *testing.T) {
	m := load(t, "ordersV0.json")
	ref, err := m.ResponseRef("/orders/v0/orders", "GET", 200)
	if err != nil || ref != "#/definitions/GetOrdersResponse" {
		t.Fatalf("ResponseRef = %q, %v", ref, err)
	}
	good := `{"payload":{"Orders":[{"AmazonOrderId":"902-3159896-1390916","PurchaseDate":"2017-01-20T19:49:35Z","LastUpdateDate":"2017-01-20T19:49:35Z","OrderStatus":"Pending","NumberOfItemsShipped":0}]}}`
	if err := m.Validate([]byte(good), ref); err != nil {
		t.Fatalf("valid document rejected: %v", err)
	}
	cases := map[string]string{
		"missing required": `{"payload":{"Orders":[{"AmazonOrderId":"x","PurchaseDate":"a","LastUpdateDate":"b"}]}}`,
		"wrong type":       `{"payload":{"Orders":[{"AmazonOrderId":1,"PurchaseDate":"a","LastUpdateDate":"b","OrderStatus":"Pending"}]}}`,
		"bad enum":         `{"payload":{"Orders":[{"AmazonOrderId":"x","PurchaseDate":"a","LastUpdateDate":"b","OrderStatus":"Cancelled"}]}}`,
		"float as integer": `{"payload":{"Orders":[{"AmazonOrderId":"x","PurchaseDate":"a","LastUpdateDate":"b","OrderStatus":"Pending","NumberOfItemsShipped":1.5}]}}`,
	}
	for name, doc := range cases {
		if err := m.Validate([]byte(doc), ref); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	m.Strict = true
	if err := m.Validate([]byte(`{"payload":{"Orders":[],"Nexttoken":"x"}}`), ref); err == nil {
		t.Error("strict mode accepted an undefined property")
	}
}
