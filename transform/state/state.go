// Package state is the transform's task state: a local embedded store on
// disk (github.com/cockroachdb/pebble) per instance, with a key range per
// task, backed by one compacted changelog partition per task that is
// written in the same Kafka transaction as the task's outputs.
//
// The life of a write: Store.Set puts it in the store's write cache for
// the current transaction (a key written several times in a transaction
// is written once, as Kafka Streams' record cache does). At the end of the
// transaction DB.TakeChangelog turns the write cache into changelog
// records, which the caller produces inside its Kafka transaction,
// reporting each produced offset with Store.Produced. If the transaction
// commits, DB.Commit applies the writes to the local store together with
// every touched task's checkpoint (the changelog offset the store now
// reflects); if it aborts, DB.Abort drops them. So the local store only
// ever holds committed state, at a changelog offset it knows.
//
// Reads see the transaction's writes first, then a bloom filter of the
// keys the database holds (keyFilter: a key it has never seen is absent,
// answered without pebble), then a bounded cache of committed values
// (misses included; outside the Go heap, see valueCache), then pebble.
// Memory is bounded by Options.CacheBytes: three eighths for that cache
// (rounded up to a multiple of 32 MiB, its unit), an eighth for pebble's
// block cache (its index, filter and data blocks), a quarter for its two
// memtables (which pebble charges to the block cache, so that cache is
// sized for both), a sixteenth for the key filter (in the Go heap, a
// block of words without pointers that the garbage collector never
// scans), the rest for pebble's compactions; the batch that carries
// commits to pebble, reused, keeps at most half a memtable (Go heap).
// DB.ReadStats counts where reads were answered. The database has no
// write-ahead log (the changelog is the log, as with Kafka Streams'
// RocksDB stores): after a crash it holds the last commit it flushed,
// with that commit's checkpoint, and the restore reads the changelog
// from there.
//
// The key filter is bounded, not sized by the keys: most reads that
// reach pebble are first reads of new keys (a new entity, order or
// product-day row), so the keys, and the filter's work, grow with the
// days of history, while its memory must not. It is fixed at Open, its
// bits are only ever set (a deleted or wiped key stays a false positive,
// read from the cache or pebble as without the filter), and past the
// keys it was sized for (4 million at the default; see filterBytes) its
// false positives rise gradually, each costing one pebble read, never a
// wrong answer. It lives in memory only: at each Open a goroutine walks
// the keys on disk into a new one while the task starts and reads go to
// pebble as before; every write from then on (commits, restores) adds
// its keys as well, and the filter answers once the walk is done (under
// a second per million keys: 0.8 s for the 2.1 million of the
// benchmark's 7 days, which prints it).
//
// Store.Restore brings a task's range up to the end of its changelog
// partition before the task processes anything: from the local checkpoint
// when it fits the changelog, otherwise (a wiped or foreign store, a
// recreated topic, a checkpoint older than the changelog's tombstone
// retention) from the start of the partition after wiping the range.
//
// A DB is used by one goroutine at a time, except Store.Produced, which
// produce callbacks may call concurrently (the key filter's build runs
// in a goroutine of its own, on atomic words).
package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures Open.
type Options struct {
	// CacheBytes is the memory the store may use (see the package
	// documentation for its split). Default 128 MiB.
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

// OffHeapBytes is the most memory a DB of Options.CacheBytes c keeps
// outside the Go heap (its value cache, pebble's block cache and
// memtables): a process's Go memory limit should leave room for it. The
// key filter (a sixteenth of c) is in the Go heap, within that limit.
func OffHeapBytes(c int64) int64 {
	if c <= 0 {
		c = DefaultCacheBytes
	}
	return valueCacheBytes(c) + c/8 + 2*memtableBytes(c)
}

// HeapLimit is the Go heap's soft limit for a process of memory limit total
// running dbs DBs of Options.CacheBytes c: what their off-heap memory
// leaves, and never less than a quarter of total.
func HeapLimit(total int64, dbs int, c int64) int64 {
	return max(total-int64(max(dbs, 1))*OffHeapBytes(c), total/4)
}

// valueCacheBytes is the memory the value cache of a DB of
// Options.CacheBytes c takes: asked for three eighths of c, fastcache
// splits it into 512 buckets of whole 64 KiB chunks, so it takes that
// rounded up to a multiple of 32 MiB (48 MiB asked takes 64).
func valueCacheBytes(c int64) int64 {
	const unit = 512 * 64 << 10
	return max((c*3/8+unit-1)/unit, 1) * unit
}

// memtableBytes is the size of each of pebble's memtables for a DB of
// Options.CacheBytes c.
func memtableBytes(c int64) int64 { return max(c/8, 1<<20) }

// DefaultMaxCheckpointAge is the default of Options.MaxCheckpointAge.
const DefaultMaxCheckpointAge = 24 * time.Hour

// DB is an instance's local state: one pebble database, a key range per
// task (Store).
type DB struct {
	db     *pebble.DB
	cache  *pebble.Cache
	opts   Options
	stores map[string]*Store
	values *valueCache
	filter *keyFilter
	reads  ReadStats
	// batch carries each commit's writes to pebble, reused: pebble copies
	// a batch into its memtable (a large one it keeps whole, taking it
	// from the batch), and a new batch per commit was a twentieth of the
	// stage's allocations.
	batch *pebble.Batch
}

// ReadStats counts the reads of a DB's stores by where they were
// answered, and pebble's own block cache and bloom filter figures: what
// to size Options.CacheBytes' split by.
type ReadStats struct {
	// Gets is the calls of Store.Get; each is answered by exactly one of
	// the transaction's writes (Written), the key filter (KeyFiltered,
	// below), the value cache (Cached, of which CachedAbsent were keys
	// known to be absent) or pebble (Pebble, of which PebbleAbsent found
	// no key).
	Gets, Written, Cached, CachedAbsent, Pebble, PebbleAbsent int64
	// Scans is the calls of Store.Scan and Store.ScanFrom (each reads
	// pebble).
	Scans int64
	// BlockCacheHits and BlockCacheMisses are pebble's block cache
	// lookups (data, index and filter blocks; a miss reads the file).
	BlockCacheHits, BlockCacheMisses int64
	// FilterHits is the table lookups pebble's bloom filters answered
	// without a data block; FilterMisses the lookups they let through.
	FilterHits, FilterMisses int64
	// KeyFiltered is the Gets the DB's key filter answered (keys never
	// written, absent without the value cache or pebble): none are
	// counted in Cached or Pebble. KeyFilterPassedAbsent is the Gets of
	// absent keys it let through once ready (keys deleted since they
	// were written, and its false positives), counted in CachedAbsent or
	// PebbleAbsent too.
	KeyFiltered, KeyFilterPassedAbsent int64
	// KeyFilterReady is whether the filter has the keys that were on disk
	// at Open and answers reads; KeyFilterBuildKeys is how many there
	// were and KeyFilterBuild how long adding them took.
	KeyFilterReady     bool
	KeyFilterBuildKeys int64
	KeyFilterBuild     time.Duration
}

// ReadStats returns the reads counted since Open. Like the rest of the
// DB, not safe concurrently with reads.
func (d *DB) ReadStats() ReadStats {
	r := d.reads
	m := d.db.Metrics()
	r.BlockCacheHits, r.BlockCacheMisses = m.BlockCache.Hits, m.BlockCache.Misses
	r.FilterHits, r.FilterMisses = m.Filter.Hits, m.Filter.Misses
	if r.KeyFilterReady = d.filter.ready.Load(); r.KeyFilterReady {
		r.KeyFilterBuildKeys = d.filter.buildKeys.Load()
		r.KeyFilterBuild = time.Duration(d.filter.buildTime.Load())
	}
	return r
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
	memtable := memtableBytes(o.CacheBytes)
	// pebble charges its memtables (the mutable one and the one it keeps
	// for reuse) to the block cache, shrinking what the cache may hold by
	// their size: a cache of only the blocks' share held nothing at all
	// (no hits; every index, filter and data block read the file), so it
	// is sized for both.
	cache := pebble.NewCache(o.CacheBytes/8 + 2*memtable)
	po := &pebble.Options{
		Cache: cache,
		// Large memtables: an entity or a row is rewritten by many
		// transactions, and each write that a memtable absorbs is one
		// compactions never copy.
		MemTableSize: uint64(memtable),
		// No write-ahead log, as Kafka Streams runs RocksDB: the
		// changelog is the store's log. A batch (a transaction's writes
		// with the task's checkpoint) lands in one memtable, and a
		// memtable is flushed whole, so after a crash the store is the
		// state of some earlier commit with that commit's checkpoint,
		// and the restore reads the changelog from there. Close flushes.
		DisableWAL: true,
		Logger:     quietLogger{},
		FS:         bufferedFS{vfs.Default},
	}
	// No compression: the values are small varint records that compress
	// little, and snappy cost a tenth of the stage's CPU in compactions
	// and block reads; the disk is cheaper than the core.
	po.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// Most reads of a key not in the value cache are of new keys (a new
	// entity, a new row): bloom filters answer those without reading the
	// levels.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	// L0 compacts into Lbase once 16 of its files overlap, not 4 (the
	// default): the tasks rewrite the same keys (entities, rows) in every
	// transaction, so each L0 compaction rewrites much of Lbase, and a
	// quarter as many of them took compactions from 15 % of the stage's
	// CPU to 7 % over the benchmark's 7 days, for a little more work per
	// read of a key the value cache misses (more L0 files to look in).
	po.L0CompactionThreshold = 16
	po.L0StopWritesThreshold = 3 * po.L0CompactionThreshold
	db, err := pebble.Open(dir, po)
	if err != nil {
		cache.Unref()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (is another transform instance using transform.state_dir?)", ErrLocked, dir)
		}
		return nil, fmt.Errorf("state: open %s: %w", dir, err)
	}
	// The key filter's view of the keys on disk, taken before any
	// commit; it is walked in the background, so a large store does not
	// delay the start (reads go to pebble until it is done).
	it, err := db.NewIter(&pebble.IterOptions{KeyTypes: pebble.IterKeyTypePointsOnly})
	if err != nil {
		_ = db.Close()
		cache.Unref()
		return nil, fmt.Errorf("state: open %s: key filter: %w", dir, err)
	}
	d := &DB{db: db, cache: cache, opts: o, stores: map[string]*Store{}, values: newValueCache(o.CacheBytes * 3 / 8),
		filter: newKeyFilter(filterBytes(o.CacheBytes))}
	go d.filter.build(it)
	return d, nil
}

// Close drops pending writes and closes the database. It is safe to call
// on a nil DB and more than once.
func (d *DB) Close() error {
	if d == nil || d.db == nil {
		return nil
	}
	d.filter.close()
	if d.batch != nil {
		_ = d.batch.Close() // only returns it to pebble's pool
		d.batch = nil
	}
	// Without a write-ahead log, what is only in the memtables would be
	// restored from the changelogs at the next start: flush it.
	err := d.db.Flush()
	if cerr := d.db.Close(); err == nil {
		err = cerr
	}
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
		data: []byte("d/" + name + "/"), meta: []byte("m/" + name), dirty: map[string]dirty{}}
	d.stores[name] = s
	return s
}

// Drop forgets a task's store (its task moved away); its data stay on
// disk until the task comes back (restored from the checkpoint) or the
// range is wiped. Pending writes of the task must have been committed or
// aborted.
func (d *DB) Drop(name string) { delete(d.stores, name) }

// TakeChangelog returns the changelog records of the transaction's
// writes, one per key written, to produce in the transaction. Call it
// once, after the transaction's last write.
func (d *DB) TakeChangelog() []*kgo.Record {
	// The records in one allocation.
	recs := make([]kgo.Record, 0, d.pendingKeys())
	for _, s := range d.stores {
		for k, w := range s.dirty {
			if w.taken {
				continue
			}
			w.taken = true
			s.dirty[k] = w
			recs = append(recs, kgo.Record{Topic: s.changelog, Partition: s.partition, Key: []byte(k), Value: w.value})
		}
	}
	out := make([]*kgo.Record, len(recs))
	for i := range recs {
		out[i] = &recs[i]
	}
	return out
}

// Commit applies the writes of a committed transaction to the local store,
// with the checkpoint of every task whose changelog records the
// transaction produced.
func (d *DB) Commit() error {
	now := d.opts.Now().UnixMilli()
	if d.batch == nil {
		// Kept up to pebble's large-batch size (half a memtable): a
		// larger one is pebble's.
		d.batch = d.db.NewBatch(pebble.WithMaxRetainedSizeBytes(int(memtableBytes(d.opts.CacheBytes) / 2)))
	}
	b := d.batch
	defer b.Reset()
	for _, s := range d.stores {
		s.mu.Lock()
		next := s.produced + 1
		touched := s.produced >= 0
		s.produced = -1
		s.mu.Unlock()
		for k, w := range s.dirty {
			if !w.taken {
				return fmt.Errorf("state: %s: a write of the transaction has no changelog record", s.name)
			}
			var err error
			if w.value == nil {
				err = b.Delete(s.key([]byte(k)), nil)
			} else {
				err = b.Set(s.key([]byte(k)), w.value, nil)
			}
			if err != nil {
				return fmt.Errorf("state: %s: %w", s.name, err)
			}
		}
		if touched {
			if err := b.Set(s.meta, encodeCheckpoint(next, now), nil); err != nil {
				return fmt.Errorf("state: %s: checkpoint: %w", s.name, err)
			}
		}
	}
	if err := d.apply(b); err != nil {
		return fmt.Errorf("state: apply a committed transaction: %w", err)
	}
	for _, s := range d.stores {
		for k, w := range s.dirty {
			d.values.put(s.key([]byte(k)), w.value, w.value != nil)
		}
		clear(s.dirty)
		s.dirtyBytes = 0
	}
	return nil
}

// Abort drops the writes of an aborted transaction.
func (d *DB) Abort() {
	for _, s := range d.stores {
		clear(s.dirty)
		s.dirtyBytes = 0
		s.mu.Lock()
		s.produced = -1
		s.mu.Unlock()
	}
}

// PendingBytes is the size of the transaction's writes: callers end the
// transaction when it grows too large.
func (d *DB) PendingBytes() int {
	n := 0
	for _, s := range d.stores {
		n += s.dirtyBytes
	}
	return n
}

func (d *DB) pendingKeys() int {
	n := 0
	for _, s := range d.stores {
		n += len(s.dirty)
	}
	return n
}

// Store is one task's key range in the DB and its changelog partition.
type Store struct {
	db              *DB
	name, changelog string
	partition       int32
	data, meta      []byte
	dirty           map[string]dirty // the transaction's writes, by key
	dirtyBytes      int
	mu              sync.Mutex
	produced        int64 // highest changelog offset produced in the transaction, -1 for none
	keyBuf          []byte
}

// dirty is a write of the transaction: a value, or nil for a delete.
type dirty struct {
	value []byte
	taken bool // its changelog record was taken
}

// Name returns the task name the store was opened with.
func (s *Store) Name() string { return s.name }

func (s *Store) key(k []byte) []byte {
	s.keyBuf = append(append(s.keyBuf[:0], s.data...), k...)
	return s.keyBuf
}

// Get returns the value of key, seeing the transaction's writes. The
// caller must not modify it.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	r := &s.db.reads
	r.Gets++
	if w, ok := s.dirty[string(key)]; ok {
		r.Written++
		return w.value, w.value != nil, nil
	}
	full := s.key(key)
	// A key never written is answered here, and takes no room in the
	// value cache.
	filtered := s.db.filter.ready.Load()
	if filtered && !s.db.filter.has(full) {
		r.KeyFiltered++
		return nil, false, nil
	}
	if v, found, ok := s.db.values.get(full); ok {
		r.Cached++
		if !found {
			r.CachedAbsent++
			if filtered {
				r.KeyFilterPassedAbsent++
			}
		}
		return v, found, nil
	}
	r.Pebble++
	v, closer, err := s.db.db.Get(full)
	if errors.Is(err, pebble.ErrNotFound) {
		r.PebbleAbsent++
		if filtered {
			r.KeyFilterPassedAbsent++
		}
		// A deleted key, a false positive, or a read during the filter's
		// build.
		s.db.values.put(full, nil, false)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("state: %s: get: %w", s.name, err)
	}
	out := bytes.Clone(v)
	_ = closer.Close()
	s.db.values.put(full, out, true)
	return out, true, nil
}

// Set writes key = value in the transaction. The store copies value.
func (s *Store) Set(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	s.write(key, bytes.Clone(value))
	return nil
}

// Delete removes key in the transaction.
func (s *Store) Delete(key []byte) error {
	s.write(key, nil)
	return nil
}

func (s *Store) write(key, value []byte) {
	k := string(key)
	if old, ok := s.dirty[k]; ok {
		s.dirtyBytes -= len(k) + len(old.value)
	}
	s.dirty[k] = dirty{value: value}
	s.dirtyBytes += len(k) + len(value)
}

// Produced records that a changelog record of this store was produced at
// offset (from the produce callback). Safe for concurrent use.
func (s *Store) Produced(offset int64) {
	s.mu.Lock()
	s.produced = max(s.produced, offset)
	s.mu.Unlock()
}

// Scan calls fn with every key (without the task's range prefix) and
// value that starts with prefix, in key order, seeing the transaction's
// writes, until fn returns false. Key and value are valid only during the
// call. Scans read pebble: keep them off the hot path.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) bool) error {
	return s.ScanFrom(prefix, prefix, fn)
}

// ScanFrom is Scan of the keys at or after from: a scan resumed where an
// earlier one stopped, without reading the keys before it again.
func (s *Store) ScanFrom(prefix, from []byte, fn func(key, value []byte) bool) error {
	s.db.reads.Scans++
	start := prefix
	if string(from) > string(prefix) {
		start = from
	}
	pend := s.pending(start, successor(prefix))
	it, err := s.db.db.NewIter(&pebble.IterOptions{LowerBound: s.stored(start), UpperBound: successor(s.stored(prefix))})
	if err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	defer it.Close()
	// Merge the committed keys with the transaction's writes, which win.
	emit := func(k string) bool {
		w := s.dirty[k]
		return w.value == nil || fn([]byte(k), w.value)
	}
	ok := it.First()
	for ok || len(pend) > 0 {
		var ck []byte
		if ok {
			ck = it.Key()[len(s.data):]
		}
		switch {
		case ok && (len(pend) == 0 || string(ck) < pend[0]):
			v, err := it.ValueAndErr()
			if err != nil {
				return fmt.Errorf("state: %s: scan: %w", s.name, err)
			}
			if !fn(ck, v) {
				return nil
			}
			ok = it.Next()
		case ok && string(ck) == pend[0]:
			if !emit(pend[0]) {
				return nil
			}
			pend = pend[1:]
			ok = it.Next()
		default:
			if !emit(pend[0]) {
				return nil
			}
			pend = pend[1:]
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	return nil
}

// HasPrefixes sets has[i] to whether some key starts with prefixes[i],
// seeing the transaction's writes. It is many Scans that stop at the
// first key, in one pass: one pebble iterator seeking forward through the
// prefixes in order, and the transaction's writes sorted once. A link
// change of the whole catalog asks this of every channel product in every
// facts task, where an iterator and a walk over the writes per product
// cost a twentieth of the stage's CPU.
func (s *Store) HasPrefixes(prefixes [][]byte, has []bool) error {
	s.db.reads.Scans++
	if len(prefixes) == 0 {
		return nil
	}
	order := make([]int, len(prefixes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(prefixes[a], prefixes[b]) })
	lo, hi := prefixes[order[0]], successor(prefixes[order[len(order)-1]])
	pend := s.pending(lo, hi)
	o := &pebble.IterOptions{LowerBound: s.stored(lo), UpperBound: successor(s.data)}
	if hi != nil {
		o.UpperBound = s.stored(hi)
	}
	it, err := s.db.db.NewIter(o)
	if err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	defer it.Close()
	for _, i := range order {
		p, ps := prefixes[i], string(prefixes[i])
		has[i] = false
		j, _ := slices.BinarySearch(pend, ps)
		for ; j < len(pend) && strings.HasPrefix(pend[j], ps); j++ {
			if s.dirty[pend[j]].value != nil {
				has[i] = true
				break
			}
		}
		if has[i] {
			continue
		}
		// A committed key counts unless the transaction deleted it.
		for ok := it.SeekGE(s.key(p)); ok; ok = it.Next() {
			k := it.Key()[len(s.data):]
			if !bytes.HasPrefix(k, p) {
				break
			}
			if w, ok := s.dirty[string(k)]; !ok || w.value != nil {
				has[i] = true
				break
			}
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state: %s: scan: %w", s.name, err)
	}
	return nil
}

// pending returns the keys the transaction wrote in [lo, hi) (hi nil: no
// upper bound), sorted, to merge with a pebble iterator's. The bounds are
// converted once: a conversion in the loop allocated for every write of
// the transaction at every scan.
func (s *Store) pending(lo, hi []byte) []string {
	l, h := string(lo), string(hi)
	var out []string
	for k := range s.dirty {
		if k >= l && (hi == nil || k < h) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// stored returns k as pebble stores it, in the store's range: a copy, for
// an iterator's bounds (key reuses one buffer).
func (s *Store) stored(k []byte) []byte {
	return append(append([]byte(nil), s.data...), k...)
}

// forget drops the cached values of the store's range (restored or wiped
// underneath the cache).
func (s *Store) forget() { s.db.values.reset() }

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

// valueCache is the cache of committed values (and of keys known to be
// absent): github.com/VictoriaMetrics/fastcache, which keeps entries in
// 64 KiB chunks of memory outside the Go heap, indexed by hash, so the
// cache costs the garbage collector nothing whatever its size (a map of
// strings and a list of entries, as container/list gives, made the
// collector scan every entry at every cycle). Eviction is by chunk, in
// the order entries were written: close enough to LRU for the hot keys
// (an entity or a row written in the last transactions). Each entry is
// a byte (present or absent) and the value.
type valueCache struct {
	c   *fastcache.Cache
	buf []byte
}

// maxCachedEntry is the largest entry (key, value and fastcache's 4
// bytes) fastcache keeps; larger values are read from pebble.
const maxCachedEntry = 64<<10 - 5

func newValueCache(max int64) *valueCache {
	return &valueCache{c: fastcache.New(int(max))}
}

// get returns a copy of the cached value of k (nil when absent), whether
// the key exists, and whether the cache knew.
func (c *valueCache) get(k []byte) ([]byte, bool, bool) {
	// Straight into a slice of its own (the caller owns the value), not
	// through c.buf and a second copy.
	v, ok := c.c.HasGet(nil, k)
	if !ok || len(v) == 0 {
		return nil, false, false
	}
	if v[0] == 0 {
		return nil, false, true
	}
	return v[1:], true, true
}

func (c *valueCache) put(k, v []byte, found bool) {
	if len(k)+len(v)+1 > maxCachedEntry {
		c.c.Del(k)
		return
	}
	c.buf = append(c.buf[:0], 0)
	if found {
		c.buf[0] = 1
		c.buf = append(c.buf, v...)
	}
	c.c.Set(k, c.buf)
}

// reset drops every entry (a store was restored or wiped underneath the
// cache: rare, at a task's start).
func (c *valueCache) reset() { c.c.Reset() }
