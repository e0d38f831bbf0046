package state

import (
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// keyFilter is a bloom filter of the keys the DB holds (the full pebble
// keys), so that Store.Get answers a key that was never written without
// pebble. Most reads that reach pebble are first reads of new keys (a
// new entity, order or row); pebble answers them through its own bloom
// filters, but only after walking its memtables and levels and loading
// each table's filter block through the block cache, some 8 µs a read.
// Here it is a hash and one cache line.
//
// It is a split block bloom filter (as Parquet's): a key hashes to one
// 64-byte block of eight words and sets one bit in each, so a lookup
// touches one cache line. Its size is fixed at Open (filterBytes), and
// bits are only ever set: a key deleted or wiped keeps its bits (a false
// positive, answered by the value cache or pebble as before), and more
// keys than it was sized for raise its false-positive rate, never its
// memory.
//
// No false negatives: a key enters the filter before the batch that
// writes it is committed (DB.apply, the one way this package writes
// pebble), and the keys already on disk at Open are added by a background
// build that walks a pebble iterator over them. Until the build is done
// the filter is not consulted (reads go to the value cache and pebble);
// once ready is set every key pebble holds is in it: those of the
// iterator's view by the build, every later one by apply, which adds
// during the build too. The bits are atomic words, set with Or, and ready
// is set after the build's last Or, so the build and the task goroutine
// need no lock.
type keyFilter struct {
	seed  maphash.Seed
	words []atomic.Uint64 // blocks of blockWords words
	// nblocks is len(words)/blockWords.
	nblocks uint64

	ready atomic.Bool
	stop  chan struct{} // closed by close: the build ends early
	done  chan struct{} // closed when the build has ended
	// buildKeys and buildTime are the build's figures, set before ready.
	buildKeys atomic.Int64
	buildTime atomic.Int64 // nanoseconds
	buildErr  error        // read after done
}

// blockWords is the words of a block: 64 bytes, a cache line.
const blockWords = 8

// filterSalts are the odd multipliers that derive a block's eight bit
// positions from one 32-bit hash (Parquet's split block bloom filter).
var filterSalts = [blockWords]uint32{
	0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d,
	0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
}

// filterBytes is the size of the key filter of a DB of
// Options.CacheBytes c: a sixteenth of it, in whole 64 KiB, at least one.
// At the default, 8 MiB (64 Mi bits), the false positives are one in
// 1,000 reads of absent keys at 4 million keys (16 bits a key), 3 in 100
// at 8 million, a third at 16 million; the benchmark's 7 days hold 2.1
// million keys.
func filterBytes(c int64) int64 {
	const unit = 64 << 10
	return max(c/16/unit, 1) * unit
}

// newKeyFilter returns an empty filter of size bytes (a multiple of 64),
// not ready: build makes it so.
func newKeyFilter(size int64) *keyFilter {
	n := size / 8
	return &keyFilter{seed: maphash.MakeSeed(), words: make([]atomic.Uint64, n), nblocks: uint64(n / blockWords),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// block returns the words of k's block and the hash that picks its bits.
func (f *keyFilter) block(k []byte) ([]atomic.Uint64, uint32) {
	h := maphash.Bytes(f.seed, k)
	i := (h >> 32 * f.nblocks) >> 32 // the high half picks the block, without a division
	return f.words[i*blockWords : (i+1)*blockWords : (i+1)*blockWords], uint32(h)
}

// add puts k in the filter. Safe concurrently with add and has.
func (f *keyFilter) add(k []byte) {
	b, h := f.block(k)
	for i, salt := range filterSalts {
		m := uint64(1) << ((h * salt) >> 26)
		// Most keys written are rewrites, whose bits are set: a load
		// is a plain read, an Or a locked instruction.
		if b[i].Load()&m == 0 {
			b[i].Or(m)
		}
	}
}

// has reports whether k may have been added: false means it never was.
func (f *keyFilter) has(k []byte) bool {
	b, h := f.block(k)
	for i, salt := range filterSalts {
		if b[i].Load()&(uint64(1)<<((h*salt)>>26)) == 0 {
			return false
		}
	}
	return true
}

// buildCheck is how many keys the build adds between looks at stop.
const buildCheck = 4096

// filterBuildHook, when set (by tests), is called by the build after each
// key it adds, with how many it has added.
var filterBuildHook func(n int64)

// build adds every key of it (an iterator over the DB opened at Open,
// before any commit) to the filter, closes it, and makes the filter
// ready unless it was stopped or failed. Run it in its own goroutine.
func (f *keyFilter) build(it *pebble.Iterator) {
	defer close(f.done)
	start := time.Now()
	var n int64
	stopped := false
walk:
	for ok := it.First(); ok; ok = it.Next() {
		f.add(it.Key())
		n++
		if hook := filterBuildHook; hook != nil {
			hook(n)
		}
		if n%buildCheck == 0 {
			select {
			case <-f.stop:
				stopped = true
				break walk
			default:
			}
		}
	}
	err := it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// The filter stays off: reads go to pebble, as without it.
		f.buildErr = fmt.Errorf("state: key filter: read the keys on disk: %w", err)
		return
	}
	if stopped {
		return
	}
	f.buildKeys.Store(n)
	f.buildTime.Store(int64(time.Since(start)))
	f.ready.Store(true)
}

// close stops the build and waits for it (its iterator must be closed
// before pebble is).
func (f *keyFilter) close() {
	close(f.stop)
	<-f.done
}

// apply adds the keys a batch sets to the key filter, then commits the
// batch (without sync: the database has no write-ahead log); the caller
// closes it. Every write to pebble goes through it, so the filter never misses
// a key pebble holds. Deletes add nothing.
func (d *DB) apply(b *pebble.Batch) error {
	r := b.Reader()
	for {
		kind, k, _, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("read the batch: %w", err)
		}
		if !ok {
			break
		}
		switch kind {
		case pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete,
			pebble.InternalKeyKindDeleteSized, pebble.InternalKeyKindRangeDelete:
		default:
			// Sets, and any kind that may write a key.
			d.filter.add(k)
		}
	}
	return b.Commit(pebble.NoSync)
}
