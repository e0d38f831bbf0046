package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/schemas"
)

// TestOrderEventsFetchTheOrder: order events that the handler stored are
// followed up through a FetchQueue with order detail calls against the
// simulator, and every order is fetched in a state at least as new as the
// event's.
func TestOrderEventsFetchTheOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(4 * 24 * time.Hour))
	world := simworld.MustNew(simworld.Config{Seed: 9, Clock: clock})
	api := tiktokshoptest.NewServer(world, tiktokshoptest.Options{})
	defer api.Close()
	creds := api.Sim.Credentials()
	client, err := tiktokshop.New(tiktokshop.Config{APIBaseURL: api.APIBaseURL(), AuthBaseURL: api.AuthBaseURL(),
		AppKey: creds.AppKey, AppSecret: tiktokshop.Secret(creds.AppSecret), AuthCode: tiktokshop.Secret(creds.AuthCode),
		HTTPClient: api.Client(), Now: clock.Now, QPS: -1,
		Sleep: func(ctx context.Context, d time.Duration) error { clock.Advance(d); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	fetched := map[string]tiktokshop.Order{}
	changed := make(chan struct{}, 1)
	q := NewFetchQueue(1000, func(ctx context.Context, ids []string) error {
		orders, err := client.OrderDetail(ctx, ids...)
		if err != nil {
			return err
		}
		mu.Lock()
		for _, o := range orders {
			fetched[o.ID] = o
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
		return nil
	}, nil)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx) }()
	defer func() { stop(); <-done }()

	codec, err := schemas.NewCodec(Topic)
	if err != nil {
		t.Fatal(err)
	}
	mw := &memWriter{codec: codec}
	h, err := NewHandler(Config{AppKey: creds.AppKey, AppSecret: tiktokshop.Secret(creds.AppSecret), Writer: mw, Follower: q, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Pattern, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ws := tiktokshoptest.NewWebhookSender(world, creds, tiktokshoptest.WebhookConfig{URL: srv.URL + Path, Client: srv.Client()})
	for i := 0; i < 4; i++ {
		clock.Advance(5 * time.Minute)
		ws.Poll(ctx)
	}

	// The events' newest update time per order.
	want := map[string]int64{}
	mw.mu.Lock()
	for _, rec := range mw.recs {
		if rec["order_id"] == nil {
			continue
		}
		id := rec["order_id"].(map[string]any)["string"].(string)
		if u, ok := rec["update_time"].(map[string]any); ok {
			want[id] = max(want[id], u["long.timestamp-millis"].(time.Time).Unix())
		} else if _, seen := want[id]; !seen {
			want[id] = 0
		}
	}
	mw.mu.Unlock()
	if len(want) < 10 {
		t.Fatalf("only %d orders in events", len(want))
	}
	// Wait (bounded by ctx, never by a sleep) until the queue fetched all.
	for {
		mu.Lock()
		n := 0
		for id := range want {
			if _, ok := fetched[id]; ok {
				n++
			}
		}
		mu.Unlock()
		if n == len(want) {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("fetched %d of %d orders", n, len(want))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, ut := range want {
		if o := fetched[id]; o.UpdateTime < ut {
			t.Errorf("order %s fetched at update_time %d, older than its event's %d", id, o.UpdateTime, ut)
		}
	}
}
