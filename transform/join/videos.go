package join

import (
	"cmp"
	"slices"
)

// video is what the join holds of one TikTok video. It is kept in one
// place, so the id is stored once, and its small per-video sets are
// slices rather than maps.
type video struct {
	id       string
	eng      *engState      // nil until a snapshot
	perf     []*vperfFact   // current shop analytics, sorted by day
	products []productCount // products perf lists, with how many records list each
}

type productCount struct {
	product productRef
	n       int
}

// vperfFact is one tiktok.video_performance record: one video on one day.
type vperfFact struct {
	id       string // fact id
	day      Day
	currency string
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

// ApplyVideoPerformance applies a tiktok.video_performance record: it links
// the video to the products it shows (for engagement attribution) and
// credits each product's GMV through the video on the record's day
// (converted from the shop's zone). A restated day replaces the earlier
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
		nf = &vperfFact{day: day, currency: j.intern(vp.Currency), products: make([]vperfProduct, 0, len(vp.Products))}
		shop := j.intern(vp.ShopID)
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
	before := j.keysOfVideo(v)
	var old *vperfFact
	if i := slices.IndexFunc(v.perf, func(f *vperfFact) bool { return f.id == id }); i >= 0 {
		old = v.perf[i]
		j.removeVperf(v, i)
	}
	if nf != nil {
		j.addVperf(v, nf)
	}
	after := j.keysOfVideo(v)
	if slices.Equal(before, after) {
		// The usual case, a new or restated day of a video whose products
		// did not change: only that day's rows move.
		for _, k := range after {
			if old != nil {
				t.add(k, old.day)
			}
			if nf != nil {
				t.add(k, nf.day)
			}
		}
	} else {
		// The video's products changed: its engagement moves on every day.
		for _, k := range before {
			for d := range v.days() {
				t.add(k, d)
			}
			if old != nil {
				t.add(k, old.day)
			}
		}
		j.impactVideo(v, t)
	}
	return j.emit(t, vp.Meta), nil
}

// days returns the days with engagement or shop analytics of a video.
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
	return days
}

func (j *Join) addVperf(v *video, f *vperfFact) {
	i, _ := slices.BinarySearchFunc(v.perf, f.day, func(f *vperfFact, d Day) int { return cmp.Compare(f.day, d) })
	v.perf = slices.Insert(v.perf, i, f)
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

// Engagement metrics, in the order of engState's arrays.
const (
	mViews = iota
	mWatch
	mSaves
	mShares
	mLikes
	mComments
	nMetrics
)

// engState turns one video's lifetime snapshots into daily deltas.
type engState struct {
	// hwm is the highest lifetime value seen per metric. A delta is the
	// growth above it, never negative: a counter that drops (an unlike)
	// and grows back is not counted twice. A metric a snapshot does not
	// report (null) keeps its high-water mark.
	hwm  [nMetrics]float64
	has  [nMetrics]bool
	days []engDay // sorted by day
}

type engDay struct {
	day   Day
	has   uint8 // bit m: metric m reported by a snapshot of the day (a byte keeps engDay at 56 bytes)
	delta [nMetrics]float64
}

func (ed *engDay) reported(m int) bool { return ed.has&(1<<m) != 0 }

// on returns the engagement of day d, nil if none; add creates it.
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
// growth since the previous snapshot lands on the day of the snapshot's
// source_ts (reporting zone); the first snapshot of a video counts in full
// on its day, so the days of a video add up to its lifetime totals. A
// delete retracts all of the video's engagement. Snapshots must arrive in
// version order per video (one key, one partition): an older one is
// ignored.
func (j *Join) ApplyVideoEngagement(e VideoEngagement) []Row {
	if f, _ := j.accept("ve|"+e.BusinessID+":"+e.ItemID, e.Meta); f == nil {
		return nil
	}
	t := touched{}
	if e.deleted() {
		if v := j.videos[e.ItemID]; v != nil {
			j.impactVideo(v, t)
			v.eng = nil
			j.dropIfEmpty(v)
		}
		return j.emit(t, e.Meta)
	}
	v := j.video(e.ItemID)
	st := v.eng
	if st == nil {
		st = &engState{}
		v.eng = st
	}
	day := DayOf(e.SourceTS, j.zone)
	ed := st.on(day, true)
	vals := [nMetrics]*float64{
		mViews: i2f(e.Views), mWatch: e.WatchTimeSeconds, mSaves: i2f(e.Saves),
		mShares: i2f(e.Shares), mLikes: i2f(e.Likes), mComments: i2f(e.Comments),
	}
	for m, p := range vals {
		if p == nil {
			continue
		}
		if *p > st.hwm[m] || !st.has[m] {
			ed.delta[m] += max(0, *p-st.hwm[m])
			st.hwm[m] = max(st.hwm[m], *p)
		}
		st.has[m] = true
		ed.has |= 1 << m
	}
	for _, k := range j.keysOfVideo(v) {
		t.add(k, day)
	}
	return j.emit(t, e.Meta)
}

func i2f(p *int64) *float64 {
	if p == nil {
		return nil
	}
	f := float64(*p)
	return &f
}
