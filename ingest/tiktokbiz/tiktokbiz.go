// Package tiktokbiz is the client of the TikTok API for Business "TikTok
// Accounts" (organic) video list, which carries the engagement TikTok Shop
// analytics lacks (watch time, saves, reach), and the mapping of its
// lifetime snapshots to tiktok.video_engagement records.
package tiktokbiz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/secret"
)

// DefaultBaseURL is the API base (reference section 3.1).
const DefaultBaseURL = "https://business-api.tiktok.com/open_api/v1.3"

// Error codes (third-party; reference section 3.1). Errors arrive with HTTP
// 200 and a non-zero code.
const (
	CodeOK          = 0
	CodeRateLimited = 40100 // seen on the sibling Marketing API
	CodeBadToken    = 40105 // "Access token is incorrect or has been revoked"
	CodeNoScope     = 40130 // the user did not authorize the scope: reconnect
	CodeInternal    = 50000
)

// MaxCount is the documented maximum page size of video/list.
const MaxCount = 20

// Fields are the video/list fields the client asks for. item_id must be
// among them when several are requested.
var Fields = []string{"item_id", "create_time", "media_type", "is_ad", "caption", "share_url", "video_duration",
	"video_views", "likes", "comments", "shares", "favorites", "reach", "total_time_watched",
	"average_time_watched", "full_video_watched_rate", "new_followers", "profile_views", "website_clicks"}

// Config configures a Client. BusinessID and AccessToken are required; the
// refresh fields let the client renew the token (it lives about 24 h).
type Config struct {
	BaseURL      string
	BusinessID   string
	AccessToken  secret.Secret
	RefreshToken secret.Secret
	ClientID     string
	ClientSecret secret.Secret
	// AccessTokenExpiry, if known, lets the client refresh ahead of time.
	AccessTokenExpiry time.Time
	RefreshBefore     time.Duration // default 1 h
	HTTPClient        *http.Client
	// Clock judges token expiry and waits between attempts. Default
	// clock.Wall; tests pass the simulator's manual clock.
	Clock          clock.Clock
	AttemptTimeout time.Duration // default 30 s
	MaxAttempts    int           // default 10
	InitialBackoff time.Duration // default 1 s (the API allows about 10 QPS)
	MaxBackoff     time.Duration // default 1 min
	// OnRetry observes retried failures; err carries no credentials.
	OnRetry func(op string, attempt int, err error)
	// OnMalformed receives a video of a good page that does not decode, to
	// dead-letter it; the video is skipped. When nil, such a video fails the
	// call rather than being dropped silently.
	OnMalformed func(raw json.RawMessage, err error)
	// Registerer, if set, registers shopstream_tiktokbiz_api_requests_total
	// (by op and outcome: ok, throttled, server_error, api_error, malformed,
	// transport_error).
	Registerer prometheus.Registerer
}

// codes is the table the transport acts on.
var codes = tiktokapi.Codes{
	Throttled: []int{CodeRateLimited},
	Internal:  []int{CodeInternal},
	Auth:      func(code int) bool { return code == CodeBadToken },
}

// APIError is a non-zero code or an HTTP error status; Throttled, AuthError
// and Temporary classify it by the codes above.
type APIError = tiktokapi.APIError

// Client reads one business account's videos. It is safe for concurrent use.
type Client struct {
	cfg Config
	api *tiktokapi.Transport

	mu     sync.Mutex
	token  string
	expiry time.Time
	rt     string
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.BusinessID == "" || cfg.AccessToken == "" {
		return nil, errors.New("tiktokbiz: BusinessID and AccessToken are required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = time.Hour
	}
	api, err := tiktokapi.New(tiktokapi.Config{API: Source, Title: "TikTok API for Business", Codes: codes,
		HTTPClient: cfg.HTTPClient, Clock: cfg.Clock, AttemptTimeout: cfg.AttemptTimeout, MaxAttempts: cfg.MaxAttempts,
		InitialBackoff: cfg.InitialBackoff, MaxBackoff: cfg.MaxBackoff, OnRetry: cfg.OnRetry, Registerer: cfg.Registerer})
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, api: api, token: cfg.AccessToken.Reveal(), expiry: cfg.AccessTokenExpiry, rt: cfg.RefreshToken.Reveal()}, nil
}

// accessToken returns the token to use, refreshing it ahead of a known
// expiry, or at once with force.
func (c *Client) accessToken(ctx context.Context, force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	due := !c.expiry.IsZero() && !c.cfg.Clock.Now().Add(c.cfg.RefreshBefore).Before(c.expiry)
	if !force && !due {
		return c.token, nil
	}
	if c.rt == "" || c.cfg.ClientID == "" || c.cfg.ClientSecret == "" {
		if force {
			return "", errors.New("tiktokbiz: access token rejected and no refresh credentials configured")
		}
		return c.token, nil
	}
	body, err := json.Marshal(map[string]string{"client_id": c.cfg.ClientID, "client_secret": c.cfg.ClientSecret.Reveal(),
		"grant_type": "refresh_token", "refresh_token": c.rt})
	if err != nil {
		return "", fmt.Errorf("tiktokbiz: encode refresh: %w", err)
	}
	var d tokenData
	now := c.cfg.Clock.Now()
	err = c.api.Call(ctx, "token.refresh", func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, c.cfg.BaseURL+"/tt_user/oauth2/refresh_token/", bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("tiktokbiz: token.refresh: %w", errors.Unwrap(err))
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}, nil, &d)
	if err != nil {
		return "", err
	}
	c.token = d.AccessToken
	c.expiry = time.Time{}
	if d.ExpiresIn > 0 {
		c.expiry = now.Add(time.Duration(d.ExpiresIn) * time.Second)
	}
	if d.RefreshToken != "" {
		c.rt = d.RefreshToken // refresh may rotate it
	}
	return c.token, nil
}

// tokenData is the data of a token refresh.
type tokenData struct {
	tiktokapi.Token
	ExpiresIn int64 `json:"expires_in"`
}

// get makes an authenticated GET, refreshing the token once when the API
// rejects it.
func (c *Client) get(ctx context.Context, op, path string, q url.Values, out any) error {
	return c.api.Call(ctx, op, func() (*http.Request, error) {
		tok, err := c.accessToken(ctx, false)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequest(http.MethodGet, c.cfg.BaseURL+path+"?"+q.Encode(), nil)
		if err != nil {
			return nil, fmt.Errorf("tiktokbiz: %s: %w", op, errors.Unwrap(err))
		}
		req.Header.Set("Access-Token", tok)
		return req, nil
	}, func() error {
		_, err := c.accessToken(ctx, true)
		return err
	}, out)
}

// Video is one video of the list with its lifetime totals. A nil field was
// not in the response: TikTok drops reach and the watch-time fields once a
// video has been inactive for more than seven days, and absent is not zero.
// It marshals to the API's field names, so a dead-lettered video reads back.
type Video struct {
	ItemID               string   `json:"item_id"`
	CreateTime           *int64   `json:"create_time,omitempty"` // Unix seconds
	MediaType            *string  `json:"media_type,omitempty"`
	IsAd                 *bool    `json:"is_ad,omitempty"`
	Caption              *string  `json:"caption,omitempty"`
	ShareURL             *string  `json:"share_url,omitempty"`
	VideoDuration        *float64 `json:"video_duration,omitempty"`
	VideoViews           *int64   `json:"video_views,omitempty"`
	Likes                *int64   `json:"likes,omitempty"`
	Comments             *int64   `json:"comments,omitempty"`
	Shares               *int64   `json:"shares,omitempty"`
	Favorites            *int64   `json:"favorites,omitempty"`
	Reach                *int64   `json:"reach,omitempty"`
	TotalTimeWatched     *float64 `json:"total_time_watched,omitempty"`
	AverageTimeWatched   *float64 `json:"average_time_watched,omitempty"`
	FullVideoWatchedRate *float64 `json:"full_video_watched_rate,omitempty"`
	NewFollowers         *int64   `json:"new_followers,omitempty"`
	ProfileViews         *int64   `json:"profile_views,omitempty"`
	WebsiteClicks        *int64   `json:"website_clicks,omitempty"`
}

// UnmarshalJSON reads a video leniently: numbers may come as JSON numbers or
// numeric strings, and an absent or null field stays nil.
func (v *Video) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("video: %w", err)
	}
	var err error
	note := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	var id *string
	id, e := optString(m, "item_id")
	note(e)
	if id == nil || *id == "" {
		return errors.New("video without item_id")
	}
	v.ItemID = *id
	v.CreateTime, e = optInt(m, "create_time")
	note(e)
	v.MediaType, e = optString(m, "media_type")
	note(e)
	if raw, ok := m["is_ad"]; ok && string(raw) != "null" {
		var x bool
		note(json.Unmarshal(raw, &x))
		v.IsAd = &x
	}
	v.Caption, e = optString(m, "caption")
	note(e)
	v.ShareURL, e = optString(m, "share_url")
	note(e)
	v.VideoDuration, e = optFloat(m, "video_duration")
	note(e)
	for _, f := range []struct {
		name string
		dst  **int64
	}{{"video_views", &v.VideoViews}, {"likes", &v.Likes}, {"comments", &v.Comments}, {"shares", &v.Shares},
		{"favorites", &v.Favorites}, {"reach", &v.Reach}, {"new_followers", &v.NewFollowers},
		{"profile_views", &v.ProfileViews}, {"website_clicks", &v.WebsiteClicks}} {
		*f.dst, e = optInt(m, f.name)
		note(e)
	}
	for _, f := range []struct {
		name string
		dst  **float64
	}{{"total_time_watched", &v.TotalTimeWatched}, {"average_time_watched", &v.AverageTimeWatched},
		{"full_video_watched_rate", &v.FullVideoWatchedRate}} {
		*f.dst, e = optFloat(m, f.name)
		note(e)
	}
	if err != nil {
		return fmt.Errorf("video %s: %w", v.ItemID, err)
	}
	return nil
}

func optString(m map[string]json.RawMessage, k string) (*string, error) {
	raw, ok := m[k]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// ids sometimes come as numbers
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		s = n.String()
	}
	return &s, nil
}

func optNumber(m map[string]json.RawMessage, k string) (string, bool, error) {
	raw, ok := m[k]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" {
		return "", false, nil
	}
	return s, true, nil
}

func optInt(m map[string]json.RawMessage, k string) (*int64, error) {
	s, ok, err := optNumber(m, k)
	if !ok || err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return nil, fmt.Errorf("%s: %q is not an integer", k, s)
		}
		n = int64(f)
	}
	return &n, nil
}

func optFloat(m map[string]json.RawMessage, k string) (*float64, error) {
	s, ok, err := optNumber(m, k)
	if !ok || err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a number", k, s)
	}
	return &f, nil
}

// Videos returns every video of the account, newest first, with lifetime
// totals as of the call, following the cursor until has_more is false.
func (c *Client) Videos(ctx context.Context) ([]Video, error) {
	fields, err := json.Marshal(Fields)
	if err != nil {
		return nil, fmt.Errorf("tiktokbiz: encode fields: %w", err)
	}
	var out []Video
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"business_id": {c.cfg.BusinessID}, "fields": {string(fields)}, "max_count": {strconv.Itoa(MaxCount)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var d struct {
			Videos  []json.RawMessage `json:"videos"`
			Cursor  json.Number       `json:"cursor"`
			HasMore bool              `json:"has_more"`
		}
		if err := c.get(ctx, "video.list", "/business/video/list/", q, &d); err != nil {
			return nil, fmt.Errorf("list videos page %d: %w", page, err)
		}
		for _, raw := range d.Videos {
			var v Video
			if err := json.Unmarshal(raw, &v); err != nil {
				// The same bytes would come back on a retry: hand the
				// video over for dead-lettering, or fail loudly.
				if c.cfg.OnMalformed == nil {
					return nil, fmt.Errorf("tiktokbiz: video.list page %d: %w", page, err)
				}
				c.cfg.OnMalformed(raw, err)
				continue
			}
			out = append(out, v)
		}
		if !d.HasMore {
			return out, nil
		}
		if d.Cursor.String() == "" || d.Cursor.String() == cursor {
			return nil, fmt.Errorf("tiktokbiz: video.list: page %d has more but the cursor did not move", page)
		}
		cursor = d.Cursor.String()
	}
}

// Source is the source field of the records.
const Source = "tiktokbiz"

// Key is the Kafka key of an engagement record: business_id:item_id.
func Key(businessID, itemID string) string { return businessID + ":" + itemID }

// EngagementRecord maps a video to a tiktok.video_engagement record in
// goavro's native form: a snapshot whose source_ts is capturedAt. Fields
// the API left out stay null, so downstream keeps the last known value
// instead of reading a zero. The caller sets event_id, version and ingest_ts.
func EngagementRecord(businessID string, v Video, capturedAt time.Time) map[string]any {
	var created any
	if v.CreateTime != nil {
		created = map[string]any{"long.timestamp-millis": time.Unix(*v.CreateTime, 0).UTC()}
	}
	return map[string]any{
		"source": Source, "entity": "video_engagement", "op": "snapshot", "source_ts": capturedAt.UTC(),
		"business_id": businessID, "item_id": v.ItemID, "create_time": created,
		"media_type": union("string", v.MediaType), "is_ad": union("boolean", v.IsAd), "caption": union("string", v.Caption),
		"share_url": union("string", v.ShareURL), "video_duration": union("double", v.VideoDuration),
		"video_views": union("long", v.VideoViews), "likes": union("long", v.Likes), "comments": union("long", v.Comments),
		"shares": union("long", v.Shares), "favorites": union("long", v.Favorites), "reach": union("long", v.Reach),
		"total_time_watched": union("double", v.TotalTimeWatched), "average_time_watched": union("double", v.AverageTimeWatched),
		"full_video_watched_rate": union("double", v.FullVideoWatchedRate), "new_followers": union("long", v.NewFollowers),
		"profile_views": union("long", v.ProfileViews), "website_clicks": union("long", v.WebsiteClicks),
	}
}

func union[T any](branch string, p *T) any {
	if p == nil {
		return nil
	}
	return map[string]any{branch: *p}
}
