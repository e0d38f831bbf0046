package amazon

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

func TestSalesTrafficRestatedDaysConvergeToSettled(t *testing.T) {
	start := simworld.DefaultStart.Add(24 * time.Hour)
	e := newEnv(t, envOptions{start: start})
	ctx := context.Background()
	zone := e.cl.ReportZone()
	since := DateOf(simworld.DefaultStart, zone).AddDays(1)
	latest := map[string]Record{}
	fetches := map[Date]int{}
	var lastRun time.Time
	// Run twice a day for eight simulated days.
	for run := 0; run < 16; run++ {
		now := e.clock.Now()
		for _, d := range SalesTrafficDays(since, lastRun, now, zone, DefaultRestatementLookback) {
			res, err := e.cl.SalesAndTrafficDay(ctx, d)
			if err != nil {
				t.Fatalf("run %d day %s: %v", run, d, err)
			}
			fetches[d]++
			recs, err := e.cl.Mapper().SalesTraffic(res)
			if err != nil {
				t.Fatal(err)
			}
			encodeAll(t, recs)
			for _, r := range recs {
				if old, ok := latest[r.Key]; ok && !r.Value["source_ts"].(time.Time).After(old.Value["source_ts"].(time.Time)) {
					t.Fatalf("%s: re-read is not newer", r.Key)
				}
				latest[r.Key] = r
			}
		}
		lastRun = now
		e.clock.Set(now.Add(12 * time.Hour))
	}
	settledDays := 0
	for d, n := range fetches {
		settled := e.world.SettledAt(d)
		if settled.After(lastRun) {
			continue // still within its restatement window
		}
		settledDays++
		if n < 3 {
			t.Errorf("day %s read %d times; restated days must be read again", d, n)
		}
		rows, _ := e.world.TruthAt(lastRun).SalesTrafficSettled(d)
		if len(rows) == 0 {
			t.Fatalf("day %s has no truth rows", d)
		}
		for _, row := range rows {
			key := strings.Join([]string{e.creds.MarketplaceID, d.String(), row.ParentASIN, row.ASIN, row.SKU}, ":")
			r, ok := latest[key]
			if !ok {
				t.Fatalf("no record %s", key)
			}
			v := r.Value
			sales := v["ordered_product_sales"].(interface{ FloatString(int) string }).FloatString(2)
			if v["units_ordered"] != int64(row.UnitsOrdered) || v["total_order_items"] != int64(row.TotalOrderItems) ||
				sales != row.OrderedProductSales.String() || v["sessions"] != int64(row.Sessions()) ||
				v["page_views"] != int64(row.PageViews()) {
				t.Fatalf("%s: latest record units=%v items=%v sales=%v sessions=%v views=%v; settled truth %+v",
					key, v["units_ordered"], v["total_order_items"], sales, v["sessions"], v["page_views"], row)
			}
		}
	}
	if settledDays < 3 {
		t.Fatalf("only %d days settled during the run", settledDays)
	}
	assertBucketsRespected(t, e.rec.snapshot())
}

func TestFatalReportCarriesItsReason(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(5 * 24 * time.Hour), sim: amazontest.Options{ReportFatalRate: 1}})
	ctx := context.Background()
	_, err := e.cl.SalesAndTrafficDay(ctx, DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(2))
	var fe *ReportFatalError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *ReportFatalError", err)
	}
	if fe.ReportID == "" || fe.ReportType != ReportSalesAndTraffic || !strings.Contains(fe.Reason, "internal error") {
		t.Fatalf("fatal error %+v", fe)
	}

	// A period that is not a Sunday–Saturday week is FATAL with the
	// simulator's explanation; the other batches are not held up.
	e2 := newEnv(t, envOptions{start: simworld.DefaultStart.Add(20 * 24 * time.Hour)})
	bad := Period{Kind: "WEEK", Start: Date{Year: 2026, Month: 1, Day: 5}, End: Date{Year: 2026, Month: 1, Day: 11}}
	batches, err := e2.cl.SearchQueryPerformance(ctx, bad, []string{"B000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 || !errors.As(batches[0].Err, &fe) || !strings.Contains(fe.Reason, "reportPeriod") {
		t.Fatalf("batches %+v", batches)
	}
}

// expireOnce advances the simulated clock past the document URL's lifetime
// before the first download, as if the client had been slow.
type expireOnce struct {
	next  http.RoundTripper
	clock *simworld.ManualClock
	done  atomic.Bool
}

func (x *expireOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, amazontest.DocumentPathPrefix) && x.done.CompareAndSwap(false, true) {
		x.clock.Advance(6 * time.Minute)
	}
	return x.next.RoundTrip(r)
}

func TestExpiredDocumentURLIsFetchedAgain(t *testing.T) {
	var x *expireOnce
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(5 * 24 * time.Hour), client: func(c *Config) {
		x = &expireOnce{next: c.HTTPClient.Transport}
		c.HTTPClient = &http.Client{Transport: x}
	}})
	x.clock = e.clock
	res, err := e.cl.SalesAndTrafficDay(context.Background(), DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(2))
	if err != nil {
		t.Fatal(err)
	}
	if res.Report == nil || len(res.Report.SalesAndTrafficByAsin) == 0 {
		t.Fatal("no rows")
	}
	if n := e.rec.count(OpGetReportDocument, http.StatusOK); n != 2 {
		t.Fatalf("%d getReportDocument calls, want 2 (one for the expired URL)", n)
	}
	if n := e.rec.count(OpDownload, http.StatusForbidden); n != 1 {
		t.Fatalf("%d refused downloads, want 1", n)
	}
}

func TestBrandAnalyticsWeeksMatchTruth(t *testing.T) {
	now := simworld.DefaultStart.Add(20 * 24 * time.Hour)
	e := newEnv(t, envOptions{start: now})
	ctx := context.Background()
	zone := e.cl.ReportZone()
	weeks := CompleteWeeks(DateOf(simworld.DefaultStart, zone), now, zone)
	if len(weeks) == 0 {
		t.Fatal("no complete weeks")
	}
	for _, w := range weeks {
		if w.Start.Weekday() != time.Sunday || w.End.Weekday() != time.Saturday {
			t.Fatalf("week %+v is not Sunday–Saturday", w)
		}
		if w.End.End(zone).Add(BrandAnalyticsLatency).After(now) {
			t.Fatalf("week %+v is not published yet", w)
		}
	}
	w := weeks[len(weeks)-1]
	sp := simworld.Period{Kind: "WEEK", Start: w.Start, End: w.End}
	truth := e.world.TruthAt(now)

	st, err := e.cl.SearchTerms(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	want := truth.SearchTerms(sp)
	if len(st.Report.Rows) != len(want) {
		t.Fatalf("%d search term rows, truth %d", len(st.Report.Rows), len(want))
	}
	for i, r := range st.Report.Rows {
		x := want[i]
		if r.SearchTerm != x.SearchTerm || r.ClickedAsin != x.ClickedASIN || r.ClickShareRank != int64(x.ClickShareRank) || r.SearchFrequencyRank != int64(x.SearchFrequencyRank) {
			t.Fatalf("row %d: %+v, truth %+v", i, r, x)
		}
	}
	recs, err := e.cl.Mapper().SearchTerms(st)
	if err != nil {
		t.Fatal(err)
	}
	encodeAll(t, recs)

	var asins []string
	for _, v := range e.world.AmazonVariants() {
		asins = append(asins, v.Amazon.ASIN)
	}
	sort.Strings(asins)
	batches, err := e.cl.SearchQueryPerformance(ctx, w, asins)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) < 2 {
		t.Fatalf("%d ASINs in %d batches", len(asins), len(batches))
	}
	for _, b := range batches {
		if errors.Is(b.Err, ErrReportCancelled) {
			continue // none of the batch's ASINs had search data
		}
		if b.Err != nil {
			t.Fatal(b.Err)
		}
		n := 0
		for _, a := range b.ASINs {
			n += len(truth.SearchQueryPerformance(a, sp))
		}
		if len(b.Report.Rows) != n {
			t.Fatalf("batch %v: %d rows, truth %d", b.ASINs, len(b.Report.Rows), n)
		}
		recs, err := e.cl.Mapper().SearchQueryPerformance(b)
		if err != nil {
			t.Fatal(err)
		}
		encodeAll(t, recs)
	}

	// Last week ended less than 72 h ago and is not published: Amazon
	// cancels the report.
	cur := WeekOf(DateOf(now, zone).AddDays(-7))
	if cur == w {
		t.Fatal("last week is already published; move the clock")
	}
	if _, err := e.cl.SearchTerms(ctx, cur); !errors.Is(err, ErrReportCancelled) {
		t.Fatalf("unpublished week: %v", err)
	}
	assertBucketsRespected(t, e.rec.snapshot())
}

func TestCatalogSnapshotAndThrottleBackoff(t *testing.T) {
	// The simulator grants a quarter of the published rate and half the
	// burst. The client learns the rate from x-amzn-RateLimit-Limit; the
	// smaller bucket shows up as a 429, after which it waits at least one
	// refill interval (1/rate) before trying again.
	e := newEnv(t, envOptions{sim: amazontest.Options{RateLimits: map[string]amazontest.UsagePlan{"getCatalogItem": {Rate: 0.5, Burst: 1}}}})
	ctx := context.Background()
	var asins []string
	for _, v := range e.world.AmazonVariants() {
		asins = append(asins, v.Amazon.ASIN)
	}
	asins = append(asins, "B0NOTREAL0")
	items, errs, err := e.cl.CatalogSnapshot(ctx, asins)
	if err != nil {
		t.Fatal(err)
	}
	var ae *APIError
	if len(errs) != 1 || !errors.As(errs["B0NOTREAL0"], &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("errors %v", errs)
	}
	if len(items) != len(asins)-1 {
		t.Fatalf("%d items for %d ASINs", len(items), len(asins)-1)
	}
	st := e.cl.Stats()[OpGetCatalogItem]
	if st.RateLimit != 0.5 {
		t.Fatalf("client did not adopt the header's rate: %+v", st)
	}
	if thr := e.rec.count(OpGetCatalogItem, http.StatusTooManyRequests); thr == 0 {
		t.Fatal("no 429: the test does not exercise throttling")
	} else if thr > 2 {
		t.Fatalf("%d throttled catalog calls: the client kept hammering", thr)
	}
	hits := e.rec.snapshot()
	for i, h := range hits {
		if h.op != OpGetCatalogItem || h.status != http.StatusTooManyRequests {
			continue
		}
		for _, n := range hits[i+1:] {
			if n.op == OpGetCatalogItem {
				if gap := n.at.Sub(h.at); gap < 2*time.Second {
					t.Fatalf("retried %s after a 429; want at least 1/rate = 2s", gap)
				}
				break
			}
		}
	}
	truth := e.world.TruthAt(e.clock.Now())
	m := e.cl.Mapper()
	var recs []Record
	for _, it := range items {
		r, err := m.CatalogItem(it, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ce, _ := truth.CatalogItem(it.ASIN)
		if got := r.Value["identifiers"].([]any); len(got) != len(ce.Identifiers) {
			t.Fatalf("%s: %d identifiers, truth %d", it.ASIN, len(got), len(ce.Identifiers))
		}
		cr := r.Value["classification_ranks"].([]any)
		if len(cr) != 1 || cr[0].(map[string]any)["rank"] != int64(ce.SalesRank.ClassificationRank) {
			t.Fatalf("%s: ranks %v, truth %+v", it.ASIN, cr, ce.SalesRank)
		}
		recs = append(recs, r)
	}
	encodeAll(t, recs)
}

func TestReportsUnderFaultsEqualTruth(t *testing.T) {
	e := newEnv(t, envOptions{
		start: simworld.DefaultStart.Add(10 * 24 * time.Hour),
		sim: amazontest.Options{Faults: fault.Config{
			ServerErrorRate: 0.1, ThrottleRate: 0.05, MalformedRate: 0.15, TimeoutRate: 0.05,
			// Hangs end in a 504 after 20 ms: createReport is a POST whose
			// body the injector never reads, so it could not notice the
			// client giving up (see TestOrdersUnderFaultsEqualTruth).
			TimeoutDelay: 20 * time.Millisecond,
			PathPrefixes: []string{"/reports/", amazontest.DocumentPathPrefix, "/catalog/"},
		}},
		client: func(c *Config) { c.MaxAttempts = 12 },
	})
	ctx := context.Background()
	zone := e.cl.ReportZone()
	for i := 1; i <= 4; i++ {
		d := DateOf(simworld.DefaultStart, zone).AddDays(i)
		res, err := e.cl.SalesAndTrafficDay(ctx, d)
		if err != nil {
			t.Fatalf("day %s: %v", d, err)
		}
		rows, _ := e.world.TruthAt(e.clock.Now()).SalesTrafficSettled(d)
		if len(res.Report.SalesAndTrafficByAsin) != len(rows) {
			t.Fatalf("day %s: %d rows, truth %d", d, len(res.Report.SalesAndTrafficByAsin), len(rows))
		}
		got := map[string]SalesTrafficByAsin{}
		for _, r := range res.Report.SalesAndTrafficByAsin {
			got[r.SKU] = r
		}
		for _, row := range rows {
			g, ok := got[row.SKU]
			if !ok || g.SalesByAsin.UnitsOrdered != int64(row.UnitsOrdered) || g.SalesByAsin.OrderedProductSales.Amount.String() != row.OrderedProductSales.String() ||
				g.TrafficByAsin.Sessions != int64(row.Sessions()) {
				t.Fatalf("day %s sku %s: %+v, truth %+v", d, row.SKU, g, row)
			}
		}
	}
	counts := e.sim.Faults().Counts()
	if counts[fault.Malformed] == 0 || counts[fault.ServerError] == 0 {
		t.Fatalf("faults %v", counts)
	}
	if e.cl.Stats()[OpDownload].Malformed == 0 && e.cl.Stats()[OpGetReport].Malformed == 0 {
		t.Logf("stats %+v", e.cl.Stats())
	}
	t.Logf("faults %v", counts)
}

func TestReportPollingBacksOffAndTokenEndpointFaultsAreRetried(t *testing.T) {
	e := newEnv(t, envOptions{
		start: simworld.DefaultStart.Add(5 * 24 * time.Hour),
		sim: amazontest.Options{Faults: fault.Config{ServerErrorRate: 0.5, PathPrefixes: []string{"/auth/o2/"}},
			// Reports take 10–20 min here, so polling must back off.
			ReportQueueTime: [2]time.Duration{5 * time.Minute, 10 * time.Minute}, ReportProcessingTime: [2]time.Duration{5 * time.Minute, 10 * time.Minute}},
	})
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if _, err := e.cl.SalesAndTrafficDay(ctx, DateOf(simworld.DefaultStart, e.cl.ReportZone()).AddDays(i)); err != nil {
			t.Fatal(err)
		}
	}
	if e.sim.Faults().Counts()[fault.ServerError] == 0 {
		t.Fatal("no token endpoint fault injected")
	}
	// Polls start 15 s apart and grow by half up to 2 min: a 20-minute
	// report needs about a dozen polls, not the 80 of fixed 15 s polling.
	if n := e.rec.count(OpGetReport, 0); n > 3*16 {
		t.Fatalf("%d getReport polls for 3 reports", n)
	}
	var prev time.Time
	var gaps []time.Duration
	for _, h := range e.rec.snapshot() {
		if h.op == OpCreateReport {
			prev = time.Time{}
		}
		if h.op != OpGetReport {
			continue
		}
		if !prev.IsZero() {
			gaps = append(gaps, h.at.Sub(prev))
		}
		prev = h.at
	}
	if len(gaps) < 4 || gaps[3] <= gaps[0] {
		t.Fatalf("poll intervals do not grow: %v", gaps)
	}
}
