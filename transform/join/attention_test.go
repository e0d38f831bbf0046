package join

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// shopDay is a shop analytics record of video on day d with the given
// measured views (nil: not reported) and products.
func shopDay(video, d string, v int64, views *int64, products ...VideoProduct) VideoPerformance {
	r := vperfRec(video, d, v, products...)
	r.Views = views
	return r
}

// snap is a Business API snapshot posted at post (zero: not reported).
func snap(item string, v int64, ts string, post time.Time, views, saves, likes *int64, watch *float64) VideoEngagement {
	return VideoEngagement{Meta: m(v, at(ts)), BusinessID: "biz", ItemID: item, CreateTime: post,
		Views: views, Saves: saves, Likes: likes, WatchTimeSeconds: watch}
}

// series returns metric(row) of key on each day from first, "-" where the
// row or the metric is missing.
func series(j *Join, key, first string, n int, metric func(Row) string) []string {
	var out []string
	rows := map[Day]Row{}
	for _, r := range j.Rows() {
		if r.ProductKey == key {
			rows[r.Day] = r
		}
	}
	for i := range n {
		r, ok := rows[day(first)+Day(i)]
		if !ok {
			out = append(out, "-")
			continue
		}
		out = append(out, metric(r))
	}
	return out
}

func views(r Row) string { return str(r.TikTokViews) }
func saves(r Row) string { return str(r.TikTokSaves) }
func likes(r Row) string { return str(r.TikTokLikes) }
func watch(r Row) string { return strF(r.TikTokWatchTimeSeconds) }
func prov(r Row) string  { return r.TikTokAttentionProvenance }

// TestShopAnalyticsAreDailyMeasurements: every figure shop analytics
// reports lands on its day, measured, for every product key of the
// video; product impressions and clicks too.
func TestShopAnalyticsAreDailyMeasurements(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	for i, v := range []int64{37032, 56804, 56716} {
		r := shopDay("V1", fmt.Sprintf("2026-01-0%d", 5+i), 1, i64(v), VideoProduct{ProductID: "P1", GMV: rat("3")})
		r.Likes, r.Comments, r.Shares = i64(v/10), i64(v/100), i64(v/1000)
		r.ProductImpressions, r.ProductClicks = i64(v/2), i64(v/50)
		must(j.ApplyVideoPerformance(r))
	}
	if got := series(j, "K1", "2026-01-05", 3, views); !slices.Equal(got, []string{"37032", "56804", "56716"}) {
		t.Errorf("views %v", got)
	}
	r := current(t, j, "K1", day("2026-01-06"))
	if str(r.TikTokLikes) != "5680" || str(r.TikTokComments) != "568" || str(r.TikTokShares) != "56" ||
		str(r.TikTokProductImpressions) != "28402" || str(r.TikTokProductClicks) != "1136" || r.TikTokSaves != nil ||
		r.TikTokWatchTimeSeconds != nil || r.TikTokAttentionProvenance != "measured" {
		t.Errorf("2026-01-06: %+v", r)
	}
	// A restated day replaces the measurement.
	must(j.ApplyVideoPerformance(shopDay("V1", "2026-01-06", 2, i64(60000), VideoProduct{ProductID: "P1"})))
	if got := series(j, "K1", "2026-01-05", 3, views); !slices.Equal(got, []string{"37032", "60000", "56716"}) {
		t.Errorf("restated views %v", got)
	}
	if r := current(t, j, "K1", day("2026-01-06")); r.TikTokLikes != nil || r.TikTokVideoGMV != nil {
		t.Errorf("restated day keeps the old figures: %+v", r)
	}
}

// TestFirstSnapshotIsSpreadEvenly: a video without shop analytics (so
// without products: it lands on the business account's unlinked key)
// whose first snapshot comes four days after its post day: its lifetime
// totals are spread over the five days, the remainder one unit each to
// the earliest, marked estimated; a later snapshot's growth lands on its
// day, measured, and the day of both is mixed.
func TestFirstSnapshotIsSpreadEvenly(t *testing.T) {
	j := New(Config{})
	post := at("2026-01-05T18:00:00Z")
	rows := j.ApplyVideoEngagement(snap("V1", 1, "2026-01-09T10:00:00Z", post, i64(13), i64(4), nil, f64(10.0005)))
	const key = "tiktok:biz:unlinked"
	if len(rows) != 5 {
		t.Errorf("first snapshot emitted %v", keysOf(rows))
	}
	if got := series(j, key, "2026-01-05", 5, views); !slices.Equal(got, []string{"3", "3", "3", "2", "2"}) {
		t.Errorf("views %v", got)
	}
	if got := series(j, key, "2026-01-05", 5, saves); !slices.Equal(got, []string{"1", "1", "1", "1", "0"}) {
		t.Errorf("saves %v", got)
	}
	// Watch time in milliseconds: 10000.5 rounds to even, 10000 ms.
	if got := series(j, key, "2026-01-05", 5, watch); !slices.Equal(got, []string{"2", "2", "2", "2", "2"}) {
		t.Errorf("watch %v", got)
	}
	if got := series(j, key, "2026-01-05", 5, prov); !slices.Equal(got, []string{"estimated", "estimated", "estimated", "estimated", "estimated"}) {
		t.Errorf("provenance %v", got)
	}
	// Growth later the same day and the next day: deltas, measured.
	j.ApplyVideoEngagement(snap("V1", 2, "2026-01-09T20:00:00Z", post, i64(20), i64(4), nil, nil))
	rows = j.ApplyVideoEngagement(snap("V1", 3, "2026-01-10T20:00:00Z", post, i64(26), i64(5), nil, nil))
	if got := keysOf(rows); !slices.Equal(got, []string{key + ":2026-01-10"}) {
		t.Errorf("a later snapshot re-emits %v, want only its day", got)
	}
	if got := series(j, key, "2026-01-05", 6, views); !slices.Equal(got, []string{"3", "3", "3", "2", "9", "6"}) {
		t.Errorf("views %v", got)
	}
	if got := series(j, key, "2026-01-05", 6, prov); !slices.Equal(got, []string{"estimated", "estimated", "estimated", "estimated", "mixed", "measured"}) {
		t.Errorf("provenance %v", got)
	}
	if sum := sumOf(j, key, func(r Row) *int64 { return r.TikTokViews }); sum != 26 {
		t.Errorf("views add up to %d, want the lifetime 26", sum)
	}
}

func sumOf(j *Join, key string, metric func(Row) *int64) int64 {
	var sum int64
	for _, r := range j.Rows() {
		if p := metric(r); r.ProductKey == key && p != nil {
			sum += *p
		}
	}
	return sum
}

// TestSpreadFollowsMeasuredViews: a video with shop analytics views gets
// its first snapshot's watch time, saves and likes (which shop analytics
// does not report here) spread in proportion to its measured views, by
// largest remainder; days whose views shop analytics did not measure weigh
// nothing and get no share (no row: the post day here). Its views are the
// measured ones only: the snapshot's views are not counted again.
// Shop analytics that arrive after the snapshot re-spread it, and the
// order of arrival does not change the result.
func TestSpreadFollowsMeasuredViews(t *testing.T) {
	shop := []VideoPerformance{
		shopDay("V1", "2026-01-06", 1, i64(100), VideoProduct{ProductID: "P1"}),
		shopDay("V1", "2026-01-07", 1, i64(0), VideoProduct{ProductID: "P1"}),
		shopDay("V1", "2026-01-08", 1, i64(300), VideoProduct{ProductID: "P1"}),
	}
	first := snap("V1", 1, "2026-01-08T12:00:00Z", at("2026-01-05T09:00:00Z"), i64(450), i64(7), i64(9), f64(2))
	check := func(j *Join, what string) {
		t.Helper()
		for _, c := range []struct {
			name string
			f    func(Row) string
			want []string
		}{
			// 7 x (0, 100, 0, 300) / 400 = 0, 1.75, 0, 5.25: floors 0, 1, 0, 5
			// and the unit left to the largest remainder, 2026-01-06.
			// The post day, unmeasured, has no row (its share is 0).
			{"saves", saves, []string{"-", "2", "0", "5"}},
			// 9 x ... = 0, 2.25, 0, 6.75: the unit left to 2026-01-08.
			{"likes", likes, []string{"-", "2", "0", "7"}},
			{"watch", watch, []string{"-", "0.5", "0", "1.5"}},
			{"views", views, []string{"-", "100", "0", "300"}},
			{"provenance", prov, []string{"-", "mixed", "mixed", "mixed"}},
		} {
			if got := series(j, "K1", "2026-01-05", 4, c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: %s %v, want %v", what, c.name, got, c.want)
			}
		}
	}
	// Snapshot first, then the shop analytics backfill in any order.
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}} {
		j := New(Config{})
		link(j, "K1", tref("P1-1"))
		j.ApplyVideoEngagement(first)
		// A day with views re-spreads; one with none weighs nothing.
		for n, i := range order {
			rows := must(j.ApplyVideoPerformance(shop[i]))
			if n > 0 && i != 1 && len(rows) < 2 {
				t.Errorf("order %v: shop day %d re-emits only %v; the spread must move", order, i, keysOf(rows))
			}
		}
		check(j, fmt.Sprint("snapshot first, then ", order))
	}
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	for _, r := range shop {
		must(j.ApplyVideoPerformance(r))
	}
	j.ApplyVideoEngagement(first)
	check(j, "shop analytics first")
	if sum := sumOf(j, "K1", func(r Row) *int64 { return r.TikTokViews }); sum != 400 {
		t.Errorf("views add up to %d, want the measured 400 (the snapshot's 450 not added)", sum)
	}
}

// TestSpreadBeforeTheBackfill: a video posted before the backfill's first
// day has no shop analytics for its first days (they were never read), and
// a first snapshot on a later day. Those days are unmeasured, not days of
// zero views: they get no share and make no row (the old rule put a row of
// estimated zeros on every one of them: 632 rows before the demo world's
// first day). The measured days still add up to the lifetime totals. A
// video without shop analytics posted before the backfill is spread evenly
// from its post day: real estimates before the first day, which stay.
func TestSpreadBeforeTheBackfill(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	// Posted 2026-01-01; the backfill reads shop analytics from 01-10 to
	// 01-12; the snapshot is of 01-14 (no shop analytics yet for 01-13..14).
	for i, v := range []int64{600, 300, 100} {
		must(j.ApplyVideoPerformance(shopDay("V1", fmt.Sprintf("2026-01-%d", 10+i), 1, i64(v), VideoProduct{ProductID: "P1"})))
	}
	j.ApplyVideoEngagement(snap("V1", 1, "2026-01-14T12:00:00Z", at("2026-01-01T09:00:00Z"), i64(5000), i64(50), i64(70), f64(100)))
	want := []string{"-", "-", "-", "-", "-", "-", "-", "-", "-", "30", "15", "5", "-", "-"}
	if got := series(j, "K1", "2026-01-01", 14, saves); !slices.Equal(got, want) {
		t.Errorf("saves %v, want %v (no row where shop analytics measured nothing)", got, want)
	}
	if sum := sumOf(j, "K1", func(r Row) *int64 { return r.TikTokSaves }); sum != 50 {
		t.Errorf("saves add up to %d, want the lifetime 50", sum)
	}
	// Without shop analytics (an organic video, under its business's
	// unlinked key): 10 saves over the 10 days 01-05..01-14.
	j.ApplyVideoEngagement(VideoEngagement{Meta: m(1, at("2026-01-14T12:00:00Z")), BusinessID: "biz", ItemID: "V2",
		CreateTime: at("2026-01-05T09:00:00Z"), Saves: i64(10)})
	const unlinked = "tiktok:biz:unlinked"
	for _, r := range j.Rows() {
		if r.ProductKey == unlinked && (str(r.TikTokSaves) != "1" || r.TikTokAttentionProvenance != "estimated") {
			t.Errorf("%s %s: saves %s %s, want 1 estimated", unlinked, r.Day, str(r.TikTokSaves), r.TikTokAttentionProvenance)
		}
	}
	if got := series(j, unlinked, "2026-01-05", 10, saves); slices.Contains(got, "-") {
		t.Errorf("the even spread lost days: %v", got)
	}
}

// TestSpreadWindow: the post day from create_time, else from shop
// analytics' video_post_time; unknown, or after the snapshot, the total
// stays on the snapshot's day (still an estimate); a post day years back
// is clamped to maxSpreadDays.
func TestSpreadWindow(t *testing.T) {
	const key = "tiktok:biz:unlinked"
	for _, tc := range []struct {
		name      string
		post      time.Time
		shopPost  time.Time
		wantFirst string
		wantDays  int
	}{
		{"no post day", time.Time{}, time.Time{}, "2026-01-09", 1},
		{"post after the snapshot", at("2026-01-10T01:00:00Z"), time.Time{}, "2026-01-09", 1},
		{"from shop analytics", time.Time{}, at("2026-01-07T23:00:00Z"), "2026-01-07", 3},
		{"create_time wins", at("2026-01-08T00:00:00Z"), at("2026-01-02T23:00:00Z"), "2026-01-08", 2},
		{"clamped", at("2016-01-01T00:00:00Z"), time.Time{}, day("2026-01-09").Time().AddDate(0, 0, -(maxSpreadDays - 1)).Format(time.DateOnly), maxSpreadDays},
	} {
		j := New(Config{})
		k := key
		if !tc.shopPost.IsZero() {
			// Shop analytics of another day, no products: the shop's key.
			r := shopDay("V1", "2026-01-01", 1, nil)
			r.PostTime = tc.shopPost
			must(j.ApplyVideoPerformance(r))
			k = "tiktok:" + shop + ":unlinked"
		}
		j.ApplyVideoEngagement(snap("V1", 1, "2026-01-09T10:00:00Z", tc.post, i64(1000000), nil, nil, nil))
		var days []string
		var sum int64
		for _, r := range j.Rows() {
			if r.ProductKey == k && r.TikTokViews != nil {
				days = append(days, r.Day.String())
				sum += *r.TikTokViews
			}
		}
		if len(days) != tc.wantDays || days[0] != tc.wantFirst || days[len(days)-1] != "2026-01-09" || sum != 1000000 {
			t.Errorf("%s: %d days %s..%s adding up to %d, want %d from %s", tc.name, len(days), days[0], days[len(days)-1], sum, tc.wantDays, tc.wantFirst)
		}
	}
}

// TestUnlinkedVideos: a video that shows no product counts under the key
// of its shop (it has shop analytics) or of its business account (it has
// none); once it shows a product, its figures move to the product's key.
func TestUnlinkedVideos(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	j.ApplyVideoEngagement(snap("V1", 1, "2026-01-05T10:00:00Z", time.Time{}, i64(50), nil, nil, nil))
	if r := current(t, j, "tiktok:biz:unlinked", day("2026-01-05")); str(r.TikTokViews) != "50" {
		t.Errorf("business key views %s", str(r.TikTokViews))
	}
	rows := must(j.ApplyVideoPerformance(shopDay("V1", "2026-01-05", 1, nil)))
	if got := keysOf(rows); !slices.Equal(got, []string{"tiktok:" + shop + ":unlinked:2026-01-05", "tiktok:biz:unlinked:2026-01-05(deleted)"}) {
		t.Errorf("shop analytics without products move the video: %v", got)
	}
	rows = must(j.ApplyVideoPerformance(shopDay("V1", "2026-01-05", 2, nil, VideoProduct{ProductID: "P1"})))
	if got := keysOf(rows); !slices.Equal(got, []string{"K1:2026-01-05", "tiktok:" + shop + ":unlinked:2026-01-05(deleted)"}) {
		t.Errorf("a product moves the video: %v", got)
	}
	// Two unlinked videos of one account share its key.
	j.ApplyVideoEngagement(snap("V2", 1, "2026-01-05T11:00:00Z", time.Time{}, i64(7), nil, nil, nil))
	j.ApplyVideoEngagement(snap("V3", 1, "2026-01-05T12:00:00Z", time.Time{}, i64(8), nil, nil, nil))
	if r := current(t, j, "tiktok:biz:unlinked", day("2026-01-05")); str(r.TikTokViews) != "15" || r.TikTokAttentionProvenance != "estimated" {
		t.Errorf("business key %s %s", str(r.TikTokViews), r.TikTokAttentionProvenance)
	}
}

// TestProvenanceNullWithoutAttention: a row with only sales has no
// provenance; video GMV is not attention either.
func TestProvenanceNullWithoutAttention(t *testing.T) {
	j := New(Config{})
	link(j, "K1", tref("P1-1"))
	must(j.ApplyVideoPerformance(vperfRec("V1", "2026-01-05", 1, VideoProduct{ProductID: "P1", GMV: rat("5")})))
	j.ApplyTikTokOrder(TikTokOrder{Meta: m(1, t0), ShopID: shop, OrderID: "O1", Status: "COMPLETED",
		CreateTime: at("2026-01-06T10:00:00Z"), Lines: []TikTokLine{{SKUID: "P1-1", Currency: "USD", SalePrice: rat("9")}}})
	for _, d := range []string{"2026-01-05", "2026-01-06"} {
		if r := current(t, j, "K1", day(d)); r.TikTokAttentionProvenance != "" || r.TikTokViews != nil {
			t.Errorf("%s: provenance %q views %s", d, r.TikTokAttentionProvenance, str(r.TikTokViews))
		}
	}
}

// TestEvenSplitOfSpread: under an even split, each key gets its share of
// every day's figure, spread or measured.
func TestEvenSplitOfSpread(t *testing.T) {
	j := New(Config{Attribution: EvenSplit})
	link(j, "K1", tref("P1-1"))
	link(j, "K2", tref("P2-1"))
	must(j.ApplyVideoPerformance(shopDay("V1", "2026-01-05", 1, i64(5), VideoProduct{ProductID: "P1"}, VideoProduct{ProductID: "P2"})))
	must(j.ApplyVideoPerformance(shopDay("V1", "2026-01-06", 1, i64(15), VideoProduct{ProductID: "P1"}, VideoProduct{ProductID: "P2"})))
	j.ApplyVideoEngagement(snap("V1", 1, "2026-01-06T12:00:00Z", at("2026-01-05T00:00:00Z"), nil, i64(9), nil, nil))
	// Saves 9 x (5, 15) / 20 = 2.25, 6.75: 2 and 7; then halved.
	for _, c := range []struct{ key, views, saves string }{{"K1", "3 8", "1 4"}, {"K2", "2 7", "1 3"}} {
		if got := fmt.Sprint(series(j, c.key, "2026-01-05", 2, views)); got != "["+c.views+"]" {
			t.Errorf("%s views %s, want %s", c.key, got, c.views)
		}
		if got := fmt.Sprint(series(j, c.key, "2026-01-05", 2, saves)); got != "["+c.saves+"]" {
			t.Errorf("%s saves %s, want %s", c.key, got, c.saves)
		}
	}
}

// TestApportion checks the largest-remainder split: exact sums for random
// totals and weights (large ones too, past int64 products), proportional
// floors, ties to the earlier part, and the even split.
func TestApportion(t *testing.T) {
	if got := apportion(10, []int64{1, 1, 1}, 3); !slices.Equal(got, []int64{4, 3, 3}) {
		t.Errorf("tie: %v", got)
	}
	if got := apportion(10, nil, 4); !slices.Equal(got, []int64{3, 3, 2, 2}) {
		t.Errorf("even: %v", got)
	}
	if got := apportion(5, []int64{0, 0}, 2); !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("zero weights: %v", got)
	}
	if got := apportion(7, []int64{0, 100, 0, 300}, 4); !slices.Equal(got, []int64{0, 2, 0, 5}) {
		t.Errorf("proportional: %v", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + rng.IntN(40)
		total := rng.Int64N(1 << uint(1+rng.IntN(62)))
		w := make([]int64, n)
		for i := range w {
			if rng.IntN(3) > 0 {
				w[i] = rng.Int64N(1 << uint(1+rng.IntN(40)))
			}
		}
		got := apportion(total, w, n)
		var sum, wsum int64
		for i, x := range got {
			sum += x
			wsum += w[i]
			if x < 0 {
				t.Fatalf("negative part %v", got)
			}
		}
		if sum != total {
			t.Fatalf("apportion(%d, %v) = %v adds up to %d", total, w, got, sum)
		}
		if wsum > 0 {
			for i, x := range got {
				exact := float64(total) * float64(w[i]) / float64(wsum)
				if math.Abs(float64(x)-exact) > 1+exact*1e-9 {
					t.Fatalf("part %d is %d, exact share %f", i, x, exact)
				}
			}
		}
	}
}
