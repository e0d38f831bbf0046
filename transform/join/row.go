package join

import (
	"encoding/binary"
	"math"
	"math/big"
)

// TermRank is a search term for which one of the product's ASINs is among
// the top clicked.
type TermRank struct {
	Term            string
	Department      string
	FrequencyRank   int64
	ClickShareRank  int64
	ClickShare      float64
	ConversionShare float64
}

// Row is one joined row: a product on a day of the reporting zone. A nil
// metric means no source reported it for the day; zero means a source
// reported zero. Money amounts are nil, with an empty currency, when the
// contributions came in more than one currency, since they are never
// converted.
type Row struct {
	ProductKey string
	Day        Day
	Zone       string
	Version    int64
	// Deleted rows lost every contribution (their product was re-keyed or
	// their facts retracted): all metrics are nil.
	Deleted bool
	// Trigger is the metadata of the input change that caused this version.
	Trigger Meta
	// First is set on the first version of the row ever emitted.
	First bool

	TikTokViews, TikTokSaves, TikTokShares *int64
	TikTokLikes, TikTokComments            *int64
	TikTokWatchTimeSeconds                 *float64
	TikTokProductImpressions               *int64
	TikTokProductClicks                    *int64
	// TikTokAttentionProvenance is measured, estimated or mixed: how the
	// attention figures above were obtained; "" when there are none.
	TikTokAttentionProvenance string
	TikTokCurrency            string
	TikTokVideoGMV            *big.Rat
	TikTokOrders, TikTokUnits *int64
	TikTokGMV                 *big.Rat

	SearchPeriod                    *Period
	SearchImpressions, SearchClicks *int64
	SearchPurchases                 *int64
	SearchTermRanks                 []TermRank
	BestSellersRankBest             *int64
	BestSellersRankAvg              *float64
	AmazonSessions, AmazonPageViews *int64
	AmazonUnits                     *int64
	AmazonCurrency                  string
	AmazonSales                     *big.Rat
	AmazonOrders                    *int64
}

// appendContent appends a canonical encoding of the row's figures to buf.
// Two rows of one key and day carry the same figures exactly when their
// encodings are equal, so the join keeps the encoding of the last version
// it emitted instead of the row. Floats compare by value, so -0 is written
// as 0; a NaN equals nothing, reported by comparable false: such a row
// always counts as changed.
func (r *Row) appendContent(buf []byte) (_ []byte, comparable bool) {
	comparable = true
	i := func(p *int64) {
		if p == nil {
			buf = append(buf, 0)
			return
		}
		buf = binary.AppendVarint(append(buf, 1), *p)
	}
	f := func(v float64) {
		if v != v {
			comparable = false
		}
		if v == 0 {
			v = 0 // -0 == 0
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	}
	fp := func(p *float64) {
		if p == nil {
			buf = append(buf, 0)
			return
		}
		buf = append(buf, 1)
		f(*p)
	}
	str := func(v string) { buf = append(binary.AppendUvarint(buf, uint64(len(v))), v...) }
	rat := func(x *big.Rat) {
		if x == nil {
			buf = append(buf, 0)
			return
		}
		// A big.Rat is always in lowest terms: equal values, equal text.
		buf = x.Num().Append(append(buf, 1), 16)
		buf = append(x.Denom().Append(append(buf, '/'), 16), ';')
	}
	i(r.TikTokViews)
	i(r.TikTokSaves)
	i(r.TikTokShares)
	i(r.TikTokLikes)
	i(r.TikTokComments)
	fp(r.TikTokWatchTimeSeconds)
	i(r.TikTokProductImpressions)
	i(r.TikTokProductClicks)
	str(r.TikTokAttentionProvenance)
	str(r.TikTokCurrency)
	rat(r.TikTokVideoGMV)
	i(r.TikTokOrders)
	i(r.TikTokUnits)
	rat(r.TikTokGMV)
	if p := r.SearchPeriod; p == nil {
		buf = append(buf, 0)
	} else {
		buf = append(buf, 1)
		str(p.Kind)
		buf = binary.AppendVarint(buf, int64(p.Start))
		buf = binary.AppendVarint(buf, int64(p.End))
		str(p.Zone)
	}
	i(r.SearchImpressions)
	i(r.SearchClicks)
	i(r.SearchPurchases)
	buf = binary.AppendUvarint(buf, uint64(len(r.SearchTermRanks)))
	for _, t := range r.SearchTermRanks {
		str(t.Term)
		str(t.Department)
		buf = binary.AppendVarint(buf, t.FrequencyRank)
		buf = binary.AppendVarint(buf, t.ClickShareRank)
		f(t.ClickShare)
		f(t.ConversionShare)
	}
	i(r.BestSellersRankBest)
	fp(r.BestSellersRankAvg)
	i(r.AmazonSessions)
	i(r.AmazonPageViews)
	i(r.AmazonUnits)
	str(r.AmazonCurrency)
	rat(r.AmazonSales)
	i(r.AmazonOrders)
	return buf, comparable
}

// amount is a decimal(18,4) amount of the schemas, held as int64 units
// of 0.0001 while it is a whole number of them within ±maxUnits, and as
// an exact big.Rat otherwise: most of the state's amounts then cost no
// allocation of their own. The zero value is no amount.
type amount struct {
	units int64    // the value in units of 0.0001, while exact is nil
	exact *big.Rat // the value, when units cannot hold it; never modified
	set   bool
}

// amountOf returns x as an amount; nil is no amount.
func amountOf(x *big.Rat) amount {
	if x == nil {
		return amount{}
	}
	if u, ok := unitsOf(x); ok {
		return amount{units: u, set: true}
	}
	return amount{exact: new(big.Rat).Set(x), set: true}
}

// rat returns the amount as a big.Rat, nil when there is none.
func (a amount) rat() *big.Rat {
	switch {
	case !a.set:
		return nil
	case a.exact != nil:
		return a.exact
	}
	return new(big.Rat).SetFrac64(a.units, 10000)
}

// plus returns a+b; both must be set.
func (a amount) plus(b amount) amount {
	if a.exact == nil && b.exact == nil {
		if s := a.units + b.units; s <= maxUnits && s >= -maxUnits {
			return amount{units: s, set: true}
		}
	}
	// amountOf keeps a sum that fits in units as units, so equal sums
	// are equal amounts whatever the order of the additions.
	return amountOf(new(big.Rat).Add(a.rat(), b.rat()))
}

// neg returns -a.
func (a amount) neg() amount {
	switch {
	case !a.set:
		return a
	case a.exact != nil:
		return amountOf(new(big.Rat).Neg(a.exact))
	}
	return amount{units: -a.units, set: true}
}

// money adds amounts of one currency and gives up (nil) on a second one.
// The total is an amount: int64 units while they hold it (no big.Rat
// arithmetic, which allocated on every addition of every row recomputed),
// an exact big.Rat otherwise.
type money struct {
	currency string
	total    amount // set once an amount was added (and the currency is single)
	mixed    bool
}

// maxUnits bounds units so that adding two never overflows unnoticed.
const maxUnits = 1 << 62

func (m *money) add(cur string, amt amount) {
	switch {
	case !amt.set || m.mixed:
	case m.total.set && cur != m.currency:
		*m = money{mixed: true}
	case !m.total.set:
		m.currency, m.total = cur, amt
	default:
		m.total = m.total.plus(amt)
	}
}

// has reports whether an amount was added and the currency is single.
func (m *money) has() bool { return m.total.set }

// sum returns the total, nil when no amount was added or currencies mixed.
// The result may be shared with the state: callers must not modify it.
func (m *money) sum() *big.Rat { return m.total.rat() }

// unitsOf returns amt in units of 0.0001 if it is a whole number of them
// within ±maxUnits.
func unitsOf(amt *big.Rat) (int64, bool) {
	num := amt.Num()
	if !num.IsInt64() {
		return 0, false
	}
	var mult int64 = 10000
	if !amt.IsInt() {
		den := amt.Denom()
		if !den.IsInt64() || 10000%den.Int64() != 0 {
			return 0, false
		}
		mult = 10000 / den.Int64()
	}
	n := num.Int64()
	if n > maxUnits/mult || n < -maxUnits/mult {
		return 0, false
	}
	return n * mult, true
}

// rowPeriod reports whether a Brand Analytics period reaches product_daily:
// only weeks do. A month's or a quarter's totals carried on its days next
// to the weeks' would be summed over a date range on top of them (and on
// the days before a backfill's first complete week, a month or quarter
// that began earlier showed up alone); they stay in
// amazon_search_query_performance and amazon_search_terms.
func rowPeriod(p Period) bool { return p.Kind == "WEEK" }

// betterPeriod orders two weeks covering one day (one marketplace's weeks
// never overlap; weeks of marketplaces in different zones can): the later
// start, then the earlier end, wins.
func betterPeriod(a, b Period) bool {
	if a.Start != b.Start {
		return a.Start > b.Start
	}
	return a.End < b.End
}

// merge returns the money of m and o together.
func (m money) merge(o money) money {
	switch {
	case o.mixed:
		return money{mixed: true}
	case o.total.set:
		m.add(o.currency, o.total)
	}
	return m
}
