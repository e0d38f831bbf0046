package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
)

func get(t *testing.T, u string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return do(t, req)
}

func post(t *testing.T, u, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

// do sends req and returns the answer's status and body.
func do(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestStartServesEveryAPIOnOneListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(20 * 24 * time.Hour))

	events := make(chan struct{}, 1000)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events <- struct{}{}
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()

	s, err := Start(ctx, Options{Seed: 7, Clock: clock, WebhookURL: hook.URL, WebhookInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d := s.Description()
	line, err := json.Marshal(d)
	if err != nil || strings.Contains(string(line), "\n") {
		t.Fatalf("description is not one JSON line: %v", err)
	}
	var back Description
	if err := json.Unmarshal(line, &back); err != nil || back.Amazon.Credentials.RefreshToken == "" || back.TikTokShop.Credentials.AppSecret == "" {
		t.Fatalf("description round trip: %v %+v", err, back)
	}
	if st, b := get(t, d.BaseURL+DescriptionPath, nil); st != 200 || !strings.Contains(string(b), d.Amazon.Credentials.ClientID) {
		t.Errorf("description endpoint: %d %s", st, b)
	}

	// Amazon: LWA, then getOrders.
	c := d.Amazon.Credentials
	resp, err := http.PostForm(d.Amazon.TokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken},
		"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	q := url.Values{"MarketplaceIds": {d.MarketplaceID}, "CreatedAfter": {clock.Now().Add(-time.Hour).Format(time.RFC3339)}}
	if st, b := get(t, d.Amazon.Endpoint+"/orders/v0/orders?"+q.Encode(), map[string]string{"x-amz-access-token": tok.AccessToken}); st != 200 || !strings.Contains(string(b), "AmazonOrderId") {
		t.Errorf("getOrders through sim: %d %s", st, b)
	}

	// TikTok Shop: token, then a signed shops call.
	sc := d.TikTokShop.Credentials
	_, b := get(t, d.TikTokShop.AuthBaseURL+"/api/v2/token/get?"+url.Values{"app_key": {sc.AppKey}, "app_secret": {sc.AppSecret},
		"auth_code": {sc.AuthCode}, "grant_type": {"authorized_code"}}.Encode(), nil)
	var env struct {
		Code int `json:"code"`
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	_ = json.Unmarshal(b, &env)
	sq := url.Values{"app_key": {sc.AppKey}, "timestamp": {strconv.FormatInt(clock.Now().Unix(), 10)}}
	sq.Set("sign", tiktokshoptest.Sign(sc.AppSecret, "/authorization/202309/shops", sq, nil, ""))
	if st, b := get(t, d.TikTokShop.APIBaseURL+"/authorization/202309/shops?"+sq.Encode(), map[string]string{"x-tts-access-token": env.Data.AccessToken}); st != 200 || !strings.Contains(string(b), sc.ShopCipher) {
		t.Errorf("shops through sim: %d %s", st, b)
	}

	// TikTok Business.
	bc := d.TikTokBusiness.Credentials
	bq := url.Values{"business_id": {bc.BusinessID}, "fields": {`["item_id","video_views"]`}}
	if st, b := get(t, d.TikTokBusiness.BaseURL+"/business/video/list/?"+bq.Encode(), map[string]string{"Access-Token": bc.AccessToken}); st != 200 || !strings.Contains(string(b), `"code":0`) {
		t.Errorf("video list through sim: %d %s", st, b)
	}

	if st, _ := get(t, d.BaseURL+"/nowhere", nil); st != 404 {
		t.Errorf("unknown path: %d", st)
	}

	// Webhooks flow once the world moves.
	clock.Advance(10 * time.Minute)
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivered")
	}
	// The attempts, delivered ones marked, are served as ground truth (the
	// delivery is recorded once the receiver has answered).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var attempts []tiktokshoptest.Attempt
		_, b := get(t, d.BaseURL+WebhooksPath, nil)
		if err := json.Unmarshal(b, &attempts); err != nil {
			t.Fatalf("webhooks endpoint: %v: %s", err, b)
		}
		if len(attempts) > 0 && attempts[0].Delivered && attempts[0].NotificationID != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks endpoint lists no delivered attempt: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestSameSeedSameDescription(t *testing.T) {
	ctx := context.Background()
	clock := simworld.NewManualClock(simworld.DefaultStart)
	a, err := Start(ctx, Options{Seed: 3, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Start(ctx, Options{Seed: 3, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	da, db := a.Description(), b.Description()
	da.Listen, db.Listen, da.BaseURL, db.BaseURL = "", "", "", ""
	da.Amazon.Endpoint, da.Amazon.TokenURL, db.Amazon.Endpoint, db.Amazon.TokenURL = "", "", "", ""
	da.TikTokShop.APIBaseURL, da.TikTokShop.AuthBaseURL, db.TikTokShop.APIBaseURL, db.TikTokShop.AuthBaseURL = "", "", "", ""
	da.TikTokBusiness.BaseURL, db.TikTokBusiness.BaseURL = "", ""
	ja, _ := json.Marshal(da)
	jb, _ := json.Marshal(db)
	if string(ja) != string(jb) {
		t.Errorf("same seed, different descriptions:\n%s\n%s", ja, jb)
	}
}

func TestStopsWhenContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Options{Seed: 1, Clock: simworld.NewManualClock(simworld.DefaultStart)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}
	if _, err := http.Get(s.Description().BaseURL + DescriptionPath); err == nil {
		t.Error("still serving after the context ended")
	}
}

// TestFaultsControl: POST /_sim/faults switches faults on for every API of
// a running simulator and off again; GET reports the configuration and what
// each API injected; a bad configuration is refused and changes nothing.
func TestFaultsControl(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Start(ctx, Options{Seed: 3, Clock: simworld.NewManualClock(simworld.DefaultStart.Add(48 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := s.Description().BaseURL
	orders := base + "/orders/v0/orders?MarketplaceIds=" + s.Description().MarketplaceID
	if st, _ := get(t, orders, nil); st != http.StatusForbidden {
		t.Fatalf("no faults, no token: %d, want Amazon's 403", st)
	}
	if st, b := post(t, base+FaultsPath, `{"server_error_rate": 1}`); st != http.StatusOK {
		t.Fatalf("POST faults: %d %s", st, b)
	}
	if st, _ := get(t, orders, nil); st != http.StatusInternalServerError && st != http.StatusServiceUnavailable {
		t.Fatalf("server_error_rate 1: %d, want 500 or 503", st)
	}
	for _, bad := range []string{`{"server_error_rate": 2}`, `{"throttle_rate": 0.7, "slow_rate": 0.7}`, `{"nonsense": 1}`, `{`} {
		if st, _ := post(t, base+FaultsPath, bad); st != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", bad, st)
		}
	}
	if st, b := post(t, base+FaultsPath, `{}`); st != http.StatusOK {
		t.Fatalf("POST no faults: %d %s", st, b)
	}
	if st, _ := get(t, orders, nil); st != http.StatusForbidden {
		t.Fatalf("faults off again: %d, want 403", st)
	}
	st, b := get(t, base+FaultsPath, nil)
	var state FaultState
	if err := json.Unmarshal(b, &state); st != http.StatusOK || err != nil {
		t.Fatalf("GET faults: %d %s %v", st, b, err)
	}
	if state.Config.Enabled() || state.Counts["amazon"]["server_error"] != 1 || len(state.Counts) != 3 {
		t.Errorf("state %+v: want faults off, one Amazon server error, counts of three APIs", state)
	}
}
