package stage_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

type shopRun struct {
	faults   fault.Config
	restarts bool
	days     int
	webhooks bool
	// detailLag makes the simulator answer order detail (the webhooks'
	// follow-up fetch) from a replica that far behind.
	detailLag time.Duration
}

type shopResult struct {
	w       *simworld.World
	env     *testenv.Kafka
	shopID  string
	since   time.Time
	end     time.Time
	dead    int
	stale   int
	retries int
	queue   *stage.OrderQueue
	hooks   *webhookRig
	// open opens the stage again on the run's state.
	open func(context.Context) *stage.TikTokShop
}

// webhookRig is the webhook receiver as `ingest webhooks` wires it: the
// handler with the Kafka writer, following orders into the shop stage.
type webhookRig struct {
	sender *tiktokshoptest.WebhookSender
	srv    *httptest.Server
	key    string
	secret string
}

func runShop(t *testing.T, o shopRun) shopResult {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	since := simworld.DefaultStart
	w, clock, srv, clientCfg := shopSim(t, 9, since, simworld.Scale{Products: 6, TikTokOrdersPerMinute: 0.03, VideosPerDay: 3}, tiktokshoptest.Options{Faults: o.faults, DetailLag: o.detailLag})
	creds := srv.Sim.Credentials()
	dead := &stage.DeadLetters{}
	var retries atomic.Int64
	clientCfg.OnRetry = func(string, int, error) { retries.Add(1) }
	clientCfg.AttemptTimeout = 10 * time.Second
	clientCfg.OnMalformed = func(m tiktokshop.Malformed) { dead.Add(schemas.TopicTikTokOrders, m.Op, m.Raw, m.Err) }
	client, err := tiktokshop.New(clientCfg)
	if err != nil {
		t.Fatal(err)
	}
	shop, err := client.Shop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := shopResult{w: w, env: env, shopID: shop.ID, since: since, queue: &stage.OrderQueue{}}
	cfg := stage.ShopConfig{Kafka: kafkaOf(env), Client: client, Since: since, Zone: w.Config().ShopZone,
		DeadLetters: dead, Clock: clock}
	if o.webhooks {
		cfg.Follow = res.queue
		k := kafkaOf(env)
		if err := stage.EnsureTopics(ctx, k, schemas.TopicTikTokWebhookEvents); err != nil {
			t.Fatal(err)
		}
		kw, err := stage.NewKafkaWriter(k, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(kw.Close)
		h, err := webhook.NewHandler(webhook.Config{AppKey: creds.AppKey, AppSecret: secret.Secret(creds.AppSecret),
			Writer: kw, Follower: stage.Follower{Queue: res.queue}, DeadLetter: kw.DeadLetter, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		res.hooks = &webhookRig{srv: hs, key: creds.AppKey, secret: creds.AppSecret, sender: tiktokshoptest.NewWebhookSender(w, creds,
			tiktokshoptest.WebhookConfig{URL: hs.URL + webhook.Path, Client: hs.Client(), Since: since, DuplicateRate: 0.1})}
	}
	open := func(ctx context.Context) *stage.TikTokShop {
		st, err := stage.OpenTikTokShop(ctx, cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		return st
	}
	res.open = open
	st := open(ctx)
	end := since.Add(time.Duration(o.days) * 24 * time.Hour)
	steps := 0
	for clock.Now().Before(end) {
		clock.Advance(3 * time.Hour)
		if res.hooks != nil {
			res.hooks.sender.Poll(ctx)
		}
		for i := 0; ; i++ {
			if i > 2000 {
				t.Fatal("stage never caught up")
			}
			sctx, cancel := context.WithCancel(ctx)
			if o.restarts && steps%6 == 2 {
				// Killed between fetch and commit: the context ends
				// before the step can commit.
				cancel()
			}
			p, err := st.Step(sctx)
			cancel()
			steps++
			if err != nil {
				if !o.restarts || !errors.Is(err, context.Canceled) {
					t.Fatalf("step: %v", err)
				}
				st.Close()
				st = open(ctx)
				continue
			}
			if !p.Done {
				break
			}
			res.dead += p.DeadLetters
			res.stale += p.Stale
			if o.restarts && steps%4 == 0 {
				st.Close()
				st = open(ctx)
			}
		}
	}
	st.Close()
	res.end = clock.Now()
	res.retries = int(retries.Load())
	return res
}

func checkShop(t *testing.T, r shopResult) {
	t.Helper()
	truth := r.w.TruthAt(r.end)
	orders := readTopic(t, r.env, schemas.TopicTikTokOrders)
	checkNoDuplicates(t, schemas.TopicTikTokOrders, orders)
	last := latest(orders)
	settled := r.end.Add(-15 * time.Minute)
	n := 0
	for _, s := range truth.TikTokOrders(r.since, settled) {
		key := tiktokshop.OrderKey(r.shopID, s.ID)
		got, ok := last[key]
		if !ok {
			t.Errorf("order %s missing", key)
			continue
		}
		if s.UpdateTime.Before(settled) {
			n++
			if got["status"] != s.Status {
				t.Errorf("order %s: status %v, truth %s", key, got["status"], s.Status)
			}
		}
	}
	if n == 0 {
		t.Fatal("no settled orders to compare")
	}

	products := readTopic(t, r.env, schemas.TopicTikTokProducts)
	checkNoDuplicates(t, schemas.TopicTikTokProducts, products)
	lastP := latest(products)
	np := 0
	for _, p := range truth.Products() {
		if !p.OnTikTok() {
			continue
		}
		np++
		got, ok := lastP[tiktokshop.ProductKey(r.shopID, p.TikTokID)]
		if !ok {
			t.Errorf("product %s missing", p.TikTokID)
			continue
		}
		skus := 0
		for _, v := range p.Variants {
			if v.TikTok != nil {
				skus++
			}
		}
		if len(got["skus"].([]any)) != skus {
			t.Errorf("product %s: %d skus, truth %d", p.TikTokID, len(got["skus"].([]any)), skus)
		}
	}
	if len(lastP) != np {
		t.Errorf("products: %d in Kafka, %d in truth", len(lastP), np)
	}

	// Video performance: every day up to the last one read, every video's
	// views and the products linked to it.
	vids := readTopic(t, r.env, schemas.TopicTikTokVideoPerformance)
	checkNoDuplicates(t, schemas.TopicTikTokVideoPerformance, vids)
	lastV := latest(vids)
	zone := r.w.Config().ShopZone
	days, links := 0, 0
	for d := simworld.DateOf(r.since, zone); d.End(zone).Before(r.end.Add(-48 * time.Hour)); d = d.AddDays(1) {
		days++
		for _, vp := range truth.VideoPerformance(d, d.AddDays(1)) {
			key := tiktokshop.VideoPerformanceKey(r.shopID, vp.Video.ID, d.String())
			got, ok := lastV[key]
			if !ok {
				if vp.Views > 0 {
					t.Errorf("video performance %s missing", key)
				}
				continue
			}
			if asInt(got["views"]) != vp.Views {
				t.Errorf("video performance %s: views %v, truth %d", key, un(got["views"]), vp.Views)
			}
			var gotIDs, wantIDs []string
			for _, p := range got["products"].([]any) {
				gotIDs = append(gotIDs, p.(map[string]any)["product_id"].(string))
			}
			wantIDs = append(wantIDs, vp.Video.ProductIDs...)
			sort.Strings(gotIDs)
			sort.Strings(wantIDs)
			if strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") {
				t.Errorf("video %s: products %v, truth %v", key, gotIDs, wantIDs)
			}
			links += len(gotIDs)
		}
	}
	if days == 0 || len(lastV) == 0 || links == 0 {
		t.Fatalf("video performance: %d days, %d rows, %d links", days, len(lastV), links)
	}
	t.Logf("orders %d records/%d keys, products %d/%d, video performance %d rows (%d product links) over %d days, %d dead letters",
		len(orders), len(last), len(products), len(lastP), len(lastV), links, days, r.dead)
}

// TestTikTokShopStageMatchesTruth: orders by update_time windows, products
// with SKUs, and video performance with each video's products equal the
// ground truth, once per (key, version).
func TestTikTokShopStageMatchesTruth(t *testing.T) {
	checkShop(t, runShop(t, shopRun{days: 8}))
}

// TestTikTokShopStageUnderFaultsAndRestarts: the same with 5xx, throttles
// (36009002 inside HTTP 200) and malformed bodies, and the stage killed
// before commits and restarted from its cursors.
func TestTikTokShopStageUnderFaultsAndRestarts(t *testing.T) {
	r := runShop(t, shopRun{days: 8, restarts: true,
		faults: fault.Config{ServerErrorRate: 0.04, ThrottleRate: 0.05, MalformedRate: 0.03}})
	checkShop(t, r)
	if r.retries == 0 {
		t.Fatal("no fault was injected")
	}
	t.Logf("%d retried failures", r.retries)
}

// TestWebhooksLandAndFollowOrders: the simulator's signed webhooks (with
// duplicates) go through the handler and the production KafkaWriter into
// tiktok.webhook_events, one record per notification; each order event is
// followed by an order-detail fetch emitted through the shop stage's change
// capture, and orders still match the truth with nothing duplicated.
func TestWebhooksLandAndFollowOrders(t *testing.T) {
	r := runShop(t, shopRun{days: 3, webhooks: true})
	checkShop(t, r)
	events := readTopic(t, r.env, schemas.TopicTikTokWebhookEvents)
	ids := map[string]bool{}
	for _, e := range events {
		id := e.v["tts_notification_id"].(string)
		if ids[id] {
			t.Errorf("notification %s stored twice", id)
		}
		ids[id] = true
	}
	sent := map[string]bool{}
	for _, a := range r.hooks.sender.Attempts() {
		if a.Status == http.StatusOK {
			sent[a.NotificationID] = true
		}
	}
	if len(sent) == 0 || len(ids) != len(sent) {
		t.Fatalf("%d notifications acknowledged, %d stored", len(sent), len(ids))
	}
	if r.queue.Len() != 0 {
		t.Fatalf("%d followed orders never fetched", r.queue.Len())
	}
	// A signed body that does not parse is stored as a dead letter, raw,
	// and answered 200 (TikTok would only send the same bytes again).
	body := []byte(`{"type":1,"tts_notification_id":`)
	req, _ := http.NewRequest(http.MethodPost, r.hooks.srv.URL+webhook.Path, bytes.NewReader(body))
	req.Header.Set("Authorization", webhook.Signature(r.hooks.key, []byte(r.hooks.secret), body))
	resp, err := r.hooks.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	dl := r.env.ReadAll(t, r.env.Topic(schemas.TopicTikTokWebhookEvents+deadletter.Suffix), testenv.Settled)
	if resp.StatusCode != http.StatusOK || len(dl) != 1 || !bytes.Equal(dl[0].Value, body) {
		t.Fatalf("malformed webhook: HTTP %d, %d dead letters", resp.StatusCode, len(dl))
	}
	t.Logf("%d webhook events stored", len(ids))
}

// TestFollowUpFromLaggingReplica: order detail, the webhooks' follow-up,
// answers from a replica six hours behind the search. After a run, every
// order older than six hours whose last change is not is named by a webhook
// again: its follow-up returns the order as it was before that change,
// older than what a search poll already emitted. Each such snapshot is
// skipped (counted as stale, neither emitted nor dead-lettered), so every
// order's last record still equals the shop's truth; emitted with the next
// version, the older state would win.
func TestFollowUpFromLaggingReplica(t *testing.T) {
	const lag = 6 * time.Hour
	r := runShop(t, shopRun{days: 3, webhooks: true, detailLag: lag})
	var ids []string
	for _, o := range r.w.TruthAt(r.end).TikTokOrders(r.since, r.end) {
		// Changed since, and already there when the replica stands.
		if o.UpdateTime.After(r.end.Add(-lag)) && o.CreateTime.Before(r.end.Add(-lag)) {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no order changed in the last six hours: the test proves nothing")
	}
	ctx := testenv.Context(t)
	st := r.open(ctx)
	defer st.Close()
	r.queue.Add(ids...)
	stale, records := 0, 0
	for r.queue.Len() > 0 {
		p, err := st.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stale, records = stale+p.Stale, records+p.Records
		if p.DeadLetters != 0 {
			t.Errorf("%d dead letters, want 0: a stale snapshot is not bad input", p.DeadLetters)
		}
	}
	if stale != len(ids) || records != 0 {
		t.Errorf("follow-ups of %d orders from the lagging replica: %d skipped as stale, %d emitted; want all skipped",
			len(ids), stale, records)
	}
	checkShop(t, r)
}
