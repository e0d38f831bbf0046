package tiktokshop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi"
	"github.com/shopstream/shopstream/ingest/internal/tiktokapi/tiktokapitest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
)

func TestTokenShopCipherAndProactiveRefresh(t *testing.T) {
	var stored []secret.Secret
	e := newEnv(t, tiktokshoptest.Options{AccessTokenTTL: 4 * time.Hour}, func(c *Config) {
		c.RefreshBefore = 30 * time.Minute
		c.OnToken = func(rt secret.Secret, _ time.Time) { stored = append(stored, rt) }
	})
	ctx := context.Background()
	shop, err := e.client.Shop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if shop.ID != e.creds.ShopID || shop.Cipher != e.creds.ShopCipher {
		t.Fatalf("shop %+v, want id %s", shop, e.creds.ShopID)
	}
	access, refresh := e.client.TokenExpiry()
	if !access.Equal(e.clock.Now().Add(4*time.Hour).Truncate(time.Second)) || refresh.IsZero() {
		t.Fatalf("token expiry %v / %v", access, refresh)
	}
	// Walk through three token lifetimes; every call must succeed without a
	// single rejected token, because the client refreshes ahead of expiry.
	for i := 0; i < 12; i++ {
		e.clock.Advance(time.Hour)
		if _, err := e.client.Shops(ctx); err != nil {
			t.Fatalf("hour %d: %v", i, err)
		}
	}
	if a2, _ := e.client.TokenExpiry(); !a2.After(access) {
		t.Error("access token was never refreshed")
	}
	for _, err := range e.retries.Errors() {
		t.Errorf("unexpected retry: %v", err)
	}
	if len(stored) < 2 || stored[0] == "" {
		t.Fatalf("refresh tokens handed over: %d", len(stored))
	}
	// A client started from the stored refresh token needs no auth code.
	c2, err := New(Config{APIBaseURL: e.srv.URL, AuthBaseURL: e.srv.URL, AppKey: e.creds.AppKey, AppSecret: secret.Secret(e.creds.AppSecret),
		RefreshToken: stored[len(stored)-1], HTTPClient: e.srv.Client(), Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Shop(ctx); err != nil {
		t.Fatalf("start from stored refresh token: %v", err)
	}
}

// A token the API rejects before the client expected (revoked, or clocks
// apart) is refreshed once, reactively, and the call goes through.
func TestReactiveRefreshOnExpiredToken(t *testing.T) {
	var skew atomic.Int64
	e := newEnv(t, tiktokshoptest.Options{AccessTokenTTL: time.Hour}, nil)
	c, err := New(Config{APIBaseURL: e.srv.URL, AuthBaseURL: e.srv.URL, AppKey: e.creds.AppKey,
		AppSecret: secret.Secret(e.creds.AppSecret), AuthCode: secret.Secret(e.creds.AuthCode), HTTPClient: e.srv.Client(),
		// The client's clock runs a minute behind the API's (inside the
		// accepted timestamp window), so it believes the token is live.
		Clock: skewed{e.clock, &skew}, RefreshBefore: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Shops(ctx); err != nil {
		t.Fatal(err)
	}
	skew.Store(int64(time.Minute))
	e.clock.Advance(time.Hour + 30*time.Second)
	if _, err := c.Shops(ctx); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestWrongSignRejectedAndNotRetried(t *testing.T) {
	var attempts atomic.Int32
	base := http.DefaultTransport
	e2 := newEnv(t, tiktokshoptest.Options{}, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			if strings.HasPrefix(r.URL.Path, "/order/") {
				attempts.Add(1)
				q := r.URL.Query()
				q.Set("sign", strings.Repeat("0", 64))
				r.URL.RawQuery = q.Encode()
			}
			return base.RoundTrip(r)
		})}
	})
	_, err := e2.client.OrderDetail(context.Background(), "576000000000000000")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != CodeBadSignature || apiErr.HTTPStatus != http.StatusUnauthorized {
		t.Fatalf("err = %v, want code %d with HTTP 401", err, CodeBadSignature)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts; a bad signature must not be retried", n)
	}
}

func TestThrottleAndFaultsAreRetried(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, tiktokshoptest.Options{QPS: 2, Burst: 2, Faults: fault.Config{ServerErrorRate: 0.15, ThrottleRate: 0.15,
		MalformedRate: 0.15, TimeoutRate: 0.1, TimeoutDelay: time.Millisecond}}, func(c *Config) {
		c.QPS = -1
		c.MaxAttempts = 30
		c.Registerer = reg
	})
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if _, err := e.client.Shops(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var throttled, malformed, server int
	for _, err := range e.retries.Errors() {
		if !strings.Contains(err.Error(), "authorization.shops") {
			continue // the token call is faulted too
		}
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Throttled():
			throttled++
		case errors.As(err, &apiErr) && apiErr.HTTPStatus >= 500:
			server++
		case strings.Contains(err.Error(), "malformed"):
			malformed++
		}
	}
	if throttled == 0 || malformed == 0 || server == 0 {
		t.Errorf("retried %d throttles, %d malformed bodies, %d server errors; want all kinds", throttled, malformed, server)
	}
	for outcome, want := range map[string]int{tiktokapi.OutcomeThrottled: throttled, tiktokapi.OutcomeMalformed: malformed,
		tiktokapi.OutcomeServer: server, tiktokapi.OutcomeOK: 20} {
		if got := tiktokapitest.Requests(t, reg, Source, "authorization.shops", outcome); got != want {
			t.Errorf("metric %s = %d, want %d", outcome, got, want)
		}
	}
}

// A hung request is cut by AttemptTimeout and retried.
func TestTimeoutIsRetried(t *testing.T) {
	var hung atomic.Int32
	e := newEnv(t, tiktokshoptest.Options{Faults: fault.Config{TimeoutRate: 0.5, MaxHang: time.Minute,
		PathPrefixes: []string{"/authorization/"},
		OnFault:      func(fault.Kind, *http.Request) { hung.Add(1) }}}, func(c *Config) {
		c.AttemptTimeout = 20 * time.Millisecond // bounds the hang; nothing waits on it to pass
		c.MaxAttempts = 30
	})
	for i := 0; i < 6; i++ {
		if _, err := e.client.Shops(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if hung.Load() == 0 {
		t.Fatal("no request hung; the test proves nothing")
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, nil)
	ctx := context.Background()
	if _, err := e.client.Shops(ctx); err != nil {
		t.Fatal(err)
	}
	e.client.mu.Lock()
	access, refresh := e.client.accessToken, e.client.refreshToken
	e.client.mu.Unlock()
	secrets := []string{e.creds.AppSecret, e.creds.AuthCode, e.creds.ShopCipher, access, refresh}

	var errs []error
	// Wrong auth code: the auth host answers with an error.
	bad := newEnv(t, tiktokshoptest.Options{}, func(c *Config) { c.AuthCode = secret.Secret("ROW_wrong" + e.creds.AuthCode) })
	_, err := bad.client.Shops(ctx)
	if !errors.Is(err, ErrReauthorize) {
		t.Errorf("wrong auth code: %v, want ErrReauthorize", err)
	}
	errs = append(errs, err)
	// A host that is gone: transport errors name the URL, with its query.
	gone := newEnv(t, tiktokshoptest.Options{}, func(c *Config) { c.MaxAttempts = 2 })
	gone.srv.Close()
	_, err = gone.client.Shops(ctx)
	errs = append(errs, err)
	errs = append(errs, gone.retries.Errors()...)
	// A bad signature from the API, and a token that only works on the auth
	// host.
	e.client.mu.Lock()
	e.client.cfg.AppSecret = secret.Secret(e.creds.AppSecret + "wrong")
	e.client.mu.Unlock()
	_, err = e.client.OrderDetail(ctx, "576000000000000000")
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("error %d: expected an error", i)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q leaks a credential", err)
			}
		}
	}
	cfg := e.client.cfg
	for _, s := range []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, e.creds.AppSecret[1:]) || strings.Contains(s, e.creds.AuthCode) {
			t.Errorf("formatted Config leaks a secret: %s", s)
		}
	}
}

// truthOrder compares an order the client read with the world's truth.
func checkOrder(t *testing.T, o Order, st simworld.TikTokOrderState) {
	t.Helper()
	if o.Status != st.Status || o.UpdateTime != st.UpdateTime.Unix() || o.CreateTime != st.CreateTime.Unix() ||
		o.Payment.TotalAmount != st.Total().String() || o.Payment.SubTotal != st.SubTotal().String() ||
		len(o.LineItems) != len(st.LineItems) {
		t.Fatalf("order %s: read %s/%d total %s lines %d; truth %s/%d total %s lines %d", o.ID, o.Status, o.UpdateTime,
			o.Payment.TotalAmount, len(o.LineItems), st.Status, st.UpdateTime.Unix(), st.Total(), len(st.LineItems))
	}
	for i, li := range o.LineItems {
		w := st.LineItems[i]
		if li.ID != w.ID || li.SKUID != w.SKUID || li.SalePrice != w.SalePrice.String() || li.SellerSKU != w.SellerSKU {
			t.Fatalf("order %s line %d: %+v, truth %+v", o.ID, i, li, w)
		}
	}
}

// pollOrders runs an OrderPoller over simulated hours and checks the result
// against the world: every order updated in the covered range is there in its
// true current state, and no order version came out twice.
//
// With restartEvery > 0 the poller is rebuilt from its cursor every so many
// polls, as a restarted stage would: it then re-reads the overlap, so an
// order version may come out again, but only from inside the overlap.
func pollOrders(t *testing.T, e *env, span, step time.Duration, restartEvery int) {
	t.Helper()
	ctx := context.Background()
	since := e.clock.Now().Add(-2 * time.Hour)
	pcfg := PollerConfig{Overlap: 10 * time.Minute, Lag: 2 * time.Minute, MaxWindow: 3 * time.Hour}
	p := NewOrderPoller(e.client, since, pcfg)
	var restartedAt time.Time
	polls, reread := 0, 0
	shop, err := e.client.Shop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type version struct {
		id string
		ut int64
	}
	emitted := map[version]int{}
	latest := map[string]Order{}
	end := e.clock.Now().Add(span)
	for e.clock.Now().Before(end) {
		e.clock.Advance(step)
		if polls++; restartEvery > 0 && polls%restartEvery == 0 {
			restartedAt = p.Cursor()
			p = NewOrderPoller(e.client, restartedAt, pcfg)
		}
		orders, err := p.Poll(ctx)
		if err != nil {
			t.Fatalf("poll at %v: %v", e.clock.Now(), err)
		}
		for _, o := range orders {
			v := version{o.ID, o.UpdateTime}
			if emitted[v] > 0 && o.UpdateTime >= restartedAt.Add(-pcfg.Overlap).Unix() {
				reread++
				continue // re-read from the overlap after a restart; event ids dedupe it downstream
			}
			emitted[v]++
			if prev, ok := latest[o.ID]; ok && prev.UpdateTime >= o.UpdateTime {
				t.Fatalf("order %s went back from %d to %d", o.ID, prev.UpdateTime, o.UpdateTime)
			}
			latest[o.ID] = o
			rec, err := OrderRecord(shop.ID, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(emitted) < 50 {
				encode(t, schemas.TopicTikTokOrders, rec)
			}
		}
	}
	for v, n := range emitted {
		if n != 1 {
			t.Fatalf("order %s version %d emitted %d times", v.id, v.ut, n)
		}
	}
	now := e.clock.Now()
	truth := e.world.TruthAt(now).TikTokOrdersUpdated(since, p.Cursor())
	if len(truth) < 200 {
		t.Fatalf("only %d orders in the truth; the test is too small", len(truth))
	}
	for _, st := range truth {
		o, ok := latest[st.ID]
		if !ok {
			t.Fatalf("order %s (updated %v) never read", st.ID, st.UpdateTime)
		}
		checkOrder(t, o, st)
	}
	// Nothing from outside: every order read exists, and its latest version
	// is one it really had.
	for id, o := range latest {
		wo, ok := e.world.TikTokOrder(id)
		if !ok {
			t.Fatalf("order %s does not exist", id)
		}
		// The API sends whole seconds; the world keeps sub-second times.
		st, _ := wo.At(time.Unix(o.UpdateTime+1, 0).Add(-time.Nanosecond))
		if st.UpdateTime.Unix() != o.UpdateTime || st.Status != o.Status {
			t.Fatalf("order %s: read %s at %d, world had %s at %v", id, o.Status, o.UpdateTime, st.Status, st.UpdateTime)
		}
		if o.UpdateTime < since.Add(-10*time.Minute).Unix() {
			t.Fatalf("order %s updated %d before the first window", id, o.UpdateTime)
		}
	}
	if restartEvery > 0 && reread == 0 {
		t.Error("no restart re-read anything; the overlap proves nothing")
	}
	t.Logf("%d orders, %d versions, %d re-read after restarts, %d retried failures", len(latest), len(emitted), reread, len(e.retries.Errors()))
}

func TestOrdersAcrossOverlappingWindowsEqualTruth(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, nil)
	pollOrders(t, e, 30*time.Hour, 17*time.Minute, 0)
}

func TestOrderPollerResumesFromItsCursor(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, nil)
	pollOrders(t, e, 12*time.Hour, 23*time.Minute, 5)
}

func TestOrdersUnderFaultsAndThrottlingEqualTruth(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{QPS: 1, Burst: 2, Faults: fault.Config{ServerErrorRate: 0.1, ThrottleRate: 0.1,
		MalformedRate: 0.1, TimeoutRate: 0.05, TimeoutDelay: time.Millisecond}}, func(c *Config) { c.MaxAttempts = 40; c.QPS = -1 })
	pollOrders(t, e, 12*time.Hour, 41*time.Minute, 0)
	if len(e.retries.Errors()) == 0 {
		t.Error("no failure was retried; the faults did not bite")
	}
}

func TestOrderDetail(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, nil)
	now := e.clock.Now()
	truth := e.world.TruthAt(now).TikTokOrdersUpdated(now.Add(-48*time.Hour), now)
	var ids []string
	for _, st := range truth[:min(len(truth), 120)] {
		ids = append(ids, st.ID)
	}
	got, err := e.client.OrderDetail(context.Background(), ids...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("detail returned %d of %d orders", len(got), len(ids))
	}
	for i, o := range got {
		checkOrder(t, o, truth[i])
	}
}

func TestProductsEqualTruth(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, nil)
	ctx := context.Background()
	products, err := e.client.SearchProducts(ctx, ProductSearch{})
	if err != nil {
		t.Fatal(err)
	}
	want := e.world.TikTokProducts()
	if len(products) != len(want) {
		t.Fatalf("%d products, world has %d", len(products), len(want))
	}
	shop, _ := e.client.Shop(ctx)
	byID := map[string]Product{}
	for _, p := range products {
		byID[p.ID] = p
		rec, err := ProductRecord(shop.ID, p, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		encode(t, schemas.TopicTikTokProducts, rec)
	}
	gtinChecked := false
	for _, wp := range want {
		p, ok := byID[wp.TikTokID]
		if !ok || p.Title != wp.Title {
			t.Fatalf("product %s missing or wrong: %+v", wp.TikTokID, p)
		}
		i := 0
		for _, v := range wp.Variants {
			if v.TikTok == nil {
				continue
			}
			s := p.SKUs[i]
			i++
			if s.ID != v.TikTok.SKUID || s.SellerSKU != v.TikTok.SellerSKU || s.Price.SalePrice != v.TikTok.Price.String() {
				t.Fatalf("product %s sku %+v, truth %+v", p.ID, s, v.TikTok)
			}
			if v.TikTok.IdentifierCode != nil && !gtinChecked {
				d, err := e.client.ProductDetail(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				rec, err := ProductRecord(shop.ID, d, e.clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				encode(t, schemas.TopicTikTokProducts, rec)
				found := false
				for _, sk := range rec["skus"].([]any) {
					for _, id := range sk.(map[string]any)["identifiers"].([]any) {
						found = found || id.(map[string]any)["identifier"] == v.TikTok.IdentifierCode.Value
					}
				}
				if !found {
					t.Errorf("detail of %s lacks identifier %s", p.ID, v.TikTok.IdentifierCode.Value)
				}
				gtinChecked = true
			}
		}
		if i != len(p.SKUs) {
			t.Fatalf("product %s: %d skus, truth %d", p.ID, len(p.SKUs), i)
		}
	}
	if !gtinChecked {
		t.Error("no product with an identifier code in the world")
	}
}

// TestVideoPerformanceWithProductsEqualsTruth reads video days with each
// video's products, as the API pages them by default and, to make every
// video with more than one product span pages, one product a page (the
// request is re-signed after the change): no product is lost.
func TestVideoPerformanceWithProductsEqualsTruth(t *testing.T) {
	for _, perPage := range []int{0, 1} {
		t.Run(fmt.Sprintf("products_per_page=%d", perPage), func(t *testing.T) {
			testVideoPerformanceWithProducts(t, perPage)
		})
	}
}

func testVideoPerformanceWithProducts(t *testing.T, perPage int) {
	e := newEnv(t, tiktokshoptest.Options{}, func(c *Config) {
		if perPage == 0 {
			return
		}
		base := c.HTTPClient.Transport
		c.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, "/products/performance") {
				q := r.URL.Query()
				q.Set("page_size", strconv.Itoa(perPage))
				q.Set("sign", tiktokshoptest.Sign(c.AppSecret.Reveal(), r.URL.Path, q, nil, r.Header.Get("Content-Type")))
				r.URL.RawQuery = q.Encode()
			}
			return base.RoundTrip(r)
		})}
	})
	ctx := context.Background()
	multi := 0
	zone := e.world.Config().ShopZone
	shop, _ := e.client.Shop(ctx)
	today := simworld.DateOf(e.clock.Now(), zone)
	rows := 0
	for _, d := range []simworld.Date{today.AddDays(-1), today.AddDays(-3)} {
		vd, err := e.client.VideoPerformanceDay(ctx, d.String(), true)
		if err != nil {
			t.Fatal(err)
		}
		if vd.LatestAvailableDate != today.AddDays(-1).String() {
			t.Errorf("latest_available_date %s", vd.LatestAvailableDate)
		}
		truth := map[string]simworld.VideoPerformance{}
		for _, vp := range e.world.TruthAt(e.clock.Now()).VideoPerformance(d, d.AddDays(1)) {
			if vp.Views != 0 || vp.GMV != 0 {
				truth[vp.Video.ID] = vp
			}
		}
		if len(vd.Videos) != len(truth) || len(truth) == 0 {
			t.Fatalf("%s: %d videos, truth %d", d, len(vd.Videos), len(truth))
		}
		for _, v := range vd.Videos {
			vp, ok := truth[v.ID]
			if !ok || *v.Views != vp.Views || v.GMV.Amount != vp.GMV.String() || *v.ItemsSold != int64(vp.ItemsSold) ||
				*v.SKUOrders != int64(vp.SKUOrders) || len(v.Products) != len(vp.Products) {
				t.Fatalf("%s video %s: read %+v, truth %+v", d, v.ID, v, vp)
			}
			if len(v.Products) > 1 {
				multi++
			}
			for i, p := range v.Products {
				wp := vp.Products[i]
				if p.ID != wp.ProductID || p.GMV.Amount != wp.GMV.String() || *p.UnitsSold != int64(wp.ItemsSold) {
					t.Fatalf("video %s product %d: %+v, truth %+v", v.ID, i, p, wp)
				}
			}
			rec, err := VideoPerformanceRecord(shop.ID, zone, "USD", d.String(), v, e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got := rec["video_post_time"].(map[string]any)["long.timestamp-millis"].(time.Time); !got.Equal(vp.Video.PostTime.Truncate(time.Second)) {
				t.Fatalf("video %s post time %v, truth %v", v.ID, got, vp.Video.PostTime)
			}
			encode(t, schemas.TopicTikTokVideoPerformance, rec)
			rows++
		}
	}
	if rows == 0 || multi == 0 {
		t.Fatalf("%d rows, %d videos with several products; the test proves nothing", rows, multi)
	}
}

func TestRateParsing(t *testing.T) {
	for in, want := range map[string]float64{`0.0528`: 0.0528, `"0.0528"`: 0.0528, `"12.5%"`: 0.125, `" 3 % "`: 0.03} {
		var r Rate
		if err := r.UnmarshalJSON([]byte(in)); err != nil || float64(r) != want {
			t.Errorf("%s: %v %v", in, float64(r), err)
		}
	}
	var r Rate
	if err := r.UnmarshalJSON([]byte(`"abc"`)); err == nil {
		t.Error("garbage rate accepted")
	}
}

func TestDecimalRounding(t *testing.T) {
	for in, want := range map[string]string{"12.34567": "12.3457", "-12.34565": "-12.3457", "0.01": "0.0100", "5000": "5000.0000", "1.23444": "1.2344"} {
		v, err := decimalUnion(in)
		if err != nil {
			t.Fatal(err)
		}
		got := v.(map[string]any)["bytes.decimal"]
		if s := got.(interface{ FloatString(int) string }).FloatString(4); s != want {
			t.Errorf("%s → %s, want %s", in, s, want)
		}
	}
	for _, bad := range []string{"1,5", "1/3", "1e9", ".5", "5.", "--1", "123456789012345"} {
		if _, err := decimalUnion(bad); err == nil {
			t.Errorf("bad decimal %q accepted", bad)
		}
	}
}

// skewed is the simulator's clock read skew behind.
type skewed struct {
	*simworld.ManualClock
	skew *atomic.Int64
}

func (s skewed) Now() time.Time { return s.ManualClock.Now().Add(-time.Duration(s.skew.Load())) }

// TestRateLimiterIsPerAPI: the client's own limiter spends QPS per API, as
// TikTok counts it (per app per API): a burst at one API does not hold back
// another, and an API over its burst waits (on the manual clock).
func TestRateLimiterIsPerAPI(t *testing.T) {
	e := newEnv(t, tiktokshoptest.Options{}, func(c *Config) { c.QPS = 5 })
	ctx := context.Background()
	if _, err := e.client.Shop(ctx); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	for i := 0; i < 4; i++ {
		if _, err := e.client.Shops(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		if _, err := e.client.OrderDetail(ctx, "576000000000000000"); err != nil {
			t.Fatal(err)
		}
	}
	if waited := e.clock.Now().Sub(start); waited != 0 {
		t.Fatalf("5 calls to each of two APIs at QPS 5 waited %v; each API has its own limiter", waited)
	}
	if _, err := e.client.OrderDetail(ctx, "576000000000000000"); err != nil {
		t.Fatal(err)
	}
	if waited := e.clock.Now().Sub(start); waited < 150*time.Millisecond {
		t.Fatalf("the 6th call to one API at QPS 5 waited %v, want about 200ms", waited)
	}
}

// TestVideoListEngagementKeptWhenPresent: a list row that carries likes,
// comments and shares keeps them in the record; a row without them (the
// reference's list fields) leaves them null rather than zero.
func TestVideoListEngagementKeptWhenPresent(t *testing.T) {
	zone := time.UTC
	for _, tc := range []struct {
		row  string
		want map[string]any
	}{
		{`{"id":"7300000000000000001","views":120,"likes":9,"comments":2,"shares":0}`,
			map[string]any{"likes": int64(9), "comments": int64(2), "shares": int64(0)}},
		{`{"id":"7300000000000000002","views":120}`, map[string]any{"likes": nil, "comments": nil, "shares": nil}},
	} {
		var v VideoPerformance
		if err := json.Unmarshal([]byte(tc.row), &v); err != nil {
			t.Fatalf("%s: %v", tc.row, err)
		}
		rec, err := VideoPerformanceRecord("shop", zone, "USD", "2026-01-05", v, time.Unix(1767600000, 0))
		if err != nil {
			t.Fatal(err)
		}
		for field, want := range tc.want {
			var got any
			if u, ok := rec[field].(map[string]any); ok {
				got = u["long"]
			}
			if got != want {
				t.Errorf("%s: %s = %v, want %v", tc.row, field, got, want)
			}
		}
		encode(t, schemas.TopicTikTokVideoPerformance, rec)
	}
}
