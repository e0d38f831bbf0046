package amazon

import (
	"testing"
	"time"
)

// The fuzz targets' seed corpora (f.Add below: the models' examples, a
// simulator document shape, and broken variants) run as normal tests.
// Each target checks that the parser never panics, and that what it
// accepts maps to records without panicking either.

func addExamples(f *testing.F, name string) {
	for _, b := range examples(f, name) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(``))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"reportSpecification":{}}`))
}

var fuzzMapper = Mapper{MarketplaceID: "ATVPDKIKX0DER", Zone: time.UTC}

func FuzzParseSalesAndTraffic(f *testing.F) {
	addExamples(f, "sellerSalesAndTrafficReport.json")
	f.Add([]byte(`{"salesAndTrafficByAsin":[{"parentAsin":"B1","salesByAsin":{"orderedProductSales":{"amount":"1e40","currencyCode":"USD"}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSalesAndTraffic(b)
		if err != nil {
			return
		}
		_, _ = fuzzMapper.SalesTraffic(SalesTrafficDay{Day: Date{2026, 1, 1}, Report: r})
	})
}

func FuzzParseSearchTerms(f *testing.F) {
	addExamples(f, "sellingPartnerSearchTermsReport.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSearchTerms(b)
		if err != nil {
			return
		}
		_, _ = fuzzMapper.SearchTerms(SearchTermsPeriod{Period: Period{"WEEK", Date{2026, 1, 4}, Date{2026, 1, 10}}, Report: r})
	})
}

func FuzzParseSearchQueryPerformance(f *testing.F) {
	addExamples(f, "sellingPartnerSearchQueryPerformanceReport.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSearchQueryPerformance(b)
		if err != nil {
			return
		}
		_, _ = fuzzMapper.SearchQueryPerformance(SQPBatch{Period: Period{"WEEK", Date{2026, 1, 4}, Date{2026, 1, 10}}, Report: r})
	})
}

func FuzzParseAllOrdersFlatFile(f *testing.F) {
	f.Add([]byte(flatHeader + "\n" + flatLine + "\n"))
	f.Add([]byte(flatHeader + "\r\n" + flatLine))
	f.Add([]byte("\xef\xbb\xbf" + flatHeader + "\n"))
	f.Add([]byte(flatHeader + "\n" + flatLine[:40]))
	f.Add([]byte("amazon-order-id\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := ParseAllOrdersFlatFile(b)
		if err != nil {
			return
		}
		byOrder := map[string][]FlatFileOrderLine{}
		for _, l := range lines {
			byOrder[l.AmazonOrderID] = append(byOrder[l.AmazonOrderID], l)
		}
		for id, ls := range byOrder {
			o := Order{AmazonOrderID: id, PurchaseDate: "2026-01-01T00:00:00Z", LastUpdateDate: "2026-01-01T00:00:00Z", OrderStatus: "Shipped"}
			out, ok := reportServes(o, ls)
			if !ok {
				continue
			}
			for _, l := range out {
				_, _ = fuzzMapper.OrderItem(o, l)
			}
		}
	})
}
