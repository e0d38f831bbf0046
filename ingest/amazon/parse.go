package amazon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// isoLayouts are the ISO 8601 forms SP-API and its flat files use.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00"}

// parseTime parses an SP-API ISO 8601 date-time; a value without a zone is UTC.
func parseTime(s string) (time.Time, error) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time", clip(s))
}

// parseDate parses a report date, "2006-01-02".
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", clip(s))
	}
	return t, nil
}

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	s = s[:64]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// parseDecimal parses decimal text exactly. It refuses exponents beyond
// ±40 and overlong text, because big.Rat would otherwise build a number of
// any size a hostile document asks for.
func parseDecimal(s string) (*big.Rat, error) {
	if s == "" || len(s) > 64 {
		return nil, fmt.Errorf("%q is not a decimal", clip(s))
	}
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		e, err := strconv.Atoi(exp)
		if err != nil || e < -40 || e > 40 {
			return nil, fmt.Errorf("%q is not a decimal in range", clip(s))
		}
	}
	digits := 0
	for i, r := range mant {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' || (i == 0 && (r == '-' || r == '+')):
		default:
			return nil, fmt.Errorf("%q is not a decimal", clip(s))
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || digits == 0 {
		return nil, fmt.Errorf("%q is not a decimal", clip(s))
	}
	return r, nil
}

// Amount is a report document's money: a JSON number read as decimal text,
// never through a float.
type Amount struct {
	Amount       json.Number `json:"amount"`
	CurrencyCode string      `json:"currencyCode"`
}

// Rat returns the amount as an exact decimal.
func (a Amount) Rat() (*big.Rat, error) { return parseDecimal(a.Amount.String()) }

// ReportSpecification is the header of a JSON report document.
type ReportSpecification struct {
	ReportType     string            `json:"reportType"`
	ReportOptions  map[string]string `json:"reportOptions"`
	DataStartTime  string            `json:"dataStartTime"`
	DataEndTime    string            `json:"dataEndTime"`
	MarketplaceIDs []string          `json:"marketplaceIds"`
}

// SalesAndTrafficReport is a GET_SALES_AND_TRAFFIC_REPORT document
// (sellerSalesAndTrafficReport.json). The by-date section is not recorded by
// shopstream and is kept raw.
type SalesAndTrafficReport struct {
	ReportSpecification   ReportSpecification  `json:"reportSpecification"`
	SalesAndTrafficByDate []json.RawMessage    `json:"salesAndTrafficByDate"`
	SalesAndTrafficByAsin []SalesTrafficByAsin `json:"salesAndTrafficByAsin"`
}

// SalesTrafficByAsin is one salesAndTrafficByAsin row.
type SalesTrafficByAsin struct {
	ParentAsin    string        `json:"parentAsin"`
	ChildAsin     string        `json:"childAsin,omitempty"`
	SKU           string        `json:"sku,omitempty"`
	SalesByAsin   SalesByAsin   `json:"salesByAsin"`
	TrafficByAsin TrafficByAsin `json:"trafficByAsin"`
}

// SalesByAsin is a row's sales; B2B fields are absent for sellers without
// Amazon Business.
type SalesByAsin struct {
	UnitsOrdered           int64   `json:"unitsOrdered"`
	UnitsOrderedB2B        *int64  `json:"unitsOrderedB2B"`
	OrderedProductSales    Amount  `json:"orderedProductSales"`
	OrderedProductSalesB2B *Amount `json:"orderedProductSalesB2B"`
	TotalOrderItems        int64   `json:"totalOrderItems"`
	TotalOrderItemsB2B     *int64  `json:"totalOrderItemsB2B"`
}

// TrafficByAsin is a row's traffic. Percentages are in percent (0–100).
type TrafficByAsin struct {
	BrowserSessions                 int64    `json:"browserSessions"`
	BrowserSessionsB2B              *int64   `json:"browserSessionsB2B"`
	MobileAppSessions               int64    `json:"mobileAppSessions"`
	MobileAppSessionsB2B            *int64   `json:"mobileAppSessionsB2B"`
	Sessions                        int64    `json:"sessions"`
	SessionsB2B                     *int64   `json:"sessionsB2B"`
	BrowserSessionPercentage        float64  `json:"browserSessionPercentage"`
	BrowserSessionPercentageB2B     *float64 `json:"browserSessionPercentageB2B"`
	MobileAppSessionPercentage      float64  `json:"mobileAppSessionPercentage"`
	MobileAppSessionPercentageB2B   *float64 `json:"mobileAppSessionPercentageB2B"`
	SessionPercentage               float64  `json:"sessionPercentage"`
	SessionPercentageB2B            *float64 `json:"sessionPercentageB2B"`
	BrowserPageViews                int64    `json:"browserPageViews"`
	BrowserPageViewsB2B             *int64   `json:"browserPageViewsB2B"`
	MobileAppPageViews              int64    `json:"mobileAppPageViews"`
	MobileAppPageViewsB2B           *int64   `json:"mobileAppPageViewsB2B"`
	PageViews                       int64    `json:"pageViews"`
	PageViewsB2B                    *int64   `json:"pageViewsB2B"`
	BrowserPageViewsPercentage      float64  `json:"browserPageViewsPercentage"`
	BrowserPageViewsPercentageB2B   *float64 `json:"browserPageViewsPercentageB2B"`
	MobileAppPageViewsPercentage    float64  `json:"mobileAppPageViewsPercentage"`
	MobileAppPageViewsPercentageB2B *float64 `json:"mobileAppPageViewsPercentageB2B"`
	PageViewsPercentage             float64  `json:"pageViewsPercentage"`
	PageViewsPercentageB2B          *float64 `json:"pageViewsPercentageB2B"`
	BuyBoxPercentage                float64  `json:"buyBoxPercentage"`
	BuyBoxPercentageB2B             *float64 `json:"buyBoxPercentageB2B"`
	UnitSessionPercentage           float64  `json:"unitSessionPercentage"`
	UnitSessionPercentageB2B        *float64 `json:"unitSessionPercentageB2B"`
}

// decodeStrict decodes one JSON value and refuses trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// ParseSalesAndTraffic parses a GET_SALES_AND_TRAFFIC_REPORT document and
// checks what the mapping relies on: every row has a parentAsin and a valid
// orderedProductSales amount.
func ParseSalesAndTraffic(b []byte) (*SalesAndTrafficReport, error) {
	var r SalesAndTrafficReport
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("parse sales and traffic report: %w", err)
	}
	for i, row := range r.SalesAndTrafficByAsin {
		if row.ParentAsin == "" {
			return nil, fmt.Errorf("parse sales and traffic report: salesAndTrafficByAsin[%d]: parentAsin is missing", i)
		}
		if _, err := row.SalesByAsin.OrderedProductSales.Rat(); err != nil {
			return nil, fmt.Errorf("parse sales and traffic report: salesAndTrafficByAsin[%d] (%s): orderedProductSales: %w", i, clip(row.ParentAsin), err)
		}
		if a := row.SalesByAsin.OrderedProductSalesB2B; a != nil {
			if _, err := a.Rat(); err != nil {
				return nil, fmt.Errorf("parse sales and traffic report: salesAndTrafficByAsin[%d] (%s): orderedProductSalesB2B: %w", i, clip(row.ParentAsin), err)
			}
		}
	}
	return &r, nil
}

// SearchTermsReport is a GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT document.
type SearchTermsReport struct {
	ReportSpecification ReportSpecification `json:"reportSpecification"`
	Rows                []SearchTermRow     `json:"dataByDepartmentAndSearchTerm"`
}

// SearchTermRow is one dataByDepartmentAndSearchTerm row: one clicked ASIN of
// one search term.
type SearchTermRow struct {
	DepartmentName      string  `json:"departmentName"`
	SearchTerm          string  `json:"searchTerm"`
	SearchFrequencyRank int64   `json:"searchFrequencyRank"`
	ClickedAsin         string  `json:"clickedAsin"`
	ClickShareRank      int64   `json:"clickShareRank"`
	ClickShare          float64 `json:"clickShare"`
	ConversionShare     float64 `json:"conversionShare"`
}

// ParseSearchTerms parses a search terms report document; every field of a
// row is required by Amazon's schema.
func ParseSearchTerms(b []byte) (*SearchTermsReport, error) {
	var r SearchTermsReport
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("parse search terms report: %w", err)
	}
	for i, row := range r.Rows {
		switch {
		case row.DepartmentName == "":
			return nil, fmt.Errorf("parse search terms report: row %d: departmentName is missing", i)
		case row.SearchTerm == "":
			return nil, fmt.Errorf("parse search terms report: row %d: searchTerm is missing", i)
		case row.ClickedAsin == "":
			return nil, fmt.Errorf("parse search terms report: row %d: clickedAsin is missing", i)
		}
	}
	return &r, nil
}

// SearchQueryPerformanceReport is a
// GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT document.
type SearchQueryPerformanceReport struct {
	ReportSpecification ReportSpecification `json:"reportSpecification"`
	Rows                []SQPRow            `json:"dataByAsin"`
}

// SQPRow is one dataByAsin row: one search query of one ASIN.
type SQPRow struct {
	StartDate       string `json:"startDate"`
	EndDate         string `json:"endDate"`
	ASIN            string `json:"asin"`
	SearchQueryData struct {
		SearchQuery       string `json:"searchQuery"`
		SearchQueryScore  int64  `json:"searchQueryScore"`
		SearchQueryVolume int64  `json:"searchQueryVolume"`
	} `json:"searchQueryData"`
	ImpressionData struct {
		TotalQueryImpressionCount int64   `json:"totalQueryImpressionCount"`
		AsinImpressionCount       int64   `json:"asinImpressionCount"`
		AsinImpressionShare       float64 `json:"asinImpressionShare"`
	} `json:"impressionData"`
	ClickData struct {
		TotalClickCount                int64   `json:"totalClickCount"`
		TotalClickRate                 float64 `json:"totalClickRate"`
		AsinClickCount                 int64   `json:"asinClickCount"`
		AsinClickShare                 float64 `json:"asinClickShare"`
		TotalMedianClickPrice          *Amount `json:"totalMedianClickPrice"`
		AsinMedianClickPrice           *Amount `json:"asinMedianClickPrice"`
		TotalSameDayShippingClickCount int64   `json:"totalSameDayShippingClickCount"`
		TotalOneDayShippingClickCount  int64   `json:"totalOneDayShippingClickCount"`
		TotalTwoDayShippingClickCount  int64   `json:"totalTwoDayShippingClickCount"`
	} `json:"clickData"`
	CartAddData struct {
		TotalCartAddCount                int64   `json:"totalCartAddCount"`
		TotalCartAddRate                 float64 `json:"totalCartAddRate"`
		AsinCartAddCount                 int64   `json:"asinCartAddCount"`
		AsinCartAddShare                 float64 `json:"asinCartAddShare"`
		TotalMedianCartAddPrice          *Amount `json:"totalMedianCartAddPrice"`
		AsinMedianCartAddPrice           *Amount `json:"asinMedianCartAddPrice"`
		TotalSameDayShippingCartAddCount int64   `json:"totalSameDayShippingCartAddCount"`
		TotalOneDayShippingCartAddCount  int64   `json:"totalOneDayShippingCartAddCount"`
		TotalTwoDayShippingCartAddCount  int64   `json:"totalTwoDayShippingCartAddCount"`
	} `json:"cartAddData"`
	PurchaseData struct {
		TotalPurchaseCount                int64   `json:"totalPurchaseCount"`
		TotalPurchaseRate                 float64 `json:"totalPurchaseRate"`
		AsinPurchaseCount                 int64   `json:"asinPurchaseCount"`
		AsinPurchaseShare                 float64 `json:"asinPurchaseShare"`
		TotalMedianPurchasePrice          *Amount `json:"totalMedianPurchasePrice"`
		AsinMedianPurchasePrice           *Amount `json:"asinMedianPurchasePrice"`
		TotalSameDayShippingPurchaseCount int64   `json:"totalSameDayShippingPurchaseCount"`
		TotalOneDayShippingPurchaseCount  int64   `json:"totalOneDayShippingPurchaseCount"`
		TotalTwoDayShippingPurchaseCount  int64   `json:"totalTwoDayShippingPurchaseCount"`
	} `json:"purchaseData"`
}

func (r *SQPRow) prices() []*Amount {
	return []*Amount{r.ClickData.TotalMedianClickPrice, r.ClickData.AsinMedianClickPrice,
		r.CartAddData.TotalMedianCartAddPrice, r.CartAddData.AsinMedianCartAddPrice,
		r.PurchaseData.TotalMedianPurchasePrice, r.PurchaseData.AsinMedianPurchasePrice}
}

// ParseSearchQueryPerformance parses an SQP report document and checks each
// row's dates, ASIN, query and prices.
func ParseSearchQueryPerformance(b []byte) (*SearchQueryPerformanceReport, error) {
	var r SearchQueryPerformanceReport
	if err := decodeStrict(b, &r); err != nil {
		return nil, fmt.Errorf("parse search query performance report: %w", err)
	}
	for i := range r.Rows {
		row := &r.Rows[i]
		if row.ASIN == "" || row.SearchQueryData.SearchQuery == "" {
			return nil, fmt.Errorf("parse search query performance report: row %d: asin or searchQuery is missing", i)
		}
		for _, d := range []string{row.StartDate, row.EndDate} {
			if _, err := parseDate(d); err != nil {
				return nil, fmt.Errorf("parse search query performance report: row %d: %w", i, err)
			}
		}
		for _, a := range row.prices() {
			if a == nil {
				continue
			}
			if _, err := a.Rat(); err != nil {
				return nil, fmt.Errorf("parse search query performance report: row %d: %w", i, err)
			}
		}
	}
	return &r, nil
}

// FlatFileOrderLine is one line of the
// GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL report. The file has
// no order-item-id: a line is identified by (amazon-order-id, sku). Money is
// kept as the file's decimal text ("" when absent); discounts are negative.
type FlatFileOrderLine struct {
	AmazonOrderID         string
	MerchantOrderID       string
	PurchaseDate          time.Time
	LastUpdatedDate       time.Time
	OrderStatus           string
	FulfillmentChannel    string
	SalesChannel          string
	ShipServiceLevel      string
	ProductName           string
	SKU                   string
	ASIN                  string
	ItemStatus            string
	Quantity              int64
	Currency              string
	ItemPrice             string
	ItemTax               string
	ShippingPrice         string
	ShippingTax           string
	ItemPromotionDiscount string
	ShipPromotionDiscount string
	PromotionIDs          []string
	IsBusinessOrder       *bool
	PriceDesignation      string
}

// flatRequired are the columns a line cannot be used without.
var flatRequired = []string{"amazon-order-id", "purchase-date", "last-updated-date", "order-status", "sku", "asin", "quantity"}

// maxFlatLines bounds a flat file's lines, against a hostile document.
const maxFlatLines = 5_000_000

// ParseAllOrdersFlatFile parses the tab-separated all-orders report. Columns
// are found by header name, so added or reordered columns do not break it.
func ParseAllOrdersFlatFile(b []byte) ([]FlatFileOrderLine, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) == 0 || len(bytes.TrimSpace(lines[0])) == 0 {
		return nil, errors.New("parse all-orders flat file: no header line")
	}
	if len(lines) > maxFlatLines {
		return nil, fmt.Errorf("parse all-orders flat file: more than %d lines", maxFlatLines)
	}
	header := strings.Split(strings.TrimRight(string(lines[0]), "\r"), "\t")
	col := make(map[string]int, len(header))
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, r := range flatRequired {
		if _, ok := col[r]; !ok {
			return nil, fmt.Errorf("parse all-orders flat file: column %q is missing", r)
		}
	}
	var out []FlatFileOrderLine
	for n, raw := range lines[1:] {
		line := strings.TrimRight(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != len(header) {
			return nil, fmt.Errorf("parse all-orders flat file: line %d has %d fields, the header %d", n+2, len(f), len(header))
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(f[i])
			}
			return ""
		}
		l := FlatFileOrderLine{
			AmazonOrderID: get("amazon-order-id"), MerchantOrderID: get("merchant-order-id"),
			OrderStatus: get("order-status"), FulfillmentChannel: get("fulfillment-channel"),
			SalesChannel: get("sales-channel"), ShipServiceLevel: get("ship-service-level"),
			ProductName: get("product-name"), SKU: get("sku"), ASIN: get("asin"), ItemStatus: get("item-status"),
			Currency: get("currency"), ItemPrice: get("item-price"), ItemTax: get("item-tax"),
			ShippingPrice: get("shipping-price"), ShippingTax: get("shipping-tax"),
			ItemPromotionDiscount: get("item-promotion-discount"), ShipPromotionDiscount: get("ship-promotion-discount"),
			PriceDesignation: get("price-designation"),
		}
		bad := func(what string, err error) error {
			return fmt.Errorf("parse all-orders flat file: line %d (%s): %s: %w", n+2, clip(l.AmazonOrderID), what, err)
		}
		if l.AmazonOrderID == "" || l.ASIN == "" {
			return nil, bad("amazon-order-id and asin", errors.New("required"))
		}
		var err error
		if l.PurchaseDate, err = parseTime(get("purchase-date")); err != nil {
			return nil, bad("purchase-date", err)
		}
		if l.LastUpdatedDate, err = parseTime(get("last-updated-date")); err != nil {
			return nil, bad("last-updated-date", err)
		}
		if l.Quantity, err = strconv.ParseInt(get("quantity"), 10, 64); err != nil || l.Quantity < 0 {
			return nil, bad("quantity", fmt.Errorf("%q is not a count", clip(get("quantity"))))
		}
		for name, v := range map[string]string{"item-price": l.ItemPrice, "item-tax": l.ItemTax, "shipping-price": l.ShippingPrice,
			"shipping-tax": l.ShippingTax, "item-promotion-discount": l.ItemPromotionDiscount, "ship-promotion-discount": l.ShipPromotionDiscount} {
			if v == "" {
				continue
			}
			if _, err := parseDecimal(v); err != nil {
				return nil, bad(name, err)
			}
		}
		if p := get("promotion-ids"); p != "" {
			for _, id := range strings.Split(p, ",") {
				if id = strings.TrimSpace(id); id != "" {
					l.PromotionIDs = append(l.PromotionIDs, id)
				}
			}
		}
		switch strings.ToLower(get("is-business-order")) {
		case "true":
			t := true
			l.IsBusinessOrder = &t
		case "false":
			f := false
			l.IsBusinessOrder = &f
		}
		out = append(out, l)
	}
	return out, nil
}

// parseReason reads a FATAL report's reason document: JSON with an
// errorDetails field as Brand Analytics writes it, or plain text.
func parseReason(b []byte) string {
	var v struct {
		ErrorDetails string `json:"errorDetails"`
	}
	if json.Unmarshal(b, &v) == nil && v.ErrorDetails != "" {
		return clipN(v.ErrorDetails, 4096)
	}
	return clipN(strings.TrimSpace(string(b)), 4096)
}

func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}
