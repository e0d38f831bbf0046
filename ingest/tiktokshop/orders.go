package tiktokshop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Order is an order object of order search and order detail (reference
// section 2.7). Money stays in the API's decimal strings until mapping; times
// are Unix seconds.
type Order struct {
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	CreateTime        int64      `json:"create_time"`
	UpdateTime        int64      `json:"update_time"`
	PaidTime          int64      `json:"paid_time"`
	RTSSLATime        int64      `json:"rts_sla_time"`
	TTSSLATime        int64      `json:"tts_sla_time"`
	UserID            string     `json:"user_id"`
	FulfillmentType   string     `json:"fulfillment_type"`
	ShippingType      string     `json:"shipping_type"`
	WarehouseID       string     `json:"warehouse_id"`
	IsOnHoldOrder     *bool      `json:"is_on_hold_order"`
	IsCOD             *bool      `json:"is_cod"`
	IsSampleOrder     *bool      `json:"is_sample_order"`
	SplitOrCombineTag string     `json:"split_or_combine_tag"`
	Payment           Payment    `json:"payment"`
	LineItems         []LineItem `json:"line_items"`
	Packages          []struct {
		ID string `json:"id"`
	} `json:"packages"`
	RecipientAddress struct {
		RegionCode string `json:"region_code"`
	} `json:"recipient_address"`
	CancelReason          string `json:"cancel_reason"`
	CancellationInitiator string `json:"cancellation_initiator"`
	TrackingNumber        string `json:"tracking_number"`
}

// Payment is an order's payment block; amounts are decimal strings.
type Payment struct {
	Currency                    string `json:"currency"`
	SubTotal                    string `json:"sub_total"`
	ShippingFee                 string `json:"shipping_fee"`
	SellerDiscount              string `json:"seller_discount"`
	PlatformDiscount            string `json:"platform_discount"`
	Tax                         string `json:"tax"`
	TotalAmount                 string `json:"total_amount"`
	OriginalTotalProductPrice   string `json:"original_total_product_price"`
	OriginalShippingFee         string `json:"original_shipping_fee"`
	ShippingFeeSellerDiscount   string `json:"shipping_fee_seller_discount"`
	ShippingFeePlatformDiscount string `json:"shipping_fee_platform_discount"`
	RetailDeliveryFee           string `json:"retail_delivery_fee"`
}

// LineItem is one line_items[] entry: often one unit of a SKU.
type LineItem struct {
	ID               string `json:"id"`
	ProductID        string `json:"product_id"`
	ProductName      string `json:"product_name"`
	SKUID            string `json:"sku_id"`
	SKUName          string `json:"sku_name"`
	SellerSKU        string `json:"seller_sku"`
	Currency         string `json:"currency"`
	SalePrice        string `json:"sale_price"`
	OriginalPrice    string `json:"original_price"`
	PlatformDiscount string `json:"platform_discount"`
	SellerDiscount   string `json:"seller_discount"`
	DisplayStatus    string `json:"display_status"`
	PackageID        string `json:"package_id"`
	PackageStatus    string `json:"package_status"`
	IsGift           *bool  `json:"is_gift"`
	SKUType          string `json:"sku_type"`
	ItemTax          []struct {
		TaxType   string `json:"tax_type"`
		TaxAmount string `json:"tax_amount"`
		TaxRate   string `json:"tax_rate"`
	} `json:"item_tax"`
}

// OrderSearchPageSize is the page size of order searches (the maximum).
const OrderSearchPageSize = 100

// OrdersUpdated returns every order whose update_time the search index puts
// in [from, to), following page_token to the end. TikTok warns that "update
// times may exceed the selected search range" (orders come back as they are
// now), so callers search overlapping windows and dedupe; see OrderPoller.
func (c *Client) OrdersUpdated(ctx context.Context, from, to time.Time) ([]Order, error) {
	body := map[string]int64{"update_time_ge": from.Unix(), "update_time_lt": to.Unix()}
	params := url.Values{"page_size": {strconv.Itoa(OrderSearchPageSize)}, "sort_field": {"update_time"}, "sort_order": {"ASC"}}
	var out []Order
	for page := 0; ; page++ {
		var d struct {
			NextPageToken string            `json:"next_page_token"`
			TotalCount    int               `json:"total_count"`
			Orders        []json.RawMessage `json:"orders"`
		}
		// Every page repeats the body: the signature covers it and the
		// API expects the same filters with a page_token.
		if err := c.call(ctx, "orders.search", http.MethodPost, "/order/202309/orders/search", params, body, true, &d); err != nil {
			return nil, fmt.Errorf("search orders updated in [%s, %s) page %d: %w", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), page, err)
		}
		var err error
		if out, err = appendEach(c, "orders.search", out, d.Orders); err != nil {
			return nil, err
		}
		if d.NextPageToken == "" {
			return out, nil
		}
		params = url.Values{"page_size": {strconv.Itoa(OrderSearchPageSize)}, "sort_field": {"update_time"},
			"sort_order": {"ASC"}, "page_token": {d.NextPageToken}}
	}
}

// MaxOrderDetailIDs is the most ids one order-detail call takes.
const MaxOrderDetailIDs = 50

// OrderDetail returns the orders with the given ids (GET
// /order/202309/orders), in batches of MaxOrderDetailIDs. Unknown ids are
// left out.
func (c *Client) OrderDetail(ctx context.Context, ids ...string) ([]Order, error) {
	var out []Order
	for len(ids) > 0 {
		n := min(len(ids), MaxOrderDetailIDs)
		var d struct {
			Orders []json.RawMessage `json:"orders"`
		}
		// Sent and signed as one comma-joined value (the reference's
		// reading of the open question on array parameters).
		params := url.Values{"ids": {strings.Join(ids[:n], ",")}}
		if err := c.call(ctx, "orders.detail", http.MethodGet, "/order/202309/orders", params, nil, true, &d); err != nil {
			return nil, fmt.Errorf("order detail of %d ids: %w", n, err)
		}
		var err error
		if out, err = appendEach(c, "orders.detail", out, d.Orders); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return out, nil
}

// PollerConfig shapes an OrderPoller's windows.
type PollerConfig struct {
	// Overlap is how far each window reaches back before the previous
	// window's end, to catch orders the index placed late. Default 10 min.
	Overlap time.Duration
	// Lag keeps windows this far behind now, so the search index (which
	// trails the orders) has caught up. Default 2 min.
	Lag time.Duration
	// MaxWindow bounds one search window, so a backfill proceeds in slices.
	// Default 6 h.
	MaxWindow time.Duration
}

// OrderPoller reads order changes by update_time windows with an overlap and
// returns every order version once: an order seen again with the same or an
// older update_time (in the overlap, or because the index lagged) is dropped.
// Its position is Cursor; a stage stores it with the records it emitted and
// restarts with NewOrderPoller(c, cursor, cfg) — the overlap then re-reads a
// little, which deterministic event ids make harmless.
//
// An OrderPoller is not safe for concurrent use.
type OrderPoller struct {
	c      *Client
	cfg    PollerConfig
	cursor time.Time
	seen   map[string]int64 // order id → update_time returned
}

// NewOrderPoller returns a poller whose first window starts at since.
func NewOrderPoller(c *Client, since time.Time, cfg PollerConfig) *OrderPoller {
	if cfg.Overlap <= 0 {
		cfg.Overlap = 10 * time.Minute
	}
	if cfg.Lag <= 0 {
		cfg.Lag = 2 * time.Minute
	}
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = 6 * time.Hour
	}
	return &OrderPoller{c: c, cfg: cfg, cursor: since.Truncate(time.Second), seen: map[string]int64{}}
}

// Cursor returns the end of the last window read: every order change before
// it has been returned.
func (p *OrderPoller) Cursor() time.Time { return p.cursor }

// Poll searches from the cursor (less the overlap) up to now less the lag, in
// windows of at most MaxWindow, and returns the order versions not returned
// before, oldest update first. The cursor advances window by window, so an
// error keeps what was read before it.
func (p *OrderPoller) Poll(ctx context.Context) ([]Order, error) {
	end := p.c.cfg.Clock.Now().Add(-p.cfg.Lag).Truncate(time.Second)
	var out []Order
	for p.cursor.Before(end) {
		from := p.cursor.Add(-p.cfg.Overlap)
		to := minTime(p.cursor.Add(p.cfg.MaxWindow), end)
		orders, err := p.c.OrdersUpdated(ctx, from, to)
		if err != nil {
			return out, err
		}
		for _, o := range orders {
			if last, ok := p.seen[o.ID]; ok && o.UpdateTime <= last {
				continue
			}
			p.seen[o.ID] = o.UpdateTime
			out = append(out, o)
		}
		p.cursor = to
		// An order whose last returned version is older than the next
		// window's start can only come back with a newer update_time.
		next := p.cursor.Add(-p.cfg.Overlap).Unix()
		for id, ut := range p.seen {
			if ut < next {
				delete(p.seen, id)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdateTime < out[j].UpdateTime })
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
