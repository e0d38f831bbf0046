package simworld

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Orders arrive per minute bucket: bucket m holds the orders purchased in
// [m, m+1min). Each bucket draws from its own generator, so any time range of
// orders can be produced on demand and is the same every time.

// Amazon order statuses (Orders API v0).
const (
	AmazonPending          = "Pending"
	AmazonUnshipped        = "Unshipped"
	AmazonPartiallyShipped = "PartiallyShipped"
	AmazonShipped          = "Shipped"
	AmazonCanceled         = "Canceled"
)

// TikTok Shop order statuses (Order API 202309).
const (
	TikTokUnpaid             = "UNPAID"
	TikTokOnHold             = "ON_HOLD"
	TikTokAwaitingShipment   = "AWAITING_SHIPMENT"
	TikTokAwaitingCollection = "AWAITING_COLLECTION"
	TikTokInTransit          = "IN_TRANSIT"
	TikTokDelivered          = "DELIVERED"
	TikTokCompleted          = "COMPLETED"
	TikTokCancelled          = "CANCELLED"
)

// MaxAmazonLifecycle bounds the time from purchase to an Amazon order's last
// status change; MaxTikTokLifecycle does the same for TikTok orders. Queries by
// update time look back this far for candidates.
const (
	MaxAmazonLifecycle = 72 * time.Hour
	MaxTikTokLifecycle = 8 * 24 * time.Hour
)

// MaxReportLag is how long an Amazon order item can take to reach Sales &
// Traffic reporting: the report restates a day for up to 72 hours.
const MaxReportLag = 72 * time.Hour

// StatusChange is one step of an order's lifecycle.
type StatusChange struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
}

// lastChange returns the last step of history (ordered by time) at or
// before t, the zero StatusChange when there is none.
func lastChange(history []StatusChange, t time.Time) StatusChange {
	var last StatusChange
	for _, h := range history {
		if h.At.After(t) {
			break
		}
		last = h
	}
	return last
}

// Address is the coarse shipping address the world keeps.
type Address struct {
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postal_code"`
	CountryCode string `json:"country_code"`
}

// AmazonOrder is an Amazon order's whole planned life.
type AmazonOrder struct {
	AmazonOrderID                string         `json:"amazon_order_id"`
	SellerOrderID                string         `json:"seller_order_id"`
	MarketplaceID                string         `json:"marketplace_id"`
	PurchaseDate                 time.Time      `json:"purchase_date"`
	FulfillmentChannel           string         `json:"fulfillment_channel"` // AFN or MFN
	SalesChannel                 string         `json:"sales_channel"`
	ShipServiceLevel             string         `json:"ship_service_level"`
	ShipmentServiceLevelCategory string         `json:"shipment_service_level_category"`
	OrderType                    string         `json:"order_type"`
	PaymentMethod                string         `json:"payment_method"`
	IsPrime                      bool           `json:"is_prime"`
	IsBusinessOrder              bool           `json:"is_business_order"`
	Currency                     string         `json:"currency"`
	Ship                         Address        `json:"ship"`
	Items                        []AmazonItem   `json:"items"`
	History                      []StatusChange `json:"history"`
}

// AmazonItem is one order item (an item and a quantity).
type AmazonItem struct {
	OrderItemID string `json:"order_item_id"`
	ASIN        string `json:"asin"`
	SellerSKU   string `json:"seller_sku"`
	VariantKey  string `json:"variant_key"`
	ProductKey  string `json:"product_key"`
	Title       string `json:"title"`
	Quantity    int    `json:"quantity"`
	UnitPrice   Money  `json:"unit_price"`
	// ItemPrice is UnitPrice × Quantity, as SP-API defines ItemPrice.
	ItemPrice         Money `json:"item_price"`
	ItemTax           Money `json:"item_tax"`
	ShippingPrice     Money `json:"shipping_price"`
	ShippingTax       Money `json:"shipping_tax"`
	PromotionDiscount Money `json:"promotion_discount"`
	// ShippedAt is when the item ships; zero if it never does.
	ShippedAt time.Time `json:"shipped_at"`
	// ReportLag is how long after purchase the item reaches Sales & Traffic.
	ReportLag time.Duration `json:"report_lag"`
}

// AmazonOrderState is an Amazon order as it is at one instant.
type AmazonOrderState struct {
	*AmazonOrder
	Status         string    `json:"status"`
	LastUpdateDate time.Time `json:"last_update_date"`
	// UnitsShipped and UnitsUnshipped count units (NumberOfItemsShipped/Unshipped).
	UnitsShipped   int `json:"units_shipped"`
	UnitsUnshipped int `json:"units_unshipped"`
}

// At returns the order as it is at t; ok is false before it is purchased.
func (o *AmazonOrder) At(t time.Time) (s AmazonOrderState, ok bool) {
	if t.Before(o.PurchaseDate) {
		return s, false
	}
	s.AmazonOrder = o
	h := lastChange(o.History, t)
	s.Status, s.LastUpdateDate = h.Status, h.At
	for _, it := range o.Items {
		if !it.ShippedAt.IsZero() && !it.ShippedAt.After(t) {
			s.UnitsShipped += it.Quantity
		} else if s.Status != AmazonCanceled {
			s.UnitsUnshipped += it.Quantity
		}
	}
	return s, true
}

// Total returns the order total: items, shipping and tax, less promotions.
func (o *AmazonOrder) Total() Money {
	var t Money
	for _, it := range o.Items {
		t += it.ItemPrice + it.ItemTax + it.ShippingPrice + it.ShippingTax - it.PromotionDiscount
	}
	return t
}

// TikTokOrder is a TikTok Shop order's whole planned life.
type TikTokOrder struct {
	ID                    string           `json:"id"`
	CreateTime            time.Time        `json:"create_time"`
	PaidTime              time.Time        `json:"paid_time"` // zero if never paid
	UserID                string           `json:"user_id"`
	BuyerEmail            string           `json:"buyer_email"`
	Currency              string           `json:"currency"`
	FulfillmentType       string           `json:"fulfillment_type"`
	ShippingType          string           `json:"shipping_type"`
	WarehouseID           string           `json:"warehouse_id"`
	PackageID             string           `json:"package_id"`
	TrackingNumber        string           `json:"tracking_number"`
	OnHold                bool             `json:"on_hold"`
	Recipient             Address          `json:"recipient"`
	LineItems             []TikTokLineItem `json:"line_items"`
	ShippingFee           Money            `json:"shipping_fee"`
	History               []StatusChange   `json:"history"`
	VideoID               string           `json:"video_id,omitempty"` // the video the sale is attributed to
	CancelReason          string           `json:"cancel_reason,omitempty"`
	CancellationInitiator string           `json:"cancellation_initiator,omitempty"`
}

// TikTokLineItem is one unit of a SKU in an order: TikTok returns one line per
// unit (reference: inferred from the sample), so quantities are line counts.
type TikTokLineItem struct {
	ID               string `json:"id"`
	ProductID        string `json:"product_id"`
	ProductName      string `json:"product_name"`
	SKUID            string `json:"sku_id"`
	SKUName          string `json:"sku_name"`
	SellerSKU        string `json:"seller_sku"`
	VariantKey       string `json:"variant_key"`
	ProductKey       string `json:"product_key"`
	OriginalPrice    Money  `json:"original_price"`
	SalePrice        Money  `json:"sale_price"`
	SellerDiscount   Money  `json:"seller_discount"`
	PlatformDiscount Money  `json:"platform_discount"`
	Tax              Money  `json:"tax"`
}

// TikTokOrderState is a TikTok order as it is at one instant.
type TikTokOrderState struct {
	*TikTokOrder
	Status     string    `json:"status"`
	UpdateTime time.Time `json:"update_time"`
}

// At returns the order as it is at t; ok is false before it is created.
func (o *TikTokOrder) At(t time.Time) (s TikTokOrderState, ok bool) {
	if t.Before(o.CreateTime) {
		return s, false
	}
	s.TikTokOrder = o
	h := lastChange(o.History, t)
	s.Status, s.UpdateTime = h.Status, h.At
	return s, true
}

// SubTotal returns the sum of sale prices (original less discounts).
func (o *TikTokOrder) SubTotal() Money {
	var t Money
	for _, li := range o.LineItems {
		t += li.SalePrice
	}
	return t
}

// Tax returns the sum of line taxes.
func (o *TikTokOrder) Tax() Money {
	var t Money
	for _, li := range o.LineItems {
		t += li.Tax
	}
	return t
}

// Total returns sub total + shipping + tax.
func (o *TikTokOrder) Total() Money { return o.SubTotal() + o.ShippingFee + o.Tax() }

// diurnal shapes order arrival over the local day (index: hour of day).
var diurnal = [24]float64{0.45, 0.3, 0.2, 0.15, 0.15, 0.2, 0.35, 0.6, 0.85, 1.0, 1.1, 1.2,
	1.25, 1.25, 1.2, 1.15, 1.15, 1.2, 1.35, 1.5, 1.55, 1.4, 1.05, 0.7}

func minuteIndex(t time.Time) int64 { return t.Unix() / 60 }

func (w *World) startMinute() int64 { return minuteIndex(w.cfg.Start) }

var cities = []Address{
	{"SEATTLE", "WA", "98101", "US"}, {"AUSTIN", "TX", "78701", "US"}, {"BROOKLYN", "NY", "11201", "US"},
	{"DENVER", "CO", "80202", "US"}, {"MIAMI", "FL", "33101", "US"}, {"CHICAGO", "IL", "60601", "US"},
	{"SAN JOSE", "CA", "95110", "US"}, {"ATLANTA", "GA", "30303", "US"},
}

// taxBasisPoints is the sales tax the world charges (8.25%).
const taxBasisPoints = 825

func tax(m Money) Money { return Money((int64(m)*taxBasisPoints + 5000) / 10000) }

func dur(r *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// amazonBucket returns the Amazon orders purchased in minute m: the usual
// demand, then the extra demand of planted halo effects.
func (w *World) amazonBucket(m int64) []*AmazonOrder {
	return bucket(w, &w.amzCache, m, w.newAmazonBucket)
}

// bucket returns the orders of minute m from cache, drawn by draw the first
// time; there are none before the world's start.
func bucket[O any](w *World, cache *map[int64][]O, m int64, draw func(int64) []O) []O {
	if m < w.startMinute() {
		return nil
	}
	return memo(w, cache, m, func() []O { return draw(m) })
}

// minute is what the usual orders of one marketplace in one minute are drawn
// from.
type minute struct {
	r     *rand.Rand
	start time.Time
	// lambda is the minute's rate: perMinute in the hour-of-day shape of
	// the marketplace's zone.
	lambda float64
	// n is how many usual orders the minute has (at most 99, which the
	// order ids leave room for).
	n int
	// rel is the minute's number from the world's start.
	rel int64
}

// usualMinute draws minute m of a marketplace from the random stream named
// stream.
func (w *World) usualMinute(stream string, m int64, perMinute float64, zone *time.Location) minute {
	r := rngFor(w.seed, stream, m)
	start := time.Unix(m*60, 0).UTC()
	lambda := perMinute * diurnal[start.In(zone).Hour()]
	return minute{r: r, start: start, lambda: lambda, n: min(poisson(r, lambda), 99), rel: m - w.startMinute()}
}

func (w *World) newAmazonBucket(m int64) []*AmazonOrder {
	u := w.usualMinute("amazon-orders", m, w.cfg.Scale.AmazonOrdersPerMinute, w.cfg.AmazonZone)
	out := make([]*AmazonOrder, 0, u.n)
	for i := 0; i < u.n; i++ {
		out = append(out, w.newAmazonOrder(u.r, u.start, u.rel, i, w.amazonPick.pick))
	}
	return w.haloAmazonOrders(out, m, u.lambda)
}

// haloAmazonOrders appends to the orders of minute m (whose usual rate is
// lambda) the extra orders of products whose demand is lifted: each such
// product's share of the usual rate times its lift, from a stream of its
// own so the usual orders stay what they are.
func (w *World) haloAmazonOrders(out []*AmazonOrder, m int64, lambda float64) []*AmazonOrder {
	minuteStart := time.Unix(m*60, 0).UTC()
	mid := minuteStart.Add(30 * time.Second)
	rel := m - w.startMinute()
	for _, e := range w.halo {
		lift := e.lift(mid)
		if lift <= 0 {
			continue
		}
		pick := &e.amazon
		if len(pick.items) == 0 {
			continue
		}
		share := pick.cum[len(pick.cum)-1] / w.amazonPick.cum[len(w.amazonPick.cum)-1]
		r := rngFor(w.seed, "amazon-halo-orders", m, hashString(e.ProductKey))
		for n := poisson(r, lambda*share*lift); n > 0 && len(out) < 99; n-- {
			out = append(out, w.newAmazonOrder(r, minuteStart, rel, len(out), pick.pick))
		}
	}
	return out
}

// newAmazonOrder draws order i of the minute starting at minuteStart (rel
// minutes after the world's start), its items picked by pick.
func (w *World) newAmazonOrder(r *rand.Rand, minuteStart time.Time, rel int64, i int, pick func(float64) *Variant) *AmazonOrder {
	at := minuteStart.Add(time.Duration(r.IntN(60_000)) * time.Millisecond).Truncate(time.Second)
	o := &AmazonOrder{
		// 3-7-7: the middle group is a bijection of the minute and the
		// last group carries the index, so ids never collide.
		AmazonOrderID:                fmt.Sprintf("%03d-%07d-%05d%02d", 111+r.IntN(4), amazonIDMinutes.digits(rel), r.IntN(100000), i),
		MarketplaceID:                w.cfg.MarketplaceID,
		PurchaseDate:                 at,
		FulfillmentChannel:           "MFN",
		SalesChannel:                 "Amazon.com",
		ShipServiceLevel:             "Std US D2D Dom",
		ShipmentServiceLevelCategory: "Standard",
		OrderType:                    "StandardOrder",
		PaymentMethod:                "Other",
		IsPrime:                      r.Float64() < 0.6,
		IsBusinessOrder:              r.Float64() < 0.05,
		Currency:                     w.cfg.Currency,
		Ship:                         cities[r.IntN(len(cities))],
	}
	o.SellerOrderID = o.AmazonOrderID
	if o.IsPrime {
		o.FulfillmentChannel = "AFN"
	}
	nItems := 1
	if u := r.Float64(); u > 0.8 {
		nItems = 2 + r.IntN(2)
	}
	seen := map[string]bool{}
	for j := 0; j < nItems; j++ {
		v := pick(r.Float64())
		if v == nil || seen[v.Key] {
			continue
		}
		seen[v.Key] = true
		qty := 1
		if r.Float64() < 0.15 {
			qty = 2 + r.IntN(2)
		}
		it := AmazonItem{
			OrderItemID: fmt.Sprintf("%012d%02d", r.Int64N(1_000_000_000_000), j),
			ASIN:        v.Amazon.ASIN,
			SellerSKU:   v.Amazon.SellerSKU,
			VariantKey:  v.Key,
			ProductKey:  v.ProductKey,
			Title:       v.product.Title + ", " + v.Name,
			Quantity:    qty,
			UnitPrice:   v.Amazon.Price,
			ItemPrice:   v.Amazon.Price.Mul(qty),
			// Most items settle into reporting within hours; a tail takes
			// up to the full 72 hours.
			ReportLag: time.Duration(math.Pow(r.Float64(), 3) * float64(MaxReportLag)),
		}
		it.ItemTax = tax(it.ItemPrice)
		if !o.IsPrime && j == 0 {
			it.ShippingPrice = 499
			it.ShippingTax = tax(it.ShippingPrice)
		}
		if r.Float64() < 0.1 {
			it.PromotionDiscount = it.ItemPrice.Percent(10)
		}
		o.Items = append(o.Items, it)
	}
	w.planAmazonLifecycle(r, o)
	return o
}

func (w *World) planAmazonLifecycle(r *rand.Rand, o *AmazonOrder) {
	p := o.PurchaseDate
	o.History = []StatusChange{{p, AmazonPending}}
	u := r.Float64()
	if u < 0.04 {
		o.History = append(o.History, StatusChange{p.Add(dur(r, 5*time.Minute, 2*time.Hour)), AmazonCanceled})
		return
	}
	unshipped := p.Add(dur(r, time.Minute, 20*time.Minute))
	o.History = append(o.History, StatusChange{unshipped, AmazonUnshipped})
	if u < 0.06 {
		o.History = append(o.History, StatusChange{unshipped.Add(dur(r, 30*time.Minute, 12*time.Hour)), AmazonCanceled})
		return
	}
	if len(o.Items) > 1 && r.Float64() < 0.3 {
		first := unshipped.Add(dur(r, 4*time.Hour, 24*time.Hour))
		rest := first.Add(dur(r, 2*time.Hour, 22*time.Hour))
		o.Items[0].ShippedAt = first
		for i := 1; i < len(o.Items); i++ {
			o.Items[i].ShippedAt = rest
		}
		o.History = append(o.History, StatusChange{first, AmazonPartiallyShipped}, StatusChange{rest, AmazonShipped})
		return
	}
	shipped := unshipped.Add(dur(r, 6*time.Hour, 46*time.Hour))
	for i := range o.Items {
		o.Items[i].ShippedAt = shipped
	}
	o.History = append(o.History, StatusChange{shipped, AmazonShipped})
}

// AmazonOrdersPurchased returns the Amazon orders purchased in [from, to), in
// purchase order.
func (w *World) AmazonOrdersPurchased(from, to time.Time) []*AmazonOrder {
	return ordersIn(from, to, w.amazonDay)
}

// amazonDay returns the Amazon orders purchased on UTC day d, in purchase
// order: range queries (a Sales & Traffic day reads four days of orders)
// take whole days from here rather than sorting minute buckets each time.
func (w *World) amazonDay(d int64) []*AmazonOrder {
	return dayOrders(w, &w.amzDayCache, d, w.amazonBucket)
}

func (o *AmazonOrder) placed() time.Time { return o.PurchaseDate }
func (o *AmazonOrder) orderID() string   { return o.AmazonOrderID }

// AmazonOrder finds an order by id. Ids do not encode the purchase minute
// reversibly for clients, but the world can invert its own scheme.
func (w *World) AmazonOrder(id string) (*AmazonOrder, bool) {
	var first, mid int64
	var last string
	if _, err := fmt.Sscanf(id, "%3d-%7d-%7s", &first, &mid, &last); err != nil || len(id) != 19 {
		return nil, false
	}
	return findIn(w.amazonBucket(w.startMinute()+amazonIDMinutes.minute(mid)), func(o *AmazonOrder) bool { return o.AmazonOrderID == id })
}

// idMinutes is how an order id carries its minute (rel minutes after the
// world's start): as digits = (rel*7919 + offset) mod mod, a bijection of
// the minutes in range since 7919 is prime to mod. inv is 7919's inverse
// modulo mod, which turns digits back into the minute.
type idMinutes struct{ offset, mod, inv int64 }

var (
	amazonIDMinutes = idMinutes{offset: 1_234_567, mod: 10_000_000, inv: 17_679}
	tiktokIDMinutes = idMinutes{offset: 3_141_592, mod: 100_000_000, inv: 40_017_679}
)

func (s idMinutes) digits(rel int64) int64 { return (rel*7919 + s.offset) % s.mod }

func (s idMinutes) minute(digits int64) int64 {
	return ((digits - s.offset + s.mod) % s.mod) * s.inv % s.mod
}

// findIn returns the entity of a bucket (the orders of a minute, the videos
// of a day) that is the one.
func findIn[O any](bucket []O, is func(O) bool) (O, bool) {
	for _, o := range bucket {
		if is(o) {
			return o, true
		}
	}
	var none O
	return none, false
}

// idNumber reads the decimal number that an id of n characters starting
// with prefix carries from the prefix's end up to byte end, and false if the
// id is not of that form. n is at least end, and end at least len(prefix).
func idNumber(id string, n int, prefix string, end int) (int64, bool) {
	if len(id) != n || id[:len(prefix)] != prefix {
		return 0, false
	}
	var v int64
	if _, err := fmt.Sscanf(id[len(prefix):end], "%d", &v); err != nil {
		return 0, false
	}
	return v, true
}

// tiktokBucket returns the TikTok orders created in minute m: the usual
// ones, then those that videos taking off sell.
func (w *World) tiktokBucket(m int64) []*TikTokOrder {
	return bucket(w, &w.ttCache, m, w.newTikTokBucket)
}

func (w *World) newTikTokBucket(m int64) []*TikTokOrder {
	u := w.usualMinute("tiktok-orders", m, w.cfg.Scale.TikTokOrdersPerMinute, w.cfg.ShopZone)
	r, minuteStart, rel := u.r, u.start, u.rel
	out := make([]*TikTokOrder, 0, u.n)
	for i := 0; i < u.n; i++ {
		o := w.newTikTokOrder(r, minuteStart, rel, i, func(at time.Time) (string, *Variant) {
			// Attribute some sales to a recent video that shows the product.
			if r.Float64() < 0.45 {
				if vid, vv := w.pickVideoVariant(r, at); vv != nil {
					return vid, vv
				}
			}
			return "", nil
		})
		if o != nil {
			out = append(out, o)
		}
	}
	// Videos taking off sell in proportion to their views, from streams of
	// their own so the usual orders stay what they are.
	for _, v := range w.spikeVideosAround(minuteStart) {
		rate := v.viewRate(minuteStart.Add(30*time.Second)) * spikeCTR * spikeConversion
		p := w.byKey[v.ProductKeys[0]]
		r := rngFor(w.seed, "tiktok-halo-orders", m, hashString(v.ID))
		for k := poisson(r, rate); k > 0 && len(out) < 99; k-- {
			o := w.newTikTokOrder(r, minuteStart, rel, len(out), func(time.Time) (string, *Variant) {
				vr := p.Variants[r.IntN(len(p.Variants))]
				if vr.TikTok == nil || v.PostTime.After(minuteStart) {
					return "", nil
				}
				return v.ID, vr
			})
			if o != nil && o.VideoID != "" && !o.CreateTime.Before(v.PostTime) {
				out = append(out, o)
			}
		}
	}
	return out
}

// newTikTokOrder draws order i of the minute starting at minuteStart (rel
// minutes after the world's start). attribute names the video the sale is
// attributed to and the variant bought; when it names none, the variant is
// drawn by popularity. It returns nil if no variant could be drawn.
func (w *World) newTikTokOrder(r *rand.Rand, minuteStart time.Time, rel int64, i int, attribute func(at time.Time) (string, *Variant)) *TikTokOrder {
	at := minuteStart.Add(time.Duration(r.IntN(60)) * time.Second)
	o := &TikTokOrder{
		ID:              fmt.Sprintf("576%08d%02d%05d", tiktokIDMinutes.digits(rel), i, r.IntN(100000)),
		CreateTime:      at,
		UserID:          "70" + digits(r, 17),
		Currency:        w.cfg.Currency,
		FulfillmentType: "FULFILLMENT_BY_SELLER",
		ShippingType:    "TIKTOK",
		WarehouseID:     "7068517275539719942",
		PackageID:       "115" + digits(r, 16),
		TrackingNumber:  "9400" + digits(r, 18),
		Recipient:       cities[r.IntN(len(cities))],
	}
	o.BuyerEmail = "v2" + alnum(r, 6) + "@scs2.tiktok.com"
	var v *Variant
	o.VideoID, v = attribute(at)
	if v == nil {
		v = w.tiktokPick.pick(r.Float64())
	}
	if v == nil {
		return nil
	}
	lines := []*Variant{v}
	if r.Float64() < 0.2 {
		lines = append(lines, v) // a second unit
	}
	if r.Float64() < 0.15 {
		if extra := w.tiktokPick.pick(r.Float64()); extra != nil {
			lines = append(lines, extra)
		}
	}
	for j, lv := range lines {
		orig := lv.TikTok.Price
		li := TikTokLineItem{
			ID:            fmt.Sprintf("577%s%02d", digits(r, 13), j),
			ProductID:     lv.product.TikTokID,
			ProductName:   lv.product.Title,
			SKUID:         lv.TikTok.SKUID,
			SKUName:       lv.Name,
			SellerSKU:     lv.TikTok.SellerSKU,
			VariantKey:    lv.Key,
			ProductKey:    lv.ProductKey,
			OriginalPrice: orig,
			SalePrice:     orig,
		}
		if r.Float64() < 0.25 {
			li.SellerDiscount = orig.Percent(10)
		}
		if r.Float64() < 0.15 {
			li.PlatformDiscount = orig.Percent(5)
		}
		li.SalePrice = orig - li.SellerDiscount - li.PlatformDiscount
		li.Tax = tax(li.SalePrice)
		o.LineItems = append(o.LineItems, li)
	}
	if o.SubTotal() < 3500 {
		o.ShippingFee = 599
	}
	w.planTikTokLifecycle(r, o)
	return o
}

func (w *World) planTikTokLifecycle(r *rand.Rand, o *TikTokOrder) {
	c := o.CreateTime
	o.History = []StatusChange{{c, TikTokUnpaid}}
	u := r.Float64()
	if u < 0.05 {
		o.History = append(o.History, StatusChange{c.Add(dur(r, 10*time.Minute, time.Hour)), TikTokCancelled})
		o.CancelReason, o.CancellationInitiator = "Payment timeout", "SYSTEM"
		return
	}
	paid := c.Add(dur(r, 5*time.Second, 5*time.Minute))
	o.PaidTime = paid
	aws := paid
	if r.Float64() < 0.35 {
		// Orders can sit ON_HOLD for a buyer-cancellation window first.
		o.OnHold = true
		o.History = append(o.History, StatusChange{paid, TikTokOnHold})
		aws = paid.Add(time.Hour)
	}
	o.History = append(o.History, StatusChange{aws, TikTokAwaitingShipment})
	if u < 0.08 {
		o.History = append(o.History, StatusChange{aws.Add(dur(r, 10*time.Minute, 6*time.Hour)), TikTokCancelled})
		o.CancelReason, o.CancellationInitiator = "No longer needed", "BUYER"
		return
	}
	collect := aws.Add(dur(r, 2*time.Hour, 24*time.Hour))
	transit := collect.Add(dur(r, 2*time.Hour, 12*time.Hour))
	delivered := transit.Add(dur(r, 24*time.Hour, 72*time.Hour))
	completed := delivered.Add(dur(r, 24*time.Hour, 72*time.Hour))
	o.History = append(o.History,
		StatusChange{collect, TikTokAwaitingCollection},
		StatusChange{transit, TikTokInTransit},
		StatusChange{delivered, TikTokDelivered},
		StatusChange{completed, TikTokCompleted})
}

// TikTokOrdersCreated returns the TikTok orders created in [from, to), in
// creation order.
func (w *World) TikTokOrdersCreated(from, to time.Time) []*TikTokOrder {
	return ordersIn(from, to, w.tiktokDay)
}

// placedOrder is an order of either marketplace: when it was placed (an
// Amazon purchase, a TikTok creation) and its id.
type placedOrder interface {
	placed() time.Time
	orderID() string
}

// ordersIn returns the orders of the UTC days from's to to's (day gives
// them, in order) placed in [from, to).
func ordersIn[O placedOrder](from, to time.Time, day func(int64) []O) []O {
	var out []O
	for d := dayIndex(from); d <= dayIndex(to); d++ {
		for _, o := range day(d) {
			if t := o.placed(); !t.Before(from) && t.Before(to) {
				out = append(out, o)
			}
		}
	}
	return out
}

// tiktokDay returns the TikTok orders created on UTC day d, in creation
// order (see amazonDay).
func (w *World) tiktokDay(d int64) []*TikTokOrder {
	return dayOrders(w, &w.ttDayCache, d, w.tiktokBucket)
}

func (o *TikTokOrder) placed() time.Time { return o.CreateTime }
func (o *TikTokOrder) orderID() string   { return o.ID }

// dayOrders returns the orders placed on UTC day d, memoised in cache: the
// buckets of its minutes (bucket gives one), in the order they were placed,
// ids breaking ties.
func dayOrders[O placedOrder](w *World, cache *map[int64][]O, d int64, bucket func(int64) []O) []O {
	return memo(w, cache, d, func() []O {
		var out []O
		for m := d * 1440; m < (d+1)*1440; m++ {
			out = append(out, bucket(m)...)
		}
		sort.SliceStable(out, func(i, j int) bool {
			if ti, tj := out[i].placed(), out[j].placed(); !ti.Equal(tj) {
				return ti.Before(tj)
			}
			return out[i].orderID() < out[j].orderID()
		})
		return out
	})
}

// TikTokOrder finds a TikTok order by id.
func (w *World) TikTokOrder(id string) (*TikTokOrder, bool) {
	mid, ok := idNumber(id, 18, "576", 11)
	if !ok {
		return nil, false
	}
	return findIn(w.tiktokBucket(w.startMinute()+tiktokIDMinutes.minute(mid)), func(o *TikTokOrder) bool { return o.ID == id })
}
