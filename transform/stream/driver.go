package stream

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/state"
)

// Driver runs the transform's topology in process, without Kafka, like
// Kafka Streams' TopologyTestDriver: every step, every task and every
// store is the stage's own (pebble on disk, changelog records taken at each
// commit), and records travel between the steps in the same bytes they
// would have on the internal topics. Only the broker is left out: internal
// records are delivered at once, a commit stands for a transaction, and the
// links table reads product_links as it is produced. For benchmarks and
// tests of the whole topology.
type Driver struct {
	t      *Transform
	top    *topology
	db     *state.DB
	tasks  map[taskID]*task
	stores map[topicPartition]*state.Store // by changelog partition
	queue  []kgo.Record
	offset map[topicPartition]int64
	ctx    context.Context
	// Output receives every record the stage produces to an output topic
	// (name without the prefix), dead letters included.
	Output func(topic string, key, value []byte)
	// ChangelogBytes counts the changelog records' keys and values.
	ChangelogBytes int64
	err            error
	cfg            Config
	linkLog        []*kgo.Record // product_links as produced, for Reopen
}

// NewDriver builds the topology of cfg (Brokers are not needed) over a
// state directory.
func NewDriver(cfg Config) (*Driver, error) {
	if cfg.InstanceID == "" {
		cfg.InstanceID = "driver"
	}
	if len(cfg.Brokers) == 0 {
		cfg.Brokers = []string{"driver.invalid:9092"}
	}
	t, err := New(cfg)
	if err != nil {
		return nil, err
	}
	db, err := state.Open(cfg.StateDir, state.Options{CacheBytes: cfg.CacheBytes})
	if err != nil {
		return nil, err
	}
	t.links = newLinksTable(cfg.TopicPrefix+identity.TopicProductLinks, cfg.Serde)
	t.dl = &deadLetters{topics: map[string]bool{}, replayed: map[deadletter.ID]bool{}}
	return &Driver{t: t, top: t.eng.top, db: db, tasks: map[taskID]*task{}, stores: map[topicPartition]*state.Store{},
		offset: map[topicPartition]int64{}, ctx: context.Background(), cfg: cfg}, nil
}

// Reopen closes the stores and returns a driver restarted on the same
// state directory, as a restarted instance: its tasks start again at
// once (as the group gives them back) from their local stores, and its
// links table reads the product_links produced so far. Pending writes
// are lost.
func (d *Driver) Reopen() (*Driver, error) {
	if err := d.Close(); err != nil {
		return nil, err
	}
	n, err := NewDriver(d.cfg)
	if err != nil {
		return nil, err
	}
	n.Output, n.offset, n.linkLog, n.ChangelogBytes = d.Output, d.offset, d.linkLog, d.ChangelogBytes
	for _, r := range n.linkLog {
		if err := n.t.links.add(n.ctx, r); err != nil {
			return nil, err
		}
	}
	if _, err := n.t.links.drain(); err != nil {
		return nil, err
	}
	for _, id := range taskOrder(d.tasks) {
		for _, s := range n.top.subs {
			if s.name != id.sub {
				continue
			}
			if _, err := n.task(s, id.partition); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// Close closes the stores.
func (d *Driver) Close() error { return d.db.Close() }

// ReadStats returns the stores' read counters (state.DB.ReadStats).
func (d *Driver) ReadStats() state.ReadStats { return d.db.ReadStats() }

// Input processes one record of an input topic (name without the prefix)
// through every step.
func (d *Driver) Input(topic string, key, value []byte) error {
	return d.deliver(&kgo.Record{Topic: d.top.prefix + topic, Key: key, Value: value})
}

func (d *Driver) emit(topic string, internal bool, key, value []byte, headers ...kgo.RecordHeader) {
	if internal {
		full := d.top.repartitionTopic(topic)
		d.queue = append(d.queue, kgo.Record{Topic: full, Partition: partitionOf(key, d.t.eng.partitions[full]),
			Key: key, Value: value, Headers: headers})
		return
	}
	if topic == identity.TopicProductLinks {
		tp := topicPartition{d.t.links.topic, 0}
		r := &kgo.Record{Topic: tp.topic, Key: key, Value: value, Offset: d.offset[tp]}
		d.offset[tp]++
		d.linkLog = append(d.linkLog, r)
		if err := d.t.links.add(d.ctx, r); err != nil {
			d.err = err
		}
	}
	if d.Output != nil {
		d.Output(topic, key, value)
	}
}

// deliver processes r and every internal record it leads to.
func (d *Driver) deliver(r *kgo.Record) error {
	if err := d.process(r); err != nil {
		return err
	}
	return d.drain()
}

func (d *Driver) process(r *kgo.Record) error {
	s := d.t.eng.bySource[r.Topic]
	if s == nil {
		return fmt.Errorf("stream: driver: %s is no source", r.Topic)
	}
	tk, err := d.task(s, r.Partition)
	if err != nil {
		return err
	}
	return tk.proc.process(d.ctx, r, d.emit)
}

// task returns the task of s for partition, created on first use.
func (d *Driver) task(s *subTopology, partition int32) (*task, error) {
	id := taskID{s.name, partition}
	if tk := d.tasks[id]; tk != nil {
		return tk, nil
	}
	tk := &task{id: id}
	if s.store != "" {
		changelog := d.top.changelogTopic(s.store)
		tk.store = d.db.Store(id.String(), changelog, partition)
		d.stores[topicPartition{changelog, partition}] = tk.store
	}
	tk.proc = s.newTask(partition, tk.store)
	d.tasks[id] = tk
	// A task starts its first transaction as the engine starts it:
	// reacting to the links it has not seen.
	if tc, ok := tk.proc.(ticker); ok {
		if err := tc.tick(d.ctx, d.emit); err != nil {
			return nil, err
		}
	}
	return tk, nil
}

// drain processes the internal records queued.
func (d *Driver) drain() error {
	// Records queued while one is processed go after it; the queue's
	// records are reused once all are processed.
	for i := 0; i < len(d.queue); i++ {
		// A pointer into the queue stays valid when an append moves it.
		if err := d.process(&d.queue[i]); err != nil {
			d.queue = d.queue[:0]
			return err
		}
	}
	clear(d.queue)
	d.queue = d.queue[:0]
	return d.err
}

// Commit ends a transaction: the tasks complete their batched work (the
// facts send their partials, which the rows sum and emit), the stores
// apply its writes (the changelog records are counted, not kept), and
// the links table applies the links it produced. If links changed, or a
// facts task has relinks left, the facts tasks react in a transaction of
// their own, as the engine does between polls, until none is left.
func (d *Driver) Commit() error {
	for {
		for _, sub := range d.top.subs {
			for _, id := range slices.SortedFunc(maps.Keys(d.tasks), func(a, b taskID) int { return cmp.Compare(a.partition, b.partition) }) {
				if id.sub != sub.name {
					continue
				}
				if f, ok := d.tasks[id].proc.(flusher); ok {
					if err := f.flush(d.ctx, d.emit); err != nil {
						return err
					}
				}
			}
			if err := d.drain(); err != nil {
				return err
			}
		}
		for _, r := range d.db.TakeChangelog() {
			d.ChangelogBytes += int64(len(r.Key) + len(r.Value))
			tp := topicPartition{r.Topic, r.Partition}
			d.stores[tp].Produced(d.offset[tp])
			d.offset[tp]++
		}
		if err := d.db.Commit(); err != nil {
			return err
		}
		d.t.committed(0, nil)
		work, err := d.t.beforeTxn()
		if err != nil || !work && !busy(d.tasks) {
			return err
		}
		for _, id := range taskOrder(d.tasks) {
			if tc, ok := d.tasks[id].proc.(ticker); ok {
				if err := tc.tick(d.ctx, d.emit); err != nil {
					return err
				}
			}
		}
	}
}
