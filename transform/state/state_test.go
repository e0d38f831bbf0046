package state

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
)

// contents returns every key and value of a store, as the task sees it.
func contents(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := s.Scan(nil, func(k, v []byte) bool { out[string(k)] = string(v); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

func open(t *testing.T, dir string, o Options) *DB {
	t.Helper()
	db, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestPendingWrites: a task reads its own pending writes; Abort drops
// them and Commit keeps them; tasks' ranges do not see each other.
func TestPendingWrites(t *testing.T) {
	db := open(t, t.TempDir(), Options{})
	a, b := db.Store("a-0", "cl", 0), db.Store("a-1", "cl", 1)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Set([]byte("k1"), []byte("v1")))
	must(b.Set([]byte("k1"), []byte("other")))
	if v, ok, err := a.Get([]byte("k1")); err != nil || !ok || string(v) != "v1" {
		t.Fatalf("pending write not read back: %q %v %v", v, ok, err)
	}
	if n := db.PendingBytes(); n != len("k1v1k1other") {
		t.Fatalf("PendingBytes %d with two writes of %d bytes", n, len("k1v1k1other"))
	}
	db.TakeChangelog()
	db.Abort()
	if _, ok, _ := a.Get([]byte("k1")); ok {
		t.Fatal("aborted write still visible")
	}
	if n := db.PendingBytes(); n != 0 {
		t.Fatalf("PendingBytes %d after an abort", n)
	}
	must(a.Set([]byte("k1"), []byte("v1")))
	must(a.Set([]byte("k2"), []byte("v2")))
	must(a.Set([]byte("j"), []byte("x")))
	must(b.Set([]byte("k3"), []byte("v3")))
	if n := len(db.TakeChangelog()); n != 4 {
		t.Fatalf("%d changelog records, want 4", n)
	}
	must(db.Commit())
	// The next transaction starts empty (the commit batch is sized by it).
	if n := db.PendingBytes(); n != 0 {
		t.Fatalf("PendingBytes %d after a commit", n)
	}
	must(a.Delete([]byte("k2")))
	got := map[string]string{}
	must(a.Scan([]byte("k"), func(k, v []byte) bool { got[string(k)] = string(v); return true }))
	if want := map[string]string{"k1": "v1"}; !maps.Equal(got, want) {
		t.Fatalf("scan of k* = %v, want %v (pending delete, other task's keys)", got, want)
	}
	if cl := db.TakeChangelog(); len(cl) != 1 || cl[0].Value != nil || cl[0].Partition != 0 {
		t.Fatalf("delete's changelog record %+v, want one tombstone for partition 0", cl)
	}
}

// TestCommitWithoutChangelog: records queued but not produced in the
// transaction would be lost from the changelog, so Commit refuses.
func TestCommitWithoutChangelog(t *testing.T) {
	db := open(t, t.TempDir(), Options{})
	s := db.Store("a-0", "cl", 0)
	if err := s.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(); err == nil {
		t.Fatal("Commit applied writes whose changelog records were never produced")
	}
}

// TestLocked: two processes must not share a state directory.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	open(t, dir, Options{})
	if db, err := Open(dir, Options{}); err == nil {
		_ = db.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
}

// kafka is a real broker with a changelog topic of two partitions.
type kafka struct {
	brokers   []string
	changelog string
	adm       *kadm.Client
}

func newKafka(t *testing.T) *kafka {
	t.Helper()
	brokers := testenv.KafkaBrokers(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k := &kafka{brokers: brokers, changelog: fmt.Sprintf("state%d-changelog", time.Now().UnixNano()), adm: kadm.NewClient(cl)}
	k.create(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = k.adm.DeleteTopics(ctx, k.changelog)
	})
	return k
}

func (k *kafka) create(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := k.adm.CreateTopics(ctx, 2, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, k.changelog)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	k.waitReady(t, ctx)
}

// waitReady waits until the broker serves the new topic's partitions.
func (k *kafka) waitReady(t *testing.T, ctx context.Context) {
	t.Helper()
	for {
		if o, err := k.adm.ListStartOffsets(ctx, k.changelog); err == nil && o.Error() == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *kafka) opts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(k.brokers...)} }

// producer is a transactional producer, as the stage's is.
func (k *kafka) producer(t *testing.T, txnID string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.TransactionalID(txnID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// write is one transaction's store writes: a key to a value, or to ""
// for a delete.
type write map[string]string

func apply(t *testing.T, s *Store, w write) {
	t.Helper()
	for k, v := range w {
		var err error
		if v == "" {
			err = s.Delete([]byte(k))
		} else {
			err = s.Set([]byte(k), []byte(v))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// transact writes w to s and its changelog in a transaction of cl, and
// returns the transaction's End error; the caller decides whether the
// local store applies it (Commit), drops it (Abort) or dies first.
func transact(t *testing.T, cl *kgo.Client, db *DB, s *Store, w write, commit kgo.TransactionEndTry) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	apply(t, s, w)
	for _, r := range db.TakeChangelog() {
		res := cl.ProduceSync(ctx, r)
		if err := res.FirstErr(); err != nil {
			return err
		}
		s.Produced(res[0].Record.Offset)
	}
	return cl.EndTransaction(ctx, commit)
}

// commitWrite writes w to s and its changelog in a committed transaction
// of cl, and then to the local store (Commit).
func commitWrite(t *testing.T, cl *kgo.Client, db *DB, s *Store, w write) {
	t.Helper()
	if err := transact(t, cl, db, s, w, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
}

func restore(t *testing.T, k *kafka, db *DB, s *Store) RestoreStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := db.Restore(ctx, k.opts(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 {
		t.Fatalf("restore stats %v", st)
	}
	return st[0]
}

// restored opens the state in dir, restores task t-0's store from
// partition 0 of the changelog and returns its contents.
func restored(t *testing.T, k *kafka, dir string) map[string]string {
	t.Helper()
	db := open(t, dir, Options{})
	s := db.Store("t-0", k.changelog, 0)
	restore(t, k, db, s)
	return contents(t, s)
}

var (
	round1 = write{"k1": "v1", "k2": "v2", "k4": "v4"}
	round2 = write{"k1": "v1b", "k2": "", "k3": "v3"}
	after2 = map[string]string{"k1": "v1b", "k3": "v3", "k4": "v4"}
	after1 = map[string]string{"k1": "v1", "k2": "v2", "k4": "v4"}
)

// TestCrashAfterCommitBeforeLocalApply: the transaction committed, the
// process died before it applied the writes locally. The restart restores
// exactly that transaction's records from the changelog, from the local
// checkpoint on, not the whole changelog.
func TestCrashAfterCommitBeforeLocalApply(t *testing.T) {
	k := newKafka(t)
	dir := t.TempDir()
	db := open(t, dir, Options{})
	s := db.Store("t-1", k.changelog, 1)
	cl := k.producer(t, k.changelog+"-txn")
	if st := restore(t, k, db, s); st.Records != 0 {
		t.Fatalf("fresh store restored %+v", st)
	}
	commitWrite(t, cl, db, s, round1)
	ck, _, _, _ := s.Checkpoint()
	if err := transact(t, cl, db, s, round2, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// Crash: the committed transaction's writes never reach the local store.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, dir, Options{})
	s = db.Store("t-1", k.changelog, 1)
	if got := contents(t, s); !maps.Equal(got, after1) {
		t.Fatalf("local store after the crash = %v, want the first transaction's %v", got, after1)
	}
	waitFilter(t, db) // built from the first transaction's keys
	st := restore(t, k, db, s)
	if st.Wiped || st.From != ck || st.Records != len(round2) {
		t.Fatalf("restore %+v, want %d records from the checkpoint %d", st, len(round2), ck)
	}
	if got := contents(t, s); !maps.Equal(got, after2) {
		t.Fatalf("restored store = %v, want %v", got, after2)
	}
	gets(t, s, after2, "k2") // k3, restored on top of the keys on disk, is found
	// A second restart has nothing left to read.
	if st := restore(t, k, db, s); st.Records != 0 {
		t.Fatalf("second restore read %d records", st.Records)
	}
}

// TestCrashBeforeCommit: the process died with its transaction open. The
// next producer with the same transactional id aborts it; neither the
// changelog nor the local store keeps any of its writes.
func TestCrashBeforeCommit(t *testing.T) {
	k := newKafka(t)
	dir := t.TempDir()
	db := open(t, dir, Options{})
	s := db.Store("t-0", k.changelog, 0)
	txnID := k.changelog + "-txn"
	cl := k.producer(t, txnID)
	commitWrite(t, cl, db, s, round1)
	// Produce the second transaction's records, then die without ending it.
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	apply(t, s, round2)
	if err := cl.ProduceSync(ctx, db.TakeChangelog()...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	_ = db.Close()

	// The restarted producer's first transaction fences and aborts the
	// open one (here a write to the other partition).
	restarted := k.producer(t, txnID)
	if err := restarted.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := restarted.ProduceSync(ctx, &kgo.Record{Topic: k.changelog, Partition: 1, Key: []byte("x"), Value: []byte("y")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := restarted.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := restored(t, k, dir); !maps.Equal(got, after1) {
		t.Fatalf("store after a crash before commit = %v, want %v", got, after1)
	}
	// From an empty directory as well: the aborted records are invisible.
	if got := restored(t, k, t.TempDir()); !maps.Equal(got, after1) {
		t.Fatalf("store restored from the changelog = %v, want %v", got, after1)
	}
}

// TestRestoreAfterWipe: the state directory is lost (a new machine); the
// task's state comes back whole from its changelog partition, and the
// other partition's records do not leak in.
func TestRestoreAfterWipe(t *testing.T) {
	k := newKafka(t)
	db := open(t, t.TempDir(), Options{})
	s0, s1 := db.Store("t-0", k.changelog, 0), db.Store("t-1", k.changelog, 1)
	cl := k.producer(t, k.changelog+"-txn")
	for _, w := range []write{round1, round2} {
		commitWrite(t, cl, db, s1, w)
	}
	commitWrite(t, cl, db, s0, write{"other": "partition"})

	wiped := open(t, filepath.Join(t.TempDir(), "new"), Options{})
	w1 := wiped.Store("t-1", k.changelog, 1)
	// The key filter answers from before the restore: the restored keys
	// must enter it as they are written.
	waitFilter(t, wiped)
	st := restore(t, k, wiped, w1)
	if st.From != 0 || st.Reason == "" {
		t.Fatalf("restore %+v, want a full restore from offset 0 with a reason", st)
	}
	if got := contents(t, w1); !maps.Equal(got, after2) {
		t.Fatalf("restored = %v, want %v", got, after2)
	}
	gets(t, w1, after2, "k2", "other")
	filterHasAll(t, wiped)
}

// TestStaleCheckpoint: a checkpoint older than the changelog's tombstone
// retention may miss deletes that compaction dropped; a changelog that was
// recreated no longer holds what the checkpoint counts. Either way the
// range is wiped and restored from the start.
func TestStaleCheckpoint(t *testing.T) {
	k := newKafka(t)
	dir := t.TempDir()
	now := time.Now()
	clock := func() time.Time { return now }
	db := open(t, dir, Options{Now: clock})
	s := db.Store("t-0", k.changelog, 0)
	cl := k.producer(t, k.changelog+"-txn")
	commitWrite(t, cl, db, s, round1)
	// A local key the changelog never had stands for a delete the store
	// missed: a full restore drops it.
	b := db.db.NewBatch()
	if err := b.Set(s.key([]byte("missed-delete")), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.apply(b); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	now = now.Add(DefaultMaxCheckpointAge + time.Hour)
	if st := restore(t, k, db, s); !st.Wiped || st.From != 0 {
		t.Fatalf("restore of a day-old checkpoint %+v, want wiped and from 0", st)
	}
	if got := contents(t, s); !maps.Equal(got, after1) {
		t.Fatalf("restored = %v, want %v", got, after1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := k.adm.DeleteTopics(ctx, k.changelog); err != nil {
		t.Fatal(err)
	}
	for {
		if td, err := k.adm.ListTopics(ctx, k.changelog); err == nil && !td.Has(k.changelog) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		res, err := k.adm.CreateTopics(ctx, 2, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, k.changelog)
		if err == nil && res.Error() == nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // the deletion completes asynchronously
	}
	k.waitReady(t, ctx)
	if st := restore(t, k, db, s); !st.Wiped {
		t.Fatalf("restore against a recreated changelog %+v, want wiped", st)
	}
	if got := contents(t, s); len(got) != 0 {
		t.Fatalf("store against an empty recreated changelog = %v", got)
	}
}

// TestZombieFenced: instance A stalls inside a transaction; it is taken
// for dead and restarted (B, same transactional id), which restores the
// task and commits its own work. A wakes up and tries to commit: it is
// fenced, drops its writes, and nothing of its transaction reaches the
// changelog or its local store.
func TestZombieFenced(t *testing.T) {
	k := newKafka(t)
	txnID := k.changelog + "-txn"
	dbA := open(t, t.TempDir(), Options{})
	sA := dbA.Store("t-0", k.changelog, 0)
	clA := k.producer(t, txnID)
	commitWrite(t, clA, dbA, sA, round1)
	ctx := context.Background()
	if err := clA.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	apply(t, sA, write{"k1": "zombie", "z": "zombie"})
	zombie := dbA.TakeChangelog()

	dbB := open(t, t.TempDir(), Options{})
	sB := dbB.Store("t-0", k.changelog, 0)
	clB := k.producer(t, txnID)
	if err := transact(t, clB, dbB, sB, nil, kgo.TryAbort); err != nil { // initialises B's producer: fences A
		t.Fatal(err)
	}
	restore(t, k, dbB, sB)
	commitWrite(t, clB, dbB, sB, round2)

	err := clA.ProduceSync(ctx, zombie...).FirstErr()
	if err == nil {
		err = clA.EndTransaction(ctx, kgo.TryCommit)
	}
	if err == nil {
		t.Fatal("the zombie's transaction committed")
	}
	dbA.Abort()
	if got := contents(t, sA); !maps.Equal(got, after1) {
		t.Fatalf("zombie's local store = %v, want its last committed %v", got, after1)
	}
	if got := restored(t, k, t.TempDir()); !maps.Equal(got, after2) {
		t.Fatalf("changelog holds %v, want B's %v and nothing of the zombie", got, after2)
	}
}

// TestScanMergesWrites: a scan sees the committed keys merged with the
// transaction's writes, in key order: overwritten values, deletes and new
// keys, before and after and between the committed ones.
func TestScanMergesWrites(t *testing.T) {
	db := open(t, t.TempDir(), Options{})
	s := db.Store("a-0", "cl", 0)
	for _, k := range []string{"p/b", "p/d", "p/f", "q/x"} {
		if err := s.Set([]byte(k), []byte("old-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	db.TakeChangelog()
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	writes := write{"p/a": "new", "p/d": "", "p/e": "new", "p/f": "newer", "p/g": "new", "o/z": "new"}
	apply(t, s, writes)
	var got []string
	if err := s.Scan([]byte("p/"), func(k, v []byte) bool { got = append(got, string(k)+"="+string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	want := []string{"p/a=new", "p/b=old-p/b", "p/e=new", "p/f=newer", "p/g=new"}
	if !slices.Equal(got, want) {
		t.Fatalf("scan = %v, want %v", got, want)
	}
	// Stopping early stops.
	got = nil
	if err := s.Scan([]byte("p/"), func(k, _ []byte) bool { got = append(got, string(k)); return len(got) < 2 }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"p/a", "p/b"}) {
		t.Fatalf("scan stopped after %v", got)
	}
}

// TestHasPrefixes: whether a prefix has a key, for many prefixes in one
// pass, sees the committed keys merged with the transaction's writes: a
// new key counts, a deleted one does not (even when committed keys of
// the prefix are deleted before one that is not), whatever the order the
// prefixes are asked in; and it agrees with Scan.
func TestHasPrefixes(t *testing.T) {
	db := open(t, t.TempDir(), Options{})
	s := db.Store("a-0", "cl", 0)
	other := db.Store("b-0", "cl", 1) // another task's range: never seen
	apply(t, s, write{"p/b": "x", "p/d": "x", "s/1": "x", "s/2": "x", "t/1": "x", "u/1": "x"})
	apply(t, other, write{"p/c": "x", "v/1": "x"})
	db.TakeChangelog()
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	apply(t, s, write{"p/a": "new", "p/d": "", "s/1": "", "t/1": "", "u/2": "new", "w/1": "new", "w/2": ""})
	want := map[string]bool{"v/": false, "p/d": false, "p/a": true, "p/b": true, "p/c": false, "s/": true, "t/": false,
		"u/": true, "w/": true, "w/2": false, "z": false, "p/": true, "": true}
	prefixes := [][]byte{[]byte("v/"), []byte("p/d"), []byte("p/a"), []byte("p/b"), []byte("p/c"), []byte("s/"), []byte("t/"),
		[]byte("u/"), []byte("w/"), []byte("w/2"), []byte("z"), []byte("p/"), []byte("")}
	has := make([]bool, len(prefixes))
	for i := range has {
		has[i] = i%2 == 0 // overwritten
	}
	if err := s.HasPrefixes(prefixes, has); err != nil {
		t.Fatal(err)
	}
	for i, p := range prefixes {
		scanned := false
		if err := s.Scan(p, func(_, _ []byte) bool { scanned = true; return false }); err != nil {
			t.Fatal(err)
		}
		if has[i] != want[string(p)] || scanned != want[string(p)] {
			t.Errorf("prefix %q: HasPrefixes %v, Scan %v, want %v", p, has[i], scanned, want[string(p)])
		}
	}
	if err := s.HasPrefixes(nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestValueCacheBounded: the cache of committed values stays within its
// budget however many keys are written, evicts the oldest, tells a known
// absent key from an unknown one, never serves a value it could not
// replace (too large to cache), and forgets everything on reset.
func TestValueCacheBounded(t *testing.T) {
	const budget = 32 << 20 // fastcache's least
	c := newValueCache(budget)
	var st fastcache.Stats
	for i := range 100000 { // 100 MiB of values
		c.put([]byte(fmt.Sprintf("key-%06d", i)), bytes.Repeat([]byte{byte(i)}, 1000), true)
	}
	c.c.UpdateStats(&st)
	if st.BytesSize > budget {
		t.Fatalf("cache holds %d bytes, budget %d", st.BytesSize, budget)
	}
	if _, _, ok := c.get([]byte("key-000000")); ok {
		t.Fatal("the oldest key is still cached")
	}
	v, found, ok := c.get([]byte("key-099999"))
	if !ok || !found || !bytes.Equal(v, bytes.Repeat([]byte{99999 % 256}, 1000)) {
		t.Fatalf("the newest key: %v %v %d bytes", ok, found, len(v))
	}
	c.put([]byte("gone"), nil, false)
	if v, found, ok := c.get([]byte("gone")); !ok || found || v != nil {
		t.Fatalf("a known absent key: ok %v found %v value %q", ok, found, v)
	}
	c.put([]byte("key-099999"), make([]byte, maxCachedEntry), true)
	if _, _, ok := c.get([]byte("key-099999")); ok {
		t.Fatal("a value too large to cache left the old one cached")
	}
	c.reset()
	if _, _, ok := c.get([]byte("key-099998")); ok {
		t.Fatal("a key survived reset")
	}
}

// TestReadStats: every Get is counted where it was answered (the
// transaction's writes, the value cache, pebble; absent keys apart), and
// pebble's block cache serves repeated reads of flushed tables: pebble
// charges its memtables to that cache, and a cache sized without them
// held nothing (no hit at all).
func TestReadStats(t *testing.T) {
	db := open(t, t.TempDir(), Options{CacheBytes: 8 << 20})
	s := db.Store("a-0", "cl", 0)
	waitFilter(t, db)
	const n = 20000
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%06d", i) }
	for i := range n {
		if err := s.Set(key(i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.Get(key(0)); err != nil || !ok {
		t.Fatalf("pending write not read: %v %v", ok, err)
	}
	db.TakeChangelog()
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(key(1)); err != nil || !ok {
		t.Fatalf("committed write not read: %v %v", ok, err)
	}
	if err := db.db.Flush(); err != nil {
		t.Fatal(err)
	}
	s.forget() // every read below goes to pebble's tables
	for range 3 {
		for i := range n {
			if v, ok, err := s.Get(key(i)); err != nil || !ok || len(v) != 100 || v[0] != byte(i) {
				t.Fatalf("key %d: %v %v %d bytes", i, ok, err, len(v))
			}
			s.forget()
		}
	}
	// A key never written is answered by the key filter, every time; a
	// deleted one by pebble, then by the value cache's absent marker.
	for range 2 {
		if _, ok, err := s.Get([]byte("absent")); err != nil || ok {
			t.Fatalf("absent key: %v %v", ok, err)
		}
	}
	commitLocal(t, db, s, write{"key-000003": ""})
	s.forget()
	for range 2 {
		if _, ok, err := s.Get(key(3)); err != nil || ok {
			t.Fatalf("deleted key: %v %v", ok, err)
		}
	}
	r := db.ReadStats()
	want := ReadStats{Gets: 3*n + 6, Written: 1, Cached: 2, CachedAbsent: 1, Pebble: 3*n + 1, PebbleAbsent: 1,
		KeyFiltered: 2, KeyFilterPassedAbsent: 2, KeyFilterReady: true}
	got := r
	got.BlockCacheHits, got.BlockCacheMisses, got.FilterHits, got.FilterMisses = 0, 0, 0, 0
	got.KeyFilterBuild = 0
	if got != want {
		t.Fatalf("read counters %+v, want %+v", got, want)
	}
	if r.BlockCacheHits < 2*r.BlockCacheMisses {
		t.Fatalf("pebble's block cache: %d hits, %d misses over three reads of the same %d keys", r.BlockCacheHits, r.BlockCacheMisses, n)
	}
}

// TestValueCacheBytes: what OffHeapBytes counts for the value cache is
// what fastcache reports it may take, for the default and other sizes.
func TestValueCacheBytes(t *testing.T) {
	for _, c := range []int64{1 << 20, 64 << 20, DefaultCacheBytes, 200 << 20, 1 << 30} {
		var s fastcache.Stats
		newValueCache(c * 3 / 8).c.UpdateStats(&s)
		if got := valueCacheBytes(c); uint64(got) != s.MaxBytesSize {
			t.Errorf("cache_mb %d: the value cache is counted as %d bytes, fastcache takes up to %d", c>>20, got, s.MaxBytesSize)
		}
	}
}

// TestBufferedFS: a file written through bufferedFS holds every write, in
// order, when it is read, measured, synced or closed mid-way, whatever the
// sizes of the writes (small ones buffered, one larger than the buffer).
func TestBufferedFS(t *testing.T) {
	fs := bufferedFS{vfs.Default}
	name := filepath.Join(t.TempDir(), "f")
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	write := func(p []byte) {
		t.Helper()
		if n, err := f.Write(p); err != nil || n != len(p) {
			t.Fatalf("write of %d bytes: %d, %v", len(p), n, err)
		}
		want = append(want, p...)
	}
	for i := range 1000 { // 1000 writes of 1 KiB: buffered, then flushed when full
		write(bytes.Repeat([]byte{byte(i)}, 1<<10))
	}
	if st, err := f.Stat(); err != nil || st.Size() != int64(len(want)) {
		t.Fatalf("stat mid-way: %v, %v; want size %d", st, err, len(want))
	}
	write([]byte("after a stat"))
	got := make([]byte, 12)
	if _, err := f.ReadAt(got, int64(len(want)-12)); err != nil || string(got) != "after a stat" {
		t.Fatalf("read mid-way: %q, %v", got, err)
	}
	write(bytes.Repeat([]byte{7}, writeBuffer+1)) // larger than the buffer
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	write([]byte("tail"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := vfs.Default.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	all, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(all, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(all), err, len(want))
	}
}

// waitFilter waits for the key filter's build and fails unless it is
// ready.
func waitFilter(t *testing.T, db *DB) {
	t.Helper()
	<-db.filter.done
	if !db.filter.ready.Load() {
		t.Fatalf("key filter not ready after its build: %v", db.filter.buildErr)
	}
}

// filterHasAll fails unless every key pebble holds is in the key filter:
// a false negative would read a stored key as absent.
func filterHasAll(t *testing.T, db *DB) int {
	t.Helper()
	it, err := db.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if !db.filter.has(it.Key()) {
			t.Fatalf("key %q is in pebble, not in the key filter", it.Key())
		}
		n++
	}
	return n
}

// gets fails unless Get reads each key of want with its value and each
// of absent as absent.
func gets(t *testing.T, s *Store, want map[string]string, absent ...string) {
	t.Helper()
	for k, w := range want {
		if v, ok, err := s.Get([]byte(k)); err != nil || !ok || string(v) != w {
			t.Fatalf("Get(%q) = %q %v %v, want %q", k, v, ok, err, w)
		}
	}
	for _, k := range absent {
		if v, ok, err := s.Get([]byte(k)); err != nil || ok {
			t.Fatalf("Get(%q) = %q %v %v, want absent", k, v, ok, err)
		}
	}
}

// commitLocal commits w to s without Kafka (the changelog records taken,
// none produced).
func commitLocal(t *testing.T, db *DB, s *Store, w write) {
	t.Helper()
	apply(t, s, w)
	db.TakeChangelog()
	if err := db.Commit(); err != nil {
		t.Fatal(err)
	}
}

// writeAndClose commits n keys prefix-NNNNNN (each its own value) to
// task a-0 of a DB in dir, then deletes the keys of deleted, closes it,
// and returns what the task holds.
func writeAndClose(t *testing.T, dir, prefix string, n int, deleted ...string) map[string]string {
	t.Helper()
	db, err := Open(dir, Options{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := db.Store("a-0", "cl", 0)
	want, w := map[string]string{}, write{}
	for i := range n {
		k := fmt.Sprintf("%s-%06d", prefix, i)
		want[k], w[k] = k, k
	}
	commitLocal(t, db, s, w)
	w = write{}
	for _, k := range deleted {
		w[k] = ""
		delete(want, k)
	}
	commitLocal(t, db, s, w)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return want
}

// TestKeyFilterReopen: the keys on disk at Open are walked into the key
// filter, which then answers the keys never written without the value
// cache or pebble; every stored key is found, deleted keys stay absent.
func TestKeyFilterReopen(t *testing.T) {
	dir := t.TempDir()
	const n = 20000
	want := writeAndClose(t, dir, "key", n, "key-000007", "key-000042")
	db := open(t, dir, Options{CacheBytes: 8 << 20})
	s := db.Store("a-0", "cl", 0)
	waitFilter(t, db)
	if stored := filterHasAll(t, db); stored != n-2 {
		t.Fatalf("%d keys stored, want %d", stored, n-2)
	}
	r := db.ReadStats()
	if !r.KeyFilterReady || r.KeyFilterBuildKeys != n-2 {
		t.Fatalf("the build: ready %v, %d keys, want %d", r.KeyFilterReady, r.KeyFilterBuildKeys, n-2)
	}
	t.Logf("key filter built from %d keys on disk in %v", r.KeyFilterBuildKeys, r.KeyFilterBuild)
	gets(t, s, want, "key-000007", "key-000042")
	const absent = 10000
	for i := range absent {
		gets(t, s, nil, fmt.Sprintf("new-%06d", i))
	}
	r = db.ReadStats()
	if r.KeyFiltered < absent*99/100 || r.KeyFilterPassedAbsent > 2+absent/100 || r.Pebble+r.Cached+r.KeyFiltered != r.Gets {
		t.Fatalf("%d absent keys never written and 2 deleted: %d answered by the key filter, %d let through; %+v", absent, r.KeyFiltered, r.KeyFilterPassedAbsent, r)
	}
	// A key the filter answered takes no place in the value cache.
	for i := range absent {
		k := s.key(fmt.Appendf(nil, "new-%06d", i))
		if _, _, ok := db.values.get(k); ok && !db.filter.has(k) {
			t.Fatalf("%q, answered by the key filter, is in the value cache", k)
		}
	}
}

// TestKeyFilterDuringBuild: while the filter is built from the keys on
// disk, reads are right (they go to pebble) and commits add their keys,
// concurrently with the build (run with -race); once it is ready, no key
// pebble holds is missing from it, whichever side added it.
func TestKeyFilterDuringBuild(t *testing.T) {
	dir := t.TempDir()
	const n = 20000
	old := writeAndClose(t, dir, "old", n)

	reached, release := make(chan struct{}), make(chan struct{})
	var released sync.Once
	unpause := func() { released.Do(func() { close(release) }) }
	filterBuildHook = func(n int64) {
		if n == 100 {
			close(reached)
			<-release
		}
	}
	t.Cleanup(func() { filterBuildHook = nil })
	db := open(t, dir, Options{CacheBytes: 8 << 20})
	t.Cleanup(unpause) // before Close, which waits for the build
	s := db.Store("a-0", "cl", 0)
	<-reached
	if db.ReadStats().KeyFilterReady {
		t.Fatal("the key filter is ready in the middle of its build")
	}
	last := fmt.Sprintf("old-%06d", n-1)
	gets(t, s, map[string]string{"old-000000": "old-000000", last: last}, "new-000000")
	// Commits while the build is paused, then while it runs.
	added := map[string]string{}
	for i := 0; i < 20 || !db.filter.ready.Load(); i++ {
		w := write{fmt.Sprintf("old-%06d", i): "", fmt.Sprintf("new-%06d", i): "n"}
		delete(old, fmt.Sprintf("old-%06d", i))
		added[fmt.Sprintf("new-%06d", i)] = "n"
		commitLocal(t, db, s, w)
		if i == 10 {
			unpause()
		}
		gets(t, s, map[string]string{fmt.Sprintf("new-%06d", i): "n"}, fmt.Sprintf("old-%06d", i))
	}
	waitFilter(t, db)
	t.Logf("%d commits, %d of them during the build", len(added), len(added)-11)
	filterHasAll(t, db)
	s.forget() // every read below goes to the filter, then pebble
	gets(t, s, old)
	gets(t, s, added, "old-000000", "old-000001", "new-999999")
	if r := db.ReadStats(); r.KeyFiltered == 0 {
		t.Fatalf("no read answered by the key filter: %+v", r)
	}
}

// TestKeyFilter: the filter holds every key added, answers few others
// at the keys it is sized for, degrades gradually past them, and takes
// the memory it was given.
func TestKeyFilter(t *testing.T) {
	if got := filterBytes(DefaultCacheBytes); got != DefaultCacheBytes/16 {
		t.Fatalf("filter of %d bytes for the default cache, want a sixteenth", got)
	}
	if got := filterBytes(1 << 20); got != 64<<10 {
		t.Fatalf("filter of %d bytes for a 1 MiB cache, want the least, 64 KiB", got)
	}
	f := newKeyFilter(128 << 10) // 1 Mi bits
	if len(f.words)*8 != 128<<10 {
		t.Fatalf("filter of %d bytes, want 128 KiB", len(f.words)*8)
	}
	rate := func(from, to int) float64 {
		fp := 0
		for i := from; i < to; i++ {
			if f.has(fmt.Appendf(nil, "absent-%d", i)) {
				fp++
			}
		}
		return float64(fp) / float64(to-from)
	}
	added := 0
	for _, c := range []struct {
		keys    int
		maxRate float64
	}{{1 << 15, 0.001}, {1 << 17, 0.05}, {1 << 18, 0.5}} { // 32, 8 and 4 bits a key
		for ; added < c.keys; added++ {
			f.add(fmt.Appendf(nil, "key-%d", added))
		}
		for i := 0; i < added; i += 97 {
			if !f.has(fmt.Appendf(nil, "key-%d", i)) {
				t.Fatalf("key-%d added, not found", i)
			}
		}
		r := rate(0, 50000)
		t.Logf("%d keys in 1 Mi bits: %.4f %% false positives", c.keys, 100*r)
		if r > c.maxRate {
			t.Errorf("%d keys in 1 Mi bits: false-positive rate %.4f, want at most %.4f", c.keys, r, c.maxRate)
		}
	}
}

// TestKeyFilterCloseDuringBuild: Close in the middle of the build stops
// it (a large store does not delay a shutdown) and waits for it (pebble
// refuses to close under an open iterator); the next Open builds anew.
func TestKeyFilterCloseDuringBuild(t *testing.T) {
	dir := t.TempDir()
	const n = 20000
	want := writeAndClose(t, dir, "key", n)
	reached := make(chan struct{})
	var built atomic.Int64
	filterBuildHook = func(k int64) {
		built.Store(k)
		if k == 100 {
			close(reached)
			time.Sleep(50 * time.Millisecond) // Close is called meanwhile
		}
	}
	t.Cleanup(func() { filterBuildHook = nil })
	db, err := Open(dir, Options{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	<-reached
	if err := db.Close(); err != nil {
		t.Fatalf("Close during the build: %v", err)
	}
	if got := built.Load(); got >= n || db.filter.ready.Load() {
		t.Fatalf("the build went on after Close: %d of %d keys, ready %v", got, n, db.filter.ready.Load())
	}
	filterBuildHook = nil
	db = open(t, dir, Options{CacheBytes: 8 << 20})
	waitFilter(t, db)
	gets(t, db.Store("a-0", "cl", 0), want)
}

// TestCommitsReuseTheBatch: commits of every size one after the other,
// small ones and ones past pebble's large-batch size (which pebble keeps
// as a memtable of its own), each see exactly their writes on disk: the
// batch reused between commits carries nothing of the one before.
func TestCommitsReuseTheBatch(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, Options{CacheBytes: 8 << 20}) // 1 MiB memtables: a 512 KiB batch is large
	s := db.Store("a-0", "changelog", 0)
	want := map[string]string{}
	for i, size := range []int{10, 40 << 10, 900 << 10, 10, 2 << 20, 300, 64 << 10} {
		w := write{}
		for j := range 4 {
			k := fmt.Sprintf("c%d-%d", i, j)
			w[k] = strings.Repeat(string(rune('a'+i)), size/4+j)
			want[k] = w[k]
		}
		if i > 0 {
			w[fmt.Sprintf("c%d-0", i-1)] = "" // and a delete of the commit before's
			delete(want, fmt.Sprintf("c%d-0", i-1))
		}
		commitLocal(t, db, s, w)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir, Options{CacheBytes: 8 << 20})
	if got := contents(t, db.Store("a-0", "changelog", 0)); !maps.Equal(got, want) {
		t.Errorf("the store holds %d keys, want %d; first differences: %v", len(got), len(want), firstDiff(got, want))
	}
}

// firstDiff names a key that differs between two stores' contents.
func firstDiff(got, want map[string]string) string {
	for k, v := range want {
		if got[k] != v {
			return fmt.Sprintf("%s: %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return k + ": should not be there"
		}
	}
	return "none"
}
