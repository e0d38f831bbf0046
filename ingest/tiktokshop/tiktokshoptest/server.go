package tiktokshoptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// Error codes and messages, from the reference's error table.
const (
	CodeOK              = 0
	CodeThrottled       = 36009002 // "Too many requests..."
	CodeInternal        = 36009003
	CodeInvalidParam    = 36009004 // invalid param / timestamp / app_key
	CodeInvalidPath     = 36009009
	CodeBadSignature    = 106001
	CodeTokenInvalid    = 105001 // inferred: EcomPHP treats the 105 prefix as auth errors
	CodeTokenExpired    = 105002
	CodeAnalyticsPeriod = 28001022

	MsgThrottled    = "Too many requests. You've made too many requests in a short period of time."
	MsgBadSignature = "signature is invalid"
)

// Credentials are the app and the authorized shop the simulator accepts.
type Credentials struct {
	AppKey     string `json:"app_key"`
	AppSecret  string `json:"app_secret"`
	AuthCode   string `json:"auth_code"`
	ShopID     string `json:"shop_id"`
	ShopCipher string `json:"shop_cipher"`
	ShopName   string `json:"shop_name"`
	Region     string `json:"region"`
	OpenID     string `json:"open_id"`
	SellerName string `json:"seller_name"`
}

// Options configure a Simulator. The zero value is a faithful default.
type Options struct {
	// Credentials override the credentials derived from the world's seed.
	Credentials *Credentials
	// Faults injects failures; its Seed defaults to the world's seed.
	Faults fault.Config
	// AccessTokenTTL and RefreshTokenTTL are token lifetimes (unverified in
	// the reference). Defaults 7 days and 365 days.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// QPS and Burst are each API's token bucket per app. The reference's
	// summary of the default is 50 QPS per app per API. Defaults 50 and 50.
	QPS   float64
	Burst int
	// IndexLag is how far behind the order search index runs: searches match
	// on state that old but return orders as they are now, so update times
	// can fall outside the searched window, as TikTok warns. Default 30 s.
	IndexLag time.Duration
	// DetailLag is how far behind the replica that answers order detail
	// runs: a detail read returns the orders as they were that long ago,
	// older than what a search already returned. Default 0 (current).
	DetailLag time.Duration
}

// PathPrefixes are the URL path prefixes the simulator serves.
var PathPrefixes = []string{"/api/v2/token/", "/authorization/", "/order/", "/product/", "/analytics/"}

// Simulator is the TikTok Shop Open API simulator. It is an http.Handler.
type Simulator struct {
	simapi.Base[Credentials]
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	access  map[string]time.Time
	refresh map[string]time.Time
	buckets map[string]*rate.Limiter
	tokenN  uint64
	// searchCache holds order-search matches per snapshot (see cachedMatches).
	searchCache map[string][]simworld.TikTokOrderState
}

// New returns a simulator over world w.
func New(w *simworld.World, opts Options) *Simulator {
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 7 * 24 * time.Hour
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = 365 * 24 * time.Hour
	}
	if opts.QPS <= 0 {
		opts.QPS = 50
	}
	if opts.Burst <= 0 {
		opts.Burst = 50
	}
	if opts.IndexLag <= 0 {
		opts.IndexLag = 30 * time.Second
	}
	s := &Simulator{Base: simapi.NewBase(w, opts.Credentials, DefaultCredentials, opts.Faults), opts: opts,
		access: map[string]time.Time{}, refresh: map[string]time.Time{}, buckets: map[string]*rate.Limiter{},
		searchCache: map[string][]simworld.TikTokOrderState{}}
	s.routes()
	s.SetHandler(s.Faults().Wrap(s.mux, dialect{s}))
	return s
}

// DefaultCredentials returns the credentials a simulator over w accepts when
// Options.Credentials is nil; they are a function of the world's seed.
func DefaultCredentials(w *simworld.World) Credentials {
	r := rand.New(rand.NewPCG(w.Seed(), 0x7777))
	str := func(alphabet string, n int) string { return simapi.RandomString(r, alphabet, n) }
	const lower, digits = simapi.LowerAlnum, simapi.Digits
	return Credentials{
		AppKey:     "6" + str(lower, 12),
		AppSecret:  str(lower, 40),
		AuthCode:   "ROW_" + str(lower, 40),
		ShopID:     "74940" + str(digits, 14),
		ShopCipher: "ROW_" + str(lower+"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 32),
		ShopName:   w.Brands()[0].Name + " Official Store",
		Region:     "US",
		OpenID:     str(lower, 32),
		SellerName: w.Brands()[0].Name,
	}
}

// Envelope is every response's body.
type Envelope struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Data      any    `json:"data,omitempty"`
}

func (s *Simulator) requestID() string {
	return s.Clock().Now().UTC().Format("20060102150405") + fmt.Sprintf("%010d%08X", s.World().Seed()%1e10, s.NextRequest())
}

func (s *Simulator) reply(w http.ResponseWriter, status, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Envelope{Code: code, Message: msg, RequestID: s.requestID(), Data: data})
}

func (s *Simulator) ok(w http.ResponseWriter, data any) {
	s.reply(w, http.StatusOK, CodeOK, "Success", data)
}

// fail writes an error inside HTTP 200, as the API does for most errors.
func (s *Simulator) fail(w http.ResponseWriter, code int, msg string) {
	s.reply(w, http.StatusOK, code, msg, nil)
}

type dialect struct{ s *Simulator }

func (d dialect) WriteThrottle(w http.ResponseWriter, _ *http.Request) {
	d.s.fail(w, CodeThrottled, MsgThrottled)
}

func (d dialect) WriteServerError(w http.ResponseWriter, _ *http.Request, status int) {
	d.s.reply(w, status, CodeInternal, "Internal error, please try again later.", nil)
}

type ctxKey struct{}

// rawBody returns the request body read by the checks.
func rawBody(r *http.Request) []byte {
	b, _ := r.Context().Value(ctxKey{}).([]byte)
	return b
}

// signed wraps an API operation with the checks every signed request passes:
// app_key, timestamp window, sign, access token, shop_cipher (when
// shopScoped) and the per-API token bucket.
func (s *Simulator) signed(shopScoped bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			s.fail(w, CodeInvalidParam, "Invalid request body.")
			return
		}
		q := r.URL.Query()
		if q.Get("app_key") != s.Credentials().AppKey {
			s.fail(w, CodeInvalidParam, "Invalid app_key.")
			return
		}
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		now := s.Clock().Now()
		// Accepted window [now-5min, now+30s] (third-party, unverified).
		if err != nil || ts < now.Add(-5*time.Minute).Unix() || ts > now.Add(30*time.Second).Unix() {
			s.fail(w, CodeInvalidParam, "Invalid timestamp.")
			return
		}
		want := Sign(s.Credentials().AppSecret, r.URL.Path, q, body, r.Header.Get("Content-Type"))
		if got := q.Get("sign"); got == "" || !hmacEqual(got, want) {
			// The reference quotes HTTP 401 with code 106001 for a bad sign;
			// most other errors arrive with HTTP 200.
			s.reply(w, http.StatusUnauthorized, CodeBadSignature, MsgBadSignature, nil)
			return
		}
		tok := r.Header.Get("x-tts-access-token")
		s.mu.Lock()
		exp, known := s.access[tok]
		s.mu.Unlock()
		switch {
		case tok == "" || !known:
			s.fail(w, CodeTokenInvalid, "Invalid access token.")
			return
		case !now.Before(exp):
			s.fail(w, CodeTokenExpired, "Access token is expired, please refresh it.")
			return
		}
		if shopScoped && q.Get("shop_cipher") != s.Credentials().ShopCipher {
			s.fail(w, CodeInvalidParam, "Invalid shop_cipher.")
			return
		}
		if !s.allow(r.Pattern, now) {
			s.fail(w, CodeThrottled, MsgThrottled)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, body))
		h(w, r)
	})
}

func hmacEqual(a, b string) bool {
	return len(a) == len(b) && bytes.Equal([]byte(a), []byte(b))
}

// allow takes a token from the bucket of the API the request's route
// pattern names; the bucket runs on the world's clock. The limit is per app
// per API (reference section 2.6), so every request to an API shares its
// bucket whatever its path parameters ({video_id}, {product_id}, the
// {version} of a route that accepts several) and query.
func (s *Simulator) allow(api string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[api]
	if !ok {
		b = rate.NewLimiter(rate.Limit(s.opts.QPS), s.opts.Burst)
		b.AllowN(now, 0)
		s.buckets[api] = b
	}
	return b.AllowN(now, 1)
}

func (s *Simulator) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v2/token/get", s.tokenGet)
	m.HandleFunc("GET /api/v2/token/refresh", s.tokenRefresh)
	m.Handle("GET /authorization/202309/shops", s.signed(false, s.shops))
	m.Handle("POST /order/202309/orders/search", s.signed(true, s.searchOrders))
	m.Handle("GET /order/{version}/orders", s.signed(true, s.orderDetail))
	m.Handle("POST /product/{version}/products/search", s.signed(true, s.searchProducts))
	m.Handle("GET /product/{version}/products/{product_id}", s.signed(true, s.productDetail))
	m.Handle("GET /analytics/202509/shop_videos/performance", s.signed(true, s.videoPerformance))
	m.Handle("GET /analytics/202509/shop_videos/{video_id}/products/performance", s.signed(true, s.videoProducts))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, CodeInvalidPath, "Invalid path or version: "+r.URL.Path)
	})
	s.mux = m
}

// Server is a Simulator listening on a loopback address, like httptest.Server.
type Server struct{ *simapi.Server[*Simulator] }

// NewServer starts a simulator over w on a loopback listener.
func NewServer(w *simworld.World, opts Options) *Server {
	return &Server{simapi.NewServer(New(w, opts))}
}

// APIBaseURL is the open-api host's stand-in.
func (s *Server) APIBaseURL() string { return s.URL }

// AuthBaseURL is the auth host's stand-in.
func (s *Server) AuthBaseURL() string { return s.URL }

// TokenData is the data of a token get/refresh response.
type TokenData struct {
	AccessToken string `json:"access_token"`
	// AccessTokenExpireIn is an absolute Unix time in seconds. The reference
	// leaves absolute-or-relative unconfirmed; SDK examples show absolute
	// epoch values, so that is what the simulator sends.
	AccessTokenExpireIn  int64    `json:"access_token_expire_in"`
	RefreshToken         string   `json:"refresh_token"`
	RefreshTokenExpireIn int64    `json:"refresh_token_expire_in"`
	OpenID               string   `json:"open_id"`
	SellerName           string   `json:"seller_name"`
	SellerBaseRegion     string   `json:"seller_base_region"`
	UserType             int      `json:"user_type"`
	GrantedScopes        []string `json:"granted_scopes"`
}

func (s *Simulator) issue(refreshToken string) TokenData {
	now := s.Clock().Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenN++
	r := rand.New(rand.NewPCG(s.World().Seed(), s.tokenN))
	tok := func() string {
		const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
		b := make([]byte, 64)
		for i := range b {
			b[i] = a[r.IntN(len(a))]
		}
		return "ROW_" + string(b)
	}
	at := tok()
	s.access[at] = now.Add(s.opts.AccessTokenTTL)
	if refreshToken == "" {
		refreshToken = tok()
		s.refresh[refreshToken] = now.Add(s.opts.RefreshTokenTTL)
	}
	return TokenData{AccessToken: at, AccessTokenExpireIn: now.Add(s.opts.AccessTokenTTL).Unix(),
		RefreshToken: refreshToken, RefreshTokenExpireIn: s.refresh[refreshToken].Unix(),
		OpenID: s.Credentials().OpenID, SellerName: s.Credentials().SellerName, SellerBaseRegion: s.Credentials().Region,
		GrantedScopes: []string{"seller.order.info", "seller.product.basic", "data.shop_analytics.public.read"}}
}

// tokenGet is the auth host's GET /api/v2/token/get (not signed).
func (s *Simulator) tokenGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("app_key") != s.Credentials().AppKey || q.Get("app_secret") != s.Credentials().AppSecret:
		s.fail(w, CodeInvalidParam, "Invalid app_key or app_secret.")
	case q.Get("grant_type") != "authorized_code":
		s.fail(w, CodeInvalidParam, "Invalid grant_type.")
	case q.Get("auth_code") != s.Credentials().AuthCode:
		// Auth codes are reusable here (a simplification), so several
		// clients can start against one simulator.
		s.fail(w, CodeInvalidParam, "Invalid auth_code.")
	default:
		s.ok(w, s.issue(""))
	}
}

// tokenRefresh is the auth host's GET /api/v2/token/refresh (not signed).
func (s *Simulator) tokenRefresh(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rt := q.Get("refresh_token")
	s.mu.Lock()
	exp, ok := s.refresh[rt]
	s.mu.Unlock()
	switch {
	case q.Get("app_key") != s.Credentials().AppKey || q.Get("app_secret") != s.Credentials().AppSecret:
		s.fail(w, CodeInvalidParam, "Invalid app_key or app_secret.")
	case q.Get("grant_type") != "refresh_token":
		s.fail(w, CodeInvalidParam, "Invalid grant_type.")
	case !ok || !s.Clock().Now().Before(exp):
		s.fail(w, CodeTokenExpired, "Invalid or expired refresh_token.")
	default:
		s.ok(w, s.issue(rt))
	}
}

// shops is GET /authorization/202309/shops.
func (s *Simulator) shops(w http.ResponseWriter, _ *http.Request) {
	s.ok(w, map[string]any{"shops": []map[string]string{{
		"id": s.Credentials().ShopID, "name": s.Credentials().ShopName, "region": s.Credentials().Region,
		"seller_type": "LOCAL", "cipher": s.Credentials().ShopCipher, "code": "USLCL" + s.Credentials().ShopID[len(s.Credentials().ShopID)-5:],
	}}})
}

// decodeBody parses a JSON body strictly enough to reject garbage.
func decodeBody(r *http.Request, v any) error {
	b := rawBody(r)
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	return nil
}

func splitIDs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
