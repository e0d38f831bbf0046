package join_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// TestSimworldEngagement feeds a simulated world's videos as the Business
// API shows them, one lifetime snapshot a day (watch time vanishes when the
// world says the video has been inactive for a week), with the video to
// product link from shop analytics and the identity links of the world's
// catalog. The snapshots carry no create_time and shop analytics no post
// time, so a first snapshot's totals stay on its day (no window to spread
// them over), and shop analytics report no views (the snapshots' count).
// Each product key's daily views and saves must equal the growth, between
// consecutive snapshots, of the videos showing one of its products (full
// credit), and watch time must never go missing on a day it grew.
func TestSimworldEngagement(t *testing.T) {
	w := simworld.MustNew(simworld.Config{Seed: 3, Scale: simworld.Scale{Products: 30, VideosPerDay: 4}})
	const shop = "7494000000000000001"
	res := identity.NewResolver(nil)
	j := join.New(join.Config{})
	ev := 0
	meta := func(v int64, ts time.Time) join.Meta {
		ev++
		return join.Meta{EventID: fmt.Sprint(ev), Op: "snapshot", SourceTS: ts, IngestTS: ts, Version: v}
	}
	for _, p := range w.TikTokProducts() {
		var items []identity.Item
		for _, v := range p.Variants {
			it := identity.Item{Ref: identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: v.TikTok.SKUID}, ProductID: p.TikTokID, SellerSKU: v.TikTok.SellerSKU}
			if c := v.TikTok.IdentifierCode; c != nil {
				it.Identifiers = []identity.Identifier{{Type: c.Type, Value: c.Value}}
			}
			items = append(items, it)
		}
		j.ApplyLinks(res.Put("t/"+p.TikTokID, items), meta(1, w.Start()))
	}
	for _, e := range w.Truth().Catalog() {
		it := identity.Item{Ref: identity.Ref{Channel: identity.ChannelAmazon, Account: w.Config().MarketplaceID, ID: e.ASIN}}
		for _, id := range e.Identifiers {
			it.Identifiers = append(it.Identifiers, identity.Identifier{Type: id.Type, Value: id.Value})
		}
		j.ApplyLinks(res.Put("a/"+e.ASIN, []identity.Item{it}), meta(1, w.Start()))
	}

	start := w.Start()
	const days = 12
	videos := w.VideosUntil(start.Add(days * 24 * time.Hour))
	type key struct {
		k string
		d string
	}
	wantViews, wantSaves := map[key]int64{}, map[key]int64{}
	grewWatch := map[key]bool{}
	shown := 0
	for _, v := range videos {
		if len(v.ProductIDs) == 0 {
			continue
		}
		shown++
		var ps []join.VideoProduct
		keys := map[string]bool{}
		for _, pid := range v.ProductIDs {
			ps = append(ps, join.VideoProduct{ProductID: pid})
			p, _ := w.ProductByTikTokID(pid)
			for _, vr := range p.Variants {
				l, _ := res.Link(identity.Ref{Channel: identity.ChannelTikTok, Account: shop, ID: vr.TikTok.SKUID})
				keys[l.ProductKey] = true
			}
		}
		d0 := simworld.DateOf(v.PostTime, w.Config().ShopZone)
		if _, err := j.ApplyVideoPerformance(join.VideoPerformance{Meta: meta(1, start), ShopID: shop, VideoID: v.ID,
			Date: join.ZonedDay{Day: join.DayFromDate(d0.Start(time.UTC)), Zone: "America/Los_Angeles"}, Currency: "USD", Products: ps}); err != nil {
			t.Fatal(err)
		}
		var prev simworld.Engagement
		var lastWatch float64
		for d := 0; d < days; d++ {
			ts := start.Add(time.Duration(d)*24*time.Hour + 20*time.Hour)
			if ts.Before(v.PostTime) {
				continue
			}
			e := v.EngagementAt(ts)
			snap := join.VideoEngagement{Meta: meta(int64(d+1), ts), BusinessID: "biz", ItemID: v.ID,
				Views: &e.VideoViews, Saves: &e.Favorites, Likes: &e.Likes, Comments: &e.Comments, Shares: &e.Shares}
			if e.InsightsAvailable {
				watch := e.TotalTimeWatched
				snap.WatchTimeSeconds = &watch
			}
			j.ApplyVideoEngagement(snap)
			day := ts.Format(time.DateOnly)
			for k := range keys {
				wantViews[key{k, day}] += e.VideoViews - prev.VideoViews
				wantSaves[key{k, day}] += e.Favorites - prev.Favorites
				if e.InsightsAvailable && e.TotalTimeWatched > lastWatch {
					grewWatch[key{k, day}] = true
				}
			}
			if e.InsightsAvailable {
				lastWatch = e.TotalTimeWatched
			}
			prev = e
		}
	}
	if shown < 20 {
		t.Fatalf("only %d shoppable videos; the test proves little", shown)
	}
	got := map[key]join.Row{}
	for _, r := range j.Rows() {
		got[key{r.ProductKey, r.Day.String()}] = r
	}
	checked := 0
	for k, want := range wantViews {
		r, ok := got[k]
		if !ok {
			t.Errorf("%v: no row, want %d views", k, want)
			continue
		}
		if r.TikTokViews == nil || *r.TikTokViews != want || r.TikTokSaves == nil || *r.TikTokSaves != wantSaves[k] {
			t.Errorf("%v: views %v saves %v, want %d %d", k, r.TikTokViews, r.TikTokSaves, want, wantSaves[k])
		}
		if grewWatch[k] && (r.TikTokWatchTimeSeconds == nil || *r.TikTokWatchTimeSeconds <= 0) {
			t.Errorf("%v: watch time %v on a day it grew", k, r.TikTokWatchTimeSeconds)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}
