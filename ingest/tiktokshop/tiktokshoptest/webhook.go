package tiktokshoptest

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
)

// Webhook event types (see the reference's type table).
const (
	EventOrderStatusChange       = 1
	EventSellerDeauthorization   = 6
	EventAuthorizationExpiration = 7
	EventCancellationStatus      = 11
)

// DefaultRetrySchedule is the documented redelivery schedule: four retries,
// 2 min, 30 min, 3 h and 12 h after the previous failed attempt, then stop
// (third-party: hookdeck; unverified).
var DefaultRetrySchedule = []time.Duration{2 * time.Minute, 30 * time.Minute, 3 * time.Hour, 12 * time.Hour}

// DeliveryTimeout is how long TikTok waits for a 200 (three seconds).
const DeliveryTimeout = 3 * time.Second

// Event is one webhook notification.
type Event struct {
	Type              int             `json:"type"`
	TTSNotificationID string          `json:"tts_notification_id"`
	ShopID            string          `json:"shop_id"`
	Timestamp         int64           `json:"timestamp"`
	Data              json.RawMessage `json:"data"`
}

// WebhookConfig configures a WebhookSender.
type WebhookConfig struct {
	// URL receives the POSTs.
	URL string
	// Client sends them. Default: an http.Client with DeliveryTimeout.
	Client *http.Client
	// Schedule is the retry schedule. Default DefaultRetrySchedule.
	Schedule []time.Duration
	// Since is where the sender starts scanning the world for events.
	// Default: the clock's reading when the sender is created.
	Since time.Time
	// DuplicateRate is the share of events delivered twice (TikTok delivers
	// at least once; receivers dedupe on tts_notification_id).
	DuplicateRate float64
}

// Attempt is one delivery attempt, timed on the world's clock.
type Attempt struct {
	NotificationID string    `json:"tts_notification_id"`
	Type           int       `json:"type"`
	N              int       `json:"n"` // 0 for the first delivery, 1..4 for retries
	At             time.Time `json:"at"`
	Status         int       `json:"status"` // HTTP status, 0 on a transport error
	Err            string    `json:"err,omitempty"`
	Delivered      bool      `json:"delivered"`
	GaveUp         bool      `json:"gave_up"`
}

type delivery struct {
	seq  int
	body []byte
	ev   Event
	n    int
	due  time.Time
}

// WebhookSender turns world changes into signed webhook deliveries. It does
// not run timers of its own: Poll delivers whatever is due at the clock's
// current reading, so tests advance the clock and call Poll, and Run calls
// Poll on a wall-clock ticker for a live simulator.
type WebhookSender struct {
	world *simworld.World
	creds Credentials
	cfg   WebhookConfig

	mu       sync.Mutex
	scanned  time.Time
	active   changeHeap // orders with status changes still ahead, by next change
	started  bool
	queue    []*delivery
	seq      int
	attempts []Attempt
}

// NewWebhookSender returns a sender for the shop and app in creds.
func NewWebhookSender(w *simworld.World, creds Credentials, cfg WebhookConfig) *WebhookSender {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DeliveryTimeout}
	}
	if cfg.Schedule == nil {
		cfg.Schedule = DefaultRetrySchedule
	}
	if cfg.Since.IsZero() {
		cfg.Since = w.Now()
	}
	return &WebhookSender{world: w, creds: creds, cfg: cfg, scanned: cfg.Since}
}

// webhookStatus maps Order API statuses to the webhook's names: the webhook
// says CANCEL where the Order API says CANCELLED.
func webhookStatus(s string) string {
	if s == simworld.TikTokCancelled {
		return "CANCEL"
	}
	return s
}

func (ws *WebhookSender) notificationID(parts ...any) string {
	h := fnv.New64a()
	fmt.Fprint(h, ws.world.Seed(), parts)
	return fmt.Sprintf("73%017d", h.Sum64()%1e17)
}

// Enqueue queues an event for delivery at the clock's current reading.
func (ws *WebhookSender) Enqueue(ev Event) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.enqueueLocked(ev, ws.world.Now())
}

func (ws *WebhookSender) enqueueLocked(ev Event, due time.Time) {
	if ev.ShopID == "" {
		ev.ShopID = ws.creds.ShopID
	}
	if ev.TTSNotificationID == "" {
		ws.seq++
		ev.TTSNotificationID = ws.notificationID("manual", ws.seq)
	}
	body, _ := json.Marshal(ev)
	ws.seq++
	ws.queue = append(ws.queue, &delivery{seq: ws.seq, body: body, ev: ev, due: due})
}

// NewEvent builds an event of type typ with data marshalled to JSON.
func NewEvent(typ int, at time.Time, data any) Event {
	b, _ := json.Marshal(data)
	return Event{Type: typ, Timestamp: at.Unix(), Data: b}
}

// Deauthorize queues a SELLER_DEAUTHORIZATION event.
func (ws *WebhookSender) Deauthorize() {
	now := ws.world.Now()
	ws.Enqueue(NewEvent(EventSellerDeauthorization, now, map[string]any{"shop_id": ws.creds.ShopID, "update_time": now.Unix()}))
}

// scan queues the events for world changes in (scanned, now].
func (ws *WebhookSender) scan(now time.Time) {
	from := ws.scanned
	if !now.After(from) {
		return
	}
	type pending struct {
		at time.Time
		ev Event
	}
	var evs []pending
	// Track the orders that can still change in a heap keyed by their next
	// change, instead of rescanning every order of the last lifecycle.
	var fresh []*simworld.TikTokOrder
	if !ws.started {
		ws.started = true
		fresh = ws.world.TikTokOrdersCreated(from.Add(-simworld.MaxTikTokLifecycle), now.Add(time.Nanosecond))
	} else {
		fresh = ws.world.TikTokOrdersCreated(from.Add(time.Nanosecond), now.Add(time.Nanosecond))
	}
	for _, o := range fresh {
		for i, h := range o.History {
			if h.At.After(from) {
				heap.Push(&ws.active, pendingChange{o, i})
				break
			}
		}
	}
	for ws.active.Len() > 0 && !ws.active[0].at().After(now) {
		pc := heap.Pop(&ws.active).(pendingChange)
		o, h := pc.order, pc.order.History[pc.idx]
		if pc.idx+1 < len(o.History) {
			heap.Push(&ws.active, pendingChange{o, pc.idx + 1})
		}
		ev := NewEvent(EventOrderStatusChange, h.At, map[string]any{"order_id": o.ID, "order_status": webhookStatus(h.Status),
			"is_on_hold_order": o.OnHold, "update_time": h.At.Unix()})
		ev.TTSNotificationID = ws.notificationID(o.ID, h.Status, EventOrderStatusChange)
		evs = append(evs, pending{h.At, ev})
		if h.Status == simworld.TikTokCancelled {
			role := "BUYER"
			if o.CancellationInitiator == "SYSTEM" {
				role = "SYSTEM"
			}
			c := NewEvent(EventCancellationStatus, h.At, map[string]any{"order_id": o.ID, "cancellations_role": role,
				"cancel_status": "COMPLETED", "cancel_id": "5800" + o.ID[4:], "create_time": h.At.Unix()})
			c.TTSNotificationID = ws.notificationID(o.ID, "cancel", EventCancellationStatus)
			evs = append(evs, pending{h.At, c})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	for _, e := range evs {
		ws.enqueueLocked(e.ev, e.at)
		h := fnv.New64a()
		fmt.Fprint(h, ws.world.Seed(), e.ev.TTSNotificationID)
		if float64(h.Sum64()>>11)/(1<<53) < ws.cfg.DuplicateRate {
			ws.enqueueLocked(e.ev, e.at)
		}
	}
	ws.scanned = now
}

// Poll scans the world for changes up to the clock's reading and makes every
// delivery attempt that is due, in order. It returns the number of attempts.
func (ws *WebhookSender) Poll(ctx context.Context) int {
	now := ws.world.Now()
	ws.mu.Lock()
	ws.scan(now)
	var due []*delivery
	rest := ws.queue[:0]
	for _, d := range ws.queue {
		if !d.due.After(now) {
			due = append(due, d)
		} else {
			rest = append(rest, d)
		}
	}
	ws.queue = rest
	ws.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool {
		if !due[i].due.Equal(due[j].due) {
			return due[i].due.Before(due[j].due)
		}
		return due[i].seq < due[j].seq
	})
	for _, d := range due {
		a := ws.deliver(ctx, d, now)
		ws.mu.Lock()
		if !a.Delivered {
			if d.n < len(ws.cfg.Schedule) {
				d.due = now.Add(ws.cfg.Schedule[d.n])
				d.n++
				ws.queue = append(ws.queue, d)
			} else {
				a.GaveUp = true
			}
		}
		ws.attempts = append(ws.attempts, a)
		ws.mu.Unlock()
	}
	return len(due)
}

func (ws *WebhookSender) deliver(ctx context.Context, d *delivery, now time.Time) Attempt {
	a := Attempt{NotificationID: d.ev.TTSNotificationID, Type: d.ev.Type, N: d.n, At: now}
	ctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ws.cfg.URL, bytes.NewReader(d.body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", WebhookSignature(ws.creds.AppKey, ws.creds.AppSecret, d.body))
	resp, err := ws.cfg.Client.Do(req)
	if err != nil {
		a.Err = err.Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	a.Status = resp.StatusCode
	a.Delivered = resp.StatusCode == http.StatusOK
	return a
}

type pendingChange struct {
	order *simworld.TikTokOrder
	idx   int
}

func (p pendingChange) at() time.Time { return p.order.History[p.idx].At }

// changeHeap is a min-heap of pending order status changes.
type changeHeap []pendingChange

func (h changeHeap) Len() int { return len(h) }
func (h changeHeap) Less(i, j int) bool {
	if !h[i].at().Equal(h[j].at()) {
		return h[i].at().Before(h[j].at())
	}
	return h[i].order.ID < h[j].order.ID
}
func (h changeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// Push implements heap.Interface.
func (h *changeHeap) Push(x any) { *h = append(*h, x.(pendingChange)) }

// Pop implements heap.Interface.
func (h *changeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Attempts returns every delivery attempt so far.
func (ws *WebhookSender) Attempts() []Attempt {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]Attempt(nil), ws.attempts...)
}

// Pending returns the number of deliveries waiting for their next attempt.
func (ws *WebhookSender) Pending() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.queue)
}

// Run calls Poll every interval of wall-clock time until ctx is done; it is
// for live simulators, not tests.
func (ws *WebhookSender) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			ws.Poll(ctx)
		}
	}
}
