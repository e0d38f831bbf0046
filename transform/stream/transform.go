package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/state"
)

// DefaultPartitions is the default of Config.Partitions.
const DefaultPartitions = 12

// Transform is one instance of the partitioned transform stage (see the
// package documentation). Build it with New, run it with Run, release it
// with Close.
type Transform struct {
	cfg Config
	eng *engine

	links   *linksTable
	changed []identity.Ref
	relinks int // left in the transaction, of cfg.MaxTransactionRelinks
	dl      *deadLetters

	mu     sync.Mutex
	closed bool
	stats  batchStats
	steps  map[string]counting // by task
}

// counting is a step that counts what its transaction produced
// (committed: the transaction committed; else it aborted and only the
// counters are reset); conflicts is the identity conflicts after it, -1
// when not counted.
type counting interface {
	counted(committed bool) (links, rows, conflicts int)
}

// conflictsEvery is how often at most the identity task counts its
// conflicts for the metric: the count is a walk of the whole identity
// state (every GTIN and seller SKU group), which after every transaction
// that moved links cost a few percent of the stage's CPU during a backlog
// (a catalog arriving, links moving in most transactions). A count left
// out is made at the first commit after the interval, links moved or not.
const conflictsEvery = 10 * time.Second

func (s *identityStep) counted(committed bool) (int, int, int) {
	n, c := s.links, -1
	s.links = 0
	if !committed {
		// The aborted links never happened: the gauge still shows the
		// state of the last commit, or waits for a count left out.
		return n, 0, c
	}
	if n > 0 {
		s.conflictsStale = true
	}
	if s.conflictsStale && s.res != nil {
		if now := s.now(); now.Sub(s.conflictsAt) >= conflictsEvery || now.Before(s.conflictsAt) {
			c = len(s.res.Conflicts())
			s.conflictsAt, s.conflictsStale = now, false
		}
	}
	return n, 0, c
}
func (s *rowsStep) counted(bool) (int, int, int) { n := s.count; s.count = 0; return 0, n, -1 }

// New validates cfg and returns the instance; it does no I/O.
func New(cfg Config) (*Transform, error) {
	var errs []error
	if cfg.Serde == nil {
		errs = append(errs, errNoSerde)
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = DefaultPartitions
	}
	if cfg.Partitions < 1 {
		errs = append(errs, fmt.Errorf("stream: partitions %d, want at least 1", cfg.Partitions))
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.InstanceID == "" {
		errs = append(errs, errors.New("stream: config needs an instance id"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTransactionRecords <= 0 {
		cfg.MaxTransactionRecords = DefaultMaxTransactionRecords
	}
	if cfg.MaxTransactionRelinks <= 0 {
		cfg.MaxTransactionRelinks = DefaultMaxTransactionRelinks
	}
	t := &Transform{cfg: cfg, relinks: cfg.MaxTransactionRelinks, stats: newBatchStats(), steps: map[string]counting{}}
	eng, err := newEngine(engineConfig{
		brokers: cfg.Brokers, clientOpts: cfg.ClientOpts, group: cfg.Group, instanceID: cfg.InstanceID,
		transactionalID: cfg.TransactionalID, stateDir: cfg.StateDir, cacheBytes: cfg.CacheBytes, log: cfg.Log,
		maxRecords: cfg.MaxTransactionRecords,
		beforeTxn:  t.beforeTxn, onCommit: t.committed, onAbort: t.aborted,
		onRestore: cfg.Metrics.restoredStores, onTasks: cfg.Metrics.taskCount,
	}, t.topology())
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.eng = eng
	return t, nil
}

// topology wires the steps (see the package documentation).
func (t *Transform) topology() *topology {
	cfg := t.cfg
	compacted := map[string]*string{"cleanup.policy": strPtr("compact")}
	outputs := map[string]map[string]*string{
		identity.TopicProductLinks: compacted,
		join.TopicProductDaily:     nil,
	}
	for _, in := range Topics() {
		outputs[deadletter.Topic(in)] = kafkatopic.KeepAll()
	}
	floor := versionFloor(cfg.Now())
	zone := join.New(cfg.Join).Zone().String()
	return &topology{prefix: cfg.TopicPrefix, group: cfg.Group, outputs: outputs, subs: []*subTopology{
		{name: "route", inputs: append(Topics(), dlqTopics(Topics())...), newTask: func(int32, *state.Store) processor {
			return &routeStep{prefix: cfg.TopicPrefix, stats: &t.stats, dl: t.dl, now: cfg.Now, log: cfg.Log,
				dec: decoder{serde: cfg.Serde, log: cfg.Log}}
		}},
		{name: "identity", internal: internalIdentity, partitions: 1, store: "identity",
			newTask: func(_ int32, st *state.Store) processor {
				s := &identityStep{st: st, mapping: cfg.Mapping, serde: cfg.Serde, floor: floor, now: cfg.Now}
				t.steps[st.Name()] = s
				return s
			}},
		{name: "facts", internal: internalFacts, partitions: cfg.Partitions, store: "facts",
			newTask: func(_ int32, st *state.Store) processor {
				return &factsStep{facts: join.NewFacts(cfg.Join, st, t.links), st: st, links: t.links, changed: &t.changed,
					relinks: &t.relinks}
			}},
		{name: "rows", internal: internalPartials, partitions: cfg.Partitions, store: "rows",
			newTask: func(_ int32, st *state.Store) processor {
				s := &rowsStep{st: st, serde: cfg.Serde, zone: zone, floor: floor, rows: map[string]*pendingRow{}}
				t.steps[st.Name()] = s
				return s
			}},
	}}
}

func strPtr(s string) *string { return &s }

// Run runs the instance until ctx ends (nil) or an error it cannot
// recover from, after which the caller restarts it (a new Run).
func (t *Transform) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return errors.New("stream: Run after Close")
	}
	t.mu.Unlock()
	if err := t.eng.ensureTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(t.cfg.Brokers...)}, t.cfg.ClientOpts...)
	links, err := openLinks(ctx, opts, t.cfg.TopicPrefix+identity.TopicProductLinks, t.cfg.Serde)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer links.close()
	dl, err := readDeadLetters(ctx, t.cfg, prefixed(t.cfg.TopicPrefix, dlqTopics(Topics())))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t.links, t.changed, t.steps, t.dl = links, nil, map[string]counting{}, dl
	return t.eng.run(ctx)
}

// Close releases what Run left; it is safe to call without Run and more
// than once.
func (t *Transform) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

// beforeTxn applies what the links table read since the last transaction,
// and gives the next transaction its budget of relinks.
func (t *Transform) beforeTxn() (bool, error) {
	changed, err := t.links.drain()
	if err != nil {
		return false, err
	}
	t.changed, t.relinks = changed, t.cfg.MaxTransactionRelinks
	return len(changed) > 0, nil
}

func (t *Transform) committed(consumed int, outputs map[string]int) {
	s := t.stats
	s.outputs = outputs
	s.relinked = t.cfg.MaxTransactionRelinks - t.relinks
	for _, st := range t.steps {
		l, r, c := st.counted(true)
		s.links += l
		s.rows += r
		if c >= 0 {
			t.cfg.Metrics.setConflicts(c)
		}
	}
	t.cfg.Metrics.committed(s)
	t.cfg.Log.Debug().Int("inputs", consumed).Int("rows", s.rows).Int("links", s.links).
		Int("relinked", s.relinked).Int("dead_letters", sum(s.dead)).Msg("transaction committed")
	if t.cfg.OnBatch != nil {
		n := 0
		for _, v := range outputs {
			n += v
		}
		t.cfg.OnBatch(consumed, n)
	}
	t.stats = newBatchStats()
}

func (t *Transform) aborted() {
	for _, st := range t.steps {
		st.counted(false)
	}
	t.stats = newBatchStats()
	t.cfg.Metrics.aborted()
}
