package stage_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/amazon/amazontest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// pathCounter counts requests per URL path.
type pathCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *pathCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[endpointOf(r.URL.Path)]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// endpointOf turns a path into its endpoint template: segments that are
// ids (all digits) become {id}, since a rate limit applies per API, not per
// resource instance.
func endpointOf(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if s != "" && strings.Trim(s, "0123456789") == "" && len(s) > 8 {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// floorOf returns the least time n requests take through a token bucket of
// rate and burst: the first burst are free, the rest come at rate.
func floorOf(n int, rate float64, burst int) time.Duration {
	if n <= burst {
		return 0
	}
	return time.Duration(float64(n-burst) / rate * float64(time.Second))
}

type benchLine struct {
	source   string
	records  int
	requests int
	wall     time.Duration // simulated
	floor    time.Duration
}

// backfillFor runs st over the world's history with Backfill and returns
// the records and the simulated time it took.
func backfillFor(b *testing.B, st stage.Stepper, clock *simworld.ManualClock, since time.Time) (int, time.Duration) {
	ctx := testenv.Context(b)
	start := clock.Now()
	var out bytes.Buffer
	if err := stage.Backfill(ctx, st, stage.BackfillConfig{Since: since, Until: start, Out: &out, Now: clock.Now}); err != nil {
		b.Fatal(err)
	}
	records := 0
	for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
		var n int
		if _, err := fmt.Sscanf(string(bytes.TrimSpace(line)), "backfill done: %d slices, %d records", new(int), &n); err == nil {
			records = n
		}
	}
	return records, clock.Now().Sub(start)
}

func benchAmazon(b *testing.B, env *testenv.Kafka) benchLine {
	since := simworld.DefaultStart
	clock := simworld.NewManualClock(since.Add(10 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 3, Clock: clock, Scale: simworld.Scale{Products: 12, AmazonOrdersPerMinute: 0.2}})
	sim := amazontest.New(w, amazontest.Options{})
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	creds := sim.Credentials()
	client, err := amazon.NewClient(amazon.Config{Endpoint: srv.URL, TokenURL: srv.URL + "/auth/o2/token",
		Credentials:   amazon.Credentials{ClientID: creds.ClientID, ClientSecret: secret.Secret(creds.ClientSecret), RefreshToken: secret.Secret(creds.RefreshToken)},
		MarketplaceID: creds.MarketplaceID, ReportZone: w.Config().AmazonZone, HTTPClient: srv.Client(), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	st, err := stage.OpenAmazon(testenv.Context(b), stage.AmazonConfig{Kafka: kafkaOf(env), Client: client, Since: since, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	records, wall := backfillFor(b, st, clock, since)
	line := benchLine{source: "amazon", records: records, wall: wall}
	for op, s := range client.Stats() {
		line.requests += s.Requests
		if p, ok := amazon.DefaultUsagePlans[op]; ok {
			line.floor = max(line.floor, floorOf(s.Requests, p.Rate, p.Burst))
		}
	}
	return line
}

func benchShop(b *testing.B, env *testenv.Kafka) benchLine {
	since := simworld.DefaultStart
	w, clock, srv, cfg := shopSim(b, 3, since.Add(10*24*time.Hour), simworld.Scale{Products: 12, TikTokOrdersPerMinute: 0.2, VideosPerDay: 6}, tiktokshoptest.Options{})
	pc := &pathCounter{next: srv.Client().Transport, n: map[string]int{}}
	cfg.HTTPClient = &http.Client{Transport: pc}
	client, err := tiktokshop.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	st, err := stage.OpenTikTokShop(testenv.Context(b), stage.ShopConfig{Kafka: kafkaOf(env), Client: client, Since: since,
		Zone: w.Config().ShopZone, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	records, wall := backfillFor(b, st, clock, since)
	line := benchLine{source: "tiktokshop", records: records, wall: wall}
	for _, n := range pc.n {
		line.requests += n
		// The published default: 50 QPS per app per API (reference 2.5),
		// which the simulator applies per resource path.
		line.floor = max(line.floor, floorOf(n, 50, 50))
	}
	return line
}

func benchBusiness(b *testing.B, env *testenv.Kafka) benchLine {
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(30 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 3, Clock: clock, Scale: simworld.Scale{Products: 12, VideosPerDay: 20}})
	srv := tiktokbiztest.NewServer(w, tiktokbiztest.Options{})
	b.Cleanup(srv.Close)
	c := srv.Sim.Credentials()
	pc := &pathCounter{next: srv.Client().Transport, n: map[string]int{}}
	client, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: srv.BaseURL(), BusinessID: c.BusinessID, AccessToken: secret.Secret(c.AccessToken),
		HTTPClient: &http.Client{Transport: pc}, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	st, err := stage.OpenTikTokBusiness(testenv.Context(b), stage.BusinessConfig{Kafka: kafkaOf(env), Client: client, BusinessID: c.BusinessID,
		Interval: time.Hour, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	// Snapshots every hour of a day: the list is re-read 24 times.
	line := benchLine{source: "tiktokbiz"}
	for range 24 {
		start := clock.Now()
		n, _ := backfillFor(b, st, clock, start)
		line.records += n
		line.wall += clock.Now().Sub(start)
		clock.Advance(time.Hour)
	}
	for _, n := range pc.n {
		line.requests += n
		// 10 QPS per app (the simulator's default, after the reference);
		// each snapshot is its own burst, so the floor is per snapshot.
		line.floor += 24 * floorOf(n/24, 10, 10)
	}
	return line
}

// benchWebhooks posts signed events from 16 parallel senders to the handler
// wired with the production KafkaWriter (acks=all, waiting for the ack) and
// returns the accepted events per second and the p99 latency from request
// to answer, which includes the Kafka acknowledgement. Real wall time.
func benchWebhooks(b *testing.B, env *testenv.Kafka) (float64, time.Duration, int) {
	ctx := testenv.Context(b)
	k := kafkaOf(env)
	if err := stage.EnsureTopics(ctx, k, schemas.TopicTikTokWebhookEvents); err != nil {
		b.Fatal(err)
	}
	kw, err := stage.NewKafkaWriter(k, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer kw.Close()
	const key, appSecret = "bench-app", "bench-secret"
	h, err := webhook.NewHandler(webhook.Config{AppKey: key, AppSecret: secret.Secret(appSecret), Writer: kw, DeadLetter: kw.DeadLetter})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	const events, senders = 4000, 16
	var next atomic.Int64
	lat := make([]time.Duration, 0, events)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > events {
					return
				}
				body := fmt.Appendf(nil, `{"type":1,"tts_notification_id":"74%017d","shop_id":"7494049642642441621","timestamp":%d,`+
					`"data":{"order_id":"577%015d","order_status":"AWAITING_SHIPMENT","is_on_hold_order":false,"update_time":%d}}`,
					i, 1767225600+i, i, 1767225600+i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+webhook.Path, bytes.NewReader(body))
				req.Header.Set("Authorization", webhook.Signature(key, []byte(appSecret), body))
				t0 := time.Now()
				resp, err := srv.Client().Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("HTTP %d", resp.StatusCode)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		b.Fatal("no event accepted")
	}
	return float64(len(lat)) / elapsed.Seconds(), lat[len(lat)*99/100], len(lat)
}

// BenchmarkIngest prints, for a seeded world, each source's requests per
// 1,000 records and the ratio of its wall time to the minimum the published
// rate limits allow, then the webhook receiver's throughput and p99 latency
// to the Kafka acknowledgement. Run once (make bench-ingest); the last line
// is "ingest floor-ratio X", the worst source's ratio.
func BenchmarkIngest(b *testing.B) {
	env := testenv.NewKafka(b)
	lines := []benchLine{benchAmazon(b, env), benchShop(b, env), benchBusiness(b, env)}
	w := os.Stdout
	fmt.Fprintln(w, "ingest benchmark: backfill of a seeded world; simulators on a ManualClock, so \"wall\" is SIMULATED time")
	fmt.Fprintln(w, "(every wait on rate limits, backoff and report processing moves the simulated clock; Kafka work is real)")
	fmt.Fprintf(w, "%-11s %9s %9s %14s %14s %14s %11s\n", "source", "records", "requests", "req/1k records", "wall (sim)", "rate floor", "wall/floor")
	worst := 0.0
	for _, l := range lines {
		ratio := 1.0
		if l.floor > 0 {
			ratio = float64(l.wall) / float64(l.floor)
		}
		worst = max(worst, ratio)
		perK := 0.0
		if l.records > 0 {
			perK = 1000 * float64(l.requests) / float64(l.records)
		}
		fmt.Fprintf(w, "%-11s %9d %9d %14.1f %14s %14s %11.2f\n", l.source, l.records, l.requests, perK, l.wall.Round(time.Second), l.floor.Round(time.Second), ratio)
	}
	eps, p99, n := benchWebhooks(b, env)
	fmt.Fprintf(w, "webhooks    %d events accepted, %.0f events/s, p99 %.1f ms to Kafka acknowledgement (real wall time, acks=all)\n",
		n, eps, float64(p99.Microseconds())/1000)
	fmt.Fprintln(w, "amazon's wall time includes report generation (IN_QUEUE/IN_PROGRESS, minutes per report), which no rate limit accounts for")
	fmt.Fprintf(w, "ingest floor-ratio %.2f\n", worst)
}
