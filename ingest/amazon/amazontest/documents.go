package amazontest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

type generated struct {
	fatal       string // non-empty: the report ends FATAL with this reason
	empty       bool   // no data: the report is cancelled
	contentType string
	body        []byte
}

// generate builds a report's document as of the report's processing end.
func (s *Simulator) generate(rep *report) generated {
	switch rep.spec.ReportType {
	case ReportSalesAndTraffic:
		return s.salesAndTraffic(rep)
	case ReportSearchTerms:
		return s.searchTerms(rep)
	case ReportSearchQueryPerformance:
		return s.searchQueryPerformance(rep)
	case ReportAllOrdersByLastUpdate:
		return s.allOrdersByLastUpdate(rep)
	}
	return generated{fatal: "Unsupported report type."}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func jsonDoc(v any) generated {
	b, err := json.Marshal(v)
	if err != nil {
		return generated{fatal: "internal error: " + err.Error()}
	}
	return generated{contentType: "application/json", body: b}
}

// amount is the report documents' money: a JSON number. It is written from the
// exact decimal string, so no float rounding creeps in.
type amount struct {
	Amount       json.Number `json:"amount"`
	CurrencyCode string      `json:"currencyCode"`
}

func (s *Simulator) amount(m simworld.Money) amount {
	return amount{Amount: json.Number(m.String()), CurrencyCode: s.World().Config().Currency}
}

func pct(part, total int) float64 {
	if total == 0 {
		return 0
	}
	return round2(float64(part) / float64(total) * 100)
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round2(a / b)
}

func (s *Simulator) singleMarketplace(rep *report) string {
	if len(rep.spec.MarketplaceIDs) != 1 {
		return "This report type supports only one marketplaceId per report."
	}
	if rep.spec.MarketplaceIDs[0] != s.World().Config().MarketplaceID {
		return "The marketplaceId must match the marketplace of the seller's account."
	}
	return ""
}

// salesAndTraffic builds GET_SALES_AND_TRAFFIC_REPORT
// (sellerSalesAndTrafficReport.json). Per-ASIN rows aggregate the whole
// requested range; clients wanting per-ASIN per-day data request one day per
// report, as Amazon's schema implies.
func (s *Simulator) salesAndTraffic(rep *report) generated {
	if msg := s.singleMarketplace(rep); msg != "" {
		return generated{fatal: msg}
	}
	opts := map[string]string{"dateGranularity": "DAY", "asinGranularity": "PARENT"}
	for k, v := range rep.spec.ReportOptions {
		opts[k] = v
	}
	dg, ag := opts["dateGranularity"], opts["asinGranularity"]
	if dg != "DAY" && dg != "WEEK" && dg != "MONTH" {
		return generated{fatal: "Invalid dateGranularity " + dg + "; valid values are DAY, WEEK, MONTH."}
	}
	if ag != "PARENT" && ag != "CHILD" && ag != "SKU" {
		return generated{fatal: "Invalid asinGranularity " + ag + "; valid values are PARENT, CHILD, SKU."}
	}
	start, end := dateOf(rep.dataStart), dateOf(rep.dataEnd)
	zone := s.World().Config().AmazonZone
	today := simworld.DateOf(rep.procEnd, zone)
	if start.DaysUntil(today) > 2*365 {
		return generated{empty: true} // "more than two years ago, the report will be cancelled"
	}
	if dg != "DAY" {
		// WEEK and MONTH expand the range to whole periods.
		kind := map[string]string{"WEEK": simworld.PeriodWeek, "MONTH": simworld.PeriodMonth}[dg]
		ps, _ := simworld.PeriodOf(kind, start)
		pe, _ := simworld.PeriodOf(kind, end)
		start, end = ps.Start, pe.End
	}
	if end.After(today) {
		end = today
	}

	type byDate struct {
		Date          string         `json:"date"`
		SalesByDate   map[string]any `json:"salesByDate"`
		TrafficByDate map[string]any `json:"trafficByDate"`
	}
	type asinAcc struct {
		parent, child, sku string
		simworld.SalesTrafficSum
	}
	var dates []byDate
	var periodKey string
	var cur *simworld.DaySales
	flush := func() {
		if cur == nil {
			return
		}
		d := *cur
		sessions := d.BrowserSessions + d.MobileAppSessions
		pv := d.BrowserPageViews + d.MobileAppPageViews
		avgItem, avgUnits, avgPrice := simworld.Money(0), 0.0, simworld.Money(0)
		if d.TotalOrderItems > 0 {
			avgItem = d.OrderedProductSales / simworld.Money(d.TotalOrderItems)
			avgUnits = ratio(float64(d.UnitsOrdered), float64(d.TotalOrderItems))
		}
		if d.UnitsOrdered > 0 {
			avgPrice = d.OrderedProductSales / simworld.Money(d.UnitsOrdered)
		}
		dates = append(dates, byDate{
			Date: d.Date.String(),
			SalesByDate: map[string]any{
				"orderedProductSales": s.amount(d.OrderedProductSales), "unitsOrdered": d.UnitsOrdered,
				"totalOrderItems": d.TotalOrderItems, "averageSalesPerOrderItem": s.amount(avgItem),
				"averageUnitsPerOrderItem": avgUnits, "averageSellingPrice": s.amount(avgPrice),
				"unitsRefunded": 0, "refundRate": 0.0, "claimsGranted": 0, "claimsAmount": s.amount(0),
				"shippedProductSales": s.amount(d.ShippedProductSales), "unitsShipped": d.UnitsShipped,
				"ordersShipped": d.OrdersShipped,
			},
			TrafficByDate: map[string]any{
				"browserPageViews": d.BrowserPageViews, "mobileAppPageViews": d.MobileAppPageViews, "pageViews": pv,
				"browserSessions": d.BrowserSessions, "mobileAppSessions": d.MobileAppSessions, "sessions": sessions,
				"buyBoxPercentage": d.BuyBoxPercentage, "orderItemSessionPercentage": min(pct(d.TotalOrderItems, sessions), 100),
				"unitSessionPercentage": pct(d.UnitsOrdered, sessions), "averageOfferCount": d.OfferCount,
				"averageParentItems": d.ParentItems, "feedbackReceived": d.FeedbackReceived,
				"negativeFeedbackReceived": d.NegativeFeedback, "receivedNegativeFeedbackRate": pct(d.NegativeFeedback, d.FeedbackReceived),
			},
		})
		cur = nil
	}
	accs := map[string]*asinAcc{}
	var keys []string
	hasData := false
	for d := start; !d.After(end); d = d.AddDays(1) {
		rows, sum := s.World().SalesTrafficDay(d, rep.procEnd)
		key := d.String()
		if dg != "DAY" {
			kind := map[string]string{"WEEK": simworld.PeriodWeek, "MONTH": simworld.PeriodMonth}[dg]
			p, _ := simworld.PeriodOf(kind, d)
			key = p.Start.String()
		}
		if key != periodKey {
			flush()
			periodKey = key
			sum.Date, _ = simworld.ParseDate(key)
			c := sum
			cur = &c
		} else {
			addDay(cur, sum)
		}
		for _, r := range rows {
			hasData = true
			k := r.ParentASIN
			switch ag {
			case "CHILD":
				k += "|" + r.ASIN
			case "SKU":
				k += "|" + r.ASIN + "|" + r.SKU
			}
			a := accs[k]
			if a == nil {
				a = &asinAcc{parent: r.ParentASIN}
				if ag != "PARENT" {
					a.child = r.ASIN
				}
				if ag == "SKU" {
					a.sku = r.SKU
				}
				accs[k] = a
				keys = append(keys, k)
			}
			a.Add(r)
		}
	}
	flush()
	if !hasData {
		return generated{empty: true}
	}
	sort.Strings(keys)
	var totS, totBS, totMS, totPV, totBPV, totMPV int
	for _, a := range accs {
		totBS += a.BrowserSessions
		totMS += a.MobileAppSessions
		totBPV += a.BrowserPageViews
		totMPV += a.MobileAppPageViews
	}
	totS, totPV = totBS+totMS, totBPV+totMPV
	byAsin := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		a := accs[k]
		sessions, pv := a.Sessions(), a.PageViews()
		row := map[string]any{"parentAsin": a.parent,
			"salesByAsin": map[string]any{"unitsOrdered": a.UnitsOrdered, "orderedProductSales": s.amount(a.OrderedProductSales), "totalOrderItems": a.TotalOrderItems},
			"trafficByAsin": map[string]any{
				"browserSessions": a.BrowserSessions, "mobileAppSessions": a.MobileAppSessions, "sessions": sessions,
				"browserSessionPercentage": pct(a.BrowserSessions, totBS), "mobileAppSessionPercentage": pct(a.MobileAppSessions, totMS), "sessionPercentage": pct(sessions, totS),
				"browserPageViews": a.BrowserPageViews, "mobileAppPageViews": a.MobileAppPageViews, "pageViews": pv,
				"browserPageViewsPercentage": pct(a.BrowserPageViews, totBPV), "mobileAppPageViewsPercentage": pct(a.MobileAppPageViews, totMPV), "pageViewsPercentage": pct(pv, totPV),
				"buyBoxPercentage": ratio(a.BuyBoxWeight, float64(pv)), "unitSessionPercentage": pct(a.UnitsOrdered, sessions),
			}}
		if a.child != "" {
			row["childAsin"] = a.child
		}
		if a.sku != "" {
			row["sku"] = a.sku
		}
		byAsin = append(byAsin, row)
	}
	return jsonDoc(map[string]any{
		"reportSpecification": map[string]any{
			"reportType":     ReportSalesAndTraffic,
			"reportOptions":  map[string]string{"dateGranularity": dg, "asinGranularity": ag},
			"dataStartTime":  start.String(),
			"dataEndTime":    end.String(),
			"marketplaceIds": rep.spec.MarketplaceIDs,
		},
		"salesAndTrafficByDate": dates,
		"salesAndTrafficByAsin": byAsin,
	})
}

func addDay(acc *simworld.DaySales, d simworld.DaySales) {
	pv0 := acc.BrowserPageViews + acc.MobileAppPageViews
	pv1 := d.BrowserPageViews + d.MobileAppPageViews
	if pv0+pv1 > 0 {
		acc.BuyBoxPercentage = round2((acc.BuyBoxPercentage*float64(pv0) + d.BuyBoxPercentage*float64(pv1)) / float64(pv0+pv1))
	}
	acc.OrderedProductSales += d.OrderedProductSales
	acc.UnitsOrdered += d.UnitsOrdered
	acc.TotalOrderItems += d.TotalOrderItems
	acc.ShippedProductSales += d.ShippedProductSales
	acc.UnitsShipped += d.UnitsShipped
	acc.OrdersShipped += d.OrdersShipped
	acc.BrowserSessions += d.BrowserSessions
	acc.MobileAppSessions += d.MobileAppSessions
	acc.BrowserPageViews += d.BrowserPageViews
	acc.MobileAppPageViews += d.MobileAppPageViews
	acc.FeedbackReceived += d.FeedbackReceived
	acc.NegativeFeedback += d.NegativeFeedback
}

// brandAnalyticsPeriod validates reportPeriod and the period boundaries; a
// wrong boundary is FATAL ("dataStartTime must be a Sunday for the WEEK
// reportPeriod" or "a fatal error returns").
func brandAnalyticsPeriod(rep *report, allowed ...string) (simworld.Period, string) {
	kind := rep.spec.ReportOptions["reportPeriod"]
	if kind == "" {
		return simworld.Period{}, "reportOptions.reportPeriod is required."
	}
	if !slices.Contains(allowed, kind) {
		return simworld.Period{}, "Invalid reportPeriod " + kind + "; valid values are " + strings.Join(allowed, ", ") + "."
	}
	p, err := simworld.ExactPeriod(kind, dateOf(rep.dataStart), dateOf(rep.dataEnd))
	if err != nil {
		return p, "The requested date range does not match the reportPeriod: " + err.Error()
	}
	return p, ""
}

func (s *Simulator) baSpec(rep *report, p simworld.Period, opts map[string]string) map[string]any {
	return map[string]any{"reportType": rep.spec.ReportType, "reportOptions": opts,
		"dataStartTime": p.Start.String(), "dataEndTime": p.End.String(), "marketplaceIds": rep.spec.MarketplaceIDs}
}

// searchTerms builds GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT.
func (s *Simulator) searchTerms(rep *report) generated {
	p, bad := brandAnalyticsPeriod(rep, simworld.PeriodDay, simworld.PeriodWeek, simworld.PeriodMonth, simworld.PeriodQuarter)
	if bad == "" {
		bad = s.singleMarketplace(rep)
	}
	if bad != "" {
		return generated{fatal: bad}
	}
	rows := s.World().TruthAt(rep.procEnd).SearchTerms(p)
	if rows == nil {
		return generated{empty: true} // the period's data is not published yet
	}
	return jsonDoc(map[string]any{
		"reportSpecification":           s.baSpec(rep, p, map[string]string{"reportPeriod": p.Kind}),
		"dataByDepartmentAndSearchTerm": rows,
	})
}

// searchQueryPerformance builds GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT.
func (s *Simulator) searchQueryPerformance(rep *report) generated {
	if len(rep.spec.MarketplaceIDs) != 1 {
		return generated{fatal: "This report supports only one marketplace; multiple marketplaces were specified."}
	}
	p, bad := brandAnalyticsPeriod(rep, simworld.PeriodWeek, simworld.PeriodMonth, simworld.PeriodQuarter)
	if bad == "" {
		bad = s.singleMarketplace(rep)
	}
	asins := strings.Fields(rep.spec.ReportOptions["asin"])
	switch {
	case bad != "":
	case len(asins) == 0:
		bad = "reportOptions.asin is required."
	case len(rep.spec.ReportOptions["asin"]) > 200:
		bad = "reportOptions.asin must not exceed 200 characters."
	}
	if bad != "" {
		return generated{fatal: bad}
	}
	truth := s.World().TruthAt(rep.procEnd)
	if rep.procEnd.Before(p.AvailableAt(s.World().Config().AmazonZone)) {
		return generated{empty: true}
	}
	type row struct {
		StartDate       string         `json:"startDate"`
		EndDate         string         `json:"endDate"`
		ASIN            string         `json:"asin"`
		SearchQueryData map[string]any `json:"searchQueryData"`
		ImpressionData  map[string]any `json:"impressionData"`
		ClickData       map[string]any `json:"clickData"`
		CartAddData     map[string]any `json:"cartAddData"`
		PurchaseData    map[string]any `json:"purchaseData"`
	}
	rows := []row{}
	share := func(a, b int) float64 { return simworld.Share(a, b) }
	for _, asin := range asins {
		for _, q := range truth.SearchQueryPerformance(asin, p) {
			rows = append(rows, row{
				StartDate: q.StartDate.String(), EndDate: q.EndDate.String(), ASIN: q.ASIN,
				SearchQueryData: map[string]any{"searchQuery": q.SearchQuery, "searchQueryScore": q.SearchQueryScore, "searchQueryVolume": q.SearchQueryVolume},
				ImpressionData: map[string]any{"totalQueryImpressionCount": q.TotalQueryImpressionCount, "asinImpressionCount": q.ASINImpressionCount,
					"asinImpressionShare": share(q.ASINImpressionCount, q.TotalQueryImpressionCount)},
				ClickData: map[string]any{"totalClickCount": q.TotalClickCount, "totalClickRate": share(q.TotalClickCount, q.SearchQueryVolume),
					"asinClickCount": q.ASINClickCount, "asinClickShare": share(q.ASINClickCount, q.TotalClickCount),
					"totalMedianClickPrice": s.amount(q.TotalMedianClickPrice), "asinMedianClickPrice": s.amount(q.ASINMedianClickPrice),
					"totalSameDayShippingClickCount": q.TotalSameDayShippingClickCount, "totalOneDayShippingClickCount": q.TotalOneDayShippingClickCount,
					"totalTwoDayShippingClickCount": q.TotalTwoDayShippingClickCount},
				CartAddData: map[string]any{"totalCartAddCount": q.TotalCartAddCount, "totalCartAddRate": share(q.TotalCartAddCount, q.SearchQueryVolume),
					"asinCartAddCount": q.ASINCartAddCount, "asinCartAddShare": share(q.ASINCartAddCount, q.TotalCartAddCount),
					"totalMedianCartAddPrice": s.amount(q.TotalMedianCartAddPrice), "asinMedianCartAddPrice": s.amount(q.ASINMedianCartAddPrice),
					"totalSameDayShippingCartAddCount": q.TotalSameDayShippingCartAddCount, "totalOneDayShippingCartAddCount": q.TotalOneDayShippingCartAddCount,
					"totalTwoDayShippingCartAddCount": q.TotalTwoDayShippingCartAddCount},
				PurchaseData: map[string]any{"totalPurchaseCount": q.TotalPurchaseCount, "totalPurchaseRate": share(q.TotalPurchaseCount, q.SearchQueryVolume),
					"asinPurchaseCount": q.ASINPurchaseCount, "asinPurchaseShare": share(q.ASINPurchaseCount, q.TotalPurchaseCount),
					"totalMedianPurchasePrice": s.amount(q.TotalMedianPurchasePrice), "asinMedianPurchasePrice": s.amount(q.ASINMedianPurchasePrice),
					"totalSameDayShippingPurchaseCount": q.TotalSameDayShippingPurchaseCount, "totalOneDayShippingPurchaseCount": q.TotalOneDayShippingPurchaseCount,
					"totalTwoDayShippingPurchaseCount": q.TotalTwoDayShippingPurchaseCount},
			})
		}
	}
	if len(rows) == 0 {
		return generated{empty: true}
	}
	return jsonDoc(map[string]any{
		"reportSpecification": s.baSpec(rep, p, map[string]string{"reportPeriod": p.Kind, "asin": rep.spec.ReportOptions["asin"]}),
		"dataByAsin":          rows,
	})
}

// AllOrdersColumns are the columns of the all-orders flat file, in order
// (third-party copies of the report; the reference does not list them). The
// file carries no order-item-id, which is why order lines from it join on
// (amazon-order-id, sku).
var AllOrdersColumns = []string{
	"amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
	"fulfillment-channel", "sales-channel", "order-channel", "ship-service-level", "product-name", "sku", "asin",
	"item-status", "quantity", "currency", "item-price", "item-tax", "shipping-price", "shipping-tax",
	"gift-wrap-price", "gift-wrap-tax", "item-promotion-discount", "ship-promotion-discount",
	"ship-city", "ship-state", "ship-postal-code", "ship-country", "promotion-ids", "is-business-order",
	"purchase-order-number", "price-designation",
}

// flatStatus maps API statuses to the flat file's spelling: flat files say
// "Cancelled" where the API says "Canceled" (third-party samples).
func flatStatus(s string) string {
	if s == simworld.AmazonCanceled {
		return "Cancelled"
	}
	return s
}

// allOrdersByLastUpdate builds GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL:
// tab-separated order lines of the orders last updated in the data range.
func (s *Simulator) allOrdersByLastUpdate(rep *report) generated {
	asOf := rep.procEnd.Add(-s.opts.VisibilityDelay)
	from, to := rep.dataStart, rep.dataEnd
	if to.After(asOf) {
		to = asOf
	}
	var buf bytes.Buffer
	buf.WriteString(strings.Join(AllOrdersColumns, "\t") + "\n")
	lines := 0
	for _, st := range s.World().TruthAt(asOf).AmazonOrdersUpdated(from, to.Add(time.Nanosecond)) {
		if !slices.Contains(rep.spec.MarketplaceIDs, st.MarketplaceID) {
			continue
		}
		ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }
		for _, it := range st.Items {
			itemStatus := "Unshipped"
			switch {
			case st.Status == simworld.AmazonCanceled:
				itemStatus = "Cancelled"
			case !it.ShippedAt.IsZero() && !it.ShippedAt.After(asOf):
				itemStatus = "Shipped"
			}
			biz := "false"
			if st.IsBusinessOrder {
				biz = "true"
			}
			fields := []string{
				st.AmazonOrderID, st.SellerOrderID, ts(st.PurchaseDate), ts(st.LastUpdateDate), flatStatus(st.Status),
				map[string]string{"AFN": "Amazon", "MFN": "Merchant"}[st.FulfillmentChannel], st.SalesChannel, "",
				st.ShipServiceLevel, it.Title, it.SellerSKU, it.ASIN,
				itemStatus, fmt.Sprint(it.Quantity), st.Currency, it.ItemPrice.String(), it.ItemTax.String(),
				it.ShippingPrice.String(), it.ShippingTax.String(), "", "", negMoney(it.PromotionDiscount), "",
				st.Ship.City, st.Ship.State, st.Ship.PostalCode, st.Ship.CountryCode, "", biz, "", "",
			}
			buf.WriteString(strings.Join(fields, "\t") + "\n")
			lines++
		}
	}
	if lines == 0 {
		return generated{empty: true}
	}
	return generated{contentType: "text/tab-separated-values;charset=UTF-8", body: buf.Bytes()}
}

// negMoney writes a discount the way flat files do: as a negative amount.
func negMoney(m simworld.Money) string {
	if m == 0 {
		return ""
	}
	return (-m).String()
}
