// Package stage runs the ingest stages: the loops that turn what the source
// clients read into change records in Kafka, exactly once.
//
// Every stage follows the loop of package emit: create the transactional
// writer (which fences the previous incarnation), load the cursors and the
// change-capture state, then repeat one step at a time: fetch the next
// window, run change capture, and commit records, dead letters, cursor and
// tracker state in one transaction before advancing. A step that finds
// nothing to do reports so, and the Runner waits for the poll interval on
// the stage's clock. A Runner is a supervised part (internal/supervise): a
// failed step ends the incarnation, and the supervisor opens a new one.
//
// Sources: Amazon (orders with lines, Sales & Traffic days with the
// restatement lookback, weekly Brand Analytics, catalog on a schedule),
// TikTok Shop (orders by update_time windows, products, video performance
// with the video→product link, orders named by webhooks), TikTok Business
// (video list snapshots). The webhook receiver's production Writer is
// KafkaWriter.
package stage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/changecapture"
	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/ingest/emit"
	"github.com/shopstream/shopstream/internal/clock"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/schemas"
)

// Serde encodes records for a topic and decodes wire-format values;
// *schemas.Serde is one.
type Serde = schemas.WireFormat

// Kafka says where a stage writes.
type Kafka struct {
	// ClientOpts connect to the cluster (seed brokers, SASL, TLS).
	ClientOpts []kgo.Opt
	// Serde encodes records by their logical topic name.
	Serde Serde
	// Prefix is prepended to every topic, the cursor topic included
	// (tenants or tests sharing a cluster).
	Prefix string
	// InputRetention is how long the data topics the stage creates keep
	// their records (retention.ms; kafka.input_retention); 0 keeps them for
	// ever. Dead-letter topics always keep theirs until replayed.
	InputRetention time.Duration
}

// Topic returns the Kafka name of a logical topic.
func (k Kafka) Topic(logical string) string { return k.Prefix + logical }

// prefixed encodes records of prefixed topics with their logical schema.
type prefixed struct {
	serde  Serde
	prefix string
}

func (p prefixed) Encode(topic string, v map[string]any) ([]byte, error) {
	return p.serde.Encode(strings.TrimPrefix(topic, p.prefix), v)
}

// DeadLetters collects payloads a client skipped as malformed (through its
// OnMalformed hook) until the stage's next transaction takes them. It is
// safe for concurrent use, since clients call the hook from their own
// goroutines. Dead letters are at least once: a payload reported during a
// fetch that failed waits here for the next batch, and the retried fetch
// reports it again.
type DeadLetters struct {
	mu    sync.Mutex
	items []emit.DeadLetter
}

// Add keeps one malformed payload meant for topic (a logical name).
func (d *DeadLetters) Add(topic, endpoint string, raw []byte, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items = append(d.items, emit.DeadLetter{Topic: topic, Payload: append([]byte(nil), raw...), Reason: err.Error(), Endpoint: endpoint})
}

// take returns and forgets the collected dead letters.
func (d *DeadLetters) take() []emit.DeadLetter {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.items
	d.items = nil
	return out
}

// Progress says what one step did.
type Progress struct {
	// Work names the unit, e.g. "orders 2026-01-01T00:00Z..2026-01-01T06:00Z".
	Work string
	// Records and DeadLetters count what the step committed; Stale the
	// snapshots it skipped because they were older than the key's last
	// change (see changecapture.ErrStale).
	Records, DeadLetters, Stale int
	// Done is false when the step found nothing to do.
	Done bool
	// Kind is the kind of work (orders, sales_traffic, ...), and Through
	// how far in source time that kind now reaches: a backfill's progress.
	Kind    string
	Through time.Time
}

// session is one incarnation of a stage: its writer, its loaded cursors and
// its change-capture trackers.
type session struct {
	k        Kafka
	source   string
	w        *emit.Writer
	set      *cursor.Set
	trackers map[string]*changecapture.Tracker
	clock    clock.Clock
	dead     *DeadLetters
	log      zerolog.Logger
}

// entity is one kind of record a stage emits: its change-capture entity and
// its logical topic.
type entity struct {
	name    string
	topic   string
	exclude []string
}

// openSession creates the writer first (fencing the previous incarnation),
// then loads what it committed.
func openSession(ctx context.Context, k Kafka, source, instance string, clk clock.Clock, dead *DeadLetters, log zerolog.Logger, entities ...entity) (*session, error) {
	if instance == "" {
		instance = "0"
	}
	topics := make([]string, 0, len(entities))
	for _, e := range entities {
		topics = append(topics, e.topic)
	}
	if err := EnsureTopics(ctx, k, topics...); err != nil {
		return nil, fmt.Errorf("%s stage: %w", source, err)
	}
	w, err := emit.New(ctx, emit.Config{
		ClientOpts:      k.ClientOpts,
		TransactionalID: k.Prefix + emit.TransactionalID(source, instance),
		Stage:           deadletter.IngestStage(source),
		Encoder:         prefixed{serde: k.Serde, prefix: k.Prefix},
		CursorTopic:     k.Topic(schemas.TopicCursors),
		Now:             clk.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("%s stage: writer: %w", source, err)
	}
	set, err := cursor.Load(ctx, cursor.LoadConfig{ClientOpts: k.ClientOpts, Topic: k.Topic(schemas.TopicCursors), Decoder: k.Serde}, source)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("%s stage: load cursors: %w", source, err)
	}
	s := &session{k: k, source: source, w: w, set: set, trackers: map[string]*changecapture.Tracker{}, clock: clk, dead: dead,
		log: log.With().Str(logging.Stage, "ingest-"+source).Str(logging.Source, source).Logger()}
	for _, e := range entities {
		t, err := changecapture.NewTracker(changecapture.Config{Source: source, Entity: e.name, Exclude: e.exclude}, set)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("%s stage: change-capture state of %s: %w", source, e.name, err)
		}
		s.trackers[e.name] = t
	}
	return s, nil
}

func (s *session) close() { s.w.Close() }

// batch is one transaction in the making.
type batch struct {
	// kind and through describe the batch's unit for Progress.
	kind    string
	through time.Time
	s       *session
	b       *emit.Batch
	dead    []emit.DeadLetter
	count   int
	stale   int
}

func (s *session) newBatch() *batch {
	b := &batch{s: s, b: s.w.NewBatch()}
	for _, t := range s.trackers {
		b.b.Join(t)
	}
	b.dead = s.dead.take()
	for _, d := range b.dead {
		d.Topic = s.k.Topic(d.Topic)
		b.b.AddDeadLetter(d)
	}
	return b
}

// observe runs change capture on rec, the current state of key, and adds it
// when it really changed. raw is the API payload it came from, dead-lettered
// if the record does not fit the topic's schema; the tracker then keeps the
// new content as seen, so the same bytes are not dead-lettered again on
// every poll (the payload is on the dead-letter topic, with the change the
// tracker recorded, for replay).
func (b *batch) observe(e entity, key string, rec map[string]any, sourceTS time.Time, raw any, endpoint string) {
	if sourceTS.IsZero() {
		sourceTS = b.s.clock.Now()
	}
	c, changed, err := b.s.trackers[e.name].Observe(key, rec, sourceTS)
	if errors.Is(err, changecapture.ErrStale) {
		// The key's newer state is already emitted: nothing to keep.
		b.stale++
		b.s.log.Debug().Err(err).Str("endpoint", endpoint).Msg("stale snapshot skipped")
		return
	}
	var recorded *deadletter.Change
	if err == nil && changed {
		err = b.b.Add(b.s.k.Topic(e.topic), key, c.Stamp(rec, b.s.clock.Now()))
		if err == nil {
			b.count++
		} else {
			recorded = &deadletter.Change{Op: c.Op, Version: c.Version}
		}
	}
	if err != nil {
		b.addDeadLetter(emit.DeadLetter{Topic: e.topic, Key: key, Payload: payloadOf(raw), Reason: err.Error(),
			Class: deadletter.ClassEncoding, Endpoint: endpoint, Change: recorded})
	}
}

// deadLetter keeps a payload that could not be mapped to a record.
func (b *batch) deadLetter(topic, key string, raw any, endpoint string, reason error) {
	b.addDeadLetter(emit.DeadLetter{Topic: topic, Key: key, Payload: payloadOf(raw), Reason: reason.Error(),
		Class: deadletter.ClassMapping, Endpoint: endpoint})
}

// addDeadLetter adds d, whose Topic is a logical name, to the batch.
func (b *batch) addDeadLetter(d emit.DeadLetter) {
	b.dead = append(b.dead, d)
	d.Topic = b.s.k.Topic(d.Topic)
	b.b.AddDeadLetter(d)
}

// payloadOf returns the bytes of an API payload: raw itself, or the JSON of
// the object the client decoded it into.
func payloadOf(raw any) []byte {
	if b, ok := raw.([]byte); ok {
		return b
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return fmt.Appendf(nil, "%#v", raw)
	}
	return b
}

// commit writes the batch with the cursors that it brings the stage to; the
// caller advances its own cursor fields only when commit succeeded.
func (b *batch) commit(ctx context.Context, work string, cs ...cursor.Cursor) (Progress, error) {
	if err := b.b.SetCursor(cs...); err != nil {
		return Progress{}, fmt.Errorf("%s: set cursor: %w", work, err)
	}
	if err := b.s.w.Commit(ctx, b.b); err != nil {
		// Dead letters from the clients' hooks go down with the
		// transaction; the window is read again after the restart, and the
		// client reports the same bytes again.
		return Progress{}, fmt.Errorf("%s: commit: %w", work, err)
	}
	return Progress{Work: work, Records: b.count, DeadLetters: len(b.dead), Stale: b.stale, Done: true, Kind: b.kind, Through: b.through}, nil
}

// commitCursor commits the batch with next as the cursor of one stream and
// then advances *cur to it: a failed commit leaves *cur where it was, so the
// step is done again.
func (b *batch) commitCursor(ctx context.Context, work string, cur *cursor.Cursor, next cursor.Cursor) (Progress, error) {
	p, err := b.commit(ctx, work, next)
	if err != nil {
		return p, err
	}
	*cur = next
	return p, nil
}

// Stepper is one incarnation of a stage: Step does the next unit of work.
type Stepper interface {
	Step(ctx context.Context) (Progress, error)
	Close()
}

// Waker is a Stepper that can get work before its poll interval is over
// (the TikTok Shop stage when a webhook names an order): Run ends its wait
// as soon as the channel receives, instead of leaving the work for the
// next poll.
type Waker interface {
	Wake() <-chan struct{}
}

// RunConfig shapes a Runner.
type RunConfig struct {
	// Interval is how long to wait when a step found nothing to do.
	// Default 1 min.
	Interval time.Duration
	Clock    clock.Clock
	Logger   zerolog.Logger
	// OnProgress, if set, observes every step that did work.
	OnProgress func(Progress)
	// Source labels the metrics; Metrics, if set, counts the steps.
	Source  string
	Metrics *Metrics
}

// Runner runs a source's stage as a supervised part (package
// internal/supervise): each Run is one incarnation.
type Runner struct {
	open func(context.Context) (Stepper, error)
	cfg  RunConfig
}

// NewRunner returns the Runner of the stage open opens.
func NewRunner(open func(context.Context) (Stepper, error), cfg RunConfig) (*Runner, error) {
	if open == nil || cfg.Source == "" {
		return nil, errors.New("stage runner: open and Source are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	return &Runner{open: open, cfg: cfg}, nil
}

// Run opens an incarnation of the stage and steps it until ctx ends (then
// it returns nil) or a step fails (then it returns the error: restart me).
// The incarnation is closed before Run returns. A new incarnation's writer
// fences the old one, and the cursors say exactly what was committed, so a
// restart skips and repeats nothing.
func (r *Runner) Run(ctx context.Context) error {
	err := r.runOnce(ctx)
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, emit.ErrFenced) {
		return fmt.Errorf("%s stage fenced by another instance with the same transactional id: %w", r.cfg.Source, err)
	}
	return err
}

func (r *Runner) runOnce(ctx context.Context) error {
	cfg := r.cfg
	st, err := r.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg.Logger.Info().Msg("stage started")
	bl, _ := st.(Backlogger)
	var wake <-chan struct{}
	if w, ok := st.(Waker); ok {
		wake = w.Wake()
	}
	for {
		p, err := st.Step(ctx)
		if err != nil {
			return err
		}
		if bl != nil {
			cfg.Metrics.backlog(cfg.Source, bl.Backlog(cfg.Clock.Now()))
		}
		if p.Done {
			cfg.Metrics.observe(cfg.Source, p)
			if cfg.OnProgress != nil {
				cfg.OnProgress(p)
			}
			continue
		}
		// Nothing left to read: whatever history there was is in.
		cfg.Metrics.caughtUp(cfg.Source, cfg.Clock.Now())
		if err := sleepOrWake(ctx, cfg.Clock, cfg.Interval, wake); err != nil {
			return err
		}
	}
}

// sleepOrWake waits for d on c, or until wake receives; it returns an error
// only when ctx ended.
func sleepOrWake(ctx context.Context, c clock.Clock, d time.Duration, wake <-chan struct{}) error {
	if wake == nil {
		return c.Sleep(ctx, d)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-wake:
			cancel()
		case <-sctx.Done():
		}
	}()
	err := c.Sleep(sctx, d)
	if ctx.Err() != nil {
		return err
	}
	return nil
}

// sourceTS returns the source_ts a mapper set on a record, or zero.
func sourceTS(rec map[string]any) time.Time {
	t, _ := rec["source_ts"].(time.Time)
	return t
}
