package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// kafkaWriter is the Writer a stage wires in, reduced to the test's needs:
// encode, produce with acks=all (franz-go's default, idempotent), return
// when the broker acknowledged. Topics get a per-test prefix.
// newKafkaRig returns tb's share of the real broker with the events topic
// (partitions of it) and a writer into it that produces at once (no
// linger), closed with tb.
func newKafkaRig(tb testing.TB, partitions int32) (*testenv.Kafka, *kafkaWriter) {
	tb.Helper()
	k := testenv.NewKafka(tb)
	k.CreateTopics(tb, partitions, schemas.TopicTikTokWebhookEvents)
	cl, err := kgo.NewClient(append(k.ClientOpts(), kgo.ProducerLinger(0))...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	codec, err := schemas.NewCodec(schemas.TopicTikTokWebhookEvents)
	if err != nil {
		tb.Fatal(err)
	}
	return k, &kafkaWriter{cl: cl, codec: codec, prefix: k.Prefix, failFor: map[string]int{}, written: map[string]bool{}}
}

type kafkaWriter struct {
	cl     *kgo.Client
	codec  *schemas.Codec
	prefix string

	mu      sync.Mutex
	failFor map[string]int // notification id → failures left before the produce
	written map[string]bool
}

func (k *kafkaWriter) WriteRecord(ctx context.Context, topic, key string, rec map[string]any) error {
	k.mu.Lock()
	if k.failFor[key] > 0 {
		k.failFor[key]--
		k.mu.Unlock()
		return errors.New("injected: broker unavailable")
	}
	k.mu.Unlock()
	b, err := k.codec.Encode(rec)
	if err != nil {
		return err
	}
	if err := k.cl.ProduceSync(ctx, &kgo.Record{Topic: k.prefix + topic, Key: []byte(key), Value: b}).FirstErr(); err != nil {
		return err
	}
	k.mu.Lock()
	k.written[key] = true
	k.mu.Unlock()
	return nil
}

// capture records the raw bodies the sender posted, before the handler sees
// them, so the test can compare what landed in Kafka with what was sent.
type capture struct {
	next http.Handler
	mu   sync.Mutex
	sent map[string][]byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var ev struct {
		ID string `json:"tts_notification_id"`
	}
	if json.Unmarshal(body, &ev) == nil && ev.ID != "" {
		c.mu.Lock()
		c.sent[ev.ID] = body
		c.mu.Unlock()
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.next.ServeHTTP(w, r)
}

type afterAck struct {
	w      *kafkaWriter
	mu     sync.Mutex
	orders []string
	early  []string
}

func (f *afterAck) FollowOrder(ev Event) {
	f.w.mu.Lock()
	stored := f.w.written[ev.NotificationID]
	f.w.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.orders = append(f.orders, ev.Order.OrderID)
	if !stored {
		f.early = append(f.early, ev.NotificationID)
	}
}

// TestSimulatorDeliversToKafka: the simulator's webhook sender, on a manual
// clock, delivers signed events to the handler over HTTP; every event lands
// in a real Kafka topic exactly once and exactly as sent, a delivery that
// failed because Kafka did not take it is retried by the sender and lands
// once, duplicates are absorbed, and a forged one is answered 401 and not
// stored.
func TestSimulatorDeliversToKafka(t *testing.T) {
	ctx := testenv.Context(t)
	k, kw := newKafkaRig(t, 1)

	clock := simworld.NewManualClock(simworld.DefaultStart.Add(6 * 24 * time.Hour))
	world := simworld.MustNew(simworld.Config{Seed: 3, Clock: clock})
	creds := tiktokshoptest.DefaultCredentials(world)
	follow := &afterAck{w: kw}
	h, err := NewHandler(Config{AppKey: creds.AppKey, AppSecret: secret.Secret(creds.AppSecret), Writer: kw, Follower: follow,
		Now: clock.Now, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	cp := &capture{next: h, sent: map[string][]byte{}}
	mux.Handle(Pattern, cp)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ws := tiktokshoptest.NewWebhookSender(world, creds, tiktokshoptest.WebhookConfig{URL: srv.URL + Path, Client: srv.Client(), DuplicateRate: 0.2})
	// Half an hour of order activity.
	for i := 0; i < 6; i++ {
		clock.Advance(5 * time.Minute)
		ws.Poll(ctx)
	}
	// Kafka refuses one event twice: the handler answers 5xx, the sender
	// retries after 2 and 30 more minutes, and the third attempt lands.
	ev := tiktokshoptest.NewEvent(tiktokshoptest.EventAuthorizationExpiration, clock.Now(),
		map[string]any{"message": "authorization expires in 30 days", "expiration_time": clock.Now().Add(30 * 24 * time.Hour).Unix()})
	ev.TTSNotificationID = "7300000000000000042"
	kw.mu.Lock()
	kw.failFor[ev.TTSNotificationID] = 2
	kw.mu.Unlock()
	ws.Enqueue(ev)
	ws.Deauthorize()
	for i := 0; i < 40; i++ {
		ws.Poll(ctx)
		clock.Advance(time.Minute)
	}
	ws.Poll(ctx)
	if ws.Pending() != 0 {
		t.Fatalf("%d deliveries still pending", ws.Pending())
	}

	// A forged delivery.
	forged := []byte(`{"type":1,"tts_notification_id":"7399999999999999999","shop_id":"1","timestamp":1,"data":{"order_id":"576000000000000001","order_status":"COMPLETED"}}`)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+Path, bytes.NewReader(forged))
	req.Header.Set("Authorization", Signature(creds.AppKey, []byte("not-the-secret"), forged))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged delivery answered %d", resp.StatusCode)
	}
	if v := counterValue(t, h.requests.WithLabelValues(Source, OutcomeBadSignature)); v != 1 {
		t.Errorf("bad signatures counted %v", v)
	}

	// What the sender saw.
	delivered := map[string]bool{}
	var failedAttempts, duplicates int
	for _, a := range ws.Attempts() {
		switch {
		case a.Delivered && delivered[a.NotificationID]:
			duplicates++
		case a.Delivered:
			delivered[a.NotificationID] = true
		case a.Status == http.StatusServiceUnavailable:
			failedAttempts++
		default:
			t.Fatalf("attempt %+v failed", a)
		}
	}
	if !delivered[ev.TTSNotificationID] || failedAttempts != 2 {
		t.Fatalf("refused event delivered=%v after %d failed attempts, want 2", delivered[ev.TTSNotificationID], failedAttempts)
	}
	if len(delivered) < 20 || duplicates == 0 {
		t.Fatalf("%d events delivered, %d duplicates; the test is too small", len(delivered), duplicates)
	}

	// What is in Kafka: every delivered event once, as sent; nothing else.
	got := consumeAll(ctx, t, kw.cl, k.Admin, k.Topic(schemas.TopicTikTokWebhookEvents))
	if len(got) != len(delivered) {
		t.Fatalf("%d records in Kafka, %d events delivered", len(got), len(delivered))
	}
	orderEvents := 0
	for key, rec := range got {
		if !delivered[key] {
			t.Fatalf("record %s was never delivered", key)
		}
		var sent struct {
			Type      int64           `json:"type"`
			ID        string          `json:"tts_notification_id"`
			ShopID    string          `json:"shop_id"`
			Timestamp int64           `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(cp.sent[key], &sent); err != nil {
			t.Fatal(err)
		}
		if rec["tts_notification_id"] != sent.ID || rec["type"] != sent.Type || rec["data_json"] != string(sent.Data) ||
			!rec["timestamp"].(time.Time).Equal(time.Unix(sent.Timestamp, 0)) || rec["event_id"] != EventID(sent.ID) ||
			rec["shop_id"].(map[string]any)["string"] != sent.ShopID {
			t.Fatalf("record %v, sent %s", rec, cp.sent[key])
		}
		if sent.Type == TypeOrderStatusChange {
			orderEvents++
			var d struct {
				OrderID string `json:"order_id"`
				Status  string `json:"order_status"`
			}
			_ = json.Unmarshal(sent.Data, &d)
			want := d.Status
			if want == "CANCEL" {
				want = simworld.TikTokCancelled
			}
			if rec["order_id"].(map[string]any)["string"] != d.OrderID || rec["order_status"].(map[string]any)["string"] != want ||
				rec["order_status_raw"].(map[string]any)["string"] != d.Status {
				t.Fatalf("order event %v, sent %s", rec, sent.Data)
			}
		}
	}
	if orderEvents == 0 {
		t.Fatal("no order status events")
	}
	t.Logf("%d events in Kafka (%d order status changes), %d duplicate deliveries absorbed, %d refused writes retried",
		len(got), orderEvents, duplicates, failedAttempts)
	follow.mu.Lock()
	defer follow.mu.Unlock()
	if len(follow.early) != 0 {
		t.Errorf("order follow-up before the ack for %v", follow.early)
	}
	// Every stored event about an order (status changes and cancellations)
	// was followed up once; duplicates were not.
	withOrder := 0
	for _, rec := range got {
		if rec["order_id"] != nil {
			withOrder++
		}
	}
	if len(follow.orders) != withOrder {
		t.Errorf("%d follow-ups for %d stored order events", len(follow.orders), withOrder)
	}
}

// consumeAll reads topic from the start to its current end and decodes every
// record, keyed by Kafka key; a key seen twice fails the test.
func consumeAll(ctx context.Context, t *testing.T, cl *kgo.Client, adm *kadm.Client, topic string) map[string]map[string]any {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	codec, err := schemas.NewCodec(schemas.TopicTikTokWebhookEvents)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	out := map[string]map[string]any{}
	var n int64
	for n < want {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", n, want, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			n++
			rec, err := codec.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if _, dup := out[string(r.Key)]; dup {
				t.Fatalf("key %s stored twice", r.Key)
			}
			out[string(r.Key)] = rec
		})
	}
	return out
}
