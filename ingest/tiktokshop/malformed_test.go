package tiktokshop

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/schemas"
)

// An order of an unexpected shape inside a good page goes to OnMalformed
// with its raw bytes, and the rest of the page comes through; without
// OnMalformed the call fails instead of dropping it.
func TestMalformedEntityIsHandedOver(t *testing.T) {
	broken := map[string]bool{}
	base := http.DefaultTransport
	breakFirst := roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := base.RoundTrip(r)
		if err != nil || r.URL.Path != "/order/202309/orders/search" {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env map[string]any
		if json.Unmarshal(body, &env) == nil {
			if d, ok := env["data"].(map[string]any); ok {
				if os, ok := d["orders"].([]any); ok && len(os) > 0 {
					o := os[0].(map[string]any)
					o["create_time"] = "yesterday" // a string where a number belongs
					broken[o["id"].(string)] = true
				}
			}
			body, _ = json.Marshal(env)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp, nil
	})
	var got []Malformed
	e := newEnv(t, tiktokshoptest.Options{}, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: breakFirst}
		c.OnMalformed = func(m Malformed) { got = append(got, m) }
	})
	now := e.clock.Now()
	orders, err := e.client.OrdersUpdated(context.Background(), now.Add(-time.Hour), now.Add(-2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(broken) || len(got) == 0 || len(orders) == 0 {
		t.Fatalf("%d malformed handed over, %d broken, %d orders", len(got), len(broken), len(orders))
	}
	for _, m := range got {
		if m.Op != "orders.search" || !strings.Contains(string(m.Raw), `"create_time":"yesterday"`) || m.Err == nil {
			t.Fatalf("malformed %s: %s (%v)", m.Op, m.Raw, m.Err)
		}
	}
	for _, o := range orders {
		if broken[o.ID] {
			t.Fatal("a malformed order came through")
		}
	}
	e2 := newEnv(t, tiktokshoptest.Options{}, func(c *Config) { c.HTTPClient = &http.Client{Transport: breakFirst} })
	if _, err := e2.client.OrdersUpdated(context.Background(), now.Add(-time.Hour), now.Add(-2*time.Minute)); err == nil {
		t.Fatal("malformed order dropped silently")
	}
}

// TestMalformedTopic: a malformed entity names the topic its operation
// feeds, for its dead letter.
func TestMalformedTopic(t *testing.T) {
	for op, want := range map[string]string{
		"orders.search": schemas.TopicTikTokOrders, "orders.detail": schemas.TopicTikTokOrders,
		"products.search": schemas.TopicTikTokProducts, "analytics.shop_videos": schemas.TopicTikTokVideoPerformance,
	} {
		if got := (Malformed{Op: op}).Topic(); got != want {
			t.Errorf("Malformed{Op: %q}.Topic() = %s, want %s", op, got, want)
		}
	}
}
