package simworld

import (
	"math"
	"slices"
	"sort"
	"time"
)

// The halo is what TikTok attention does to Amazon: a video takes off, and
// some days later more people search for the product on Amazon, visit its
// page and buy it, and its Best Sellers Rank improves, until interest fades.
// A world can plant such effects at known places (HaloConfig), so that a
// pipeline's halo analysis can be judged against them:
//
//   - a planted product gets a video that takes off on its spike day (posted
//     that morning in the shop zone, showing only that product, with
//     millions of views, most of them that day), and from the start of the
//     day Lag days later (in the Amazon zone) its Amazon demand is
//     1 + Magnitude·exp(−t/Decay) times what it would have been, t being the
//     time since that instant;
//   - a spike control gets the same kind of video, with no effect on Amazon;
//   - every other product linked on both channels is a control: its videos
//     come and go as usual and Amazon never notices.
//
// Demand drives everything Amazon reports about the product: orders (and so
// units and sales in Sales & Traffic), sessions and page views, Best Sellers
// Rank, and the product's Search Query Performance (impressions, clicks,
// cart adds and purchases of its ASINs, weighed by the days of the period)
// and its search terms' frequency. On TikTok the video sells too: orders
// attributed to it follow its views.

// HaloConfig plants halo effects. The zero value plants none.
type HaloConfig struct {
	// Planted is how many products get a video that takes off and an Amazon
	// halo.
	Planted int `json:"planted"`
	// SpikeControls is how many other products get a video that takes off
	// with no effect on Amazon.
	SpikeControls int `json:"spike_controls"`
	// FirstSpikeDay and LastSpikeDay bound the spike days, counted in days
	// from the world's Start. Defaults 14 and 49: with lags of up to four
	// days and the lift gone two weeks later, eight weeks of history hold
	// every effect whole, after two weeks of baseline.
	FirstSpikeDay int `json:"first_spike_day"`
	LastSpikeDay  int `json:"last_spike_day"`
}

// Ranges the world draws each planted effect's parameters from.
const (
	haloMinLagDays   = 2
	haloMaxLagDays   = 4
	haloMinDecayDays = 1.5
	haloMaxDecayDays = 3.0
	haloMinMagnitude = 2.0
	haloMaxMagnitude = 4.0
	// haloTailDecays: after this many decay times the lift is dropped
	// (exp(−8) < 0.04 %), so an effect ends.
	haloTailDecays = 8
	// spikeViews bounds the lifetime views of a video that takes off.
	spikeMinViews = 1_000_000
	spikeMaxViews = 4_000_000
	// spikeCTR and spikeConversion turn a spike video's views into TikTok
	// orders attributed to it: product clicks per view, orders per click.
	spikeCTR        = 0.03
	spikeConversion = 0.012
)

// HaloEffect is one planted video spike and what it does to Amazon.
type HaloEffect struct {
	// ProductKey is the ground-truth key of the product the video shows.
	ProductKey string `json:"product_key"`
	// Effect is true for a planted halo, false for a spike control.
	Effect bool `json:"effect"`
	// VideoID is the video that takes off; PostTime is when it is posted.
	VideoID  string    `json:"video_id"`
	PostTime time.Time `json:"post_time"`
	// SpikeDay is the shop-zone day of the video's post and of its most
	// views.
	SpikeDay Date `json:"spike_day"`
	// LagDays is how many days after SpikeDay the Amazon lift starts (at
	// the start of that day in the Amazon zone), LiftStart that instant;
	// DecayDays is the lift's e-folding time in days, and Magnitude the
	// lift at LiftStart: demand is 1+Magnitude times its usual there. All
	// zero for a spike control.
	LagDays   int       `json:"lag_days"`
	LiftStart time.Time `json:"lift_start"`
	DecayDays float64   `json:"decay_days"`
	Magnitude float64   `json:"magnitude"`

	product  *Product
	amazon   picker // the product's Amazon variants, by popularity
	videoDay int64  // UTC day index of PostTime (the video's bucket)
	views    float64
	tau      time.Duration
}

// HaloProduct names a product on both channels, with what a pipeline sees
// of it: ASINs, TikTok ids, GTINs and seller SKUs.
type HaloProduct struct {
	ProductKey      string   `json:"product_key"`
	Title           string   `json:"title"`
	ParentASIN      string   `json:"parent_asin,omitempty"`
	ASINs           []string `json:"asins"`
	TikTokProductID string   `json:"tiktok_product_id"`
	SKUIDs          []string `json:"sku_ids"`
	GTINs           []string `json:"gtins"`
	SellerSKUs      []string `json:"seller_skus"`
	// SpikeDay is set for a spike control (a video took off, Amazon did not
	// notice).
	SpikeDay *Date `json:"spike_day,omitempty"`
}

// HaloTruth is the ground truth of the planted halo.
type HaloTruth struct {
	// Planted are the effects: for each product, its spike day, lag, decay
	// and magnitude.
	Planted []HaloEffect `json:"planted"`
	// Products describes the planted products, by product key.
	Products map[string]HaloProduct `json:"products"`
	// Controls are every other product linked on both channels (by seller
	// SKU or GTIN), spike controls included: no TikTok attention of theirs
	// moves Amazon.
	Controls []HaloProduct `json:"controls"`
}

func (c HaloConfig) withDefaults() HaloConfig {
	if c.FirstSpikeDay <= 0 {
		c.FirstSpikeDay = 14
	}
	if c.LastSpikeDay <= 0 {
		c.LastSpikeDay = 49
	}
	if c.LastSpikeDay < c.FirstSpikeDay {
		c.LastSpikeDay = c.FirstSpikeDay
	}
	return c
}

// linkedOnBothChannels reports whether identity resolution links p's
// listings: a shared seller SKU or GTIN.
func linkedOnBothChannels(p *Product) bool { return p.Match == MatchSKU || p.Match == MatchGTIN }

// planHalo picks the planted products and spike controls and draws their
// effects; videos are made when their day's bucket is.
func planHalo(cfg Config, products []*Product) []*HaloEffect {
	h := cfg.Halo
	if h.Planted <= 0 && h.SpikeControls <= 0 {
		return nil
	}
	r := rngFor(cfg.Seed, "halo-plan")
	var linked []*Product
	for _, p := range products {
		if linkedOnBothChannels(p) {
			linked = append(linked, p)
		}
	}
	// Planted products come from the better-selling half, so that a lift
	// shows against their usual sales; spike controls and controls from
	// anywhere.
	sort.SliceStable(linked, func(i, j int) bool { return amazonPopularity(linked[i]) > amazonPopularity(linked[j]) })
	top := linked[:(len(linked)+1)/2]
	r.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	planted := top[:min(h.Planted, len(top))]
	var rest []*Product
	for _, p := range linked {
		if !slices.Contains(planted, p) {
			rest = append(rest, p)
		}
	}
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	linked = append(append([]*Product(nil), planted...), rest[:min(h.SpikeControls, len(rest))]...)
	days := make([]int, 0, h.LastSpikeDay-h.FirstSpikeDay+1)
	for d := h.FirstSpikeDay; d <= h.LastSpikeDay; d++ {
		days = append(days, d)
	}
	r.Shuffle(len(days), func(i, j int) { days[i], days[j] = days[j], days[i] })
	startDay := DateOf(cfg.Start, cfg.ShopZone)
	var out []*HaloEffect
	for i, p := range linked {
		e := &HaloEffect{ProductKey: p.Key, Effect: i < len(planted), product: p,
			SpikeDay: startDay.AddDays(days[i%len(days)])}
		for _, v := range p.Variants {
			if v.Amazon != nil {
				e.amazon.add(v)
			}
		}
		// Posted in the morning, so the day of the post is the day of most
		// views; a time constant under a day makes it fade within days.
		e.PostTime = e.SpikeDay.Start(cfg.ShopZone).Add(time.Duration(7*3600+r.IntN(3*3600)) * time.Second)
		e.videoDay = dayIndex(e.PostTime)
		e.views = math.Exp(between(r, math.Log(spikeMinViews), math.Log(spikeMaxViews)))
		e.tau = dur(r, 10*time.Hour, 20*time.Hour)
		if e.Effect {
			e.LagDays = haloMinLagDays + r.IntN(haloMaxLagDays-haloMinLagDays+1)
			e.LiftStart = e.SpikeDay.AddDays(e.LagDays).Start(cfg.AmazonZone)
			e.DecayDays = math.Round(between(r, haloMinDecayDays, haloMaxDecayDays)*100) / 100
			e.Magnitude = math.Round(between(r, haloMinMagnitude, haloMaxMagnitude)*100) / 100
		}
		out = append(out, e)
	}
	return out
}

func amazonPopularity(p *Product) float64 {
	sum := 0.0
	for _, v := range p.Variants {
		if v.Amazon != nil {
			sum += v.Popularity
		}
	}
	return sum
}

// lift returns the effect's relative lift of Amazon demand at t (0 before
// LiftStart, for a control, and once the tail is over).
func (e *HaloEffect) lift(t time.Time) float64 {
	if !e.Effect || t.Before(e.LiftStart) {
		return 0
	}
	x := t.Sub(e.LiftStart).Hours() / (24 * e.DecayDays)
	if x > haloTailDecays {
		return 0
	}
	return e.Magnitude * math.Exp(-x)
}

// meanLift returns the effect's mean lift over [from, to).
func (e *HaloEffect) meanLift(from, to time.Time) float64 {
	if !e.Effect || !to.After(from) {
		return 0
	}
	a, b := maxTime(from, e.LiftStart), minTime(to, e.LiftStart.Add(time.Duration(haloTailDecays*e.DecayDays*24)*time.Hour))
	if !b.After(a) {
		return 0
	}
	tau := e.DecayDays * 24 // hours
	xa, xb := a.Sub(e.LiftStart).Hours(), b.Sub(e.LiftStart).Hours()
	integral := e.Magnitude * tau * (math.Exp(-xa/tau) - math.Exp(-xb/tau))
	return integral / to.Sub(from).Hours()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// haloOf returns the effect planted on product key, if any.
func (w *World) haloOf(key string) *HaloEffect {
	for _, e := range w.halo {
		if e.ProductKey == key {
			return e
		}
	}
	return nil
}

// demandLift returns how much above its usual the Amazon demand of product
// key is at t (0: as usual).
func (w *World) demandLift(key string, t time.Time) float64 {
	if e := w.haloOf(key); e != nil {
		return e.lift(t)
	}
	return 0
}

// meanDemandLift returns the mean of demandLift over [from, to).
func (w *World) meanDemandLift(key string, from, to time.Time) float64 {
	if e := w.haloOf(key); e != nil {
		return e.meanLift(from, to)
	}
	return 0
}

// DemandLift returns how far above its usual the Amazon demand of product
// key is at t: 0 as usual, 1.5 for two and a half times the usual.
func (t Truth) DemandLift(key string, at time.Time) float64 { return t.w.demandLift(key, at) }

// DailyDemandLift returns the mean DemandLift of product key over Amazon-zone
// day d.
func (t Truth) DailyDemandLift(key string, d Date) float64 {
	z := t.w.cfg.AmazonZone
	return t.w.meanDemandLift(key, d.Start(z), d.End(z))
}

// Halo returns the planted halo: the effects, with their videos' ids, and
// the control products. Spike days after the view's instant are included:
// the plan is fixed from the start.
func (t Truth) Halo() HaloTruth {
	w := t.w
	out := HaloTruth{Planted: []HaloEffect{}, Products: map[string]HaloProduct{}, Controls: []HaloProduct{}}
	spikes := map[string]*HaloEffect{}
	for _, e := range w.halo {
		c := *e
		if v := w.haloVideo(e); v != nil {
			c.VideoID = v.ID
		}
		if e.Effect {
			out.Planted = append(out.Planted, c)
			out.Products[e.ProductKey] = haloProduct(e.product)
		} else {
			spikes[e.ProductKey] = &c
		}
	}
	for _, p := range w.products {
		if !linkedOnBothChannels(p) {
			continue
		}
		if _, planted := out.Products[p.Key]; planted {
			continue
		}
		hp := haloProduct(p)
		if s := spikes[p.Key]; s != nil {
			d := s.SpikeDay
			hp.SpikeDay = &d
		}
		out.Controls = append(out.Controls, hp)
	}
	sort.Slice(out.Planted, func(i, j int) bool { return out.Planted[i].ProductKey < out.Planted[j].ProductKey })
	return out
}

func haloProduct(p *Product) HaloProduct {
	hp := HaloProduct{ProductKey: p.Key, Title: p.Title, ParentASIN: p.ParentASIN, TikTokProductID: p.TikTokID}
	for _, v := range p.Variants {
		if v.Amazon != nil {
			hp.ASINs = append(hp.ASINs, v.Amazon.ASIN)
			hp.SellerSKUs = append(hp.SellerSKUs, v.Amazon.SellerSKU)
		}
		if v.TikTok != nil {
			hp.SKUIDs = append(hp.SKUIDs, v.TikTok.SKUID)
		}
		if v.GTIN != "" {
			hp.GTINs = append(hp.GTINs, v.GTIN)
		}
	}
	return hp
}

// haloVideo returns the video of effect e (making its day's bucket).
func (w *World) haloVideo(e *HaloEffect) *Video {
	for _, v := range w.videoBucket(e.videoDay) {
		if v.halo == e {
			return v
		}
	}
	return nil
}

// haloVideos returns the spike videos posted on UTC day d, numbered from
// first on within the day's bucket.
func (w *World) haloVideos(d int64, first int) []*Video {
	var out []*Video
	for _, e := range w.halo {
		if e.videoDay != d {
			continue
		}
		i := first + len(out)
		r := rngFor(w.seed, "halo-video", hashString(e.ProductKey))
		p := e.product
		v := &Video{
			ID:          videoID(d-w.firstVideoDay(), i, r.IntN(1_000_000_000)),
			PostTime:    e.PostTime.Add(time.Duration(i) * time.Millisecond),
			Account:     AccountAffiliate,
			Username:    "creator_" + lowerAlnum(r, 6),
			DurationSec: 15 + r.IntN(30),
			ProductKeys: []string{p.Key}, ProductIDs: []string{p.TikTokID},
			HashTags:      []string{"tiktokmademebuyit", "fyp"},
			peakViews:     e.views,
			tau:           e.tau,
			activeFor:     30 * 24 * time.Hour,
			likeRate:      between(r, 0.06, 0.14),
			commentRate:   between(r, 0.002, 0.01),
			shareRate:     between(r, 0.01, 0.04),
			saveRate:      between(r, 0.01, 0.05),
			reachRatio:    between(r, 0.75, 0.95),
			fullWatchRate: math.Round(between(r, 0.25, 0.6)*10000) / 10000,
			ctr:           spikeCTR,
			halo:          e,
		}
		v.avgWatchSec = math.Round(float64(v.DurationSec)*between(r, 0.5, 0.85)*100) / 100
		v.Caption = "I can't believe how good the " + p.Title + " is 😭 #" + v.HashTags[0] + " #" + v.HashTags[1]
		out = append(out, v)
	}
	return out
}

// spikeVideosAround returns the spike videos that can sell at t (posted
// before t, still active).
func (w *World) spikeVideosAround(t time.Time) []*Video {
	var out []*Video
	for _, e := range w.halo {
		if t.Before(e.PostTime) || t.After(e.PostTime.Add(haloSalesWindow)) {
			continue
		}
		if v := w.haloVideo(e); v != nil && !t.Before(v.PostTime) {
			out = append(out, v)
		}
	}
	return out
}

// haloSalesWindow is how long a spike video keeps selling on TikTok: by
// then its view rate is under a millionth of its peak.
const haloSalesWindow = 10 * 24 * time.Hour

// viewRate returns the video's views per minute at t.
func (v *Video) viewRate(t time.Time) float64 {
	age := t.Sub(v.PostTime)
	if age < 0 || age > min(v.activeFor, FrozenAfter) {
		return 0
	}
	return v.peakViews / v.tau.Minutes() * math.Exp(-age.Minutes()/v.tau.Minutes())
}
