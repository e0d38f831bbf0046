package join

import (
	"fmt"
	"time"
)

// EntityOf returns the entity a fact belongs to: the unit of state the
// rules need together, and the key by which the transform partitions its
// facts. A video's shop analytics days and snapshots are one entity, as
// are an Amazon order's header and lines (lines wait for the header's
// purchase date) and an ASIN's sales-rank snapshots; every other fact is
// an entity of its own, named by its record's key.
func EntityOf(f Fact) string {
	switch f := f.(type) {
	case BestSellersRank:
		return "bsr|" + f.MarketplaceID + ":" + f.ASIN
	case SalesTraffic:
		return "st|" + f.Key
	case SearchQuery:
		return "sqp|" + f.Key
	case SearchTerm:
		return "term|" + f.Key
	case AmazonOrder:
		return "ao|" + orderKey(f.MarketplaceID, f.OrderID)
	case AmazonOrderItem:
		return "ao|" + orderKey(f.MarketplaceID, f.OrderID)
	case TikTokOrder:
		return "tto|" + f.ShopID + ":" + f.OrderID
	case VideoPerformance:
		return "v|" + f.VideoID
	case VideoEngagement:
		return "v|" + f.ItemID
	}
	return ""
}

// Kinds of fact in their wire form.
const (
	kindBSR byte = iota + 1
	kindST
	kindSQP
	kindTerm
	kindAmazonOrder
	kindAmazonOrderItem
	kindTikTokOrder
	kindVideoPerf
	kindVideoEng
)

// AppendFact appends the wire form of f to b.
func AppendFact(b []byte, f Fact) []byte {
	w := writer{b: append(b, wireVersion)}
	zoned := func(d ZonedDay) { w.i(int64(d.Day)); w.s(d.Zone) }
	switch f := f.(type) {
	case BestSellersRank:
		w.byte1(kindBSR)
		w.meta(f.Meta)
		w.s(f.MarketplaceID)
		w.s(f.ASIN)
		w.u(uint64(len(f.DisplayGroupRanks)))
		for _, r := range f.DisplayGroupRanks {
			w.i(r)
		}
	case SalesTraffic:
		w.byte1(kindST)
		w.meta(f.Meta)
		w.s(f.Key)
		w.s(f.MarketplaceID)
		zoned(f.Date)
		w.s(f.ASIN)
		w.s(f.SellerSKU)
		w.i(f.Sessions)
		w.i(f.PageViews)
		w.i(f.Units)
		w.s(f.Currency)
		w.rat(f.Sales)
	case SearchQuery:
		w.byte1(kindSQP)
		w.meta(f.Meta)
		w.s(f.Key)
		w.s(f.MarketplaceID)
		w.period(f.Period)
		w.s(f.ASIN)
		w.i(f.Impressions)
		w.i(f.Clicks)
		w.i(f.Purchases)
	case SearchTerm:
		w.byte1(kindTerm)
		w.meta(f.Meta)
		w.s(f.Key)
		w.s(f.MarketplaceID)
		w.period(f.Period)
		w.s(f.Department)
		w.s(f.Term)
		w.i(f.FrequencyRank)
		w.u(uint64(len(f.Clicked)))
		for _, c := range f.Clicked {
			w.s(c.ASIN)
			w.i(c.ClickShareRank)
			w.f(c.ClickShare)
			w.f(c.ConversionShare)
		}
	case AmazonOrder:
		w.byte1(kindAmazonOrder)
		w.meta(f.Meta)
		w.s(f.MarketplaceID)
		w.s(f.OrderID)
		w.time(f.PurchaseDate)
	case AmazonOrderItem:
		w.byte1(kindAmazonOrderItem)
		w.meta(f.Meta)
		w.s(f.MarketplaceID)
		w.s(f.OrderID)
		w.s(f.ItemID)
		w.s(f.ASIN)
		w.s(f.SellerSKU)
		w.time(f.PurchaseDate)
		w.s(f.OrderStatus)
	case TikTokOrder:
		w.byte1(kindTikTokOrder)
		w.meta(f.Meta)
		w.s(f.ShopID)
		w.s(f.OrderID)
		w.s(f.Status)
		w.time(f.CreateTime)
		w.s(f.Currency)
		w.u(uint64(len(f.Lines)))
		for _, l := range f.Lines {
			w.s(l.ProductID)
			w.s(l.SKUID)
			w.s(l.Currency)
			w.rat(l.SalePrice)
		}
	case VideoPerformance:
		w.byte1(kindVideoPerf)
		w.meta(f.Meta)
		w.s(f.ShopID)
		w.s(f.VideoID)
		zoned(f.Date)
		w.s(f.Currency)
		w.time(f.PostTime)
		w.optI(f.Views)
		w.optI(f.Likes)
		w.optI(f.Comments)
		w.optI(f.Shares)
		w.optI(f.ProductImpressions)
		w.optI(f.ProductClicks)
		w.u(uint64(len(f.Products)))
		for _, p := range f.Products {
			w.s(p.ProductID)
			w.rat(p.GMV)
		}
	case VideoEngagement:
		w.byte1(kindVideoEng)
		w.meta(f.Meta)
		w.s(f.BusinessID)
		w.s(f.ItemID)
		w.time(f.CreateTime)
		w.optI(f.Views)
		w.optI(f.Likes)
		w.optI(f.Comments)
		w.optI(f.Shares)
		w.optI(f.Saves)
		w.optF(f.WatchTimeSeconds)
	default:
		panic(fmt.Sprintf("join: AppendFact(%T)", f))
	}
	return w.b
}

// DecodeFact reads a fact that AppendFact wrote.
func DecodeFact(b []byte) (Fact, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return nil, fmt.Errorf("join: internal record of layout %d, want %d", v, wireVersion)
	}
	zoned := func() ZonedDay { return ZonedDay{Day(r.Varint()), r.String()} }
	var f Fact
	switch kind := r.Byte(); kind {
	case kindBSR:
		s := BestSellersRank{Meta: r.meta(), MarketplaceID: r.String(), ASIN: r.String()}
		for range r.Count() {
			s.DisplayGroupRanks = append(s.DisplayGroupRanks, r.Varint())
		}
		f = s
	case kindST:
		f = SalesTraffic{Meta: r.meta(), Key: r.String(), MarketplaceID: r.String(), Date: zoned(), ASIN: r.String(), SellerSKU: r.String(),
			Sessions: r.Varint(), PageViews: r.Varint(), Units: r.Varint(), Currency: r.String(), Sales: r.rat()}
	case kindSQP:
		f = SearchQuery{Meta: r.meta(), Key: r.String(), MarketplaceID: r.String(), Period: r.period(), ASIN: r.String(),
			Impressions: r.Varint(), Clicks: r.Varint(), Purchases: r.Varint()}
	case kindTerm:
		s := SearchTerm{Meta: r.meta(), Key: r.String(), MarketplaceID: r.String(), Period: r.period(), Department: r.String(), Term: r.String(),
			FrequencyRank: r.Varint()}
		for range r.Count() {
			s.Clicked = append(s.Clicked, ClickedASIN{ASIN: r.String(), ClickShareRank: r.Varint(), ClickShare: r.Float64(), ConversionShare: r.Float64()})
		}
		f = s
	case kindAmazonOrder:
		f = AmazonOrder{Meta: r.meta(), MarketplaceID: r.String(), OrderID: r.String(), PurchaseDate: r.time()}
	case kindAmazonOrderItem:
		f = AmazonOrderItem{Meta: r.meta(), MarketplaceID: r.String(), OrderID: r.String(), ItemID: r.String(), ASIN: r.String(), SellerSKU: r.String(),
			PurchaseDate: r.time(), OrderStatus: r.String()}
	case kindTikTokOrder:
		o := TikTokOrder{Meta: r.meta(), ShopID: r.String(), OrderID: r.String(), Status: r.String(), CreateTime: r.time(), Currency: r.String()}
		for range r.Count() {
			o.Lines = append(o.Lines, TikTokLine{ProductID: r.String(), SKUID: r.String(), Currency: r.String(), SalePrice: r.rat()})
		}
		f = o
	case kindVideoPerf:
		v := VideoPerformance{Meta: r.meta(), ShopID: r.String(), VideoID: r.String(), Date: zoned(), Currency: r.String(), PostTime: r.time(),
			Views: r.optI(), Likes: r.optI(), Comments: r.optI(), Shares: r.optI(), ProductImpressions: r.optI(),
			ProductClicks: r.optI()}
		for range r.Count() {
			v.Products = append(v.Products, VideoProduct{ProductID: r.String(), GMV: r.rat()})
		}
		f = v
	case kindVideoEng:
		f = VideoEngagement{Meta: r.meta(), BusinessID: r.String(), ItemID: r.String(), CreateTime: r.time(), Views: r.optI(), Likes: r.optI(),
			Comments: r.optI(), Shares: r.optI(), Saves: r.optI(), WatchTimeSeconds: r.optF()}
	default:
		if r.Err == nil {
			return nil, fmt.Errorf("join: internal record of unknown kind %d", kind)
		}
	}
	if r.Err == nil && len(r.B) > 0 {
		return nil, fmt.Errorf("join: %d bytes after an internal record", len(r.B))
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return f, nil
}

// Check reports what would make Apply reject a fact (a zone that does not
// exist, a period that is not one), so the step that reads records can
// dead-letter it before any state sees it.
func Check(f Fact) error {
	switch f := f.(type) {
	case SalesTraffic:
		_, err := loadZone(f.Date.Zone)
		return err
	case VideoPerformance:
		_, err := loadZone(f.Date.Zone)
		return err
	case SearchQuery:
		_, _, err := periodDays(f.Period, time.UTC)
		return err
	case SearchTerm:
		_, _, err := periodDays(f.Period, time.UTC)
		return err
	}
	return nil
}
