package join

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"strings"
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

func addI(p **int64, v int64) {
	if *p == nil {
		*p = new(int64)
	}
	**p += v
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
	return amount{exact: new(big.Rat).Add(a.rat(), b.rat()), set: true}
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
	case cur == mixedCurrency || m.total.set && cur != m.currency:
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

// periodRank orders Brand Analytics periods: the shortest wins a day.
var periodRank = map[string]int{"DAY": 0, "WEEK": 1, "MONTH": 2, "QUARTER": 3}

func betterPeriod(a, b Period) bool {
	ra, oka := periodRank[a.Kind]
	rb, okb := periodRank[b.Kind]
	if !oka {
		ra = 9
	}
	if !okb {
		rb = 9
	}
	if ra != rb {
		return ra < rb
	}
	if a.Start != b.Start {
		return a.Start > b.Start
	}
	return a.End < b.End
}

// compute builds row (k, d) from the current facts; ok is false when
// nothing contributes.
func (j *Join) compute(k string, d Day) (Row, bool) {
	r := Row{ProductKey: k, Day: d, Zone: j.zone.String()}
	has := false
	var amzMoney, ttMoney, videoMoney money
	// Distinct orders are counted by sorting the ids in reused slices,
	// not with sets allocated for every row computed.
	amzOrders, ttOrders := j.scratchAmzOrders[:0], j.scratchTTOrders[:0]
	defer func() { j.scratchAmzOrders, j.scratchTTOrders = amzOrders[:0], ttOrders[:0] }()
	var sqp []*sqpContrib
	var terms []*termContrib
	var bsrSum float64
	var bsrN int

	for ref := range j.refsByKey[k] {
		for _, cf := range j.cells[cellOf(ref, d)] {
			if _, ok := cf.c.(*termContrib); ok && !j.linked(j.refs[ref]) {
				// A competitor's ASIN among the top clicked.
				continue
			}
			has = true
			switch c := cf.c.(type) {
			case *stContrib:
				addI(&r.AmazonSessions, c.sessions)
				addI(&r.AmazonPageViews, c.pageViews)
				addI(&r.AmazonUnits, c.units)
				amzMoney.add(c.currency, c.amount)
			case *sqpContrib:
				sqp = append(sqp, c)
			case *termContrib:
				terms = append(terms, c)
			case *rankContrib:
				if r.BestSellersRankBest == nil || c.rank < *r.BestSellersRankBest {
					r.BestSellersRankBest = &c.rank
				}
				bsrSum += float64(c.rank)
				bsrN++
			case *amzOrderContrib:
				amzOrders = append(amzOrders, c.orderID)
			case *ttOrderContrib:
				ttOrders = append(ttOrders, c.orderID)
				addI(&r.TikTokUnits, c.units)
				ttMoney.add(c.currency, c.amount)
			}
		}
	}
	if bsrN > 0 {
		avg := bsrSum / float64(bsrN)
		r.BestSellersRankAvg = &avg
	}
	if len(amzOrders) > 0 {
		n := int64(distinct(amzOrders))
		r.AmazonOrders = &n
	}
	if len(ttOrders) > 0 {
		n := int64(distinct(ttOrders))
		r.TikTokOrders = &n
	}
	if len(sqp) > 0 {
		best := sqp[0].period
		for _, c := range sqp[1:] {
			if betterPeriod(c.period, best) {
				best = c.period
			}
		}
		r.SearchPeriod = &best
		for _, c := range sqp {
			if c.period == best {
				addI(&r.SearchImpressions, c.impressions)
				addI(&r.SearchClicks, c.clicks)
				addI(&r.SearchPurchases, c.purchases)
			}
		}
	}
	if len(terms) > 0 {
		best := terms[0].period
		for _, c := range terms[1:] {
			if betterPeriod(c.period, best) {
				best = c.period
			}
		}
		for _, c := range terms {
			if c.period == best {
				r.SearchTermRanks = append(r.SearchTermRanks, c.term)
			}
		}
		slices.SortFunc(r.SearchTermRanks, func(a, b TermRank) int {
			return cmp.Or(cmp.Compare(a.FrequencyRank, b.FrequencyRank), strings.Compare(a.Term, b.Term),
				strings.Compare(a.Department, b.Department), cmp.Compare(a.ClickShareRank, b.ClickShareRank),
				cmp.Compare(a.ClickShare, b.ClickShare), cmp.Compare(a.ConversionShare, b.ConversionShare))
		})
	}

	// Videos showing one of the key's products, distinct and sorted, so
	// float sums do not depend on map order.
	vids := j.scratchVideos[:0]
	for p := range j.productsByKey[k] {
		for v := range j.productVideos[p] {
			vids = append(vids, v)
		}
	}
	slices.SortFunc(vids, func(a, b *video) int { return strings.Compare(a.id, b.id) })
	vids = slices.Compact(vids)
	defer func() { j.scratchVideos = vids[:0] }()
	var att [nMetrics]int64
	var attHas uint8
	var watch float64 // seconds
	var measured, estimated bool
	if a := j.unlinkedAgg[RowKey{k, d}]; a != nil {
		// Videos that show no product, summed as they change.
		has = true
		measured, estimated = a.measured > 0, a.estimated > 0
		for m := range nMetrics {
			switch {
			case a.has[m] == 0:
			case m == mWatch:
				attHas |= 1 << m
				watch += float64(a.n[m]) / 1000
			default:
				attHas |= 1 << m
				att[m] += a.n[m]
			}
		}
	}
	for _, v := range vids {
		var keys []string
		if j.attr == EvenSplit {
			// Only an even split needs the other keys of the video.
			keys = j.keysOfVideo(v)
		}
		if vd := j.dayOf(v, d); vd.has != 0 {
			has = true
			attHas |= vd.has
			measured, estimated = measured || vd.measured, estimated || vd.estimated
			for m := range nMetrics {
				switch {
				case vd.has&(1<<m) == 0:
				case m == mWatch:
					watch += j.shareFloat(float64(vd.n[m])/1000, keys)
				default:
					att[m] += j.shareInt(vd.n[m], keys, k)
				}
			}
		}
		for _, f := range v.perfOn(d) {
			for _, p := range f.products {
				pk := j.productKeys[p.product]
				if !slices.Contains(pk, k) {
					continue
				}
				has = true
				if p.gmv.set {
					videoMoney.add(f.currency, j.shareMoney(p.gmv, pk, k))
				}
			}
		}
	}
	set := func(m int, dst **int64) {
		if attHas&(1<<m) != 0 {
			v := att[m]
			*dst = &v
		}
	}
	set(mViews, &r.TikTokViews)
	set(mSaves, &r.TikTokSaves)
	set(mShares, &r.TikTokShares)
	set(mLikes, &r.TikTokLikes)
	set(mComments, &r.TikTokComments)
	set(mImpressions, &r.TikTokProductImpressions)
	set(mClicks, &r.TikTokProductClicks)
	if attHas&(1<<mWatch) != 0 {
		r.TikTokWatchTimeSeconds = &watch
	}
	r.TikTokAttentionProvenance = provenance(measured, estimated)

	r.AmazonCurrency, r.AmazonSales = amzMoney.currency, amzMoney.sum()
	// TikTok order GMV and video GMV share one currency field.
	if ttMoney.has() && videoMoney.has() && ttMoney.currency != videoMoney.currency || ttMoney.mixed || videoMoney.mixed {
		r.TikTokCurrency = ""
	} else {
		r.TikTokCurrency = cmp.Or(ttMoney.currency, videoMoney.currency)
		r.TikTokGMV, r.TikTokVideoGMV = ttMoney.sum(), videoMoney.sum()
	}
	return r, has
}

// distinct returns the number of distinct strings in s, reordering s.
func distinct(s []string) int {
	slices.Sort(s)
	return len(slices.Compact(s))
}

// shareInt returns key k's share of n among keys: all of it under
// FullCredit; under EvenSplit n/len(keys), the remainder going one each to
// the first keys in order, so the shares add up to n.
func (j *Join) shareInt(n int64, keys []string, k string) int64 {
	if j.attr != EvenSplit || len(keys) <= 1 {
		return n
	}
	q, rem := n/int64(len(keys)), n%int64(len(keys))
	if int64(slices.Index(keys, k)) < rem {
		q++
	}
	return q
}

func (j *Join) shareFloat(x float64, keys []string) float64 {
	if j.attr != EvenSplit || len(keys) <= 1 {
		return x
	}
	return x / float64(len(keys))
}

var tenThousand = big.NewInt(10000)

// shareMoney splits an amount like shareInt, in units of 0.0001.
func (j *Join) shareMoney(x amount, keys []string, k string) amount {
	if j.attr != EvenSplit || len(keys) <= 1 {
		return x
	}
	if x.exact == nil {
		return amount{units: j.shareInt(x.units, keys, k), set: true}
	}
	units := new(big.Int).Mul(x.exact.Num(), tenThousand)
	units.Quo(units, x.exact.Denom()) // amounts have scale 4, so this is exact
	share := j.shareInt(units.Int64(), keys, k)
	return amountOf(new(big.Rat).SetFrac(big.NewInt(share), tenThousand))
}

// emit recomputes the touched rows and returns those whose content changed,
// sorted by key and day, each with a version above the row's last one.
func (j *Join) emit(t touched, trigger Meta) []Row {
	clear(j.spreads)
	defer clear(j.spreads)
	keys := make([]RowKey, 0, len(t))
	for rk := range t {
		keys = append(keys, rk)
	}
	slices.SortFunc(keys, func(a, b RowKey) int {
		return cmp.Or(strings.Compare(a.ProductKey, b.ProductKey), cmp.Compare(a.Day, b.Day))
	})
	var out []Row
	var tp *Meta
	for _, rk := range keys {
		row, ok := j.compute(rk.ProductKey, rk.Day)
		prev := j.rows[rk]
		var content []byte
		if !ok {
			if prev == nil || prev.deleted {
				continue
			}
			row = Row{ProductKey: rk.ProductKey, Day: rk.Day, Zone: j.zone.String(), Deleted: true}
		} else {
			var comparable bool
			content, comparable = row.appendContent(j.scratchContent[:0])
			j.scratchContent = content
			if comparable && prev != nil && !prev.deleted && prev.content == string(content) {
				continue
			}
		}
		var v int64 = 1
		if prev != nil {
			v = prev.version + 1
		} else {
			row.First = true
		}
		row.Version = max(v, j.floor)
		row.Trigger = trigger
		if tp == nil {
			tp = &trigger
		}
		e := emitted{content: string(content), version: row.Version, trigger: tp, first: row.First, deleted: row.Deleted}
		if prev != nil {
			// Reuse the entry: one allocation less per emitted row.
			*prev = e
		} else {
			j.rows[rk] = &e
		}
		out = append(out, row)
	}
	return out
}

// row returns the current content of an emitted row that is not deleted:
// recomputed, since only the encoding of its figures is kept, and
// carrying the version, trigger and first flag it was emitted with.
func (j *Join) row(rk RowKey, e *emitted) Row {
	r, _ := j.compute(rk.ProductKey, rk.Day)
	r.Version, r.Trigger, r.First = e.version, *e.trigger, e.first
	return r
}
