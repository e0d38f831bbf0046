package join

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// Attention metrics of a video, the index of every per-metric array and
// bit mask below. The Business API reports the first nEng (lifetime
// totals); shop analytics reports views, likes, comments, shares, product
// impressions and clicks (per day).
const (
	mViews = iota
	mWatch
	mSaves
	mShares
	mLikes
	mComments
	mImpressions
	mClicks
	nMetrics
)

// nEng is the number of metrics the Business API reports.
const nEng = mComments + 1

// shopMetrics are the metrics shop analytics may report.
const shopMetrics uint8 = 1<<mViews | 1<<mShares | 1<<mLikes | 1<<mComments | 1<<mImpressions | 1<<mClicks

// maxSpreadDays bounds the days a first snapshot is spread over (three
// years), so that a wrong post time cannot make a row for every day since
// 1970.
const maxSpreadDays = 1096

// video is what the join holds of one TikTok video, all of it keyed by
// the video id (the state a keyed store would keep per video): its shop
// analytics records, its Business API state, and the products it shows.
// Its small per-video sets are slices rather than maps.
type video struct {
	id       string
	eng      *engState      // nil until a snapshot
	perf     []*vperfFact   // current shop analytics, sorted by day
	products []productCount // products perf lists, with how many records list each
	// shopHas has bit m when a current shop analytics record reports
	// metric m: the video's m then comes from shop analytics only.
	shopHas uint8
	// unlinked is the key of the video while it shows no product (its
	// figures are then in Join.unlinkedAgg), else "".
	unlinked string
}

type productCount struct {
	product productRef
	n       int
}

// vperfFact is one tiktok.video_performance record: one video on one day.
type vperfFact struct {
	id       string // fact id
	shop     string
	day      Day
	post     Day   // day of video_post_time, when hasPost
	has      uint8 // bit m: vals[m] reported
	hasPost  bool
	currency string
	vals     [nMetrics]int64 // the shop metrics; watch time and saves unused
	products []vperfProduct
}

type vperfProduct struct {
	product productRef
	gmv     amount
}

// video returns the state of video id, creating it.
func (j *Join) video(id string) *video {
	v := j.videos[id]
	if v == nil {
		v = &video{id: id}
		j.videos[id] = v
	}
	return v
}

// dropIfEmpty forgets a video nothing is known of any more.
func (j *Join) dropIfEmpty(v *video) {
	if v.eng == nil && len(v.perf) == 0 {
		delete(j.videos, v.id)
	}
}

// perfOn returns the shop analytics records of the video on day d.
func (v *video) perfOn(d Day) []*vperfFact {
	i, _ := slices.BinarySearchFunc(v.perf, d, func(f *vperfFact, d Day) int { return cmp.Compare(f.day, d) })
	n := i
	for n < len(v.perf) && v.perf[n].day == d {
		n++
	}
	return v.perf[i:n]
}

// viewWeight returns the measured views of day d, the weight of the day
// when a first snapshot is spread: negative figures count as 0.
func (v *video) viewWeight(d Day) int64 {
	var w int64
	for _, f := range v.perfOn(d) {
		if f.has&(1<<mViews) != 0 {
			w += max(0, f.vals[mViews])
		}
	}
	return w
}

// postDay returns the day the video was posted: from the create_time of
// its latest snapshot that has one, else the earliest video_post_time of
// its shop analytics.
func (v *video) postDay() (Day, bool) {
	if e := v.eng; e != nil && e.hasPost {
		return e.post, true
	}
	var p Day
	ok := false
	for _, f := range v.perf {
		if f.hasPost && (!ok || f.post < p) {
			p, ok = f.post, true
		}
	}
	return p, ok
}

// window returns the days [start, end] over which the first reported
// lifetime value of metric m is spread: from the post day (clamped to at
// most maxSpreadDays) to the day of the snapshot; that day alone when the
// post day is unknown. ok is false when no snapshot reported m.
func (v *video) window(m int) (start, end Day, ok bool) {
	e := v.eng
	if e == nil || !e.reported(m) {
		return 0, 0, false
	}
	end = e.firstDay[m]
	start = end
	if p, has := v.postDay(); has {
		start = max(min(p, end), end-maxSpreadDays+1)
	}
	return start, end, true
}

// windows returns the union range of the video's spread windows.
func (v *video) windows() (lo, hi Day, ok bool) {
	for m := range nEng {
		if s, e, has := v.window(m); has {
			if !ok {
				lo, hi, ok = s, e, true
			}
			lo, hi = min(lo, s), max(hi, e)
		}
	}
	return lo, hi, ok
}

// ApplyVideoPerformance applies a tiktok.video_performance record: it links
// the video to the products it shows (for engagement attribution), credits
// each product's GMV through the video on the record's day (converted from
// the shop's zone), and its measured views, likes, comments, shares,
// product impressions and clicks. A restated day replaces the earlier
// record; a delete retracts it and, if no other day lists them, the
// video's products.
func (j *Join) ApplyVideoPerformance(vp VideoPerformance) ([]Row, error) {
	id := "vp|" + vp.ShopID + ":" + vp.VideoID + ":" + vp.Date.Day.String()
	var nf *vperfFact
	if !vp.deleted() {
		day, err := j.reportDay(vp.Date)
		if err != nil {
			return nil, err
		}
		shop := j.intern(vp.ShopID)
		nf = &vperfFact{day: day, shop: shop, currency: j.intern(vp.Currency), products: make([]vperfProduct, 0, len(vp.Products))}
		for m, p := range [nMetrics]*int64{mViews: vp.Views, mLikes: vp.Likes, mComments: vp.Comments, mShares: vp.Shares,
			mImpressions: vp.ProductImpressions, mClicks: vp.ProductClicks} {
			if p != nil {
				nf.vals[m], nf.has = *p, nf.has|1<<m
			}
		}
		if !vp.PostTime.IsZero() {
			nf.post, nf.hasPost = DayOf(vp.PostTime, j.zone), true
		}
		for _, p := range vp.Products {
			nf.products = append(nf.products, vperfProduct{product: productRef{shop, j.intern(p.ProductID)}, gmv: amountOf(p.GMV)})
		}
	}
	f, id := j.accept(id, vp.Meta)
	if f == nil {
		return nil, nil
	}
	if nf != nil {
		nf.id = id
	}
	t := touched{}
	v := j.video(vp.VideoID)
	defer j.dropIfEmpty(v)
	i := slices.IndexFunc(v.perf, func(f *vperfFact) bool { return f.id == id })
	var days []Day
	if i >= 0 {
		days = append(days, v.perf[i].day)
	}
	if nf != nil {
		days = append(days, nf.day)
	}
	before := j.stateOf(v)
	var weights [2]int64
	for n, d := range days {
		weights[n] = v.viewWeight(d)
	}
	j.aggUnlinked(v, -1)
	if i >= 0 {
		j.removeVperf(v, i)
	}
	if nf != nil {
		j.addVperf(v, nf)
	}
	j.refreshUnlinked(v)
	j.aggUnlinked(v, 1)
	// The usual case, a new or restated day that changes neither the
	// video's keys, nor where its metrics come from, nor the weights of a
	// spread: only that day's rows move. Otherwise any day may.
	narrow := before.same(j.stateOf(v))
	for n, d := range days {
		if before.winOK && d >= before.lo && d <= before.hi && weights[n] != v.viewWeight(d) {
			narrow = false
		}
	}
	j.impactChange(v, before, narrow, days, t)
	return j.emit(t, vp.Meta), nil
}

// videoState is what decides which rows a change of a video may move,
// taken before and after the change.
type videoState struct {
	keys     []string
	shopHas  uint8
	firstHas uint8
	post     Day
	hasPost  bool
	lo, hi   Day // the range of the spread windows, when winOK
	winOK    bool
}

func (j *Join) stateOf(v *video) videoState {
	s := videoState{keys: j.keysOfVideo(v), shopHas: v.shopHas}
	if v.eng != nil {
		s.firstHas = v.eng.has
	}
	s.post, s.hasPost = v.postDay()
	s.lo, s.hi, s.winOK = v.windows()
	return s
}

// same reports whether two states credit a video's figures to the same
// keys, from the same sources, over the same spread windows.
func (s videoState) same(o videoState) bool {
	return slices.Equal(s.keys, o.keys) && s.shopHas == o.shopHas && s.firstHas == o.firstHas &&
		s.post == o.post && s.hasPost == o.hasPost && s.lo == o.lo && s.hi == o.hi && s.winOK == o.winOK
}

// impactChange adds the rows a change of video v may have moved: those
// of days under its keys when narrow, else every day of the video before
// and after the change (before being its state then, the change having
// added or removed only days) under the keys of both.
func (j *Join) impactChange(v *video, before videoState, narrow bool, days []Day, t touched) {
	after := j.keysOfVideo(v)
	if narrow {
		for _, k := range after {
			for _, d := range days {
				t.add(k, d)
			}
		}
		return
	}
	all := v.days()
	for _, d := range days {
		all[d] = struct{}{}
	}
	if before.winOK {
		for d := before.lo; d <= before.hi; d++ {
			all[d] = struct{}{}
		}
	}
	for _, keys := range [][]string{before.keys, after} {
		for _, k := range keys {
			for d := range all {
				t.add(k, d)
			}
		}
	}
}

// days returns the days a video's figures may fall on: days with shop
// analytics or snapshot growth, and the spread windows.
func (v *video) days() map[Day]struct{} {
	days := map[Day]struct{}{}
	if v.eng != nil {
		for _, ed := range v.eng.days {
			days[ed.day] = struct{}{}
		}
	}
	for _, f := range v.perf {
		days[f.day] = struct{}{}
	}
	if lo, hi, ok := v.windows(); ok {
		for d := lo; d <= hi; d++ {
			days[d] = struct{}{}
		}
	}
	return days
}

func (j *Join) addVperf(v *video, f *vperfFact) {
	i, _ := slices.BinarySearchFunc(v.perf, f.day, func(f *vperfFact, d Day) int { return cmp.Compare(f.day, d) })
	v.perf = slices.Insert(v.perf, i, f)
	v.shopHas |= f.has & shopMetrics
	for _, p := range f.products {
		if i := v.productIndex(p.product); i >= 0 {
			v.products[i].n++
			continue
		}
		v.products = append(v.products, productCount{p.product, 1})
		if j.productVideos[p.product] == nil {
			j.productVideos[p.product] = map[*video]struct{}{}
		}
		j.productVideos[p.product][v] = struct{}{}
		j.refreshProduct(p.product)
	}
}

// removeVperf removes the video's i-th shop analytics record.
func (j *Join) removeVperf(v *video, i int) {
	f := v.perf[i]
	v.perf = slices.Delete(v.perf, i, i+1)
	v.shopHas = 0
	for _, g := range v.perf {
		v.shopHas |= g.has & shopMetrics
	}
	for _, p := range f.products {
		k := v.productIndex(p.product)
		if v.products[k].n--; v.products[k].n > 0 {
			continue
		}
		v.products = slices.Delete(v.products, k, k+1)
		delete(j.productVideos[p.product], v)
		if len(j.productVideos[p.product]) == 0 {
			delete(j.productVideos, p.product)
		}
		j.refreshProduct(p.product)
	}
}

func (v *video) productIndex(p productRef) int {
	return slices.IndexFunc(v.products, func(c productCount) bool { return c.product == p })
}

// unlinkedKey returns the key of a video that shows no product:
// tiktok:<shop>:unlinked, the shop of its shop analytics (the least id if
// several), else tiktok:<business>:unlinked, the account of its latest
// snapshot; "" for a video nothing is known of.
func (j *Join) unlinkedKey(v *video) string {
	acct := ""
	for _, f := range v.perf {
		if acct == "" || f.shop < acct {
			acct = f.shop
		}
	}
	if acct == "" && v.eng != nil {
		acct = v.eng.business
	}
	if acct == "" {
		return ""
	}
	k, ok := j.unlinkedKeys[acct]
	if !ok {
		k = "tiktok:" + acct + ":unlinked"
		j.unlinkedKeys[acct] = k
	}
	return k
}

// refreshUnlinked sets the unlinked key of a video: its account's key
// while it shows no product, else "".
func (j *Join) refreshUnlinked(v *video) {
	v.unlinked = ""
	if len(v.products) == 0 {
		v.unlinked = j.unlinkedKey(v)
	}
}

// attAgg is the sum of the attention figures of the videos that show no
// product, on one day under one key. A key can gather a brand's whole
// organic catalogue; recomputing its rows from every video at each change
// would cost the square of their number, so each change of such a video
// takes its old figures out and puts its new ones in. All figures are
// integers (watch time in milliseconds), so the sums do not depend on the
// order of the changes.
type attAgg struct {
	n                   [nMetrics]int64
	has                 [nMetrics]int32 // how many videos have a figure of m
	measured, estimated int32           // how many videos have a measured, an estimated figure
}

// aggUnlinked adds (sign 1) or takes out (sign -1) the figures of video v,
// if it shows no product, on each of its days to its key's sums. Around a
// change: take out before, add after.
func (j *Join) aggUnlinked(v *video, sign int64) {
	if v.unlinked == "" {
		return
	}
	delete(j.spreads, v) // the video's state is not the one cached
	for d := range v.days() {
		vd := j.dayOf(v, d)
		if vd.has == 0 {
			continue
		}
		rk := RowKey{v.unlinked, d}
		a := j.unlinkedAgg[rk]
		if a == nil {
			a = &attAgg{}
			j.unlinkedAgg[rk] = a
		}
		for m := range nMetrics {
			if vd.has&(1<<m) != 0 {
				a.n[m] += sign * vd.n[m]
				a.has[m] += int32(sign)
			}
		}
		if vd.measured {
			a.measured += int32(sign)
		}
		if vd.estimated {
			a.estimated += int32(sign)
		}
		if a.has == [nMetrics]int32{} {
			delete(j.unlinkedAgg, rk)
		}
	}
	delete(j.spreads, v)
}

// engState turns one video's lifetime snapshots into daily figures: the
// first value reported of each metric, spread over the video's life when
// rows are computed, and the growth after it per day. Watch time is held
// in whole milliseconds, so that every figure of a video is an integer and
// adds up exactly in any order.
type engState struct {
	business string // of the latest snapshot
	// hwm is the highest lifetime value seen per metric. Growth is the
	// rise above it, never negative: a counter that drops (an unlike)
	// and grows back is not counted twice. A metric a snapshot does not
	// report (null) keeps its high-water mark.
	hwm [nEng]int64
	// first is the first value reported of each metric (bit m of has),
	// on the day firstDay (reporting zone) of its snapshot.
	first    [nEng]int64
	firstDay [nEng]Day
	has      uint8
	post     Day // day of the latest create_time reported, when hasPost
	hasPost  bool
	days     []engDay // growth after the first values, sorted by day
}

func (e *engState) reported(m int) bool { return e.has&(1<<m) != 0 }

type engDay struct {
	day   Day
	has   uint8 // bit m: growth of metric m reported by a snapshot of the day
	delta [nEng]int64
}

func (ed *engDay) reported(m int) bool { return ed.has&(1<<m) != 0 }

// on returns the growth of day d, nil if none; add creates it.
func (e *engState) on(d Day, add bool) *engDay {
	i, found := slices.BinarySearchFunc(e.days, d, func(ed engDay, d Day) int { return cmp.Compare(ed.day, d) })
	if !found {
		if !add {
			return nil
		}
		e.days = slices.Insert(e.days, i, engDay{day: d})
	}
	return &e.days[i]
}

// ApplyVideoEngagement applies a tiktok.video_engagement snapshot. The
// first value a video's snapshots report of a metric is its lifetime total
// so far: it is kept whole and spread over the video's life when rows are
// computed (see the package doc). Later snapshots add their growth above
// the highest value seen to the day of their source_ts (reporting zone). A
// delete retracts all of the video's engagement. Snapshots must arrive in
// version order per video (one key, one partition): an older one is
// ignored.
func (j *Join) ApplyVideoEngagement(e VideoEngagement) []Row {
	if f, _ := j.accept("ve|"+e.BusinessID+":"+e.ItemID, e.Meta); f == nil {
		return nil
	}
	t := touched{}
	if e.deleted() {
		if v := j.videos[e.ItemID]; v != nil && v.eng != nil {
			j.impactVideo(v, t)
			j.aggUnlinked(v, -1)
			v.eng = nil
			j.refreshUnlinked(v)
			j.aggUnlinked(v, 1)
			j.impactVideo(v, t)
			j.dropIfEmpty(v)
		}
		return j.emit(t, e.Meta)
	}
	v := j.video(e.ItemID)
	before := j.stateOf(v)
	j.aggUnlinked(v, -1)
	st := v.eng
	if st == nil {
		st = &engState{}
		v.eng = st
	}
	st.business = j.intern(e.BusinessID)
	if !e.CreateTime.IsZero() {
		st.post, st.hasPost = DayOf(e.CreateTime, j.zone), true
	}
	day := DayOf(e.SourceTS, j.zone)
	vals := [nEng]*int64{
		mViews: e.Views, mWatch: millis(e.WatchTimeSeconds), mSaves: e.Saves,
		mShares: e.Shares, mLikes: e.Likes, mComments: e.Comments,
	}
	var ed *engDay
	for m, p := range vals {
		if p == nil {
			continue
		}
		if !st.reported(m) {
			// A lifetime total, not the day's: never one day's figure.
			st.first[m], st.firstDay[m], st.hwm[m] = max(0, *p), day, max(0, *p)
			st.has |= 1 << m
			continue
		}
		if ed == nil {
			ed = st.on(day, true)
		}
		ed.delta[m] += max(0, *p-st.hwm[m])
		st.hwm[m] = max(st.hwm[m], *p)
		ed.has |= 1 << m
	}
	j.refreshUnlinked(v)
	j.aggUnlinked(v, 1)
	j.impactChange(v, before, before.same(j.stateOf(v)), []Day{day}, t)
	return j.emit(t, e.Meta)
}

// millis returns seconds in whole milliseconds, rounded half to even.
func millis(seconds *float64) *int64 {
	if seconds == nil {
		return nil
	}
	ms := int64(math.RoundToEven(*seconds * 1000))
	return &ms
}

// videoSpread is a video's first snapshot values apportioned over their
// windows: vals[m][i] is the share of metric m on day start[m]+i (watch
// time in milliseconds). Computed when rows are, kept for one emit.
type videoSpread struct {
	start [nEng]Day
	vals  [nEng][]int64
}

// spreadOf returns the spread of video v's first snapshot values,
// computing it once per emit.
func (j *Join) spreadOf(v *video) *videoSpread {
	if s, ok := j.spreads[v]; ok {
		return s
	}
	s := &videoSpread{}
	j.spreads[v] = s
	var weights []int64
	var wlo, whi Day
	for m := range nEng {
		if v.shopHas&(1<<m) != 0 {
			continue // from shop analytics: the snapshots' values are not used
		}
		start, end, ok := v.window(m)
		if !ok {
			continue
		}
		var w []int64
		if v.shopHas&(1<<mViews) != 0 {
			if weights == nil || start < wlo || end > whi {
				wlo, whi = start, end
				weights = make([]int64, end-start+1)
				for _, f := range v.perf {
					if f.day >= start && f.day <= end && f.has&(1<<mViews) != 0 {
						weights[f.day-start] += max(0, f.vals[mViews])
					}
				}
			}
			w = weights[start-wlo : end-wlo+1]
		}
		s.start[m], s.vals[m] = start, apportion(v.eng.first[m], w, int(end-start+1))
	}
	return s
}

// apportion splits total (>= 0) into n parts in proportion to weights w
// (evenly when w is nil or sums to 0): part i is floor(total*w_i/W), and
// the units this leaves go one each to the parts with the largest
// remainders (total*w_i mod W), the earlier part first on a tie. The
// parts add up to total exactly.
func apportion(total int64, w []int64, n int) []int64 {
	out := make([]int64, n)
	var sum int64
	for _, x := range w {
		sum += x
	}
	if sum <= 0 {
		q, r := total/int64(n), total%int64(n)
		for i := range out {
			out[i] = q
			if int64(i) < r {
				out[i]++
			}
		}
		return out
	}
	rems := make([]uint64, n)
	left := total
	for i, x := range w {
		hi, lo := bits.Mul64(uint64(total), uint64(x))
		q, r := bits.Div64(hi, lo, uint64(sum)) // q <= total: no overflow
		out[i], rems[i] = int64(q), r
		left -= int64(q)
	}
	if left == 0 {
		return out
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	for _, i := range idx[:left] {
		out[i]++
	}
	return out
}

// videoDay is one video's attention figures on one day, before they are
// credited to its keys.
type videoDay struct {
	n         [nMetrics]int64 // watch time in milliseconds
	has       uint8           // bit m: metric m has a figure
	measured  bool            // a figure is measured ...
	estimated bool            // ... or spread from a lifetime total
}

// dayOf returns video v's figures on day d: shop analytics' of the day for
// the metrics it reports for the video, the Business API's (a share of a
// first value, the growth of the day) for the others.
func (j *Join) dayOf(v *video, d Day) videoDay {
	var vd videoDay
	for _, f := range v.perfOn(d) {
		if f.has == 0 {
			continue
		}
		vd.measured = true
		vd.has |= f.has
		for m := range nMetrics {
			if f.has&(1<<m) != 0 {
				vd.n[m] += f.vals[m]
			}
		}
	}
	e := v.eng
	if e == nil {
		return vd
	}
	ed := e.on(d, false)
	var sp *videoSpread
	for m := range nEng {
		if v.shopHas&(1<<m) != 0 {
			continue
		}
		if start, end, ok := v.window(m); ok && d >= start && d <= end {
			if sp == nil {
				sp = j.spreadOf(v)
			}
			vd.n[m] += sp.vals[m][d-sp.start[m]]
			vd.has |= 1 << m
			vd.estimated = true
		}
		if ed != nil && ed.reported(m) {
			vd.n[m] += ed.delta[m]
			vd.has |= 1 << m
			vd.measured = true
		}
	}
	return vd
}

// Provenance of a row's TikTok attention.
const (
	provenanceMeasured  = "measured"
	provenanceEstimated = "estimated"
	provenanceMixed     = "mixed"
)

func provenance(measured, estimated bool) string {
	switch {
	case measured && estimated:
		return provenanceMixed
	case measured:
		return provenanceMeasured
	case estimated:
		return provenanceEstimated
	}
	return ""
}
