package amazon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// OrderLinesIndex is an all-orders flat-file report indexed by order id.
type OrderLinesIndex struct {
	ReportID string
	ByOrder  map[string][]FlatFileOrderLine
}

// orderLinesSpec requests GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL
// for orders last updated in [after, before].
func orderLinesSpec(after, before time.Time) ReportSpec {
	return ReportSpec{ReportType: ReportAllOrdersByLastUpdate, DataStartTime: isoMillis(after), DataEndTime: isoMillis(before)}
}

// orderLinesIndex runs a flat-file report through run and indexes it. A
// report cancelled for lack of data gives an empty index.
func (c *Client) orderLinesIndex(run func(parse func([]byte) error) (ReportResult, error)) (*OrderLinesIndex, error) {
	var lines []FlatFileOrderLine
	res, err := run(func(b []byte) error {
		l, err := ParseAllOrdersFlatFile(b)
		lines = l
		return err
	})
	idx := &OrderLinesIndex{ReportID: res.Report.ReportID, ByOrder: map[string][]FlatFileOrderLine{}}
	if errors.Is(err, ErrReportCancelled) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("order lines report: %w", err)
	}
	for _, l := range lines {
		idx.ByOrder[l.AmazonOrderID] = append(idx.ByOrder[l.AmazonOrderID], l)
	}
	return idx, nil
}

// OrderLine is one line of an order, from either source, with the line id
// that keys its record.
type OrderLine struct {
	Item OrderItem
	// LineID identifies the line within its order. The flat file has no
	// order-item-id, so lines are identified by "sku:"+SellerSKU whatever
	// their source, and the same line keeps one key when it is read from
	// the report one time and from getOrderItems the next. Only an order
	// whose lines cannot be told apart by SKU uses getOrderItems'
	// OrderItemId.
	LineID string
	// OrderStatus is the order's status as the line's source saw it.
	OrderStatus string
	// FromReport says the line came from the flat file.
	FromReport bool
}

// OrderLinesStats say where lines came from.
type OrderLinesStats struct {
	FromReport int // orders served by the report
	FromAPI    int // orders read with getOrderItems
}

// OrderLines returns the lines of each order, keyed by AmazonOrderId. The
// report serves an order when it lists it with distinct, non-empty SKUs and
// at the same or a later update than the order header. getOrderItems is the
// fallback, one call per order, when:
//   - idx is nil (the report failed, e.g. FATAL, and the stage chose not to
//     wait for a retry),
//   - the order is missing from the report (it changed again after the
//     window and left it, or the report was cancelled as empty),
//   - the report's copy is older than the header read by getOrders,
//   - the report's lines have an empty or repeated SKU.
func (c *Client) OrderLines(ctx context.Context, orders []Order, idx *OrderLinesIndex) (map[string][]OrderLine, OrderLinesStats, error) {
	out := make(map[string][]OrderLine, len(orders))
	var st OrderLinesStats
	for _, o := range orders {
		if _, done := out[o.AmazonOrderID]; done {
			continue
		}
		if idx != nil {
			if lines, ok := reportServes(o, idx.ByOrder[o.AmazonOrderID]); ok {
				out[o.AmazonOrderID] = lines
				st.FromReport++
				continue
			}
		}
		items, err := c.GetOrderItems(ctx, o.AmazonOrderID)
		if err != nil {
			return out, st, err
		}
		out[o.AmazonOrderID] = apiLines(o, items)
		st.FromAPI++
	}
	return out, st, nil
}

func uniqueSKUs(skus []string) bool {
	seen := make(map[string]bool, len(skus))
	for _, s := range skus {
		if s == "" || seen[s] {
			return false
		}
		seen[s] = true
	}
	return true
}

func apiLines(o Order, items []OrderItem) []OrderLine {
	skus := make([]string, len(items))
	for i, it := range items {
		skus[i] = it.SellerSKU
	}
	bySKU := uniqueSKUs(skus)
	out := make([]OrderLine, len(items))
	for i, it := range items {
		id := it.OrderItemID
		if bySKU {
			id = "sku:" + it.SellerSKU
		}
		out[i] = OrderLine{Item: it, LineID: id, OrderStatus: o.OrderStatus}
	}
	return out
}

// flatOrderStatus maps the flat file's status spelling to the Orders API's:
// the file says "Cancelled" where the API says "Canceled".
func flatOrderStatus(s string) string {
	if strings.EqualFold(s, "Cancelled") {
		return "Canceled"
	}
	return s
}

// negate turns a flat-file discount ("-1.00") into the API's positive amount.
func negate(s string) string {
	switch {
	case s == "":
		return "0.00"
	case strings.HasPrefix(s, "-"):
		return s[1:]
	case strings.HasPrefix(s, "+"):
		return "-" + s[1:]
	}
	if r, err := parseDecimal(s); err == nil && r.Sign() == 0 {
		return s
	}
	return "-" + s
}

func reportServes(o Order, lines []FlatFileOrderLine) ([]OrderLine, bool) {
	if len(lines) == 0 {
		return nil, false
	}
	header, err := parseTime(o.LastUpdateDate)
	if err != nil {
		return nil, false
	}
	skus := make([]string, len(lines))
	for i, l := range lines {
		if l.LastUpdatedDate.Before(header) {
			return nil, false
		}
		skus[i] = l.SKU
	}
	if !uniqueSKUs(skus) {
		return nil, false
	}
	out := make([]OrderLine, len(lines))
	for i, l := range lines {
		status := flatOrderStatus(l.OrderStatus)
		it := OrderItem{ASIN: l.ASIN, SellerSKU: l.SKU, Title: l.ProductName, QuantityOrdered: l.Quantity}
		shipped := int64(0)
		if strings.EqualFold(l.ItemStatus, "Shipped") {
			shipped = l.Quantity
		}
		it.QuantityShipped = &shipped
		// getOrderItems returns no prices while an order is Pending; do the
		// same so a line reads alike from both sources.
		if status != "Pending" && l.Currency != "" {
			m := func(s string) *Money {
				if s == "" {
					s = "0.00"
				}
				return &Money{CurrencyCode: l.Currency, Amount: s}
			}
			it.ItemPrice, it.ItemTax = m(l.ItemPrice), m(l.ItemTax)
			it.ShippingPrice, it.ShippingTax = m(l.ShippingPrice), m(l.ShippingTax)
			it.PromotionDiscount = m(negate(l.ItemPromotionDiscount))
			it.ShippingDiscount = m(negate(l.ShipPromotionDiscount))
		}
		it.PromotionIDs = l.PromotionIDs
		it.PriceDesignation = l.PriceDesignation
		out[i] = OrderLine{Item: it, LineID: "sku:" + l.SKU, OrderStatus: status, FromReport: true}
	}
	return out, true
}
