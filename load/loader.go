// Package load moves change records from Kafka into ClickHouse exactly once
// in effect: it consumes the topics in a consumer group, decodes the Avro
// values, maps them to the columns package tables defines, inserts them in
// deterministic batches with an insert_deduplication_token, and commits
// offsets only after ClickHouse acknowledged. It also owns the table
// migrations (migrations/*.sql) and the dead letters.
package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shopstream/shopstream/internal/retry"
	"github.com/shopstream/shopstream/load/tables"
)

// Decoder decodes a Confluent wire-format value (schemas.Serde). Errors
// matching schemas.ErrBadHeader, ErrUnknownSchemaID or ErrUndecodable are
// poison; any other error is retried.
type Decoder interface {
	Decode(ctx context.Context, b []byte) (map[string]any, error)
}

// BatchConn is what the loader needs from a ClickHouse connection.
type BatchConn interface {
	PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error)
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// Options configure a Loader.
type Options struct {
	// Brokers are the Kafka seed brokers; KafkaOpts add client options
	// (authentication, TLS).
	Brokers   []string
	KafkaOpts []kgo.Opt
	// Group is the consumer group.
	Group string
	// Topics to load; empty means every topic that has a table.
	Topics []string
	// TopicPrefix is prepended to every topic name in Kafka (environments
	// or tenants sharing a cluster); table names do not change.
	TopicPrefix string
	// HTTP says the connection uses the HTTP protocol, where the loader
	// passes the column types itself instead of a DESCRIBE per batch.
	HTTP bool
	// BatchRows and BatchBytes cut a partition's batch; MaxWait cuts a
	// smaller one when records wait longer than that.
	BatchRows  int
	BatchBytes int
	MaxWait    time.Duration
	// MaxInFlight bounds the batches cut and not yet committed, over all
	// partitions; when reached, fetching pauses.
	MaxInFlight int
	// Migrate applies the migrations (Migrate) when an incarnation starts,
	// once the warehouse answers; the connection must be a DDLConn too.
	Migrate bool
	Log     zerolog.Logger
	Metrics *Metrics
}

// Loader loads topics into ClickHouse; see the package documentation.
type Loader struct {
	opts Options
	dec  Decoder
	conn BatchConn
	ddl  DDLConn // conn, when Options.Migrate
	cl   *kgo.Client
	adm  *kadm.Client
	// clientSet is closed once cl and adm are set. The group join starts
	// inside kgo.NewClient, so a partition-assigned callback can run before
	// Run has stored the client; it waits on this instead of reading nil.
	clientSet chan struct{}
	tables    map[string]*tables.Table
	topics    []string // data topics
	dlqTopics []string // their dead-letter topics
	m         *Metrics
	log       zerolog.Logger
	// warehouse and brokers track outages across incarnations.
	warehouse, brokers *dependency

	// rowDecoders caches a *tables.RowDecoder (nil: the goavro path) per
	// rowDecoderKey.
	rowDecoders sync.Map

	inflight atomic.Int64
	slot     chan struct{} // signalled when a batch is committed or dropped

	mu    sync.Mutex
	parts map[tp]*partState

	fatalOnce sync.Once
	fatalErr  error
	fatalCh   chan struct{}

	// running guards against concurrent Runs; closed is set by Close.
	running, closed atomic.Bool
}

type tp struct {
	topic     string
	partition int32
}

// partState is one assigned partition: its builder and its insert worker.
type partState struct {
	tp
	tbl    *tables.Table
	bd     builder
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	qmu    sync.Mutex
	queue  []*batch
	wake   chan struct{}
	queued atomic.Int64 // batches queued or being inserted
}

// Validate reports every problem of the options at once.
func (opts Options) Validate() error {
	var errs []error
	if opts.Group == "" || len(opts.Brokers) == 0 {
		errs = append(errs, errors.New("load: a consumer group and brokers are required"))
	}
	if opts.BatchRows <= 0 || opts.BatchBytes <= 0 || opts.MaxWait <= 0 || opts.MaxInFlight <= 0 {
		errs = append(errs, errors.New("load: batch rows, batch bytes, max wait and max in-flight must be positive"))
	}
	for _, topic := range opts.Topics {
		if _, err := tables.ForTopic(topic); err != nil {
			errs = append(errs, fmt.Errorf("load: %w", err))
		}
	}
	return errors.Join(errs...)
}

// New validates the options and prepares a loader. Run starts an
// incarnation (and may be called again after it returned); Close releases
// the loader whether or not it ran.
func New(opts Options, dec Decoder, conn BatchConn) (*Loader, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	l := &Loader{
		opts: opts, dec: dec, conn: conn, m: opts.Metrics, log: opts.Log,
		tables:    map[string]*tables.Table{},
		warehouse: newDependency("warehouse", opts.Log, opts.Metrics.warehouseUp),
		brokers:   newDependency("kafka brokers", opts.Log, opts.Metrics.brokersUp),
	}
	if opts.Migrate {
		ddl, ok := conn.(DDLConn)
		if !ok {
			return nil, errors.New("load: migrations need a connection that executes DDL")
		}
		l.ddl = ddl
	}
	topics := opts.Topics
	if len(topics) == 0 {
		all, err := tables.All()
		if err != nil {
			return nil, err
		}
		for _, t := range all {
			topics = append(topics, t.Topic)
		}
	}
	for _, topic := range topics {
		t, err := tables.ForTopic(topic)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		l.tables[opts.TopicPrefix+topic] = t
		l.topics = append(l.topics, opts.TopicPrefix+topic)
	}
	l.dlqTopics = dlqTopics(l.topics)
	return l, nil
}

// Run consumes until ctx ends (then it returns nil) or an error that no
// retry can fix stops it (then it returns the error: restart me). It waits
// for the warehouse, applies the migrations (Options.Migrate) and checks
// the tables first.
//
// Outages are ridden out in place, not by returning: while the warehouse
// is away (at start or later) Run keeps its group membership and its
// batches and retries with backoff, committing nothing it has not
// inserted; while no broker answers, the Kafka client retries (a restart
// would not bring a broker back; the client resolves the seed brokers
// again by itself). What returns an error is what a restart fixes: this
// member fenced by another with its instance id, or what no retry fixes (a table that does not match the
// schemas, a record with a field no column holds).
//
// Run may be called again after it returned, each call an incarnation of
// its own (a new group member; the committed offsets say where to resume),
// but not concurrently, and not after Close.
func (l *Loader) Run(ctx context.Context) error {
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("load: Run called while the loader runs")
	}
	defer l.running.Store(false)
	if l.closed.Load() {
		return errors.New("load: Run called after Close")
	}
	l.reset()
	if err := l.prepareTables(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	if err := l.ensureDLQTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(l.opts.Brokers...),
		kgo.ConsumerGroup(l.opts.Group),
		kgo.ConsumeTopics(l.consumed()...),
		kgo.DisableAutoCommit(),
		// Records polled together are handled before a rebalance can take
		// their partitions away: no record is ever added to the batch of a
		// partition this member no longer owns.
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take an offset each. Seeing them (and
		// skipping them) lets the lag gauge reach 0 at the end of a
		// transactionally written partition instead of staying at 1.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(l.assigned),
		kgo.OnPartitionsRevoked(l.revoked),
		kgo.OnPartitionsLost(l.revoked),
		// Fetch buffers are part of the memory bound.
		kgo.FetchMaxBytes(int32(min(4*l.opts.BatchBytes, 64<<20))),
		kgo.FetchMaxPartitionBytes(int32(min(l.opts.BatchBytes, 16<<20))),
		kgo.ProducerLinger(0),
		kgo.WithHooks(brokerHook{l.brokers}),
	}, l.opts.KafkaOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("load: kafka client: %w", err)
	}
	l.cl, l.adm = cl, kadm.NewClient(cl)
	close(l.clientSet)
	defer func() {
		// Leaving the group revokes every partition: workers stop, nothing
		// uncommitted is committed.
		cl.Close()
	}()
	l.log.Info().Strs("topics", l.topics).Str("group", l.opts.Group).Msg("loader started")
	err = l.poll(ctx)
	if ferr := l.fatal(); ferr != nil {
		return ferr
	}
	return err
}

// reset gives an incarnation fresh per-run state.
func (l *Loader) reset() {
	l.cl, l.adm = nil, nil
	l.clientSet = make(chan struct{})
	l.slot = make(chan struct{}, 1)
	l.parts = map[tp]*partState{}
	l.inflight.Store(0)
	l.fatalOnce = sync.Once{}
	l.fatalErr = nil
	l.fatalCh = make(chan struct{})
}

// Close releases the loader. Each Run closes its own Kafka client before it
// returns, so there is nothing left to release; Close only makes later Run
// calls fail. It is idempotent and safe whether or not Run ran.
func (l *Loader) Close() error {
	l.closed.Store(true)
	return nil
}

func (l *Loader) poll(ctx context.Context) error {
	tick := min(l.opts.MaxWait/2, 200*time.Millisecond)
	paused := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.fatalCh:
			return nil
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, tick)
		fetches := l.cl.PollRecords(pctx, 4*l.opts.BatchRows)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		if err := l.fetchErrors(fetches); err != nil {
			return err
		}
		now := time.Now()
		l.mu.Lock()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := l.parts[tp{fp.Topic, fp.Partition}]
			if len(fp.Records) == 0 {
				return
			}
			if p == nil {
				// BlockRebalanceOnPoll makes this impossible: records only
				// come for partitions assigned and not yet revoked. Dropping
				// them silently would lose them, so say so loudly.
				l.log.Error().Str("topic", fp.Topic).Int32("partition", fp.Partition).Int("records", len(fp.Records)).
					Msg("records for a partition this loader does not own; not loaded")
				return
			}
			for _, r := range fp.Records {
				if r.Attrs.IsControl() {
					continue
				}
				for _, b := range p.bd.add(r, now) {
					l.enqueue(p, b)
				}
			}
			if n := len(fp.Records); n > 0 {
				l.m.lag.WithLabelValues(fp.Topic, strconv.Itoa(int(fp.Partition))).Set(float64(fp.HighWatermark - fp.Records[n-1].Offset - 1))
			}
		})
		for _, p := range l.parts {
			if p.queued.Load() == 0 && p.bd.due(now, l.opts.MaxWait) {
				l.enqueue(p, p.bd.take(true))
			}
		}
		l.mu.Unlock()

		full := l.inflight.Load() >= int64(l.opts.MaxInFlight)
		switch {
		case full && !paused:
			l.cl.PauseFetchTopics(l.consumed()...)
			paused = true
			l.m.paused.Set(1)
			l.log.Debug().Int64("in_flight", l.inflight.Load()).Msg("fetching paused: too many batches in flight")
		case !full && paused:
			l.cl.ResumeFetchTopics(l.consumed()...)
			paused = false
			l.m.paused.Set(0)
			l.log.Debug().Msg("fetching resumed")
		}
		l.cl.AllowRebalance()
		if paused {
			// Nothing to fetch: wait for a batch to finish (or the clock, so
			// time cuts still happen).
			select {
			case <-ctx.Done():
				return nil
			case <-l.fatalCh:
				return nil
			case <-l.slot:
			case <-time.After(tick):
			}
		}
	}
}

// enqueue hands b to its partition's worker. l.mu is held.
func (l *Loader) enqueue(p *partState, b *batch) {
	p.queued.Add(1)
	l.m.inFlight.Set(float64(l.inflight.Add(1)))
	p.qmu.Lock()
	p.queue = append(p.queue, b)
	p.qmu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// release accounts for n batches that left the pipeline.
func (l *Loader) release(p *partState, n int64) {
	p.queued.Add(-n)
	l.m.inFlight.Set(float64(l.inflight.Add(-n)))
	select {
	case l.slot <- struct{}{}:
	default:
	}
}

// assigned starts a worker per new partition. A pending time cut recorded in
// the commit metadata is restored so the first batch is re-formed exactly.
func (l *Loader) assigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	select {
	case <-l.clientSet:
	case <-ctx.Done():
		return
	}
	cuts := map[tp]int64{}
	offs, err := l.adm.FetchOffsets(ctx, l.opts.Group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		// Without the metadata a pending time cut could be re-formed
		// differently; that is the one case the current-state tables'
		// versions absorb. Losing the group is worse, so carry on.
		l.log.Error().Err(err).Msg("read commit metadata; a pending time-cut batch may be re-formed differently")
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if c := parseCutMetadata(o.Metadata); c >= 0 {
			cuts[tp{o.Topic, o.Partition}] = c
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, ps := range assigned {
		for _, partition := range ps {
			key := tp{topic, partition}
			if l.parts[key] != nil {
				continue
			}
			pctx, cancel := context.WithCancel(context.Background())
			pending, ok := cuts[key]
			if !ok {
				pending = -1
			}
			p := &partState{
				tp: key, tbl: l.tables[topic], ctx: pctx, cancel: cancel,
				done: make(chan struct{}), wake: make(chan struct{}, 1),
				bd: builder{topic: topic, partition: partition, pendingCut: pending,
					cut: cutter{rows: l.opts.BatchRows, bytes: l.opts.BatchBytes}},
			}
			l.parts[key] = p
			go l.work(p)
			l.log.Info().Str("topic", topic).Int32("partition", partition).Int64("pending_cut", pending).Msg("partition assigned")
		}
	}
}

// revoked stops the workers of partitions this member lost. Uncommitted
// batches are dropped, not committed: the next owner re-reads them from the
// last commit and re-forms the same batches, and ClickHouse drops the ones
// that did land.
func (l *Loader) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, ps := range revoked {
		for _, partition := range ps {
			key := tp{topic, partition}
			p := l.parts[key]
			if p == nil {
				continue
			}
			p.cancel()
			<-p.done
			l.release(p, p.queued.Load())
			delete(l.parts, key)
			l.log.Info().Str("topic", topic).Int32("partition", partition).Msg("partition revoked")
		}
	}
}

// decoded is a batch ready to insert, or the error that stopped decoding.
// A dead-letter topic's batch has rows for dead_letters and replayed rows.
type decoded struct {
	b        *batch
	rows     [][]any
	dead     []deadRecord
	replayed [][]any
	sourceTS []time.Time
	err      error
}

// work loads one partition's batches in order, committing after each. Two
// stages overlap: while a batch is inserted (ClickHouse's work) the next is
// decoded (ours); the unbuffered hand-over keeps at most one decoded batch
// waiting, which bounds memory.
func (l *Loader) work(p *partState) {
	defer close(p.done)
	ctx, cancel := context.WithCancel(p.ctx)
	ready := make(chan decoded)
	decoderDone := make(chan struct{})
	go func() {
		defer close(decoderDone)
		l.decodeStage(ctx, p, ready)
	}()
	defer func() {
		cancel()
		<-decoderDone
	}()
	for {
		var d decoded
		select {
		case <-ctx.Done():
			return
		case d = <-ready:
		}
		err := d.err
		switch {
		case err != nil:
		case p.tbl == nil:
			err = l.loadDLQBatch(ctx, d)
		default:
			err = l.load(ctx, p.tbl, d)
		}
		if err != nil {
			if p.ctx.Err() != nil {
				return
			}
			l.setFatal(err)
			return
		}
		l.release(p, 1)
	}
}

// decodeStage decodes p's queued batches in order and hands them to ready.
func (l *Loader) decodeStage(ctx context.Context, p *partState, ready chan<- decoded) {
	for {
		p.qmu.Lock()
		var b *batch
		if len(p.queue) > 0 {
			b = p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
		}
		p.qmu.Unlock()
		if b == nil {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		d := decoded{b: b}
		if p.tbl == nil {
			d.rows, d.replayed = l.decodeDLQBatch(b)
		} else {
			d.rows, d.dead, d.sourceTS, d.err = l.decodeBatch(ctx, p.tbl, b)
		}
		select {
		case <-ctx.Done():
			return
		case ready <- d:
		}
		if d.err != nil {
			return
		}
	}
}

// load finishes one decoded batch: write-ahead of a time cut, dead letters,
// insert, commit. It returns only when all of that succeeded, ctx ended, or
// an error no retry can fix occurred.
func (l *Loader) load(ctx context.Context, tbl *tables.Table, d decoded) error {
	b := d.b
	if b.timeCut {
		if err := l.commit(ctx, tbl.Raw, b, b.first(), cutMetadata(b.last())); err != nil {
			return err
		}
	}
	if len(d.dead) > 0 {
		if err := l.deadLetter(ctx, tbl, b, d.dead); err != nil {
			return err
		}
		l.log.Warn().Str("table", tbl.Raw).Str("batch_id", b.token()).Int("dead_letters", len(d.dead)).Msg("records dead-lettered")
	}
	if len(d.rows) > 0 {
		start := time.Now()
		if err := l.insertRetrying(ctx, tbl, b, d.rows); err != nil {
			return err
		}
		ack := time.Now()
		l.m.insertSecs.WithLabelValues(tbl.Raw).Observe(ack.Sub(start).Seconds())
		l.m.rows.WithLabelValues(tbl.Raw).Add(float64(len(d.rows)))
		l.m.bytes.WithLabelValues(tbl.Raw).Add(float64(b.bytes))
		l.m.batchRows.WithLabelValues(tbl.Raw).Observe(float64(len(d.rows)))
		fresh := l.m.freshness.WithLabelValues(tbl.Raw)
		var newest time.Time
		for _, ts := range d.sourceTS {
			fresh.Observe(ack.Sub(ts).Seconds())
			if ts.After(newest) {
				newest = ts
			}
		}
		l.m.observeNewest(tbl.Raw, newest)
	}
	return l.commit(ctx, tbl.Raw, b, b.last()+1, "")
}

// commit commits offset for b's partition, retrying until it succeeds or ctx
// ends (a lost partition cancels ctx).
func (l *Loader) commit(ctx context.Context, table string, b *batch, offset int64, meta string) error {
	last := b.recs[len(b.recs)-1]
	offsets := map[string]map[int32]kgo.EpochOffset{b.topic: {b.partition: {Epoch: last.LeaderEpoch, Offset: offset}}}
	cctx := kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			for j := range req.Topics[i].Partitions {
				m := meta
				req.Topics[i].Partitions[j].Metadata = &m
			}
		}
		return nil
	})
	return retryOp(ctx, l.m.retries.WithLabelValues(table, "commit"), nil, l.log, "commit offset", func() error {
		var cerr error
		l.cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if e := kerrOf(p.ErrorCode); e != nil {
						cerr = e
					}
				}
			}
		})
		if cerr != nil {
			cerr = fmt.Errorf("commit %s/%d at %d: %w", b.topic, b.partition, offset, cerr)
			if errors.Is(cerr, kerr.FencedInstanceID) {
				// Another member took this one's instance id: committing
				// again cannot succeed, and the batch is that member's now.
				return cerr
			}
			return retry.Retryable(cerr)
		}
		return nil
	})
}

// prepareTables waits until the warehouse answers, applies the migrations
// (Options.Migrate) and checks the tables: an outage of the warehouse at
// start is waited out like one later, in place. A table that does not
// match is an error at once.
func (l *Loader) prepareTables(ctx context.Context) error {
	return l.warehouseOp(ctx, "all", "prepare", l.log, func() error {
		if l.opts.Migrate {
			applied, err := Migrate(ctx, l.ddl, MigrateOptions{})
			if err != nil {
				err = fmt.Errorf("load: migrate: %w", err)
				if unreachable(err) {
					return retry.Retryable(err)
				}
				return err
			}
			if len(applied) > 0 {
				l.log.Info().Strs("migrations", applied).Msg("migrations applied")
			}
		}
		err := l.checkTables(ctx)
		var mismatch *tablesMismatchError
		if unreachable(err) && !errors.As(err, &mismatch) {
			return retry.Retryable(err)
		}
		return err
	})
}

// tablesMismatchError lists the tables whose columns differ from what the
// loader writes.
type tablesMismatchError struct{ err error }

func (e *tablesMismatchError) Error() string {
	return fmt.Sprintf("load: tables do not match the schemas:\n%v", e.err)
}
func (e *tablesMismatchError) Unwrap() error { return e.err }

// fetchErrors sorts the errors a poll returned. The client retries
// unreachable brokers and rejoins a lost group session by itself: a lost
// session is logged (its partitions were revoked, their uncommitted
// batches will be re-read), being fenced by another member with this
// one's instance id ends the incarnation, and other errors are logged
// unless the brokers are known to be away (that outage is logged once).
func (l *Loader) fetchErrors(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		var session *kgo.ErrGroupSession
		switch {
		case errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled):
		case errors.Is(fe.Err, kerr.FencedInstanceID):
			return fmt.Errorf("load: fenced by another member with this instance id: %w", fe.Err)
		case errors.As(fe.Err, &session):
			l.log.Warn().Err(fe.Err).Msg("consumer group session lost; rejoining")
		default:
			if down, _ := l.brokers.downFor(); down == 0 {
				l.log.Warn().Err(fe.Err).Str("topic", fe.Topic).Int32("partition", fe.Partition).Msg("fetch error")
			}
		}
	}
	return nil
}

// checkTables compares every table the loader writes with the columns it
// writes, so a missing migration stops the loader before it consumes.
func (l *Loader) checkTables(ctx context.Context) error {
	errs := []error{l.checkDeadLetterTables(ctx)}
	for _, topic := range l.topics {
		t := l.tables[topic]
		got, err := describe(ctx, l.conn, t.Raw)
		if err != nil {
			return err
		}
		for _, c := range t.Columns {
			typ, ok := got[c.Name]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("table %s has no column %s (field %s of topic %s): run shopstream migrate", t.Raw, c.Name, c.Source(), topic))
			case typ != c.Type:
				errs = append(errs, fmt.Errorf("table %s column %s is %s, the loader writes %s", t.Raw, c.Name, typ, c.Type))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &tablesMismatchError{err}
	}
	return nil
}

func describe(ctx context.Context, conn BatchConn, table string) (map[string]string, error) {
	rows, err := conn.Query(ctx, "DESCRIBE TABLE `"+table+"`")
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, typ, defType, defExpr, comment, codec, ttl string
		if err := rows.Scan(&name, &typ, &defType, &defExpr, &comment, &codec, &ttl); err != nil {
			return nil, fmt.Errorf("describe table %s: %w", table, err)
		}
		out[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	return out, nil
}

func (l *Loader) setFatal(err error) {
	l.fatalOnce.Do(func() {
		l.fatalErr = err
		close(l.fatalCh)
	})
}

func (l *Loader) fatal() error {
	select {
	case <-l.fatalCh:
		return l.fatalErr
	default:
		return nil
	}
}
