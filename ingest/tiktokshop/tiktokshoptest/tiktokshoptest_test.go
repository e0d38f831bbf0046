package tiktokshoptest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

// The expected values were computed independently (Python hmac) from the
// algorithm in the reference, so a bug shared by Sign and the server's check
// cannot hide.
func TestSignKnownAnswer(t *testing.T) {
	q := url.Values{"app_key": {"6abc"}, "timestamp": {"1697708762"}, "shop_cipher": {"ROW_x"}, "page_size": {"20"},
		"sign": {"zzz"}, "access_token": {"t"}}
	got := Sign("e59af819cc", "/order/202309/orders/search", q, []byte(`{"update_time_ge":1697700000}`), "application/json")
	if got != "c95ae4714fbbe3323c649a4a0fbfc2f071649946059067fe5cc5c58f1ee9cd91" {
		t.Errorf("Sign = %s", got)
	}
	if got := WebhookSignature("key", "sec", []byte(`{"type":1}`)); got != "1ef44fa745909c2716394e8d70ee13c398f0a363a9c688ba4f87a9fbf4e0bd6b" {
		t.Errorf("WebhookSignature = %s", got)
	}
	// multipart bodies are not signed
	a := Sign("s", "/p", url.Values{}, []byte("file"), "multipart/form-data; boundary=x")
	if a != Sign("s", "/p", url.Values{}, nil, "") {
		t.Error("multipart body was signed")
	}
}

type harness struct {
	t     *testing.T
	world *simworld.World
	clock *simworld.ManualClock
	srv   *Server
	creds Credentials
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(12 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 5, Clock: clock})
	srv := NewServer(w, opts)
	t.Cleanup(srv.Close)
	h := &harness{t: t, world: w, clock: clock, srv: srv, creds: srv.Sim.Credentials()}
	env := h.raw(http.MethodGet, "/api/v2/token/get?"+url.Values{"app_key": {h.creds.AppKey}, "app_secret": {h.creds.AppSecret},
		"auth_code": {h.creds.AuthCode}, "grant_type": {"authorized_code"}}.Encode(), nil, nil)
	if env.Code != 0 {
		t.Fatalf("token/get: %+v", env)
	}
	var td TokenData
	_ = json.Unmarshal(env.Data, &td)
	h.token = td.AccessToken
	return h
}

type rawEnvelope struct {
	Status    int
	Code      int             `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id"`
	Data      json.RawMessage `json:"data"`
}

func (h *harness) raw(method, u string, body []byte, hdr http.Header) rawEnvelope {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+u, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env rawEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		h.t.Fatalf("%s %s: not an envelope: %s", method, u, b)
	}
	env.Status = resp.StatusCode
	return env
}

// call makes a correctly signed request; mutate can break it afterwards.
func (h *harness) call(method, path string, params url.Values, body any, mutate func(q url.Values, hdr http.Header, b *[]byte)) rawEnvelope {
	h.t.Helper()
	q := url.Values{"app_key": {h.creds.AppKey}, "timestamp": {strconv.FormatInt(h.clock.Now().Unix(), 10)}, "shop_cipher": {h.creds.ShopCipher}}
	for k, v := range params {
		q[k] = v
	}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Tts-Access-Token": {h.token}}
	q.Set("sign", Sign(h.creds.AppSecret, path, q, b, "application/json"))
	if mutate != nil {
		mutate(q, hdr, &b)
	}
	return h.raw(method, path+"?"+q.Encode(), b, hdr)
}

func TestSignatureAndAuthChecks(t *testing.T) {
	h := newHarness(t, Options{})
	path := "/authorization/202309/shops"
	env := h.call(http.MethodGet, path, nil, nil, nil)
	if env.Code != 0 || env.Status != 200 || !bytes.Contains(env.Data, []byte(h.creds.ShopCipher)) {
		t.Fatalf("shops: %+v", env)
	}
	body := map[string]any{"update_time_ge": h.clock.Now().Add(-time.Hour).Unix()}
	cases := []struct {
		name   string
		mutate func(q url.Values, hdr http.Header, b *[]byte)
		status int
		code   int
	}{
		{"wrong sign", func(q url.Values, _ http.Header, _ *[]byte) { q.Set("sign", q.Get("sign")[1:]+"0") }, 401, CodeBadSignature},
		{"no sign", func(q url.Values, _ http.Header, _ *[]byte) { q.Del("sign") }, 401, CodeBadSignature},
		{"body changed after signing", func(_ url.Values, _ http.Header, b *[]byte) { *b = append(*b, ' ') }, 401, CodeBadSignature},
		{"param added after signing", func(q url.Values, _ http.Header, _ *[]byte) { q.Set("sort_order", "ASC") }, 401, CodeBadSignature},
		{"stale timestamp", func(q url.Values, _ http.Header, _ *[]byte) {
			q.Set("timestamp", strconv.FormatInt(h.clock.Now().Add(-6*time.Minute).Unix(), 10))
		}, 200, CodeInvalidParam},
		{"wrong app key", func(q url.Values, _ http.Header, _ *[]byte) { q.Set("app_key", "nope") }, 200, CodeInvalidParam},
		{"no access token", func(_ url.Values, hdr http.Header, _ *[]byte) { hdr.Del("X-Tts-Access-Token") }, 200, CodeTokenInvalid},
	}
	for _, c := range cases {
		env := h.call(http.MethodPost, "/order/202309/orders/search", url.Values{"page_size": {"10"}}, body, c.mutate)
		if env.Status != c.status || env.Code != c.code || env.RequestID == "" {
			t.Errorf("%s: HTTP %d code %d %q", c.name, env.Status, env.Code, env.Message)
		}
	}
	if env := h.call(http.MethodPost, "/order/202309/orders/search", url.Values{"page_size": {"10"}}, body,
		func(q url.Values, _ http.Header, _ *[]byte) { q.Del("shop_cipher") }); env.Code == 0 {
		t.Error("shop-scoped call without shop_cipher accepted")
	}
	if env := h.call(http.MethodPost, "/order/202309/orders/search", url.Values{"page_size": {"10"}}, body, nil); env.Code != 0 {
		t.Fatalf("valid call rejected: %+v", env)
	}
	h.clock.Advance(7 * 24 * time.Hour)
	if env := h.call(http.MethodGet, path, nil, nil, nil); env.Code != CodeTokenExpired {
		t.Errorf("expired token: %+v", env)
	}
	// Refresh brings a working token back.
	env = h.raw(http.MethodGet, "/api/v2/token/refresh?"+url.Values{"app_key": {h.creds.AppKey}, "app_secret": {h.creds.AppSecret},
		"refresh_token": {h.refreshToken()}, "grant_type": {"refresh_token"}}.Encode(), nil, nil)
	var td TokenData
	_ = json.Unmarshal(env.Data, &td)
	h.token = td.AccessToken
	if td.AccessTokenExpireIn != h.clock.Now().Add(7*24*time.Hour).Unix() {
		t.Errorf("access_token_expire_in = %d", td.AccessTokenExpireIn)
	}
	if env := h.call(http.MethodGet, path, nil, nil, nil); env.Code != 0 {
		t.Errorf("refreshed token rejected: %+v", env)
	}
	bad := h.raw(http.MethodGet, "/api/v2/token/get?"+url.Values{"app_key": {h.creds.AppKey}, "app_secret": {"x"},
		"auth_code": {h.creds.AuthCode}, "grant_type": {"authorized_code"}}.Encode(), nil, nil)
	if bad.Code == 0 {
		t.Error("token/get with a wrong secret succeeded")
	}
}

func (h *harness) refreshToken() string {
	h.srv.Sim.mu.Lock()
	defer h.srv.Sim.mu.Unlock()
	for rt := range h.srv.Sim.refresh {
		return rt
	}
	return ""
}

func TestThrottleIsCodeInsideHTTP200(t *testing.T) {
	h := newHarness(t, Options{})
	for i := 0; i < 50; i++ {
		if env := h.call(http.MethodGet, "/authorization/202309/shops", nil, nil, nil); env.Code != 0 {
			t.Fatalf("request %d: %+v", i, env)
		}
	}
	env := h.call(http.MethodGet, "/authorization/202309/shops", nil, nil, nil)
	if env.Status != 200 || env.Code != CodeThrottled || env.Message != MsgThrottled {
		t.Fatalf("51st request: %+v", env)
	}
	h.clock.Advance(time.Second)
	if env := h.call(http.MethodGet, "/authorization/202309/shops", nil, nil, nil); env.Code != 0 {
		t.Errorf("bucket did not refill: %+v", env)
	}
}

// TestThrottleIsPerAPINotPerPath: requests to one API with different path
// parameters and queries draw on one bucket (50 QPS per app per API), and
// another API keeps its own.
func TestThrottleIsPerAPINotPerPath(t *testing.T) {
	h := newHarness(t, Options{})
	day := simworld.DateOf(h.clock.Now(), h.world.Config().ShopZone).AddDays(-2)
	params := url.Values{"start_date_ge": {day.String()}, "end_date_lt": {day.AddDays(1).String()}}
	for i := 0; i < 50; i++ {
		path := fmt.Sprintf("/analytics/202509/shop_videos/%d/products/performance", 7300000000000000000+i)
		if env := h.call(http.MethodGet, path, params, nil, nil); env.Code == CodeThrottled {
			t.Fatalf("video %d throttled within the burst: %+v", i, env)
		}
	}
	env := h.call(http.MethodGet, "/analytics/202509/shop_videos/7400000000000000000/products/performance", params, nil, nil)
	if env.Code != CodeThrottled {
		t.Fatalf("51st request to the API (a new video id) not throttled: %+v", env)
	}
	for i, path := range []string{"/product/202309/products/1729000000000000001", "/product/202312/products/1729000000000000002"} {
		env := h.call(http.MethodGet, path, nil, nil, nil)
		if env.Code == CodeThrottled {
			t.Fatalf("product detail %d throttled by another API's bucket: %+v", i, env)
		}
	}
	for i := 2; i < 50; i++ {
		h.call(http.MethodGet, fmt.Sprintf("/product/202309/products/%d", 1729000000000000000+i), nil, nil, nil)
	}
	if env := h.call(http.MethodGet, "/product/202312/products/1729000000000000099", nil, nil, nil); env.Code != CodeThrottled {
		t.Fatalf("product detail versions 202309 and 202312 do not share the API's bucket: %+v", env)
	}
}

type searchData struct {
	NextPageToken string           `json:"next_page_token"`
	TotalCount    int              `json:"total_count"`
	Orders        []map[string]any `json:"orders"`
}

func TestOrderSearchPagingExactlyOnce(t *testing.T) {
	h := newHarness(t, Options{})
	now := h.clock.Now()
	ge, lt := now.Add(-24*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	body := map[string]any{"update_time_ge": ge, "update_time_lt": lt}
	params := url.Values{"page_size": {"17"}, "sort_field": {"update_time"}, "sort_order": {"ASC"}}
	seen := map[string]int{}
	total := -1
	for page := 0; ; page++ {
		env := h.call(http.MethodPost, "/order/202309/orders/search", params, body, nil)
		if env.Code != 0 {
			t.Fatalf("page %d: %+v", page, env)
		}
		var d searchData
		_ = json.Unmarshal(env.Data, &d)
		if total == -1 {
			total = d.TotalCount
		} else if total != d.TotalCount {
			t.Fatalf("total_count changed while paging")
		}
		for _, o := range d.Orders {
			seen[o["id"].(string)]++
		}
		if d.NextPageToken == "" {
			break
		}
		params = url.Values{"page_size": {"17"}, "page_token": {d.NextPageToken}}
		h.clock.Advance(10 * time.Minute) // orders keep changing while we page
	}
	want := h.world.TruthAt(now.Add(-30*time.Second)).TikTokOrdersUpdated(time.Unix(ge, 0), time.Unix(lt, 0))
	if len(want) < 100 || len(seen) != len(want) || total != len(want) {
		t.Fatalf("served %d distinct orders (total_count %d), truth %d", len(seen), total, len(want))
	}
	for _, o := range want {
		if seen[o.ID] != 1 {
			t.Fatalf("order %s served %d times", o.ID, seen[o.ID])
		}
	}
	// Detail by ids returns the same orders.
	ids := want[0].ID + "," + want[1].ID
	env := h.call(http.MethodGet, "/order/202309/orders", url.Values{"ids": {ids}}, nil, nil)
	var d searchData
	_ = json.Unmarshal(env.Data, &d)
	if env.Code != 0 || len(d.Orders) != 2 {
		t.Fatalf("detail: %+v", env)
	}
	li := d.Orders[0]["line_items"].([]any)[0].(map[string]any)
	if _, ok := li["sale_price"].(string); !ok {
		t.Error("money must be a string")
	}
	if _, ok := d.Orders[0]["update_time"].(float64); !ok {
		t.Error("times must be Unix seconds")
	}
}

func TestProductsAndVideoPerformance(t *testing.T) {
	h := newHarness(t, Options{})
	var ids []string
	params := url.Values{"page_size": {"5"}}
	for {
		env := h.call(http.MethodPost, "/product/202309/products/search", params, map[string]any{"status": "ACTIVATE"}, nil)
		if env.Code != 0 {
			t.Fatalf("product search: %+v", env)
		}
		var d struct {
			Products []struct {
				ID   string           `json:"id"`
				SKUs []map[string]any `json:"skus"`
			} `json:"products"`
			Next string `json:"next_page_token"`
		}
		_ = json.Unmarshal(env.Data, &d)
		for _, p := range d.Products {
			ids = append(ids, p.ID)
		}
		if d.Next == "" {
			break
		}
		params = url.Values{"page_size": {"5"}, "page_token": {d.Next}}
	}
	if len(ids) != len(h.world.TikTokProducts()) {
		t.Fatalf("product search served %d products, world has %d", len(ids), len(h.world.TikTokProducts()))
	}
	for _, p := range h.world.TikTokProducts() {
		if p.Match == simworld.MatchGTIN {
			env := h.call(http.MethodGet, "/product/202309/products/"+p.TikTokID, nil, nil, nil)
			if !bytes.Contains(env.Data, []byte(`"identifier_code"`)) {
				t.Errorf("GTIN-matched product detail lacks identifier_code: %s", env.Data)
			}
			break
		}
	}

	zone := h.world.Config().ShopZone
	today := simworld.DateOf(h.clock.Now(), zone)
	from, to := today.AddDays(-7), today.AddDays(1) // asks past the T-1 horizon
	env := h.call(http.MethodGet, "/analytics/202509/shop_videos/performance",
		url.Values{"start_date_ge": {from.String()}, "end_date_lt": {to.String()}, "page_size": {"100"}}, nil, nil)
	if env.Code != 0 {
		t.Fatalf("video performance: %+v", env)
	}
	var d struct {
		Videos []struct {
			ID       string              `json:"id"`
			GMV      map[string]string   `json:"gmv"`
			Views    int64               `json:"views"`
			Products []map[string]string `json:"products"`
		} `json:"videos"`
		Latest string `json:"latest_available_date"`
	}
	_ = json.Unmarshal(env.Data, &d)
	if d.Latest != today.AddDays(-1).String() {
		t.Errorf("latest_available_date %s, want %s", d.Latest, today.AddDays(-1))
	}
	truth := map[string]simworld.VideoPerformance{}
	for _, vp := range h.world.TruthAt(h.clock.Now()).VideoPerformance(from, today) {
		truth[vp.Video.ID] = vp
	}
	if len(d.Videos) == 0 {
		t.Fatal("no videos")
	}
	for _, v := range d.Videos {
		vp := truth[v.ID]
		if v.GMV["amount"] != vp.GMV.String() || v.Views != vp.Views || len(v.Products) != len(vp.Products) || len(v.Products) == 0 {
			t.Fatalf("video %s: served %+v, truth gmv %s views %d products %d", v.ID, v, vp.GMV, vp.Views, len(vp.Products))
		}
	}
	env = h.call(http.MethodGet, "/analytics/202509/shop_videos/"+d.Videos[0].ID+"/products/performance",
		url.Values{"start_date_ge": {from.String()}, "end_date_lt": {today.String()}}, nil, nil)
	if env.Code != 0 || !bytes.Contains(env.Data, []byte(d.Videos[0].Products[0]["id"])) {
		t.Errorf("video products: %+v", env)
	}
	env = h.call(http.MethodGet, "/analytics/202509/shop_videos/performance",
		url.Values{"start_date_ge": {today.String()}, "end_date_lt": {from.String()}}, nil, nil)
	if env.Code != CodeAnalyticsPeriod {
		t.Errorf("reversed period: %+v", env)
	}
}

func TestFaultInjection(t *testing.T) {
	h := newHarness(t, Options{Faults: fault.Config{ThrottleRate: 1, PathPrefixes: []string{"/authorization/"}}})
	if env := h.call(http.MethodGet, "/authorization/202309/shops", nil, nil, nil); env.Status != 200 || env.Code != CodeThrottled {
		t.Errorf("throttle fault: %+v", env)
	}
	h = newHarness(t, Options{Faults: fault.Config{ServerErrorRate: 1, PathPrefixes: []string{"/authorization/"}}})
	if env := h.call(http.MethodGet, "/authorization/202309/shops", nil, nil, nil); env.Status < 500 || env.Code != CodeInternal {
		t.Errorf("5xx fault: %+v", env)
	}
}

// receiver is a webhook endpoint that verifies signatures and fails on demand.
type receiver struct {
	mu       sync.Mutex
	clock    simworld.Clock
	appKey   string
	secret   string
	failures map[string]int // notification id → remaining failures
	failAll  bool
	got      []receivedEvent
}

type receivedEvent struct {
	at time.Time
	ev Event
	ok bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write([]byte(rc.appKey))
	m.Write(body)
	if !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte(hex.EncodeToString(m.Sum(nil)))) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev Event
	_ = json.Unmarshal(body, &ev)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fail := rc.failAll || rc.failures[ev.TTSNotificationID] > 0
	if rc.failures[ev.TTSNotificationID] > 0 {
		rc.failures[ev.TTSNotificationID]--
	}
	rc.got = append(rc.got, receivedEvent{rc.clock.Now(), ev, !fail})
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestWebhooksAreSignedAndRetriedOnSchedule(t *testing.T) {
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(5 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 8, Clock: clock})
	creds := DefaultCredentials(w)
	rc := &receiver{clock: clock, appKey: creds.AppKey, secret: creds.AppSecret, failures: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	ws := NewWebhookSender(w, creds, WebhookConfig{URL: srv.URL, Client: srv.Client()})
	ctx := context.Background()

	// Ten minutes of order activity, delivered.
	clock.Advance(10 * time.Minute)
	if n := ws.Poll(ctx); n == 0 {
		t.Fatal("no events in ten minutes")
	}
	rc.mu.Lock()
	first := rc.got
	rc.got = nil
	rc.mu.Unlock()
	wantChanges := 0
	for _, o := range w.TikTokOrdersCreated(clock.Now().Add(-simworld.MaxTikTokLifecycle-10*time.Minute), clock.Now()) {
		for _, hh := range o.History {
			if hh.At.After(clock.Now().Add(-10*time.Minute)) && !hh.At.After(clock.Now()) {
				wantChanges++
			}
		}
	}
	statusEvents := 0
	for _, r := range first {
		if !r.ok {
			t.Fatalf("delivery failed: %+v", r)
		}
		if r.ev.Type == EventOrderStatusChange {
			statusEvents++
			var d map[string]any
			_ = json.Unmarshal(r.ev.Data, &d)
			if d["order_status"] == simworld.TikTokCancelled {
				t.Error("webhook used the Order API's CANCELLED; it says CANCEL")
			}
		}
		if r.ev.ShopID != creds.ShopID || r.ev.TTSNotificationID == "" {
			t.Errorf("envelope %+v", r.ev)
		}
	}
	if statusEvents != wantChanges {
		t.Errorf("%d status events, %d status changes in the world", statusEvents, wantChanges)
	}

	// Now the endpoint is down: one event is retried 4 times, then dropped.
	rc.mu.Lock()
	rc.failAll = true
	rc.mu.Unlock()
	ws.Deauthorize()
	t0 := clock.Now()
	ws.Poll(ctx)
	var times []time.Duration
	for step := 0; step < 24*60; step++ { // a day in one-minute steps, no sleeping
		clock.Advance(time.Minute)
		ws.Poll(ctx)
	}
	for _, a := range ws.Attempts() {
		if a.Type == EventSellerDeauthorization {
			times = append(times, a.At.Sub(t0))
		}
	}
	want := []time.Duration{0, 2 * time.Minute, 32 * time.Minute, 3*time.Hour + 32*time.Minute, 15*time.Hour + 32*time.Minute}
	if len(times) != len(want) {
		t.Fatalf("attempts at %v, want %v", times, want)
	}
	for i := range want {
		if times[i] != want[i] {
			t.Fatalf("attempts at %v, want %v", times, want)
		}
	}
	last := ws.Attempts()
	gaveUp := false
	for _, a := range last {
		gaveUp = gaveUp || a.Type == EventSellerDeauthorization && a.GaveUp
	}
	if !gaveUp {
		t.Error("sender did not give up after four retries")
	}

	// A delivery that fails twice is delivered on the second retry.
	rc.mu.Lock()
	rc.failAll = false
	rc.got = nil
	rc.mu.Unlock()
	ev := NewEvent(EventAuthorizationExpiration, clock.Now(), map[string]any{"message": "expiring", "expiration_time": clock.Now().Add(30 * 24 * time.Hour).Unix()})
	ev.TTSNotificationID = "7300000000000000001"
	rc.mu.Lock()
	rc.failures[ev.TTSNotificationID] = 2
	rc.mu.Unlock()
	ws.Enqueue(ev)
	for step := 0; step < 40; step++ {
		ws.Poll(ctx)
		clock.Advance(time.Minute)
	}
	ok := 0
	for _, r := range rc.got {
		if r.ev.TTSNotificationID == ev.TTSNotificationID && r.ok {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("event delivered %d times after two failures", ok)
	}
}
