package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
)

// TestUICommand: `shopstream ui` serves the page against a configured
// warehouse, read-only, on --listen, and stops cleanly when cancelled; a
// warehouse that does not answer is an error that names it.
func TestUICommand(t *testing.T) {
	wh := testenv.StartWarehouse(t)
	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", wh.Addr)
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")
	if out, err := execute(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	listen := testenv.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		root := newRootCmd()
		root.SetArgs([]string{"ui", "--listen", listen})
		done <- root.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(time.Minute)
	var code int
	var body string
	for {
		if code, body = httpGet(t, "http://"+listen+"/api/meta"); code == 200 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("ui stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page does not answer: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var meta struct {
		ReadOnly string          `json:"read_only"`
		Tables   map[string]bool `json:"tables"`
	}
	if err := json.Unmarshal([]byte(body), &meta); err != nil || meta.ReadOnly != "readonly=2 on every query" || !meta.Tables["product_daily"] || meta.Tables["halo_ranking"] {
		t.Errorf("meta %s (%v)", body, err)
	}
	if code, page := httpGet(t, "http://"+listen+"/"); code != 200 || !strings.Contains(page, `<script src="assets/app.js"`) {
		t.Errorf("GET /: %d %.200s", code, page)
	}
	cancel()
	waitExit(t, done, "ui", "when cancelled")

	t.Setenv("SHOPSTREAM_WAREHOUSE_ADDR", testenv.FreeAddr(t))
	if _, err := execute(t, "ui", "--listen", testenv.FreeAddr(t)); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("ui against a warehouse that is not there: %v", err)
	}
}
