package amazontest

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestRateScaleForDemos: a scaled simulator grants scale × the published
// rate with the published burst, and announces the scaled rate; the default
// is the published plan (TestThrottlingReturnsQuotaExceeded).
func TestRateScaleForDemos(t *testing.T) {
	h := newHarness(t, Options{RateScale: 60})
	q := url.Values{"MarketplaceIds": {"ATVPDKIKX0DER"}, "CreatedAfter": {isoTime(h.clock.Now().Add(-time.Hour))}}
	for i := 0; i < 20; i++ {
		st, b, hdr := h.get("/orders/v0/orders", q)
		if st != http.StatusOK {
			t.Fatalf("request %d within burst: %d %s", i, st, b)
		}
		if got := hdr.Get("x-amzn-RateLimit-Limit"); got != "1.002" {
			t.Fatalf("rate-limit header %q, want 0.0167 × 60", got)
		}
	}
	if st, _, _ := h.get("/orders/v0/orders", q); st != http.StatusTooManyRequests {
		t.Fatalf("21st request: %d; the burst is still 20", st)
	}
	// 1.002 tokens per second: a token in about a second, not a minute.
	h.clock.Advance(1100 * time.Millisecond)
	if st, _, _ := h.get("/orders/v0/orders", q); st != http.StatusOK {
		t.Errorf("token not refilled after 1.1 s at 60× the rate: %d", st)
	}
}
