// Package tiktokshop is the client of the TikTok Shop Open API (202309+
// versions) that the ingest stage polls: request signing, OAuth tokens,
// shop_cipher discovery, the errors TikTok returns inside HTTP 200, retries,
// and the order, product and video-performance endpoints; plus the mapping of
// what it reads to the Avro records of tiktok.orders, tiktok.products and
// tiktok.video_performance.
package tiktokshop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi"
	"github.com/shopstream/shopstream/ingest/tiktokshop/internal/sign"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/secret"
)

// Default hosts (reference section 2.1).
const (
	DefaultAPIBaseURL  = "https://open-api.tiktokglobalshop.com"
	DefaultAuthBaseURL = "https://auth.tiktok-shops.com"
)

// Config configures a Client. AppKey, AppSecret and one of RefreshToken or
// AuthCode are required.
type Config struct {
	// APIBaseURL and AuthBaseURL default to the production hosts.
	APIBaseURL  string
	AuthBaseURL string
	AppKey      string
	AppSecret   secret.Secret
	// RefreshToken is a stored refresh token; when set it is used instead of
	// AuthCode.
	RefreshToken secret.Secret
	// AuthCode is the seller's authorization code, exchanged on first use.
	AuthCode secret.Secret
	// ShopID selects one of the authorized shops; empty takes the only one
	// (an error if the token sees several).
	ShopID string
	// HTTPClient sends the requests. Default: a client without a timeout,
	// since every attempt carries its own (AttemptTimeout).
	HTTPClient *http.Client
	// Clock stamps requests (timestamp), judges token expiry and waits
	// between attempts and for the rate limiter. Default clock.Wall; tests
	// pass the simulator's manual clock.
	Clock clock.Clock
	// RefreshBefore is how long before the access token's expiry it is
	// refreshed. Default one hour.
	RefreshBefore time.Duration
	// AttemptTimeout bounds one HTTP attempt. Default 30 s.
	AttemptTimeout time.Duration
	// MaxAttempts bounds the attempts of one call. Default 10.
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential backoff (with
	// jitter) between attempts. Defaults 500 ms and 30 s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// QPS limits the client's own request rate to each API (the reference
	// summarises the limit as 50 QPS per app per API, so each API, e.g.
	// every video's products/performance together, gets its own limiter);
	// 0 means 40, negative disables it. The limiters run on Clock, so they
	// work with a manual clock.
	QPS float64
	// OnRetry, if set, observes every retried failure (for debug logs).
	// err never contains credentials.
	OnRetry func(op string, attempt int, err error)
	// OnToken, if set, receives every refresh token the client obtains,
	// with its expiry, so the stage can store it (secretly) and start with
	// it next time: auth codes are single-use, and TikTok may rotate the
	// refresh token on refresh. It runs under the client's token lock, so it
	// must not call the Client.
	OnToken func(refreshToken secret.Secret, expires time.Time)
	// OnMalformed receives entities of a page that do not decode (see
	// Malformed); they are skipped. When nil, such an entity fails the call.
	OnMalformed func(Malformed)
	// Registerer, if set, registers the request metrics
	// (shopstream_tiktokshop_api_requests_total by op and outcome).
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() (Config, error) {
	if c.AppKey == "" || c.AppSecret == "" {
		return c, errors.New("tiktokshop: AppKey and AppSecret are required")
	}
	if c.RefreshToken == "" && c.AuthCode == "" {
		return c, errors.New("tiktokshop: RefreshToken or AuthCode is required")
	}
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	if c.AuthBaseURL == "" {
		c.AuthBaseURL = DefaultAuthBaseURL
	}
	if c.Clock == nil {
		c.Clock = clock.Wall{}
	}
	if c.RefreshBefore <= 0 {
		c.RefreshBefore = time.Hour
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.QPS == 0 {
		c.QPS = 40
	}
	return c, nil
}

// Shop is one authorized shop (GET /authorization/202309/shops).
type Shop struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Region     string `json:"region"`
	SellerType string `json:"seller_type"`
	Cipher     string `json:"cipher"`
	Code       string `json:"code"`
}

// Client calls the TikTok Shop Open API for one app and one shop. It is safe
// for concurrent use.
type Client struct {
	cfg Config
	// limiters holds one rate limiter per API, keyed by op (each op is one
	// API); nil when QPS is negative.
	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter
	api      *tiktokapi.Transport

	mu            sync.Mutex
	accessToken   string
	accessExpiry  time.Time
	refreshToken  string
	refreshExpiry time.Time
	shop          *Shop
}

// New returns a client. It makes no request until the first call.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	api, err := tiktokapi.New(tiktokapi.Config{API: Source, Title: "TikTok Shop API", Codes: codes,
		HTTPClient: cfg.HTTPClient, Clock: cfg.Clock, AttemptTimeout: cfg.AttemptTimeout, MaxAttempts: cfg.MaxAttempts,
		InitialBackoff: cfg.InitialBackoff, MaxBackoff: cfg.MaxBackoff, OnRetry: cfg.OnRetry, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, refreshToken: cfg.RefreshToken.Reveal(), api: api}
	if cfg.QPS > 0 {
		c.limiters = map[string]*rate.Limiter{}
	}
	return c, nil
}

// tokenData is the data of token get/refresh (reference section 2.2).
type tokenData struct {
	tiktokapi.Token
	AccessTokenExpireIn  int64 `json:"access_token_expire_in"`
	RefreshTokenExpireIn int64 `json:"refresh_token_expire_in"`
}

// expiry reads an *_expire_in value. The reference leaves open whether it is
// absolute or relative; SDK examples show absolute Unix seconds. A value too
// small to be a Unix time of this century is taken as seconds from now.
func expiry(now time.Time, v int64) time.Time {
	if v < 1_000_000_000 {
		return now.Add(time.Duration(v) * time.Second)
	}
	return time.Unix(v, 0)
}

// token returns a live access token, getting or refreshing one when there is
// none, it expires within RefreshBefore, or force is set. Callers hold no
// lock; concurrent callers share one refresh.
func (c *Client) token(ctx context.Context, force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Clock.Now()
	if !force && c.accessToken != "" && now.Add(c.cfg.RefreshBefore).Before(c.accessExpiry) {
		return c.accessToken, nil
	}
	q := url.Values{"app_key": {c.cfg.AppKey}, "app_secret": {c.cfg.AppSecret.Reveal()}}
	op, path := "token.refresh", "/api/v2/token/refresh"
	if c.refreshToken != "" {
		q.Set("refresh_token", c.refreshToken)
		q.Set("grant_type", "refresh_token")
	} else {
		op, path = "token.get", "/api/v2/token/get"
		q.Set("auth_code", c.cfg.AuthCode.Reveal())
		q.Set("grant_type", "authorized_code")
	}
	var td tokenData
	err := c.api.Call(ctx, op, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, c.cfg.AuthBaseURL+path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, fmt.Errorf("tiktokshop: %s: build request: %w", op, errors.Unwrap(err))
		}
		return req, nil
	}, nil, &td)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && !apiErr.Temporary() {
			// A rejected refresh token or auth code, or wrong app
			// credentials: nothing to retry.
			return "", fmt.Errorf("%w: %w", ErrReauthorize, err)
		}
		return "", err
	}
	c.accessToken = td.AccessToken
	c.accessExpiry = expiry(now, td.AccessTokenExpireIn)
	if td.RefreshToken != "" {
		c.refreshToken = td.RefreshToken
		c.refreshExpiry = expiry(now, td.RefreshTokenExpireIn)
		if c.cfg.OnToken != nil {
			c.cfg.OnToken(secret.Secret(c.refreshToken), c.refreshExpiry)
		}
	}
	return c.accessToken, nil
}

// TokenExpiry returns when the current access and refresh tokens expire
// (zero before the first call). A stage can warn when the refresh token
// nears its end, since only the seller can renew it.
func (c *Client) TokenExpiry() (access, refresh time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accessExpiry, c.refreshExpiry
}

// call makes a signed API request and decodes data into out (if not nil).
// shopScoped adds shop_cipher, discovering it first.
func (c *Client) call(ctx context.Context, op, method, path string, params url.Values, body any, shopScoped bool, out any) error {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return fmt.Errorf("tiktokshop: %s: encode body: %w", op, err)
		}
	}
	var cipher string
	if shopScoped {
		shop, err := c.Shop(ctx)
		if err != nil {
			return err
		}
		cipher = shop.Cipher
	}
	return c.api.Call(ctx, op, func() (*http.Request, error) {
		tok, err := c.token(ctx, false)
		if err != nil {
			return nil, err
		}
		if err := c.wait(ctx, op); err != nil {
			return nil, fmt.Errorf("tiktokshop: %s: %w", op, err)
		}
		q := url.Values{}
		for k, v := range params {
			q[k] = v
		}
		q.Set("app_key", c.cfg.AppKey)
		q.Set("timestamp", strconv.FormatInt(c.cfg.Clock.Now().Unix(), 10))
		if cipher != "" {
			q.Set("shop_cipher", cipher)
		}
		const contentType = "application/json"
		q.Set("sign", sign.Request(c.cfg.AppSecret.Reveal(), path, q, raw, contentType))
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, c.cfg.APIBaseURL+path+"?"+q.Encode(), rd)
		if err != nil {
			return nil, fmt.Errorf("tiktokshop: %s: build request: %w", op, errors.Unwrap(err))
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("x-tts-access-token", tok)
		return req, nil
	}, func() error {
		_, err := c.token(ctx, true)
		return err
	}, out)
}

// wait takes a token from the client's own rate limiter of the API op
// calls, sleeping through Clock so a manual clock drives it.
func (c *Client) wait(ctx context.Context, op string) error {
	if c.limiters == nil {
		return nil
	}
	c.limitMu.Lock()
	l, ok := c.limiters[op]
	if !ok {
		l = rate.NewLimiter(rate.Limit(c.cfg.QPS), max(1, int(c.cfg.QPS)))
		c.limiters[op] = l
	}
	c.limitMu.Unlock()
	now := c.cfg.Clock.Now()
	r := l.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("rate limiter burst too small")
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := c.cfg.Clock.Sleep(ctx, d); err != nil {
			r.CancelAt(now)
			return err
		}
	}
	return nil
}

// Shops returns the shops the token is authorized for.
func (c *Client) Shops(ctx context.Context) ([]Shop, error) {
	var d struct {
		Shops []Shop `json:"shops"`
	}
	if err := c.call(ctx, "authorization.shops", http.MethodGet, "/authorization/202309/shops", nil, nil, false, &d); err != nil {
		return nil, err
	}
	return d.Shops, nil
}

// Shop returns the shop the client works for (Config.ShopID, or the only
// authorized shop), discovering its shop_cipher on first use.
func (c *Client) Shop(ctx context.Context) (Shop, error) {
	c.mu.Lock()
	s := c.shop
	c.mu.Unlock()
	if s != nil {
		return *s, nil
	}
	shops, err := c.Shops(ctx)
	if err != nil {
		return Shop{}, err
	}
	var pick *Shop
	for i := range shops {
		switch {
		case c.cfg.ShopID != "" && shops[i].ID == c.cfg.ShopID:
			pick = &shops[i]
		case c.cfg.ShopID == "" && len(shops) == 1:
			pick = &shops[0]
		}
	}
	if pick == nil {
		return Shop{}, fmt.Errorf("tiktokshop: shop %q is not among the %d authorized shops (set ShopID when there are several)", c.cfg.ShopID, len(shops))
	}
	if pick.Cipher == "" {
		return Shop{}, fmt.Errorf("tiktokshop: shop %s has no cipher", pick.ID)
	}
	c.mu.Lock()
	c.shop = pick
	c.mu.Unlock()
	return *pick, nil
}
