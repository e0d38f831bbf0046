package simworld

import (
	"math"
	"reflect"
	"sort"
	"testing"
	"time"
)

// haloWorlds returns two worlds of one seed at the same instant, nine weeks
// after their start: one with a planted halo (six effects, four spike
// controls), one without.
func haloWorlds(t *testing.T, seed uint64) (with, without *World) {
	t.Helper()
	at := DefaultStart.Add(63 * 24 * time.Hour)
	scale := Scale{AmazonOrdersPerMinute: 0.5, TikTokOrdersPerMinute: 0.25}
	with = MustNew(Config{Seed: seed, Clock: NewManualClock(at), Scale: scale, Halo: HaloConfig{Planted: 6, SpikeControls: 4}})
	without = MustNew(Config{Seed: seed, Clock: NewManualClock(at), Scale: scale})
	return with, without
}

var haloSeeds = []uint64{1, 2, 3, 11, 9505}

// TestHaloPlan: the plan is a function of seed and config, within the
// documented ranges, on products linked on both channels, on distinct days
// between FirstSpikeDay and LastSpikeDay; every spike video exists, shows
// only its product, and takes off on its spike day.
func TestHaloPlan(t *testing.T) {
	for _, seed := range haloSeeds {
		w, _ := haloWorlds(t, seed)
		h := w.Truth().Halo()
		again, _ := haloWorlds(t, seed)
		if !reflect.DeepEqual(h, again.Truth().Halo()) {
			t.Fatalf("seed %d: two worlds of one seed plant different halos", seed)
		}
		if len(h.Planted) != 6 {
			t.Fatalf("seed %d: %d planted, want 6", seed, len(h.Planted))
		}
		spikeControls := 0
		days := map[Date]bool{}
		start := DateOf(w.Start(), w.Config().ShopZone)
		check := func(key string, d Date, videoID string) {
			p, ok := w.Product(key)
			if !ok || !linkedOnBothChannels(p) {
				t.Errorf("seed %d: spike on %s, which is not linked on both channels", seed, key)
			}
			if days[d] {
				t.Errorf("seed %d: two spikes on %s", seed, d)
			}
			days[d] = true
			if n := start.DaysUntil(d); n < 14 || n > 49 {
				t.Errorf("seed %d: spike day %s is day %d of the world", seed, d, n)
			}
			v, ok := w.Video(videoID)
			if !ok || len(v.ProductKeys) != 1 || v.ProductKeys[0] != key {
				t.Fatalf("seed %d: spike video %q of %s: %v", seed, videoID, key, v)
			}
			// Its views peak on the spike day (shop zone).
			best, bestDay := int64(-1), Date{}
			for dd := d.AddDays(-1); dd.Before(d.AddDays(6)); dd = dd.AddDays(1) {
				z := w.Config().ShopZone
				if n := v.EngagementAt(dd.End(z)).VideoViews - v.EngagementAt(dd.Start(z)).VideoViews; n > best {
					best, bestDay = n, dd
				}
			}
			if bestDay != d || best < 500_000 {
				t.Errorf("seed %d: video of %s peaks on %s with %d views, want %s", seed, key, bestDay, best, d)
			}
		}
		for _, e := range h.Planted {
			check(e.ProductKey, e.SpikeDay, e.VideoID)
			if e.LagDays < 2 || e.LagDays > 4 || e.DecayDays < 1.5 || e.DecayDays > 3 || e.Magnitude < 2 || e.Magnitude > 4 || !e.Effect {
				t.Errorf("seed %d: effect out of range: %+v", seed, e)
			}
			if want := e.SpikeDay.AddDays(e.LagDays).Start(w.Config().AmazonZone); !e.LiftStart.Equal(want) {
				t.Errorf("seed %d: lift starts %s, want %s", seed, e.LiftStart, want)
			}
			if _, ok := h.Products[e.ProductKey]; !ok {
				t.Errorf("seed %d: planted %s not described", seed, e.ProductKey)
			}
		}
		for _, c := range h.Controls {
			if _, planted := h.Products[c.ProductKey]; planted {
				t.Errorf("seed %d: %s both planted and control", seed, c.ProductKey)
			}
			if c.SpikeDay != nil {
				spikeControls++
				for _, e := range w.halo {
					if e.ProductKey == c.ProductKey {
						check(c.ProductKey, *c.SpikeDay, w.haloVideo(e).ID)
					}
				}
			}
			if len(c.ASINs) == 0 || len(c.SKUIDs) == 0 {
				t.Errorf("seed %d: control %s lacks a channel: %+v", seed, c.ProductKey, c)
			}
		}
		if spikeControls != 4 || len(h.Controls) < 8 {
			t.Errorf("seed %d: %d spike controls of %d controls", seed, spikeControls, len(h.Controls))
		}
	}
}

// TestHaloOnlyAdds: a world with a planted halo is the same world plus the
// planted effects. Every control's Amazon figures (Sales & Traffic, Best
// Sellers Rank, Search Query Performance) equal the world without a halo;
// planted products equal it before their lift starts and exceed it after;
// every order and video of the world without a halo exists unchanged.
func TestHaloOnlyAdds(t *testing.T) {
	for _, seed := range haloSeeds[:2] {
		w, plain := haloWorlds(t, seed)
		h := w.Truth().Halo()
		zone := w.Config().AmazonZone
		lifts := map[string]HaloEffect{}
		for _, e := range h.Planted {
			lifts[e.ProductKey] = e
		}
		first := DateOf(w.Start(), zone)
		// Days around every lift's start, and some days of no lift.
		var days []Date
		for _, e := range h.Planted {
			for k := -1; k <= 2; k++ {
				days = append(days, DateOf(e.LiftStart, zone).AddDays(k))
			}
		}
		days = append(days, first, first.AddDays(9), first.AddDays(58))
		for _, d := range days {
			got, _ := w.TruthAt(w.SettledAt(d)).SalesTraffic(d)
			want, _ := plain.TruthAt(plain.SettledAt(d)).SalesTraffic(d)
			byASIN := map[string]SalesTraffic{}
			for _, r := range want {
				byASIN[r.ASIN] = r
			}
			for _, r := range got {
				v, _ := w.VariantByASIN(r.ASIN)
				base := byASIN[r.ASIN]
				e, planted := lifts[v.ProductKey]
				if !planted || !d.End(zone).After(e.LiftStart) {
					if r != base {
						t.Fatalf("seed %d %s %s (%s): %+v, without the halo %+v", seed, d, r.ASIN, v.ProductKey, r, base)
					}
					continue
				}
				if r.UnitsOrdered < base.UnitsOrdered || r.Sessions() < base.Sessions() {
					t.Errorf("seed %d %s %s: planted lift lowered the figures: %+v < %+v", seed, d, r.ASIN, r, base)
				}
			}
		}
		for _, e := range w.Truth().Catalog() {
			for _, at := range []time.Time{w.Start().Add(20 * 24 * time.Hour), w.Start().Add(40 * 24 * time.Hour), w.Now()} {
				got, _ := w.SalesRankAt(e.ASIN, at)
				want, _ := plain.SalesRankAt(e.ASIN, at)
				if l, planted := lifts[e.ProductKey]; planted && !at.Before(l.LiftStart) && l.lift(at) > 0.01 {
					if got.ClassificationRank >= want.ClassificationRank {
						t.Errorf("seed %d: %s ranks %d with a lift of %.2f, %d without", seed, e.ASIN, got.ClassificationRank, l.lift(at), want.ClassificationRank)
					}
				} else if l.lift(at) == 0 && got != want {
					t.Errorf("seed %d: %s rank %+v, without the halo %+v", seed, e.ASIN, got, want)
				}
			}
		}
		for wk := 0; wk < 8; wk++ {
			p, _ := PeriodOf(PeriodWeek, first.AddDays(7*wk+1))
			for _, v := range w.AmazonVariants() {
				got, want := w.SearchQueryPerformance(v.Amazon.ASIN, p), plain.SearchQueryPerformance(v.Amazon.ASIN, p)
				lift := w.meanDemandLift(v.ProductKey, p.Start.Start(zone), p.End.End(zone))
				if lift == 0 {
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d: SQP of %s in %s changed without a lift", seed, v.Amazon.ASIN, p.Start)
					}
					continue
				}
				byQuery := map[string]SQPRow{}
				for _, b := range want {
					byQuery[b.SearchQuery] = b
				}
				for _, g := range got {
					b := byQuery[g.SearchQuery]
					if g.ASINImpressionCount != b.ASINImpressionCount+int(float64(b.ASINImpressionCount)*lift) ||
						g.ASINPurchaseCount < b.ASINPurchaseCount || g.TotalQueryImpressionCount-g.ASINImpressionCount != b.TotalQueryImpressionCount-b.ASINImpressionCount {
						t.Errorf("seed %d: SQP of %s %q in %s with lift %.3f: %+v, without %+v", seed, v.Amazon.ASIN, g.SearchQuery, p.Start, lift, g, b)
					}
				}
			}
		}
		// Orders over the first planted lift and the first spike.
		from, to := h.Planted[0].LiftStart.Add(-12*time.Hour), h.Planted[0].LiftStart.Add(36*time.Hour)
		all := map[string]AmazonOrder{}
		for _, o := range w.AmazonOrdersPurchased(from, to) {
			all[o.AmazonOrderID] = *o
		}
		for _, o := range plain.AmazonOrdersPurchased(from, to) {
			if g, ok := all[o.AmazonOrderID]; !ok || !reflect.DeepEqual(g, *o) {
				t.Fatalf("seed %d: Amazon order %s differs with the halo", seed, o.AmazonOrderID)
			}
		}
		from, to = h.Planted[0].PostTime.Add(-time.Hour), h.Planted[0].PostTime.Add(36*time.Hour)
		tt := map[string]TikTokOrder{}
		for _, o := range w.TikTokOrdersCreated(from, to) {
			tt[o.ID] = *o
		}
		extra := len(tt)
		for _, o := range plain.TikTokOrdersCreated(from, to) {
			if g, ok := tt[o.ID]; !ok || !reflect.DeepEqual(g, *o) {
				t.Fatalf("seed %d: TikTok order %s differs with the halo", seed, o.ID)
			}
			extra--
		}
		if extra < 300 {
			t.Errorf("seed %d: the spike video sold only %d TikTok orders in its first day and a half", seed, extra)
		}
		vids := map[string]bool{}
		for _, v := range w.VideosUntil(to) {
			vids[v.ID] = true
		}
		for _, v := range plain.VideosUntil(to) {
			if !vids[v.ID] {
				t.Fatalf("seed %d: video %s missing with the halo", seed, v.ID)
			}
		}
	}
}

// TestHaloIsDetectable: on the daily series a pipeline lands (settled
// Sales & Traffic units and sessions per product, and the product's TikTok
// views from shop analytics), the day Amazon first leaves its usual noise
// after a video takes off is the planted lag (or, by bad luck of the noise,
// the day after) for every planted product, and never comes within two
// weeks in a spike control's units (four times the robust spread of the
// other days, Poisson at least): the planted effect is strong enough to
// find over eight weeks of noise.
func TestHaloIsDetectable(t *testing.T) {
	for _, seed := range haloSeeds[2:] {
		w, _ := haloWorlds(t, seed)
		h := w.Truth().Halo()
		zone := w.Config().AmazonZone
		first := DateOf(w.Start(), zone)
		const days = 60
		units := map[string][]float64{}
		sessions := map[string][]float64{}
		for i := 0; i < days; i++ {
			d := first.AddDays(i)
			rows, _ := w.TruthAt(w.SettledAt(d)).SalesTraffic(d)
			for _, r := range rows {
				v, _ := w.VariantByASIN(r.ASIN)
				if units[v.ProductKey] == nil {
					units[v.ProductKey], sessions[v.ProductKey] = make([]float64, days), make([]float64, days)
				}
				units[v.ProductKey][i] += float64(r.UnitsOrdered)
				sessions[v.ProductKey][i] += float64(r.Sessions())
			}
		}
		views := map[string][]float64{}
		for i := 0; i < days; i++ {
			d := first.AddDays(i)
			for _, vp := range w.VideoPerformances(d, d.AddDays(1)) {
				for _, pk := range vp.Video.ProductKeys {
					if views[pk] == nil {
						views[pk] = make([]float64, days)
					}
					views[pk][i] += float64(vp.Views)
				}
			}
		}
		type spike struct {
			key  string
			day  int
			lag  int // -1: a control
			mult float64
		}
		var spikes []spike
		for _, e := range h.Planted {
			spikes = append(spikes, spike{e.ProductKey, first.DaysUntil(e.SpikeDay), e.LagDays, e.Magnitude})
		}
		for _, c := range h.Controls {
			if c.SpikeDay != nil {
				spikes = append(spikes, spike{c.ProductKey, first.DaysUntil(*c.SpikeDay), -1, 0})
			}
		}
		for _, s := range spikes {
			// The product's TikTok views peak on the spike day.
			if got := argmax(views[s.key]); got != s.day {
				t.Errorf("seed %d %s: TikTok views peak on day %d, spike on %d", seed, s.key, got, s.day)
			}
			// Baseline: the median and robust spread of every day but those
			// from the day before the spike to three weeks after it.
			for name, series := range map[string][]float64{"units": units[s.key], "sessions": sessions[s.key]} {
				var base []float64
				for i, x := range series {
					if i < s.day-1 || i > s.day+21 {
						base = append(base, x)
					}
				}
				med, mad := median(base), medianAbsDev(base)
				noise := math.Max(1.4826*mad, math.Sqrt(med)) // Poisson at least
				found := -1
				for k := 0; k <= 14 && s.day+k < days; k++ {
					if series[s.day+k] > med+4*noise {
						found = k
						break
					}
				}
				ok := found == s.lag || s.lag >= 0 && found == s.lag+1
				if s.lag < 0 && name == "sessions" {
					// Traffic has heavy-tailed noise (lognormal); controls
					// are judged on units, counts of what was bought.
					ok = true
				}
				if !ok {
					t.Errorf("seed %d %s %s: first day above the noise %d days after the spike, planted lag %d (median %.0f, noise %.1f, series %v)",
						seed, s.key, name, found, s.lag, med, noise, series[s.day-2:min(days, s.day+8)])
				}
			}
		}
	}
}

func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianAbsDev(xs []float64) float64 {
	m := median(xs)
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return median(d)
}
