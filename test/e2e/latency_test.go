package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// latencyConfig shapes one latency measurement.
type latencyConfig struct {
	// Rate is webhooks per second, sent at a steady pace for Duration.
	Rate     float64
	Duration time.Duration
	// Env is added to run's settings (for example a loader max_wait).
	Env []string
	// Settle bounds the wait for the last rows after the last webhook.
	Settle time.Duration
	// Dir keeps run's data and logs (default: a temporary directory).
	Dir string
}

// latencyResult is what one measurement saw. Every duration is per order,
// from the webhook's arrival at the receiver (the ingest_ts it stamps on the
// event, stored in tiktok_webhook_events_changes).
type latencyResult struct {
	sent, accepted int
	// rate is the achieved send rate.
	rate float64
	// cpu is the CPU time run (with its warehouse child) used from the
	// first webhook until the last row arrived.
	cpu time.Duration
	// ack is the receiver's answer time as the sender saw it (the event
	// durably in Kafka).
	ack []time.Duration
	// fetched: the order's follow-up fetch (ingest_ts of its tiktok.orders
	// record); orders: its row stored in tiktok_orders (_inserted_at);
	// daily: its product's row changed in product_daily (_inserted_at of
	// the product_daily versions that this order triggered).
	fetched, orders, daily []time.Duration
	// Where the time goes, from what a read-committed consumer of the
	// topics saw: the ingest transaction (order fetched -> its record
	// committed), the loader (record committed -> row stored) for both
	// topics, and the transform (order record committed -> product_daily
	// record committed).
	ingestTxn, loadOrders, transform, loadDaily []time.Duration
	// The transform's part: until it produced the joined record (polling,
	// joining), and from then until its transaction committed.
	transformWork, transformCommit []time.Duration
	// missingOrders and missingDaily count accepted webhooks whose order
	// (or product row) never arrived within Settle.
	missingOrders, missingDaily int
}

// lines prints the result, one figure per line.
func (r latencyResult) lines() []string {
	return []string{
		fmt.Sprintf("latency sent %d webhooks at %.1f/s, %d accepted", r.sent, r.rate, r.accepted),
		"latency webhook answered (event durable in Kafka)          " + pipelinetest.Summary(r.ack),
		"latency arrival -> order fetched (ingest follow-up)        " + pipelinetest.Summary(r.fetched),
		"latency arrival -> row in tiktok_orders FINAL              " + pipelinetest.Summary(r.orders),
		"latency arrival -> product's row in product_daily FINAL    " + pipelinetest.Summary(r.daily),
		"latency   where: order fetched -> its record committed     " + pipelinetest.Summary(r.ingestTxn),
		"latency   where: order record committed -> tiktok_orders   " + pipelinetest.Summary(r.loadOrders),
		"latency   where: order record committed -> joined record   " + pipelinetest.Summary(r.transform),
		"latency   where:   ... -> joined record produced           " + pipelinetest.Summary(r.transformWork),
		"latency   where:   joined record produced -> committed     " + pipelinetest.Summary(r.transformCommit),
		"latency   where: joined record committed -> product_daily  " + pipelinetest.Summary(r.loadDaily),
		fmt.Sprintf("latency missing: tiktok_orders %d, product_daily %d", r.missingOrders, r.missingDaily),
		fmt.Sprintf("latency cpu: run and its warehouse used %.1f s of CPU, %.0f ms per webhook", r.cpu.Seconds(), float64(r.cpu.Milliseconds())/float64(max(r.accepted, 1))),
	}
}

// latencyWorld is the simulated shop the measurement ingests from: a world
// that began 30 days before since (today in the shop's zone), so that its
// older orders have changed for the last time long before since. The
// TikTok Shop stage polls from since on, so it never reads those orders;
// a webhook about one is what brings it in (through the follow-up fetch),
// and its row and its product's row change then, as for any new order.
// Cancelled orders are left out: they change no product_daily row.
type latencyWorld struct {
	sim    *sim.Sim
	since  time.Time
	orders []*simworld.TikTokOrder
}

func startLatencyWorld(t testing.TB, ctx context.Context, need int) latencyWorld {
	t.Helper()
	zone, err := time.LoadLocation(simworld.DefaultShopZone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(zone)
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, zone)
	start := since.AddDate(0, 0, -30).UTC().Truncate(time.Minute)
	// Enough orders a minute that a run of `need` fits in the oldest days.
	perMinute := max(0.5, float64(need)/(10*24*60)/0.5)
	sm, err := sim.Start(ctx, sim.Options{Seed: 13, Start: start, Scale: simworld.Scale{TikTokOrdersPerMinute: perMinute}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sm.Close() })
	quiet := since.Add(-24 * time.Hour)
	var orders []*simworld.TikTokOrder
	for _, o := range sm.World().TikTokOrdersCreated(start, since.AddDate(0, 0, -8)) {
		// A cancelled order counts for nothing in product_daily, so it
		// would change no row there.
		if last := o.History[len(o.History)-1]; last.At.Before(quiet) && last.Status != simworld.TikTokCancelled {
			orders = append(orders, o)
		}
	}
	if len(orders) < need {
		t.Fatalf("the world has %d orders that settled before %s, the measurement needs %d", len(orders), quiet, need)
	}
	return latencyWorld{sim: sm, since: since, orders: orders[:need]}
}

// env is run's configuration of the simulated shop as a real one: its API,
// its app's credentials (secrets through the environment, as in
// production), the receiver, and since.
func (w latencyWorld) env() []string {
	d := w.sim.Description().TikTokShop
	return pipelinetest.Env(
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_API_BASE_URL", d.APIBaseURL,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_AUTH_BASE_URL", d.AuthBaseURL,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_APP_KEY", d.Credentials.AppKey,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_APP_SECRET", d.Credentials.AppSecret,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_AUTH_CODE", d.Credentials.AuthCode,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_SHOP_ID", d.Credentials.ShopID,
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_SINCE", w.since.Format(time.DateOnly),
	)
}

// waitForProducts waits until run has loaded the shop's products and the
// transform has linked them, so that orders join to their products.
func (w latencyWorld) waitForProducts(t testing.TB, ctx context.Context, run *pipelinetest.Run) {
	t.Helper()
	want := int64(len(w.sim.World().TikTokProducts()))
	if _, err := run.Warehouse.WaitInt(ctx, "SELECT uniqExact(product_id) FROM tiktok_products FINAL", func(n int64) bool { return n >= want }); err != nil {
		t.Fatalf("tiktok products not loaded: %v", err)
	}
	if _, err := run.Warehouse.WaitInt(ctx, "SELECT count() FROM product_links FINAL WHERE channel = 'tiktok'", func(n int64) bool { return n > 0 }); err != nil {
		t.Fatalf("no tiktok product links: %v", err)
	}
}

// measureLatency sends cfg.Rate signed ORDER_STATUS_CHANGE webhooks a
// second for cfg.Duration into `shopstream run` (real Kafka, embedded
// warehouse, the simulated shop's API) and measures each order's way
// through the pipeline.
func measureLatency(t testing.TB, cfg latencyConfig) latencyResult {
	t.Helper()
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+cfg.Settle+10*time.Minute)
	defer cancel()
	need := int(cfg.Rate * cfg.Duration.Seconds())
	world := startLatencyWorld(t, ctx, need)
	prefix := "lat" + strconv.FormatInt(time.Now().UnixNano(), 36) + "."
	run := pipelinetest.StartRun(t, pipelinetest.RunOptions{Dir: cfg.Dir, Brokers: brokers, Prefix: prefix, Webhooks: true,
		Env: append(world.env(), cfg.Env...)})
	world.waitForProducts(t, ctx, run)
	seen := watchTopics(t, ctx, brokers, prefix+"tiktok.orders", prefix+"xchannel.product_daily")

	creds := world.sim.Description().TikTokShop.Credentials
	hooks := &pipelinetest.Webhooks{URL: run.WebhookURL(), AppKey: creds.AppKey, AppSecret: []byte(creds.AppSecret)}
	// Notification ids of this run start with a marker the query filters on.
	marker := strconv.FormatInt(time.Now().Unix()%1e6, 10)
	var (
		mu       sync.Mutex
		res      latencyResult
		wg       sync.WaitGroup
		inFlight = make(chan struct{}, 256)
	)
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	cpuBefore := run.CPUTime()
	began := time.Now()
	for i, o := range world.orders {
		// Webhook i leaves at began + i x interval (at once when behind),
		// so the rate holds even when a send is slow.
		time.Sleep(time.Until(began.Add(time.Duration(i) * interval)))
		st, _ := o.At(time.Now())
		body := pipelinetest.OrderStatusChange(fmt.Sprintf("%s%012d", marker, i), creds.ShopID, o.ID,
			webhookStatus(st.Status), st.UpdateTime)
		inFlight <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			sent := time.Now()
			code, err := hooks.Send(ctx, body)
			took := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			res.sent++
			if err == nil && code == 200 {
				res.accepted++
				res.ack = append(res.ack, took)
			}
		}()
	}
	wg.Wait()
	res.rate = float64(res.sent) / time.Since(began).Seconds()

	// Every accepted event's order in tiktok_orders, and its product's row
	// in product_daily: then measure.
	query := latencyQuery(marker)
	settle, cancelSettle := context.WithTimeout(ctx, cfg.Settle)
	defer cancelSettle()
	var rows [][]string
	for {
		var err error
		rows, err = run.Warehouse.Rows(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		complete := len(rows) >= res.accepted
		for _, r := range rows {
			complete = complete && r[2] != "0" && r[4] != "0"
		}
		if complete || settle.Err() != nil {
			break
		}
		select {
		case <-settle.Done():
		case <-time.After(time.Second):
		}
	}
	res.cpu = run.CPUTime() - cpuBefore
	var dump strings.Builder // per order, for a closer look (BENCH_LATENCY_DIR)
	ms := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	since := func(a, b int64) time.Duration { return time.Duration(b-a) * time.Millisecond }
	for _, r := range rows {
		arrived, fetched, stored, daily := ms(r[1]), ms(r[2]), ms(r[3]), ms(r[4])
		if fetched == 0 {
			continue
		}
		res.fetched = append(res.fetched, since(arrived, fetched))
		res.orders = append(res.orders, since(arrived, stored))
		order, orderSeen := seen.at(prefix+"tiktok.orders", r[5], r[6])
		if orderSeen {
			res.ingestTxn = append(res.ingestTxn, since(fetched, order))
			res.loadOrders = append(res.loadOrders, since(order, stored))
		}
		if daily == 0 {
			continue
		}
		res.daily = append(res.daily, since(arrived, daily))
		if joined, ok := seen.at(prefix+"xchannel.product_daily", r[7], r[8]); ok && orderSeen {
			res.transform = append(res.transform, since(order, joined))
			produced := seen.producedAt(prefix+"xchannel.product_daily", r[7], r[8])
			res.transformWork = append(res.transformWork, since(order, produced))
			res.transformCommit = append(res.transformCommit, since(produced, joined))
			fmt.Fprintf(&dump, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", r[0], arrived, fetched, order, stored, produced, joined, daily)
			res.loadDaily = append(res.loadDaily, since(joined, daily))
		}
	}
	res.missingOrders, res.missingDaily = res.accepted-len(res.orders), res.accepted-len(res.daily)
	if cfg.Dir != "" {
		header := "order_id\tarrived\tfetched\torder_committed\torder_stored\tjoined_produced\tjoined_committed\tjoined_stored\n"
		if err := os.WriteFile(filepath.Join(cfg.Dir, "latency.tsv"), []byte(header+dump.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	for _, l := range res.lines() {
		t.Log(l)
	}
	return res
}

// latencyQuery returns, per order named by a webhook of this run (its
// notification id starts with marker): the order id, then in Unix
// milliseconds the webhook's arrival (the receiver's ingest_ts), the
// order's fetch (the ingest_ts of its first tiktok.orders record), that
// record's insertion into tiktok_orders_changes (the same INSERT fills
// tiktok_orders through its view), and the insertion of its products' rows
// in product_daily that include it: per product the first version whose
// trigger was fetched no earlier than the order, the latest over the
// order's products; 0 while one of them has none yet. Then the Kafka
// coordinates (partition, offset) of the order's record and of that
// product_daily record.
//
// A version is matched by its trigger's fetch time, not by the order's
// exact trigger: the transform writes one version of a row per transaction,
// stamped with the last change in it, so an order whose change shared a
// transaction with a later order of the same product is on no version as
// the trigger, though the version includes it.
func latencyQuery(marker string) string {
	return `SELECT w.order_id, toUnixTimestamp64Milli(w.arrived), toUnixTimestamp64Milli(o.fetched),
       toUnixTimestamp64Milli(o.stored), d.stored, o.partition, o.offset, d.partition, d.offset
FROM (SELECT assumeNotNull(order_id) AS order_id, min(ingest_ts) AS arrived
      FROM tiktok_webhook_events_changes WHERE startsWith(tts_notification_id, '` + marker + `') GROUP BY order_id) AS w
LEFT JOIN (SELECT order_id, min(_inserted_at) AS stored, argMin(ingest_ts, _inserted_at) AS fetched,
                  argMin(_partition, _inserted_at) AS partition, argMin(_offset, _inserted_at) AS offset
           FROM tiktok_orders_changes GROUP BY order_id) AS o ON o.order_id = w.order_id
LEFT JOIN (SELECT order_id, if(min(first) = 0, 0, max(first)) AS stored,
                  argMax(partition, first) AS partition, argMax(offset, first) AS offset
           FROM (SELECT p.order_id AS order_id, l.product_key AS product_key,
                        toUnixTimestamp64Milli(minIf(pd._inserted_at, pd.ingest_ts >= p.fetched)) AS first,
                        argMinIf(pd._partition, pd._inserted_at, pd.ingest_ts >= p.fetched) AS partition,
                        argMinIf(pd._offset, pd._inserted_at, pd.ingest_ts >= p.fetched) AS offset
                 FROM (SELECT order_id, fetched, sku_id
                       FROM (SELECT order_id, argMin(ingest_ts, _inserted_at) AS fetched,
                                    argMin(line_items.sku_id, _inserted_at) AS skus
                             FROM tiktok_orders_changes GROUP BY order_id)
                       ARRAY JOIN skus AS sku_id) AS p
                 INNER JOIN (SELECT assumeNotNull(sku_id) AS sku_id, product_key FROM product_links FINAL
                             WHERE channel = 'tiktok' AND sku_id IS NOT NULL) AS l ON l.sku_id = p.sku_id
                 LEFT JOIN product_daily_changes AS pd ON pd.product_key = l.product_key
                 GROUP BY order_id, product_key)
           GROUP BY order_id) AS d ON d.order_id = w.order_id
ORDER BY w.arrived`
}

// committedAt remembers when a read-committed consumer received each record
// of some topics: the moment it became visible to consumers (plus the
// consumer's fetch time, milliseconds on loopback).
type committedAt struct {
	mu       sync.Mutex
	ms       map[string]int64 // topic/partition/offset -> Unix ms received
	produced map[string]int64 // topic/partition/offset -> the record's timestamp (when produced), Unix ms
}

func (c *committedAt) at(topic, partition, offset string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.ms[topic+"/"+partition+"/"+offset]
	return v, ok
}

func (c *committedAt) producedAt(topic, partition, offset string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.produced[topic+"/"+partition+"/"+offset]
}

// watchTopics consumes topics read-committed from their start until the
// test ends.
func watchTopics(t testing.TB, ctx context.Context, brokers string, topics ...string) *committedAt {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.MetadataMinAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := &committedAt{ms: map[string]int64{}, produced: map[string]int64{}}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now().UnixMilli()
			c.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				k := fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)
				c.ms[k], c.produced[k] = now, r.Timestamp.UnixMilli()
			})
			c.mu.Unlock()
		}
	}()
	return c
}

// webhookStatus is the webhook's name of an Order API status.
func webhookStatus(s string) string {
	if s == simworld.TikTokCancelled {
		return "CANCEL"
	}
	return s
}

// TestLatencyShort runs the latency measurement small (5 webhooks a second
// for 10 s) as part of make test: every accepted webhook's order reaches
// tiktok_orders and changes its product's row in product_daily, found
// through _inserted_at and the transform's trigger stamps. The figures are
// printed, never judged.
func TestLatencyShort(t *testing.T) {
	res := measureLatency(t, latencyConfig{Rate: 5, Duration: 10 * time.Second})
	if res.accepted != res.sent || res.sent != 50 {
		t.Errorf("%d of %d webhooks accepted, want 50 of 50", res.accepted, res.sent)
	}
	if res.missingOrders != 0 || res.missingDaily != 0 {
		t.Errorf("missing: %d orders, %d product rows", res.missingOrders, res.missingDaily)
	}
	for _, ds := range [][]time.Duration{res.fetched, res.orders, res.daily} {
		for _, d := range ds {
			if d < 0 {
				t.Errorf("a step ends before the webhook arrived (%s): the measurement is wrong", d)
				break
			}
		}
	}
}

// BenchmarkLatency is make bench-latency: signed TikTok Shop webhooks at a
// steady rate into `shopstream run` (real Kafka, embedded warehouse, the
// simulated shop's API), p50/p95/p99 per order from the webhook's arrival
// to its row in tiktok_orders and to its product's row in product_daily,
// and where the time goes. BENCH_LATENCY_RATE (default 50 a second) and
// BENCH_LATENCY_SECONDS (default 120) change the load; BENCH_LATENCY_ENV
// (space-separated KEY=VALUE) adds run settings; BENCH_LATENCY_DIR keeps
// run's data and logs there. It runs once whatever
// b.N is: the figures are per order, not per iteration.
func BenchmarkLatency(b *testing.B) {
	rate, seconds := 50.0, 120.0
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_LATENCY_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.ParseFloat(os.Getenv("BENCH_LATENCY_SECONDS"), 64); err == nil && v > 0 {
		seconds = v
	}
	res := measureLatency(b, latencyConfig{Rate: rate, Duration: time.Duration(seconds * float64(time.Second)),
		Env: strings.Fields(os.Getenv("BENCH_LATENCY_ENV")), Dir: os.Getenv("BENCH_LATENCY_DIR")})
	for _, l := range res.lines() {
		fmt.Println(l)
	}
	fmt.Printf("latency product_daily p95 %dms (aim 2000ms)\n", pipelinetest.Percentile(res.daily, 95).Milliseconds())
	b.ReportMetric(float64(pipelinetest.Percentile(res.daily, 95).Milliseconds()), "p95-daily-ms")
}
