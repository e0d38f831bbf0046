package amazon

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// Source is the source field of every record this package maps.
const Source = "amazon"

// Record is a mapped record: its topic, its Kafka key (the entity's natural
// key) and its value in goavro native form. The change metadata event_id,
// version and ingest_ts are left for the caller (change capture) to set;
// source, entity, op and source_ts are set.
type Record struct {
	Topic string
	Key   string
	Value map[string]any
}

// Mapper maps API objects to records for one marketplace, cutting report
// days in Zone.
type Mapper struct {
	MarketplaceID string
	Zone          *time.Location
}

// Mapper returns the client's mapper.
func (c *Client) Mapper() Mapper {
	return Mapper{MarketplaceID: c.cfg.MarketplaceID, Zone: c.cfg.ReportZone}
}

func meta(entity, op string, ts time.Time) map[string]any {
	return map[string]any{"source": Source, "entity": entity, "op": op, "source_ts": ts.UTC()}
}

// optBoolString reads the Orders API's "true"/"false" strings.
func optBoolString(s string) (any, error) {
	switch strings.ToLower(s) {
	case "":
		return nil, nil
	case "true":
		return map[string]any{"boolean": true}, nil
	case "false":
		return map[string]any{"boolean": false}, nil
	}
	return nil, fmt.Errorf("%q is not true or false", clip(s))
}

func optTime(s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return nil, err
	}
	return map[string]any{"long.timestamp-millis": t}, nil
}

// decimal4 parses decimal text and rounds it half away from zero to the four
// places of the schemas' decimals: goavro would cut it toward −∞ silently.
func decimal4(s string) (*big.Rat, error) {
	r, err := parseDecimal(s)
	if err != nil {
		return nil, err
	}
	return round4(r), nil
}

func round4(r *big.Rat) *big.Rat {
	scaled := new(big.Rat).Mul(r, big.NewRat(10000, 1))
	num, den := scaled.Num(), scaled.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	// |m|*2 >= den rounds away from zero.
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return new(big.Rat).SetFrac(q, big.NewInt(10000))
}

// moneyFields collects the Money values of one record, which must share one
// currency (the schemas carry a single currency_code per record).
type moneyFields struct {
	currency string
	err      error
}

func (m *moneyFields) opt(name string, v *Money) any {
	if v == nil || m.err != nil {
		return nil
	}
	if v.CurrencyCode != "" {
		if m.currency == "" {
			m.currency = v.CurrencyCode
		} else if m.currency != v.CurrencyCode {
			m.err = fmt.Errorf("%s: currency %s differs from %s", name, clip(v.CurrencyCode), m.currency)
			return nil
		}
	}
	r, err := decimal4(v.Amount)
	if err != nil {
		m.err = fmt.Errorf("%s: %w", name, err)
		return nil
	}
	return map[string]any{"bytes.decimal": r}
}

func (m *moneyFields) amount(name string, a *Amount) any {
	if a == nil {
		return nil
	}
	return m.opt(name, &Money{CurrencyCode: a.CurrencyCode, Amount: a.Amount.String()})
}

func (m Mapper) marketplace(id string) string {
	if id != "" {
		return id
	}
	return m.MarketplaceID
}

// Order maps a getOrders Order to an amazon.orders record. op is create
// for an order's first state (last update = purchase), update after.
func (m Mapper) Order(o Order) (Record, error) {
	fail := func(err error) (Record, error) {
		return Record{}, fmt.Errorf("map order %s: %w", clip(o.AmazonOrderID), err)
	}
	if o.AmazonOrderID == "" || o.OrderStatus == "" {
		return fail(errors.New("AmazonOrderId and OrderStatus are required"))
	}
	purchased, err := parseTime(o.PurchaseDate)
	if err != nil {
		return fail(fmt.Errorf("PurchaseDate: %w", err))
	}
	updated, err := parseTime(o.LastUpdateDate)
	if err != nil {
		return fail(fmt.Errorf("LastUpdateDate: %w", err))
	}
	op := "update"
	if updated.Equal(purchased) {
		op = "create"
	}
	mp := m.marketplace(o.MarketplaceID)
	v := meta("order", op, updated)
	var money moneyFields
	v["amazon_order_id"] = o.AmazonOrderID
	v["marketplace_id"] = mp
	v["seller_order_id"] = schemas.OptString(o.SellerOrderID)
	v["purchase_date"] = purchased
	v["last_update_date"] = updated
	v["order_status"] = o.OrderStatus
	v["fulfillment_channel"] = schemas.OptString(o.FulfillmentChannel)
	v["sales_channel"] = schemas.OptString(o.SalesChannel)
	v["order_channel"] = schemas.OptString(o.OrderChannel)
	v["ship_service_level"] = schemas.OptString(o.ShipServiceLevel)
	v["shipment_service_level_category"] = schemas.OptString(o.ShipmentServiceLevelCategory)
	v["order_type"] = schemas.OptString(o.OrderType)
	v["order_total_amount"] = money.opt("OrderTotal", o.OrderTotal)
	v["currency_code"] = schemas.OptString(money.currency)
	v["number_of_items_shipped"] = schemas.OptLong(o.NumberOfItemsShipped)
	v["number_of_items_unshipped"] = schemas.OptLong(o.NumberOfItemsUnshipped)
	v["payment_method"] = schemas.OptString(o.PaymentMethod)
	details := make([]any, 0, len(o.PaymentMethodDetails))
	for _, d := range o.PaymentMethodDetails {
		details = append(details, d)
	}
	v["payment_method_details"] = details
	for field, s := range map[string]string{
		"earliest_ship_date": o.EarliestShipDate, "latest_ship_date": o.LatestShipDate,
		"earliest_delivery_date": o.EarliestDeliveryDate, "latest_delivery_date": o.LatestDeliveryDate,
		"promise_response_due_date": o.PromiseResponseDueDate,
	} {
		if v[field], err = optTime(s); err != nil {
			return fail(fmt.Errorf("%s: %w", field, err))
		}
	}
	v["is_business_order"] = schemas.OptBool(o.IsBusinessOrder)
	v["is_prime"] = schemas.OptBool(o.IsPrime)
	v["is_premium_order"] = schemas.OptBool(o.IsPremiumOrder)
	v["is_global_express_enabled"] = schemas.OptBool(o.IsGlobalExpressEnabled)
	v["is_replacement_order"] = schemas.OptBool(o.IsReplacementOrder)
	v["replaced_order_id"] = schemas.OptString(o.ReplacedOrderID)
	v["is_estimated_ship_date_set"] = schemas.OptBool(o.IsEstimatedShipDateSet)
	v["is_sold_by_ab"] = schemas.OptBool(o.IsSoldByAB)
	v["is_iba"] = schemas.OptBool(o.IsIBA)
	v["is_ispu"] = schemas.OptBool(o.IsISPU)
	v["is_access_point_order"] = schemas.OptBool(o.IsAccessPointOrder)
	v["has_regulated_items"] = schemas.OptBool(o.HasRegulatedItems)
	v["easy_ship_shipment_status"] = schemas.OptString(o.EasyShipShipmentStatus)
	v["electronic_invoice_status"] = schemas.OptString(o.ElectronicInvoiceStatus)
	v["buyer_invoice_preference"] = schemas.OptString(o.BuyerInvoicePreference)
	v["seller_display_name"] = schemas.OptString(o.SellerDisplayName)
	if money.err != nil {
		return fail(money.err)
	}
	return Record{Topic: schemas.TopicAmazonOrders, Key: mp + ":" + o.AmazonOrderID, Value: v}, nil
}

// OrderItem maps one line of order o to an amazon.order_items record. Its
// source_ts is the order's LastUpdateDate: lines have no change time of
// their own.
func (m Mapper) OrderItem(o Order, line OrderLine) (Record, error) {
	it := line.Item
	fail := func(err error) (Record, error) {
		return Record{}, fmt.Errorf("map order item %s/%s: %w", clip(o.AmazonOrderID), clip(line.LineID), err)
	}
	if o.AmazonOrderID == "" || line.LineID == "" || it.ASIN == "" {
		return fail(errors.New("AmazonOrderId, line id and ASIN are required"))
	}
	updated, err := parseTime(o.LastUpdateDate)
	if err != nil {
		return fail(fmt.Errorf("LastUpdateDate: %w", err))
	}
	purchase, err := optTime(o.PurchaseDate)
	if err != nil {
		return fail(fmt.Errorf("PurchaseDate: %w", err))
	}
	status := line.OrderStatus
	if status == "" {
		status = o.OrderStatus
	}
	mp := m.marketplace(o.MarketplaceID)
	v := meta("order_item", "update", updated)
	if purchase != nil && o.PurchaseDate == o.LastUpdateDate {
		v["op"] = "create"
	}
	var money moneyFields
	v["amazon_order_id"] = o.AmazonOrderID
	v["marketplace_id"] = mp
	v["order_item_id"] = line.LineID
	v["asin"] = it.ASIN
	v["seller_sku"] = schemas.OptString(it.SellerSKU)
	v["title"] = schemas.OptString(it.Title)
	v["quantity_ordered"] = it.QuantityOrdered
	v["quantity_shipped"] = schemas.OptLong(it.QuantityShipped)
	v["number_of_items"] = nil
	if it.ProductInfo != nil && it.ProductInfo.NumberOfItems != "" {
		var n int64
		if _, err := fmt.Sscan(it.ProductInfo.NumberOfItems, &n); err != nil {
			return fail(fmt.Errorf("ProductInfo.NumberOfItems %q is not a count", clip(it.ProductInfo.NumberOfItems)))
		}
		v["number_of_items"] = map[string]any{"long": n}
	}
	v["purchase_date"] = purchase
	v["order_status"] = schemas.OptString(status)
	v["item_price"] = money.opt("ItemPrice", it.ItemPrice)
	v["shipping_price"] = money.opt("ShippingPrice", it.ShippingPrice)
	v["item_tax"] = money.opt("ItemTax", it.ItemTax)
	v["shipping_tax"] = money.opt("ShippingTax", it.ShippingTax)
	v["shipping_discount"] = money.opt("ShippingDiscount", it.ShippingDiscount)
	v["shipping_discount_tax"] = money.opt("ShippingDiscountTax", it.ShippingDiscountTax)
	v["promotion_discount"] = money.opt("PromotionDiscount", it.PromotionDiscount)
	v["promotion_discount_tax"] = money.opt("PromotionDiscountTax", it.PromotionDiscountTax)
	v["cod_fee"] = money.opt("CODFee", it.CODFee)
	v["cod_fee_discount"] = money.opt("CODFeeDiscount", it.CODFeeDiscount)
	v["points_granted_number"], v["points_granted_value"] = nil, nil
	if p := it.PointsGranted; p != nil {
		v["points_granted_number"] = schemas.OptLong(p.PointsNumber)
		v["points_granted_value"] = money.opt("PointsGranted.PointsMonetaryValue", p.PointsMonetaryValue)
	}
	v["currency_code"] = schemas.OptString(money.currency)
	ids := make([]any, 0, len(it.PromotionIDs))
	for _, id := range it.PromotionIDs {
		ids = append(ids, id)
	}
	v["promotion_ids"] = ids
	if v["is_gift"], err = optBoolString(it.IsGift); err != nil {
		return fail(fmt.Errorf("IsGift: %w", err))
	}
	v["condition_id"] = schemas.OptString(it.ConditionID)
	v["condition_subtype_id"] = schemas.OptString(it.ConditionSubtypeID)
	v["condition_note"] = schemas.OptString(it.ConditionNote)
	if v["scheduled_delivery_start_date"], err = optTime(it.ScheduledDeliveryStartDate); err != nil {
		return fail(fmt.Errorf("ScheduledDeliveryStartDate: %w", err))
	}
	if v["scheduled_delivery_end_date"], err = optTime(it.ScheduledDeliveryEndDate); err != nil {
		return fail(fmt.Errorf("ScheduledDeliveryEndDate: %w", err))
	}
	v["price_designation"] = schemas.OptString(it.PriceDesignation)
	v["serial_number_required"] = schemas.OptBool(it.SerialNumberRequired)
	v["is_transparency"] = schemas.OptBool(it.IsTransparency)
	v["ioss_number"] = schemas.OptString(it.IossNumber)
	v["store_chain_store_id"] = schemas.OptString(it.StoreChainStoreID)
	v["deemed_reseller_category"] = schemas.OptString(it.DeemedResellerCategory)
	v["is_buyer_requested_cancel"], v["buyer_cancel_reason"] = nil, nil
	if b := it.BuyerRequestedCancel; b != nil {
		if v["is_buyer_requested_cancel"], err = optBoolString(b.IsBuyerRequestedCancel); err != nil {
			return fail(fmt.Errorf("BuyerRequestedCancel: %w", err))
		}
		v["buyer_cancel_reason"] = schemas.OptString(b.BuyerCancelReason)
	}
	if money.err != nil {
		return fail(money.err)
	}
	return Record{Topic: schemas.TopicAmazonOrderItems, Key: mp + ":" + o.AmazonOrderID + ":" + line.LineID, Value: v}, nil
}

func (m Mapper) zoneName() string {
	if m.Zone == nil {
		return "UTC"
	}
	return m.Zone.String()
}

// SalesTraffic maps a day's Sales & Traffic report to amazon.sales_traffic
// records, one per salesAndTrafficByAsin row. source_ts is when the report
// was generated, so a restated day's newer read has a later source_ts.
func (m Mapper) SalesTraffic(d SalesTrafficDay) ([]Record, error) {
	if d.Report == nil {
		return nil, nil
	}
	gran := d.Report.ReportSpecification.ReportOptions["asinGranularity"]
	if gran == "" {
		gran = "PARENT"
	}
	out := make([]Record, 0, len(d.Report.SalesAndTrafficByAsin))
	for i, row := range d.Report.SalesAndTrafficByAsin {
		fail := func(err error) ([]Record, error) {
			return nil, fmt.Errorf("map sales and traffic %s row %d (%s): %w", d.Day, i, clip(row.ParentAsin), err)
		}
		if row.ParentAsin == "" {
			return fail(errors.New("parentAsin is missing"))
		}
		s, t := row.SalesByAsin, row.TrafficByAsin
		var money moneyFields
		v := meta("sales_traffic", "snapshot", d.Generated)
		v["marketplace_id"] = m.MarketplaceID
		v["date"] = d.Day.Start(time.UTC)
		v["date_time_zone"] = m.zoneName()
		v["asin_granularity"] = gran
		v["parent_asin"] = row.ParentAsin
		v["child_asin"] = schemas.OptString(row.ChildAsin)
		v["sku"] = schemas.OptString(row.SKU)
		v["report_id"] = schemas.OptString(d.ReportID)
		sales := money.amount("orderedProductSales", &s.OrderedProductSales)
		if sales == nil {
			if money.err != nil {
				return fail(money.err)
			}
			return fail(errors.New("orderedProductSales is missing"))
		}
		v["ordered_product_sales"] = sales.(map[string]any)["bytes.decimal"]
		v["ordered_product_sales_b2b"] = money.amount("orderedProductSalesB2B", s.OrderedProductSalesB2B)
		if money.err != nil {
			return fail(money.err)
		}
		if money.currency == "" {
			return fail(errors.New("orderedProductSales has no currencyCode"))
		}
		v["currency_code"] = money.currency
		v["units_ordered"], v["units_ordered_b2b"] = s.UnitsOrdered, schemas.OptLong(s.UnitsOrderedB2B)
		v["total_order_items"], v["total_order_items_b2b"] = s.TotalOrderItems, schemas.OptLong(s.TotalOrderItemsB2B)
		v["browser_sessions"], v["browser_sessions_b2b"] = t.BrowserSessions, schemas.OptLong(t.BrowserSessionsB2B)
		v["mobile_app_sessions"], v["mobile_app_sessions_b2b"] = t.MobileAppSessions, schemas.OptLong(t.MobileAppSessionsB2B)
		v["sessions"], v["sessions_b2b"] = t.Sessions, schemas.OptLong(t.SessionsB2B)
		v["browser_session_percentage"], v["browser_session_percentage_b2b"] = t.BrowserSessionPercentage, schemas.OptDouble(t.BrowserSessionPercentageB2B)
		v["mobile_app_session_percentage"], v["mobile_app_session_percentage_b2b"] = t.MobileAppSessionPercentage, schemas.OptDouble(t.MobileAppSessionPercentageB2B)
		v["session_percentage"], v["session_percentage_b2b"] = t.SessionPercentage, schemas.OptDouble(t.SessionPercentageB2B)
		v["browser_page_views"], v["browser_page_views_b2b"] = t.BrowserPageViews, schemas.OptLong(t.BrowserPageViewsB2B)
		v["mobile_app_page_views"], v["mobile_app_page_views_b2b"] = t.MobileAppPageViews, schemas.OptLong(t.MobileAppPageViewsB2B)
		v["page_views"], v["page_views_b2b"] = t.PageViews, schemas.OptLong(t.PageViewsB2B)
		v["browser_page_views_percentage"], v["browser_page_views_percentage_b2b"] = t.BrowserPageViewsPercentage, schemas.OptDouble(t.BrowserPageViewsPercentageB2B)
		v["mobile_app_page_views_percentage"], v["mobile_app_page_views_percentage_b2b"] = t.MobileAppPageViewsPercentage, schemas.OptDouble(t.MobileAppPageViewsPercentageB2B)
		v["page_views_percentage"], v["page_views_percentage_b2b"] = t.PageViewsPercentage, schemas.OptDouble(t.PageViewsPercentageB2B)
		v["buy_box_percentage"], v["buy_box_percentage_b2b"] = t.BuyBoxPercentage, schemas.OptDouble(t.BuyBoxPercentageB2B)
		v["unit_session_percentage"], v["unit_session_percentage_b2b"] = t.UnitSessionPercentage, schemas.OptDouble(t.UnitSessionPercentageB2B)
		key := strings.Join([]string{m.MarketplaceID, d.Day.String(), row.ParentAsin, row.ChildAsin, row.SKU}, ":")
		out = append(out, Record{Topic: schemas.TopicAmazonSalesTraffic, Key: key, Value: v})
	}
	return out, nil
}

// SearchTerms maps a search terms report to amazon.search_terms records:
// one per (department, search term), its report rows (one per clicked
// ASIN) folded into clicked_asins ordered by click share rank.
func (m Mapper) SearchTerms(p SearchTermsPeriod) ([]Record, error) {
	if p.Report == nil {
		return nil, nil
	}
	type group struct {
		dept, term string
		rank       int64
		rows       []SearchTermRow
	}
	var order []*group
	groups := map[[2]string]*group{}
	for _, r := range p.Report.Rows {
		k := [2]string{r.DepartmentName, r.SearchTerm}
		g := groups[k]
		if g == nil {
			g = &group{dept: r.DepartmentName, term: r.SearchTerm, rank: r.SearchFrequencyRank}
			groups[k] = g
			order = append(order, g)
		}
		g.rank = min(g.rank, r.SearchFrequencyRank)
		g.rows = append(g.rows, r)
	}
	out := make([]Record, 0, len(order))
	for _, g := range order {
		sort.SliceStable(g.rows, func(i, j int) bool { return g.rows[i].ClickShareRank < g.rows[j].ClickShareRank })
		clicked := make([]any, 0, len(g.rows))
		for _, r := range g.rows {
			clicked = append(clicked, map[string]any{"clicked_asin": r.ClickedAsin, "click_share_rank": r.ClickShareRank,
				"click_share": r.ClickShare, "conversion_share": r.ConversionShare})
		}
		v := meta("search_term", "snapshot", p.Generated)
		v["marketplace_id"] = m.MarketplaceID
		v["report_period"] = p.Period.Kind
		v["start_date"] = p.Period.Start.Start(time.UTC)
		v["end_date"] = p.Period.End.Start(time.UTC)
		v["date_time_zone"] = m.zoneName()
		v["report_id"] = schemas.OptString(p.ReportID)
		v["department_name"] = g.dept
		v["search_term"] = g.term
		v["search_frequency_rank"] = g.rank
		v["clicked_asins"] = clicked
		key := strings.Join([]string{m.MarketplaceID, p.Period.Kind, p.Period.Start.String(), g.dept, g.term}, ":")
		out = append(out, Record{Topic: schemas.TopicAmazonSearchTerms, Key: key, Value: v})
	}
	return out, nil
}

// SearchQueryPerformance maps an SQP batch to
// amazon.search_query_performance records, one per dataByAsin row.
func (m Mapper) SearchQueryPerformance(b SQPBatch) ([]Record, error) {
	if b.Report == nil {
		return nil, nil
	}
	out := make([]Record, 0, len(b.Report.Rows))
	for i := range b.Report.Rows {
		r := &b.Report.Rows[i]
		fail := func(err error) ([]Record, error) {
			return nil, fmt.Errorf("map search query performance row %d (%s): %w", i, clip(r.ASIN), err)
		}
		start, err := ParseDate(r.StartDate)
		if err != nil {
			return fail(err)
		}
		end, err := ParseDate(r.EndDate)
		if err != nil {
			return fail(err)
		}
		var money moneyFields
		v := meta("search_query_performance", "snapshot", b.Generated)
		v["marketplace_id"] = m.MarketplaceID
		v["report_period"] = b.Period.Kind
		v["start_date"] = start.Start(time.UTC)
		v["end_date"] = end.Start(time.UTC)
		v["date_time_zone"] = m.zoneName()
		v["asin"] = r.ASIN
		v["report_id"] = schemas.OptString(b.ReportID)
		q := r.SearchQueryData
		v["search_query"], v["search_query_score"], v["search_query_volume"] = q.SearchQuery, q.SearchQueryScore, q.SearchQueryVolume
		im := r.ImpressionData
		v["total_query_impression_count"], v["asin_impression_count"], v["asin_impression_share"] = im.TotalQueryImpressionCount, im.AsinImpressionCount, im.AsinImpressionShare
		c := r.ClickData
		v["total_click_count"], v["total_click_rate"], v["asin_click_count"], v["asin_click_share"] = c.TotalClickCount, c.TotalClickRate, c.AsinClickCount, c.AsinClickShare
		v["total_median_click_price"] = money.amount("totalMedianClickPrice", c.TotalMedianClickPrice)
		v["asin_median_click_price"] = money.amount("asinMedianClickPrice", c.AsinMedianClickPrice)
		v["total_same_day_shipping_click_count"], v["total_one_day_shipping_click_count"], v["total_two_day_shipping_click_count"] = c.TotalSameDayShippingClickCount, c.TotalOneDayShippingClickCount, c.TotalTwoDayShippingClickCount
		a := r.CartAddData
		v["total_cart_add_count"], v["total_cart_add_rate"], v["asin_cart_add_count"], v["asin_cart_add_share"] = a.TotalCartAddCount, a.TotalCartAddRate, a.AsinCartAddCount, a.AsinCartAddShare
		v["total_median_cart_add_price"] = money.amount("totalMedianCartAddPrice", a.TotalMedianCartAddPrice)
		v["asin_median_cart_add_price"] = money.amount("asinMedianCartAddPrice", a.AsinMedianCartAddPrice)
		v["total_same_day_shipping_cart_add_count"], v["total_one_day_shipping_cart_add_count"], v["total_two_day_shipping_cart_add_count"] = a.TotalSameDayShippingCartAddCount, a.TotalOneDayShippingCartAddCount, a.TotalTwoDayShippingCartAddCount
		p := r.PurchaseData
		v["total_purchase_count"], v["total_purchase_rate"], v["asin_purchase_count"], v["asin_purchase_share"] = p.TotalPurchaseCount, p.TotalPurchaseRate, p.AsinPurchaseCount, p.AsinPurchaseShare
		v["total_median_purchase_price"] = money.amount("totalMedianPurchasePrice", p.TotalMedianPurchasePrice)
		v["asin_median_purchase_price"] = money.amount("asinMedianPurchasePrice", p.AsinMedianPurchasePrice)
		v["total_same_day_shipping_purchase_count"], v["total_one_day_shipping_purchase_count"], v["total_two_day_shipping_purchase_count"] = p.TotalSameDayShippingPurchaseCount, p.TotalOneDayShippingPurchaseCount, p.TotalTwoDayShippingPurchaseCount
		v["currency_code"] = schemas.OptString(money.currency)
		if money.err != nil {
			return fail(money.err)
		}
		key := strings.Join([]string{m.MarketplaceID, b.Period.Kind, start.String(), r.ASIN, q.SearchQuery}, ":")
		out = append(out, Record{Topic: schemas.TopicAmazonSearchQueryPerformance, Key: key, Value: v})
	}
	return out, nil
}

// CatalogItem maps a catalog snapshot taken at capturedAt to an
// amazon.catalog record, keeping the datasets of the mapper's marketplace.
func (m Mapper) CatalogItem(it CatalogItem, capturedAt time.Time) (Record, error) {
	if it.ASIN == "" {
		return Record{}, errors.New("map catalog item: asin is missing")
	}
	v := meta("catalog_item", "snapshot", capturedAt)
	v["marketplace_id"] = m.MarketplaceID
	v["asin"] = it.ASIN
	ids := []any{}
	for _, set := range it.Identifiers {
		if set.MarketplaceID != m.MarketplaceID {
			continue
		}
		for _, id := range set.Identifiers {
			ids = append(ids, map[string]any{"identifier_type": id.IdentifierType, "identifier": id.Identifier})
		}
	}
	v["identifiers"] = ids
	cls, dgs := []any{}, []any{}
	for _, sr := range it.SalesRanks {
		if sr.MarketplaceID != m.MarketplaceID {
			continue
		}
		for _, r := range sr.ClassificationRanks {
			cls = append(cls, map[string]any{"classification_id": r.ClassificationID, "title": r.Title, "link": schemas.OptString(r.Link), "rank": r.Rank})
		}
		for _, r := range sr.DisplayGroupRanks {
			dgs = append(dgs, map[string]any{"website_display_group": r.WebsiteDisplayGroup, "title": r.Title, "link": schemas.OptString(r.Link), "rank": r.Rank})
		}
	}
	v["classification_ranks"], v["display_group_ranks"] = cls, dgs
	for _, f := range []string{"item_name", "brand", "manufacturer", "model_number", "part_number", "color", "size", "style",
		"item_classification", "browse_classification_id", "browse_classification_name", "website_display_group",
		"website_display_group_name", "package_quantity", "release_date"} {
		v[f] = nil
	}
	for _, s := range it.Summaries {
		if s.MarketplaceID != m.MarketplaceID {
			continue
		}
		v["item_name"], v["brand"], v["manufacturer"] = schemas.OptString(s.ItemName), schemas.OptString(s.Brand), schemas.OptString(s.Manufacturer)
		v["model_number"], v["part_number"] = schemas.OptString(s.ModelNumber), schemas.OptString(s.PartNumber)
		v["color"], v["size"], v["style"] = schemas.OptString(s.Color), schemas.OptString(s.Size), schemas.OptString(s.Style)
		v["item_classification"] = schemas.OptString(s.ItemClassification)
		if bc := s.BrowseClassification; bc != nil {
			v["browse_classification_id"], v["browse_classification_name"] = schemas.OptString(bc.ClassificationID), schemas.OptString(bc.DisplayName)
		}
		v["website_display_group"], v["website_display_group_name"] = schemas.OptString(s.WebsiteDisplayGroup), schemas.OptString(s.WebsiteDisplayGroupName)
		v["package_quantity"] = schemas.OptLong(s.PackageQuantity)
		if s.ReleaseDate != "" {
			d, err := ParseDate(s.ReleaseDate)
			if err != nil {
				return Record{}, fmt.Errorf("map catalog item %s: releaseDate: %w", clip(it.ASIN), err)
			}
			v["release_date"] = map[string]any{"int.date": d.Start(time.UTC)}
		}
		break
	}
	return Record{Topic: schemas.TopicAmazonCatalog, Key: m.MarketplaceID + ":" + it.ASIN, Value: v}, nil
}
