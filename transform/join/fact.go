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

// AppendFact appends the wire form of f to b: the layout version, the
// fact's kind, and its fields (the fields methods in codec.go).
func AppendFact(b []byte, f Fact) []byte {
	w := writer{b: append(b, wireVersion)}
	var x interface{ fields(codec) }
	switch f := f.(type) {
	case BestSellersRank:
		w.byte1(kindBSR)
		x = &f
	case SalesTraffic:
		w.byte1(kindST)
		x = &f
	case SearchQuery:
		w.byte1(kindSQP)
		x = &f
	case SearchTerm:
		w.byte1(kindTerm)
		x = &f
	case AmazonOrder:
		w.byte1(kindAmazonOrder)
		x = &f
	case AmazonOrderItem:
		w.byte1(kindAmazonOrderItem)
		x = &f
	case TikTokOrder:
		w.byte1(kindTikTokOrder)
		x = &f
	case VideoPerformance:
		w.byte1(kindVideoPerf)
		x = &f
	case VideoEngagement:
		w.byte1(kindVideoEng)
		x = &f
	default:
		panic(fmt.Sprintf("join: AppendFact(%T)", f))
	}
	x.fields(encoder{&w})
	return w.b
}

// decodeAs reads the fields of a fact of type T.
func decodeAs[T Fact, P interface {
	*T
	fields(codec)
}](c codec) Fact {
	var x T
	P(&x).fields(c)
	return x
}

// factKinds decodes each kind of fact.
var factKinds = [...]func(codec) Fact{
	kindBSR:             decodeAs[BestSellersRank],
	kindST:              decodeAs[SalesTraffic],
	kindSQP:             decodeAs[SearchQuery],
	kindTerm:            decodeAs[SearchTerm],
	kindAmazonOrder:     decodeAs[AmazonOrder],
	kindAmazonOrderItem: decodeAs[AmazonOrderItem],
	kindTikTokOrder:     decodeAs[TikTokOrder],
	kindVideoPerf:       decodeAs[VideoPerformance],
	kindVideoEng:        decodeAs[VideoEngagement],
}

// DecodeFact reads a fact that AppendFact wrote.
func DecodeFact(b []byte) (Fact, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return nil, fmt.Errorf("join: internal record of layout %d, want %d", v, wireVersion)
	}
	kind := r.Byte()
	if r.Err != nil {
		return nil, r.Err
	}
	if int(kind) >= len(factKinds) || factKinds[kind] == nil {
		return nil, fmt.Errorf("join: internal record of unknown kind %d", kind)
	}
	f := factKinds[kind](decoder{&r})
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
