// Package stream runs the transform stage: it consumes the input topics,
// resolves product identity and joins per product and day (packages
// identity and join), and produces xchannel.product_links and
// xchannel.product_daily, in Kafka transactions that also commit the input
// offsets (franz-go GroupTransactSession, read_committed consumers).
//
// # Recovery
//
// The state is not checkpointed: at every start it is rebuilt by replaying
// the input topics from the beginning. Replay needs the input topics to keep
// their history (compacted or unlimited retention). Records below the
// group's committed offsets only rebuild state; their outputs were produced
// by an earlier run and are dropped. From the committed offsets on, outputs
// are produced in the transaction that commits the offsets. Output versions
// of a run start above the start time in microseconds, so they supersede
// what earlier runs wrote.
//
// If a transaction aborts (a rebalance), the state has moved past what was
// committed, so Run drops it and rebuilds it from the topics again.
//
// # Dead letters
//
// An input record that cannot be decoded or applied goes to its topic's
// dead-letter topic (package deadletter), in the transaction that commits
// its offset, and changes nothing. The transform also consumes those
// topics, for replay requests (`shopstream dlq replay`): it processes the
// record a request carries like a live input and writes the replayed
// marker in the same transaction as the outputs, so a dead letter is
// replayed exactly once; a request for a dead letter already replayed is
// skipped, and one that fails again leaves the dead letter open. A rebuild
// leaves out the input records that are open dead letters (read from the
// dead-letter topics first), so the state holds what the outputs show even
// when a fixed transform could now process them: their replay then
// produces the outputs.
//
// # Scaling
//
// A joined row needs every input of its product, which are keyed (and
// partitioned) differently per topic, so one instance must own every input
// partition: run one transform instance per consumer group.
package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// Serde encodes and decodes Confluent wire-format values; *schemas.Serde
// is one.
type Serde interface {
	Encode(topic string, v map[string]any) ([]byte, error)
	Decode(ctx context.Context, b []byte) (map[string]any, error)
}

// Defaults of Config.
const (
	DefaultGroup           = "shopstream-transform"
	DefaultTransactionalID = "shopstream-transform-0"
	// DefaultMaxTransactionRecords bounds the input records of one
	// transaction: a backlog (a backfill, the records that arrived during
	// a rebuild) is worked off in many short transactions, each ending
	// well within the producer's transaction timeout (franz-go's default
	// 40 s) even on a loaded machine. A transaction the broker timed out
	// fails with INVALID_PRODUCER_EPOCH and the run restarts with the same
	// backlog, so an unbounded one never got through.
	DefaultMaxTransactionRecords = 1000
)

// Config configures Run.
type Config struct {
	// Brokers are the seed brokers.
	Brokers []string
	// ClientOpts are extra client options (SASL, TLS, logger).
	ClientOpts []kgo.Opt
	// Group is the consumer group; DefaultGroup when empty.
	Group string
	// TransactionalID must be stable across restarts;
	// DefaultTransactionalID when empty.
	TransactionalID string
	// TopicPrefix is put before every topic name, input and output (e.g.
	// "tenant1." or a test's unique prefix); schemas are those of the
	// unprefixed names.
	TopicPrefix string
	// Serde encodes outputs and decodes inputs.
	Serde Serde
	// Mapping is the explicit product mapping (nil for none).
	Mapping *identity.Mapping
	// Join configures the join (reporting zone, attribution).
	Join join.Config
	// Now is the clock that sets the version floor; nil is time.Now.
	Now func() time.Time
	// MaxTransactionRecords bounds the input records a transaction
	// processes; DefaultMaxTransactionRecords when 0.
	MaxTransactionRecords int
	// OnBatch, if set, is called after every committed transaction with
	// the number of input records and outputs; for progress and tests.
	OnBatch func(inputs, outputs int)
	// Metrics, if set, counts records, rows, links, conflicts and rebuild
	// progress.
	Metrics *Metrics
	// Log receives state changes (rebuilds) at info and per-transaction
	// counts at debug; the zero Logger logs nothing. Errors are returned,
	// not logged.
	Log zerolog.Logger
}

// rebuildCheckInterval is how long a poll waits during the rebuild before
// the log bounds of partitions still being rebuilt are checked.
const rebuildCheckInterval = 2 * time.Second

// crashBeforeEnd, set by tests, runs after a transaction's outputs were
// produced and before it ends; an error stops Run as a crash would.
var crashBeforeEnd func() error

// errRestart asks Run to drop its state and rebuild it.
var errRestart = errors.New("stream: transaction aborted, rebuild state")

// Run runs the transform until ctx is done, then returns nil. Any other
// return is an error the stage cannot recover from by itself (an End error,
// a broken client): the caller should restart it.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Serde == nil || len(cfg.Brokers) == 0 {
		return errors.New("stream: config needs brokers and a serde")
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.TransactionalID == "" {
		cfg.TransactionalID = DefaultTransactionalID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTransactionRecords <= 0 {
		cfg.MaxTransactionRecords = DefaultMaxTransactionRecords
	}
	if err := ensureTopics(ctx, cfg); err != nil {
		return err
	}
	for {
		err := runOnce(ctx, cfg)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errRestart):
			cfg.Log.Info().Msg("partitions revoked or transaction aborted; rebuilding state")
			continue
		default:
			return err
		}
	}
}

// replay tracks, per input partition, the committed offset below which
// records only rebuild state, and whether the rebuild has got there.
type replay struct {
	mu    sync.Mutex
	until map[string]map[int32]int64
	done  map[string]map[int32]bool
	last  map[string]map[int32]int64 // highest offset read + 1
}

func newReplay() *replay {
	return &replay{until: map[string]map[int32]int64{}, done: map[string]map[int32]bool{}, last: map[string]map[int32]int64{}}
}

func (r *replay) set(topic string, p int32, off int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until[topic] == nil {
		r.until[topic] = map[int32]int64{}
		r.done[topic] = map[int32]bool{}
		r.last[topic] = map[int32]int64{}
	}
	r.until[topic][p] = max(r.until[topic][p], off)
}

// pending returns the topics of partitions still being rebuilt.
func (r *replay) pending() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for t, ps := range r.until {
		for p, u := range ps {
			if u > 0 && !r.done[t][p] {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// bounds marks rebuilt the partitions whose committed offset is beyond what
// the log still holds: retention deleted the records below it (start
// offset at or past it) or the topic was recreated (end offset below it).
// Without this, waiting for the record below the committed offset would
// wait forever.
func (r *replay) bounds(starts, ends kadm.ListedOffsets) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range r.until {
		for p, u := range ps {
			if u == 0 || r.done[t][p] {
				continue
			}
			s, ok1 := starts.Lookup(t, p)
			e, ok2 := ends.Lookup(t, p)
			if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
				continue
			}
			target := min(u, e.Offset)
			if s.Offset >= target || r.last[t][p] >= target {
				r.done[t][p] = true
			}
		}
	}
}

// below reports whether a record only rebuilds state.
func (r *replay) below(topic string, p int32, off int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return off < r.until[topic][p]
}

// seen records that a record (data or control) of a partition was read: once
// the one just below the committed offset has been, the partition is rebuilt.
// Control records count because the committed offset may follow one.
func (r *replay) seen(topic string, p int32, off int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.until[topic][p]; u > 0 {
		r.last[topic][p] = max(r.last[topic][p], off+1)
		if off >= u-1 {
			r.done[topic][p] = true
		}
	}
}

// remaining returns how many partitions are still being rebuilt.
func (r *replay) remaining() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for t, ps := range r.until {
		for p, u := range ps {
			if u > 0 && !r.done[t][p] {
				n++
			}
		}
	}
	return n
}

// rebuilding reports whether some partition is still being replayed.
func (r *replay) rebuilding() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range r.until {
		for p, u := range ps {
			if u > 0 && !r.done[t][p] {
				return true
			}
		}
	}
	return false
}

// clamp raises every offset of a transaction's offset commit to at least
// the committed one, so a commit never moves the group backwards.
func (r *replay) clamp(req *kmsg.TxnOffsetCommitRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range req.Topics {
		t := &req.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			p.Offset = max(p.Offset, r.until[t.Topic][p.Partition])
		}
	}
	return nil
}

func runOnce(ctx context.Context, cfg Config) error {
	proc := NewProcessor(cfg.Mapping, cfg.Join)
	proc.SetVersionFloor(versionFloor(cfg.Now()))
	rp := newReplay()
	var revoked atomic.Bool
	var own ownership
	inputs := prefixed(cfg.TopicPrefix, Topics())
	dlqs := dlqTopics(inputs)
	consumed := append(slices.Clone(inputs), dlqs...)

	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(consumed...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records tell where a rebuilt partition ends.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Rebuild: remember where the group stands, then read every
		// assigned partition from its start.
		kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			out := make(map[string]map[int32]kgo.Offset, len(offs))
			for t, ps := range offs {
				out[t] = make(map[int32]kgo.Offset, len(ps))
				for p, o := range ps {
					if eo := o.EpochOffset(); eo.Offset > 0 {
						rp.set(t, p, eo.Offset)
					}
					out[t][p] = kgo.NewOffset().AtStart()
				}
			}
			return out, nil
		}),
		// Partitions taken away mean the state holds facts this
		// instance no longer owns, and a transaction may have aborted:
		// start over.
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) { revoked.Store(true) }),
		// Partitions added later bring history the state has not seen.
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if own.assign(m) {
				revoked.Store(true)
			}
		}),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { revoked.Store(true) }),
	}, cfg.ClientOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("stream: kafka client: %w", err)
	}
	defer sess.Close()
	// Fence an earlier incarnation before reading the dead letters: its
	// open transaction is aborted, so what is read is all it wrote.
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("stream: init producer id: %w", err)
	}
	dl, err := readDeadLetters(ctx, cfg, dlqs)
	if err != nil {
		return err
	}

	// Live records read while other partitions are still being rebuilt
	// wait here: their outputs need the whole state. Once they fill a
	// transaction, their partitions are paused until the rebuild is done
	// (what was buffered of them is read again after), so that the first
	// transaction stays bounded too.
	var held []*kgo.Record
	var paused map[string][]int32
	rebuilt := false
	adm := kadm.NewClient(sess.Client())
	cfg.Metrics.rebuildStarted()
	cfg.Log.Info().Msg("rebuilding state from the input topics")
	rebuildStart, replayedTotal := time.Now(), 0
	for {
		pollCtx, cancelPoll := ctx, context.CancelFunc(func() {})
		if !rebuilt {
			// While rebuilding, look up now and then whether a partition
			// can never deliver the record the rebuild waits for.
			pollCtx, cancelPoll = context.WithTimeout(ctx, rebuildCheckInterval)
		}
		// At most one transaction's worth per poll: everything polled is
		// committed by the next transaction.
		fetches := sess.PollRecords(pollCtx, cfg.MaxTransactionRecords)
		cancelPoll()
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("stream: kafka client closed")
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) && pollCtx != ctx {
				return
			}
			fetchErr = errors.Join(fetchErr, fmt.Errorf("fetch %s[%d]: %w", t, p, err))
		})
		if fetchErr != nil {
			return fmt.Errorf("stream: %w", fetchErr)
		}
		if revoked.Load() {
			return errRestart
		}
		var live []*kgo.Record
		var rebuildErr error
		replayed := map[string]int{}
		fetches.EachRecord(func(r *kgo.Record) {
			rp.seen(r.Topic, r.Partition, r.Offset)
			switch {
			case r.Attrs.IsControl() || rebuildErr != nil:
			case rp.below(r.Topic, r.Partition, r.Offset) && (dl.isDLQ(r.Topic) || dl.isOpen(r)):
				// Replay requests below the committed offset were
				// handled by an earlier run (their markers are in dl);
				// an open dead letter was not applied then, so not now.
			case rp.below(r.Topic, r.Partition, r.Offset):
				// Outputs and dead letters of these were written by
				// an earlier run.
				var dead deadLetter
				topic := strings.TrimPrefix(r.Topic, cfg.TopicPrefix)
				if _, err := process(ctx, cfg.Serde, proc, topic, r); err != nil && !errors.As(err, &dead) {
					rebuildErr = err
				}
				replayed[topic]++
				replayedTotal++
			default:
				live = append(live, r)
			}
		})
		if rebuildErr != nil {
			return rebuildErr
		}
		if !rebuilt {
			held = append(held, live...)
			if len(held) >= cfg.MaxTransactionRecords {
				paused = partitionsOf(held)
				sess.Client().PauseFetchPartitions(paused)
			}
			if topics := rp.pending(); len(topics) > 0 {
				starts, err1 := adm.ListStartOffsets(ctx, topics...)
				ends, err2 := adm.ListEndOffsets(ctx, topics...)
				if err1 == nil && err2 == nil {
					rp.bounds(starts, ends)
				}
			}
			rebuilding := rp.rebuilding()
			cfg.Metrics.rebuildProgress(replayed, rp.remaining())
			if rebuilding {
				continue
			}
			// Produce only with the whole state: until the group has
			// given this instance every input partition (a departed
			// member's session may still hold some), hold the live records.
			if all, err := own.ownsAll(ctx, adm, consumed); err != nil || !all {
				continue
			}
			rebuilt = true
			live, held = held, nil
			if paused != nil {
				sess.Client().ResumeFetchPartitions(paused)
			}
			conflicts := len(proc.Conflicts())
			cfg.Metrics.rebuildDone(conflicts)
			cfg.Log.Info().Int("records", replayedTotal).Int("conflicts", conflicts).
				Dur("took", time.Since(rebuildStart)).Msg("state rebuilt; producing")
		} else if len(replayed) > 0 {
			cfg.Metrics.rebuildProgress(replayed, 0)
		}
		if len(live) == 0 {
			continue
		}
		if err := transact(ctx, cfg, sess, proc, rp, dl, live); err != nil {
			return err
		}
	}
}

// partitionsOf returns the partitions of records.
func partitionsOf(records []*kgo.Record) map[string][]int32 {
	out := map[string][]int32{}
	for _, r := range records {
		if !slices.Contains(out[r.Topic], r.Partition) {
			out[r.Topic] = append(out[r.Topic], r.Partition)
		}
	}
	return out
}

// transact processes live records in one transaction that also commits
// their offsets.
func transact(ctx context.Context, cfg Config, sess *kgo.GroupTransactSession, proc *Processor, rp *replay, dl *deadLetters, live []*kgo.Record) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("stream: begin transaction: %w", err)
	}
	var (
		prodMu  sync.Mutex
		prodErr error
		outputs int
		stats   = newBatchStats()
	)
	produce := func(r *kgo.Record) {
		outputs++
		stats.outputs[strings.TrimPrefix(r.Topic, cfg.TopicPrefix)]++
		sess.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				prodMu.Lock()
				// One failure fails the transaction; the first says why
				// (the rest usually repeat it record by record).
				if prodErr == nil {
					prodErr = fmt.Errorf("%s: %w", r.Topic, err)
				}
				prodMu.Unlock()
			}
		})
	}
	var batchErr error
	emit := func(out []Output) {
		for _, o := range out {
			if o.Topic == join.TopicProductDaily {
				stats.rows++
			} else {
				stats.links++
			}
			b, err := cfg.Serde.Encode(o.Topic, o.Value)
			if err != nil {
				batchErr = fmt.Errorf("stream: encode %s %s: %w", o.Topic, o.Key, err)
				return
			}
			produce(&kgo.Record{Topic: cfg.TopicPrefix + o.Topic, Key: []byte(o.Key), Value: b})
		}
	}
	for _, r := range live {
		if dl.isDLQ(r.Topic) {
			out, id, ok, err := dl.replay(ctx, cfg, proc, r, &stats)
			switch {
			case err != nil:
				batchErr = err
			case ok:
				emit(out)
				produce(deadletter.MarkerRecord(id, cfg.Now()))
			}
			if batchErr != nil {
				break
			}
			continue
		}
		topic := strings.TrimPrefix(r.Topic, cfg.TopicPrefix)
		stats.inputs[topic]++
		out, err := process(ctx, cfg.Serde, proc, topic, r)
		if err != nil {
			var dead deadLetter
			if !errors.As(err, &dead) {
				batchErr = err
				break
			}
			stats.dead[topic]++
			produce(deadletter.FromKafka(deadletter.StageTransform, r, dead.class, dead.Error(), cfg.Now()).Record(0))
			continue
		}
		emit(out)
		if batchErr != nil {
			break
		}
	}
	if batchErr == nil && crashBeforeEnd != nil {
		if err := crashBeforeEnd(); err != nil {
			// A simulated crash: the transaction stays open, as if the
			// process died here; the next run's producer fences it.
			return err
		}
	}
	commit := kgo.TryCommit
	if batchErr != nil {
		commit = kgo.TryAbort
	}
	committed, err := sess.End(kgo.PreTxnCommitFnContext(ctx, rp.clamp), commit)
	prodMu.Lock()
	defer prodMu.Unlock()
	if !committed {
		cfg.Metrics.aborted()
	}
	switch {
	case ctx.Err() != nil:
		return nil
	case err != nil:
		return fmt.Errorf("stream: end transaction: %w", err)
	case batchErr != nil:
		return batchErr
	case prodErr != nil:
		return fmt.Errorf("stream: produce: %w", prodErr)
	case !committed:
		// The state has moved past what was committed.
		return errRestart
	}
	cfg.Metrics.committed(stats)
	if stats.links > 0 && cfg.Metrics != nil {
		// A full scan of the identity state, so only when links moved.
		cfg.Metrics.setConflicts(len(proc.Conflicts()))
	}
	cfg.Log.Debug().Int("inputs", len(live)).Int("rows", stats.rows).Int("links", stats.links).
		Int("dead_letters", sum(stats.dead)).Msg("transaction committed")
	if cfg.OnBatch != nil {
		cfg.OnBatch(len(live), outputs)
	}
	return nil
}

// deadLetter is an input record that can never be processed, and why
// (class is a deadletter.Class* constant).
type deadLetter struct {
	reason error
	class  string
}

func (d deadLetter) Error() string { return d.reason.Error() }

// process decodes and applies one input record. Records that cannot be
// decoded or applied are dead letters; a registry that cannot be reached is
// an error that stops the batch.
func process(ctx context.Context, serde Serde, proc *Processor, topic string, r *kgo.Record) ([]Output, error) {
	if r.Value == nil {
		// A tombstone of a compacted input: the keyed record's delete was
		// already sent as op delete.
		return nil, nil
	}
	rec, err := serde.Decode(ctx, r.Value)
	if err != nil {
		if class := deadletter.DecodeClass(err); class != "" {
			return nil, deadLetter{fmt.Errorf("decode: %w", err), class}
		}
		return nil, fmt.Errorf("stream: decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	out, err := proc.Process(topic, rec)
	if err != nil {
		return nil, deadLetter{err, deadletter.ClassProcessing}
	}
	return out, nil
}

func prefixed(prefix string, topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = prefix + t
	}
	return out
}
