package amazontest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// Credentials are the test credentials the simulator accepts: an LWA app
// (client id and secret) authorized by one seller (the refresh token).
type Credentials struct {
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	RefreshToken  string `json:"refresh_token"`
	SellerID      string `json:"seller_id"`
	MarketplaceID string `json:"marketplace_id"`
}

// Options configure a Simulator. The zero value is a faithful default.
type Options struct {
	// Credentials override the credentials derived from the world's seed.
	Credentials *Credentials
	// Faults injects failures; its Seed defaults to the world's seed.
	Faults fault.Config
	// AccessTokenTTL is the LWA access-token lifetime. Default one hour.
	AccessTokenTTL time.Duration
	// VisibilityDelay is how long after a change getOrders sees it, and the
	// minimum distance of *Before dates from now. Default two minutes.
	VisibilityDelay time.Duration
	// ReportQueueTime and ReportProcessingTime bound the random time a
	// report spends IN_QUEUE and IN_PROGRESS. Defaults 10–60 s and 30 s–3 min.
	ReportQueueTime      [2]time.Duration
	ReportProcessingTime [2]time.Duration
	// ReportFatalRate is the share of otherwise valid reports that end FATAL
	// with a reason document, as real reports sometimes do.
	ReportFatalRate float64
	// DocumentURLTTL is how long a report document URL works. Default five
	// minutes.
	DocumentURLTTL time.Duration
	// RateLimits overrides the published usage plan of named operations
	// (e.g. "getOrders"); DisableRateLimits turns buckets off altogether.
	RateLimits        map[string]UsagePlan
	DisableRateLimits bool
	// RateScale multiplies the rate of every operation's usage plan (not
	// its burst), for a demo that replays weeks of history in minutes;
	// x-amzn-RateLimit-Limit announces the scaled rate. Zero or one: the
	// published rates. Tests of rate limiting keep the published rates.
	RateScale float64
}

// PathPrefixes are the URL path prefixes the simulator serves; `shopstream
// sim` routes them to it.
var PathPrefixes = []string{"/auth/o2/", "/orders/v0/", "/reports/2021-06-30/", "/catalog/2022-04-01/", DocumentPathPrefix}

// DocumentPathPrefix is where the simulator serves report documents, standing
// in for Amazon's pre-signed S3 URLs.
const DocumentPathPrefix = "/_sim/amazon/documents/"

// Simulator is the SP-API simulator. It is an http.Handler.
type Simulator struct {
	simapi.Base[Credentials]
	opts   Options
	mux    *http.ServeMux
	limits *limiter

	mu      sync.Mutex
	tokens  map[string]accessToken
	reports map[string]*report
	docs    map[string]*report // by document id
	reportN int64
	tokenN  uint64
}

// New returns a simulator over world w.
func New(w *simworld.World, opts Options) *Simulator {
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.VisibilityDelay <= 0 {
		opts.VisibilityDelay = 2 * time.Minute
	}
	if opts.ReportQueueTime[1] <= 0 {
		opts.ReportQueueTime = [2]time.Duration{10 * time.Second, time.Minute}
	}
	if opts.ReportProcessingTime[1] <= 0 {
		opts.ReportProcessingTime = [2]time.Duration{30 * time.Second, 3 * time.Minute}
	}
	if opts.DocumentURLTTL <= 0 {
		opts.DocumentURLTTL = 5 * time.Minute
	}
	s := &Simulator{
		Base:    simapi.NewBase(w, opts.Credentials, DefaultCredentials, opts.Faults),
		opts:    opts,
		tokens:  map[string]accessToken{},
		reports: map[string]*report{},
		docs:    map[string]*report{},
	}
	s.limits = newLimiter(opts.RateLimits, opts.RateScale, opts.DisableRateLimits)
	s.routes()
	s.SetHandler(s.withRequestID(s.Faults().Wrap(s.mux, dialect{})))
	return s
}

// DefaultCredentials returns the credentials a simulator over w accepts when
// Options.Credentials is nil; they are a function of the world's seed.
func DefaultCredentials(w *simworld.World) Credentials {
	r := rand.New(rand.NewPCG(w.Seed(), 0xa11ce))
	hex := func(n int) string { return simapi.RandomString(r, simapi.Hex, n) }
	return Credentials{
		ClientID:      "amzn1.application-oa2-client." + hex(32),
		ClientSecret:  "amzn1.oa2-cs.v1." + hex(64),
		RefreshToken:  "Atzr|IwEBI" + hex(96),
		SellerID:      "A" + strings.ToUpper(hex(13)),
		MarketplaceID: w.Config().MarketplaceID,
	}
}

func (s *Simulator) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.NextRequest()
		w.Header().Set("x-amzn-RequestId", fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(s.World().Seed()), n>>32&0xffff, n>>20&0xfff, n>>8&0xfff, n))
		next.ServeHTTP(w, r)
	})
}

func (s *Simulator) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /auth/o2/token", s.handleToken)
	api := func(pattern, op string, h http.HandlerFunc) {
		m.Handle(pattern, s.apiCall(op, h))
	}
	api("GET /orders/v0/orders", "getOrders", s.getOrders)
	api("GET /orders/v0/orders/{orderId}", "getOrder", s.getOrder)
	api("GET /orders/v0/orders/{orderId}/orderItems", "getOrderItems", s.getOrderItems)
	api("POST /reports/2021-06-30/reports", "createReport", s.createReport)
	api("GET /reports/2021-06-30/reports", "getReports", s.getReports)
	api("GET /reports/2021-06-30/reports/{reportId}", "getReport", s.getReport)
	api("DELETE /reports/2021-06-30/reports/{reportId}", "cancelReport", s.cancelReport)
	api("GET /reports/2021-06-30/documents/{reportDocumentId}", "getReportDocument", s.getReportDocument)
	api("GET /catalog/2022-04-01/items", "searchCatalogItems", s.searchCatalogItems)
	api("GET /catalog/2022-04-01/items/{asin}", "getCatalogItem", s.getCatalogItem)
	m.HandleFunc("GET "+DocumentPathPrefix+"{docId}", s.downloadDocument)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, "Resource not found.", r.URL.Path)
	})
	s.mux = m
}

// apiCall wraps an operation with the checks every SP-API call goes through:
// the user-agent limit, the access token, the operation's token bucket, and the
// rate-limit header on the statuses that carry it.
func (s *Simulator) apiCall(op string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.UserAgent()) > 500 {
			writeError(w, http.StatusBadRequest, CodeInvalidInput, "Invalid user-agent.", "The user-agent header must not be longer than 500 characters.")
			return
		}
		tok, ok := s.authorize(w, r)
		if !ok {
			return
		}
		plan, allowed := s.limits.allow(tok.clientID, op, s.Clock().Now())
		if !allowed {
			writeQuotaExceeded(w)
			return
		}
		h(&rateLimitWriter{ResponseWriter: w, value: plan.header()}, r)
	})
}

// Server is a Simulator listening on a loopback address, like httptest.Server.
type Server struct{ *simapi.Server[*Simulator] }

// NewServer starts a simulator over w on a loopback listener. Close it when
// done.
func NewServer(w *simworld.World, opts Options) *Server {
	return &Server{simapi.NewServer(New(w, opts))}
}

// Endpoint returns the SP-API base URL (the sellingpartnerapi-na host's stand-in).
func (s *Server) Endpoint() string { return s.URL }

// TokenURL returns the LWA token endpoint URL.
func (s *Server) TokenURL() string { return s.URL + "/auth/o2/token" }
