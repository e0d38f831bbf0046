package amazon

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Money is the Orders API's money: a decimal string amount and its currency.
type Money struct {
	CurrencyCode string `json:"CurrencyCode"`
	Amount       string `json:"Amount"`
}

// Order is an Orders API v0 Order: the fields shopstream records. Dates are
// kept as the API's ISO 8601 strings; mapping parses them.
type Order struct {
	AmazonOrderID                string   `json:"AmazonOrderId"`
	SellerOrderID                string   `json:"SellerOrderId,omitempty"`
	PurchaseDate                 string   `json:"PurchaseDate"`
	LastUpdateDate               string   `json:"LastUpdateDate"`
	OrderStatus                  string   `json:"OrderStatus"`
	FulfillmentChannel           string   `json:"FulfillmentChannel,omitempty"`
	SalesChannel                 string   `json:"SalesChannel,omitempty"`
	OrderChannel                 string   `json:"OrderChannel,omitempty"`
	ShipServiceLevel             string   `json:"ShipServiceLevel,omitempty"`
	OrderTotal                   *Money   `json:"OrderTotal,omitempty"`
	NumberOfItemsShipped         *int64   `json:"NumberOfItemsShipped,omitempty"`
	NumberOfItemsUnshipped       *int64   `json:"NumberOfItemsUnshipped,omitempty"`
	PaymentMethod                string   `json:"PaymentMethod,omitempty"`
	PaymentMethodDetails         []string `json:"PaymentMethodDetails,omitempty"`
	MarketplaceID                string   `json:"MarketplaceId,omitempty"`
	ShipmentServiceLevelCategory string   `json:"ShipmentServiceLevelCategory,omitempty"`
	EasyShipShipmentStatus       string   `json:"EasyShipShipmentStatus,omitempty"`
	OrderType                    string   `json:"OrderType,omitempty"`
	EarliestShipDate             string   `json:"EarliestShipDate,omitempty"`
	LatestShipDate               string   `json:"LatestShipDate,omitempty"`
	EarliestDeliveryDate         string   `json:"EarliestDeliveryDate,omitempty"`
	LatestDeliveryDate           string   `json:"LatestDeliveryDate,omitempty"`
	IsBusinessOrder              *bool    `json:"IsBusinessOrder,omitempty"`
	IsPrime                      *bool    `json:"IsPrime,omitempty"`
	IsPremiumOrder               *bool    `json:"IsPremiumOrder,omitempty"`
	IsGlobalExpressEnabled       *bool    `json:"IsGlobalExpressEnabled,omitempty"`
	ReplacedOrderID              string   `json:"ReplacedOrderId,omitempty"`
	IsReplacementOrder           *bool    `json:"IsReplacementOrder,omitempty"`
	PromiseResponseDueDate       string   `json:"PromiseResponseDueDate,omitempty"`
	IsEstimatedShipDateSet       *bool    `json:"IsEstimatedShipDateSet,omitempty"`
	IsSoldByAB                   *bool    `json:"IsSoldByAB,omitempty"`
	IsIBA                        *bool    `json:"IsIBA,omitempty"`
	IsISPU                       *bool    `json:"IsISPU,omitempty"`
	IsAccessPointOrder           *bool    `json:"IsAccessPointOrder,omitempty"`
	HasRegulatedItems            *bool    `json:"HasRegulatedItems,omitempty"`
	ElectronicInvoiceStatus      string   `json:"ElectronicInvoiceStatus,omitempty"`
	BuyerInvoicePreference       string   `json:"BuyerInvoicePreference,omitempty"`
	SellerDisplayName            string   `json:"SellerDisplayName,omitempty"`
}

// OrderItem is an Orders API v0 OrderItem: the fields shopstream records.
type OrderItem struct {
	ASIN            string `json:"ASIN"`
	SellerSKU       string `json:"SellerSKU,omitempty"`
	OrderItemID     string `json:"OrderItemId"`
	Title           string `json:"Title,omitempty"`
	QuantityOrdered int64  `json:"QuantityOrdered"`
	QuantityShipped *int64 `json:"QuantityShipped,omitempty"`
	ProductInfo     *struct {
		NumberOfItems string `json:"NumberOfItems,omitempty"`
	} `json:"ProductInfo,omitempty"`
	PointsGranted *struct {
		PointsNumber        *int64 `json:"PointsNumber,omitempty"`
		PointsMonetaryValue *Money `json:"PointsMonetaryValue,omitempty"`
	} `json:"PointsGranted,omitempty"`
	ItemPrice                  *Money   `json:"ItemPrice,omitempty"`
	ShippingPrice              *Money   `json:"ShippingPrice,omitempty"`
	ItemTax                    *Money   `json:"ItemTax,omitempty"`
	ShippingTax                *Money   `json:"ShippingTax,omitempty"`
	ShippingDiscount           *Money   `json:"ShippingDiscount,omitempty"`
	ShippingDiscountTax        *Money   `json:"ShippingDiscountTax,omitempty"`
	PromotionDiscount          *Money   `json:"PromotionDiscount,omitempty"`
	PromotionDiscountTax       *Money   `json:"PromotionDiscountTax,omitempty"`
	PromotionIDs               []string `json:"PromotionIds,omitempty"`
	CODFee                     *Money   `json:"CODFee,omitempty"`
	CODFeeDiscount             *Money   `json:"CODFeeDiscount,omitempty"`
	IsGift                     string   `json:"IsGift,omitempty"`
	ConditionNote              string   `json:"ConditionNote,omitempty"`
	ConditionID                string   `json:"ConditionId,omitempty"`
	ConditionSubtypeID         string   `json:"ConditionSubtypeId,omitempty"`
	ScheduledDeliveryStartDate string   `json:"ScheduledDeliveryStartDate,omitempty"`
	ScheduledDeliveryEndDate   string   `json:"ScheduledDeliveryEndDate,omitempty"`
	PriceDesignation           string   `json:"PriceDesignation,omitempty"`
	SerialNumberRequired       *bool    `json:"SerialNumberRequired,omitempty"`
	IsTransparency             *bool    `json:"IsTransparency,omitempty"`
	IossNumber                 string   `json:"IossNumber,omitempty"`
	StoreChainStoreID          string   `json:"StoreChainStoreId,omitempty"`
	DeemedResellerCategory     string   `json:"DeemedResellerCategory,omitempty"`
	BuyerRequestedCancel       *struct {
		IsBuyerRequestedCancel string `json:"IsBuyerRequestedCancel,omitempty"`
		BuyerCancelReason      string `json:"BuyerCancelReason,omitempty"`
	} `json:"BuyerRequestedCancel,omitempty"`
}

type getOrdersResponse struct {
	Payload *struct {
		Orders            []Order `json:"Orders"`
		NextToken         string  `json:"NextToken"`
		LastUpdatedBefore string  `json:"LastUpdatedBefore"`
	} `json:"payload"`
}

type getOrderItemsResponse struct {
	Payload *struct {
		OrderItems    []OrderItem `json:"OrderItems"`
		NextToken     string      `json:"NextToken"`
		AmazonOrderID string      `json:"AmazonOrderId"`
	} `json:"payload"`
}

// isoMillis formats t for SP-API query parameters.
func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// GetOrders returns every order whose LastUpdateDate is in [after, before],
// following NextToken. before must be at least two minutes before now
// (Amazon rejects it otherwise); OrderPoller takes care of that.
func (c *Client) GetOrders(ctx context.Context, after, before time.Time) ([]Order, error) {
	base := url.Values{
		"MarketplaceIds":    {c.cfg.MarketplaceID},
		"LastUpdatedAfter":  {isoMillis(after)},
		"LastUpdatedBefore": {isoMillis(before)},
		"MaxResultsPerPage": {"100"},
	}
	var out []Order
	q := base
	for page := 0; ; page++ {
		resp, err := callJSON[getOrdersResponse](ctx, c, request{op: OpGetOrders, method: "GET", path: "/orders/v0/orders", query: q})
		if err != nil {
			return out, fmt.Errorf("get orders %s..%s page %d: %w", isoMillis(after), isoMillis(before), page, err)
		}
		if resp.Payload == nil {
			return out, fmt.Errorf("get orders page %d: response has no payload", page)
		}
		out = append(out, resp.Payload.Orders...)
		if resp.Payload.NextToken == "" {
			return out, nil
		}
		// "NextToken doesn't affect any filters": the token carries the
		// query, and MarketplaceIds stays required.
		q = url.Values{"MarketplaceIds": {c.cfg.MarketplaceID}, "NextToken": {resp.Payload.NextToken}}
	}
}

// GetOrderItems returns every line of an order, following NextToken.
func (c *Client) GetOrderItems(ctx context.Context, orderID string) ([]OrderItem, error) {
	path := "/orders/v0/orders/" + url.PathEscape(orderID) + "/orderItems"
	var q url.Values
	var out []OrderItem
	for page := 0; ; page++ {
		resp, err := callJSON[getOrderItemsResponse](ctx, c, request{op: OpGetOrderItems, method: "GET", path: path, query: q})
		if err != nil {
			return out, fmt.Errorf("get order items of %s page %d: %w", orderID, page, err)
		}
		if resp.Payload == nil {
			return out, fmt.Errorf("get order items of %s: response has no payload", orderID)
		}
		out = append(out, resp.Payload.OrderItems...)
		if resp.Payload.NextToken == "" {
			return out, nil
		}
		q = url.Values{"NextToken": {resp.Payload.NextToken}}
	}
}

// OrderPollerOptions tune an OrderPoller; zero fields take defaults.
type OrderPollerOptions struct {
	// Overlap is how far each window reaches back before the previous one
	// ended, to pick up orders whose update became visible late (Amazon:
	// "most" updates are visible after two minutes). Default 10 min.
	Overlap time.Duration
	// Lag is how far before now a window ends. Amazon requires at least two
	// minutes; the default adds 30 s for clock skew.
	Lag time.Duration
	// MaxWindow bounds one window, so a backfill advances the cursor in
	// resumable steps. Default 24 h.
	MaxWindow time.Duration
}

// OrdersWindow is what one poll read.
type OrdersWindow struct {
	// After and Before are the window's LastUpdatedAfter/Before.
	After, Before time.Time
	// Orders are the order versions (AmazonOrderId, LastUpdateDate) this
	// poller has not returned before, in the API's order.
	Orders []Order
	// Seen counts every order the API returned, repeats included.
	Seen int
}

// OrderPoller walks getOrders windows by LastUpdateDate from a cursor. Each
// window starts Overlap before the previous one ended and ends Lag before
// now; order versions already returned in the overlap are dropped, so one
// poller returns each version once. A poller restarted from a stored cursor
// may return versions of the overlap again; change capture drops those.
type OrderPoller struct {
	c      *Client
	opts   OrderPollerOptions
	cursor time.Time
	first  bool
	seen   map[string]time.Time // AmazonOrderId|LastUpdateDate → LastUpdateDate
}

// NewOrderPoller returns a poller whose first window starts at cursor (the
// Before of the last window a previous run completed, or the backfill start).
func (c *Client) NewOrderPoller(cursor time.Time, opts OrderPollerOptions) *OrderPoller {
	if opts.Overlap <= 0 {
		opts.Overlap = 10 * time.Minute
	}
	if opts.Lag < 2*time.Minute {
		opts.Lag = 2*time.Minute + 30*time.Second
	}
	if opts.MaxWindow <= 0 {
		opts.MaxWindow = 24 * time.Hour
	}

	return &OrderPoller{c: c, opts: opts, cursor: cursor, first: true, seen: map[string]time.Time{}}
}

// Cursor returns the Before of the last completed window: where a restarted
// poller resumes.
func (p *OrderPoller) Cursor() time.Time { return p.cursor }

// Window returns the next window to read at now, and false if the cursor is
// already within Lag of now.
func (p *OrderPoller) Window(now time.Time) (after, before time.Time, ok bool) {
	before = now.Add(-p.opts.Lag).Truncate(time.Second)
	if lim := p.cursor.Add(p.opts.MaxWindow); before.After(lim) {
		before = lim
	}
	if !before.After(p.cursor) {
		return time.Time{}, time.Time{}, false
	}
	after = p.cursor
	if !p.first {
		after = p.cursor.Add(-p.opts.Overlap)
	}
	return after, before, true
}

// Poll reads the next window. It returns an empty window when there is
// nothing to read yet. On error the cursor does not move.
func (p *OrderPoller) Poll(ctx context.Context) (OrdersWindow, error) {
	after, before, ok := p.Window(p.c.clock.Now())
	if !ok {
		return OrdersWindow{After: p.cursor, Before: p.cursor}, nil
	}
	w, keys, err := p.fetch(ctx, after, before)
	if err != nil {
		return OrdersWindow{}, err
	}
	p.commit(w, keys)
	return w, nil
}

// fetch reads a window and drops versions already returned, without
// changing the poller.
func (p *OrderPoller) fetch(ctx context.Context, after, before time.Time) (OrdersWindow, map[string]time.Time, error) {
	orders, err := p.c.GetOrders(ctx, after, before)
	if err != nil {
		return OrdersWindow{}, nil, err
	}
	w := OrdersWindow{After: after, Before: before, Seen: len(orders)}
	keys := map[string]time.Time{}
	for _, o := range orders {
		lu, err := parseTime(o.LastUpdateDate)
		if err != nil {
			// Keep it: the mapping step reports the bad date with the
			// payload, rather than the poller losing the order.
			w.Orders = append(w.Orders, o)
			continue
		}
		k := o.AmazonOrderID + "|" + strconv.FormatInt(lu.UnixMilli(), 10)
		if _, dup := p.seen[k]; dup {
			continue
		}
		if _, dup := keys[k]; dup {
			continue
		}
		keys[k] = lu
		w.Orders = append(w.Orders, o)
	}
	return w, keys, nil
}

// commit moves the cursor past w and remembers its versions for the next
// window's overlap.
func (p *OrderPoller) commit(w OrdersWindow, keys map[string]time.Time) {
	for k, lu := range keys {
		p.seen[k] = lu
	}
	// Versions older than the next window's start cannot be returned again.
	next := w.Before.Add(-p.opts.Overlap)
	for k, lu := range p.seen {
		if lu.Before(next) {
			delete(p.seen, k)
		}
	}
	p.cursor, p.first = w.Before, false
}

// OrdersWithLines is one window's new order versions with their lines.
type OrdersWithLines struct {
	OrdersWindow
	// Lines are the lines of every order in Orders, by AmazonOrderId.
	Lines map[string][]OrderLine
	// LinesStats say how many orders the report served.
	LinesStats OrderLinesStats
	// ReportErr is why the flat-file report could not serve the window (a
	// *ReportFatalError, a failed call, ...), for the stage to record; the
	// lines then came from getOrderItems.
	ReportErr error
}

// PollWithLines reads the next window and the lines of its orders. It
// requests the window's flat-file report first (or takes the one
// PrefetchLines asked for), reads getOrders while the report is generated,
// then takes lines from the report and falls back to getOrderItems per order
// where it cannot serve (see Client.OrderLines). The cursor moves only when
// orders and lines were all read.
func (p *OrderPoller) PollWithLines(ctx context.Context) (OrdersWithLines, error) {
	after, before, ok := p.Window(p.c.clock.Now())
	if !ok {
		return OrdersWithLines{OrdersWindow: OrdersWindow{After: p.cursor, Before: p.cursor}}, nil
	}
	q := p.c.reports
	job := q.claim(orderLinesSpec(after, before))
	rerr := q.start(ctx, job)
	if ctx.Err() != nil {
		q.release(job, true)
		return OrdersWithLines{}, ctx.Err()
	}
	w, keys, err := p.fetch(ctx, after, before)
	if err != nil {
		q.release(job, true) // the window is read again
		return OrdersWithLines{}, err
	}
	out := OrdersWithLines{OrdersWindow: w, ReportErr: rerr}
	var idx *OrderLinesIndex
	if rerr == nil && len(w.Orders) > 0 {
		idx, out.ReportErr = p.c.orderLinesIndex(func(parse func([]byte) error) (ReportResult, error) {
			return p.c.runJob(ctx, job, parse)
		})
		if ctx.Err() != nil {
			return OrdersWithLines{}, ctx.Err()
		}
	} else {
		q.release(job, false) // no orders need it, or it failed
	}
	if out.ReportErr != nil {
		p.c.log.Warn().Err(out.ReportErr).Msg("order lines report unavailable; reading lines with getOrderItems")
	}
	out.Lines, out.LinesStats, err = p.c.OrderLines(ctx, w.Orders, idx)
	if err != nil {
		return OrdersWithLines{}, err
	}
	p.commit(w, keys)
	return out, nil
}

// PrefetchLines hints the flat-file reports of the next windows read at now
// or later, up to the client's ReportsInFlight, as far as their bounds are
// fixed already: a window whose end is MaxWindow after the cursor and at
// least Lag before now (a backfill, or catching up after an outage) keeps
// those bounds whenever it is read, while a shorter one ends Lag before the
// time it is read. See Client.PrefetchSalesAndTraffic for how hints are
// used.
func (p *OrderPoller) PrefetchLines(now time.Time) {
	last := now.Add(-p.opts.Lag).Truncate(time.Second)
	cursor, after := p.cursor, p.cursor
	if !p.first {
		after = cursor.Add(-p.opts.Overlap)
	}
	var specs []ReportSpec
	for range p.c.reports.limit {
		before := cursor.Add(p.opts.MaxWindow)
		if before.After(last) {
			break
		}
		specs = append(specs, orderLinesSpec(after, before))
		cursor, after = before, before.Add(-p.opts.Overlap)
	}
	p.c.reports.prefetch(specs...)
}
