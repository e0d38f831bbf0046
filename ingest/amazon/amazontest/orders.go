package amazontest

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// Money is SP-API's money type: the amount is a decimal string.
type Money struct {
	CurrencyCode string `json:"CurrencyCode"`
	Amount       string `json:"Amount"`
}

// Address is the non-PII part of an order's shipping address, which getOrders
// returns without a Restricted Data Token.
type Address struct {
	City          string `json:"City,omitempty"`
	StateOrRegion string `json:"StateOrRegion,omitempty"`
	PostalCode    string `json:"PostalCode,omitempty"`
	CountryCode   string `json:"CountryCode,omitempty"`
}

// Order is the subset of the Orders API v0 Order the simulator serves.
type Order struct {
	AmazonOrderID                string   `json:"AmazonOrderId"`
	SellerOrderID                string   `json:"SellerOrderId,omitempty"`
	PurchaseDate                 string   `json:"PurchaseDate"`
	LastUpdateDate               string   `json:"LastUpdateDate"`
	OrderStatus                  string   `json:"OrderStatus"`
	FulfillmentChannel           string   `json:"FulfillmentChannel,omitempty"`
	SalesChannel                 string   `json:"SalesChannel,omitempty"`
	ShipServiceLevel             string   `json:"ShipServiceLevel,omitempty"`
	OrderTotal                   *Money   `json:"OrderTotal,omitempty"`
	NumberOfItemsShipped         int      `json:"NumberOfItemsShipped"`
	NumberOfItemsUnshipped       int      `json:"NumberOfItemsUnshipped"`
	PaymentMethod                string   `json:"PaymentMethod,omitempty"`
	PaymentMethodDetails         []string `json:"PaymentMethodDetails,omitempty"`
	MarketplaceID                string   `json:"MarketplaceId,omitempty"`
	ShipmentServiceLevelCategory string   `json:"ShipmentServiceLevelCategory,omitempty"`
	OrderType                    string   `json:"OrderType,omitempty"`
	EarliestShipDate             string   `json:"EarliestShipDate,omitempty"`
	LatestShipDate               string   `json:"LatestShipDate,omitempty"`
	IsBusinessOrder              bool     `json:"IsBusinessOrder"`
	IsPrime                      bool     `json:"IsPrime"`
	IsPremiumOrder               bool     `json:"IsPremiumOrder"`
	IsGlobalExpressEnabled       bool     `json:"IsGlobalExpressEnabled"`
	IsReplacementOrder           bool     `json:"IsReplacementOrder"`
	IsSoldByAB                   bool     `json:"IsSoldByAB"`
	IsIBA                        bool     `json:"IsIBA"`
	IsISPU                       bool     `json:"IsISPU"`
	IsAccessPointOrder           bool     `json:"IsAccessPointOrder"`
	HasRegulatedItems            bool     `json:"HasRegulatedItems"`
	ShippingAddress              *Address `json:"ShippingAddress,omitempty"`
}

// OrdersList is getOrders' payload.
type OrdersList struct {
	Orders            []Order `json:"Orders"`
	NextToken         string  `json:"NextToken,omitempty"`
	LastUpdatedBefore string  `json:"LastUpdatedBefore,omitempty"`
	CreatedBefore     string  `json:"CreatedBefore,omitempty"`
}

// GetOrdersResponse is getOrders' body.
type GetOrdersResponse struct {
	Payload *OrdersList `json:"payload,omitempty"`
	Errors  []Error     `json:"errors,omitempty"`
}

// OrderItem is the subset of the Orders API v0 OrderItem the simulator serves.
type OrderItem struct {
	ASIN              string       `json:"ASIN"`
	SellerSKU         string       `json:"SellerSKU,omitempty"`
	OrderItemID       string       `json:"OrderItemId"`
	Title             string       `json:"Title,omitempty"`
	QuantityOrdered   int          `json:"QuantityOrdered"`
	QuantityShipped   int          `json:"QuantityShipped"`
	ProductInfo       *ProductInfo `json:"ProductInfo,omitempty"`
	ItemPrice         *Money       `json:"ItemPrice,omitempty"`
	ShippingPrice     *Money       `json:"ShippingPrice,omitempty"`
	ItemTax           *Money       `json:"ItemTax,omitempty"`
	ShippingTax       *Money       `json:"ShippingTax,omitempty"`
	ShippingDiscount  *Money       `json:"ShippingDiscount,omitempty"`
	PromotionDiscount *Money       `json:"PromotionDiscount,omitempty"`
	IsGift            string       `json:"IsGift,omitempty"`
	ConditionID       string       `json:"ConditionId,omitempty"`
	ConditionSubtype  string       `json:"ConditionSubtypeId,omitempty"`
	IsTransparency    bool         `json:"IsTransparency"`
}

// ProductInfo is OrderItem.ProductInfo.
type ProductInfo struct {
	NumberOfItems string `json:"NumberOfItems,omitempty"`
}

// OrderItemsList is getOrderItems' payload.
type OrderItemsList struct {
	OrderItems    []OrderItem `json:"OrderItems"`
	NextToken     string      `json:"NextToken,omitempty"`
	AmazonOrderID string      `json:"AmazonOrderId"`
}

// GetOrderItemsResponse is getOrderItems' body.
type GetOrderItemsResponse struct {
	Payload *OrderItemsList `json:"payload,omitempty"`
	Errors  []Error         `json:"errors,omitempty"`
}

func money(cur string, m simworld.Money) *Money { return &Money{CurrencyCode: cur, Amount: m.String()} }

// renderOrder turns a world order state into the API's Order.
func renderOrder(s simworld.AmazonOrderState) Order {
	o := Order{
		AmazonOrderID:                s.AmazonOrderID,
		SellerOrderID:                s.SellerOrderID,
		PurchaseDate:                 isoTime(s.PurchaseDate),
		LastUpdateDate:               isoTime(s.LastUpdateDate),
		OrderStatus:                  s.Status,
		FulfillmentChannel:           s.FulfillmentChannel,
		SalesChannel:                 s.SalesChannel,
		ShipServiceLevel:             s.ShipServiceLevel,
		NumberOfItemsShipped:         s.UnitsShipped,
		NumberOfItemsUnshipped:       s.UnitsUnshipped,
		PaymentMethod:                s.PaymentMethod,
		PaymentMethodDetails:         []string{"Standard"},
		MarketplaceID:                s.MarketplaceID,
		ShipmentServiceLevelCategory: s.ShipmentServiceLevelCategory,
		OrderType:                    s.OrderType,
		EarliestShipDate:             isoTime(s.PurchaseDate.Add(24 * time.Hour)),
		LatestShipDate:               isoTime(s.PurchaseDate.Add(48 * time.Hour)),
		IsBusinessOrder:              s.IsBusinessOrder,
		IsPrime:                      s.IsPrime,
	}
	if shipsTo(s.Status) {
		o.ShippingAddress = &Address{City: s.Ship.City, StateOrRegion: s.Ship.State, PostalCode: s.Ship.PostalCode, CountryCode: s.Ship.CountryCode}
	}
	if s.Status != simworld.AmazonPending && s.Status != simworld.AmazonCanceled {
		o.OrderTotal = money(s.Currency, s.Total())
	}
	return o
}

// shipsTo reports whether an order in status carries ShippingAddress: the
// Orders model says it "is only available for orders with the following
// status values: Unshipped, PartiallyShipped, Shipped and
// InvoiceUnconfirmed" (so not for Pending or Canceled ones).
func shipsTo(status string) bool {
	switch status {
	case simworld.AmazonUnshipped, simworld.AmazonPartiallyShipped, simworld.AmazonShipped, "InvoiceUnconfirmed":
		return true
	}
	return false
}

// ordersQuery is a getOrders query, kept inside NextToken so later pages
// apply exactly the same filters to exactly the same snapshot.
type ordersQuery struct {
	Marketplaces []string  `json:"m"`
	ByUpdate     bool      `json:"u"`
	After        time.Time `json:"a"`
	Before       time.Time `json:"b"`
	Statuses     []string  `json:"s,omitempty"`
	Channels     []string  `json:"f,omitempty"`
	Payments     []string  `json:"p,omitempty"`
	OrderIDs     []string  `json:"i,omitempty"`
	SellerOrder  string    `json:"so,omitempty"`
	PageSize     int       `json:"n"`
	AsOf         time.Time `json:"t"`
	Offset       int       `json:"o"`
}

func badInput(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, GetOrdersResponse{Errors: []Error{{Code: CodeInvalidInput, Message: msg}}})
}

// getOrders is GET /orders/v0/orders.
func (s *Simulator) getOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.Clock().Now()
	var qq ordersQuery
	if tok := q.Get("NextToken"); tok != "" {
		if err := simapi.DecodeToken(tok, &qq); err != nil || qq.PageSize == 0 {
			badInput(w, "Invalid NextToken.")
			return
		}
	} else {
		var ok bool
		if qq, ok = s.parseOrdersQuery(w, q, now); !ok {
			return
		}
	}
	matches := s.matchOrders(qq)
	end := min(qq.Offset+qq.PageSize, len(matches))
	payload := &OrdersList{Orders: make([]Order, 0, end-qq.Offset)}
	for _, st := range matches[qq.Offset:end] {
		payload.Orders = append(payload.Orders, renderOrder(st))
	}
	if end < len(matches) {
		next := qq
		next.Offset = end
		payload.NextToken = simapi.EncodeToken(next)
	}
	if qq.ByUpdate {
		payload.LastUpdatedBefore = isoTime(qq.Before)
	} else {
		payload.CreatedBefore = isoTime(qq.Before)
	}
	writeJSON(w, http.StatusOK, GetOrdersResponse{Payload: payload})
}

func (s *Simulator) parseOrdersQuery(w http.ResponseWriter, q map[string][]string, now time.Time) (ordersQuery, bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	qq := ordersQuery{Marketplaces: listParam(q, "MarketplaceIds"), PageSize: 100}
	if len(qq.Marketplaces) == 0 {
		badInput(w, "Missing required parameter MarketplaceIds.")
		return qq, false
	}
	if len(qq.Marketplaces) > 50 {
		badInput(w, "MarketplaceIds accepts at most 50 values.")
		return qq, false
	}
	ca, cb, la, lb := get("CreatedAfter"), get("CreatedBefore"), get("LastUpdatedAfter"), get("LastUpdatedBefore")
	qq.SellerOrder = get("SellerOrderId")
	qq.OrderIDs = listParam(q, "AmazonOrderIds")
	qq.Statuses = listParam(q, "OrderStatuses")
	qq.Channels = listParam(q, "FulfillmentChannels")
	qq.Payments = listParam(q, "PaymentMethods")
	switch {
	case ca == "" && la == "":
		badInput(w, "Either CreatedAfter or LastUpdatedAfter must be specified.")
		return qq, false
	case ca != "" && (la != "" || lb != ""):
		badInput(w, "LastUpdatedAfter and LastUpdatedBefore cannot be set when CreatedAfter is set.")
		return qq, false
	case la != "" && cb != "":
		badInput(w, "CreatedAfter and CreatedBefore cannot be set when LastUpdatedAfter is set.")
		return qq, false
	case qq.SellerOrder != "" && (len(qq.Statuses) > 0 || len(qq.Channels) > 0 || len(qq.Payments) > 0 || la != "" || lb != "" || get("BuyerEmail") != ""):
		badInput(w, "SellerOrderId cannot be combined with FulfillmentChannels, OrderStatuses, PaymentMethod, LastUpdatedAfter, LastUpdatedBefore or BuyerEmail.")
		return qq, false
	}
	afterName, beforeName, after, before := "CreatedAfter", "CreatedBefore", ca, cb
	if la != "" {
		qq.ByUpdate = true
		afterName, beforeName, after, before = "LastUpdatedAfter", "LastUpdatedBefore", la, lb
	}
	latest := now.Add(-s.opts.VisibilityDelay)
	var err error
	if qq.After, err = parseISO(after); err != nil {
		badInput(w, "Invalid "+afterName+": "+err.Error())
		return qq, false
	}
	qq.Before = latest
	if before != "" {
		if qq.Before, err = parseISO(before); err != nil {
			badInput(w, "Invalid "+beforeName+": "+err.Error())
			return qq, false
		}
		// The two-minute rule.
		if qq.Before.After(latest) {
			badInput(w, beforeName+" must be at least two minutes before the current time.")
			return qq, false
		}
	}
	if qq.After.After(latest) {
		// Inferred from the same rule: nothing later than now−2min is visible,
		// so a later After can only be a mistake (MWS rejected it too).
		badInput(w, afterName+" must be at least two minutes before the current time.")
		return qq, false
	}
	if qq.Before.Before(qq.After) {
		badInput(w, beforeName+" must be equal to or after "+afterName+".")
		return qq, false
	}
	if v := get("MaxResultsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			badInput(w, "MaxResultsPerPage must be between 1 and 100.")
			return qq, false
		}
		qq.PageSize = n
	}
	for _, st := range qq.Statuses {
		switch st {
		case "PendingAvailability", "Pending", "Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed", "Canceled", "Unfulfillable":
		default:
			badInput(w, "Invalid OrderStatuses value "+st+".")
			return qq, false
		}
	}
	// Pages are served from one snapshot: the world as it was VisibilityDelay
	// ago when the first page was asked for.
	qq.AsOf = latest
	return qq, true
}

// matchOrders evaluates a query against the world as of the query's snapshot.
func (s *Simulator) matchOrders(qq ordersQuery) []simworld.AmazonOrderState {
	if !slices.Contains(qq.Marketplaces, s.World().Config().MarketplaceID) {
		return nil
	}
	from := qq.After
	if qq.ByUpdate {
		from = from.Add(-simworld.MaxAmazonLifecycle)
	}
	var out []simworld.AmazonOrderState
	for _, o := range s.World().AmazonOrdersPurchased(from, qq.Before.Add(time.Nanosecond)) {
		st, ok := o.At(qq.AsOf)
		if !ok {
			continue
		}
		t := st.PurchaseDate
		if qq.ByUpdate {
			t = st.LastUpdateDate
		}
		if t.Before(qq.After) || t.After(qq.Before) {
			continue
		}
		if len(qq.Statuses) > 0 && !slices.Contains(qq.Statuses, st.Status) ||
			len(qq.Channels) > 0 && !slices.Contains(qq.Channels, st.FulfillmentChannel) ||
			len(qq.Payments) > 0 && !slices.Contains(qq.Payments, st.PaymentMethod) ||
			len(qq.OrderIDs) > 0 && !slices.Contains(qq.OrderIDs, st.AmazonOrderID) ||
			qq.SellerOrder != "" && qq.SellerOrder != st.SellerOrderID {
			continue
		}
		out = append(out, st)
	}
	if qq.ByUpdate {
		sort.SliceStable(out, func(i, j int) bool {
			if !out[i].LastUpdateDate.Equal(out[j].LastUpdateDate) {
				return out[i].LastUpdateDate.Before(out[j].LastUpdateDate)
			}
			return out[i].AmazonOrderID < out[j].AmazonOrderID
		})
	}
	return out
}

// visibleOrder returns the order of the request's orderId as
// getOrder/getOrderItems see it: as it was VisibilityDelay ago. An order that
// did not exist then is not found: it answers 404 and ok is false.
func (s *Simulator) visibleOrder(w http.ResponseWriter, r *http.Request) (st simworld.AmazonOrderState, ok bool) {
	id := r.PathValue("orderId")
	if o, found := s.World().AmazonOrder(id); found {
		st, ok = o.At(s.Clock().Now().Add(-s.opts.VisibilityDelay))
	}
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "Order not found.", "Order "+id+" was not found.")
	}
	return st, ok
}

// getOrder is GET /orders/v0/orders/{orderId}.
func (s *Simulator) getOrder(w http.ResponseWriter, r *http.Request) {
	st, ok := s.visibleOrder(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": renderOrder(st)})
}

// orderItemsPageSize is how many items getOrderItems returns per page; orders
// rarely have more, so NextToken is rare but real.
const orderItemsPageSize = 30

// getOrderItems is GET /orders/v0/orders/{orderId}/orderItems.
func (s *Simulator) getOrderItems(w http.ResponseWriter, r *http.Request) {
	st, ok := s.visibleOrder(w, r)
	if !ok {
		return
	}
	offset := 0
	if tok := r.URL.Query().Get("NextToken"); tok != "" {
		if err := simapi.DecodeToken(tok, &offset); err != nil || offset < 0 || offset > len(st.Items) {
			badInput(w, "Invalid NextToken.")
			return
		}
	}
	asOf := s.Clock().Now().Add(-s.opts.VisibilityDelay)
	end := min(offset+orderItemsPageSize, len(st.Items))
	p := &OrderItemsList{AmazonOrderID: r.PathValue("orderId"), OrderItems: []OrderItem{}}
	for _, it := range st.Items[offset:end] {
		oi := OrderItem{
			ASIN: it.ASIN, SellerSKU: it.SellerSKU, OrderItemID: it.OrderItemID, Title: it.Title,
			QuantityOrdered: it.Quantity, ProductInfo: &ProductInfo{NumberOfItems: "1"},
			ConditionID: "New", ConditionSubtype: "New",
		}
		if !it.ShippedAt.IsZero() && !it.ShippedAt.After(asOf) {
			oi.QuantityShipped = it.Quantity
		}
		// While an order is Pending, pricing, taxes, shipping, gift and
		// promotion fields are not returned.
		if st.Status != simworld.AmazonPending {
			cur := st.Currency
			oi.ItemPrice, oi.ItemTax = money(cur, it.ItemPrice), money(cur, it.ItemTax)
			oi.ShippingPrice, oi.ShippingTax = money(cur, it.ShippingPrice), money(cur, it.ShippingTax)
			oi.ShippingDiscount, oi.PromotionDiscount = money(cur, 0), money(cur, it.PromotionDiscount)
			oi.IsGift = "false"
		}
		p.OrderItems = append(p.OrderItems, oi)
	}
	if end < len(st.Items) {
		p.NextToken = simapi.EncodeToken(end)
	}
	writeJSON(w, http.StatusOK, GetOrderItemsResponse{Payload: p})
}
