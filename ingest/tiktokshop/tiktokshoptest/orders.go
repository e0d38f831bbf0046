package tiktokshoptest

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// OrderSearchRequest is the body of POST /order/202309/orders/search.
type OrderSearchRequest struct {
	OrderStatus  string `json:"order_status,omitempty"`
	CreateTimeGE int64  `json:"create_time_ge,omitempty"`
	CreateTimeLT int64  `json:"create_time_lt,omitempty"`
	UpdateTimeGE int64  `json:"update_time_ge,omitempty"`
	UpdateTimeLT int64  `json:"update_time_lt,omitempty"`
	ShippingType string `json:"shipping_type,omitempty"`
	BuyerUserID  string `json:"buyer_user_id,omitempty"`
}

type orderPage struct {
	Req       OrderSearchRequest `json:"r"`
	SortField string             `json:"f"`
	Asc       bool               `json:"a"`
	Snapshot  time.Time          `json:"t"`
	page
}

// page is where a search's page_token stands: the page size and the offset
// of the page's first match. Every search's token embeds it.
type page struct {
	Size   int `json:"n"`
	Offset int `json:"o"`
}

func (p *page) cursor() *page { return p }

// paged is a search's token type (a pointer to it).
type paged[P any] interface {
	*P
	cursor() *page
}

// openPage reads a search's paging: the page_token decoded into pg, or,
// for a first page (fresh), page_size (defaultSize when absent, required if
// 0). ok is false once it has failed the request.
func openPage[P any, PP paged[P]](s *Simulator, w http.ResponseWriter, q url.Values, pg PP, defaultSize int) (fresh, ok bool) {
	if tok := q.Get("page_token"); tok != "" {
		if err := simapi.DecodeToken(tok, pg); err != nil || pg.cursor().Size == 0 {
			s.fail(w, CodeInvalidParam, "Invalid page_token.")
			return false, false
		}
		return false, true
	}
	pg.cursor().Size = defaultSize
	if v := q.Get("page_size"); v != "" || defaultSize == 0 {
		n, ok := pageSize(w, s, v)
		if !ok {
			return true, false
		}
		pg.cursor().Size = n
	}
	return true, true
}

// pageWindow returns the bounds of pg's page among n matches and the token
// of the next page ("" on the last).
func pageWindow[P any, PP paged[P]](pg P, n int) (start, end int, next string) {
	c := PP(&pg).cursor()
	end = min(c.Offset+c.Size, n)
	start = min(c.Offset, end)
	if end < n {
		c.Offset = end
		next = simapi.EncodeToken(pg)
	}
	return start, end, next
}

func pageSize(w http.ResponseWriter, s *Simulator, v string) (int, bool) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		s.fail(w, CodeInvalidParam, "page_size must be between 1 and 100.")
		return 0, false
	}
	return n, true
}

// searchOrders is POST /order/202309/orders/search. Filters are matched on the
// search index, which lags IndexLag behind; the orders returned are current,
// so "update times may exceed the selected search range". A page_token pins
// the first page's snapshot, so paging returns every match exactly once.
func (s *Simulator) searchOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.Clock().Now()
	var pg orderPage
	fresh, ok := openPage(s, w, q, &pg, 0)
	if !ok {
		return
	}
	if fresh {
		pg.SortField, pg.Snapshot = "create_time", now.Add(-s.opts.IndexLag)
		if f := q.Get("sort_field"); f != "" {
			if f != "create_time" && f != "update_time" {
				s.fail(w, CodeInvalidParam, "Invalid sort_field.")
				return
			}
			pg.SortField = f
		}
		switch q.Get("sort_order") {
		case "", "DESC":
		case "ASC":
			pg.Asc = true
		default:
			s.fail(w, CodeInvalidParam, "Invalid sort_order.")
			return
		}
		if err := decodeBody(r, &pg.Req); err != nil {
			s.fail(w, CodeInvalidParam, "Invalid request body.")
			return
		}
	}
	matches := s.cachedMatches(pg)
	start, end, next := pageWindow(pg, len(matches))
	orders := make([]map[string]any, 0, end-start)
	for _, o := range matches[start:end] {
		// Render as the order is now, not as the index saw it.
		if st, ok := o.At(now); ok {
			orders = append(orders, s.renderOrder(st))
		}
	}
	s.ok(w, map[string]any{"next_page_token": next, "total_count": len(matches), "orders": orders})
}

// cachedMatches memoises a search's matches per snapshot: every page of one
// search evaluates the same pure function, so later pages reuse the first.
func (s *Simulator) cachedMatches(pg orderPage) []simworld.TikTokOrderState {
	key := pg
	key.Offset = 0
	k := simapi.EncodeToken(key)
	s.mu.Lock()
	m, ok := s.searchCache[k]
	s.mu.Unlock()
	if ok {
		return m
	}
	m = s.matchOrders(pg)
	s.mu.Lock()
	if len(s.searchCache) >= 32 {
		s.searchCache = map[string][]simworld.TikTokOrderState{}
	}
	s.searchCache[k] = m
	s.mu.Unlock()
	return m
}

func (s *Simulator) matchOrders(pg orderPage) []simworld.TikTokOrderState {
	rq, at := pg.Req, pg.Snapshot
	from := time.Unix(0, 0)
	switch {
	case rq.CreateTimeGE > 0:
		from = time.Unix(rq.CreateTimeGE, 0)
	case rq.UpdateTimeGE > 0:
		from = time.Unix(rq.UpdateTimeGE, 0).Add(-simworld.MaxTikTokLifecycle)
	}
	if s.World().Start().After(from) {
		from = s.World().Start()
	}
	to := at.Add(time.Second)
	if rq.CreateTimeLT > 0 && time.Unix(rq.CreateTimeLT, 0).Before(to) {
		to = time.Unix(rq.CreateTimeLT, 0)
	}
	var out []simworld.TikTokOrderState
	for _, o := range s.World().TikTokOrdersCreated(from, to) {
		st, ok := o.At(at)
		if !ok {
			continue
		}
		c, u := st.CreateTime.Unix(), st.UpdateTime.Unix()
		if rq.CreateTimeGE > 0 && c < rq.CreateTimeGE || rq.CreateTimeLT > 0 && c >= rq.CreateTimeLT ||
			rq.UpdateTimeGE > 0 && u < rq.UpdateTimeGE || rq.UpdateTimeLT > 0 && u >= rq.UpdateTimeLT ||
			rq.OrderStatus != "" && rq.OrderStatus != st.Status ||
			rq.ShippingType != "" && rq.ShippingType != st.ShippingType ||
			rq.BuyerUserID != "" && rq.BuyerUserID != st.UserID {
			continue
		}
		out = append(out, st)
	}
	key := func(st simworld.TikTokOrderState) int64 {
		if pg.SortField == "update_time" {
			return st.UpdateTime.Unix()
		}
		return st.CreateTime.Unix()
	}
	sort.SliceStable(out, func(i, j int) bool {
		ki, kj := key(out[i]), key(out[j])
		if ki != kj {
			return ki < kj == pg.Asc
		}
		return out[i].ID < out[j].ID == pg.Asc
	})
	return out
}

// orderDetail is GET /order/{202309|202507}/orders?ids=...
func (s *Simulator) orderDetail(w http.ResponseWriter, r *http.Request) {
	if v := r.PathValue("version"); v != "202309" && v != "202507" {
		s.fail(w, CodeInvalidPath, "Invalid path or version.")
		return
	}
	ids := splitIDs(r.URL.Query().Get("ids"))
	if len(ids) == 0 || len(ids) > 50 {
		s.fail(w, CodeInvalidParam, "ids must contain between 1 and 50 order ids.")
		return
	}
	asOf := s.Clock().Now().Add(-s.opts.DetailLag)
	orders := []map[string]any{}
	for _, id := range ids {
		if o, ok := s.World().TikTokOrder(id); ok {
			if st, ok := o.At(asOf); ok {
				orders = append(orders, s.renderOrder(st))
			}
		}
	}
	s.ok(w, map[string]any{"orders": orders})
}

var displayStatus = map[string]string{
	simworld.TikTokUnpaid: "UNPAID", simworld.TikTokOnHold: "ON_HOLD", simworld.TikTokAwaitingShipment: "TO_SHIP",
	simworld.TikTokAwaitingCollection: "TO_SHIP", simworld.TikTokInTransit: "SHIPPED", simworld.TikTokDelivered: "DELIVERED",
	simworld.TikTokCompleted: "COMPLETED", simworld.TikTokCancelled: "CANCELLED",
}

var packageStatus = map[string]string{
	simworld.TikTokAwaitingCollection: "TO_FULFILL", simworld.TikTokInTransit: "PROCESSING",
	simworld.TikTokDelivered: "FULFILLING", simworld.TikTokCompleted: "COMPLETED", simworld.TikTokCancelled: "CANCELLED",
}

// renderOrder turns an order state into the API's order object: money as
// strings, times as Unix seconds, one line item per unit.
func (s *Simulator) renderOrder(st simworld.TikTokOrderState) map[string]any {
	cur := st.Currency
	var sellerDisc, platformDisc, original simworld.Money
	lines := make([]map[string]any, 0, len(st.LineItems))
	for _, li := range st.LineItems {
		sellerDisc += li.SellerDiscount
		platformDisc += li.PlatformDiscount
		original += li.OriginalPrice
		l := map[string]any{
			"id": li.ID, "product_id": li.ProductID, "product_name": li.ProductName, "sku_id": li.SKUID,
			"sku_name": li.SKUName, "seller_sku": li.SellerSKU, "sale_price": li.SalePrice.String(),
			"original_price": li.OriginalPrice.String(), "platform_discount": li.PlatformDiscount.String(),
			"seller_discount": li.SellerDiscount.String(), "currency": cur, "display_status": displayStatus[st.Status],
			"is_gift": false, "sku_type": "NORMAL", "package_id": st.PackageID,
			"item_tax": []map[string]string{{"tax_type": "SALES_TAX", "tax_amount": li.Tax.String(), "tax_rate": "0.0825"}},
		}
		if ps, ok := packageStatus[st.Status]; ok {
			l["package_status"] = ps
		} else {
			l["package_status"] = "TO_FULFILL"
		}
		lines = append(lines, l)
	}
	o := map[string]any{
		"id": st.ID, "status": st.Status, "create_time": st.CreateTime.Unix(), "update_time": st.UpdateTime.Unix(),
		"user_id": st.UserID, "buyer_email": st.BuyerEmail, "buyer_message": "",
		"fulfillment_type": st.FulfillmentType, "shipping_type": st.ShippingType, "warehouse_id": st.WarehouseID,
		"is_on_hold_order": st.OnHold, "is_cod": false, "is_sample_order": false, "is_replacement_order": false,
		"delivery_option_name": "Standard shipping",
		"payment": map[string]string{
			"currency": cur, "sub_total": st.SubTotal().String(), "shipping_fee": st.ShippingFee.String(),
			"seller_discount": sellerDisc.String(), "platform_discount": platformDisc.String(),
			"tax": st.Tax().String(), "product_tax": st.Tax().String(), "shipping_fee_tax": "0.00",
			"total_amount": st.Total().String(), "original_total_product_price": original.String(),
			"original_shipping_fee": st.ShippingFee.String(), "shipping_fee_seller_discount": "0.00",
			"shipping_fee_platform_discount": "0.00", "retail_delivery_fee": "0.00",
		},
		"line_items": lines,
		"packages":   []map[string]string{{"id": st.PackageID}},
		"recipient_address": map[string]any{"region_code": st.Recipient.CountryCode, "postal_code": st.Recipient.PostalCode,
			"full_address": st.Recipient.City + ", " + st.Recipient.State + " " + st.Recipient.PostalCode,
			"district_info": []map[string]string{{"address_level_name": "State", "address_name": st.Recipient.State},
				{"address_level_name": "City", "address_name": st.Recipient.City}}},
		"rts_sla_time": st.CreateTime.Add(72 * time.Hour).Unix(),
		"tts_sla_time": st.CreateTime.Add(96 * time.Hour).Unix(),
	}
	if !st.PaidTime.IsZero() && !st.PaidTime.After(st.UpdateTime) {
		o["paid_time"] = st.PaidTime.Unix()
	}
	switch st.Status {
	case simworld.TikTokInTransit, simworld.TikTokDelivered, simworld.TikTokCompleted:
		o["tracking_number"] = st.TrackingNumber
		o["shipping_provider"] = "USPS"
	case simworld.TikTokCancelled:
		o["cancel_reason"] = st.CancelReason
		o["cancellation_initiator"] = st.CancellationInitiator
	}
	return o
}
