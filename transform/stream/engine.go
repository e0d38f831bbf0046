package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/state"
)

// engineConfig configures an engine.
type engineConfig struct {
	brokers    []string
	clientOpts []kgo.Opt
	// group is the consumer group of every instance of the stage.
	group string
	// instanceID names this instance: its static group membership
	// (group.instance.id) and, by default, its transactional id.
	instanceID string
	// transactionalID is this instance's; default <group>-<instanceID>.
	transactionalID string
	// stateDir holds the instance's stores.
	stateDir string
	// cacheBytes bounds the stores' memory (state.Options.CacheBytes).
	cacheBytes int64
	log        zerolog.Logger
	// beforeTxn, if set, runs before every poll's transaction (and every
	// pollInterval without records); it reports whether the tasks' tick
	// has work even if no record arrived.
	beforeTxn func() (work bool, err error)
	// onCommit, if set, is called after every committed transaction with
	// the records consumed and those produced per output topic (without
	// the prefix; internal topics and changelogs excluded).
	onCommit func(consumed int, outputs map[string]int)
	// onAbort, if set, is called after a transaction aborted.
	onAbort func()
	// maxRecords bounds the records of one poll, and so of one
	// transaction; 0 for no bound.
	maxRecords int
	// onRestore, if set, is called after stores were restored.
	onRestore func(stats []state.RestoreStats, took time.Duration)
	// onTasks, if set, is called with the tasks added (n > 0) or removed
	// (n < 0) per sub-topology.
	onTasks func(sub string, n int)
}

// ticker is a processor with work of its own at the start of every
// transaction (a facts task reacting to link changes).
type ticker interface {
	tick(ctx context.Context, emit emitFunc) error
	// busy reports whether the processor has work of its own left for
	// the next transactions (a relink spread over them): they run at
	// once, without waiting for records.
	busy() bool
}

// busy reports whether a task is busy (ticker.busy).
func busy(tasks map[taskID]*task) bool {
	for _, t := range tasks {
		if tk, ok := t.proc.(ticker); ok && tk.busy() {
			return true
		}
	}
	return false
}

// noWait is the nil context with which franz-go's PollRecords returns at
// once with the records already buffered (documented).
var noWait context.Context

// flusher is a processor that batches its work and completes it at the end
// of every transaction, before the stores' writes become changelog records.
type flusher interface {
	flush(ctx context.Context, emit emitFunc) error
}

// endTimeout bounds how long ending a transaction may take.
const endTimeout = 30 * time.Second

// transactionTimeout is the producer's transaction.timeout.ms: a
// crashed instance's open transaction holds back the read_committed
// consumers of its partitions (the next steps' tasks, their restores)
// until the broker aborts it, or until the instance restarts and fences
// it. Kafka Streams sets 10 s under exactly-once; twice that leaves room
// for a machine that stalls (a transaction the broker timed out fails the
// instance with INVALID_PRODUCER_EPOCH), and the poll's bound adapts so
// that a transaction normally lasts a small part of it.
const transactionTimeout = 20 * time.Second

// txnTarget is how long a transaction should take at most: above it the
// next polls take half as many records, below a quarter of it twice as
// many, up to the configured bound.
const txnTarget = transactionTimeout / 8

// pollInterval is how long a poll waits for records before beforeTxn runs
// anyway.
const pollInterval = 500 * time.Millisecond

// engine runs a topology's tasks on this instance: it consumes the
// sources of every sub-topology in one consumer group, restores the
// stores of the tasks it is given, and processes each poll's records in
// one transaction that also carries the stores' changelog records and the
// consumed offsets.
type engine struct {
	cfg engineConfig
	top *topology

	bySource   map[string]*subTopology
	partitions map[string]int // internal topics

	db         *state.DB
	sess       *kgo.GroupTransactSession
	tasks      map[taskID]*task
	changelogs map[topicPartition]*state.Store

	mu      sync.Mutex
	changes []assignment // by the group, in order, not yet handled
	// assigned are the partitions the group gave this instance whose
	// tasks are not created yet.
	assigned map[topicPartition]bool

	lastPurge time.Time
	ensured   bool
}

type taskID struct {
	sub       string
	partition int32
}

func (t taskID) String() string { return fmt.Sprintf("%s-%d", t.sub, t.partition) }

type topicPartition struct {
	topic     string
	partition int32
}

// assignment is a partition the group assigned or took away.
type assignment struct {
	tp       topicPartition
	assigned bool
}

type task struct {
	id    taskID
	store *state.Store
	proc  processor
}

// purgeInterval is how often the engine deletes the repartition records
// it has committed.
const purgeInterval = 30 * time.Second

func newEngine(cfg engineConfig, top *topology) (*engine, error) {
	var errs []error
	if len(cfg.brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if cfg.group == "" {
		errs = append(errs, errors.New("no consumer group"))
	}
	if cfg.instanceID == "" {
		errs = append(errs, errors.New("no instance id"))
	}
	if cfg.stateDir == "" {
		errs = append(errs, errors.New("no state directory"))
	}
	if err := top.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	if cfg.transactionalID == "" {
		cfg.transactionalID = cfg.group + "-" + cfg.instanceID
	}
	e := &engine{cfg: cfg, top: top, bySource: map[string]*subTopology{}, partitions: top.internalPartitions()}
	for _, s := range top.subs {
		for _, src := range top.sources(s) {
			e.bySource[src] = s
		}
	}
	return e, nil
}

// run runs the engine until ctx ends (nil) or an error it cannot recover
// from (the caller restarts it).
func (e *engine) run(ctx context.Context) (err error) {
	if err := e.ensureTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	e.db, err = state.Open(e.cfg.stateDir, state.Options{CacheBytes: e.cfg.cacheBytes})
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer func() { err = errors.Join(err, e.db.Close()) }()
	e.tasks, e.changelogs, e.changes, e.assigned = map[taskID]*task{}, map[topicPartition]*state.Store{}, nil, map[topicPartition]bool{}
	defer func() {
		for id := range e.tasks {
			e.countTasks(id.sub, -1)
		}
	}()

	var sources []string
	for src := range e.bySource {
		sources = append(sources, src)
	}
	internal := map[string]bool{}
	for t := range e.partitions {
		internal[t] = true
	}
	changed := func(assigned bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			e.mu.Lock()
			defer e.mu.Unlock()
			for t, ps := range m {
				for _, p := range ps {
					e.changes = append(e.changes, assignment{topicPartition{t, p}, assigned})
				}
			}
		}
	}
	onRevoked := changed(false)
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(e.cfg.brokers...),
		kgo.ConsumerGroup(e.cfg.group),
		kgo.InstanceID(e.cfg.instanceID),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ConsumeTopics(sources...),
		kgo.TransactionalID(e.cfg.transactionalID),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// An instance far behind (catching up, or after a restart)
		// holds a fetch per broker until it is polled: at franz-go's
		// default of 50 MiB a fetch, decompressed, the buffered records
		// were most of the process's memory (a heap profile of the
		// restart benchmark's catch-up: 280 of 550 MiB). A transaction
		// takes at most MaxTransactionRecords records, so 8 MiB still
		// keeps several ahead.
		kgo.FetchMaxBytes(8 << 20),
		// Transaction markers are returned, so that the offsets committed
		// step over them, as the Java consumer's position does: otherwise
		// every partition written in transactions (the inputs, the
		// repartition topics) shows a lag of one marker when idle.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(partitioner{internal: internal, def: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsRevoked(onRevoked),
		kgo.OnPartitionsLost(onRevoked),
		kgo.OnPartitionsAssigned(changed(true)),
	}, e.cfg.clientOpts...)
	e.sess, err = kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("stream: kafka client: %w", err)
	}
	defer e.sess.Close()
	// Fence the previous incarnation of this instance first: its open
	// transaction is aborted now, not when it times out, so the restores
	// (which wait for the changelogs' open transactions) go on at once.
	if _, _, err := e.sess.Client().ProducerID(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("stream: init producer id: %w", err)
	}
	e.cfg.log.Info().Str("instance", e.cfg.instanceID).Str("transactional_id", e.cfg.transactionalID).
		Str("state_dir", e.cfg.stateDir).Msg("stream engine started")
	limit := e.cfg.maxRecords
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		busy := busy(e.tasks)
		switch {
		case busy:
			// A task has work left: the records buffered go with it,
			// none are waited for.
			pctx = noWait
		case e.cfg.beforeTxn != nil:
			pctx, cancel = context.WithTimeout(ctx, pollInterval)
		}
		var fetches kgo.Fetches
		if limit > 0 {
			fetches = e.sess.PollRecords(pctx, limit)
		} else {
			fetches = e.sess.PollFetches(pctx)
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("stream: kafka client closed")
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			var session *kgo.ErrGroupSession
			switch {
			case errors.Is(err, context.DeadlineExceeded):
			case errors.As(err, &session) && !errors.Is(err, kerr.FencedInstanceID):
				// Informational (a broker outage outlived the session):
				// the client rejoins by itself and the session aborted
				// the open transaction; a restart would only rejoin too.
				e.cfg.log.Warn().Err(err).Msg("consumer group session lost; rejoining")
			default:
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s[%d]: %w", t, p, err))
			}
		})
		if ferr != nil {
			return fmt.Errorf("stream: %w", ferr)
		}
		e.applyAssignments()
		// A task assigned is created and restored at once, not when its
		// first record arrives: a facts task must react to link changes
		// even when its partition is quiet.
		work := fetches.NumRecords() > 0 || len(e.assigned) > 0 || busy
		if e.cfg.beforeTxn != nil {
			w, err := e.cfg.beforeTxn()
			if err != nil {
				return err
			}
			work = work || w
		}
		if !work {
			continue
		}
		if err := e.prepare(ctx, fetches); err != nil {
			return err
		}
		began := time.Now()
		if err := e.transact(ctx, fetches); err != nil {
			return err
		}
		limit = adaptLimit(limit, e.cfg.maxRecords, time.Since(began))
		e.purge(ctx)
	}
}

// adaptLimit returns the records the next poll may take after a
// transaction of limit records took took: half when it took longer than
// txnTarget (a loaded machine, a large flush), twice when it was quick,
// within [minPollRecords, bound]. bound 0 means no bound.
func adaptLimit(limit, bound int, took time.Duration) int {
	switch {
	case bound <= 0:
		return 0
	case took > txnTarget:
		return max(limit/2, min(minPollRecords, bound))
	case took < txnTarget/4:
		return min(limit*2, bound)
	}
	return limit
}

// minPollRecords is the least a poll takes when transactions are slow.
const minPollRecords = 50

func (e *engine) ensureTopics(ctx context.Context) error {
	if e.ensured {
		return nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.cfg.brokers...)}, e.cfg.clientOpts...)...)
	if err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	defer cl.Close()
	if err := e.top.ensure(ctx, kadm.NewClient(cl)); err != nil {
		return fmt.Errorf("stream: ensure topics: %w", err)
	}
	e.ensured = true
	return nil
}

// applyAssignments takes the group's changes in order: a partition
// assigned waits in e.assigned for prepare to create its task; a task
// whose partition the group took away is closed. Its store stays on disk:
// if the task comes back, it restores from its checkpoint.
func (e *engine) applyAssignments() {
	e.mu.Lock()
	changes := e.changes
	e.changes = nil
	e.mu.Unlock()
	for _, c := range changes {
		tp := c.tp
		if c.assigned {
			if e.bySource[tp.topic] != nil {
				e.assigned[tp] = true
			}
			continue
		}
		delete(e.assigned, tp)
		s := e.bySource[tp.topic]
		if s == nil {
			continue
		}
		id := taskID{s.name, tp.partition}
		t := e.tasks[id]
		if t == nil {
			continue
		}
		delete(e.tasks, id)
		e.countTasks(id.sub, -1)
		if t.store != nil {
			delete(e.changelogs, topicPartition{e.top.changelogTopic(s.store), tp.partition})
			e.db.Drop(t.store.Name())
		}
		e.cfg.log.Debug().Str("task", id.String()).Msg("task revoked")
	}
}

func (e *engine) countTasks(sub string, n int) {
	if e.cfg.onTasks != nil {
		e.cfg.onTasks(sub, n)
	}
}

// prepare creates the tasks of the partitions assigned and of the fetched
// records that this instance does not run yet, and restores their stores
// before any of them processes a record.
func (e *engine) prepare(ctx context.Context, fetches kgo.Fetches) error {
	var restore []*state.Store
	var created []taskID
	create := func(topic string, partition int32) {
		s := e.bySource[topic]
		if s == nil {
			return
		}
		id := taskID{s.name, partition}
		if e.tasks[id] != nil {
			return
		}
		t := &task{id: id}
		if s.store != "" {
			changelog := e.top.changelogTopic(s.store)
			t.store = e.db.Store(id.String(), changelog, partition)
			e.changelogs[topicPartition{changelog, partition}] = t.store
			restore = append(restore, t.store)
		}
		t.proc = s.newTask(partition, t.store)
		e.tasks[id] = t
		e.countTasks(id.sub, 1)
		created = append(created, id)
	}
	for tp := range e.assigned {
		create(tp.topic, tp.partition)
	}
	clear(e.assigned)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			create(p.Topic, p.Partition)
		}
	})
	if len(restore) == 0 {
		return nil
	}
	start := time.Now()
	stats, err := e.db.Restore(ctx, append([]kgo.Opt{kgo.SeedBrokers(e.cfg.brokers...)}, e.cfg.clientOpts...), restore...)
	if err != nil {
		// The tasks are not usable; they are created again next time.
		for _, id := range created {
			delete(e.tasks, id)
			e.countTasks(id.sub, -1)
		}
		return fmt.Errorf("stream: restore: %w", err)
	}
	if e.cfg.onRestore != nil {
		e.cfg.onRestore(stats, time.Since(start))
	}
	for _, st := range stats {
		ev := e.cfg.log.Info().Str("task", st.Store).Int64("from", st.From).Int64("to", st.To).Int("records", st.Records)
		if st.Reason != "" {
			ev = ev.Str("full_restore", st.Reason)
		}
		ev.Dur("took", time.Since(start)).Msg("task restored")
	}
	return nil
}

// transact processes the fetched records in one transaction.
func (e *engine) transact(ctx context.Context, fetches kgo.Fetches) error {
	if err := e.sess.Begin(); err != nil {
		return fmt.Errorf("stream: begin transaction: %w", err)
	}
	var (
		mu      sync.Mutex
		prodErr error
		outputs = map[string]int{}
	)
	promise := func(r *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if prodErr == nil {
				prodErr = fmt.Errorf("produce %s: %w", r.Topic, err)
			}
			mu.Unlock()
		}
	}
	emit := func(topic string, internal bool, key, value []byte, headers ...kgo.RecordHeader) {
		r := &kgo.Record{Key: key, Value: value, Headers: headers}
		if internal {
			r.Topic = e.top.repartitionTopic(topic)
			r.Partition = partitionOf(key, e.partitions[r.Topic])
		} else {
			r.Topic = e.top.prefix + topic
			outputs[topic]++
		}
		e.sess.Produce(ctx, r, promise)
	}
	var procErr error
	consumed := 0
	for _, id := range e.taskOrder() {
		if tk, ok := e.tasks[id].proc.(ticker); ok && procErr == nil {
			if err := tk.tick(ctx, emit); err != nil {
				procErr = fmt.Errorf("stream: task %s: %w", id, err)
			}
		}
	}
	fetches.EachRecord(func(r *kgo.Record) {
		if procErr != nil || r.Attrs.IsControl() {
			return
		}
		s := e.bySource[r.Topic]
		t := e.tasks[taskID{s.name, r.Partition}]
		consumed++
		if err := t.proc.process(ctx, r, emit); err != nil {
			procErr = fmt.Errorf("stream: task %s, %s[%d]@%d: %w", t.id, r.Topic, r.Partition, r.Offset, err)
		}
	})
	if procErr == nil {
		procErr = e.flush(ctx, emit)
	}
	if procErr == nil {
		for _, r := range e.db.TakeChangelog() {
			st := e.changelogs[topicPartition{r.Topic, r.Partition}]
			e.sess.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err == nil {
					st.Produced(r.Offset)
				}
				promise(r, err)
			})
		}
	}
	if procErr == nil && crashBeforeEnd != nil {
		if err := crashBeforeEnd(); err != nil {
			return err
		}
	}
	try := kgo.TryCommit
	if procErr != nil {
		try = kgo.TryAbort
	}
	// End even when ctx is done (shutting down): a transaction left open
	// holds back every read_committed consumer of its partitions until
	// the broker times it out.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	committed, err := e.sess.End(endCtx, try)
	mu.Lock()
	defer mu.Unlock()
	switch {
	case err == nil && committed && prodErr == nil:
		if err := e.db.Commit(); err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		if e.cfg.onCommit != nil {
			e.cfg.onCommit(consumed, outputs)
		}
		return nil
	case ctx.Err() != nil:
		e.abort()
		return nil
	case err != nil:
		e.abort()
		return fmt.Errorf("stream: end transaction: %w", err)
	case procErr != nil:
		e.abort()
		return procErr
	case prodErr != nil:
		e.abort()
		return fmt.Errorf("stream: %w", prodErr)
	}
	// Aborted by a rebalance: the session rewound to the committed
	// offsets, and the stores forget the transaction's writes.
	e.cfg.log.Debug().Msg("transaction aborted by a rebalance")
	e.abort()
	return nil
}

// flush ends the batched work of every task (in task order).
func (e *engine) flush(ctx context.Context, emit emitFunc) error {
	for _, id := range e.taskOrder() {
		if f, ok := e.tasks[id].proc.(flusher); ok {
			if err := f.flush(ctx, emit); err != nil {
				return fmt.Errorf("stream: task %s: %w", id, err)
			}
		}
	}
	return nil
}

// taskOrder returns the ids of the tasks by sub-topology, then partition.
func (e *engine) taskOrder() []taskID { return taskOrder(e.tasks) }

func taskOrder(tasks map[taskID]*task) []taskID {
	return slices.SortedFunc(maps.Keys(tasks), func(a, b taskID) int {
		return cmp.Or(strings.Compare(a.sub, b.sub), cmp.Compare(a.partition, b.partition))
	})
}

// abort drops the transaction's writes from the stores and the tasks'
// caches.
func (e *engine) abort() {
	if e.cfg.onAbort != nil {
		e.cfg.onAbort()
	}
	e.db.Abort()
	for _, t := range e.tasks {
		t.proc.reset()
	}
}

// purge deletes the records of the repartition topics below the offsets
// this instance committed, as Kafka Streams purges its repartition
// topics: they are consumed exactly once, and their facts are in the
// stores. Failure only delays it.
func (e *engine) purge(ctx context.Context) {
	if time.Since(e.lastPurge) < purgeInterval {
		return
	}
	e.lastPurge = time.Now()
	del := kadm.Offsets{}
	for t, ps := range e.sess.Client().CommittedOffsets() {
		if !strings.HasSuffix(t, "-repartition") || e.partitions[t] == 0 {
			continue
		}
		for p, o := range ps {
			del.Add(kadm.Offset{Topic: t, Partition: p, At: o.Offset})
		}
	}
	if len(del) == 0 {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(e.sess.Client()).DeleteRecords(pctx, del); err != nil {
		e.cfg.log.Debug().Err(err).Msg("purging repartition topics")
	}
}
