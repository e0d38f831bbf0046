package tiktokbiz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/internal/tiktokapi"
	"github.com/shopstream/shopstream/ingest/internal/tiktokapi/tiktokapitest"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

type env struct {
	world  *simworld.World
	clock  *simworld.ManualClock
	srv    *tiktokbiztest.Server
	client *Client

	retries tiktokapitest.Retries
}

// newEnv builds a world, the simulator and a client. advance says whether
// backoff moves the manual clock (needed to refill the simulator's rate
// bucket) or returns at once (so the world stands still during a read and
// the result can be compared with one instant's truth).
func newEnv(t *testing.T, opts tiktokbiztest.Options, advance bool, tweak func(*Config)) *env {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(40 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 21, Clock: clock})
	srv := tiktokbiztest.NewServer(w, opts)
	t.Cleanup(srv.Close)
	e := &env{world: w, clock: clock, srv: srv}
	c := srv.Sim.Credentials()
	cfg := Config{BaseURL: srv.BaseURL(), BusinessID: c.BusinessID, AccessToken: secret.Secret(c.AccessToken),
		RefreshToken: secret.Secret(c.RefreshToken), ClientID: c.ClientID, ClientSecret: secret.Secret(c.ClientSecret),
		HTTPClient: srv.Client(), Clock: clock.Still(), MaxAttempts: 40,
		OnRetry: e.retries.OnRetry}
	if advance {
		cfg.Clock = clock
	}
	if tweak != nil {
		tweak(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = cl
	return e
}

// checkTruth compares the listed videos with the world at the clock's
// reading: every video of the official account once, every metric equal,
// and reach and watch time absent exactly where TikTok drops them.
func checkTruth(t *testing.T, e *env, videos []Video) {
	t.Helper()
	now := e.clock.Now()
	truth := e.world.TruthAt(now)
	want := map[string]bool{}
	for _, v := range truth.Videos() {
		if v.Account == simworld.AccountOfficial {
			want[v.ID] = true
		}
	}
	if len(videos) != len(want) {
		t.Fatalf("%d videos listed, the account has %d", len(videos), len(want))
	}
	codec, err := schemas.NewCodec(schemas.TopicTikTokVideoEngagement)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	active, vanished := 0, 0
	for _, v := range videos {
		if !want[v.ItemID] || seen[v.ItemID] {
			t.Fatalf("video %s unexpected or listed twice", v.ItemID)
		}
		seen[v.ItemID] = true
		e, _ := truth.VideoEngagement(v.ItemID)
		if *v.VideoViews != e.VideoViews || *v.Likes != e.Likes || *v.Comments != e.Comments || *v.Shares != e.Shares ||
			*v.Favorites != e.Favorites {
			t.Fatalf("video %s counters %d/%d/%d/%d/%d, truth %+v", v.ItemID, *v.VideoViews, *v.Likes, *v.Comments, *v.Shares, *v.Favorites, e)
		}
		if e.InsightsAvailable {
			active++
			if v.Reach == nil || *v.Reach != e.Reach || v.TotalTimeWatched == nil || *v.TotalTimeWatched != e.TotalTimeWatched ||
				*v.AverageTimeWatched != e.AverageTimeWatched || *v.FullVideoWatchedRate != e.FullVideoWatchedRate {
				t.Fatalf("video %s insights %v, truth %+v", v.ItemID, v, e)
			}
		} else {
			vanished++
			if v.Reach != nil || v.TotalTimeWatched != nil || v.AverageTimeWatched != nil || v.FullVideoWatchedRate != nil {
				t.Fatalf("video %s inactive for over seven days but insights present", v.ItemID)
			}
		}
		rec := EngagementRecord("biz", v, now)
		if !e.InsightsAvailable && (rec["reach"] != nil || rec["total_time_watched"] != nil) {
			t.Fatalf("vanished field mapped as %v", rec["reach"])
		}
		rec["event_id"], rec["version"], rec["ingest_ts"] = "x", int64(1), now
		_, back := schematest.RoundTrip(t, codec, rec)
		if !e.InsightsAvailable && back["reach"] != nil {
			t.Fatalf("vanished reach decodes as %v", back["reach"])
		}
	}
	if active == 0 || vanished == 0 {
		t.Fatalf("want active and inactive videos, got %d and %d", active, vanished)
	}
	t.Logf("%d videos: %d with insights, %d with vanished insights", len(videos), active, vanished)
}

func TestVideoListEqualsTruth(t *testing.T) {
	e := newEnv(t, tiktokbiztest.Options{QPS: 1000}, false, nil)
	videos, err := e.client.Videos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkTruth(t, e, videos)
}

// TestVideoListUnderFaultsEqualsTruth: every fault is retried, the list
// still equals the truth, and each cut-off body is counted as malformed.
func TestVideoListUnderFaultsEqualsTruth(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, tiktokbiztest.Options{QPS: 1000, Faults: fault.Config{ServerErrorRate: 0.15, ThrottleRate: 0.15,
		MalformedRate: 0.15, TimeoutRate: 0.1, TimeoutDelay: time.Millisecond}}, false, func(c *Config) { c.Registerer = reg })
	videos, err := e.client.Videos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkTruth(t, e, videos)
	if len(e.retries.Errors()) == 0 {
		t.Error("no fault was retried")
	}
	malformed := 0
	for _, err := range e.retries.Errors() {
		if errors.Is(err, tiktokapi.ErrMalformed) {
			malformed++
		}
	}
	if got := tiktokapitest.Requests(t, reg, Source, "video.list", tiktokapi.OutcomeMalformed); malformed == 0 || got != malformed {
		t.Errorf("malformed metric %d, %d malformed bodies retried", got, malformed)
	}
}

// With the simulator's own 10 QPS bucket, backing off (on the manual clock)
// gets every page through.
func TestRateLimitBackoff(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, tiktokbiztest.Options{}, true, func(c *Config) {
		c.InitialBackoff = 100 * time.Millisecond
		c.Registerer = reg
	})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		videos, err := e.client.Videos(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(videos) < 2*MaxCount {
			t.Fatalf("only %d videos", len(videos))
		}
	}
	throttled := 0
	for _, err := range e.retries.Errors() {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Code == CodeRateLimited {
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("never throttled; the test proves nothing")
	}
	if got := tiktokapitest.Requests(t, reg, Source, "video.list", tiktokapi.OutcomeThrottled); got != throttled {
		t.Errorf("throttle metric %d, want %d", got, throttled)
	}
}

func TestTokenRefresh(t *testing.T) {
	e := newEnv(t, tiktokbiztest.Options{QPS: 1000}, false, nil)
	ctx := context.Background()
	// The initial token's expiry is unknown to the client: it learns of it
	// from the 40105 and refreshes once.
	e.clock.Advance(25 * time.Hour)
	videos, err := e.client.Videos(ctx)
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	checkTruth(t, e, videos)
	tok1 := e.client.token
	// Now the expiry is known: the client refreshes ahead of it, without
	// a rejected call.
	e.retries.Reset()
	e.clock.Advance(23*time.Hour + 30*time.Minute)
	if _, err := e.client.Videos(ctx); err != nil {
		t.Fatal(err)
	}
	if e.client.token == tok1 || len(e.retries.Errors()) != 0 {
		t.Errorf("no proactive refresh (retries %v)", e.retries.Errors())
	}
	// Without refresh credentials a rejected token is a clear error that
	// leaks nothing.
	c := e.srv.Sim.Credentials()
	bare := newEnv(t, tiktokbiztest.Options{QPS: 1000}, false, func(cfg *Config) { cfg.RefreshToken, cfg.ClientSecret = "", "" })
	bare.clock.Advance(25 * time.Hour)
	_, err = bare.client.Videos(ctx)
	if err == nil {
		t.Fatal("expired token without refresh accepted")
	}
	for _, s := range []string{c.AccessToken, c.RefreshToken, c.ClientSecret} {
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", bare.client.cfg), s) {
			t.Errorf("credential leaked: %v", err)
		}
	}
}

func TestVideoDecodingIsLenient(t *testing.T) {
	var v Video
	if err := json.Unmarshal([]byte(`{"item_id":7300000000000000001,"video_views":"12","likes":3.0,"reach":null,"average_time_watched":"4.5"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.ItemID != "7300000000000000001" || *v.VideoViews != 12 || *v.Likes != 3 || v.Reach != nil || *v.AverageTimeWatched != 4.5 || v.Shares != nil {
		t.Fatalf("%+v", v)
	}
	for _, bad := range []string{`{"video_views":1}`, `{"item_id":"1","likes":1.5}`, `{"item_id":"1","reach":"many"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A video of an unexpected shape goes to OnMalformed; the rest of the list
// comes through. Without OnMalformed the call fails.
func TestMalformedVideoIsHandedOver(t *testing.T) {
	breakOne := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || !strings.HasSuffix(r.URL.Path, "/business/video/list/") {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r.URL.Query().Get("cursor") == "" {
			body = bytes.Replace(body, []byte(`"likes":`), []byte(`"likes":"lots","x":`), 1)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp, nil
	})}
	var bad []json.RawMessage
	e := newEnv(t, tiktokbiztest.Options{QPS: 1000}, false, func(c *Config) {
		c.HTTPClient = breakOne
		c.OnMalformed = func(raw json.RawMessage, _ error) { bad = append(bad, raw) }
	})
	videos, err := e.client.Videos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || !bytes.Contains(bad[0], []byte(`"likes":"lots"`)) || len(videos) == 0 {
		t.Fatalf("%d malformed, %d videos", len(bad), len(videos))
	}
	e2 := newEnv(t, tiktokbiztest.Options{QPS: 1000}, false, func(c *Config) { c.HTTPClient = breakOne })
	if _, err := e2.client.Videos(context.Background()); err == nil {
		t.Fatal("malformed video dropped silently")
	}
}

// TestEntityFaultIsHandedOver: the simulator's entity fault breaks one
// video of a page; the client hands exactly that video (by the id the
// simulator records) to OnMalformed and lists the others.
func TestEntityFaultIsHandedOver(t *testing.T) {
	var bad []json.RawMessage
	e := newEnv(t, tiktokbiztest.Options{QPS: 1000, Faults: fault.Config{EntityRate: 1}}, false, func(c *Config) {
		c.OnMalformed = func(raw json.RawMessage, _ error) { bad = append(bad, raw) }
	})
	videos, err := e.client.Videos(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	broken := e.srv.Sim.Faults().Broken()
	if len(broken) == 0 || len(bad) != len(broken) {
		t.Fatalf("%d videos broken by the simulator, %d handed over", len(broken), len(bad))
	}
	for i, raw := range bad {
		var v struct {
			ItemID string `json:"item_id"`
		}
		if err := json.Unmarshal(raw, &v); err != nil || v.ItemID != broken[i] {
			t.Errorf("handed over %s (%v), the simulator broke %s", raw, err, broken[i])
		}
	}
	for _, v := range videos {
		if slices.Contains(broken, v.ItemID) {
			t.Errorf("broken video %s listed as good", v.ItemID)
		}
	}
	if len(videos) == 0 {
		t.Error("no good video listed")
	}
}
