package stage

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/changecapture"
	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/schemas"
)

// Amazon entities and their topics.
var (
	amzOrder        = entity{name: "order", topic: schemas.TopicAmazonOrders}
	amzOrderItem    = entity{name: "order_item", topic: schemas.TopicAmazonOrderItems}
	amzSalesTraffic = entity{name: "sales_traffic", topic: schemas.TopicAmazonSalesTraffic}
	amzSearchTerms  = entity{name: "search_terms", topic: schemas.TopicAmazonSearchTerms}
	amzSQP          = entity{name: "search_query_performance", topic: schemas.TopicAmazonSearchQueryPerformance}
	amzCatalog      = entity{name: "catalog", topic: schemas.TopicAmazonCatalog}
)

// AmazonClient is what the Amazon stage needs of *amazon.Client.
type AmazonClient interface {
	NewOrderPoller(cursor time.Time, opts amazon.OrderPollerOptions) *amazon.OrderPoller
	SalesAndTrafficDay(ctx context.Context, day amazon.Date) (amazon.SalesTrafficDay, error)
	SearchTerms(ctx context.Context, p amazon.Period) (amazon.SearchTermsPeriod, error)
	SearchQueryPerformance(ctx context.Context, p amazon.Period, asins []string) ([]amazon.SQPBatch, error)
	PrefetchSalesAndTraffic(days ...amazon.Date)
	PrefetchBrandAnalytics(p amazon.Period, asins []string)
	CatalogSnapshot(ctx context.Context, asins []string) ([]amazon.CatalogItem, map[string]error, error)
	Mapper() amazon.Mapper
	MarketplaceID() string
	ReportZone() *time.Location
}

// AmazonConfig configures the Amazon stage.
type AmazonConfig struct {
	Kafka    Kafka
	Client   AmazonClient
	Instance string
	// Since is where history starts when no cursor is stored.
	Since time.Time
	// Until, if set, stops the stage's windows there (a backfill).
	Until time.Time
	// Orders shapes the getOrders windows.
	Orders amazon.OrderPollerOptions
	// Lookback is how long report days are read again while Amazon restates
	// them. Default amazon.DefaultRestatementLookback.
	Lookback time.Duration
	// ReportInterval is how often the Sales & Traffic days are requested
	// again. Default DefaultReportInterval.
	ReportInterval time.Duration
	// CatalogInterval is how often the catalog is snapshotted. Default
	// DefaultCatalogInterval.
	CatalogInterval time.Duration
	// RetryAfter is how long a FATAL report waits before it is asked again.
	// Default 1 h.
	RetryAfter time.Duration
	// BrandAnalyticsPeriods are the Brand Analytics periods read, each
	// complete one once Amazon publishes it: WEEK (Sunday to Saturday),
	// MONTH, QUARTER. Default DefaultBrandAnalyticsPeriods (all three).
	BrandAnalyticsPeriods []string
	// ASINs are known ASINs to snapshot and ask search performance for;
	// more are learnt from Sales & Traffic rows and order lines.
	ASINs []string
	// Disable turns off kinds of work: "orders", "sales_traffic",
	// "brand_analytics", "catalog".
	Disable []string
	Clock   clock.Clock
	Logger  zerolog.Logger
}

// Amazon is one incarnation of the Amazon stage.
type Amazon struct {
	cfg    AmazonConfig
	s      *session
	mkt    string
	zone   *time.Location
	mapper amazon.Mapper
	since  amazon.Date

	poller *amazon.OrderPoller
	orders cursor.Cursor
	st     cursor.Cursor
	// ba is the Brand Analytics cursor of each period kind read.
	ba      map[string]cursor.Cursor
	catalog cursor.Cursor
	retries map[string]cursor.Cursor
	asins   map[string]bool
	turns   turns
}

// Amazon work kinds.
const (
	workOrders         = "orders"
	workSalesTraffic   = "sales_traffic"
	workBrandAnalytics = "brand_analytics"
	workCatalog        = "catalog"
	workRetry          = "retry"
)

// Report kinds a retry cursor names (retry/<marketplace>/<kind>/<period>);
// Sales & Traffic days retry as workSalesTraffic.
const (
	retrySearchTerms            = "search_terms"
	retrySearchQueryPerformance = "search_query_performance"
)

// stepKinds are the kinds in the order Step tries them. The catalog goes
// first: it needs no report, and every other kind joins on the identifiers
// it carries.
var stepKinds = []string{workCatalog, workOrders, workSalesTraffic, workBrandAnalytics, workRetry}

// OpenAmazon starts an incarnation of the Amazon stage: writer, cursors,
// change-capture state.
func OpenAmazon(ctx context.Context, cfg AmazonConfig) (*Amazon, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Lookback <= 0 {
		cfg.Lookback = amazon.DefaultRestatementLookback
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = DefaultReportInterval
	}
	if cfg.CatalogInterval <= 0 {
		cfg.CatalogInterval = DefaultCatalogInterval
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Hour
	}
	if len(cfg.BrandAnalyticsPeriods) == 0 {
		cfg.BrandAnalyticsPeriods = DefaultBrandAnalyticsPeriods()
	}
	for _, k := range cfg.BrandAnalyticsPeriods {
		if !slices.Contains([]string{periodWeek, periodMonth, periodQuarter}, k) {
			return nil, fmt.Errorf("amazon stage: Brand Analytics period %q: want WEEK, MONTH or QUARTER", k)
		}
	}
	if cfg.Since.IsZero() {
		cfg.Since = cfg.Clock.Now().Add(-cfg.Lookback)
	}
	s, err := openSession(ctx, cfg.Kafka, amazon.Source, cfg.Instance, cfg.Clock, nil, cfg.Logger,
		amzOrder, amzOrderItem, amzSalesTraffic, amzSearchTerms, amzSQP, amzCatalog)
	if err != nil {
		return nil, err
	}
	a := &Amazon{cfg: cfg, s: s, turns: turns{off: cfg.Disable}, mkt: cfg.Client.MarketplaceID(), zone: cfg.Client.ReportZone(), mapper: cfg.Client.Mapper(),
		retries: map[string]cursor.Cursor{}, asins: map[string]bool{}}
	a.since = amazon.DateOf(cfg.Since, a.zone)
	a.orders = s.set.Cursor(workOrders + "/" + a.mkt)
	a.st = s.set.Cursor(workSalesTraffic + "/" + a.mkt)
	a.ba = map[string]cursor.Cursor{}
	for _, k := range cfg.BrandAnalyticsPeriods {
		a.ba[k] = s.set.Cursor(baCursorName(a.mkt, k))
	}
	a.catalog = s.set.Cursor(workCatalog + "/" + a.mkt)
	for _, c := range s.set.WithPrefix(workRetry + "/" + a.mkt + "/") {
		if c.Position != "" {
			a.retries[c.Name] = c
		}
	}
	start := a.orders.WindowEnd
	if start.IsZero() {
		start = cfg.Since
	}
	a.poller = cfg.Client.NewOrderPoller(start, cfg.Orders)
	for _, x := range cfg.ASINs {
		a.asins[x] = true
	}
	// ASINs learnt before the restart: the keys of the Sales & Traffic and
	// catalog state.
	for _, c := range s.set.WithPrefix(changecapture.StatePrefix(amzSalesTraffic.name)) {
		parts := strings.Split(strings.TrimPrefix(c.Name, changecapture.StatePrefix(amzSalesTraffic.name)), ":")
		if len(parts) == 5 {
			a.learn(parts[2], parts[3])
		}
	}
	for _, c := range s.set.WithPrefix(changecapture.StatePrefix(amzCatalog.name)) {
		if _, asin, ok := strings.Cut(strings.TrimPrefix(c.Name, changecapture.StatePrefix(amzCatalog.name)), ":"); ok {
			a.learn(asin)
		}
	}
	return a, nil
}

// Close ends the incarnation.
func (a *Amazon) Close() { a.s.close() }

func (a *Amazon) learn(asins ...string) {
	for _, x := range asins {
		if x != "" {
			a.asins[x] = true
		}
	}
}

func (a *Amazon) knownASINs() []string { return slices.Sorted(maps.Keys(a.asins)) }

// Step does the next unit of work, taking the kinds in turn so that no kind
// (a long backfill of orders, say) starves the others.
//
// Reports are generated concurrently, yet committed one window at a time in
// cursor order (rather than giving each report its own cursor, which would
// change what is stored). Each step first hints the reports the coming
// steps will ask for (order-line flat files of full windows, the Sales &
// Traffic run's days, the next Brand Analytics week); the client creates and
// polls them together, at most ReportsInFlight at once, while steps wait. A
// report is taken only by the step whose window it covers, and that step
// commits its records with its cursor as before. A crash loses nothing but
// reports in flight, asked for again after the restart, so no window is
// skipped or repeated.
func (a *Amazon) Step(ctx context.Context) (Progress, error) {
	a.prefetch()
	return a.turns.step(ctx, stepKinds, []func(context.Context) (Progress, error){a.stepCatalog, a.stepOrders, a.stepSalesTraffic, a.stepBrandAnalytics, a.stepRetry})
}

func (a *Amazon) now() time.Time { return a.cfg.Clock.Now() }

// until caps t at the end of a backfill.
func (a *Amazon) until(t time.Time) time.Time {
	if !a.cfg.Until.IsZero() && t.After(a.cfg.Until) {
		return a.cfg.Until
	}
	return t
}

// prefetch hints the reports the coming steps will ask for, kind by kind in
// the order the steps take them, so that the client generates them
// concurrently (see Step).
func (a *Amazon) prefetch() {
	for k := range a.turns.enabled(stepKinds) {
		switch stepKinds[k] {
		case workOrders:
			a.poller.PrefetchLines(a.until(a.now()))
		case workSalesTraffic:
			if _, _, days, ok := a.salesTrafficRun(); ok {
				a.cfg.Client.PrefetchSalesAndTraffic(days...)
			}
		case workBrandAnalytics:
			if p := a.nextPeriod(a.until(a.now())); p != nil {
				a.cfg.Client.PrefetchBrandAnalytics(*p, a.knownASINs())
			}
		}
	}
}

// stepOrders reads one getOrders window with its lines.
func (a *Amazon) stepOrders(ctx context.Context) (Progress, error) {
	now := a.now()
	if !a.cfg.Until.IsZero() && now.After(a.cfg.Until) {
		now = a.cfg.Until
	}
	if _, _, ok := a.poller.Window(now); !ok || (!a.cfg.Until.IsZero() && !a.poller.Cursor().Before(a.cfg.Until.Add(-3*time.Minute))) {
		return Progress{}, nil
	}
	w, err := a.poller.PollWithLines(ctx)
	if err != nil {
		return Progress{}, fmt.Errorf("amazon orders: %w", err)
	}
	work := fmt.Sprintf("orders %s..%s", w.After.Format(time.RFC3339), w.Before.Format(time.RFC3339))
	if w.ReportErr != nil {
		a.s.log.Warn().Err(w.ReportErr).Str("window", work).Msg("order lines report failed; lines came from getOrderItems")
	}
	b := a.s.newBatch()
	b.kind, b.through = workOrders, w.Before
	for _, o := range w.Orders {
		rec, err := a.mapper.Order(o)
		if err != nil {
			b.deadLetter(schemas.TopicAmazonOrders, a.mkt+":"+o.AmazonOrderID, o, amazon.OpGetOrders, err)
			continue
		}
		b.observe(amzOrder, rec.Key, rec.Value, sourceTS(rec.Value), o, amazon.OpGetOrders)
		for _, line := range w.Lines[o.AmazonOrderID] {
			a.learn(line.Item.ASIN)
			lr, err := a.mapper.OrderItem(o, line)
			if err != nil {
				b.deadLetter(schemas.TopicAmazonOrderItems, rec.Key, line, amazon.OpGetOrderItems, err)
				continue
			}
			b.observe(amzOrderItem, lr.Key, lr.Value, sourceTS(lr.Value), line, amazon.OpGetOrderItems)
		}
	}
	next := a.orders.Advance("", w.After, w.Before, now)
	return b.commitCursor(ctx, work, &a.orders, next)
}

// stepSalesTraffic reads one day of the current Sales & Traffic run. A run
// asks every day that may still be restated (SalesTrafficDays); its cursor
// holds the previous run's time (WindowStart), the run's own time
// (WindowEnd) and the next day to read (Position), so a restart finishes
// the run where it stopped. Between runs Position is empty and WindowEnd is
// the last run's time.
func (a *Amazon) stepSalesTraffic(ctx context.Context) (Progress, error) {
	cur := a.st
	lastRun, runAt, days, ok := a.salesTrafficRun()
	if !ok {
		return Progress{}, nil
	}
	if len(days) == 0 { // the run's days changed meaning (config): end it
		next := cur.Advance("", runAt, runAt, a.now())
		return a.s.newBatch().commit(ctx, "sales_traffic end run", next)
	}
	day := days[0]
	next := cur.Advance("", runAt, runAt, a.now())
	if len(days) > 1 {
		next = cur.Advance(days[1].String(), lastRun, runAt, a.now())
	}
	work := "sales_traffic " + day.String()
	b := a.s.newBatch()
	b.kind, b.through = workSalesTraffic, day.End(a.zone)
	var extra []cursor.Cursor
	d, err := a.cfg.Client.SalesAndTrafficDay(ctx, day)
	switch {
	case err == nil:
		a.addSalesTraffic(b, d)
	case isFatal(err):
		extra = append(extra, a.recordFatal(workSalesTraffic, day.String(), err))
	default:
		return Progress{}, fmt.Errorf("amazon %s: %w", work, err)
	}
	p, err := b.commit(ctx, work, append(extra, next)...)
	if err != nil {
		return p, err
	}
	a.st = next
	a.settleRetries(extra)
	return p, nil
}

// salesTrafficRun returns the Sales & Traffic run to read now: the previous
// run's time, this run's, and the days it has left (none if the run in
// progress no longer knows its next day); ok is false when no run is due.
func (a *Amazon) salesTrafficRun() (lastRun, runAt time.Time, days []amazon.Date, ok bool) {
	cur := a.st
	if cur.Position != "" {
		lastRun, runAt = cur.WindowStart, cur.WindowEnd
		all := amazon.SalesTrafficDays(a.since, lastRun, runAt, a.zone, a.cfg.Lookback)
		for i, d := range all {
			if d.String() == cur.Position {
				return lastRun, runAt, all[i:], true
			}
		}
		return lastRun, runAt, nil, true
	}
	lastRun, runAt = cur.WindowEnd, a.until(a.now())
	if !lastRun.IsZero() && runAt.Sub(lastRun) < a.cfg.ReportInterval {
		return lastRun, runAt, nil, false
	}
	days = amazon.SalesTrafficDays(a.since, lastRun, runAt, a.zone, a.cfg.Lookback)
	return lastRun, runAt, days, len(days) > 0
}

func (a *Amazon) addSalesTraffic(b *batch, d amazon.SalesTrafficDay) {
	if d.Report == nil {
		return // cancelled: no data that day
	}
	for _, row := range d.Report.SalesAndTrafficByAsin {
		a.learn(row.ParentAsin, row.ChildAsin)
	}
	recs, err := a.mapper.SalesTraffic(d)
	if err != nil {
		b.deadLetter(schemas.TopicAmazonSalesTraffic, "", d.Report, amazon.ReportSalesAndTraffic, err)
		return
	}
	for _, r := range recs {
		b.observe(amzSalesTraffic, r.Key, r.Value, d.Generated, r.Value, amazon.ReportSalesAndTraffic)
	}
}

// stepBrandAnalytics reads the next complete period's search terms and
// search query performance: weeks first, then months and quarters.
func (a *Amazon) stepBrandAnalytics(ctx context.Context) (Progress, error) {
	now := a.until(a.now())
	p := a.nextPeriod(now)
	if p == nil {
		return Progress{}, nil
	}
	work := "brand_analytics " + p.Start.String()
	kind := workBrandAnalytics
	if p.Kind != periodWeek {
		work = "brand_analytics " + p.Kind + " " + p.Start.String()
		kind = workBrandAnalytics + "_" + strings.ToLower(p.Kind)
	}
	b := a.s.newBatch()
	b.kind, b.through = kind, p.End.End(a.zone)
	extra, err := a.brandAnalytics(ctx, b, *p, retryID(*p))
	if errors.Is(err, amazon.ErrReportCancelled) {
		return Progress{}, nil // not published yet: ask again later
	}
	if err != nil {
		return Progress{}, fmt.Errorf("amazon %s: %w", work, err)
	}
	next := a.ba[p.Kind].Advance("", p.Start.Start(a.zone), p.End.End(a.zone), now)
	pr, err := b.commit(ctx, work, append(extra, next)...)
	if err != nil {
		return pr, err
	}
	a.ba[p.Kind] = next
	a.settleRetries(extra)
	return pr, nil
}

// Brand Analytics period kinds the stage reads.
const (
	periodWeek    = "WEEK"
	periodMonth   = "MONTH"
	periodQuarter = "QUARTER"
)

// Defaults of AmazonConfig that the shopstream config exposes as keys.
const (
	DefaultReportInterval  = time.Hour
	DefaultCatalogInterval = time.Hour
)

// DefaultBrandAnalyticsPeriods are every period kind the stage reads.
func DefaultBrandAnalyticsPeriods() []string { return []string{periodWeek, periodMonth, periodQuarter} }

// baCursorName names the cursor of a period kind; weeks keep the name they
// had before months and quarters were read.
func baCursorName(mkt, kind string) string {
	if kind == periodWeek {
		return workBrandAnalytics + "/" + mkt
	}
	return workBrandAnalytics + "/" + mkt + "/" + kind
}

// retryID names a period in a retry cursor: a week by its Sunday (as
// before months were read), a month or quarter by kind and first day.
func retryID(p amazon.Period) string {
	if p.Kind == periodWeek {
		return p.Start.String()
	}
	return p.Kind + "/" + p.Start.String()
}

// parseRetryID inverts retryID.
func parseRetryID(id string) (amazon.Period, error) {
	kind, day := periodWeek, id
	if k, d, ok := strings.Cut(id, "/"); ok {
		kind, day = k, d
	}
	start, err := amazon.ParseDate(day)
	if err != nil {
		return amazon.Period{}, err
	}
	switch kind {
	case periodWeek:
		return amazon.WeekOf(start), nil
	case periodMonth, periodQuarter:
		return periodOf(kind, start), nil
	}
	return amazon.Period{}, fmt.Errorf("unknown period kind %q", kind)
}

// nextPeriod returns the next complete, published period to read at now,
// weeks before months before quarters, if any.
func (a *Amazon) nextPeriod(now time.Time) *amazon.Period {
	for _, k := range a.cfg.BrandAnalyticsPeriods {
		c := a.ba[k]
		for _, p := range completePeriods(k, a.since, now, a.zone) {
			if c.WindowEnd.IsZero() || p.Start.Start(a.zone).After(c.WindowStart) {
				return &p
			}
		}
	}
	return nil
}

// periodOf returns the month or quarter containing d.
func periodOf(kind string, d amazon.Date) amazon.Period {
	first := amazon.Date{Year: d.Year, Month: d.Month, Day: 1}
	months := 1
	if kind == periodQuarter {
		first.Month = time.Month((int(d.Month)-1)/3*3 + 1)
		months = 3
	}
	next := amazon.DateOf(time.Date(first.Year, first.Month+time.Month(months), 1, 12, 0, 0, 0, time.UTC), time.UTC)
	return amazon.Period{Kind: kind, Start: first, End: next.AddDays(-1)}
}

// completePeriods returns the periods of kind from the one containing since
// up to the last one Amazon has published at now (ended at least
// amazon.BrandAnalyticsLatency ago in loc), oldest first.
func completePeriods(kind string, since amazon.Date, now time.Time, loc *time.Location) []amazon.Period {
	if kind == periodWeek {
		return amazon.CompleteWeeks(since, now, loc)
	}
	var out []amazon.Period
	for p := periodOf(kind, since); !p.End.End(loc).Add(amazon.BrandAnalyticsLatency).After(now); p = periodOf(kind, p.End.AddDays(1)) {
		out = append(out, p)
	}
	return out
}

// brandAnalytics adds a period's reports to b. A FATAL report is recorded as
// a retry cursor (returned) and does not hold up the rest.
func (a *Amazon) brandAnalytics(ctx context.Context, b *batch, p amazon.Period, id string) ([]cursor.Cursor, error) {
	var extra []cursor.Cursor
	// All of the period's reports generate together while search terms
	// are waited for (a retry asks for them here first).
	asins := a.knownASINs()
	a.cfg.Client.PrefetchBrandAnalytics(p, asins)
	st, err := a.cfg.Client.SearchTerms(ctx, p)
	switch {
	case err == nil:
		recs, err := a.mapper.SearchTerms(st)
		if err != nil {
			b.deadLetter(schemas.TopicAmazonSearchTerms, "", st.Report, amazon.ReportSearchTerms, err)
		}
		for _, r := range recs {
			b.observe(amzSearchTerms, r.Key, r.Value, st.Generated, r.Value, amazon.ReportSearchTerms)
		}
	case isFatal(err):
		extra = append(extra, a.recordFatal(retrySearchTerms, id, err))
	default:
		return nil, err
	}
	if len(asins) == 0 {
		return extra, nil
	}
	batches, err := a.cfg.Client.SearchQueryPerformance(ctx, p, asins)
	if err != nil {
		return nil, err
	}
	var failed []error
	for _, sb := range batches {
		if sb.Err != nil {
			if !errors.Is(sb.Err, amazon.ErrReportCancelled) {
				failed = append(failed, sb.Err)
			}
			continue
		}
		recs, err := a.mapper.SearchQueryPerformance(sb)
		if err != nil {
			b.deadLetter(schemas.TopicAmazonSearchQueryPerformance, "", sb.Report, amazon.ReportSearchQueryPerformance, err)
		}
		for _, r := range recs {
			b.observe(amzSQP, r.Key, r.Value, sb.Generated, r.Value, amazon.ReportSearchQueryPerformance)
		}
	}
	if len(failed) > 0 {
		// The retry asks every batch again; change capture drops what
		// the batches that succeeded already gave.
		extra = append(extra, a.recordFatal(retrySearchQueryPerformance, id, errors.Join(failed...)))
	}
	return extra, nil
}

// stepCatalog snapshots every known ASIN when the schedule says so.
func (a *Amazon) stepCatalog(ctx context.Context) (Progress, error) {
	now := a.now()
	if !a.catalog.WindowEnd.IsZero() && now.Sub(a.catalog.WindowEnd) < a.cfg.CatalogInterval {
		return Progress{}, nil
	}
	asins := a.knownASINs()
	if len(asins) == 0 {
		return Progress{}, nil
	}
	items, failed, err := a.cfg.Client.CatalogSnapshot(ctx, asins)
	if err != nil {
		return Progress{}, fmt.Errorf("amazon catalog: %w", err)
	}
	for asin, err := range failed {
		// Per-ASIN failures (an ASIN Amazon no longer knows) must not stop
		// the snapshot; the next one asks again.
		a.s.log.Warn().Str("asin", asin).Err(err).Msg("catalog item unavailable")
	}
	b := a.s.newBatch()
	b.kind, b.through = workCatalog, now
	for _, it := range items {
		rec, err := a.mapper.CatalogItem(it, now)
		if err != nil {
			b.deadLetter(schemas.TopicAmazonCatalog, a.mkt+":"+it.ASIN, it, amazon.OpGetCatalogItem, err)
			continue
		}
		b.observe(amzCatalog, rec.Key, rec.Value, now, it, amazon.OpGetCatalogItem)
	}
	next := a.catalog.Advance("", a.catalog.WindowEnd, now, now)
	return b.commitCursor(ctx, fmt.Sprintf("catalog %d asins", len(asins)), &a.catalog, next)
}

// stepRetry asks again for the first FATAL report whose wait is over.
func (a *Amazon) stepRetry(ctx context.Context) (Progress, error) {
	now := a.now()
	names := make([]string, 0, len(a.retries))
	for n, c := range a.retries {
		if !c.WindowEnd.After(now) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return Progress{}, nil
	}
	sort.Strings(names)
	c := a.retries[names[0]]
	rest := strings.TrimPrefix(c.Name, workRetry+"/"+a.mkt+"/")
	kind, id, _ := strings.Cut(rest, "/")
	work := "retry " + rest
	b := a.s.newBatch()
	b.kind, b.through = workRetry, now
	var extra []cursor.Cursor
	switch kind {
	case workSalesTraffic:
		day, err := amazon.ParseDate(id)
		if err != nil {
			return Progress{}, fmt.Errorf("amazon retry %s: %w", c.Name, err)
		}
		d, err := a.cfg.Client.SalesAndTrafficDay(ctx, day)
		switch {
		case err == nil:
			a.addSalesTraffic(b, d)
		case isFatal(err):
			extra = append(extra, a.recordFatal(kind, id, err))
		default:
			return Progress{}, fmt.Errorf("amazon %s: %w", work, err)
		}
	case retrySearchTerms, retrySearchQueryPerformance:
		p, err := parseRetryID(id)
		if err != nil {
			return Progress{}, fmt.Errorf("amazon retry %s: %w", c.Name, err)
		}
		got, err := a.brandAnalytics(ctx, b, p, id)
		if err != nil && !errors.Is(err, amazon.ErrReportCancelled) {
			return Progress{}, fmt.Errorf("amazon %s: %w", work, err)
		}
		extra = got
	}
	pending := false
	for _, g := range extra {
		pending = pending || g.Name == c.Name
	}
	if !pending {
		extra = append(extra, c.Advance("", c.WindowStart, now, now)) // resolved
	}
	p, err := b.commit(ctx, work, extra...)
	if err != nil {
		return p, err
	}
	a.settleRetries(extra)
	return p, nil
}

// recordFatal returns the retry cursor of a FATAL report: its reason as the
// position, due after RetryAfter. It commits with the step, so the reason
// is on record in shopstream.cursors (and the log) and a restart keeps it.
func (a *Amazon) recordFatal(kind, id string, err error) cursor.Cursor {
	name := workRetry + "/" + a.mkt + "/" + kind + "/" + id
	c, ok := a.retries[name]
	if !ok {
		c = a.s.set.Cursor(name)
	}
	now := a.now()
	a.s.log.Warn().Err(err).Str("report", kind).Str("period", id).Time("retry_at", now.Add(a.cfg.RetryAfter)).Msg("report failed; retrying later")
	reason := err.Error()
	if reason == "" {
		reason = "FATAL"
	}
	return c.Advance(reason, now, now.Add(a.cfg.RetryAfter), now)
}

// settleRetries applies committed retry cursors: pending ones are kept,
// resolved ones (empty position) forgotten.
func (a *Amazon) settleRetries(cs []cursor.Cursor) {
	for _, c := range cs {
		if !strings.HasPrefix(c.Name, workRetry+"/") {
			continue
		}
		if c.Position == "" {
			delete(a.retries, c.Name)
		} else {
			a.retries[c.Name] = c
		}
	}
}

// PendingRetries returns the FATAL reports waiting for a retry, by cursor
// name, with their reasons.
func (a *Amazon) PendingRetries() map[string]string {
	out := map[string]string{}
	for n, c := range a.retries {
		out[n] = c.Position
	}
	return out
}

func isFatal(err error) bool {
	var f *amazon.ReportFatalError
	return errors.As(err, &f)
}
