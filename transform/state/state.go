// Package state is the transform's task state: a local embedded store on
// disk (github.com/cockroachdb/pebble) per instance, with a key range per
// task, backed by one compacted changelog partition per task that is
// written in the same Kafka transaction as the task's outputs.
//
// The life of a write: Store.Set puts it in the DB's pending batch (an
// indexed batch, so the task reads its own writes) and queues the same
// key and value as a changelog record. The caller produces
// DB.TakeChangelog's records inside its Kafka transaction and reports each
// produced offset with Store.Produced. If the transaction commits, DB.Commit
// applies the pending batch to the local store together with every
// touched task's checkpoint (the changelog offset the store now reflects);
// if it aborts, DB.Abort drops the batch. So the local store only ever holds
// committed state, at a changelog offset it knows.
//
// Store.Restore brings a task's range up to the end of its changelog
// partition before the task processes anything: from the local checkpoint
// when it fits the changelog, otherwise (a wiped or foreign store, a
// recreated topic, a checkpoint older than the changelog's tombstone
// retention) from the start of the partition after wiping the range.
//
// A DB is used by one goroutine at a time, except Store.Produced, which
// produce callbacks may call concurrently.
package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures Open.
type Options struct {
	// CacheBytes is the memory the store may use: three quarters are
	// pebble's block cache, the rest its two memtables. Default 128 MiB.
	CacheBytes int64
	// MaxCheckpointAge is how old a local checkpoint may be and still be
	// restored from: beyond it compaction may have removed changelog
	// tombstones the store never applied. Keep it at most the changelogs'
	// delete.retention.ms. Default 24 hours (Kafka's default).
	MaxCheckpointAge time.Duration
	// Now is the clock of checkpoints; nil is time.Now.
	Now func() time.Time
}

// DefaultCacheBytes is the default of Options.CacheBytes.
const DefaultCacheBytes = 128 << 20

// DefaultMaxCheckpointAge is the default of Options.MaxCheckpointAge.
const DefaultMaxCheckpointAge = 24 * time.Hour

// DB is an instance's local state: one pebble database, a key range per
// task (Store).
type DB struct {
	db      *pebble.DB
	cache   *pebble.Cache
	opts    Options
	pending *pebble.Batch
	stores  map[string]*Store
}

// ErrLocked is returned by Open when another process uses the directory.
var ErrLocked = errors.New("state: directory is in use by another process")

// Open opens (creating it if needed) the state under dir. A directory is
// used by one process at a time: pebble locks it.
func Open(dir string, o Options) (*DB, error) {
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.MaxCheckpointAge <= 0 {
		o.MaxCheckpointAge = DefaultMaxCheckpointAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cache := pebble.NewCache(o.CacheBytes * 3 / 4)
	po := &pebble.Options{
		Cache:        cache,
		MemTableSize: uint64(max(o.CacheBytes/8, 1<<20)),
		Logger:       quietLogger{},
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		cache.Unref()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is another transform instance using transform.state_dir?)", ErrLocked, dir)
		}
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	return &DB{db: db, cache: cache, opts: o, pending: db.NewIndexedBatch(), stores: map[string]*Store{}}, nil
}

// Close drops pending writes and closes the database. It is safe to call
// on a nil DB and more than once.
func (d *DB) Close() error {
	if d == nil || d.db == nil {
		return nil
	}
	_ = d.pending.Close()
	err := d.db.Close()
	d.cache.Unref()
	d.db = nil
	if err != nil {
		return fmt.Errorf("state: close: %w", err)
	}
	return nil
}

// Store returns the store of a task: its key range in the DB and its
// changelog partition. name identifies the task in the DB (for example
// "facts-3"); the same name always means the same changelog partition.
func (d *DB) Store(name, changelog string, partition int32) *Store {
	if s, ok := d.stores[name]; ok {
		return s
	}
	s := &Store{db: d, name: name, changelog: changelog, partition: partition, produced: -1,
		data: []byte("d/" + name + "/"), meta: []byte("m/" + name)}
	d.stores[name] = s
	return s
}

// Drop forgets a task's store (its task moved away); its data stay on
// disk until the task comes back (restored from the checkpoint) or the
// range is wiped. Pending writes of the task must have been committed or
// aborted.
func (d *DB) Drop(name string) { delete(d.stores, name) }

// TakeChangelog returns the changelog records queued since the last call,
// to produce in the current transaction.
func (d *DB) TakeChangelog() []*kgo.Record {
	var out []*kgo.Record
	for _, s := range d.stores {
		out = append(out, s.out...)
		s.out = s.out[:0]
	}
	return out
}

// Commit applies the pending writes of a committed transaction to the
// local store, with the checkpoint of every task whose changelog records
// the transaction produced.
func (d *DB) Commit() error {
	now := d.opts.Now().UnixMilli()
	for _, s := range d.stores {
		s.mu.Lock()
		next := s.produced + 1
		touched := s.produced >= 0
		s.produced = -1
		s.mu.Unlock()
		if len(s.out) > 0 {
			return fmt.Errorf("state: %s: %d changelog records were not taken for the transaction", s.name, len(s.out))
		}
		if touched {
			if err := d.pending.Set(s.meta, encodeCheckpoint(next, now), nil); err != nil {
				return fmt.Errorf("state: %s: checkpoint: %w", s.name, err)
			}
		}
	}
	if err := d.pending.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("state: apply a committed transaction: %w", err)
	}
	_ = d.pending.Close()
	d.pending = d.db.NewIndexedBatch()
	return nil
}

// Abort drops the pending writes of an aborted transaction.
func (d *DB) Abort() {
	for _, s := range d.stores {
		s.out = s.out[:0]
		s.mu.Lock()
		s.produced = -1
		s.mu.Unlock()
	}
	_ = d.pending.Close()
	d.pending = d.db.NewIndexedBatch()
}

// PendingBytes is the size of the pending writes: callers end the
// transaction when it grows too large.
func (d *DB) PendingBytes() int { return d.pending.Len() }

// Store is one task's key range in the DB and its changelog partition.
type Store struct {
	db              *DB
	name, changelog string
	partition       int32
	data, meta      []byte
	out             []*kgo.Record
	mu              sync.Mutex
	produced        int64 // highest changelog offset produced in the transaction, -1 for none
	keyBuf          []byte
}

// Name returns the task name the store was opened with.
func (s *Store) Name() string { return s.name }

func (s *Store) key(k []byte) []byte {
	s.keyBuf = append(append(s.keyBuf[:0], s.data...), k...)
	return s.keyBuf
}

// Get returns the value of key, seeing the pending writes. The value is a
// copy the caller owns.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.pending.Get(s.key(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: %s: get: %w", s.name, err)
	}
	out := append([]byte(nil), v...)
	_ = closer.Close()
	return out, true, nil
}

// Set writes key = value in the pending transaction and queues it for the
// changelog. The store copies both.
func (s *Store) Set(key, value []byte) error {
	if err := s.db.pending.Set(s.key(key), value, nil); err != nil {
		return fmt.Errorf("state: %s: set: %w", s.name, err)
	}
	s.queue(key, append(make([]byte, 0, len(value)), value...))
	return nil
}

// Delete removes key in the pending transaction and queues a tombstone
// for the changelog.
func (s *Store) Delete(key []byte) error {
	if err := s.db.pending.Delete(s.key(key), nil); err != nil {
		return fmt.Errorf("state: %s: delete: %w", s.name, err)
	}
	s.queue(key, nil)
	return nil
}

func (s *Store) queue(key, value []byte) {
	s.out = append(s.out, &kgo.Record{Topic: s.changelog, Partition: s.partition,
		Key: append([]byte(nil), key...), Value: value})
}

// Produced records that a changelog record of this store was produced at
// offset (from the produce callback). Safe for concurrent use.
func (s *Store) Produced(offset int64) {
	s.mu.Lock()
	s.produced = max(s.produced, offset)
	s.mu.Unlock()
}

// Scan calls fn with every key (without the task's range prefix) and
// value that starts with prefix, in key order, seeing the pending writes,
// until fn returns false. Key and value are valid only during the call.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) bool) error {
	lo := append(append([]byte(nil), s.data...), prefix...)
	it, err := s.db.pending.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: successor(lo)})
	if err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("state: %s: scan: %w", s.name, err)
		}
		if !fn(it.Key()[len(s.data):], v) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	return nil
}

// Checkpoint returns the changelog offset the committed local store
// reflects (the next offset to restore from) and when it was written; ok
// is false when the task has no checkpoint here.
func (s *Store) Checkpoint() (offset int64, at time.Time, ok bool, err error) {
	v, closer, err := s.db.db.Get(s.meta)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, time.Time{}, false, nil
	}
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("state: %s: checkpoint: %w", s.name, err)
	}
	defer closer.Close()
	off, ms, err := decodeCheckpoint(v)
	if err != nil {
		return 0, time.Time{}, false, fmt.Errorf("state: %s: %w", s.name, err)
	}
	return off, time.UnixMilli(ms), true, nil
}

func encodeCheckpoint(offset, unixMilli int64) []byte {
	b := binary.AppendVarint(nil, offset)
	return binary.AppendVarint(b, unixMilli)
}

func decodeCheckpoint(b []byte) (offset, unixMilli int64, err error) {
	off, n := binary.Varint(b)
	if n <= 0 {
		return 0, 0, errors.New("corrupt checkpoint")
	}
	ms, m := binary.Varint(b[n:])
	if m <= 0 {
		return 0, 0, errors.New("corrupt checkpoint")
	}
	return off, ms, nil
}

// successor returns the smallest key greater than every key with prefix p.
func successor(p []byte) []byte {
	out := append([]byte(nil), p...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] != 0xff {
			out[i]++
			return out[:i+1]
		}
	}
	return nil
}

// quietLogger keeps pebble's informational messages out of the stage's
// logs; errors surface as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
