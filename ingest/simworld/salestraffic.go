package simworld

import (
	"math"
	"sort"
	"time"
)

// SalesTraffic is one ASIN's sales and traffic for one day, as a report
// generated at some instant shows it. Days are in the world's AmazonZone.
type SalesTraffic struct {
	Date                Date   `json:"date"`
	ASIN                string `json:"asin"`
	ParentASIN          string `json:"parent_asin"`
	SKU                 string `json:"sku"`
	UnitsOrdered        int    `json:"units_ordered"`
	TotalOrderItems     int    `json:"total_order_items"`
	OrderedProductSales Money  `json:"ordered_product_sales"`
	BrowserSessions     int    `json:"browser_sessions"`
	MobileAppSessions   int    `json:"mobile_app_sessions"`
	BrowserPageViews    int    `json:"browser_page_views"`
	MobileAppPageViews  int    `json:"mobile_app_page_views"`
	// BuyBoxPercentage is the share of page views with the seller's buy box.
	BuyBoxPercentage float64 `json:"buy_box_percentage"`
}

// Sessions returns browser plus mobile-app sessions.
func (s SalesTraffic) Sessions() int { return s.BrowserSessions + s.MobileAppSessions }

// PageViews returns browser plus mobile-app page views.
func (s SalesTraffic) PageViews() int { return s.BrowserPageViews + s.MobileAppPageViews }

// SalesTrafficSum adds up SalesTraffic rows: the catalog's day summary adds
// up its ASINs, a report at parent or SKU granularity its child ASINs' days.
type SalesTrafficSum struct {
	UnitsOrdered        int
	TotalOrderItems     int
	OrderedProductSales Money
	BrowserSessions     int
	MobileAppSessions   int
	BrowserPageViews    int
	MobileAppPageViews  int
	// BuyBoxWeight adds up the rows' BuyBoxPercentage weighted by their page
	// views; divided by PageViews it is the sum's buy-box percentage.
	BuyBoxWeight float64
}

// Add adds row r to the sum.
func (s *SalesTrafficSum) Add(r SalesTraffic) {
	s.UnitsOrdered += r.UnitsOrdered
	s.TotalOrderItems += r.TotalOrderItems
	s.OrderedProductSales += r.OrderedProductSales
	s.BrowserSessions += r.BrowserSessions
	s.MobileAppSessions += r.MobileAppSessions
	s.BrowserPageViews += r.BrowserPageViews
	s.MobileAppPageViews += r.MobileAppPageViews
	s.BuyBoxWeight += r.BuyBoxPercentage * float64(r.PageViews())
}

// Sessions returns browser plus mobile-app sessions.
func (s SalesTrafficSum) Sessions() int { return s.BrowserSessions + s.MobileAppSessions }

// PageViews returns browser plus mobile-app page views.
func (s SalesTrafficSum) PageViews() int { return s.BrowserPageViews + s.MobileAppPageViews }

// DaySales is the whole catalog's sales and traffic for one day (the report's
// salesAndTrafficByDate), as generated at some instant.
type DaySales struct {
	Date                Date    `json:"date"`
	OrderedProductSales Money   `json:"ordered_product_sales"`
	UnitsOrdered        int     `json:"units_ordered"`
	TotalOrderItems     int     `json:"total_order_items"`
	ShippedProductSales Money   `json:"shipped_product_sales"`
	UnitsShipped        int     `json:"units_shipped"`
	OrdersShipped       int     `json:"orders_shipped"`
	BrowserSessions     int     `json:"browser_sessions"`
	MobileAppSessions   int     `json:"mobile_app_sessions"`
	BrowserPageViews    int     `json:"browser_page_views"`
	MobileAppPageViews  int     `json:"mobile_app_page_views"`
	BuyBoxPercentage    float64 `json:"buy_box_percentage"`
	OfferCount          int     `json:"offer_count"`
	ParentItems         int     `json:"parent_items"`
	FeedbackReceived    int     `json:"feedback_received"`
	NegativeFeedback    int     `json:"negative_feedback"`
}

// trafficSettled returns the fraction of a day's final traffic that reports
// show age after the day closed. Sessions and page views read 0 for the first
// day and fill in over the next two (selling-partner-api-models#2955; "wait up
// to 72 hours", selling-partner-api-docs#2303).
func trafficSettled(age time.Duration) float64 {
	switch {
	case age < 24*time.Hour:
		return 0
	case age < 48*time.Hour:
		return 0.8
	case age < MaxReportLag:
		return 0.95
	}
	return 1
}

// SettledAt returns when a day's Sales & Traffic figures stop changing.
func (w *World) SettledAt(d Date) time.Time { return d.End(w.cfg.AmazonZone).Add(MaxReportLag) }

// SalesTrafficDay returns per-ASIN rows (child ASINs, with their parent and
// SKU) and the catalog summary for day d as a report generated at asOf shows
// them. Orders reach the figures after each item's report lag, and traffic
// fills in over 72 hours, so the same day reads differently until
// SettledAt(d). ASINs with neither sales nor traffic are left out.
func (w *World) SalesTrafficDay(d Date, asOf time.Time) ([]SalesTraffic, DaySales) {
	zone := w.cfg.AmazonZone
	dayStart, dayEnd := d.Start(zone), d.End(zone)
	sum := DaySales{Date: d}
	type acc struct {
		units, items, finalUnits int
		sales                    Money
	}
	per := map[string]*acc{}
	for _, v := range w.AmazonVariants() {
		per[v.Amazon.ASIN] = &acc{}
	}
	shippedOrders := map[string]bool{}
	for _, o := range w.AmazonOrdersPurchased(dayStart.Add(-MaxAmazonLifecycle), dayEnd) {
		inDay := !o.PurchaseDate.Before(dayStart)
		for _, it := range o.Items {
			a := per[it.ASIN]
			if a == nil {
				continue
			}
			if inDay {
				a.finalUnits += it.Quantity
				if !o.PurchaseDate.Add(it.ReportLag).After(asOf) {
					a.units += it.Quantity
					a.items++
					a.sales += it.ItemPrice
				}
			}
			if s := it.ShippedAt; !s.IsZero() && !s.Before(dayStart) && s.Before(dayEnd) && !s.Add(it.ReportLag).After(asOf) {
				sum.ShippedProductSales += it.ItemPrice
				sum.UnitsShipped += it.Quantity
				shippedOrders[o.AmazonOrderID] = true
			}
		}
	}
	sum.OrdersShipped = len(shippedOrders)
	frac := trafficSettled(asOf.Sub(dayEnd))
	var rows []SalesTraffic
	var tot SalesTrafficSum
	for _, v := range w.AmazonVariants() {
		a := per[v.Amazon.ASIN]
		r := rngFor(w.seed, "traffic", hashString(v.Amazon.ASIN), dayNumber(d))
		// Interest in the product (a halo lifts it) brings visits; orders
		// bring some of their own.
		interest := 1 + w.meanDemandLift(v.ProductKey, dayStart, dayEnd)
		finalSessions := int(v.Popularity*60*interest*math.Exp(0.3*r.NormFloat64())) + 8*a.finalUnits
		mobileShare := between(r, 0.45, 0.75)
		pvPerSession := between(r, 1.1, 1.6)
		finalMobile := int(float64(finalSessions) * mobileShare)
		finalBrowser := finalSessions - finalMobile
		st := SalesTraffic{
			Date: d, ASIN: v.Amazon.ASIN, ParentASIN: v.ParentASIN(), SKU: v.Amazon.SellerSKU,
			UnitsOrdered: a.units, TotalOrderItems: a.items, OrderedProductSales: a.sales,
			BrowserSessions:    int(float64(finalBrowser) * frac),
			MobileAppSessions:  int(float64(finalMobile) * frac),
			BrowserPageViews:   int(float64(finalBrowser) * pvPerSession * frac),
			MobileAppPageViews: int(float64(finalMobile) * pvPerSession * frac),
			BuyBoxPercentage:   math.Round(between(r, 85, 100)*100) / 100,
		}
		if st.UnitsOrdered == 0 && st.Sessions() == 0 {
			continue
		}
		rows = append(rows, st)
		tot.Add(st)
	}
	sum.OrderedProductSales, sum.UnitsOrdered, sum.TotalOrderItems = tot.OrderedProductSales, tot.UnitsOrdered, tot.TotalOrderItems
	sum.BrowserSessions, sum.MobileAppSessions = tot.BrowserSessions, tot.MobileAppSessions
	sum.BrowserPageViews, sum.MobileAppPageViews = tot.BrowserPageViews, tot.MobileAppPageViews
	if pv := tot.PageViews(); pv > 0 {
		sum.BuyBoxPercentage = math.Round(tot.BuyBoxWeight/float64(pv)*100) / 100
	}
	sum.OfferCount = len(w.AmazonVariants())
	parents := map[string]bool{}
	for _, v := range w.AmazonVariants() {
		parents[v.ParentASIN()] = true
	}
	sum.ParentItems = len(parents)
	fr := rngFor(w.seed, "feedback", dayNumber(d))
	if frac > 0 {
		sum.FeedbackReceived = fr.IntN(6)
		sum.NegativeFeedback = min(sum.FeedbackReceived, fr.IntN(2))
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ASIN < rows[j].ASIN })
	return rows, sum
}
