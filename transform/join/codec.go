package join

import (
	"math/big"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
)

// codec is one direction of the wire form: encoding (encoder, over a
// writer) or decoding (decoder, over an unwire). A type whose layout is
// written once as a fields method, which hands each field to a codec in
// order, is encoded and decoded by the same lines, so the two directions
// cannot drift apart.
type codec interface {
	int(*int64)
	day(*Day)
	str(*string)
	float(*float64)
	instant(*time.Time)
	rational(**big.Rat)
	optInt(**int64)
	optFloat(**float64)
	metaField(*Meta)
	periodField(*Period)
	zonedDay(*ZonedDay)
	boolean(*bool)
	byteField(*byte)
	acceptedField(*accepted)
	refField(*identity.Ref)
	moneyField(*money)
	termRankField(*TermRank)
	amountField(*amount)
	// length writes n (encoding) or reads a list's length (decoding).
	length(n int) int
}

type encoder struct{ w *writer }

func (e encoder) int(p *int64)              { e.w.i(*p) }
func (e encoder) day(p *Day)                { e.w.i(int64(*p)) }
func (e encoder) str(p *string)             { e.w.s(*p) }
func (e encoder) float(p *float64)          { e.w.f(*p) }
func (e encoder) instant(p *time.Time)      { e.w.time(*p) }
func (e encoder) rational(p **big.Rat)      { e.w.rat(*p) }
func (e encoder) optInt(p **int64)          { e.w.optI(*p) }
func (e encoder) optFloat(p **float64)      { e.w.optF(*p) }
func (e encoder) metaField(p *Meta)         { e.w.meta(*p) }
func (e encoder) periodField(p *Period)     { e.w.period(*p) }
func (e encoder) zonedDay(p *ZonedDay)      { e.w.i(int64(p.Day)); e.w.s(p.Zone) }
func (e encoder) byteField(p *byte)         { e.w.byte1(*p) }
func (e encoder) boolean(p *bool)           { e.w.bool(*p) }
func (e encoder) acceptedField(p *accepted) { e.w.accepted(*p) }
func (e encoder) refField(p *identity.Ref)  { e.w.ref(*p) }
func (e encoder) moneyField(p *money)       { e.w.money(*p) }
func (e encoder) termRankField(p *TermRank) { e.w.termRank(*p) }
func (e encoder) amountField(p *amount)     { e.w.amount(*p) }
func (e encoder) length(n int) int          { e.w.u(uint64(n)); return n }

type decoder struct{ r *unwire }

func (d decoder) int(p *int64)              { *p = d.r.Varint() }
func (d decoder) day(p *Day)                { *p = Day(d.r.Varint()) }
func (d decoder) str(p *string)             { *p = d.r.String() }
func (d decoder) float(p *float64)          { *p = d.r.Float64() }
func (d decoder) instant(p *time.Time)      { *p = d.r.time() }
func (d decoder) rational(p **big.Rat)      { *p = d.r.rat() }
func (d decoder) optInt(p **int64)          { *p = d.r.optI() }
func (d decoder) optFloat(p **float64)      { *p = d.r.optF() }
func (d decoder) metaField(p *Meta)         { *p = d.r.meta() }
func (d decoder) periodField(p *Period)     { *p = d.r.period() }
func (d decoder) zonedDay(p *ZonedDay)      { *p = ZonedDay{Day(d.r.Varint()), d.r.String()} }
func (d decoder) byteField(p *byte)         { *p = d.r.Byte() }
func (d decoder) boolean(p *bool)           { *p = d.r.Bool() }
func (d decoder) acceptedField(p *accepted) { *p = d.r.accepted() }
func (d decoder) refField(p *identity.Ref)  { *p = d.r.ref() }
func (d decoder) moneyField(p *money)       { *p = d.r.money() }
func (d decoder) termRankField(p *TermRank) { *p = d.r.termRank() }
func (d decoder) amountField(p *amount)     { *p = d.r.amount() }
func (d decoder) length(int) int            { return d.r.Count() }

// list codes a slice: its length, then each element with f. Decoding
// leaves a list of no elements nil.
func list[T any](c codec, s *[]T, f func(*T)) {
	if n := c.length(len(*s)); n != len(*s) {
		*s = make([]T, n)
	}
	for i := range *s {
		f(&(*s)[i])
	}
}

// The layouts of the facts (AppendFact).

func (x *BestSellersRank) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.MarketplaceID)
	c.str(&x.ASIN)
	list(c, &x.DisplayGroupRanks, c.int)
}

func (x *SalesTraffic) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.Key)
	c.str(&x.MarketplaceID)
	c.zonedDay(&x.Date)
	c.str(&x.ASIN)
	c.str(&x.SellerSKU)
	c.int(&x.Sessions)
	c.int(&x.PageViews)
	c.int(&x.Units)
	c.str(&x.Currency)
	c.rational(&x.Sales)
}

func (x *SearchQuery) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.Key)
	c.str(&x.MarketplaceID)
	c.periodField(&x.Period)
	c.str(&x.ASIN)
	c.int(&x.Impressions)
	c.int(&x.Clicks)
	c.int(&x.Purchases)
}

func (x *SearchTerm) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.Key)
	c.str(&x.MarketplaceID)
	c.periodField(&x.Period)
	c.str(&x.Department)
	c.str(&x.Term)
	c.int(&x.FrequencyRank)
	list(c, &x.Clicked, func(a *ClickedASIN) {
		c.str(&a.ASIN)
		c.int(&a.ClickShareRank)
		c.float(&a.ClickShare)
		c.float(&a.ConversionShare)
	})
}

func (x *AmazonOrder) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.MarketplaceID)
	c.str(&x.OrderID)
	c.instant(&x.PurchaseDate)
}

func (x *AmazonOrderItem) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.MarketplaceID)
	c.str(&x.OrderID)
	c.str(&x.ItemID)
	c.str(&x.ASIN)
	c.str(&x.SellerSKU)
	c.instant(&x.PurchaseDate)
	c.str(&x.OrderStatus)
}

func (x *TikTokOrder) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.ShopID)
	c.str(&x.OrderID)
	c.str(&x.Status)
	c.instant(&x.CreateTime)
	c.str(&x.Currency)
	list(c, &x.Lines, func(l *TikTokLine) {
		c.str(&l.ProductID)
		c.str(&l.SKUID)
		c.str(&l.Currency)
		c.rational(&l.SalePrice)
	})
}

func (x *VideoPerformance) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.ShopID)
	c.str(&x.VideoID)
	c.zonedDay(&x.Date)
	c.str(&x.Currency)
	c.instant(&x.PostTime)
	for _, p := range []**int64{&x.Views, &x.Likes, &x.Comments, &x.Shares, &x.ProductImpressions, &x.ProductClicks} {
		c.optInt(p)
	}
	list(c, &x.Products, func(p *VideoProduct) {
		c.str(&p.ProductID)
		c.rational(&p.GMV)
	})
}

func (x *VideoEngagement) fields(c codec) {
	c.metaField(&x.Meta)
	c.str(&x.BusinessID)
	c.str(&x.ItemID)
	c.instant(&x.CreateTime)
	for _, p := range []**int64{&x.Views, &x.Likes, &x.Comments, &x.Shares, &x.Saves} {
		c.optInt(p)
	}
	c.optFloat(&x.WatchTimeSeconds)
}

// The layouts of the entities in the facts store (appendEntity).

func (e *stEntity) kind() byte { return entST }
func (e *stEntity) fields(c codec) {
	e.asinRow.fields(c)
	c.day(&e.day)
	c.int(&e.sessions)
	c.int(&e.pageViews)
	c.int(&e.units)
	c.str(&e.currency)
	c.amountField(&e.amount)
}

func (e *sqpEntity) kind() byte { return entSQP }
func (e *sqpEntity) fields(c codec) {
	e.asinRow.fields(c)
	list(c, &e.days, c.day)
	e.c.fields(c)
}

func (e *termEntity) kind() byte { return entTerm }
func (e *termEntity) fields(c codec) {
	c.acceptedField(&e.acc)
	c.boolean(&e.live)
	list(c, &e.days, c.day)
	c.periodField(&e.period)
	list(c, &e.clicked, func(x *clickedRef) {
		c.refField(&x.ref)
		c.termRankField(&x.term)
	})
}

func (e *ttOrderEntity) kind() byte { return entTikTokOrder }
func (e *ttOrderEntity) fields(c codec) {
	c.acceptedField(&e.acc)
	c.str(&e.order)
	c.day(&e.day)
	list(c, &e.skus, func(x *skuLines) {
		c.refField(&x.ref)
		c.int(&x.units)
		c.moneyField(&x.money)
	})
}

func (e *amzOrderEntity) kind() byte { return entAmazonOrder }
func (e *amzOrderEntity) fields(c codec) {
	c.str(&e.order)
	c.acceptedField(&e.header)
	c.boolean(&e.dated)
	c.day(&e.day)
	list(c, &e.items, func(x *amzItem) {
		c.str(&x.id)
		c.acceptedField(&x.acc)
		c.boolean(&x.live)
		c.refField(&x.ref)
		c.boolean(&x.canceled)
		c.boolean(&x.dated)
		c.day(&x.day)
	})
}

// fields is the layout of what the entities of an ASIN's report rows
// (stEntity, sqpEntity) keep of the row; their layouts start with it.
func (e *asinRow) fields(c codec) {
	c.acceptedField(&e.acc)
	c.boolean(&e.live)
	c.refField(&e.ref)
}

// fields is the layout of a search query contribution, as an entity
// keeps it and as a partial sends it.
func (x *sqpContrib) fields(c codec) {
	c.periodField(&x.period)
	c.int(&x.impressions)
	c.int(&x.clicks)
	c.int(&x.purchases)
}

// entityKinds makes an empty entity of each kind, to decode into.
var entityKinds = [...]func() entity{
	entST:          func() entity { return &stEntity{} },
	entSQP:         func() entity { return &sqpEntity{} },
	entTerm:        func() entity { return &termEntity{} },
	entTikTokOrder: func() entity { return &ttOrderEntity{} },
	entAmazonOrder: func() entity { return &amzOrderEntity{} },
}
