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

// fuzzReport fuzzes a report parser from the model's example document
// (and extra seeds), mapping what it accepts.
func fuzzReport[T any](f *testing.F, example string, parse func([]byte) (*T, error), mapReport func(*T), extra ...string) {
	addExamples(f, example)
	for _, b := range extra {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parse(b); err == nil {
			mapReport(r)
		}
	})
}

func FuzzParseSalesAndTraffic(f *testing.F) {
	fuzzReport(f, "sellerSalesAndTrafficReport.json", ParseSalesAndTraffic, func(r *SalesAndTrafficReport) {
		_, _ = fuzzMapper.SalesTraffic(SalesTrafficDay{Day: Date{Year: 2026, Month: 1, Day: 1}, ReportDoc: ReportDoc[SalesAndTrafficReport]{Report: r}})
	}, `{"salesAndTrafficByAsin":[{"parentAsin":"B1","salesByAsin":{"orderedProductSales":{"amount":"1e40","currencyCode":"USD"}}}]}`)
}

var fuzzWeek = Period{"WEEK", Date{Year: 2026, Month: 1, Day: 4}, Date{Year: 2026, Month: 1, Day: 10}}

func FuzzParseSearchTerms(f *testing.F) {
	fuzzReport(f, "sellingPartnerSearchTermsReport.json", ParseSearchTerms, func(r *SearchTermsReport) {
		_, _ = fuzzMapper.SearchTerms(SearchTermsPeriod{Period: fuzzWeek, ReportDoc: ReportDoc[SearchTermsReport]{Report: r}})
	})
}

func FuzzParseSearchQueryPerformance(f *testing.F) {
	fuzzReport(f, "sellingPartnerSearchQueryPerformanceReport.json", ParseSearchQueryPerformance, func(r *SearchQueryPerformanceReport) {
		_, _ = fuzzMapper.SearchQueryPerformance(SQPBatch{Period: fuzzWeek, ReportDoc: ReportDoc[SearchQueryPerformanceReport]{Report: r}})
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
