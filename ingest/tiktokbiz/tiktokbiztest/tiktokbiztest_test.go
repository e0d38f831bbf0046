package tiktokbiztest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
)

type harness struct {
	t     *testing.T
	world *simworld.World
	clock *simworld.ManualClock
	srv   *Server
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(40 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 21, Clock: clock})
	srv := NewServer(w, opts)
	t.Cleanup(srv.Close)
	return &harness{t: t, world: w, clock: clock, srv: srv, token: srv.Sim.Credentials().AccessToken}
}

type listResp struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    struct {
		Videos  []map[string]any `json:"videos"`
		Cursor  int64            `json:"cursor"`
		HasMore bool             `json:"has_more"`
	} `json:"data"`
}

func (h *harness) list(q url.Values) listResp {
	h.t.Helper()
	if q.Get("business_id") == "" {
		q.Set("business_id", h.srv.Sim.Credentials().BusinessID)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.BaseURL()+"/business/video/list/?"+q.Encode(), nil)
	req.Header.Set("Access-Token", h.token)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	var lr listResp
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&lr); err != nil {
		h.t.Fatalf("decode: %v %s", err, b)
	}
	return lr
}

var allFields = `["item_id","create_time","video_views","likes","comments","shares","favorites","reach","total_time_watched","average_time_watched","full_video_watched_rate"]`

func num(v any) int64 {
	n, _ := v.(json.Number).Int64()
	return n
}

func TestVideoListPagingAndEngagement(t *testing.T) {
	h := newHarness(t, Options{QPS: 1000})
	seen := map[string]bool{}
	var order []int64
	cursor := ""
	active, inactive := 0, 0
	now := h.clock.Now()
	for page := 0; ; page++ {
		q := url.Values{"fields": {allFields}, "max_count": {"20"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		lr := h.list(q)
		if lr.Code != 0 {
			t.Fatalf("page %d: %+v", page, lr)
		}
		for _, v := range lr.Data.Videos {
			id := v["item_id"].(string)
			if seen[id] {
				t.Fatalf("video %s served twice", id)
			}
			seen[id] = true
			order = append(order, num(v["create_time"]))
			vid, _ := h.world.Video(id)
			e := vid.EngagementAt(h.clock.Now())
			if num(v["video_views"]) != e.VideoViews || num(v["favorites"]) != e.Favorites || num(v["shares"]) != e.Shares {
				t.Fatalf("video %s: served %v, truth %+v", id, v, e)
			}
			_, hasReach := v["reach"]
			_, hasWatch := v["total_time_watched"]
			if e.InsightsAvailable != hasReach || e.InsightsAvailable != hasWatch {
				t.Fatalf("video %s: insights available %v but reach %v watch %v", id, e.InsightsAvailable, hasReach, hasWatch)
			}
			if e.InsightsAvailable {
				active++
			} else {
				inactive++
			}
		}
		if !lr.Data.HasMore {
			break
		}
		cursor = strconv.FormatInt(lr.Data.Cursor, 10)
		// A video posted while paging must not shift the pages.
		h.clock.Advance(time.Hour)
	}
	want := 0
	for _, v := range h.world.TruthAt(now).Videos() {
		if v.Account == simworld.AccountOfficial {
			want++
		}
	}
	if len(seen) != want {
		t.Fatalf("served %d videos, the account has %d", len(seen), want)
	}
	for i := 1; i < len(order); i++ {
		if order[i] > order[i-1] {
			t.Fatal("videos not newest first")
		}
	}
	if active == 0 || inactive == 0 {
		t.Errorf("want both active and inactive videos, got %d and %d", active, inactive)
	}
}

func TestEngagementGrowsAndIsLifetime(t *testing.T) {
	h := newHarness(t, Options{})
	q := url.Values{"fields": {`["item_id","video_views","likes"]`}, "max_count": {"5"}}
	first := h.list(q).Data.Videos
	h.clock.Advance(6 * time.Hour)
	second := h.list(q).Data.Videos
	grew := false
	byID := map[string]map[string]any{}
	for _, v := range second {
		byID[v["item_id"].(string)] = v
	}
	for _, v := range first {
		later, ok := byID[v["item_id"].(string)]
		if !ok {
			continue
		}
		if num(later["video_views"]) < num(v["video_views"]) || num(later["likes"]) < num(v["likes"]) {
			t.Fatalf("lifetime counter decreased: %v → %v", v, later)
		}
		grew = grew || num(later["video_views"]) > num(v["video_views"])
	}
	if !grew {
		t.Error("no recent video gained views in six hours")
	}
}

func TestAuthAndValidation(t *testing.T) {
	h := newHarness(t, Options{})
	if lr := h.list(url.Values{"fields": {`["video_views","likes"]`}}); lr.Code != CodeInvalidParam {
		t.Errorf("multiple fields without item_id: %+v", lr)
	}
	if lr := h.list(url.Values{"max_count": {"21"}}); lr.Code != CodeInvalidParam {
		t.Errorf("max_count 21: %+v", lr)
	}
	if lr := h.list(url.Values{"fields": {`["item_id","nope"]`}}); lr.Code != CodeInvalidParam {
		t.Errorf("unknown field: %+v", lr)
	}
	if lr := h.list(url.Values{"business_id": {"other"}}); lr.Code != CodeInvalidParam {
		t.Errorf("wrong business_id: %+v", lr)
	}
	good := h.token
	h.token = "act.wrong"
	if lr := h.list(url.Values{}); lr.Code != CodeBadToken {
		t.Errorf("bad token: %+v", lr)
	}
	h.token = good
	h.clock.Advance(24 * time.Hour)
	if lr := h.list(url.Values{}); lr.Code != CodeBadToken {
		t.Errorf("expired token: %+v", lr)
	}
	c := h.srv.Sim.Credentials()
	body, _ := json.Marshal(map[string]string{"client_id": c.ClientID, "client_secret": c.ClientSecret,
		"grant_type": "refresh_token", "refresh_token": c.RefreshToken})
	resp, err := h.srv.Client().Post(h.srv.BaseURL()+"/tt_user/oauth2/refresh_token/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var rr struct {
		Code int `json:"code"`
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&rr)
	resp.Body.Close()
	h.token = rr.Data.AccessToken
	if lr := h.list(url.Values{}); lr.Code != 0 {
		t.Errorf("refreshed token: %+v", lr)
	}
	resp, err = h.srv.Client().Get(h.srv.BaseURL() + "/business/nope/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`"code":40006`)) {
		t.Errorf("unknown path: %s", b)
	}
}

func TestThrottleAndFaults(t *testing.T) {
	h := newHarness(t, Options{})
	for i := 0; i < 10; i++ {
		if lr := h.list(url.Values{}); lr.Code != 0 {
			t.Fatalf("request %d: %+v", i, lr)
		}
	}
	if lr := h.list(url.Values{}); lr.Code != CodeRateLimited {
		t.Errorf("11th request in the same instant: %+v", lr)
	}
	h.clock.Advance(time.Second)
	if lr := h.list(url.Values{}); lr.Code != 0 {
		t.Errorf("after a second: %+v", lr)
	}
	h = newHarness(t, Options{Faults: fault.Config{ServerErrorRate: 1}})
	req, _ := http.NewRequest(http.MethodGet, h.srv.BaseURL()+"/business/video/list/", nil)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 500 {
		t.Errorf("5xx fault: %d", resp.StatusCode)
	}
}
