package join

import (
	"math/big"
	"slices"
)

// vperfFact is one tiktok.video_performance record: one video on one day.
type vperfFact struct {
	video    string
	day      Day
	currency string
	products []vperfProduct
}

type vperfProduct struct {
	product productRef
	gmv     *big.Rat
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
		nf = &vperfFact{video: vp.VideoID, day: day, currency: vp.Currency}
		for _, p := range vp.Products {
			nf.products = append(nf.products, vperfProduct{product: productRef{vp.ShopID, p.ProductID}, gmv: p.GMV})
		}
	}
	if !j.accept(id, vp.Meta) {
		return nil, nil
	}
	t := touched{}
	before := j.keysOfVideo(vp.VideoID)
	old := j.vperf[id]
	if old != nil {
		j.removeVperf(id, old)
	}
	if nf != nil {
		j.addVperf(id, nf)
	}
	after := j.keysOfVideo(vp.VideoID)
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
			for d := range j.videoDaysOf(vp.VideoID) {
				t.add(k, d)
			}
			if old != nil {
				t.add(k, old.day)
			}
		}
		j.impactVideo(vp.VideoID, t)
	}
	return j.emit(t, vp.Meta), nil
}

// videoDaysOf returns the days with engagement or shop analytics of a video.
func (j *Join) videoDaysOf(v string) map[Day]struct{} {
	days := map[Day]struct{}{}
	if e := j.engagement[v]; e != nil {
		for d := range e.days {
			days[d] = struct{}{}
		}
	}
	for d := range j.vperfDays[v] {
		days[d] = struct{}{}
	}
	return days
}

func (j *Join) addVperf(id string, f *vperfFact) {
	j.vperf[id] = f
	vd := videoDay{f.video, f.day}
	if j.vperfByDay[vd] == nil {
		j.vperfByDay[vd] = map[string]struct{}{}
	}
	j.vperfByDay[vd][id] = struct{}{}
	if j.vperfDays[f.video] == nil {
		j.vperfDays[f.video] = map[Day]int{}
	}
	j.vperfDays[f.video][f.day]++
	for _, p := range f.products {
		if j.videoProducts[f.video] == nil {
			j.videoProducts[f.video] = map[productRef]int{}
		}
		j.videoProducts[f.video][p.product]++
		if j.productVideos[p.product] == nil {
			j.productVideos[p.product] = map[string]struct{}{}
		}
		if _, ok := j.productVideos[p.product][f.video]; !ok {
			j.productVideos[p.product][f.video] = struct{}{}
			j.refreshProduct(p.product)
		}
	}
}

func (j *Join) removeVperf(id string, f *vperfFact) {
	delete(j.vperf, id)
	vd := videoDay{f.video, f.day}
	delete(j.vperfByDay[vd], id)
	if len(j.vperfByDay[vd]) == 0 {
		delete(j.vperfByDay, vd)
	}
	if n := j.vperfDays[f.video][f.day] - 1; n > 0 {
		j.vperfDays[f.video][f.day] = n
	} else {
		delete(j.vperfDays[f.video], f.day)
		if len(j.vperfDays[f.video]) == 0 {
			delete(j.vperfDays, f.video)
		}
	}
	for _, p := range f.products {
		vps := j.videoProducts[f.video]
		if n := vps[p.product] - 1; n > 0 {
			vps[p.product] = n
			continue
		}
		delete(vps, p.product)
		if len(vps) == 0 {
			delete(j.videoProducts, f.video)
		}
		delete(j.productVideos[p.product], f.video)
		if len(j.productVideos[p.product]) == 0 {
			delete(j.productVideos, p.product)
		}
		j.refreshProduct(p.product)
	}
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
	days map[Day]*engDay
}

type engDay struct {
	delta [nMetrics]float64
	has   [nMetrics]bool // metric reported by a snapshot of the day
}

// ApplyVideoEngagement applies a tiktok.video_engagement snapshot. The
// growth since the previous snapshot lands on the day of the snapshot's
// source_ts (reporting zone); the first snapshot of a video counts in full
// on its day, so the days of a video add up to its lifetime totals. A
// delete retracts all of the video's engagement. Snapshots must arrive in
// version order per video (one key, one partition): an older one is
// ignored.
func (j *Join) ApplyVideoEngagement(e VideoEngagement) []Row {
	key := "ve|" + e.BusinessID + ":" + e.ItemID
	if !j.accept(key, e.Meta) {
		return nil
	}
	v := e.ItemID
	t := touched{}
	if e.deleted() {
		j.impactVideo(v, t)
		delete(j.engagement, v)
		return j.emit(t, e.Meta)
	}
	st := j.engagement[v]
	if st == nil {
		st = &engState{days: map[Day]*engDay{}}
		j.engagement[v] = st
	}
	day := DayOf(e.SourceTS, j.zone)
	ed := st.days[day]
	if ed == nil {
		ed = &engDay{}
		st.days[day] = ed
	}
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
		ed.has[m] = true
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
