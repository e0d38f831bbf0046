package join

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/transform/identity"
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

// A video (entity v|<video id>) is kept as a head and one key per day, so
// that a record reads and writes what its day needs, whatever the length
// of the video's history:
//
//	e/v|<id>          videoHead: the Business API state (first values,
//	                  their days, high-water marks, post day, business),
//	                  counts over the current shop analytics records (which
//	                  metrics they report, shops, post days, products), and
//	                  every day that has a day key with its measured views
//	                  (the weights of a spread)
//	e/v|<id>\x00<day> videoDay: the shop analytics records of the day, the
//	                  growth the snapshots of the day add, and the partials
//	                  the video sent for the day
//
// The figures of a day are computed from its day and the head: the
// spread of a first value needs only the views per day, which the head
// holds.

// videoHead is the head of a video.
type videoHead struct {
	engAcc []businessAccepted // per source key (business:item)
	eng    engHead
	// epoch counts the deletes of the video's engagement: growth in a day
	// key written under an older epoch is void (a delete retracts every
	// snapshot before it without visiting every day).
	epoch    uint32
	perfN    [nMetrics]int32 // current shop analytics records reporting metric m
	shops    []stringCount   // shops of current shop analytics records
	posts    []dayCount      // days of their video_post_time
	products []productCount  // products they list
	days     []headDay       // every day with a day key, sorted
}

type businessAccepted struct {
	business string
	acc      accepted
}

type stringCount struct {
	s string
	n int32
}

type dayCount struct {
	d Day
	n int32
}

type productCount struct {
	product productRef
	n       int32
}

// headDay is a day with a day key, and the views shop analytics measured
// on it (sum over its records reporting views, a negative figure
// counting 0): its weight in a spread.
type headDay struct {
	day   Day
	views int64
}

// engHead is what a video's Business API snapshots leave, apart from the
// growth per day (in the day keys). Watch time is held in whole
// milliseconds, so that every figure of a video is an integer and adds up
// exactly in any order.
type engHead struct {
	present  bool
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
}

func (e *engHead) reported(m int) bool { return e.present && e.has&(1<<m) != 0 }

// videoDay is one day of a video.
type videoDay struct {
	perf []vperf // shop analytics records of the day, deleted ones included
	// Growth of the day's snapshots above the high-water marks (valid
	// when epoch is the head's).
	epoch uint32
	ghas  uint8
	delta [nEng]int64
	sent  sent

	dirty   bool // to be written
	compute bool // partials to be recomputed
}

// vperf is one tiktok.video_performance record: one video on one shop day.
type vperf struct {
	src      string // shop_id:date, the record's key within the video
	acc      accepted
	live     bool // false: deleted, kept for its version
	shop     string
	has      uint8           // bit m: vals[m] reported
	vals     [nMetrics]int64 // the shop metrics; watch time and saves unused
	post     Day             // day of video_post_time, when hasPost
	hasPost  bool
	currency string
	products []vperfProduct
}

type vperfProduct struct {
	product string // of the record's shop
	gmv     amount
}

type productRef struct{ shop, id string }

// fallbackKey is the key of a TikTok product whose SKUs identity has not
// linked yet: the video facts stay visible under it until they are.
func (p productRef) fallbackKey() string { return "tiktok:" + p.shop + ":product:" + p.id }

// videoEntity is a video in a batch.
type videoEntity struct {
	id      string
	head    videoHead
	days    map[Day]*videoDay // loaded
	wide    bool              // every day to be recomputed
	deps    []identity.Ref    // in the index
	dirty   bool              // head to be written
	trigger Meta
}

func (f *Facts) video(id string) (*videoEntity, error) {
	if p, ok := f.pending[id]; ok {
		return p.(*videoEntity), nil
	}
	v := &videoEntity{id: id, days: map[Day]*videoDay{}}
	if b, ok, err := f.st.Get([]byte("e/" + id)); err != nil {
		return nil, err
	} else if ok {
		if v.head, err = decodeVideoHead(b); err != nil {
			return nil, fmt.Errorf("join: entity %s: %w", id, err)
		}
	}
	v.deps = v.productDeps()
	f.pending[id] = v
	return v, nil
}

func (v *videoEntity) dayKey(d Day) []byte {
	return binary.BigEndian.AppendUint32(append([]byte("e/"+v.id), 0), uint32(d))
}

// dayIndex returns the position of d in the head's days.
func (h *videoHead) dayIndex(d Day) (int, bool) {
	return slices.BinarySearchFunc(h.days, d, func(x headDay, d Day) int { return cmp.Compare(x.day, d) })
}

// day returns day d of the video, loading it (a day the head does not list
// has no key: it is empty).
func (v *videoEntity) day(f *Facts, d Day) (*videoDay, error) {
	if vd, ok := v.days[d]; ok {
		return vd, nil
	}
	vd := &videoDay{epoch: v.head.epoch, sent: sent{}}
	if _, ok := v.head.dayIndex(d); ok {
		b, found, err := f.st.Get(v.dayKey(d))
		if err != nil {
			return nil, err
		}
		if found {
			if vd, err = decodeVideoDay(b); err != nil {
				return nil, fmt.Errorf("join: entity %s: %w", v.id, err)
			}
		}
	}
	v.days[d] = vd
	return vd, nil
}

// viewWeight returns the measured views of day d.
func (v *videoEntity) viewWeight(d Day) int64 {
	if i, ok := v.head.dayIndex(d); ok {
		return v.head.days[i].views
	}
	return 0
}

// shopHas returns the metrics the video's current shop analytics report:
// those then come from shop analytics only.
func (h *videoHead) shopHas() uint8 {
	var has uint8
	for m := range nMetrics {
		if h.perfN[m] > 0 {
			has |= 1 << m
		}
	}
	return has & shopMetrics
}

// postDay returns the day the video was posted: from the create_time of
// its latest snapshot that has one, else the earliest video_post_time of
// its shop analytics.
func (h *videoHead) postDay() (Day, bool) {
	if h.eng.present && h.eng.hasPost {
		return h.eng.post, true
	}
	if len(h.posts) == 0 {
		return 0, false
	}
	p := h.posts[0].d
	for _, c := range h.posts[1:] {
		p = min(p, c.d)
	}
	return p, true
}

// window returns the days [start, end] over which the first reported
// lifetime value of metric m is spread: from the post day (clamped to at
// most maxSpreadDays) to the day of the snapshot; that day alone when the
// post day is unknown. ok is false when no snapshot reported m.
func (h *videoHead) window(m int) (start, end Day, ok bool) {
	if !h.eng.reported(m) {
		return 0, 0, false
	}
	end = h.eng.firstDay[m]
	start = end
	if p, has := h.postDay(); has {
		start = max(min(p, end), end-maxSpreadDays+1)
	}
	return start, end, true
}

// windows returns the union range of the video's spread windows.
func (h *videoHead) windows() (lo, hi Day, ok bool) {
	for m := range nEng {
		if s, e, has := h.window(m); has {
			if !ok {
				lo, hi, ok = s, e, true
			}
			lo, hi = min(lo, s), max(hi, e)
		}
	}
	return lo, hi, ok
}

// unlinkedKey returns the key of a video that shows no product:
// tiktok:<shop>:unlinked, the shop of its shop analytics (the least id if
// several), else tiktok:<business>:unlinked, the account of its latest
// snapshot; "" for a video nothing is known of.
func (h *videoHead) unlinkedKey() string {
	acct := ""
	for _, c := range h.shops {
		if acct == "" || c.s < acct {
			acct = c.s
		}
	}
	if acct == "" && h.eng.present {
		acct = h.eng.business
	}
	if acct == "" {
		return ""
	}
	return "tiktok:" + acct + ":unlinked"
}

// keys returns the sorted distinct keys of the products the video shows,
// or its unlinked key when it shows none.
func (v *videoEntity) keys(f *Facts) []string {
	if len(v.head.products) == 0 {
		if k := v.head.unlinkedKey(); k != "" {
			return []string{k}
		}
		return nil
	}
	var keys []string
	for _, p := range v.head.products {
		for _, k := range f.productKeys(p.product) {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// productDeps returns the TikTok products whose keys the video's depend on.
func (v *videoEntity) productDeps() []identity.Ref {
	out := make([]identity.Ref, 0, len(v.head.products))
	for _, p := range v.head.products {
		out = append(out, ProductRef(p.product.shop, p.product.id))
	}
	return out
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

func (v *videoEntity) state(f *Facts) videoState {
	s := videoState{keys: v.keys(f), shopHas: v.head.shopHas()}
	if v.head.eng.present {
		s.firstHas = v.head.eng.has
	}
	s.post, s.hasPost = v.head.postDay()
	s.lo, s.hi, s.winOK = v.head.windows()
	return s
}

// same reports whether two states credit a video's figures to the same
// keys, from the same sources, over the same spread windows.
func (s videoState) same(o videoState) bool {
	return slices.Equal(s.keys, o.keys) && s.shopHas == o.shopHas && s.firstHas == o.firstHas &&
		s.post == o.post && s.hasPost == o.hasPost && s.lo == o.lo && s.hi == o.hi && s.winOK == o.winOK
}

// mark notes what a change moved: the rows of day d when narrow (the
// change altered neither the video's keys, nor where its metrics come
// from, nor the weights or windows of a spread), else any day.
func (v *videoEntity) mark(f *Facts, d Day, narrow bool, trigger Meta) error {
	v.trigger = trigger
	if !narrow {
		v.wide = true
		return nil
	}
	vd, err := v.day(f, d)
	if err != nil {
		return err
	}
	vd.compute = true
	return nil
}

func (v *videoEntity) relink(_ *Facts, trigger Meta) error {
	v.wide, v.trigger = true, trigger
	return nil
}

// applyPerf applies a tiktok.video_performance record: it links the video
// to the products it shows, credits each product's GMV through the video
// on the record's day (converted from the shop's zone), and lands its
// measured views, likes, comments, shares, product impressions and clicks
// on that day. A restated day replaces the earlier record; a delete
// retracts it and, if no other day lists them, the video's products.
func (v *videoEntity) applyPerf(f *Facts, vp VideoPerformance) error {
	d, err := reportDay(vp.Date, f.zone)
	if err != nil {
		return err
	}
	src := vp.ShopID + ":" + vp.Date.Day.String()
	od, i, err := v.findPerf(f, src, d)
	if err != nil {
		return err
	}
	var acc accepted
	if i >= 0 {
		acc = v.days[od].perf[i].acc
	}
	if !acc.accept(vp.Meta) {
		return nil
	}
	before := v.state(f)
	days := []Day{d}
	if i >= 0 && od != d {
		days = append(days, od)
	}
	var weights [2]int64
	for n, dd := range days {
		weights[n] = v.viewWeight(dd)
	}
	if i >= 0 {
		ovd := v.days[od]
		if ovd.perf[i].live {
			v.count(&ovd.perf[i], -1)
		}
		ovd.perf = slices.Delete(ovd.perf, i, i+1)
		ovd.dirty = true
		v.setViews(od, ovd)
	}
	nf := vperf{src: src, acc: acc}
	if !vp.deleted() {
		nf.live, nf.shop, nf.currency = true, vp.ShopID, vp.Currency
		for m, p := range [nMetrics]*int64{mViews: vp.Views, mLikes: vp.Likes, mComments: vp.Comments, mShares: vp.Shares,
			mImpressions: vp.ProductImpressions, mClicks: vp.ProductClicks} {
			if p != nil {
				nf.vals[m], nf.has = *p, nf.has|1<<m
			}
		}
		if !vp.PostTime.IsZero() {
			nf.post, nf.hasPost = DayOf(vp.PostTime, f.zone), true
		}
		for _, p := range vp.Products {
			nf.products = append(nf.products, vperfProduct{product: p.ProductID, gmv: amountOf(p.GMV)})
		}
		v.count(&nf, 1)
	}
	vd, err := v.day(f, d)
	if err != nil {
		return err
	}
	// A deleted record stays, for its version.
	vd.perf = append(vd.perf, nf)
	slices.SortFunc(vd.perf, func(a, b vperf) int { return strings.Compare(a.src, b.src) })
	vd.dirty = true
	v.setViews(d, vd)
	// The usual case, a new or restated day that changes neither the
	// video's keys, nor where its metrics come from, nor the weights of a
	// spread: only that day's rows move. Otherwise any day may.
	narrow := before.same(v.state(f))
	for n, dd := range days {
		if before.winOK && dd >= before.lo && dd <= before.hi && weights[n] != v.viewWeight(dd) {
			narrow = false
		}
	}
	for _, dd := range days {
		if err := v.mark(f, dd, narrow, vp.Meta); err != nil {
			return err
		}
	}
	return nil
}

// findPerf returns the day holding shop analytics record src and its
// index there, -1 when the video has none. It is on day d, the day of the
// record's zone, unless an earlier version had another zone: then on a
// neighbouring day.
func (v *videoEntity) findPerf(f *Facts, src string, d Day) (Day, int, error) {
	for _, dd := range []Day{d, d - 1, d + 1} {
		if _, listed := v.head.dayIndex(dd); !listed && v.days[dd] == nil {
			continue
		}
		vd, err := v.day(f, dd)
		if err != nil {
			return 0, -1, err
		}
		if i := slices.IndexFunc(vd.perf, func(p vperf) bool { return p.src == src }); i >= 0 {
			return dd, i, nil
		}
	}
	return d, -1, nil
}

// count adds (sign 1) or takes out (-1) a current shop analytics record
// from the head's counts.
func (v *videoEntity) count(p *vperf, sign int32) {
	h := &v.head
	for m := range nMetrics {
		if p.has&(1<<m) != 0 {
			h.perfN[m] += sign
		}
	}
	h.shops = countIn(h.shops, p.shop, sign, func(c stringCount) string { return c.s },
		func(s string) stringCount { return stringCount{s: s} }, func(c *stringCount) *int32 { return &c.n })
	if p.hasPost {
		h.posts = countIn(h.posts, p.post, sign, func(c dayCount) Day { return c.d },
			func(d Day) dayCount { return dayCount{d: d} }, func(c *dayCount) *int32 { return &c.n })
	}
	for _, pr := range p.products {
		h.products = countIn(h.products, productRef{p.shop, pr.product}, sign, func(c productCount) productRef { return c.product },
			func(r productRef) productCount { return productCount{product: r} }, func(c *productCount) *int32 { return &c.n })
	}
}

// countIn adds sign to the count of k in s (kept in first-seen order),
// dropping it at 0.
func countIn[T any, K comparable](s []T, k K, sign int32, key func(T) K, mk func(K) T, n func(*T) *int32) []T {
	i := slices.IndexFunc(s, func(x T) bool { return key(x) == k })
	if i < 0 {
		i = len(s)
		s = append(s, mk(k))
	}
	c := n(&s[i])
	if *c += sign; *c <= 0 {
		s = slices.Delete(s, i, i+1)
	}
	return s
}

// setViews records day d in the head with its measured views.
func (v *videoEntity) setViews(d Day, vd *videoDay) {
	var w int64
	for _, p := range vd.perf {
		if p.live && p.has&(1<<mViews) != 0 {
			w += max(0, p.vals[mViews])
		}
	}
	v.listDay(d).views = w
	v.dirty = true
}

// listDay lists day d in the head, returning its entry.
func (v *videoEntity) listDay(d Day) *headDay {
	i, ok := v.head.dayIndex(d)
	if !ok {
		v.head.days = slices.Insert(v.head.days, i, headDay{day: d})
		v.dirty = true
	}
	return &v.head.days[i]
}

// applyEng applies a tiktok.video_engagement snapshot. The first value a
// video's snapshots report of a metric is its lifetime total so far: it is
// kept whole and spread over the video's life when rows are computed (see
// the package doc). Later snapshots add their growth above the highest
// value seen to the day of their source_ts (reporting zone). A delete
// retracts all of the video's engagement. Snapshots must arrive in version
// order per video (one key, one partition): an older one is ignored.
func (v *videoEntity) applyEng(f *Facts, e VideoEngagement) error {
	h := &v.head
	i := slices.IndexFunc(h.engAcc, func(b businessAccepted) bool { return b.business == e.BusinessID })
	if i < 0 {
		i = len(h.engAcc)
		h.engAcc = append(h.engAcc, businessAccepted{business: e.BusinessID})
	}
	if !h.engAcc[i].acc.accept(e.Meta) {
		if !h.engAcc[i].acc.seen {
			h.engAcc = h.engAcc[:i]
		}
		return nil
	}
	v.dirty = true
	before := v.state(f)
	if e.deleted() {
		if h.eng.present {
			h.eng = engHead{}
			h.epoch++
			v.wide, v.trigger = true, e.Meta
		}
		return nil
	}
	st := &h.eng
	st.present, st.business = true, e.BusinessID
	if !e.CreateTime.IsZero() {
		st.post, st.hasPost = DayOf(e.CreateTime, f.zone), true
	}
	day := DayOf(e.SourceTS, f.zone)
	vals := [nEng]*int64{
		mViews: e.Views, mWatch: millis(e.WatchTimeSeconds), mSaves: e.Saves,
		mShares: e.Shares, mLikes: e.Likes, mComments: e.Comments,
	}
	var vd *videoDay
	for m, p := range vals {
		if p == nil {
			continue
		}
		if st.has&(1<<m) == 0 {
			// A lifetime total, not the day's: never one day's figure.
			st.first[m], st.firstDay[m], st.hwm[m] = max(0, *p), day, max(0, *p)
			st.has |= 1 << m
			continue
		}
		if vd == nil {
			var err error
			if vd, err = v.day(f, day); err != nil {
				return err
			}
			if vd.epoch != h.epoch {
				vd.epoch, vd.ghas, vd.delta = h.epoch, 0, [nEng]int64{}
			}
			vd.dirty = true
			v.listDay(day)
		}
		vd.delta[m] += max(0, *p-st.hwm[m])
		st.hwm[m] = max(st.hwm[m], *p)
		vd.ghas |= 1 << m
	}
	return v.mark(f, day, before.same(v.state(f)), e.Meta)
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
// time in milliseconds). weighted[m] says the shares follow measured
// views: a day whose views shop analytics did not measure then has no
// share at all (its weight, and so its share, is 0 anyway), so a day shop
// analytics never read (before a backfill's first day, or after its
// latest) makes no row of estimated zeros.
type videoSpread struct {
	start    [nEng]Day
	vals     [nEng][]int64
	weighted [nEng]bool
}

// spread apportions the video's first snapshot values over their windows.
func (v *videoEntity) spread() *videoSpread {
	h := &v.head
	s := &videoSpread{}
	shop := h.shopHas()
	for m := range nEng {
		if shop&(1<<m) != 0 {
			continue // from shop analytics: the snapshots' values are not used
		}
		start, end, ok := h.window(m)
		if !ok {
			continue
		}
		var w []int64
		if shop&(1<<mViews) != 0 {
			w = make([]int64, end-start+1)
			i, _ := h.dayIndex(start)
			for ; i < len(h.days) && h.days[i].day <= end; i++ {
				w[h.days[i].day-start] = h.days[i].views
				s.weighted[m] = s.weighted[m] || h.days[i].views > 0
			}
		}
		s.start[m], s.vals[m] = start, apportion(h.eng.first[m], w, int(end-start+1))
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

// figures is one video's attention on one day, before it is credited to
// its keys.
type figures struct {
	n         [nMetrics]int64 // watch time in milliseconds
	has       uint8           // bit m: metric m has a figure
	measured  bool            // a figure is measured ...
	estimated bool            // ... or spread from a lifetime total
}

// figuresOf returns the video's figures on day d: shop analytics' of the
// day for the metrics it reports for the video, the Business API's (a
// share of a first value, the growth of the day) for the others.
func (v *videoEntity) figuresOf(d Day, vd *videoDay, sp *videoSpread) figures {
	var fg figures
	viewsMeasured := false // shop analytics measured the day's views (0 too)
	for _, p := range vd.perf {
		if !p.live || p.has == 0 {
			continue
		}
		viewsMeasured = viewsMeasured || p.has&(1<<mViews) != 0
		fg.measured = true
		fg.has |= p.has
		for m := range nMetrics {
			if p.has&(1<<m) != 0 {
				fg.n[m] += p.vals[m]
			}
		}
	}
	h := &v.head
	if !h.eng.present {
		return fg
	}
	shop := h.shopHas()
	growth := vd.epoch == h.epoch
	for m := range nEng {
		if shop&(1<<m) != 0 {
			continue
		}
		if vals := sp.vals[m]; vals != nil && d >= sp.start[m] && int(d-sp.start[m]) < len(vals) &&
			(!sp.weighted[m] || viewsMeasured) {
			fg.n[m] += vals[d-sp.start[m]]
			fg.has |= 1 << m
			fg.estimated = true
		}
		if growth && vd.ghas&(1<<m) != 0 {
			fg.n[m] += vd.delta[m]
			fg.has |= 1 << m
			fg.measured = true
		}
	}
	return fg
}

// partials returns the video's partials of day d under its keys.
func (v *videoEntity) partials(f *Facts, d Day, vd *videoDay, keys []string, sp *videoSpread, now *partialSet) {
	fg := v.figuresOf(d, vd, sp)
	for _, k := range keys {
		p := Partial{}
		if fg.has != 0 {
			p.has, p.engHas, p.measured, p.estimated = true, fg.has, fg.measured, fg.estimated
			for m := range nMetrics {
				switch {
				case fg.has&(1<<m) == 0:
				case m == mWatch:
					p.eng[m], p.watchDen = fg.n[m], 1
					if f.cfg.Attribution == EvenSplit && len(keys) > 1 {
						p.watchDen = int64(len(keys))
					}
				default:
					p.eng[m] = f.shareInt(fg.n[m], keys, k)
				}
			}
		}
		for _, r := range vd.perf {
			if !r.live {
				continue
			}
			for _, pr := range r.products {
				pk := f.productKeys(productRef{r.shop, pr.product})
				if !slices.Contains(pk, k) {
					continue
				}
				p.has = true
				if pr.gmv.set {
					p.videoMoney.add(r.currency, f.shareMoney(pr.gmv, pk, k))
				}
			}
		}
		if p.has {
			*now.of(d, k) = p
		}
	}
}

// flush sends the partials of the days the batch moved (every day of the
// video after a wide change) under the video's current keys, and writes
// the days and the head.
func (v *videoEntity) flush(f *Facts, out []PartialChange) ([]PartialChange, error) {
	h := &v.head
	if v.wide {
		var days []Day
		for _, hd := range h.days {
			days = append(days, hd.day)
		}
		if lo, hi, ok := h.windows(); ok {
			for d := lo; d <= hi; d++ {
				days = append(days, d)
			}
		}
		for _, d := range days {
			vd, err := v.day(f, d)
			if err != nil {
				return nil, err
			}
			vd.compute = true
		}
	}
	var keys []string
	var sp *videoSpread
	for _, d := range slices.Sorted(maps.Keys(v.days)) {
		vd := v.days[d]
		if !vd.compute {
			continue
		}
		if sp == nil {
			keys, sp = v.keys(f), v.spread()
		}
		v.partials(f, d, vd, keys, sp, &f.ps)
		out, vd.sent = f.diff(out, vd.sent, &f.ps, v.trigger)
		vd.compute, vd.dirty = false, true
	}
	for _, d := range slices.Sorted(maps.Keys(v.days)) {
		vd := v.days[d]
		if !vd.dirty {
			continue
		}
		vd.dirty = false
		if vd.epoch != h.epoch {
			vd.epoch, vd.ghas, vd.delta = h.epoch, 0, [nEng]int64{}
		}
		if len(vd.perf) == 0 && vd.ghas == 0 && len(vd.sent) == 0 {
			if i, ok := h.dayIndex(d); ok {
				h.days = slices.Delete(h.days, i, i+1)
				v.dirty = true
				if err := f.st.Delete(v.dayKey(d)); err != nil {
					return nil, err
				}
			}
			continue
		}
		v.listDay(d)
		if err := f.st.Set(v.dayKey(d), f.appendVideoDay(vd)); err != nil {
			return nil, err
		}
	}
	v.wide = false
	if v.dirty {
		if err := f.st.Set([]byte("e/"+v.id), f.appendVideoHead(h)); err != nil {
			return nil, err
		}
		v.dirty = false
	}
	deps := v.productDeps()
	if err := f.index(v.id, v.deps, deps); err != nil {
		return nil, err
	}
	v.deps = deps
	return out, nil
}

// shareInt returns key k's share of n among keys: all of it under
// FullCredit; under EvenSplit n/len(keys), the remainder going one each to
// the first keys in order, so the shares add up to n.
func (f *Facts) shareInt(n int64, keys []string, k string) int64 {
	if f.cfg.Attribution != EvenSplit || len(keys) <= 1 {
		return n
	}
	q, rem := n/int64(len(keys)), n%int64(len(keys))
	if int64(slices.Index(keys, k)) < rem {
		q++
	}
	return q
}

var tenThousand = big.NewInt(10000)

// shareMoney splits an amount like shareInt, in units of 0.0001.
func (f *Facts) shareMoney(x amount, keys []string, k string) amount {
	if f.cfg.Attribution != EvenSplit || len(keys) <= 1 {
		return x
	}
	if x.exact == nil {
		return amount{units: f.shareInt(x.units, keys, k), set: true}
	}
	units := new(big.Int).Mul(x.exact.Num(), tenThousand)
	units.Quo(units, x.exact.Denom()) // amounts have scale 4, so this is exact
	share := f.shareInt(units.Int64(), keys, k)
	return amountOf(new(big.Rat).SetFrac(big.NewInt(share), tenThousand))
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

func (f *Facts) appendVideoHead(h *videoHead) []byte {
	w := writer{b: append(f.buf[:0], wireVersion)}
	w.u(uint64(len(h.engAcc)))
	for _, a := range h.engAcc {
		w.s(a.business)
		w.accepted(a.acc)
	}
	e := &h.eng
	w.bool(e.present)
	if e.present {
		w.s(e.business)
		w.byte1(e.has)
		for m := range nEng {
			if e.has&(1<<m) != 0 {
				w.i(e.hwm[m])
				w.i(e.first[m])
				w.i(int64(e.firstDay[m]))
			}
		}
		w.bool(e.hasPost)
		w.i(int64(e.post))
	}
	w.u(uint64(h.epoch))
	for m := range nMetrics {
		w.i(int64(h.perfN[m]))
	}
	w.u(uint64(len(h.shops)))
	for _, c := range h.shops {
		w.s(c.s)
		w.i(int64(c.n))
	}
	w.u(uint64(len(h.posts)))
	for _, c := range h.posts {
		w.i(int64(c.d))
		w.i(int64(c.n))
	}
	w.u(uint64(len(h.products)))
	for _, c := range h.products {
		w.s(c.product.shop)
		w.s(c.product.id)
		w.i(int64(c.n))
	}
	// Days as deltas from the previous one: a byte each, mostly.
	w.u(uint64(len(h.days)))
	var prev Day
	for _, d := range h.days {
		w.i(int64(d.day - prev))
		w.i(d.views)
		prev = d.day
	}
	f.buf = w.b
	return w.b
}

func decodeVideoHead(b []byte) (videoHead, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return videoHead{}, fmt.Errorf("video of layout %d, want %d", v, wireVersion)
	}
	var h videoHead
	for range r.Count() {
		h.engAcc = append(h.engAcc, businessAccepted{business: r.String(), acc: r.accepted()})
	}
	if h.eng.present = r.Bool(); h.eng.present {
		e := &h.eng
		e.business = r.String()
		e.has = r.Byte()
		for m := range nEng {
			if e.has&(1<<m) != 0 {
				e.hwm[m], e.first[m], e.firstDay[m] = r.Varint(), r.Varint(), Day(r.Varint())
			}
		}
		e.hasPost, e.post = r.Bool(), Day(r.Varint())
	}
	h.epoch = uint32(r.Uvarint())
	for m := range nMetrics {
		h.perfN[m] = int32(r.Varint())
	}
	for range r.Count() {
		h.shops = append(h.shops, stringCount{r.String(), int32(r.Varint())})
	}
	for range r.Count() {
		h.posts = append(h.posts, dayCount{Day(r.Varint()), int32(r.Varint())})
	}
	for range r.Count() {
		h.products = append(h.products, productCount{productRef{r.String(), r.String()}, int32(r.Varint())})
	}
	n := r.Count()
	h.days = make([]headDay, 0, n)
	var prev Day
	for range n {
		d := prev + Day(r.Varint())
		h.days = append(h.days, headDay{day: d, views: r.Varint()})
		prev = d
	}
	if r.Err == nil && len(r.B) > 0 {
		return videoHead{}, fmt.Errorf("%d bytes after a video", len(r.B))
	}
	return h, r.Err
}

func (f *Facts) appendVideoDay(vd *videoDay) []byte {
	w := writer{b: append(f.buf[:0], wireVersion)}
	w.u(uint64(len(vd.perf)))
	for i := range vd.perf {
		p := &vd.perf[i]
		w.s(p.src)
		w.accepted(p.acc)
		w.bool(p.live)
		if !p.live {
			continue
		}
		w.s(p.shop)
		w.byte1(p.has)
		for m := range nMetrics {
			if p.has&(1<<m) != 0 {
				w.i(p.vals[m])
			}
		}
		w.bool(p.hasPost)
		if p.hasPost {
			w.i(int64(p.post))
		}
		w.s(p.currency)
		w.u(uint64(len(p.products)))
		for _, pr := range p.products {
			w.s(pr.product)
			w.amount(pr.gmv)
		}
	}
	w.u(uint64(vd.epoch))
	w.byte1(vd.ghas)
	for m := range nEng {
		if vd.ghas&(1<<m) != 0 {
			w.i(vd.delta[m])
		}
	}
	w.sent(vd.sent)
	f.buf = w.b
	return w.b
}

func decodeVideoDay(b []byte) (*videoDay, error) {
	r := newUnwire(b)
	if v := r.Byte(); v != wireVersion && r.Err == nil {
		return nil, fmt.Errorf("video day of layout %d, want %d", v, wireVersion)
	}
	vd := &videoDay{}
	for range r.Count() {
		p := vperf{src: r.String(), acc: r.accepted()}
		if p.live = r.Bool(); p.live {
			p.shop = r.String()
			p.has = r.Byte()
			for m := range nMetrics {
				if p.has&(1<<m) != 0 {
					p.vals[m] = r.Varint()
				}
			}
			if p.hasPost = r.Bool(); p.hasPost {
				p.post = Day(r.Varint())
			}
			p.currency = r.String()
			for range r.Count() {
				p.products = append(p.products, vperfProduct{product: r.String(), gmv: r.amount()})
			}
		}
		vd.perf = append(vd.perf, p)
	}
	vd.epoch = uint32(r.Uvarint())
	vd.ghas = r.Byte()
	for m := range nEng {
		if vd.ghas&(1<<m) != 0 {
			vd.delta[m] = r.Varint()
		}
	}
	vd.sent = r.sent()
	if r.Err == nil && len(r.B) > 0 {
		return nil, fmt.Errorf("%d bytes after a video day", len(r.B))
	}
	return vd, r.Err
}
