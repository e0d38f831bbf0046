package webhook

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
)

const (
	testKey    = "6abc123"
	testSecret = "s3cr3t-app-secret"
)

// memWriter is a Writer in memory, encoding every record with the topic's
// schema so a record that would not encode fails the test.
type memWriter struct {
	mu    sync.Mutex
	fail  error
	recs  []map[string]any
	keys  []string
	codec *schemas.Codec
}

func (m *memWriter) WriteRecord(ctx context.Context, topic, key string, rec map[string]any) error {
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 3*time.Second {
		return errors.New("write has no deadline inside TikTok's three seconds")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, err := m.codec.Encode(rec); err != nil {
		return err
	}
	m.recs = append(m.recs, rec)
	m.keys = append(m.keys, key)
	return nil
}

func (m *memWriter) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

type followRec struct {
	mu     sync.Mutex
	orders []string
}

func (f *followRec) FollowOrder(ev Event) {
	f.mu.Lock()
	f.orders = append(f.orders, ev.Order.OrderID)
	f.mu.Unlock()
}

func newTestHandler(t *testing.T) (*Handler, *memWriter, *followRec) {
	t.Helper()
	codec, err := schemas.NewCodec(schemas.TopicTikTokWebhookEvents)
	if err != nil {
		t.Fatal(err)
	}
	mw := &memWriter{codec: codec}
	fr := &followRec{}
	h, err := NewHandler(Config{AppKey: testKey, AppSecret: secret.Secret(testSecret), Writer: mw, Follower: fr,
		MaxBodyBytes: 4096, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return h, mw, fr
}

func post(h http.Handler, body []byte, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The expected signature was computed with Python's hmac module:
// hmac.new(b"s3cr3t-app-secret", b"6abc123" + body, sha256).hexdigest().
func TestSignatureKnownAnswer(t *testing.T) {
	body := []byte(`{"type":1,"tts_notification_id":"7327112393057371910"}`)
	const want = "2e8abb3374ea28b3b613bcca8f01522113a8fd8461ac5035ecf8f0010698a1c6"
	if got := Signature(testKey, []byte(testSecret), body); got != want {
		t.Fatalf("Signature = %s", got)
	}
	if got := tiktokshoptest.WebhookSignature(testKey, testSecret, body); got != want {
		t.Fatalf("simulator signs %s", got)
	}
	if !Verify(testKey, []byte(testSecret), body, want) || !Verify(testKey, []byte(testSecret), body, strings.ToUpper(want)) {
		t.Error("valid signature rejected")
	}
	for _, bad := range []string{"", want[:63], want + "00", "Bearer " + want, strings.Repeat("0", 64)} {
		if Verify(testKey, []byte(testSecret), body, bad) {
			t.Errorf("signature %q accepted", bad)
		}
	}
	if Verify(testKey, []byte(testSecret), append(body, ' '), want) {
		t.Error("signature of another body accepted")
	}
}

func TestHandler(t *testing.T) {
	h, mw, fr := newTestHandler(t)
	body := []byte(`{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,` +
		`"data":{"order_id":"576486316948490001","order_status":"CANCEL","is_on_hold_order":false,"update_time":1644412880}}`)
	sig := Signature(testKey, []byte(testSecret), body)

	if rec := post(h, body, "0"+sig[1:]); rec.Code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", rec.Code)
	}
	if rec := post(h, body, ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("no signature: %d", rec.Code)
	}
	if got := counterValue(t, h.requests.WithLabelValues(Source, OutcomeBadSignature)); got != 2 || mw.count() != 0 {
		t.Fatalf("bad signatures counted %v, %d stored", got, mw.count())
	}

	// Kafka down: 503, so TikTok retries; nothing followed up.
	mw.fail = errors.New("broker unavailable")
	if rec := post(h, body, sig); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("write failure answered %d", rec.Code)
	}
	mw.fail = nil
	if rec := post(h, body, sig); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Fatalf("valid event: %d %q", rec.Code, rec.Body)
	}
	if rec := post(h, body, sig); rec.Code != http.StatusOK {
		t.Fatalf("redelivery: %d", rec.Code)
	}
	if mw.count() != 1 || len(fr.orders) != 1 || fr.orders[0] != "576486316948490001" {
		t.Fatalf("stored %d, followed %v", mw.count(), fr.orders)
	}
	r := mw.recs[0]
	if r["order_status"].(map[string]any)["string"] != "CANCELLED" || r["order_status_raw"].(map[string]any)["string"] != "CANCEL" ||
		r["event_id"] != EventID("7327112393057371910") || mw.keys[0] != "7327112393057371910" ||
		r["data_json"] != `{"order_id":"576486316948490001","order_status":"CANCEL","is_on_hold_order":false,"update_time":1644412880}` ||
		r["event_type"].(map[string]any)["string"] != "ORDER_STATUS_CHANGE" {
		t.Fatalf("record %v", r)
	}
	for outcome, want := range map[string]float64{OutcomeAccepted: 1, OutcomeDuplicate: 1, OutcomeWriteFailed: 1} {
		if got := counterValue(t, h.requests.WithLabelValues(Source, outcome)); got != want {
			t.Errorf("%s counted %v, want %v", outcome, got, want)
		}
	}

	// Oversized, malformed, wrong method.
	big := []byte(`{"type":1,"tts_notification_id":"1","data":"` + strings.Repeat("x", 5000) + `"}`)
	if rec := post(h, big, Signature(testKey, []byte(testSecret), big)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", rec.Code)
	}
	bad := []byte(`{"type":"one"}`)
	if rec := post(h, bad, Signature(testKey, []byte(testSecret), bad)); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed body: %d", rec.Code)
	}
	req := httptest.NewRequest(http.MethodGet, Path, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
	if mw.count() != 1 {
		t.Errorf("%d records stored", mw.count())
	}
}

func TestMalformedSignedBodyIsDeadLettered(t *testing.T) {
	h, mw, _ := newTestHandler(t)
	var dead [][]byte
	h.cfg.DeadLetter = func(_ context.Context, body []byte, reason string) error {
		if reason == "" {
			t.Error("no reason")
		}
		dead = append(dead, body)
		return nil
	}
	bad := []byte(`{"type":1,"data":{}}`) // no tts_notification_id
	if rec := post(h, bad, Signature(testKey, []byte(testSecret), bad)); rec.Code != http.StatusOK {
		t.Fatalf("dead-lettered body answered %d", rec.Code)
	}
	if len(dead) != 1 || !bytes.Equal(dead[0], bad) || mw.count() != 0 {
		t.Fatalf("dead letters %q, %d records", dead, mw.count())
	}
	h.cfg.DeadLetter = func(context.Context, []byte, string) error { return errors.New("dlq down") }
	if rec := post(h, bad, Signature(testKey, []byte(testSecret), bad)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("failed dead letter answered %d", rec.Code)
	}
}

func TestNormalizeOrderStatus(t *testing.T) {
	for in, want := range map[string]string{"CANCEL": "CANCELLED", "UNPAID": "UNPAID", "AWAITING_COLLECTION": "AWAITING_COLLECTION",
		" in_transit ": "IN_TRANSIT", "PARTIALLY_SHIPPING": "PARTIALLY_SHIPPING", "CANCELLED": "CANCELLED"} {
		if got := NormalizeOrderStatus(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestRecentSetEvicts(t *testing.T) {
	s := newRecentSet(2)
	s.add("a")
	s.add("b")
	s.add("a")
	s.add("c")
	if s.contains("a") || !s.contains("b") || !s.contains("c") {
		t.Error("FIFO eviction broken")
	}
}

// FuzzVerifyAndParse: arbitrary bodies and Authorization headers never get a
// forged body accepted, never panic the verifier, parser or handler, and
// every event that parses maps to a record that encodes. The seeds run as a
// normal test.
func FuzzVerifyAndParse(f *testing.F) {
	f.Add([]byte(`{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621","timestamp":1644412885,"data":{"order_id":"576486316948490001","order_status":"UNPAID","is_on_hold_order":false,"update_time":1644412885}}`), "")
	f.Add([]byte(`{"type":6,"tts_notification_id":"1","shop_id":"2","timestamp":1,"data":{"shop_id":"2","update_time":1}}`), "abc")
	f.Add([]byte(`{"type":7,"tts_notification_id":"x","seller_open_id":"o","data":{"message":"m","expiration_time":99}}`), "zz")
	f.Add([]byte(`{"type":1,"tts_notification_id":"y","data":{"order_id":123}}`), "")
	f.Add([]byte(`{"type":1,"tts_notification_id":"y","data":null}`), "")
	f.Add([]byte(`{"type":1,"tts_notification_id":"y"}`), "")
	f.Add([]byte(`[]`), "00")
	f.Add([]byte(``), "")
	f.Add([]byte("{\"type\":1,\"tts_notification_id\":\"\xff\"}"), "")
	codec, err := schemas.NewCodec(schemas.TopicTikTokWebhookEvents)
	if err != nil {
		f.Fatal(err)
	}
	mw := &memWriter{codec: codec}
	h, err := NewHandler(Config{AppKey: testKey, AppSecret: secret.Secret(testSecret), Writer: mw, MaxBodyBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, auth string) {
		good := Signature(testKey, []byte(testSecret), body)
		if !Verify(testKey, []byte(testSecret), body, good) {
			t.Fatal("own signature rejected")
		}
		if auth != good && !strings.EqualFold(strings.TrimSpace(auth), good) && Verify(testKey, []byte(testSecret), body, auth) {
			t.Fatalf("forged signature %q accepted", auth)
		}
		if ev, err := Parse(body); err == nil {
			rec := Record(ev, time.Unix(1700000000, 0))
			if _, err := codec.Encode(rec); err != nil {
				t.Fatalf("parsed event does not encode: %v (%q)", err, body)
			}
		}
		for _, a := range []string{auth, good} {
			rec := post(h, body, a)
			switch rec.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable:
			default:
				t.Fatalf("status %d", rec.Code)
			}
			if a != good && rec.Code != http.StatusUnauthorized && !Verify(testKey, []byte(testSecret), body, a) {
				t.Fatalf("unsigned body answered %d", rec.Code)
			}
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
