package amazon

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

type version struct {
	status string
	at     time.Time
}

// pollOrders runs an OrderPoller from the world's start for runs polls,
// advancing the simulated clock by step between polls, and returns every
// order version it emitted and the poller's final cursor. It fails on a
// version emitted twice.
func pollOrders(t *testing.T, e *env, runs int, step time.Duration) (map[string][]version, []Order, pollEnd) {
	t.Helper()
	ctx := context.Background()
	p := e.cl.NewOrderPoller(e.world.Start(), OrderPollerOptions{MaxWindow: 12 * time.Hour})
	got := map[string][]version{}
	var all []Order
	seen := map[string]bool{}
	var end pollEnd
	for i := 0; i < runs; i++ {
		for {
			w, err := p.Poll(ctx)
			if err != nil {
				t.Fatalf("poll %d: %v", i, err)
			}
			if !w.Before.After(w.After) {
				break
			}
			for _, o := range w.Orders {
				k := o.AmazonOrderID + "|" + o.LastUpdateDate
				if seen[k] {
					t.Fatalf("order version %s emitted twice", k)
				}
				seen[k] = true
				lu, err := parseTime(o.LastUpdateDate)
				if err != nil {
					t.Fatal(err)
				}
				got[o.AmazonOrderID] = append(got[o.AmazonOrderID], version{o.OrderStatus, lu})
				all = append(all, o)
			}
			if w.Before.Equal(p.Cursor()) && e.clock.Now().Sub(w.Before) < time.Hour {
				break
			}
		}
		end = pollEnd{cursor: p.Cursor(), last: e.clock.Now()}
		e.clock.Advance(step)
	}
	return got, all, end
}

// pollEnd is where polling stopped: the cursor, and the simulated time of
// the last request, whose getOrders snapshot was at most two minutes older.
type pollEnd struct{ cursor, last time.Time }

// checkOrdersAgainstTruth compares the latest emitted version of every order
// with the world's truth: every order purchased up to the cursor whose
// current state was last updated by the cursor must have been emitted, in
// exactly that state. Orders updated after the cursor belong to the next
// window and are only counted.
func checkOrdersAgainstTruth(t *testing.T, e *env, got map[string][]version, end pollEnd) {
	t.Helper()
	// getOrders reads the world two minutes in the past. An order whose
	// state at the latest snapshot any request could have used was last
	// updated by the cursor has had that state since before the last
	// window's snapshot, so the poller must have returned it.
	cursor := end.cursor
	asOf := end.last.Add(-2 * time.Minute)
	truth := e.world.TruthAt(asOf).AmazonOrders(e.world.Start(), cursor.Add(time.Nanosecond))
	if len(truth) < 100 {
		t.Fatalf("world too small: %d orders", len(truth))
	}
	pending := 0
	for _, st := range truth {
		// The simulator filters on the world's sub-second times.
		if st.LastUpdateDate.After(cursor) {
			pending++
			continue
		}
		vs := got[st.AmazonOrderID]
		if len(vs) == 0 {
			t.Fatalf("order %s (updated %s, cursor %s) never emitted", st.AmazonOrderID, st.LastUpdateDate, cursor)
		}
		last := vs[len(vs)-1]
		// The API renders dates to the second; the world keeps more.
		if last.status != st.Status || !last.at.Equal(st.LastUpdateDate.Truncate(time.Second)) {
			t.Fatalf("order %s: emitted %s@%s, truth %s@%s", st.AmazonOrderID, last.status, last.at, st.Status, st.LastUpdateDate)
		}
	}
	if len(got) > len(truth) {
		t.Fatalf("emitted %d orders, truth has %d", len(got), len(truth))
	}
	t.Logf("%d orders, %d updated after the cursor", len(truth), pending)
}

func TestOrderPollerReturnsEveryOrderVersionOnceWithinRateLimits(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(30 * time.Hour)})
	got, all, cursor := pollOrders(t, e, 8, 47*time.Minute)
	checkOrdersAgainstTruth(t, e, got, cursor)

	hits := e.rec.snapshot()
	assertBucketsRespected(t, hits)
	if n := e.rec.count(OpGetOrders, http.StatusTooManyRequests); n != 0 {
		t.Fatalf("simulator throttled getOrders %d times", n)
	}
	// A backfill of 30 h in 12 h windows with 100 orders a page uses more
	// pages than the burst of 20, so the limiter must have made it wait.
	if n := e.rec.count(OpGetOrders, 0); n <= 20 {
		t.Fatalf("only %d getOrders calls: the test does not exercise the bucket", n)
	}
	var recs []Record
	m := e.cl.Mapper()
	for _, o := range all[:200] {
		r, err := m.Order(o)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.creds.MarketplaceID + ":" + o.AmazonOrderID; r.Key != want {
			t.Fatalf("key %q, want %q", r.Key, want)
		}
		recs = append(recs, r)
	}
	encodeAll(t, recs)
}

func TestOrdersUnderFaultsEqualTruth(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, envOptions{
		start: simworld.DefaultStart.Add(20 * time.Hour),
		sim: amazontest.Options{Faults: fault.Config{
			ServerErrorRate: 0.15, ThrottleRate: 0.1, MalformedRate: 0.15, TimeoutRate: 0.05,
			// Only API paths: the injector cannot notice a client giving up
			// on a hung request whose body it never read (POST token), so
			// such a hang would hold the server for MaxHang.
			PathPrefixes: []string{"/orders/"},
		}},
		// A hung request is abandoned after 100 ms of wall time: the only
		// wall-clock wait in the tests, and one that cannot make it flaky
		// (a hang lasts until the client gives up).
		client: func(c *Config) { c.AttemptTimeout = 100 * time.Millisecond; c.MaxAttempts = 12; c.Registerer = reg },
	})
	got, _, cursor := pollOrders(t, e, 40, 13*time.Minute)
	checkOrdersAgainstTruth(t, e, got, cursor)
	counts := e.sim.Faults().Counts()
	for _, k := range []fault.Kind{fault.ServerError, fault.Throttle, fault.Malformed, fault.Timeout} {
		if counts[k] == 0 {
			t.Errorf("no %s fault injected: %v", k, counts)
		}
	}
	st := e.cl.Stats()[OpGetOrders]
	if st.Retries == 0 || st.Malformed == 0 || st.Throttled == 0 {
		t.Fatalf("stats do not show retries: %+v", st)
	}
	// The metrics say what the stats say.
	for name, want := range map[string]int{"shopstream_amazon_api_requests_total": st.Requests,
		"shopstream_amazon_api_throttled_total": st.Throttled, "shopstream_amazon_api_malformed_total": st.Malformed,
		"shopstream_amazon_api_server_errors_total": st.ServerErrors, "shopstream_amazon_api_retries_total": st.Retries} {
		if got := opMetric(t, reg, name, OpGetOrders); got != float64(want) {
			t.Errorf("%s{op=%s} = %v, want %d", name, OpGetOrders, got, want)
		}
	}
	assertBucketsRespected(t, e.rec.snapshot())
	t.Logf("faults %v; getOrders stats %+v", counts, st)
}

func TestAccessTokenRefreshesBeforeExpiryAndOnExpired403(t *testing.T) {
	t.Run("proactive", func(t *testing.T) {
		e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(6 * time.Hour)})
		got, _, cursor := pollOrders(t, e, 6, 50*time.Minute) // five hours
		checkOrdersAgainstTruth(t, e, got, cursor)
		// Calls come every 50 min and a token is replaced 5 min before its
		// hour is up: every other poll refreshes.
		if n := e.rec.count(OpToken, http.StatusOK); n < 3 {
			t.Fatalf("%d token refreshes over five hours", n)
		}
		for _, h := range e.rec.snapshot() {
			if h.status == http.StatusForbidden {
				t.Fatalf("%s got 403: the token was not refreshed in time", h.op)
			}
		}
	})
	t.Run("reactive", func(t *testing.T) {
		// The simulator's tokens live one hour, but the client is told two,
		// so mid-run a call meets an expired token and must refresh once.
		e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(6 * time.Hour), stretchTTL: 2 * time.Hour})
		got, _, cursor := pollOrders(t, e, 6, 50*time.Minute)
		checkOrdersAgainstTruth(t, e, got, cursor)
		forbidden := 0
		for _, h := range e.rec.snapshot() {
			if h.status == http.StatusForbidden {
				forbidden++
			}
		}
		if forbidden == 0 {
			t.Fatal("no call met an expired token: the test does not exercise the reactive refresh")
		}
		if n := e.rec.count(OpToken, http.StatusOK); n < 1+forbidden {
			t.Fatalf("%d expired-token 403s but only %d token requests", forbidden, n)
		}
	})
}

func TestOrderLinesComeFromTheReport(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(10 * time.Hour)})
	ctx := context.Background()
	p := e.cl.NewOrderPoller(e.world.Start(), OrderPollerOptions{})
	w, err := p.PollWithLines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := w.LinesStats
	if w.ReportErr != nil || st.FromReport+st.FromAPI != len(w.Orders) || len(w.Orders) < 100 {
		t.Fatalf("report error %v, stats %+v for %d orders", w.ReportErr, st, len(w.Orders))
	}
	// The report is generated a few minutes after getOrders read the window,
	// so only orders that changed in between fall back.
	if st.FromAPI*10 > len(w.Orders) {
		t.Fatalf("%d of %d orders needed getOrderItems", st.FromAPI, len(w.Orders))
	}
	if n := e.rec.count(OpGetOrderItems, 0); n != st.FromAPI {
		t.Fatalf("%d getOrderItems calls for %d fallback orders", n, st.FromAPI)
	}
	// The same orders read only through getOrderItems give the same lines
	// and the same record keys.
	apiLines, st2, err := e.cl.OrderLines(ctx, w.Orders[:20], nil)
	if err != nil || st2.FromAPI != 20 {
		t.Fatalf("fallback: %v %+v", err, st2)
	}
	recs := checkLines(t, e, w.Orders, w.Lines, apiLines)
	encodeAll(t, recs)
	t.Logf("%d orders: %+v", len(w.Orders), st)
}

func TestOrderLinesFallBackWhenTheReportIsFatal(t *testing.T) {
	e := newEnv(t, envOptions{start: simworld.DefaultStart.Add(3 * time.Hour), sim: amazontest.Options{ReportFatalRate: 1}})
	p := e.cl.NewOrderPoller(e.world.Start(), OrderPollerOptions{})
	w, err := p.PollWithLines(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fe *ReportFatalError
	if !errors.As(w.ReportErr, &fe) || fe.Reason == "" {
		t.Fatalf("report error %v", w.ReportErr)
	}
	if w.LinesStats.FromAPI != len(w.Orders) || len(w.Orders) == 0 {
		t.Fatalf("stats %+v for %d orders", w.LinesStats, len(w.Orders))
	}
	checkLines(t, e, w.Orders, w.Lines, nil)
	assertBucketsRespected(t, e.rec.snapshot())
}

// checkLines compares every order's lines with the world's items and maps
// them; lines read both ways must key alike.
func checkLines(t *testing.T, e *env, orders []Order, lines, apiLines map[string][]OrderLine) []Record {
	t.Helper()
	m := e.cl.Mapper()
	var recs []Record
	for _, o := range orders {
		truth, ok := e.world.AmazonOrder(o.AmazonOrderID)
		if !ok {
			t.Fatalf("order %s not in the world", o.AmazonOrderID)
		}
		ls := lines[o.AmazonOrderID]
		if len(ls) != len(truth.Items) {
			t.Fatalf("order %s: %d lines, truth %d", o.AmazonOrderID, len(ls), len(truth.Items))
		}
		for i, it := range truth.Items {
			l := ls[i]
			if l.Item.ASIN != it.ASIN || l.Item.SellerSKU != it.SellerSKU || l.Item.QuantityOrdered != int64(it.Quantity) {
				t.Fatalf("order %s line %d: %+v, truth %+v", o.AmazonOrderID, i, l.Item, it)
			}
			if l.Item.ItemPrice != nil && l.Item.ItemPrice.Amount != it.ItemPrice.String() {
				t.Fatalf("order %s line %d: price %s, truth %s", o.AmazonOrderID, i, l.Item.ItemPrice.Amount, it.ItemPrice)
			}
			r, err := m.OrderItem(o, l)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			if al, ok := apiLines[o.AmazonOrderID]; ok {
				ra, err := m.OrderItem(o, al[i])
				if err != nil {
					t.Fatal(err)
				}
				if ra.Key != r.Key {
					t.Fatalf("report and getOrderItems key the same line differently: %s vs %s", r.Key, ra.Key)
				}
			}
		}
	}
	return recs
}

func TestWorkersShareOneLimiterPerOperation(t *testing.T) {
	// The simulator does not limit; the client's shared bucket alone must
	// spread 40 calls from four workers over (40 − burst 2) / 2 per second
	// = 19 simulated seconds. Per-worker buckets would take under 5.
	e := newEnv(t, envOptions{sim: amazontest.Options{DisableRateLimits: true}})
	v := e.world.AmazonVariants()
	start := e.clock.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if _, err := e.cl.GetCatalogItem(context.Background(), v[i%len(v)].Amazon.ASIN); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if span := e.clock.Now().Sub(start); span < 18*time.Second {
		t.Fatalf("40 calls took %s of simulated time; the workers did not share the bucket", span)
	}
	if n := e.rec.count(OpGetCatalogItem, http.StatusOK); n != 40 {
		t.Fatalf("%d calls", n)
	}
}

func TestTwoMinuteRuleViolationIsNotRetried(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := e.clock.Now()
	_, err := e.cl.GetOrders(context.Background(), now.Add(-time.Hour), now.Add(-time.Minute))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Code != "InvalidInput" || ae.Temporary() {
		t.Fatalf("error %v", err)
	}
	if n := e.rec.count(OpGetOrders, 0); n != 1 {
		t.Fatalf("%d requests for a permanent error", n)
	}
	// The poller keeps its windows clear of the rule.
	if _, before, ok := e.cl.NewOrderPoller(now.Add(-time.Hour), OrderPollerOptions{Lag: time.Minute}).Window(now); !ok || now.Sub(before) < 2*time.Minute {
		t.Fatalf("window ends %s before now", now.Sub(before))
	}
}

// opMetric returns the value of metric name for operation op.
func opMetric(t *testing.T, g prometheus.Gatherer, name, op string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{op=%q}", name, op)
	return 0
}
