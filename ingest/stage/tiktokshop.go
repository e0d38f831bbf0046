package stage

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/schemas"
)

// TikTok Shop entities and their topics.
var (
	ttsOrder   = entity{name: "order", topic: schemas.TopicTikTokOrders}
	ttsProduct = entity{name: "product", topic: schemas.TopicTikTokProducts}
	ttsVideo   = entity{name: "video_performance", topic: schemas.TopicTikTokVideoPerformance}
)

// ShopClient is what the TikTok Shop stage needs of *tiktokshop.Client.
type ShopClient interface {
	Shop(ctx context.Context) (tiktokshop.Shop, error)
	OrdersUpdated(ctx context.Context, from, to time.Time) ([]tiktokshop.Order, error)
	OrderDetail(ctx context.Context, ids ...string) ([]tiktokshop.Order, error)
	SearchProducts(ctx context.Context, s tiktokshop.ProductSearch) ([]tiktokshop.Product, error)
	ProductDetail(ctx context.Context, id string) (tiktokshop.Product, error)
	VideoPerformanceDay(ctx context.Context, day string, productSales bool) (tiktokshop.VideoDay, error)
}

// ShopConfig configures the TikTok Shop stage.
type ShopConfig struct {
	Kafka    Kafka
	Client   ShopClient
	Instance string
	// Since is where history starts when no cursor is stored.
	Since time.Time
	// Until, if set, stops the windows there (a backfill).
	Until time.Time
	// Overlap is how far each update_time window reaches back (the search
	// index places some orders late). Default DefaultShopOverlap.
	Overlap time.Duration
	// Lag keeps windows this far behind now. Default 2 min.
	Lag time.Duration
	// MaxWindow bounds one window, so a backfill proceeds in slices.
	// Default 6 h.
	MaxWindow time.Duration
	// Zone is the shop's registered time zone (analytics days). Default
	// DefaultShopZone.
	Zone *time.Location
	// Currency resolves currency=LOCAL in analytics rows. Default USD.
	Currency string
	// DeadLetters holds what the client's OnMalformed hook skipped.
	DeadLetters *DeadLetters
	// Follow, if set, holds order ids named by webhooks; Step fetches and
	// emits them first.
	Follow *OrderQueue
	// Disable turns off kinds of work: "orders", "products",
	// "video_performance".
	Disable []string
	Clock   clock.Clock
	Logger  zerolog.Logger
}

// Defaults of ShopConfig that the shopstream config exposes as keys.
const (
	DefaultShopOverlap = 10 * time.Minute
	// DefaultShopZone is where US shops are registered.
	DefaultShopZone = "America/Los_Angeles"
)

// OrderQueue collects order ids (from webhooks) for the TikTok Shop stage to
// fetch through its own transactional path, so that one writer and one
// change-capture state own every order key. It is safe for concurrent use.
type OrderQueue struct {
	mu  sync.Mutex
	ids map[string]bool
	// Max bounds the queue; beyond it ids are dropped (the update_time poll
	// reconciles every order anyway). Zero means 10000.
	Max     int
	dropped int
	wake    chan struct{}
}

// Wake returns a channel that receives after ids were added (one value
// for any number of Adds until it is received).
func (q *OrderQueue) Wake() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// Add queues ids; it never blocks.
func (q *OrderQueue) Add(ids ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ids == nil {
		q.ids = map[string]bool{}
	}
	limit := q.Max
	if limit <= 0 {
		limit = 10000
	}
	for _, id := range ids {
		if len(q.ids) >= limit {
			q.dropped++
			continue
		}
		q.ids[id] = true
	}
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Dropped returns how many ids a full queue dropped.
func (q *OrderQueue) Dropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}

// Len returns how many ids wait.
func (q *OrderQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ids)
}

// take removes up to n ids, sorted.
func (q *OrderQueue) take(n int) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, min(n, len(q.ids)))
	for id := range q.ids {
		out = append(out, id)
	}
	sort.Strings(out)
	out = out[:min(n, len(out))]
	for _, id := range out {
		delete(q.ids, id)
	}
	return out
}

// TikTokShop is one incarnation of the TikTok Shop stage.
type TikTokShop struct {
	cfg    ShopConfig
	s      *session
	shopID string

	orders   cursor.Cursor
	products cursor.Cursor
	videos   cursor.Cursor
	turns    turns
}

// OpenTikTokShop starts an incarnation of the TikTok Shop stage.
func OpenTikTokShop(ctx context.Context, cfg ShopConfig) (*TikTokShop, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultShopOverlap
	}
	if cfg.Lag <= 0 {
		cfg.Lag = 2 * time.Minute
	}
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = 6 * time.Hour
	}
	if cfg.Zone == nil {
		z, err := time.LoadLocation(DefaultShopZone)
		if err != nil {
			return nil, fmt.Errorf("tiktokshop stage: %w", err)
		}
		cfg.Zone = z
	}
	if cfg.Currency == "" {
		cfg.Currency = "USD"
	}
	if cfg.Since.IsZero() {
		cfg.Since = cfg.Clock.Now().Add(-7 * 24 * time.Hour)
	}
	shop, err := cfg.Client.Shop(ctx)
	if err != nil {
		return nil, fmt.Errorf("tiktokshop stage: shop: %w", err)
	}
	s, err := openSession(ctx, cfg.Kafka, tiktokshop.Source, cfg.Instance, cfg.Clock, cfg.DeadLetters, cfg.Logger, ttsOrder, ttsProduct, ttsVideo)
	if err != nil {
		return nil, err
	}
	t := &TikTokShop{cfg: cfg, s: s, shopID: shop.ID, turns: turns{off: cfg.Disable}}
	t.orders = s.set.Cursor("orders/" + shop.ID)
	t.products = s.set.Cursor("products/" + shop.ID)
	t.videos = s.set.Cursor("video_performance/" + shop.ID)
	return t, nil
}

// Close ends the incarnation.
func (t *TikTokShop) Close() { t.s.close() }

// Wake implements Waker: a webhook that names an order ends the stage's
// wait, so the order is fetched now rather than at the next poll (up to
// sources.tiktokshop.poll_interval later).
func (t *TikTokShop) Wake() <-chan struct{} {
	if t.cfg.Follow == nil {
		return nil
	}
	return t.cfg.Follow.Wake()
}

func (t *TikTokShop) now() time.Time { return t.cfg.Clock.Now() }

// Step does the next unit of work: followed orders first (a webhook waits
// on them), then orders, products and video performance in turn.
func (t *TikTokShop) Step(ctx context.Context) (Progress, error) {
	if p, err := t.stepFollow(ctx); err != nil || p.Done {
		return p, err
	}
	return t.turns.step(ctx, []string{"orders", "products", "video_performance"},
		[]func(context.Context) (Progress, error){t.stepOrders, t.stepProducts, t.stepVideos})
}

// window returns the next update_time window of cur: from the cursor less
// the overlap to at most MaxWindow later, ending Lag before now.
func (t *TikTokShop) window(cur cursor.Cursor) (from, to time.Time, ok bool) {
	start := cur.WindowEnd
	if start.IsZero() {
		start = t.cfg.Since
	}
	to = t.now().Add(-t.cfg.Lag).Truncate(time.Second)
	if !t.cfg.Until.IsZero() && to.After(t.cfg.Until) {
		to = t.cfg.Until
	}
	to = minTime(to, start.Add(t.cfg.MaxWindow))
	if !to.After(start) {
		return time.Time{}, time.Time{}, false
	}
	from = start
	if cur.Stored() {
		from = start.Add(-t.cfg.Overlap)
	}
	return from, to, true
}

func (t *TikTokShop) addOrders(b *batch, orders []tiktokshop.Order, endpoint string) {
	for _, o := range orders {
		rec, err := tiktokshop.OrderRecord(t.shopID, o)
		key := tiktokshop.OrderKey(t.shopID, o.ID)
		if err != nil {
			b.deadLetter(schemas.TopicTikTokOrders, key, o, endpoint, err)
			continue
		}
		b.observe(ttsOrder, key, rec, sourceTS(rec), o, endpoint)
	}
}

func (t *TikTokShop) stepOrders(ctx context.Context) (Progress, error) {
	from, to, ok := t.window(t.orders)
	if !ok {
		return Progress{}, nil
	}
	orders, err := t.cfg.Client.OrdersUpdated(ctx, from, to)
	if err != nil {
		return Progress{}, fmt.Errorf("tiktokshop orders: %w", err)
	}
	work := fmt.Sprintf("orders %s..%s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	b := t.s.newBatch()
	b.kind, b.through = "orders", to
	t.addOrders(b, orders, "orders.search")
	next := t.orders.Advance("", from, to, t.now())
	return b.commitCursor(ctx, work, &t.orders, next)
}

// stepFollow fetches orders named by webhooks (order detail) and emits them
// through the same change capture as the poll, without moving a cursor.
func (t *TikTokShop) stepFollow(ctx context.Context) (Progress, error) {
	if t.cfg.Follow == nil {
		return Progress{}, nil
	}
	ids := t.cfg.Follow.take(tiktokshop.MaxOrderDetailIDs)
	if len(ids) == 0 {
		return Progress{}, nil
	}
	orders, err := t.cfg.Client.OrderDetail(ctx, ids...)
	if err != nil {
		t.cfg.Follow.Add(ids...) // a restart fetches them again
		return Progress{}, fmt.Errorf("tiktokshop order detail for webhooks: %w", err)
	}
	b := t.s.newBatch()
	b.kind = "webhook_orders"
	t.addOrders(b, orders, "orders.detail")
	p, err := b.commit(ctx, fmt.Sprintf("webhook orders %d", len(ids)))
	if err != nil {
		t.cfg.Follow.Add(ids...)
	}
	return p, err
}

func (t *TikTokShop) stepProducts(ctx context.Context) (Progress, error) {
	from, to, ok := t.window(t.products)
	if !ok {
		return Progress{}, nil
	}
	if t.products.Stored() && t.now().Sub(t.products.IngestTS) < t.cfg.Overlap && t.cfg.Until.IsZero() && to.Sub(from) < t.cfg.MaxWindow {
		// Products change rarely: a search per overlap period is plenty.
		return Progress{}, nil
	}
	search := tiktokshop.ProductSearch{UpdateTimeGE: from, UpdateTimeLE: to}
	if !t.products.Stored() {
		// The first search takes every product, whenever it last changed:
		// a product not updated since Since still exists.
		search = tiktokshop.ProductSearch{UpdateTimeLE: to}
	}
	products, err := t.cfg.Client.SearchProducts(ctx, search)
	if err != nil {
		return Progress{}, fmt.Errorf("tiktokshop products: %w", err)
	}
	b := t.s.newBatch()
	b.kind, b.through = "products", to
	now := t.now()
	for _, sp := range products {
		// Detail carries the SKU identifier codes (GTIN/UPC/EAN) that
		// identity resolution needs; search does not.
		p, err := t.cfg.Client.ProductDetail(ctx, sp.ID)
		if err != nil {
			return Progress{}, fmt.Errorf("tiktokshop product %s: %w", sp.ID, err)
		}
		key := tiktokshop.ProductKey(t.shopID, p.ID)
		rec, err := tiktokshop.ProductRecord(t.shopID, p, now)
		if err != nil {
			b.deadLetter(schemas.TopicTikTokProducts, key, p, "products.detail", err)
			continue
		}
		b.observe(ttsProduct, key, rec, sourceTS(rec), p, "products.detail")
	}
	next := t.products.Advance("", from, to, now)
	return b.commitCursor(ctx, fmt.Sprintf("products %s..%s", from.Format(time.RFC3339), to.Format(time.RFC3339)), &t.products, next)
}

// stepVideos reads the next shop-zone day of video performance, once TikTok
// says its data is ready (latest_available_date).
func (t *TikTokShop) stepVideos(ctx context.Context) (Progress, error) {
	day := t.videos.Position
	if day == "" {
		day = t.cfg.Since.In(t.cfg.Zone).Format(time.DateOnly)
	}
	d, err := time.ParseInLocation(time.DateOnly, day, t.cfg.Zone)
	if err != nil {
		return Progress{}, fmt.Errorf("tiktokshop video cursor %q: %w", day, err)
	}
	end := d.AddDate(0, 0, 1)
	if end.After(t.now()) || (!t.cfg.Until.IsZero() && end.After(t.cfg.Until)) {
		return Progress{}, nil
	}
	vd, err := t.cfg.Client.VideoPerformanceDay(ctx, day, true)
	if err != nil {
		return Progress{}, fmt.Errorf("tiktokshop video performance %s: %w", day, err)
	}
	if vd.LatestAvailableDate != "" && day > vd.LatestAvailableDate {
		return Progress{}, nil // not final yet: ask again later
	}
	b := t.s.newBatch()
	b.kind, b.through = "video_performance", end
	now := t.now()
	for _, v := range vd.Videos {
		key := tiktokshop.VideoPerformanceKey(t.shopID, v.ID, day)
		rec, err := tiktokshop.VideoPerformanceRecord(t.shopID, t.cfg.Zone, t.cfg.Currency, day, v, now)
		if err != nil {
			b.deadLetter(schemas.TopicTikTokVideoPerformance, key, v, "shop_videos.performance", err)
			continue
		}
		b.observe(ttsVideo, key, rec, now, v, "shop_videos.performance")
	}
	next := t.videos.Advance(end.Format(time.DateOnly), d, end, now)
	return b.commitCursor(ctx, "video_performance "+day, &t.videos, next)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
