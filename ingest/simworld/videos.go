package simworld

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Video account types, as TikTok Shop analytics names them.
const (
	AccountOfficial  = "OFFICIAL_ACCOUNTS"
	AccountAffiliate = "AFFILIATE_ACCOUNTS"
)

// InactiveInsightsAfter is how long a video must have been inactive before the
// Business API stops returning its reach and watch-time fields.
const InactiveInsightsAfter = 7 * 24 * time.Hour

// FrozenAfter is when a post stops updating ("Post data will stop updating 365
// days after the post is published").
const FrozenAfter = 365 * 24 * time.Hour

// videoBacklogDays is how long before the world's Start videos already exist.
const videoBacklogDays = 30

// Video is a short video posted by the brand's account or an affiliate creator.
type Video struct {
	ID          string    `json:"id"`
	PostTime    time.Time `json:"post_time"`
	Account     string    `json:"account"` // AccountOfficial or AccountAffiliate
	Username    string    `json:"username"`
	Caption     string    `json:"caption"`
	HashTags    []string  `json:"hash_tags"`
	DurationSec int       `json:"duration_sec"`
	// ProductKeys are the ground-truth keys of the products the video shows.
	ProductKeys []string `json:"product_keys"`
	// ProductIDs are the same products' TikTok product ids.
	ProductIDs []string `json:"product_ids"`

	peakViews     float64
	tau           time.Duration
	activeFor     time.Duration
	likeRate      float64
	commentRate   float64
	shareRate     float64
	saveRate      float64
	reachRatio    float64
	avgWatchSec   float64
	fullWatchRate float64
	ctr           float64
	// halo is the planted effect whose spike this video is, if any.
	halo *HaloEffect
}

// Engagement is a video's lifetime totals at one instant, as the Business API
// reports them. Counters never decrease.
type Engagement struct {
	VideoViews           int64   `json:"video_views"`
	Likes                int64   `json:"likes"`
	Comments             int64   `json:"comments"`
	Shares               int64   `json:"shares"`
	Favorites            int64   `json:"favorites"`
	Reach                int64   `json:"reach"`
	TotalTimeWatched     float64 `json:"total_time_watched"`      // seconds
	AverageTimeWatched   float64 `json:"average_time_watched"`    // seconds
	FullVideoWatchedRate float64 `json:"full_video_watched_rate"` // fraction 0..1
	// InsightsAvailable is false once the video has been inactive for more
	// than seven days: reach and the watch-time fields are then not returned.
	InsightsAvailable bool `json:"insights_available"`
}

// ActiveUntil returns when the video stops gaining engagement.
func (v *Video) ActiveUntil() time.Time {
	return v.PostTime.Add(min(v.activeFor, FrozenAfter))
}

// EngagementAt returns the video's lifetime totals at t.
func (v *Video) EngagementAt(t time.Time) Engagement {
	age := t.Sub(v.PostTime)
	if age < 0 {
		return Engagement{}
	}
	grow := min(age, v.activeFor, FrozenAfter)
	views := int64(math.Floor(v.peakViews * (1 - math.Exp(-grow.Hours()/v.tau.Hours()))))
	e := Engagement{
		VideoViews:         views,
		Likes:              int64(float64(views) * v.likeRate),
		Comments:           int64(float64(views) * v.commentRate),
		Shares:             int64(float64(views) * v.shareRate),
		Favorites:          int64(float64(views) * v.saveRate),
		Reach:              int64(float64(views) * v.reachRatio),
		AverageTimeWatched: v.avgWatchSec,
		// Rounded to whole seconds, so the total stays monotonic.
		TotalTimeWatched:     math.Floor(float64(views) * v.avgWatchSec),
		FullVideoWatchedRate: v.fullWatchRate,
		InsightsAvailable:    !t.After(v.ActiveUntil().Add(InactiveInsightsAfter)),
	}
	return e
}

// ProductClicks returns the cumulative product-link clicks at t.
func (v *Video) ProductClicks(t time.Time) int64 {
	return int64(float64(v.EngagementAt(t).VideoViews) * v.ctr)
}

func dayIndex(t time.Time) int64 { return t.Unix() / 86400 }

func (w *World) firstVideoDay() int64 { return dayIndex(w.cfg.Start) - videoBacklogDays }

var hashTagPool = []string{"tiktokmademebuyit", "founditontiktok", "skincare", "kitchenhacks", "gymtok", "dogsoftiktok", "techtok", "fyp", "musthave", "review"}

// videoBucket returns the videos posted on UTC day d.
func (w *World) videoBucket(d int64) []*Video {
	if d < w.firstVideoDay() {
		return nil
	}
	return memo(w, &w.vidCache, d, func() []*Video { return w.newVideoBucket(d) })
}

func (w *World) newVideoBucket(d int64) []*Video {
	r := rngFor(w.seed, "videos", d)
	spikes := 0
	for _, e := range w.halo {
		if e.videoDay == d {
			spikes++
		}
	}
	n := min(poisson(r, w.cfg.Scale.VideosPerDay), 99-spikes)
	dayStart := time.Unix(d*86400, 0).UTC()
	products := w.TikTokProducts()
	out := make([]*Video, 0, n+spikes)
	for i := 0; i < n; i++ {
		v := &Video{
			// Post times are whole seconds plus the index in milliseconds, so
			// no two videos share a create time (cursor paging relies on it).
			ID:            videoID(d-w.firstVideoDay(), i, r.IntN(1_000_000_000)),
			PostTime:      dayStart.Add(time.Duration(r.IntN(86400))*time.Second + time.Duration(i)*time.Millisecond),
			Account:       AccountOfficial,
			DurationSec:   8 + r.IntN(83),
			peakViews:     math.Exp(8.5 + 1.3*r.NormFloat64()),
			tau:           dur(r, 12*time.Hour, 4*24*time.Hour),
			activeFor:     dur(r, 3*24*time.Hour, 40*24*time.Hour),
			likeRate:      between(r, 0.03, 0.12),
			commentRate:   between(r, 0.001, 0.01),
			shareRate:     between(r, 0.002, 0.02),
			saveRate:      between(r, 0.003, 0.03),
			reachRatio:    between(r, 0.6, 0.95),
			fullWatchRate: math.Round(between(r, 0.05, 0.45)*10000) / 10000,
			ctr:           between(r, 0.005, 0.06),
		}
		v.avgWatchSec = math.Round(float64(v.DurationSec)*between(r, 0.25, 0.7)*100) / 100
		if r.Float64() < 0.3 {
			v.Account = AccountAffiliate
			v.Username = "creator_" + lowerAlnum(r, 6)
		} else {
			v.Username = "official_" + strings.ToLower(w.brands[r.IntN(len(w.brands))].Name)
		}
		// Most videos show one to three products; some show none.
		if len(products) > 0 && r.Float64() < 0.9 {
			np := 1 + r.IntN(3)
			seen := map[string]bool{}
			for j := 0; j < np; j++ {
				p := products[r.IntN(len(products))]
				if seen[p.Key] {
					continue
				}
				seen[p.Key] = true
				v.ProductKeys = append(v.ProductKeys, p.Key)
				v.ProductIDs = append(v.ProductIDs, p.TikTokID)
			}
		}
		v.HashTags = []string{hashTagPool[r.IntN(len(hashTagPool))], hashTagPool[r.IntN(len(hashTagPool))]}
		if len(v.ProductKeys) > 0 {
			p := w.byKey[v.ProductKeys[0]]
			v.Caption = fmt.Sprintf("Obsessed with the %s 😍 #%s #%s", p.Title, v.HashTags[0], v.HashTags[1])
		} else {
			v.Caption = fmt.Sprintf("Behind the scenes 🎬 #%s #%s", v.HashTags[0], v.HashTags[1])
		}
		out = append(out, v)
	}
	return append(out, w.haloVideos(d, n)...)
}

// videoID is the id of video i of the bucket rel days after the first video
// day: the day and index make it unique, and Video inverts the day.
func videoID(rel int64, i, random int) string {
	return fmt.Sprintf("73%06d%02d%09d", rel%1_000_000, i, random)
}

func lowerAlnum(r *rand.Rand, n int) string { return strings.ToLower(alnum(r, n)) }

// VideosPosted returns the videos posted in [from, to), oldest first.
func (w *World) VideosPosted(from, to time.Time) []*Video {
	var out []*Video
	for d := max(dayIndex(from), w.firstVideoDay()); d <= dayIndex(to); d++ {
		for _, v := range w.videoBucket(d) {
			if !v.PostTime.Before(from) && v.PostTime.Before(to) {
				out = append(out, v)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].PostTime.Before(out[j].PostTime) })
	return out
}

// VideosUntil returns every video posted at or before t, oldest first.
func (w *World) VideosUntil(t time.Time) []*Video {
	return w.VideosPosted(time.Unix(w.firstVideoDay()*86400, 0), t.Add(time.Nanosecond))
}

// Video finds a video by id.
func (w *World) Video(id string) (*Video, bool) {
	rel, ok := idNumber(id, 19, "73", 8)
	if !ok {
		return nil, false
	}
	return findIn(w.videoBucket(w.firstVideoDay()+rel), func(v *Video) bool { return v.ID == id })
}

// pickVideoVariant picks a video posted in the 14 days before t that shows a
// product, and one of that product's variants.
func (w *World) pickVideoVariant(r *rand.Rand, t time.Time) (string, *Variant) {
	var cands []*Video
	lo := t.Add(-14 * 24 * time.Hour)
	for _, v := range w.shoppableAround(dayIndex(t)) {
		if !v.PostTime.Before(lo) && v.PostTime.Before(t) && t.Before(v.ActiveUntil()) {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return "", nil
	}
	v := cands[r.IntN(len(cands))]
	p := w.byKey[v.ProductKeys[r.IntN(len(v.ProductKeys))]]
	vr := p.Variants[r.IntN(len(p.Variants))]
	if vr.TikTok == nil {
		return "", nil
	}
	return v.ID, vr
}

// shoppableAround returns, oldest first, the videos with products posted from
// 15 days before UTC day d to the end of d: every video an order on day d can
// be attributed to. Spike videos are not among them: they sell through
// orders of their own (see tiktokBucket), so a planted halo adds orders and
// leaves the usual ones as they are. Memoised per day, since every order of
// the day asks.
func (w *World) shoppableAround(d int64) []*Video {
	return memo(w, &w.shopCache, d, func() []*Video {
		var vs []*Video
		for _, v := range w.VideosPosted(time.Unix((d-15)*86400, 0), time.Unix((d+1)*86400, 0)) {
			if len(v.ProductKeys) > 0 && v.halo == nil {
				vs = append(vs, v)
			}
		}
		return vs
	})
}
