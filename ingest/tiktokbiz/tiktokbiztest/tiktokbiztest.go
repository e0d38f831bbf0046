// Package tiktokbiztest is a faithful simulator of the TikTok API for Business
// "TikTok Accounts" (organic) endpoints that carry video engagement, in the
// style of net/http/httptest: New returns an http.Handler, NewServer starts it
// on a loopback listener.
//
// It serves GET /open_api/v1.3/business/video/list/ (cursor paging, the
// requested fields as a JSON array, lifetime engagement totals, and the reach
// and watch-time fields left out once a video has been inactive for more than
// seven days) and POST /open_api/v1.3/tt_user/oauth2/refresh_token/. Every call
// is checked for a live Access-Token header; errors arrive with HTTP 200 and
// a non-zero code.
package tiktokbiztest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/simworld/simapi"
)

// BasePath is the API's path prefix (business-api.tiktok.com/open_api/v1.3).
const BasePath = "/open_api/v1.3"

// PathPrefixes are the URL path prefixes the simulator serves.
var PathPrefixes = []string{BasePath + "/"}

// Error codes (third-party; see the reference).
const (
	CodeOK           = 0
	CodeInvalidParam = 40002 // inferred: the Business API's parameter-error code
	CodeNoSchema     = 40006 // "no schema found": a wrong path
	CodeRateLimited  = 40100 // seen on the sibling Marketing API
	CodeBadToken     = 40105 // "Access token is incorrect or has been revoked"
	CodeScope        = 40130
	CodeInternal     = 50000
)

// MaxCount is the documented maximum page size of video/list (default 10).
const MaxCount = 20

// InsightFields vanish from a video once it has been inactive for more than
// seven days.
var InsightFields = []string{"reach", "full_video_watched_rate", "total_time_watched", "average_time_watched",
	"impression_sources", "audience_countries"}

// Fields lists every field video/list accepts.
var Fields = []string{"item_id", "create_time", "media_type", "is_ad", "caption", "thumbnail_url", "share_url",
	"embed_url", "video_duration", "video_views", "likes", "comments", "shares", "favorites", "reach",
	"total_time_watched", "average_time_watched", "full_video_watched_rate", "video_view_retention",
	"new_followers", "profile_views", "website_clicks", "phone_number_clicks", "lead_submissions",
	"app_download_clicks", "email_clicks", "address_clicks", "engagement_likes", "impression_sources",
	"audience_countries", "audience_cities", "audience_genders", "audience_types"}

// Credentials are the app and the business account the simulator accepts.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	BusinessID   string `json:"business_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// Options configure a Simulator.
type Options struct {
	// Credentials override the credentials derived from the world's seed.
	Credentials *Credentials
	// Faults injects failures; its Seed defaults to the world's seed.
	Faults fault.Config
	// AccessTokenTTL is the access-token lifetime. Default 24 hours.
	AccessTokenTTL time.Duration
	// QPS is the per-app request rate (burst equal). Default 10.
	QPS float64
}

// Simulator is the Business API simulator. It is an http.Handler.
type Simulator struct {
	simapi.Base[Credentials]
	opts   Options
	bucket *rate.Limiter

	mu     sync.Mutex
	tokens map[string]time.Time
	tokenN uint64
}

// New returns a simulator over world w. The credentials' access token is live
// from the clock's current reading for AccessTokenTTL.
func New(w *simworld.World, opts Options) *Simulator {
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = 24 * time.Hour
	}
	if opts.QPS <= 0 {
		opts.QPS = 10
	}
	s := &Simulator{Base: simapi.NewBase(w, opts.Credentials, DefaultCredentials, opts.Faults), opts: opts, tokens: map[string]time.Time{},
		bucket: rate.NewLimiter(rate.Limit(opts.QPS), int(math.Max(1, opts.QPS)))}
	s.tokens[s.Credentials().AccessToken] = s.Clock().Now().Add(opts.AccessTokenTTL)
	s.bucket.AllowN(s.Clock().Now(), 0)
	m := http.NewServeMux()
	m.HandleFunc("GET "+BasePath+"/business/video/list/", s.videoList)
	m.HandleFunc("POST "+BasePath+"/tt_user/oauth2/refresh_token/", s.refresh)
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { s.reply(w, CodeNoSchema, "no schema found", nil) })
	s.SetHandler(s.Faults().Wrap(m, dialect{s}))
	return s
}

// DefaultCredentials returns the credentials derived from the world's seed.
func DefaultCredentials(w *simworld.World) Credentials {
	r := rand.New(rand.NewPCG(w.Seed(), 0xb12))
	hex := func(n int) string { return simapi.RandomString(r, simapi.Hex, n) }
	return Credentials{ClientID: "7" + strconv.FormatUint(r.Uint64()%1e18, 10), ClientSecret: hex(40),
		BusinessID: "-000" + hex(28), AccessToken: "act." + hex(64), RefreshToken: "rft." + hex(64)}
}

type dialect struct{ s *Simulator }

func (d dialect) WriteThrottle(w http.ResponseWriter, _ *http.Request) {
	d.s.reply(w, CodeRateLimited, "Too many requests. Please retry in some time.", nil)
}

func (d dialect) WriteServerError(w http.ResponseWriter, _ *http.Request, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": CodeInternal, "message": "Internal service error", "request_id": d.s.requestID()})
}

// BreakEntity gives the first video of a video list answer a lifetime
// metric of the wrong type (an object for video_views): the rest of the page
// stays good. It returns the video's item_id.
func (d dialect) BreakEntity(body []byte) ([]byte, string, bool) {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return nil, "", false
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(env["data"], &data) != nil {
		return nil, "", false
	}
	var videos []map[string]json.RawMessage
	if json.Unmarshal(data["videos"], &videos) != nil || len(videos) == 0 {
		return nil, "", false
	}
	var id string
	if json.Unmarshal(videos[0]["item_id"], &id) != nil || id == "" {
		return nil, "", false
	}
	videos[0]["video_views"] = json.RawMessage(`{"value":"unexpected"}`)
	var err error
	if data["videos"], err = json.Marshal(videos); err != nil {
		return nil, "", false
	}
	if env["data"], err = json.Marshal(data); err != nil {
		return nil, "", false
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, "", false
	}
	return out, id, true
}

var _ fault.EntityBreaker = dialect{}

func (s *Simulator) requestID() string {
	return fmt.Sprintf("%s%08d%06d", s.Clock().Now().UTC().Format("20060102150405"), s.World().Seed()%1e8, s.NextRequest())
}

// reply writes the envelope with HTTP 200, as every outcome of this API is.
func (s *Simulator) reply(w http.ResponseWriter, code int, msg string, data any) {
	id := s.requestID()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Tt-Logid", id)
	body := map[string]any{"code": code, "message": msg, "request_id": id}
	if data != nil {
		body["data"] = data
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Simulator) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	exp, ok := s.tokens[r.Header.Get("Access-Token")]
	s.mu.Unlock()
	if !ok || !s.Clock().Now().Before(exp) {
		s.reply(w, CodeBadToken, "Access token is incorrect or has been revoked.", nil)
		return false
	}
	if !s.bucket.AllowN(s.Clock().Now(), 1) {
		s.reply(w, CodeRateLimited, "Too many requests. Please retry in some time.", nil)
		return false
	}
	return true
}

// refresh is POST /open_api/v1.3/tt_user/oauth2/refresh_token/.
func (s *Simulator) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		GrantType    string `json:"grant_type"`
		RefreshToken string `json:"refresh_token"`
	}
	b, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := json.Unmarshal(b, &req); err != nil || req.GrantType != "refresh_token" ||
		req.ClientID != s.Credentials().ClientID || req.ClientSecret != s.Credentials().ClientSecret {
		s.reply(w, CodeInvalidParam, "Invalid client credentials or grant_type.", nil)
		return
	}
	if req.RefreshToken != s.Credentials().RefreshToken {
		s.reply(w, CodeBadToken, "Refresh token is incorrect or has been revoked.", nil)
		return
	}
	s.mu.Lock()
	s.tokenN++
	tok := fmt.Sprintf("act.%x%016x", s.World().Seed(), s.tokenN*0x9e3779b97f4a7c15)
	s.tokens[tok] = s.Clock().Now().Add(s.opts.AccessTokenTTL)
	s.mu.Unlock()
	s.reply(w, CodeOK, "OK", map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": int(s.opts.AccessTokenTTL / time.Second), "refresh_token": s.Credentials().RefreshToken,
		"refresh_token_expires_in": 365 * 24 * 3600, "open_id": s.Credentials().BusinessID,
		"scope": "user.info.basic,video.list,video.insights"})
}

// videoList is GET /open_api/v1.3/business/video/list/. Videos come newest
// first; the cursor is the create time (Unix ms) of the last video served, so
// videos posted while a client pages cannot shift it.
func (s *Simulator) videoList(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("business_id") != s.Credentials().BusinessID {
		s.reply(w, CodeInvalidParam, "Invalid business_id.", nil)
		return
	}
	fields := []string{"item_id"}
	if f := q.Get("fields"); f != "" {
		if err := json.Unmarshal([]byte(f), &fields); err != nil {
			s.reply(w, CodeInvalidParam, "fields must be a JSON array of strings.", nil)
			return
		}
	}
	for _, f := range fields {
		if !slices.Contains(Fields, f) {
			s.reply(w, CodeInvalidParam, "Invalid field: "+f, nil)
			return
		}
	}
	if len(fields) > 1 && !slices.Contains(fields, "item_id") {
		s.reply(w, CodeInvalidParam, "item_id must be included when requesting multiple fields.", nil)
		return
	}
	maxCount := 10
	if v := q.Get("max_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxCount {
			s.reply(w, CodeInvalidParam, fmt.Sprintf("max_count must be between 1 and %d.", MaxCount), nil)
			return
		}
		maxCount = n
	}
	var cursor int64
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.reply(w, CodeInvalidParam, "Invalid cursor.", nil)
			return
		}
		cursor = n
	}
	now := s.Clock().Now()
	var vids []*simworld.Video
	for _, v := range s.World().VideosUntil(now) {
		if v.Account == simworld.AccountOfficial && (cursor == 0 || v.PostTime.UnixMilli() < cursor) {
			vids = append(vids, v)
		}
	}
	sort.SliceStable(vids, func(i, j int) bool { return vids[i].PostTime.After(vids[j].PostTime) })
	hasMore := len(vids) > maxCount
	if hasMore {
		vids = vids[:maxCount]
	}
	out := make([]map[string]any, 0, len(vids))
	next := cursor
	for _, v := range vids {
		out = append(out, render(v, v.EngagementAt(now), fields))
		next = v.PostTime.UnixMilli()
	}
	s.reply(w, CodeOK, "OK", map[string]any{"videos": out, "cursor": next, "has_more": hasMore})
}

// render builds one video with the requested fields. Counters are lifetime
// totals.
func render(v *simworld.Video, e simworld.Engagement, fields []string) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if !e.InsightsAvailable && slices.Contains(InsightFields, f) {
			continue // unavailable after seven inactive days
		}
		switch f {
		case "item_id":
			out[f] = v.ID
		case "create_time":
			out[f] = v.PostTime.Unix()
		case "media_type":
			out[f] = "VIDEO"
		case "is_ad":
			out[f] = false
		case "caption":
			out[f] = v.Caption
		case "thumbnail_url":
			out[f] = "https://p16-sign.tiktokcdn-us.com/obj/" + v.ID + "~tplv-noop.image"
		case "share_url":
			out[f] = "https://www.tiktok.com/@" + v.Username + "/video/" + v.ID
		case "embed_url":
			out[f] = "https://www.tiktok.com/embed/v2/" + v.ID
		case "video_duration":
			out[f] = float64(v.DurationSec)
		case "video_views":
			out[f] = e.VideoViews
		case "likes", "engagement_likes":
			out[f] = e.Likes
		case "comments":
			out[f] = e.Comments
		case "shares":
			out[f] = e.Shares
		case "favorites":
			out[f] = e.Favorites
		case "reach":
			out[f] = e.Reach
		case "total_time_watched":
			out[f] = e.TotalTimeWatched
		case "average_time_watched":
			out[f] = e.AverageTimeWatched
		case "full_video_watched_rate":
			out[f] = e.FullVideoWatchedRate
		case "new_followers":
			out[f] = e.VideoViews / 500
		case "profile_views":
			out[f] = e.VideoViews / 60
		case "impression_sources":
			out[f] = []map[string]any{{"impression_source": "For You", "percentage": 0.82}, {"impression_source": "Follow", "percentage": 0.11},
				{"impression_source": "Personal Profile", "percentage": 0.04}, {"impression_source": "Search", "percentage": 0.03}}
		case "audience_countries":
			out[f] = []map[string]any{{"country": "US", "percentage": 0.91}, {"country": "CA", "percentage": 0.05}, {"country": "GB", "percentage": 0.04}}
		case "video_view_retention", "audience_cities", "audience_genders", "audience_types":
			out[f] = []any{}
		default: // click counters the world does not model
			out[f] = 0
		}
	}
	return out
}

// Server is a Simulator listening on a loopback address, like httptest.Server.
type Server struct{ *simapi.Server[*Simulator] }

// NewServer starts a simulator over w on a loopback listener.
func NewServer(w *simworld.World, opts Options) *Server {
	return &Server{simapi.NewServer(New(w, opts))}
}

// BaseURL returns the API base URL, ending in /open_api/v1.3.
func (s *Server) BaseURL() string { return strings.TrimSuffix(s.URL, "/") + BasePath }
