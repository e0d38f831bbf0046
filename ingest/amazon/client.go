package amazon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/retry"
)

// DefaultTokenURL is Login with Amazon's token endpoint, used for every region.
const DefaultTokenURL = "https://api.amazon.com/auth/o2/token"

// Defaults of Config that the shopstream config exposes as keys.
const (
	// DefaultReportZone is the US marketplace's zone, where its report days
	// are cut.
	DefaultReportZone = "America/Los_Angeles"
	// DefaultReportPollInterval is the first wait between getReport polls.
	DefaultReportPollInterval = 15 * time.Second
)

// UsagePlan is an operation's token bucket: Rate requests per second refill
// it, Burst is its size.
type UsagePlan struct {
	Rate  float64
	Burst int
}

// DefaultUsagePlans are the published default rate and burst of the
// operations the client calls (reference §1.4, from Amazon's API models).
// Orders has dynamic usage plans; the client follows x-amzn-RateLimit-Limit
// when Amazon sends it.
var DefaultUsagePlans = map[string]UsagePlan{
	OpGetOrders:         {0.0167, 20},
	OpGetOrderItems:     {0.5, 30},
	OpCreateReport:      {0.0167, 15},
	OpGetReport:         {2, 15},
	OpGetReportDocument: {0.0167, 15},
	OpGetCatalogItem:    {2, 2},
}

// Operation names, as Amazon's models name them; they key usage plans and
// statistics.
const (
	OpGetOrders         = "getOrders"
	OpGetOrderItems     = "getOrderItems"
	OpCreateReport      = "createReport"
	OpGetReport         = "getReport"
	OpGetReportDocument = "getReportDocument"
	OpGetCatalogItem    = "getCatalogItem"
	// OpDownload is the download of a report document from its pre-signed
	// URL; it has no usage plan.
	OpDownload = "downloadDocument"
	// OpToken is the LWA token refresh; it has no usage plan either.
	OpToken = "lwaToken"
)

// Config configures a Client. Endpoint, Credentials and MarketplaceID are
// required; every other zero field selects its default.
type Config struct {
	// Endpoint is the SP-API base URL, e.g.
	// https://sellingpartnerapi-na.amazon.com.
	Endpoint string
	// TokenURL is the LWA token endpoint. Default DefaultTokenURL.
	TokenURL string
	// Credentials authenticate the application and the seller.
	Credentials Credentials
	// MarketplaceID is the marketplace the client reads, e.g. ATVPDKIKX0DER.
	MarketplaceID string
	// ReportZone is the time zone in which report days are cut. Amazon does
	// not document it (selling-partner-api-models#5209); Seller Central uses
	// the marketplace's local time, the more credible reading. Default
	// America/Los_Angeles.
	ReportZone *time.Location
	// HTTPClient sends requests. Default a client without an overall
	// timeout; AttemptTimeout bounds each attempt.
	HTTPClient *http.Client
	// Clock is the time source for waiting. Default clock.Wall.
	Clock clock.Clock
	// Logger receives debug lines about retries and refreshes. Default none.
	Logger *zerolog.Logger
	// UserAgent overrides the user-agent header.
	UserAgent string
	// UsagePlans override DefaultUsagePlans per operation.
	UsagePlans map[string]UsagePlan
	// MaxAttempts bounds the attempts of one call. Default 8.
	MaxAttempts int
	// AttemptTimeout bounds one HTTP attempt in wall time. Default 60 s.
	AttemptTimeout time.Duration
	// BackoffInitial and BackoffMax shape the exponential backoff between
	// attempts (jittered ±50 %). Defaults 2 s and 2 min.
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// TokenRefreshMargin is how long before expiry an access token is
	// replaced. Default 5 min.
	TokenRefreshMargin time.Duration
	// ReportPollInterval is the first wait between getReport polls; it grows
	// by half each poll up to ReportPollMax. Defaults
	// DefaultReportPollInterval and 2 min.
	ReportPollInterval time.Duration
	ReportPollMax      time.Duration
	// ReportTimeout bounds how long RunReport waits for a report to finish,
	// on Clock. Default 2 h.
	ReportTimeout time.Duration
	// ReportsInFlight bounds the reports in flight (created and still
	// IN_QUEUE or IN_PROGRESS) at once, across every caller of the client.
	// Default DefaultReportsInFlight.
	ReportsInFlight int
	// Registerer, if set, registers the per-operation request metrics
	// (shopstream_amazon_api_requests_total, _throttled_total,
	// _server_errors_total, _malformed_total, _retries_total by op, and the
	// gauge shopstream_amazon_api_rate_limit).
	Registerer prometheus.Registerer
}

// OperationStats count what one operation did.
type OperationStats struct {
	// Requests is the number of HTTP requests sent.
	Requests int
	// Throttled counts 429 answers.
	Throttled int
	// ServerErrors counts 5xx answers and transport failures (timeouts).
	ServerErrors int
	// Malformed counts 2xx answers whose body did not parse.
	Malformed int
	// Retries counts attempts after the first.
	Retries int
	// RateLimit is the last x-amzn-RateLimit-Limit seen (0 if none).
	RateLimit float64
}

// Client calls the SP-API. It is safe for concurrent use; all goroutines
// share its token cache and its per-operation rate limiters, so one Client
// per seller and application is the unit of rate limiting.
type Client struct {
	cfg      Config
	endpoint *url.URL
	http     *http.Client
	clock    clock.Clock
	log      zerolog.Logger
	ua       string
	tokens   *tokenSource
	reports  *reportQueue

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	stats    map[string]*OperationStats
}

// NewClient returns a Client for cfg.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" || cfg.Credentials.ClientID == "" || cfg.Credentials.ClientSecret == "" ||
		cfg.Credentials.RefreshToken == "" || cfg.MarketplaceID == "" {
		return nil, errors.New("amazon: endpoint, client id, client secret, refresh token and marketplace id are required")
	}
	ep, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || ep.Scheme == "" || ep.Host == "" {
		return nil, fmt.Errorf("amazon: invalid endpoint %q", cfg.Endpoint)
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if cfg.ReportZone == nil {
		if cfg.ReportZone, err = time.LoadLocation(DefaultReportZone); err != nil {
			return nil, fmt.Errorf("amazon: load report zone: %w", err)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.ReportsInFlight <= 0 {
		cfg.ReportsInFlight = DefaultReportsInFlight
	}
	def(&cfg.AttemptTimeout, time.Minute)
	def(&cfg.BackoffInitial, 2*time.Second)
	def(&cfg.BackoffMax, 2*time.Minute)
	def(&cfg.TokenRefreshMargin, 5*time.Minute)
	def(&cfg.ReportPollInterval, DefaultReportPollInterval)
	def(&cfg.ReportPollMax, 2*time.Minute)
	def(&cfg.ReportTimeout, 2*time.Hour)
	c := &Client{
		cfg:      cfg,
		endpoint: ep,
		http:     cfg.HTTPClient,
		clock:    cfg.Clock,
		log:      zerolog.Nop(),
		ua:       cfg.UserAgent,
		limiters: map[string]*rate.Limiter{},
		stats:    map[string]*OperationStats{},
	}
	if cfg.Logger != nil {
		c.log = cfg.Logger.With().Str("source", "amazon").Logger()
	}
	if c.ua == "" {
		c.ua = fmt.Sprintf("shopstream/1.0 (Language=Go/%s; Platform=%s)", strings.TrimPrefix(runtime.Version(), "go"), runtime.GOOS)
	}
	c.tokens = &tokenSource{c: c, sem: make(chan struct{}, 1)}
	c.reports = newReportQueue(c, cfg.ReportsInFlight)
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(statsCollector{c}); err != nil {
			return nil, fmt.Errorf("amazon: register metrics: %w", err)
		}
	}
	return c, nil
}

// MarketplaceID returns the marketplace the client reads.
func (c *Client) MarketplaceID() string { return c.cfg.MarketplaceID }

// ReportZone returns the zone in which the client cuts report days.
func (c *Client) ReportZone() *time.Location { return c.cfg.ReportZone }

// Stats returns a copy of the per-operation statistics.
func (c *Client) Stats() map[string]OperationStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]OperationStats, len(c.stats))
	for k, v := range c.stats {
		out[k] = *v
	}
	return out
}

func (c *Client) count(op string, f func(*OperationStats)) {
	c.mu.Lock()
	s := c.stats[op]
	if s == nil {
		s = &OperationStats{}
		c.stats[op] = s
	}
	f(s)
	c.mu.Unlock()
}

func (c *Client) plan(op string) UsagePlan {
	if p, ok := c.cfg.UsagePlans[op]; ok {
		return p
	}
	return DefaultUsagePlans[op]
}

// limiter returns op's token bucket, one per operation per client, created
// full like Amazon's.
func (c *Client) limiter(op string) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.limiters[op]
	if !ok {
		p := c.plan(op)
		if p.Burst <= 0 {
			l = rate.NewLimiter(rate.Inf, 1)
		} else {
			l = rate.NewLimiter(rate.Limit(p.Rate), p.Burst)
		}
		c.limiters[op] = l
	}
	return l
}

// wait takes one token of op's bucket, sleeping on the client's clock until
// one is available. The limiter is driven with explicit times so that it runs
// on Clock, not on the wall clock.
func (c *Client) wait(ctx context.Context, op string) error {
	l := c.limiter(op)
	now := c.clock.Now()
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("amazon %s: rate limiter cannot grant a token", op)
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := c.clock.Sleep(ctx, d); err != nil {
			r.CancelAt(c.clock.Now())
			return fmt.Errorf("amazon %s: waiting for rate limit: %w", op, err)
		}
	}
	return nil
}

// observeRateLimit follows x-amzn-RateLimit-Limit: Amazon sends the
// operation's current rate "on a best-effort basis", so the header adjusts
// the bucket when present and is never required.
func (c *Client) observeRateLimit(op string, h http.Header) {
	v := h.Get("x-amzn-RateLimit-Limit")
	if v == "" {
		return
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r <= 0 || r > 1000 {
		return
	}
	c.count(op, func(s *OperationStats) { s.RateLimit = r })
	l := c.limiter(op)
	if float64(l.Limit()) != r {
		l.SetLimitAt(c.clock.Now(), rate.Limit(r))
		c.log.Debug().Str("op", op).Float64("rate", r).Msg("rate limit changed")
	}
}

// drain empties op's bucket after a 429 and halves its burst: Amazon's
// bucket is empty, and if ours still held a token, Amazon's burst is
// smaller than ours (x-amzn-RateLimit-Limit tells the rate, never the
// burst). The burst never drops below one, so the rate is kept.
func (c *Client) drain(op string) {
	l := c.limiter(op)
	now := c.clock.Now()
	if n := int(l.TokensAt(now)); n > 0 {
		l.ReserveN(now, n)
	}
	if b := l.Burst(); b > 1 {
		l.SetBurstAt(now, max(1, b/2))
	}
}

// rateInterval is how long op's bucket takes to refill one token: the wait
// Amazon's guidance implies after a 429 (Airbyte sleeps 1/rate).
func (c *Client) rateInterval(op string) time.Duration {
	r := float64(c.limiter(op).Limit())
	if r <= 0 || r > 1e6 {
		return 0
	}
	return time.Duration(float64(time.Second) / r)
}

// request is one SP-API call.
type request struct {
	op     string
	method string
	path   string // escaped path below the endpoint
	query  url.Values
	body   []byte // JSON body, nil for none
}

func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || s >= 500
}

// callJSON makes the call and decodes a 2xx body into a fresh T; a body that
// does not decode is retried.
func callJSON[T any](ctx context.Context, c *Client, req request) (T, error) {
	var out T
	err := c.do(ctx, req, func(b []byte) error {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		out = v
		return nil
	})
	return out, err
}

// callKeyed is callJSON for an answer that is of no use without one field:
// key returns that field's value, and an empty one is an error naming
// field. what starts every error.
func callKeyed[T any](ctx context.Context, c *Client, req request, what, field string, key func(T) string) (T, error) {
	v, err := callJSON[T](ctx, c, req)
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	if key(v) == "" {
		return v, fmt.Errorf("%s: response has no %s", what, field)
	}
	return v, nil
}

// do sends req until accept takes a 2xx body, the error is permanent, or the
// attempts run out. Each attempt first takes a rate-limiter token.
func (c *Client) do(ctx context.Context, req request, accept func([]byte) error) error {
	refreshed := false
	return retry.Do(ctx, c.retryPolicy("amazon "+req.op), func(attempt int) error {
		if attempt > 1 {
			c.count(req.op, func(s *OperationStats) { s.Retries++ })
		}
		if err := c.wait(ctx, req.op); err != nil {
			return err
		}
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return err
		}
		status, hdr, body, err := c.send(ctx, req, tok)
		c.count(req.op, func(s *OperationStats) { s.Requests++ })
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("amazon %s: %w", req.op, ctx.Err())
			}
			c.count(req.op, func(s *OperationStats) { s.ServerErrors++ })
			return retry.Retryable(fmt.Errorf("amazon %s: %w", req.op, err))
		case status/100 == 2:
			c.observeRateLimit(req.op, hdr)
			aerr := accept(body)
			if aerr == nil {
				return nil
			}
			c.count(req.op, func(s *OperationStats) { s.Malformed++ })
			return retry.Retryable(fmt.Errorf("amazon %s: %w", req.op, errMalformed{aerr}))
		case status == http.StatusForbidden && !refreshed && tokenExpired(body):
			// The token expired early (clock skew, revocation): refresh
			// once and retry at once.
			refreshed = true
			c.tokens.invalidate(tok)
			c.log.Debug().Str("op", req.op).Msg("access token expired; refreshing")
			return retry.Immediately(apiError(req.op, status, hdr, body))
		case status == http.StatusTooManyRequests:
			c.count(req.op, func(s *OperationStats) { s.Throttled++ })
			// Amazon: "repeated throttled requests require a back off
			// strategy". A 429 means Amazon's bucket is empty now, whatever
			// ours says (a smaller burst, another process on the same
			// app and seller): empty ours too, and wait at least one refill
			// interval before trying again.
			c.drain(req.op)
			return retry.After(apiError(req.op, status, hdr, body), c.rateInterval(req.op))
		case retryableStatus(status):
			c.count(req.op, func(s *OperationStats) { s.ServerErrors++ })
			return retry.Retryable(apiError(req.op, status, hdr, body))
		default:
			if status == http.StatusBadRequest || status == http.StatusNotFound {
				c.observeRateLimit(req.op, hdr)
			}
			return apiError(req.op, status, hdr, body)
		}
	})
}

// retryPolicy is the client's retry policy for op: MaxAttempts and the
// backoff on the client's clock, each retry logged at debug.
func (c *Client) retryPolicy(op string) retry.Policy {
	return retry.Policy{Op: op, MaxAttempts: c.cfg.MaxAttempts, Initial: c.cfg.BackoffInitial, Max: c.cfg.BackoffMax, Clock: c.clock,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			c.log.Debug().Str("op", op).Int("attempt", attempt).Dur("wait", wait).Err(err).Msg("retrying")
		}}
}

// maxBody bounds an API response body; report documents have their own bound.
const maxBody = 64 << 20

// send makes one attempt. Transport errors are returned without the URL's
// query, which for document downloads is a credential.
func (c *Client) send(ctx context.Context, req request, token string) (int, http.Header, []byte, error) {
	u, err := url.Parse(c.endpoint.String() + req.path)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build url: %w", err)
	}
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(actx, req.method, u.String(), body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	hr.Header.Set("x-amz-access-token", token)
	hr.Header.Set("user-agent", c.ua)
	hr.Header.Set("accept", "application/json")
	if req.body != nil {
		hr.Header.Set("content-type", "application/json")
	}
	return c.roundTrip(hr)
}

func (c *Client) roundTrip(hr *http.Request) (int, http.Header, []byte, error) {
	resp, err := c.http.Do(hr)
	if err != nil {
		return 0, nil, nil, redactURLError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read response: %w", redactURLError(err))
	}
	return resp.StatusCode, resp.Header, b, nil
}

// redactURLError drops the query string from a *url.Error: pre-signed URLs
// carry their signature there.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.Fragment, u.User = "", "", nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
		return &url.Error{Op: ue.Op, URL: "(redacted)", Err: ue.Err}
	}
	return err
}

type errorList struct {
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"errors"`
}

func apiError(op string, status int, h http.Header, body []byte) *APIError {
	e := &APIError{Operation: op, Status: status, RequestID: h.Get("x-amzn-RequestId")}
	var el errorList
	if json.Unmarshal(body, &el) == nil && len(el.Errors) > 0 {
		e.Code, e.Message, e.Details = el.Errors[0].Code, el.Errors[0].Message, el.Errors[0].Details
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}

// tokenExpired reports whether a 403 body says the access token expired.
// Amazon's wording varies; every variant seen names the token as expired.
func tokenExpired(body []byte) bool {
	var el errorList
	if json.Unmarshal(body, &el) != nil {
		return false
	}
	for _, e := range el.Errors {
		s := strings.ToLower(e.Message + " " + e.Details)
		if strings.Contains(s, "expired") && strings.Contains(s, "token") {
			return true
		}
	}
	return false
}
