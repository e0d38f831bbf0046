// Command benchtransform measures the transform stage's work per input
// record on one core: Avro decode of the input, identity resolution and the
// product/day join (stream.Processor), and Avro encode of every output
// record. Kafka is left out: it is the same for every stage and measured by
// the load benchmark.
//
// The inputs are a synthetic world with the simulators' record shapes (see
// world.go for the mix): a catalog listed on both channels, mostly linked
// by GTIN, some by seller SKU, some unmatched and a few conflicting; then
// days of engagement snapshots, video performance, sales & traffic with
// restatements, catalog rank snapshots, orders of both channels, and the
// weekly Brand Analytics reports, interleaved hour by hour as the ingest
// stages would write them. Records are generated and encoded in chunks
// outside the timed section, so generation neither counts as work nor
// holds the whole history in memory. Its garbage still triggers some GC
// cycles that run inside the timed section, as a consumer's fetch buffers
// would in the real stage.
//
// The rate is input records per CPU-second of the process (all threads,
// GC included) over the timed sections: on an idle machine the same as
// per wall-clock second, and not lowered by other processes sharing the
// core. Peak memory is the largest HeapInuse and Sys sampled between
// chunks, and the kernel's VmHWM (peak RSS).
//
// The last line is `transform records-per-second X`. Run it with
// `make bench-transform`.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

func main() {
	var (
		products   = flag.Int("products", 10000, "products in the catalog (Amazon ASINs; about as many TikTok products)")
		videos     = flag.Int("videos", 100000, "TikTok videos")
		days       = flag.Int("days", 7, "days of activity after the catalog")
		zone       = flag.String("zone", "UTC", "reporting time zone (IANA)")
		even       = flag.Bool("even", false, "split video figures evenly among products (default: full credit)")
		posted     = flag.Int("posted", 7, "videos are posted up to this many days before the world starts (create_time; 0: snapshots carry none), so first snapshots are spread over up to that many days more")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
		memProfile = flag.String("memprofile", "", "write a heap profile (live at the end, and allocations) to this file")
	)
	flag.Parse()
	if err := run(os.Stdout, options{products: *products, videos: *videos, days: *days, posted: *posted, zone: *zone, even: *even,
		cpuProfile: *cpuProfile, memProfile: *memProfile}); err != nil {
		fmt.Fprintln(os.Stderr, "benchtransform:", err)
		os.Exit(1)
	}
}

type options struct {
	products, videos, days int
	posted                 int
	zone                   string
	even                   bool
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
	b, err := newBench(cfg)
	if err != nil {
		return err
	}
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
	fmt.Fprintf(out, "transform bench: %d products, %d videos, %d days, reporting zone %s, attribution %s, GOMAXPROCS %d\n",
		o.products, o.videos, o.days, loc, map[bool]string{false: "full", true: "even"}[o.even], runtime.GOMAXPROCS(0))
	w := newWorld(o.products, o.videos, o.posted, b)
	if err := w.generate(o.days); err != nil {
		return err
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

// bench feeds chunks of encoded records through a Processor and times it.
type bench struct {
	proc   *stream.Processor
	codecs map[string]*schemas.Codec

	chunk   []encoded
	fill    *filler
	elapsed time.Duration // wall time of the timed sections
	cpu     time.Duration // process CPU time of the timed sections

	inputs      map[string]int
	inputBytes  int64
	rows, links int
	outputBytes int64
	deadLetters int
	ms          runtime.MemStats
	heapInuse   uint64
	sys         uint64
}

type encoded struct {
	topic string
	value []byte
}

// chunkSize bounds the records generated ahead of processing.
const chunkSize = 4096

func newBench(cfg join.Config) (*bench, error) {
	b := &bench{proc: stream.NewProcessor(nil, cfg), codecs: map[string]*schemas.Codec{}, inputs: map[string]int{}, fill: newFiller()}
	for _, t := range append(stream.Topics(), join.TopicProductDaily, identity.TopicProductLinks) {
		c, err := schemas.NewCodec(t)
		if err != nil {
			return nil, err
		}
		b.codecs[t] = c
	}
	return b, nil
}

// add encodes a record for the next chunk; untimed.
func (b *bench) add(topic string, rec map[string]any) error {
	if err := b.fill.fill(topic, rec); err != nil {
		return err
	}
	v, err := b.codecs[topic].Encode(rec)
	if err != nil {
		return fmt.Errorf("generate %s: %w", topic, err)
	}
	b.chunk = append(b.chunk, encoded{topic, v})
	if len(b.chunk) >= chunkSize {
		return b.flush()
	}
	return nil
}

// flush processes the pending chunk, timed: decode, process, encode the
// outputs. Then it samples memory, untimed.
func (b *bench) flush() error {
	start, startCPU := time.Now(), cpuTime()
	for _, e := range b.chunk {
		rec, err := b.codecs[e.topic].Decode(e.value)
		if err != nil {
			return err
		}
		outs, err := b.proc.Process(e.topic, rec)
		if err != nil {
			// Run would dead-letter it; the synthetic world has none.
			b.deadLetters++
			continue
		}
		for _, o := range outs {
			v, err := b.codecs[o.Topic].Encode(o.Value)
			if err != nil {
				return err
			}
			b.outputBytes += int64(len(v))
			if o.Topic == join.TopicProductDaily {
				b.rows++
			} else {
				b.links++
			}
		}
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
	b.sys = max(b.sys, b.ms.Sys)
	return nil
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
	fmt.Fprintf(out, "state            %d rows, %d links, %d conflicts\n", len(b.proc.Rows()), len(b.proc.Links()), len(b.proc.Conflicts()))
	fmt.Fprintf(out, "processing       %.2fs wall, %.2fs CPU (decode + identity + join + encode, GC included; generation excluded)\n",
		b.elapsed.Seconds(), b.cpu.Seconds())
	fmt.Fprintf(out, "wall-clock rate  %.0f records/s (lower than the CPU rate when other processes share the core)\n",
		float64(total)/b.elapsed.Seconds())
	fmt.Fprintf(out, "outputs/input    %.2f\n", float64(b.rows+b.links)/float64(total))
	fmt.Fprintf(out, "peak memory      heap in use %s MiB, Go runtime sys %s MiB, VmHWM %s (sampled every %d records)\n",
		mib(b.heapInuse), mib(b.sys), vmHWM(), chunkSize)
	if b.deadLetters > 0 {
		return fmt.Errorf("%d records of the synthetic world were rejected", b.deadLetters)
	}
	// Records per CPU-second of the one core: on an idle machine the same
	// as the wall-clock rate, and unlike it not lowered by whatever else
	// runs on a shared machine.
	fmt.Fprintf(out, "transform records-per-second %.0f\n", float64(total)/b.cpu.Seconds())
	return nil
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

// vmHWM returns the process's peak resident set size from /proc.
func vmHWM() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}
