package tiktokshoptest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// FuzzOrderSearchBody sends correctly signed order searches with arbitrary
// bodies: the simulator must answer with an envelope, never panic.
func FuzzOrderSearchBody(f *testing.F) {
	for _, s := range []string{`{"update_time_ge":1767000000,"update_time_lt":1768000000}`, `{}`, ``, `{"order_status":"UNPAID"}`, `[1,2]`, `{"create_time_ge":-1}`} {
		f.Add(s)
	}
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(3 * 24 * time.Hour))
	sim := New(simworld.MustNew(simworld.Config{Seed: 1, Clock: clock}), Options{QPS: 1e9, Burst: 1 << 30})
	c := sim.Credentials()
	tok := sim.issue("").AccessToken
	f.Fuzz(func(t *testing.T, body string) {
		q := url.Values{"app_key": {c.AppKey}, "timestamp": {strconv.FormatInt(clock.Now().Unix(), 10)},
			"shop_cipher": {c.ShopCipher}, "page_size": {"50"}}
		q.Set("sign", Sign(c.AppSecret, "/order/202309/orders/search", q, []byte(body), "application/json"))
		req := httptest.NewRequest(http.MethodPost, "/order/202309/orders/search?"+q.Encode(), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-tts-access-token", tok)
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		var env Envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("body %q: HTTP %d %s", body, rec.Code, rec.Body.Bytes())
		}
	})
}
