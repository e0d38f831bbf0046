package amazon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// modelFile reads one of Amazon's models embedded in the simulator's
// modelcheck package. modelcheck validates documents against the models but
// does not hand out their examples, so the test reads the file directly.
func modelFile(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("amazontest", "modelcheck", "models", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// examples returns the raw JSON of a report schema's own examples.
func examples(t testing.TB, name string) [][]byte {
	t.Helper()
	var out [][]byte
	exs, _ := modelFile(t, name)["examples"].([]any)
	for _, ex := range exs {
		b, err := json.Marshal(ex)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no examples", name)
	}
	return out
}

// responseExample returns an operation's 200 example from a Swagger model.
func responseExample(t testing.TB, model, path string) []byte {
	t.Helper()
	m := modelFile(t, model)
	ex := m["paths"].(map[string]any)[path].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)["examples"].(map[string]any)["application/json"]
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mapExamples parses every example of a report model and maps it, failing
// t on an error of either.
func mapExamples[T any](t *testing.T, model string, parse func([]byte) (*T, error), mapReport func(*T) ([]Record, error)) []Record {
	t.Helper()
	var recs []Record
	for i, b := range examples(t, model) {
		r, err := parse(b)
		if err != nil {
			t.Fatalf("%s example %d: %v", model, i, err)
		}
		out, err := mapReport(r)
		if err != nil {
			t.Fatalf("%s example %d: %v", model, i, err)
		}
		recs = append(recs, out...)
	}
	return recs
}

func TestParseModelExamples(t *testing.T) {
	m := Mapper{MarketplaceID: "ATVPDKIKX0DER", Zone: time.UTC}
	var recs []Record
	gen := time.Date(2021, 6, 15, 0, 0, 0, 0, time.UTC)
	recs = append(recs, mapExamples(t, "sellerSalesAndTrafficReport.json", ParseSalesAndTraffic, func(r *SalesAndTrafficReport) ([]Record, error) {
		return m.SalesTraffic(SalesTrafficDay{Day: Date{Year: 2021, Month: 6, Day: 11}, ReportDoc: ReportDoc[SalesAndTrafficReport]{ReportID: "ID323", Generated: gen, Report: r}})
	})...)
	terms := mapExamples(t, "sellingPartnerSearchTermsReport.json", ParseSearchTerms, func(r *SearchTermsReport) ([]Record, error) {
		return m.SearchTerms(SearchTermsPeriod{Period: Period{"WEEK", Date{Year: 2021, Month: 6, Day: 6}, Date{Year: 2021, Month: 6, Day: 12}}, ReportDoc: ReportDoc[SearchTermsReport]{Generated: gen, Report: r}})
	})
	if len(terms) == 0 || len(terms[0].Value["clicked_asins"].([]any)) < 2 {
		t.Fatalf("search terms not grouped: %+v", terms)
	}
	recs = append(recs, terms...)
	recs = append(recs, mapExamples(t, "sellingPartnerSearchQueryPerformanceReport.json", ParseSearchQueryPerformance, func(r *SearchQueryPerformanceReport) ([]Record, error) {
		return m.SearchQueryPerformance(SQPBatch{Period: Period{"WEEK", Date{Year: 2025, Month: 1, Day: 5}, Date{Year: 2025, Month: 1, Day: 11}}, ReportDoc: ReportDoc[SearchQueryPerformanceReport]{Generated: gen, Report: r}})
	})...)
	var orders getOrdersResponse
	if err := json.Unmarshal(responseExample(t, "ordersV0.json", "/orders/v0/orders"), &orders); err != nil {
		t.Fatal(err)
	}
	for _, o := range orders.Payload.Orders {
		r, err := m.Order(o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Key != "ATVPDKIKX0DER:902-3159896-1390916" {
			t.Fatalf("key %q", r.Key)
		}
		recs = append(recs, r)
	}
	var items getOrderItemsResponse
	if err := json.Unmarshal(responseExample(t, "ordersV0.json", "/orders/v0/orders/{orderId}/orderItems"), &items); err != nil {
		t.Fatal(err)
	}
	for _, l := range apiLines(orders.Payload.Orders[0], items.Payload.OrderItems) {
		r, err := m.OrderItem(orders.Payload.Orders[0], l)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var item CatalogItem
	if err := json.Unmarshal(responseExample(t, "catalogItems_2022-04-01.json", "/catalog/2022-04-01/items/{asin}"), &item); err != nil {
		t.Fatal(err)
	}
	r, err := m.CatalogItem(item, gen)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Value["identifiers"].([]any)) == 0 || len(r.Value["classification_ranks"].([]any)) == 0 {
		t.Fatalf("catalog example mapped without identifiers or ranks: %v", r.Value)
	}
	recs = append(recs, r)
	encodeAll(t, recs)
	topics := map[string]bool{}
	for _, r := range recs {
		topics[r.Topic] = true
	}
	if len(topics) != 6 {
		t.Fatalf("topics covered: %v", topics)
	}
}

func TestParsersRejectBadInputClearly(t *testing.T) {
	for name, c := range map[string]struct {
		parse func([]byte) error
		in    string
		want  string
	}{
		"st not json":       {func(b []byte) error { _, err := ParseSalesAndTraffic(b); return err }, `{"salesAndTrafficByAsin":[`, "parse sales and traffic"},
		"st no parent":      {func(b []byte) error { _, err := ParseSalesAndTraffic(b); return err }, `{"salesAndTrafficByAsin":[{"salesByAsin":{"orderedProductSales":{"amount":1,"currencyCode":"USD"}}}]}`, "parentAsin is missing"},
		"st huge exponent":  {func(b []byte) error { _, err := ParseSalesAndTraffic(b); return err }, `{"salesAndTrafficByAsin":[{"parentAsin":"B1","salesByAsin":{"orderedProductSales":{"amount":1e999999999,"currencyCode":"USD"}}}]}`, "not a decimal"},
		"st trailing":       {func(b []byte) error { _, err := ParseSalesAndTraffic(b); return err }, `{} {}`, "trailing"},
		"terms missing":     {func(b []byte) error { _, err := ParseSearchTerms(b); return err }, `{"dataByDepartmentAndSearchTerm":[{"departmentName":"x"}]}`, "searchTerm is missing"},
		"sqp bad date":      {func(b []byte) error { _, err := ParseSearchQueryPerformance(b); return err }, `{"dataByAsin":[{"asin":"B1","startDate":"soon","endDate":"2025-01-11","searchQueryData":{"searchQuery":"q"}}]}`, "not a date"},
		"flat no header":    {func(b []byte) error { _, err := ParseAllOrdersFlatFile(b); return err }, ``, "no header"},
		"flat missing col":  {func(b []byte) error { _, err := ParseAllOrdersFlatFile(b); return err }, "amazon-order-id\tsku\n1\t2\n", "column"},
		"flat short line":   {func(b []byte) error { _, err := ParseAllOrdersFlatFile(b); return err }, flatHeader + "\n111-1\tx\n", "line 2 has 2 fields"},
		"flat bad quantity": {func(b []byte) error { _, err := ParseAllOrdersFlatFile(b); return err }, flatHeader + "\n" + strings.Replace(flatLine, "\t2\t", "\ttwo\t", 1) + "\n", "quantity"},
	} {
		err := c.parse([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, c.want)
		}
	}
	lines, err := ParseAllOrdersFlatFile([]byte(flatHeader + "\r\n" + flatLine + "\r\n\r\n"))
	if err != nil || len(lines) != 1 || lines[0].Quantity != 2 || lines[0].ItemPromotionDiscount != "-1.00" || lines[0].OrderStatus != "Cancelled" {
		t.Fatalf("%v %+v", err, lines)
	}
}

const flatHeader = "amazon-order-id\tmerchant-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\tsales-channel\torder-channel\tship-service-level\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\titem-tax\tshipping-price\tshipping-tax\tgift-wrap-price\tgift-wrap-tax\titem-promotion-discount\tship-promotion-discount\tship-city\tship-state\tship-postal-code\tship-country\tpromotion-ids\tis-business-order\tpurchase-order-number\tprice-designation"

const flatLine = "111-0000000-0000001\t111-0000000-0000001\t2026-01-01T00:00:05+00:00\t2026-01-01T01:00:00+00:00\tCancelled\tMerchant\tAmazon.com\t\tStd\tMug, Blue\tSKU-1\tB000000001\tCancelled\t2\tUSD\t20.00\t1.60\t4.99\t0.40\t\t\t-1.00\t\tSeattle\tWA\t98101\tUS\t\tfalse\t\t"

func TestRound4(t *testing.T) {
	for in, want := range map[string]string{"12.34565": "12.3457", "-12.34565": "-12.3457", "1.00004": "1.0000", "0": "0.0000", "-0.00005": "-0.0001"} {
		r, err := decimal4(in)
		if err != nil || r.FloatString(4) != want {
			t.Errorf("decimal4(%s) = %v, %v; want %s", in, r, err, want)
		}
	}
}

func TestSchedules(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	// Saturday 2026-01-10 is the last day of the week of Sunday 01-04.
	since := Date{Year: 2026, Month: 1, Day: 1}
	weeks := CompleteWeeks(since, Date{Year: 2026, Month: 1, Day: 10}.End(la).Add(BrandAnalyticsLatency), la)
	if len(weeks) != 2 || weeks[0].Start != (Date{Year: 2025, Month: 12, Day: 28}) || weeks[1] != (Period{"WEEK", Date{Year: 2026, Month: 1, Day: 4}, Date{Year: 2026, Month: 1, Day: 10}}) {
		t.Fatalf("weeks %+v", weeks)
	}
	if w := CompleteWeeks(since, Date{Year: 2026, Month: 1, Day: 10}.End(la).Add(BrandAnalyticsLatency-time.Second), la); len(w) != 1 {
		t.Fatalf("unpublished week included: %+v", w)
	}
	now := Date{Year: 2026, Month: 1, Day: 10}.Start(la).Add(6 * time.Hour)
	days := SalesTrafficDays(since, time.Time{}, now, la, 0)
	if len(days) != 9 || days[8] != (Date{Year: 2026, Month: 1, Day: 9}) {
		t.Fatalf("first run: %v", days)
	}
	// Twelve hours later only days still within 72 h of their end at the
	// previous run are read again.
	days = SalesTrafficDays(since, now, now.Add(12*time.Hour), la, 0)
	if len(days) != 3 || days[0] != (Date{Year: 2026, Month: 1, Day: 7}) {
		t.Fatalf("second run: %v", days)
	}
	batches := BatchASINs(strings.Fields(strings.Repeat("B0123456789 ", 40)))
	for _, b := range batches {
		if n := len(strings.Join(b, " ")); n > 200 {
			t.Fatalf("batch of %d characters", n)
		}
	}
	if len(batches) != 3 {
		t.Fatalf("%d batches", len(batches))
	}
}
