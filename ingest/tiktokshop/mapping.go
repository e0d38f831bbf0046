package tiktokshop

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/shopstream/shopstream/schemas"
)

// Source is the source field of every record this package maps.
const Source = "tiktokshop"

// Change operations (the op field).
const (
	OpCreate   = "create"
	OpUpdate   = "update"
	OpSnapshot = "snapshot"
)

// The mapping functions return records in goavro's native form (see package
// schemas) with the change metadata source, entity, op and source_ts set.
// event_id, version and ingest_ts belong to the caller (change capture and
// the emitter), which must set them before encoding.

// OrderKey is the Kafka key of an order record: shop_id:order_id.
func OrderKey(shopID, orderID string) string { return shopID + ":" + orderID }

// ProductKey is the Kafka key of a product record: shop_id:product_id.
func ProductKey(shopID, productID string) string { return shopID + ":" + productID }

// VideoPerformanceKey is the Kafka key of a video performance record:
// shop_id:video_id:date.
func VideoPerformanceKey(shopID, videoID, day string) string {
	return shopID + ":" + videoID + ":" + day
}

// OrderRecord maps an order to a tiktok.orders record. op is create while the
// order has never changed since its creation, update after; source_ts is its
// update_time.
func OrderRecord(shopID string, o Order) (map[string]any, error) {
	if o.ID == "" || o.Status == "" || o.CreateTime <= 0 || o.UpdateTime <= 0 {
		return nil, fmt.Errorf("order %q: id, status, create_time and update_time are required", o.ID)
	}
	op := OpUpdate
	if o.UpdateTime == o.CreateTime {
		op = OpCreate
	}
	var d decimals
	dec := d.union
	lines := make([]any, 0, len(o.LineItems))
	for _, li := range o.LineItems {
		taxes := make([]any, 0, len(li.ItemTax))
		for _, t := range li.ItemTax {
			rate := d.keep(decimalUnionScale(t.TaxRate, 6))
			taxes = append(taxes, map[string]any{"tax_type": t.TaxType, "tax_amount": dec(t.TaxAmount), "tax_rate": rate})
		}
		lines = append(lines, map[string]any{
			"id": li.ID, "product_id": li.ProductID, "product_name": str(li.ProductName), "sku_id": li.SKUID,
			"sku_name": str(li.SKUName), "seller_sku": str(li.SellerSKU), "currency": str(li.Currency),
			"sale_price": dec(li.SalePrice), "original_price": dec(li.OriginalPrice),
			"platform_discount": dec(li.PlatformDiscount), "seller_discount": dec(li.SellerDiscount),
			"display_status": str(li.DisplayStatus), "package_id": str(li.PackageID),
			"package_status": str(li.PackageStatus), "is_gift": boolean(li.IsGift), "sku_type": str(li.SKUType),
			"item_tax": taxes,
		})
	}
	pkgs := make([]any, 0, len(o.Packages))
	for _, p := range o.Packages {
		pkgs = append(pkgs, p.ID)
	}
	p := o.Payment
	rec := map[string]any{
		"source": Source, "entity": "order", "op": op, "source_ts": unix(o.UpdateTime),
		"shop_id": shopID, "order_id": o.ID, "status": o.Status,
		"create_time": unix(o.CreateTime), "update_time": unix(o.UpdateTime),
		"paid_time": timeUnion(o.PaidTime), "rts_sla_time": timeUnion(o.RTSSLATime), "tts_sla_time": timeUnion(o.TTSSLATime),
		"buyer_user_id": str(o.UserID), "fulfillment_type": str(o.FulfillmentType), "shipping_type": str(o.ShippingType),
		"warehouse_id": str(o.WarehouseID), "is_on_hold_order": boolean(o.IsOnHoldOrder), "is_cod": boolean(o.IsCOD),
		"is_sample_order": boolean(o.IsSampleOrder), "split_or_combine_tag": str(o.SplitOrCombineTag),
		"recipient_region_code": str(o.RecipientAddress.RegionCode), "payment_currency": str(p.Currency),
		"payment_sub_total": dec(p.SubTotal), "payment_shipping_fee": dec(p.ShippingFee),
		"payment_seller_discount": dec(p.SellerDiscount), "payment_platform_discount": dec(p.PlatformDiscount),
		"payment_tax": dec(p.Tax), "payment_total_amount": dec(p.TotalAmount),
		"payment_original_total_product_price":   dec(p.OriginalTotalProductPrice),
		"payment_original_shipping_fee":          dec(p.OriginalShippingFee),
		"payment_shipping_fee_seller_discount":   dec(p.ShippingFeeSellerDiscount),
		"payment_shipping_fee_platform_discount": dec(p.ShippingFeePlatformDiscount),
		"payment_retail_delivery_fee":            dec(p.RetailDeliveryFee),
		"cancel_reason":                          str(o.CancelReason), "cancellation_initiator": str(o.CancellationInitiator),
		"tracking_number": str(o.TrackingNumber), "package_ids": pkgs, "line_items": lines,
	}
	if d.err != nil {
		return nil, fmt.Errorf("order %s: %w", o.ID, d.err)
	}
	return rec, nil
}

// decimals converts a record's amounts and keeps the first error, so that a
// mapping builds the whole record and reports one failure at the end.
type decimals struct{ err error }

// union is decimalUnion of s, its error kept.
func (d *decimals) union(s string) any { return d.keep(decimalUnion(s)) }

// keep returns v and keeps err if it is the first.
func (d *decimals) keep(v any, err error) any {
	if err != nil && d.err == nil {
		d.err = err
	}
	return v
}

// ProductRecord maps a product (from search, or detail for identifier codes)
// to a tiktok.products record; source_ts is its update_time, or capturedAt
// when the API sent none.
func ProductRecord(shopID string, p Product, capturedAt time.Time) (map[string]any, error) {
	if p.ID == "" || p.Status == "" {
		return nil, fmt.Errorf("product %q: id and status are required", p.ID)
	}
	var d decimals
	dec := d.union
	skus := make([]any, 0, len(p.SKUs))
	for _, s := range p.SKUs {
		ids := []any{}
		if s.IdentifierCode != nil && s.IdentifierCode.Code != "" {
			ids = append(ids, map[string]any{"identifier_type": s.IdentifierCode.Type, "identifier": s.IdentifierCode.Code})
		}
		inv := make([]any, 0, len(s.Inventory))
		for _, i := range s.Inventory {
			inv = append(inv, map[string]any{"warehouse_id": str(i.WarehouseID), "quantity": i.Quantity})
		}
		var list any
		if s.ListPrice != nil {
			list = dec(s.ListPrice.Amount)
		}
		skus = append(skus, map[string]any{
			"sku_id": s.ID, "seller_sku": str(s.SellerSKU), "currency": str(s.Price.Currency),
			"sale_price": dec(s.Price.SalePrice), "tax_exclusive_price": dec(s.Price.TaxExclusivePrice),
			"list_price": list, "status": str(s.StatusInfo.Status), "deactivation_source": str(s.StatusInfo.DeactivationSource),
			"identifiers": ids, "inventory": inv,
		})
	}
	regions := make([]any, 0, len(p.SalesRegions))
	for _, r := range p.SalesRegions {
		regions = append(regions, r)
	}
	srcTS := capturedAt.UTC()
	op := OpSnapshot
	if p.UpdateTime > 0 {
		srcTS = unix(p.UpdateTime)
		op = OpUpdate
		if p.UpdateTime == p.CreateTime {
			op = OpCreate
		}
	}
	rec := map[string]any{
		"source": Source, "entity": "product", "op": op, "source_ts": srcTS,
		"shop_id": shopID, "product_id": p.ID, "title": str(p.Title), "status": p.Status,
		"audit_status": str(p.Audit.Status), "sales_regions": regions,
		"create_time": timeUnion(p.CreateTime), "update_time": timeUnion(p.UpdateTime), "skus": skus,
	}
	if d.err != nil {
		return nil, fmt.Errorf("product %s: %w", p.ID, d.err)
	}
	return rec, nil
}

// VideoPerformanceRecord maps one video's row of one day to a
// tiktok.video_performance record. zone is the shop's registered time zone
// (analytics days and video_post_time are in it); currency resolves
// currency=LOCAL when the row's amounts carry none. It is a snapshot:
// source_ts is capturedAt.
func VideoPerformanceRecord(shopID string, zone *time.Location, currency, day string, v VideoPerformance, capturedAt time.Time) (map[string]any, error) {
	if v.ID == "" {
		return nil, fmt.Errorf("video performance on %s: a row without id", day)
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return nil, fmt.Errorf("video %s: day %q: %w", v.ID, day, err)
	}
	if v.GMV != nil && v.GMV.Currency != "" {
		currency = v.GMV.Currency
	}
	var postTime any
	if v.VideoPostTime != "" {
		// The format is not in the reference; the simulator's shop-local
		// "YYYY-MM-DD HH:MM:SS" is assumed, with RFC 3339 and Unix
		// seconds accepted as well.
		t, perr := parsePostTime(v.VideoPostTime, zone)
		if perr != nil {
			return nil, fmt.Errorf("video %s: %w", v.ID, perr)
		}
		postTime = map[string]any{"long.timestamp-millis": t}
	}
	amount := func(a *Amount) any {
		if a == nil || err != nil {
			return nil
		}
		u, derr := decimalUnion(a.Amount)
		if derr != nil {
			err = derr
		}
		return u
	}
	products := make([]any, 0, len(v.Products))
	for _, p := range v.Products {
		products = append(products, map[string]any{"product_id": p.ID, "product_name": str(p.Name),
			"gmv": amount(p.GMV), "units_sold": long(p.UnitsSold)})
	}
	tags := make([]any, 0, len(v.HashTags))
	for _, t := range v.HashTags {
		tags = append(tags, t)
	}
	var ctr any
	if v.ClickThroughRate != nil {
		ctr = map[string]any{"double": float64(*v.ClickThroughRate)}
	}
	var dur any
	if v.Duration > 0 {
		dur = map[string]any{"long": v.Duration}
	}
	rec := map[string]any{
		"source": Source, "entity": "video_performance", "op": OpSnapshot, "source_ts": capturedAt.UTC(),
		"shop_id": shopID, "video_id": v.ID, "date": d, "date_time_zone": zone.String(), "currency": currency,
		"title": str(v.Title), "username": str(v.Username), "video_post_time": postTime, "duration": dur,
		"hash_tags": tags, "views": long(v.Views), "likes": long(v.Likes), "comments": long(v.Comments), "shares": long(v.Shares), "new_followers": nil,
		"gmv": amount(v.GMV), "gpm": amount(v.GPM), "sku_orders": long(v.SKUOrders), "items_sold": long(v.ItemsSold),
		"customers": long(v.AvgCustomers), "product_impressions": nil, "product_clicks": nil,
		"click_through_rate": ctr, "products": products,
	}
	if err != nil {
		return nil, fmt.Errorf("video %s on %s: %w", v.ID, day, err)
	}
	return rec, nil
}

func parsePostTime(s string, zone *time.Location) (time.Time, error) {
	for _, layout := range []string{time.DateTime, time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t.UTC(), nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(s, "%d", &secs); err == nil && fmt.Sprint(secs) == s {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("video_post_time %q: unknown format", s)
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func timeUnion(s int64) any {
	if s <= 0 {
		return nil
	}
	return map[string]any{"long.timestamp-millis": unix(s)}
}

// The optional values of the records' dense literals, by short names.
var (
	str     = schemas.OptString
	boolean = schemas.OptBool
	long    = schemas.OptLong
)

func decimalUnion(s string) (any, error) { return decimalUnionScale(s, 4) }

// decimalUnionScale parses a decimal string exactly (never through a float)
// and rounds it half away from zero to scale digits, because goavro would
// silently truncate toward negative infinity. "" is null.
func decimalUnionScale(s string, scale int) (any, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if !isDecimal(s) {
		return nil, fmt.Errorf("decimal %q is not a plain decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("decimal %q does not parse", s)
	}
	r = roundRat(r, scale)
	// precision 18: at most 18-scale digits before the point.
	limit := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(18-scale)), nil))
	if new(big.Rat).Abs(r).Cmp(limit) >= 0 {
		return nil, fmt.Errorf("decimal %q exceeds precision 18 at scale %d", s, scale)
	}
	return map[string]any{"bytes.decimal": r}, nil
}

// isDecimal accepts what TikTok sends for money: an optional sign, digits
// and an optional fraction. big.Rat alone would also take "1/3" and "1e9".
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, hasPoint := strings.Cut(s, ".")
	digits := func(x string) bool {
		for _, c := range x {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return intPart != "" && digits(intPart) && digits(frac) && (!hasPoint || frac != "")
}

func roundRat(r *big.Rat, scale int) *big.Rat {
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	if new(big.Int).Rem(pow, r.Denom()).Sign() == 0 {
		return r // already exact at this scale
	}
	// round(|r| * 10^scale) with halves away from zero, then restore the sign.
	num := new(big.Int).Mul(new(big.Int).Abs(r.Num()), pow)
	q, m := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if r.Sign() < 0 {
		q.Neg(q)
	}
	return new(big.Rat).SetFrac(q, pow)
}
