package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"testing"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestSimCommand: `shopstream sim` prints one JSON line describing every API,
// and the printed credentials work against the printed URLs.
func TestSimCommand(t *testing.T) {
	cmd := exec.Command(testenv.Binary(t), "sim", "--seed", "3", "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		t.Fatalf("read description line: %v", err)
	}
	var d sim.Description
	if err := json.Unmarshal(line, &d); err != nil {
		t.Fatalf("description is not one JSON line: %v: %s", err, line)
	}
	if d.Seed != 3 || d.Amazon.Endpoint == "" || d.TikTokShop.APIBaseURL == "" || d.TikTokBusiness.BaseURL == "" {
		t.Fatalf("incomplete description: %s", line)
	}
	// The Amazon LWA endpoint accepts the printed refresh token.
	resp, err := http.PostForm(d.Amazon.TokenURL, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {d.Amazon.Credentials.RefreshToken},
		"client_id":     {d.Amazon.Credentials.ClientID},
		"client_secret": {d.Amazon.Credentials.ClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" || tok.ExpiresIn != 3600 {
		t.Fatalf("LWA token with the printed credentials: status %d, %+v, %v", resp.StatusCode, tok, err)
	}
}

// TestOverrideScale: sizes given on the command line replace the demo
// world's; sizes not given keep them.
func TestOverrideScale(t *testing.T) {
	demo := simworld.Scale{AmazonOrdersPerMinute: 0.5, TikTokOrdersPerMinute: 0.25, VideosPerDay: 3}
	got := overrideScale(demo, simworld.Scale{Products: 8, TikTokOrdersPerMinute: 1})
	want := simworld.Scale{Products: 8, AmazonOrdersPerMinute: 0.5, TikTokOrdersPerMinute: 1, VideosPerDay: 3}
	if got != want {
		t.Fatalf("overrideScale = %+v, want %+v", got, want)
	}
	if got := overrideScale(demo, simworld.Scale{}); got != demo {
		t.Fatalf("no flags changed the demo's sizes: %+v", got)
	}
}
