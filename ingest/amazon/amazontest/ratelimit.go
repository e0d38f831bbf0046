package amazontest

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// UsagePlan is an operation's token bucket: Rate tokens per second, Burst
// tokens at most.
type UsagePlan struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

func (p UsagePlan) header() string { return strconv.FormatFloat(p.Rate, 'f', -1, 64) }

// UsagePlans are the default rate and burst of each simulated operation, from
// the operation descriptions in Amazon's API models.
var UsagePlans = map[string]UsagePlan{
	"getOrders":          {0.0167, 20},
	"getOrder":           {0.5, 30},
	"getOrderItems":      {0.5, 30},
	"createReport":       {0.0167, 15},
	"getReport":          {2, 15},
	"getReports":         {0.0222, 10},
	"cancelReport":       {0.0222, 10},
	"getReportDocument":  {0.0167, 15},
	"getCatalogItem":     {2, 2},
	"searchCatalogItems": {2, 2},
}

// limiter keeps one bucket per (application, operation): limits apply per
// selling partner and application pair, and the simulator has one seller.
type limiter struct {
	mu        sync.Mutex
	overrides map[string]UsagePlan
	scale     float64
	disabled  bool
	buckets   map[string]*rate.Limiter
}

func newLimiter(overrides map[string]UsagePlan, scale float64, disabled bool) *limiter {
	if scale <= 0 {
		scale = 1
	}
	return &limiter{overrides: overrides, scale: scale, disabled: disabled, buckets: map[string]*rate.Limiter{}}
}

// plan returns op's usage plan: the override or the published one, its
// rate multiplied by the scale (the header announces the scaled rate, as
// Amazon announces a seller's dynamic plan).
func (l *limiter) plan(op string) UsagePlan {
	p, ok := l.overrides[op]
	if !ok {
		p = UsagePlans[op]
	}
	p.Rate = math.Round(p.Rate*l.scale*10000) / 10000
	return p
}

// allow takes a token for op at simulated time now. The bucket runs on the
// world's clock, so tests refill it by advancing the clock.
func (l *limiter) allow(client, op string, now time.Time) (UsagePlan, bool) {
	p := l.plan(op)
	if l.disabled || p.Burst == 0 {
		return p, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key := client + "|" + op
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(p.Rate), p.Burst)
		// A new bucket starts full at the current simulated time.
		b.AllowN(now, 0)
		l.buckets[key] = b
	}
	return p, b.AllowN(now, 1)
}

// rateLimitWriter adds x-amzn-RateLimit-Limit to responses with status 2xx,
// 400 or 404 only: Amazon says it "should never be expected in the response
// to a throttled, unauthorized, or unauthenticated request".
type rateLimitWriter struct {
	http.ResponseWriter
	value string
	wrote bool
}

func (w *rateLimitWriter) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		if status/100 == 2 || status == http.StatusBadRequest || status == http.StatusNotFound {
			w.Header().Set("x-amzn-RateLimit-Limit", w.value)
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *rateLimitWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
