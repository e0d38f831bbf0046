// Command benchtransform measures the transform stage's work per input
// record on one core: the whole partitioned topology run in process by
// stream.Driver: the route step (Avro decode, dead-letter checks, the
// facts and identity inputs re-encoded for the internal topics), the
// identity step (Resolver, link versions in its store, Avro encode of
// product_links), the facts step (entity state, partials, the links
// index) and the rows step (partials combined, row versions, Avro encode
// of every product_daily row), with every task's state in its pebble
// store on disk and a commit (the stores apply the transaction's writes
// and checkpoints; changelog records are built and counted) every chunk
// of records. Kafka itself is left out: the broker's work is the same for
// every stage and measured by the load benchmark.
//
// The inputs are a synthetic world with the simulators' record shapes (see
// world.go for the mix): a catalog listed on both channels, mostly linked
// by GTIN, some by seller SKU, some unmatched and a few conflicting; then
// days of engagement snapshots, video performance, sales & traffic with
// restatements, catalog rank snapshots, orders of both channels, and the
// weekly Brand Analytics reports, interleaved hour by hour as the ingest
// stages would write them. Records are generated and encoded by a child
// process (generator.go) and read from a pipe into a fresh buffer per
// chunk, as a consumer's fetches are; only their processing is timed, so
// neither generation nor its garbage counts as work, and the history is
// never held in memory.
//
// The rate is input records per CPU-second of the process (all threads,
// GC and pebble's background compactions included) over the timed
// sections: on an idle machine the same as per wall-clock second, and not
// lowered by other processes sharing the core. Memory is sampled between
// chunks: the resident set (VmRSS) at checkpoints of the history (so its
// growth with days shows in one run), and the kernel's VmHWM (peak RSS) at
// the end. The stores' memory is bounded by -cache-mb.
//
// The last line is `transform records-per-second X`. Run it with
// `make bench-transform`.
//
// With -restart it is the restart benchmark instead (restart.go, `make
// bench-transform-restart`): the history goes into a real broker, the
// production binary's `shopstream transform` consumes it, and the time from
// a restart after SIGKILL to the first output is printed; the last line is
// `transform restart-seconds X`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/state"
	"github.com/shopstream/shopstream/transform/stream"
)

func main() {
	var (
		products   = flag.Int("products", 10000, "products in the catalog (Amazon ASINs; about as many TikTok products)")
		videos     = flag.Int("videos", 100000, "TikTok videos")
		days       = flag.Int("days", 7, "days of activity after the catalog")
		zone       = flag.String("zone", "UTC", "reporting time zone (IANA)")
		even       = flag.Bool("even", false, "split video figures evenly among products (default: full credit)")
		cacheMB    = flag.Int("cache-mb", 128, "memory of the stores (pebble block cache and memtables), MiB")
		partitions = flag.Int("partitions", stream.DefaultPartitions, "partitions of the facts and rows steps")
		stateDir   = flag.String("state", "", "state directory (default: a temporary one, removed at the end)")
		posted     = flag.Int("posted", 7, "videos are posted up to this many days before the world starts (create_time; 0: snapshots carry none), so first snapshots are spread over up to that many days more")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		memProfile = flag.String("memprofile", "", "write a heap profile (live at the end, and allocations) to this file")
		memLimit   = flag.Int64("memory-limit", 384<<20, "the process's memory in bytes, as transform.memory_limit (its default): the Go heap's soft limit is this less the stores' off-heap caches (GOMEMLIMIT wins); 0: none")
		relinkDay  = flag.Int("relink-day", 0, "from this day of the history on, one ASIN in ten carries a GTIN of its own: its link to its TikTok SKU breaks late, and the facts tasks relink every entity of either (0: the catalog's identifiers never change)")
		restart    = flag.Bool("restart", false, "the restart benchmark: the history into Kafka, `shopstream transform` through it, then SIGKILL and restart")
		brokers    = flag.String("brokers", "", "with -restart: the Kafka brokers (comma-separated)")
		binary     = flag.String("binary", "bin/shopstream", "with -restart: the shopstream binary")
		emitOnly   = flag.Bool("emit", false, "internal: be the generator process (the world's records, encoded and framed, on stdout)")
	)
	flag.Parse()
	if *emitOnly {
		if err := emit(options{products: *products, videos: *videos, days: *days, posted: *posted, relinkDay: *relinkDay}); err != nil {
			fmt.Fprintln(os.Stderr, "benchtransform -emit:", err)
			os.Exit(1)
		}
		return
	}
	if *memLimit > 0 && os.Getenv("GOMEMLIMIT") == "" && !*restart {
		// As `shopstream transform` sets it: the stores' caches live
		// outside the Go heap.
		debug.SetMemoryLimit(state.HeapLimit(*memLimit, 1, int64(*cacheMB)<<20))
	}
	if *restart {
		if *brokers == "" {
			fmt.Fprintln(os.Stderr, "benchtransform: -restart needs -brokers")
			os.Exit(2)
		}
		o := options{products: *products, videos: *videos, days: *days, posted: *posted, relinkDay: *relinkDay, partitions: *partitions}
		if err := runRestart(os.Stdout, o, restartOptions{brokers: strings.Split(*brokers, ","), binary: *binary, cacheMB: *cacheMB}); err != nil {
			fmt.Fprintln(os.Stderr, "benchtransform:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdout, options{products: *products, videos: *videos, days: *days, posted: *posted, relinkDay: *relinkDay, zone: *zone, even: *even,
		cacheMB: *cacheMB, partitions: *partitions, stateDir: *stateDir,
		cpuProfile: *cpuProfile, memProfile: *memProfile}); err != nil {
		fmt.Fprintln(os.Stderr, "benchtransform:", err)
		os.Exit(1)
	}
}

type options struct {
	products, videos, days int
	posted, relinkDay      int
	zone                   string
	even                   bool
	cacheMB, partitions    int
	stateDir               string
	cpuProfile, memProfile string
}

func run(out io.Writer, o options) error {
	// One core, as the issue asks: the stage is one goroutine per instance
	// anyway, and GOMAXPROCS(1) keeps the GC from running on a second core
	// for free.
	runtime.GOMAXPROCS(1)
	loc, err := time.LoadLocation(o.zone)
	if err != nil {
		return fmt.Errorf("zone: %w", err)
	}
	cfg := join.Config{Zone: loc}
	if o.even {
		cfg.Attribution = join.EvenSplit
	}
	dir := o.stateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "benchtransform-state-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	b, err := newBench(cfg, dir, o)
	if err != nil {
		return err
	}
	defer b.driver.Close()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(out, "transform bench: %d products, %d videos, %d days, reporting zone %s, attribution %s, GOMAXPROCS %d, "+
		"%d partitions, stores' cache %d MiB, Go memory limit %d MiB\n",
		o.products, o.videos, o.days, loc, map[bool]string{false: "full", true: "even"}[o.even], runtime.GOMAXPROCS(0),
		o.partitions, o.cacheMB, debug.SetMemoryLimit(-1)>>20)
	b.out = out
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the generator if the bench fails
	gen, records, err := generator(ctx, o)
	if err != nil {
		return err
	}
	if err := b.consume(records); err != nil {
		return err
	}
	if err := gen.Wait(); err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC() // up-to-date live heap
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return b.report(out)
}

// bench feeds chunks of encoded records through the topology and times it.
type bench struct {
	driver     *stream.Driver
	serde      *benchSerde
	out        io.Writer
	dir        string // the stores' directory
	cacheBytes int64

	chunk   []encoded
	elapsed time.Duration // wall time of the timed sections
	cpu     time.Duration // process CPU time of the timed sections

	inputs      map[string]int
	inputBytes  int64
	rows, links int
	outputBytes int64
	deadLetters int
	ms          runtime.MemStats
	heapInuse   uint64
}

type encoded struct {
	topic string
	value []byte
}

// chunkSize bounds the records generated ahead of processing; each chunk
// is one transaction.
const chunkSize = 4096

func newBench(cfg join.Config, dir string, o options) (*bench, error) {
	serde, err := newBenchSerde()
	if err != nil {
		return nil, err
	}
	b := &bench{serde: serde, inputs: map[string]int{}, dir: dir, cacheBytes: int64(o.cacheMB) << 20}
	b.driver, err = stream.NewDriver(stream.Config{Serde: serde, Join: cfg, StateDir: dir,
		CacheBytes: int64(o.cacheMB) << 20, Partitions: o.partitions})
	if err != nil {
		return nil, err
	}
	b.driver.Output = func(topic string, _, value []byte) {
		b.outputBytes += int64(len(value))
		switch topic {
		case join.TopicProductDaily:
			b.rows++
		case identity.TopicProductLinks:
			b.links++
		default:
			b.deadLetters++
		}
	}
	return b, nil
}

// flush processes the pending chunk through the topology and commits,
// timed. Then it samples memory, untimed.
func (b *bench) flush() error {
	start, startCPU := time.Now(), cpuTime()
	for _, e := range b.chunk {
		if err := b.driver.Input(e.topic, nil, e.value); err != nil {
			return err
		}
	}
	if err := b.driver.Commit(); err != nil {
		return err
	}
	b.elapsed += time.Since(start)
	b.cpu += cpuTime() - startCPU
	for _, e := range b.chunk {
		b.inputs[e.topic]++
		b.inputBytes += int64(len(e.value))
	}
	b.chunk = b.chunk[:0]
	runtime.ReadMemStats(&b.ms)
	b.heapInuse = max(b.heapInuse, b.ms.HeapInuse)
	return nil
}

// day reports memory after each day of the history, untimed.
func (b *bench) day(d int) {
	if d == 1 || d%7 == 0 {
		n := sumCounts(b.inputs)
		fmt.Fprintf(b.out, "after day %-4d   VmRSS %s, heap in use %.1f MiB, %d input records so far, %.0f per CPU-second\n",
			d, procStatus("VmRSS"), float64(b.ms.HeapInuse)/(1<<20), n, float64(n)/b.cpu.Seconds())
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func (b *bench) report(out io.Writer) error {
	if err := b.flush(); err != nil {
		return err
	}
	total := 0
	var per []string
	for _, t := range stream.Topics() {
		if n := b.inputs[t]; n > 0 {
			total += n
			per = append(per, fmt.Sprintf("%s=%d", t, n))
		}
	}
	mib := func(n uint64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }
	fmt.Fprintf(out, "inputs           %d records, %.1f MiB Avro (%s)\n", total, float64(b.inputBytes)/(1<<20), strings.Join(per, " "))
	fmt.Fprintf(out, "outputs          %d product_daily rows, %d product_links, %.1f MiB Avro; %d dead letters\n",
		b.rows, b.links, float64(b.outputBytes)/(1<<20), b.deadLetters)
	fmt.Fprintf(out, "changelogs       %.1f MiB of changelog records\n", float64(b.driver.ChangelogBytes)/(1<<20))
	fmt.Fprintf(out, "processing       %.2fs wall, %.2fs CPU (all steps, stores and commits, GC included; generation excluded)\n",
		b.elapsed.Seconds(), b.cpu.Seconds())
	fmt.Fprintf(out, "wall-clock rate  %.0f records/s (lower than the CPU rate when other processes share the core)\n",
		float64(total)/b.elapsed.Seconds())
	fmt.Fprintf(out, "outputs/input    %.2f\n", float64(b.rows+b.links)/float64(total))
	r := b.driver.ReadStats()
	pct := func(n, of int64) string {
		return strconv.FormatFloat(100*float64(n)/float64(max(of, 1)), 'f', 1, 64) + " %"
	}
	fmt.Fprintf(out, "store reads      %d gets: %s the transaction's writes, %s the key filter (never written; %d absent keys it let through), "+
		"%s the value cache (%s of them absent keys), %s pebble (%s of them absent keys); %d scans\n",
		r.Gets, pct(r.Written, r.Gets), pct(r.KeyFiltered, r.Gets), r.KeyFilterPassedAbsent, pct(r.Cached, r.Gets), pct(r.CachedAbsent, r.Cached),
		pct(r.Pebble, r.Gets), pct(r.PebbleAbsent, r.Pebble), r.Scans)
	fmt.Fprintf(out, "pebble           block cache %d hits, %d misses (%s hit); bloom filters %d lookups answered, %d let through\n",
		r.BlockCacheHits, r.BlockCacheMisses, pct(r.BlockCacheHits, r.BlockCacheHits+r.BlockCacheMisses), r.FilterHits, r.FilterMisses)
	fmt.Fprintf(out, "peak memory      heap in use %s MiB (sampled every %d records), VmHWM %s; %d GC cycles in all\n",
		mib(b.heapInuse), chunkSize, procStatus("VmHWM"), b.ms.NumGC)
	took, keys, err := b.filterRebuild()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restart          the stores reopened: the key filter rebuilt from %d keys on disk in %.2fs (reads go to pebble until then)\n",
		keys, took.Seconds())
	if b.deadLetters > 0 {
		return fmt.Errorf("%d records of the synthetic world were rejected", b.deadLetters)
	}
	// Records per CPU-second of the one core: on an idle machine the same
	// as the wall-clock rate, and unlike it not lowered by whatever else
	// runs on a shared machine.
	fmt.Fprintf(out, "transform records-per-second %.0f\n", float64(total)/b.cpu.Seconds())
	return nil
}

// filterRebuild closes the stores and opens them again, as a restart
// does, and returns how long the key filter took to rebuild from the keys
// on disk, and from how many; untimed.
func (b *bench) filterRebuild() (time.Duration, int64, error) {
	if err := b.driver.Close(); err != nil {
		return 0, 0, err
	}
	db, err := state.Open(b.dir, state.Options{CacheBytes: b.cacheBytes})
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r := db.ReadStats(); r.KeyFilterReady {
			return r.KeyFilterBuild, r.KeyFilterBuildKeys, nil
		}
	}
	return 0, 0, errors.New("the stores' key filter was not rebuilt within 2 minutes")
}

// cpuTime returns the CPU time the process has used, all threads (the GC's
// included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus returns a field of /proc/self/status (VmRSS, VmHWM).
func procStatus(field string) string { return statusKB(os.Getpid(), field) }
