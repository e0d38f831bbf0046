package stage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// cutter cancels the stage's context after a number of requests, so a step
// dies mid-window: after some of its calls, before its commit.
type cutter struct {
	next   http.RoundTripper
	left   atomic.Int64
	cancel atomic.Pointer[context.CancelFunc]
}

func (c *cutter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.left.Add(-1) == 0 {
		if f := c.cancel.Load(); f != nil {
			(*f)()
		}
	}
	return c.next.RoundTrip(r)
}

type amazonRun struct {
	faults   fault.Config
	fatal    float64
	restarts bool // reopen the stage every few steps and kill some steps mid-window
	days     int
}

type amazonResult struct {
	w       *simworld.World
	env     *testenv.Kafka
	since   time.Time
	end     time.Time
	steps   int
	retries int
	stats   map[string]amazon.OperationStats
}

func runAmazon(t *testing.T, o amazonRun) amazonResult {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	since := simworld.DefaultStart
	clock := simworld.NewManualClock(since)
	w := simworld.MustNew(simworld.Config{Seed: 5, Clock: clock, Scale: simworld.Scale{Products: 5, AmazonOrdersPerMinute: 0.03}})
	sim := amazontest.New(w, amazontest.Options{Faults: o.faults, ReportFatalRate: o.fatal})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cut := &cutter{next: srv.Client().Transport}
	creds := sim.Credentials()
	client, err := amazon.NewClient(amazon.Config{
		Endpoint: srv.URL, TokenURL: srv.URL + "/auth/o2/token",
		Credentials:   amazon.Credentials{ClientID: creds.ClientID, ClientSecret: secret.Secret(creds.ClientSecret), RefreshToken: secret.Secret(creds.RefreshToken)},
		MarketplaceID: creds.MarketplaceID, ReportZone: w.Config().AmazonZone,
		HTTPClient: &http.Client{Transport: cut}, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := stage.AmazonConfig{Kafka: kafkaOf(env), Client: client, Since: since, Clock: clock, RetryAfter: 6 * time.Hour}
	open := func(ctx context.Context) *stage.Amazon {
		st, err := stage.OpenAmazon(ctx, cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return st
	}
	res := amazonResult{w: w, env: env, since: since}
	st := open(ctx)
	end := since.Add(time.Duration(o.days) * 24 * time.Hour)
	kills := 0
	for clock.Now().Before(end) {
		clock.Advance(6 * time.Hour)
		for i := 0; ; i++ {
			if i > 2000 {
				t.Fatal("stage never caught up")
			}
			sctx, cancel := context.WithCancel(ctx)
			if o.restarts && res.steps%7 == 3 {
				// Kill this step after a few requests: whatever it
				// produced is never committed.
				cut.left.Store(int64(2 + res.steps%5))
				cut.cancel.Store(&cancel)
			}
			p, err := st.Step(sctx)
			cut.cancel.Store(nil)
			cut.left.Store(0)
			cancel()
			res.steps++
			if err != nil {
				if !o.restarts || !errors.Is(err, context.Canceled) {
					t.Fatalf("step: %v", err)
				}
				kills++
				st.Close()
				st = open(ctx)
				continue
			}
			if !p.Done {
				// Caught up: the backlog says every day published is read.
				if bl := st.Backlog(clock.Now()); bl.Done < bl.Days-1.0/24 {
					t.Fatalf("idle at %s with a backlog of %.2f of %.2f days read", clock.Now(), bl.Done, bl.Days)
				}
				break
			}
			if o.restarts && res.steps%5 == 0 {
				st.Close() // restart between windows
				st = open(ctx)
			}
		}
	}
	res.retries = len(st.PendingRetries())
	st.Close()
	if o.restarts && kills == 0 {
		t.Fatal("no step was killed mid-window")
	}
	res.end = clock.Now()
	res.stats = client.Stats()
	t.Logf("%d steps, %d killed mid-window, %d FATAL retries pending, simulated end %s", res.steps, kills, res.retries, res.end)
	return res
}

// checkAmazon compares what landed in Kafka with the world's ground truth.
func checkAmazon(t *testing.T, r amazonResult) {
	t.Helper()
	truth := r.w.TruthAt(r.end)
	mkt := r.w.Config().MarketplaceID
	zone := r.w.Config().AmazonZone

	orders := readTopic(t, r.env, schemas.TopicAmazonOrders)
	checkNoDuplicates(t, schemas.TopicAmazonOrders, orders)
	items := readTopic(t, r.env, schemas.TopicAmazonOrderItems)
	checkNoDuplicates(t, schemas.TopicAmazonOrderItems, items)
	lastOrders, lastItems := latest(orders), latest(items)
	settled := r.end.Add(-15 * time.Minute)
	n := 0
	for _, s := range truth.AmazonOrders(r.since, settled) {
		key := mkt + ":" + s.AmazonOrderID
		got, ok := lastOrders[key]
		if !ok {
			t.Errorf("order %s missing", key)
			continue
		}
		if s.LastUpdateDate.Before(settled) {
			n++
			if got["order_status"] != s.Status || !got["last_update_date"].(time.Time).Equal(s.LastUpdateDate.Truncate(time.Second)) {
				t.Errorf("order %s: got %v at %v, truth %s at %s", key, got["order_status"], got["last_update_date"], s.Status, s.LastUpdateDate)
			}
		}
		for _, it := range s.Items {
			ik := key + ":sku:" + it.SellerSKU
			gi, ok := lastItems[ik]
			if !ok {
				t.Errorf("order item %s missing", ik)
				continue
			}
			if asInt(gi["quantity_ordered"]) != int64(it.Quantity) {
				t.Errorf("order item %s: quantity %v, truth %d", ik, gi["quantity_ordered"], it.Quantity)
			}
		}
	}
	if n == 0 || len(lastOrders) < n {
		t.Fatalf("orders: %d settled in truth, %d keys in Kafka", n, len(lastOrders))
	}

	// Sales & Traffic: the latest version of every row of a settled day is
	// the settled figure; days read more than once were restated.
	st := readTopic(t, r.env, schemas.TopicAmazonSalesTraffic)
	checkNoDuplicates(t, schemas.TopicAmazonSalesTraffic, st)
	lastST := latest(st)
	versions := map[string]int{}
	for _, x := range st {
		versions[x.key]++
	}
	restated, days := 0, 0
	for d := simworld.DateOf(r.since, zone); r.w.SettledAt(d).Add(amazon.DefaultRestatementLookback).Before(r.end.Add(-time.Hour)); d = d.AddDays(1) {
		rows, _ := truth.SalesTrafficSettled(d)
		days++
		for _, row := range rows {
			key := mkt + ":" + d.String() + ":" + row.ParentASIN + ":" + row.ASIN + ":" + row.SKU
			got, ok := lastST[key]
			if !ok {
				if row.UnitsOrdered > 0 || row.Sessions() > 0 {
					t.Errorf("sales & traffic %s missing", key)
				}
				continue
			}
			if asInt(got["units_ordered"]) != int64(row.UnitsOrdered) || asInt(got["sessions"]) != int64(row.Sessions()) ||
				cents(got["ordered_product_sales"]) != row.OrderedProductSales {
				t.Errorf("sales & traffic %s: units %v sessions %v sales %v; settled %d %d %s", key,
					un(got["units_ordered"]), un(got["sessions"]), un(got["ordered_product_sales"]), row.UnitsOrdered, row.Sessions(), row.OrderedProductSales)
			}
			if versions[key] > 1 {
				restated++
			}
		}
	}
	if days == 0 || restated == 0 {
		t.Fatalf("sales & traffic: %d settled days checked, %d rows restated", days, restated)
	}

	// Brand Analytics: every published week's search terms, once per
	// (department, term) and week.
	terms := readTopic(t, r.env, schemas.TopicAmazonSearchTerms)
	checkNoDuplicates(t, schemas.TopicAmazonSearchTerms, terms)
	lastTerms := latest(terms)
	weeks := 0
	for _, p := range amazon.CompleteWeeks(amazon.DateOf(r.since, zone), r.end.Add(-6*time.Hour), zone) {
		sp, err := simworld.ExactPeriod("WEEK", simworld.Date(p.Start), simworld.Date(p.End))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, row := range truth.SearchTerms(sp) {
			want[mkt+":WEEK:"+p.Start.String()+":"+row.DepartmentName+":"+row.SearchTerm] = true
		}
		weeks++
		for k := range want {
			if _, ok := lastTerms[k]; !ok {
				t.Errorf("search term %s missing", k)
			}
		}
	}
	if weeks == 0 || len(lastTerms) == 0 {
		t.Fatalf("brand analytics: %d weeks, %d terms", weeks, len(lastTerms))
	}
	// Months and quarters too: the month and the quarter the history
	// starts in ended before the run did and were published.
	for _, kind := range []string{simworld.PeriodMonth, simworld.PeriodQuarter} {
		p, _ := simworld.PeriodOf(kind, simworld.DateOf(r.since, zone))
		if !p.AvailableAt(zone).Before(r.end.Add(-6 * time.Hour)) {
			t.Fatalf("%s %s not published by the end of the run: the check shows nothing", kind, p.Start)
		}
		rows := truth.SearchTerms(p)
		for _, row := range rows {
			if k := mkt + ":" + kind + ":" + p.Start.String() + ":" + row.DepartmentName + ":" + row.SearchTerm; lastTerms[k] == nil {
				t.Errorf("search term %s missing", k)
			}
		}
		if len(rows) == 0 {
			t.Errorf("%s %s: no search terms in the truth", kind, p.Start)
		}
	}
	sqp := readTopic(t, r.env, schemas.TopicAmazonSearchQueryPerformance)
	checkNoDuplicates(t, schemas.TopicAmazonSearchQueryPerformance, sqp)

	// Catalog: every ASIN with sales or traffic has a snapshot, and the
	// last snapshot's ASIN is the truth's.
	cat := readTopic(t, r.env, schemas.TopicAmazonCatalog)
	checkNoDuplicates(t, schemas.TopicAmazonCatalog, cat)
	lastCat := latest(cat)
	for _, x := range lastST {
		asin := x["child_asin"]
		if asin == nil {
			continue
		}
		if _, ok := lastCat[mkt+":"+un(asin).(string)]; !ok {
			t.Errorf("catalog of %v missing", asin)
		}
	}
	t.Logf("orders %d records/%d keys, items %d/%d, sales&traffic %d/%d (%d restated rows over %d days), terms %d, sqp %d, catalog %d/%d",
		len(orders), len(lastOrders), len(items), len(lastItems), len(st), len(lastST), restated, days, len(terms), len(sqp), len(cat), len(lastCat))
}

// TestAmazonStageMatchesTruth: a seeded world ingested over 16 simulated
// days; orders with lines, Sales & Traffic (restated days at their settled
// figures), Brand Analytics weeks and the catalog equal the ground truth,
// with one record per (key, version) and unique event ids.
func TestAmazonStageMatchesTruth(t *testing.T) {
	checkAmazon(t, runAmazon(t, amazonRun{days: 16}))
}

// TestAmazonStageUnderFaultsAndRestarts: the same with 5xx, throttles and
// cut-short bodies injected, FATAL reports (recorded, retried later, other
// work going on), and the stage killed mid-window and restarted from its
// cursors between windows.
func TestAmazonStageUnderFaultsAndRestarts(t *testing.T) {
	r := runAmazon(t, amazonRun{days: 16, restarts: true, fatal: 0.1,
		faults: fault.Config{ServerErrorRate: 0.04, ThrottleRate: 0.04, MalformedRate: 0.03}})
	checkAmazon(t, r)
	var throttled, failed int
	for _, s := range r.stats {
		throttled += s.Throttled
		failed += s.ServerErrors + s.Malformed
	}
	if throttled == 0 || failed == 0 {
		t.Fatalf("no faults were injected: %d throttled, %d failed", throttled, failed)
	}
	if n := fatalsRecorded(t, r); n == 0 {
		t.Fatal("no FATAL report was recorded for a retry")
	} else {
		t.Logf("%d FATAL reports recorded and retried", n)
	}
}

// fatalsRecorded counts the FATAL reports the stage put on record in the
// cursor topic (retry cursors with a reason).
func fatalsRecorded(t *testing.T, r amazonResult) int {
	n := 0
	for _, c := range readTopic(t, r.env, "shopstream.cursors") {
		name, _ := c.v["cursor_name"].(string)
		if len(name) > 6 && name[:6] == "retry/" && un(c.v["position"]) != nil && un(c.v["position"]) != "" {
			n++
		}
	}
	return n
}
