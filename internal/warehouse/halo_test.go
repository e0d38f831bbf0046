package warehouse_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
)

// TestDbtHalo runs the halo models (halo_by_lag, product_halo, halo_ranking,
// with the data tests of their yml) with the real dbt against a warehouse
// holding a synthetic product_daily of ten weeks: products whose Amazon
// sessions, units, rank and search figures follow their TikTok attention
// spikes after a known lag (planted), and controls whose Amazon figures are
// independent of theirs. Both channels share a weekday rhythm and Amazon a
// trend, as real ones do. The mart must find every planted lag within a day
// and call at least 90% of the controls insignificant; and its correlations
// must equal the method of dbt/README.md computed here independently.
func TestDbtHalo(t *testing.T) {
	w, d := newDbtWarehouse(t)

	world := newHaloWorld(20261206, []int{1, 2, 3, 4, 5, 6, 8, 10, 12, 14}, 30)
	rows := world.changes()
	for chunk := range slices.Chunk(rows, 1000) {
		insertProductDaily(t, w.URL, chunk)
	}
	d.run(t, "build", "--select", "+halo_ranking", "--indirect-selection", "cautious")

	// The method, recomputed in Go for every planted product and three
	// controls: daily correlations of views with sessions, weekly ones (by
	// rank) with search impressions, at every lag.
	for i, p := range world.products {
		if i >= 13 { // the ten planted products come first
			break
		}
		got := haloCorrelations(t, w.URL, p.key)
		for lag := 0; lag <= 14; lag++ {
			for _, c := range []struct {
				outcome string
				want    corrResult
			}{
				{"amazon_sessions", p.dailyCorrelation(world.start, lag)},
				{"amazon_search_impressions", p.weeklyCorrelation(world.start, lag)},
			} {
				g, ok := got[fmt.Sprintf("%s/%d", c.outcome, lag)]
				if !ok {
					t.Errorf("%s %s lag %d: no row in halo_by_lag", p.key, c.outcome, lag)
					continue
				}
				if g.n != c.want.n || math.Abs(g.r-c.want.r) > 1e-9 {
					t.Errorf("%s %s lag %d: correlation %.12f over %d pairs, want %.12f over %d", p.key, c.outcome, lag, g.r, g.n, c.want.r, c.want.n)
				}
			}
		}
	}

	// What the mart concludes.
	type ranked struct {
		rank, bestLag         int
		significant           bool
		bestOutcome, metric   string
		score, strength, pAdj float64
	}
	ranking := map[string]ranked{}
	for _, line := range strings.Split(strings.TrimSpace(dbtExec(t, w.URL, `SELECT product_key, rank, significant,
		best_outcome, best_lag_days, best_attention_metric, halo_score, strength, p_value_adjusted
		FROM analytics.halo_ranking ORDER BY rank`)), "\n") {
		f := strings.Split(line, "\t")
		ranking[f[0]] = ranked{rank: testenv.Atoi(t, f[1]), significant: f[2] == "true", bestOutcome: f[3], bestLag: testenv.Atoi(t, f[4]),
			metric: f[5], score: testenv.Atof(t, f[6]), strength: testenv.Atof(t, f[7]), pAdj: testenv.Atof(t, f[8])}
	}
	type outcomeHalo struct {
		lag         int
		significant bool
		strength    float64
		lift        string
	}
	perOutcome := map[string]outcomeHalo{}
	for _, line := range strings.Split(strings.TrimSpace(dbtExec(t, w.URL, `SELECT product_key, outcome, best_lag_days,
		significant, strength, lift FROM analytics.product_halo`)), "\n") {
		f := strings.Split(line, "\t")
		perOutcome[f[0]+"/"+f[1]] = outcomeHalo{lag: testenv.Atoi(t, f[2]), significant: f[3] == "true", strength: testenv.Atof(t, f[4]), lift: f[5]}
	}

	var planted, controls, controlsSignificant, lagsFound, weeklyLagsFound int
	lastPlantedRank := 0
	for _, p := range world.products {
		r, ok := ranking[p.key]
		if !ok {
			t.Errorf("%s: not in halo_ranking", p.key)
			continue
		}
		if p.lag < 0 {
			controls++
			if r.significant {
				controlsSignificant++
				t.Logf("control %s: significant halo (%s, lag %d, r %.2f, adjusted p %.2g)", p.key, r.bestOutcome, r.bestLag, r.strength, r.pAdj)
			}
			continue
		}
		planted++
		lastPlantedRank = max(lastPlantedRank, r.rank)
		t.Logf("planted lag %2d: %s best %s at lag %d via %s, r %.2f, adjusted p %.2g, rank %d",
			p.lag, p.key, r.bestOutcome, r.bestLag, r.metric, r.strength, r.pAdj, r.rank)
		if !r.significant || abs(r.bestLag-p.lag) > 1 {
			t.Errorf("%s: planted lag %d, halo_ranking says significant=%v at lag %d (%s)", p.key, p.lag, r.significant, r.bestLag, r.bestOutcome)
		} else {
			lagsFound++
		}
		// Sessions on their own show the halo at the lag, with a lift; units
		// (fewer, so noisier) at least peak there.
		for _, o := range []string{"amazon_sessions", "amazon_units"} {
			h := perOutcome[p.key+"/"+o]
			if abs(h.lag-p.lag) > 1 || (o == "amazon_sessions" && !h.significant) {
				t.Errorf("%s %s: planted lag %d, product_halo says significant=%v at lag %d", p.key, o, p.lag, h.significant, h.lag)
			}
			if lift, err := strconv.ParseFloat(h.lift, 64); err != nil || lift <= 0.2 {
				t.Errorf("%s %s: lift %s after spikes, want > 0.2", p.key, o, h.lift)
			}
		}
		// At weekly grain (about nine weeks, so rarely significant after
		// the correction) the lag still shows for most.
		h := perOutcome[p.key+"/amazon_search_impressions"]
		t.Logf("    weekly search impressions: lag %d, r %.2f, significant %v", h.lag, h.strength, h.significant)
		if abs(h.lag-p.lag) <= 1 {
			weeklyLagsFound++
		}
	}
	if weeklyLagsFound < planted*7/10 {
		t.Errorf("the weekly search impressions show the planted lag for %d of %d products, want at least 70%%", weeklyLagsFound, planted)
	}
	t.Logf("halo: %d of %d planted lags found within a day (weekly search impressions alone: %d); %d of %d controls significant (%.0f%% not)",
		lagsFound, planted, weeklyLagsFound, controlsSignificant, controls, 100*float64(controls-controlsSignificant)/float64(controls))
	if controls == 0 || float64(controlsSignificant) > 0.1*float64(controls) {
		t.Errorf("%d of %d controls have a significant halo; at most 10%% may", controlsSignificant, controls)
	}
	// Products with a halo rank above those without.
	for _, p := range world.products {
		if r := ranking[p.key]; p.lag < 0 && !r.significant && r.rank < lastPlantedRank {
			t.Errorf("control %s ranks %d, above a planted product (%d)", p.key, r.rank, lastPlantedRank)
		}
	}

	// Brand Analytics is weekly: the lift's before and after are means of
	// weekly totals, within the range of the product's weekly totals (a sum
	// of the totals carried on each day would be about seven times larger).
	for _, line := range strings.Split(strings.TrimSpace(dbtExec(t, w.URL, `SELECT h.product_key, h.outcome_baseline, h.outcome_after,
		w.lo, w.hi FROM analytics.product_halo AS h
		INNER JOIN (SELECT product_key, min(amazon_search_impressions) AS lo, max(amazon_search_impressions) AS hi
			FROM raw.product_daily FINAL GROUP BY product_key) AS w ON w.product_key = h.product_key
		WHERE h.outcome = 'amazon_search_impressions' AND h.spikes > 0`)), "\n") {
		f := strings.Split(line, "\t")
		lo, hi := testenv.Atof(t, f[3]), testenv.Atof(t, f[4])
		for _, v := range []float64{testenv.Atof(t, f[1]), testenv.Atof(t, f[2])} {
			if v < lo || v > hi {
				t.Errorf("%s search impressions: lift compares %v, outside the weekly totals %v..%v", f[0], v, lo, hi)
			}
		}
	}
	// Provenance: the comparisons of the estimated product rest wholly on
	// estimates, everyone else's on measurements; product_halo says so.
	dbtExpect(t, w.URL, `SELECT product_key = '`+estimatedProduct+`' AS estimated, min(attention_estimated_share), max(attention_estimated_share)
		FROM analytics.halo_by_lag GROUP BY estimated ORDER BY estimated`, "0\t0\t0\n1\t1\t1")
	dbtExpect(t, w.URL, `SELECT product_key = '`+estimatedProduct+`' AS estimated, groupUniqArray(attention_estimated)
		FROM analytics.product_halo GROUP BY estimated ORDER BY estimated`, "0\t[false]\n1\t[true]")
	// The daily rank exists only on the last 35 days: never filled before.
	dbtExpect(t, w.URL, `SELECT max(n) <= 35 FROM analytics.halo_by_lag WHERE outcome = 'amazon_best_sellers_rank'`, "1")
}

type corrResult struct {
	r float64
	n int
}

// haloCorrelations reads halo_by_lag's tiktok_views rows of one product,
// keyed outcome/lag.
func haloCorrelations(t *testing.T, baseURL, key string) map[string]corrResult {
	t.Helper()
	out := map[string]corrResult{}
	for _, line := range strings.Split(strings.TrimSpace(dbtExec(t, baseURL, `SELECT outcome, lag_days, n, correlation
		FROM analytics.halo_by_lag WHERE product_key = '`+key+`' AND attention_metric = 'tiktok_views'`)), "\n") {
		f := strings.Split(line, "\t")
		out[f[0]+"/"+f[1]] = corrResult{n: testenv.Atoi(t, f[2]), r: testenv.Atof(t, f[3])}
	}
	return out
}

// haloWorld is the synthetic history: days from a Sunday, one series per
// product and figure.
type haloWorld struct {
	start    time.Time
	days     int
	products []*haloProduct
}

type haloProduct struct {
	key string
	lag int // planted lag in days; -1 for a control
	// Daily figures; NaN = no row for the day (not reported).
	views, watch, saves, shares []float64
	sessions, units, rank       []float64
	impressions                 []float64 // daily, summed into weekly totals below
	weekImpressions             []float64 // per Sunday-to-Saturday week
}

var (
	// Weekday factors (Sunday first) both channels share across products.
	tiktokWeekday = [7]float64{1.25, 0.9, 0.9, 0.95, 1.0, 1.1, 1.3}
	amazonWeekday = [7]float64{1.15, 1.05, 0.95, 0.95, 0.95, 0.9, 1.05}
)

const haloRankDays = 35

// estimatedProduct is the planted product whose attention is estimated.
const estimatedProduct = "halo-planted-02" // the rank exists on the last haloRankDays days only

func newHaloWorld(seed uint64, plantedLags []int, controls int) *haloWorld {
	w := &haloWorld{start: time.Date(2026, 8, 30, 0, 0, 0, 0, time.UTC), days: 70}
	if w.start.Weekday() != time.Sunday {
		panic("the world must start on a Sunday")
	}
	lags := slices.Clone(plantedLags)
	for range controls {
		lags = append(lags, -1)
	}
	for i, lag := range lags {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		kind := "control"
		if lag >= 0 {
			kind = "planted"
		}
		w.products = append(w.products, w.product(rng, fmt.Sprintf("halo-%s-%02d", kind, i), lag))
	}
	return w
}

func (w *haloWorld) product(rng *rand.Rand, key string, lag int) *haloProduct {
	p := &haloProduct{key: key, lag: lag}
	n := w.days
	norm := func(sd float64) float64 { return math.Exp(rng.NormFloat64() * sd) }
	baseViews := 2000 * norm(0.5)
	// Three or four spikes, at least 12 days apart, with 16 quiet days first.
	var spikes []int
	for len(spikes) < 3+rng.IntN(2) {
		s := 16 + rng.IntN(n-30)
		if !slices.ContainsFunc(spikes, func(o int) bool { return abs(o-s) < 12 }) {
			spikes = append(spikes, s)
		}
	}
	excess := make([]float64, n) // views above the base
	lift := make([]float64, n)   // the planted relative lift of Amazon demand
	for _, s := range spikes {
		amp := baseViews * (10 + 20*rng.Float64())
		for d := s; d < n; d++ {
			excess[d] += amp * math.Pow(0.5, float64(d-s))
			if lag >= 0 && d+lag < n {
				lift[d+lag] += 0.04 * amp / baseViews * math.Pow(0.5, float64(d-s))
			}
		}
	}
	baseSessions, baseImpressions := 400*norm(0.3), 5000*norm(0.3)
	for d := range n {
		wd := (int(w.start.Weekday()) + d) % 7
		views := math.Round(baseViews*tiktokWeekday[wd]*norm(0.2) + excess[d])
		p.views = append(p.views, views)
		p.watch = append(p.watch, math.Round(views*9.5*norm(0.1)*100)/100)
		p.saves = append(p.saves, math.Round(views*0.012*norm(0.2)))
		p.shares = append(p.shares, math.Round(views*0.004*norm(0.2)))
		trend := 1 + 0.004*float64(d)
		sessions := math.Round(baseSessions * trend * amazonWeekday[wd] * norm(0.12) * (1 + lift[d]))
		units := math.Round(sessions * 0.12 * norm(0.15))
		p.sessions = append(p.sessions, sessions)
		p.units = append(p.units, units)
		rank := math.NaN()
		if d >= n-haloRankDays {
			rank = math.Round(20000 * math.Pow(40/(units+1), 0.9) * norm(0.1))
		}
		p.rank = append(p.rank, rank)
		p.impressions = append(p.impressions, baseImpressions*trend*amazonWeekday[wd]*norm(0.1)*(1+0.8*lift[d]))
	}
	for wk := 0; wk+7 <= n; wk += 7 {
		var sum float64
		for _, v := range p.impressions[wk : wk+7] {
			sum += v
		}
		p.weekImpressions = append(p.weekImpressions, math.Round(sum))
	}
	return p
}

// changes are the product_daily rows of the world, one version each.
func (w *haloWorld) changes() []dailyChange {
	var out []dailyChange
	for _, p := range w.products {
		for d := range w.days {
			day := w.start.AddDate(0, 0, d)
			weekStart := w.start.AddDate(0, 0, d/7*7)
			wk := p.weekImpressions[d/7]
			clicks, purchases := math.Round(wk*0.04), math.Round(wk*0.004)
			f := map[string]string{
				"tiktok_views": num(p.views[d]), "tiktok_watch_time_seconds": num(p.watch[d]),
				"tiktok_saves": num(p.saves[d]), "tiktok_shares": num(p.shares[d]),
				"amazon_sessions": num(p.sessions[d]), "amazon_units": num(p.units[d]),
				"amazon_search_period_start": sqlString(weekStart.Format(time.DateOnly)),
				"amazon_search_period_end":   sqlString(weekStart.AddDate(0, 0, 6).Format(time.DateOnly)),
				"amazon_search_impressions":  num(wk), "amazon_search_clicks": num(clicks), "amazon_search_purchases": num(purchases),
			}
			// One planted product's attention is all estimated (spread
			// lifetime totals); the rest is measured.
			f["tiktok_attention_provenance"] = "'measured'"
			if p.key == estimatedProduct {
				f["tiktok_attention_provenance"] = "'estimated'"
			}
			if !math.IsNaN(p.rank[d]) {
				f["amazon_best_sellers_rank_best"] = num(p.rank[d])
			}
			out = append(out, dailyChange{op: "create", ingestTS: "2026-11-09 08:00:00", version: 1, key: p.key,
				date: day.Format(time.DateOnly), figures: f})
		}
	}
	return out
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// dailyCorrelation is halo_by_lag's daily method for views against
// sessions, written from dbt/README.md: the views of day d less the mean
// views of that weekday, against log(1 + sessions) lag days later less its
// mean over the seven days before d, that difference less its mean per
// weekday.
func (p *haloProduct) dailyCorrelation(start time.Time, lag int) corrResult {
	weekday := func(d int) int { return (int(start.Weekday()) + d) % 7 }
	var sum, count [7]float64
	for d, v := range p.views {
		sum[weekday(d)] += v
		count[weekday(d)]++
	}
	l := make([]float64, len(p.sessions))
	for d, v := range p.sessions {
		l[d] = math.Log1p(v)
	}
	var xs, ys []float64
	var days []int
	for d := 7; d+lag < len(l); d++ {
		base := 0.0
		for _, v := range l[d-7 : d] {
			base += v / 7
		}
		xs = append(xs, p.views[d]-sum[weekday(d)]/count[weekday(d)])
		ys = append(ys, l[d+lag]-base)
		days = append(days, d)
	}
	var ysum, ycount [7]float64
	for i, d := range days {
		ysum[weekday(d)] += ys[i]
		ycount[weekday(d)]++
	}
	for i, d := range days {
		ys[i] -= ysum[weekday(d)] / ycount[weekday(d)]
	}
	return corrResult{r: pearson(xs, ys), n: len(xs)}
}

// weeklyCorrelation is halo_by_lag's weekly method for views against search
// impressions: each week's total against the views of the seven days lag
// days earlier (only windows inside the history), as week-over-week changes
// of log(1 + x) between consecutive weeks, by Kendall's tau-a.
func (p *haloProduct) weeklyCorrelation(start time.Time, lag int) corrResult {
	window := make([]float64, len(p.weekImpressions))
	for wk := range window {
		from := wk*7 - lag
		if from < 0 {
			window[wk] = math.NaN()
			continue
		}
		for _, v := range p.views[from : from+7] {
			window[wk] += v
		}
	}
	var xs, ys []float64
	for wk := 1; wk < len(window); wk++ {
		x := math.Log1p(window[wk]) - math.Log1p(window[wk-1])
		if math.IsNaN(x) {
			continue
		}
		xs = append(xs, x)
		ys = append(ys, math.Log1p(p.weekImpressions[wk])-math.Log1p(p.weekImpressions[wk-1]))
	}
	return corrResult{r: kendall(xs, ys), n: len(xs)}
}

// kendall is Kendall's tau-a: concordant less discordant pairs over all
// pairs (ties count neither way).
func kendall(x, y []float64) float64 {
	n := len(x)
	sign := func(v float64) float64 {
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return 0
	}
	var c float64
	for i := range n {
		for j := i + 1; j < n; j++ {
			c += sign(x[i]-x[j]) * sign(y[i]-y[j])
		}
	}
	return c / float64(n*(n-1)/2)
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i] / n
		my += y[i] / n
	}
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func abs(v int) int { return max(v, -v) }
