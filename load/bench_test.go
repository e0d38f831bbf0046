package load_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/procfs"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
)

// BenchVar enables TestBenchLoad (make bench-load sets it).
const benchVar = "SHOPSTREAM_TEST_BENCH_LOAD"

// TestBenchLoad measures, in one run on the same data and per protocol
// (native, then HTTP), alternating two runs of each, the loader (the real `shopstream load`
// process: Kafka fetch, Avro decode, mapping, inserts, commits) against the
// ceiling: the same rows, already decoded, inserted straight into the same
// warehouse over the same protocol as Native batches of the same size with
// the same parallelism (one inserter per partition) and no Kafka. It prints
// both rates, the loader's peak memory (VmHWM) and the ratio per protocol.
func TestBenchLoad(t *testing.T) {
	if os.Getenv(benchVar) == "" {
		t.Skipf("set %s=1 (make bench-load) to run the load benchmark", benchVar)
	}
	n := envInt(t, "SHOPSTREAM_TEST_BENCH_ROWS", 200000)
	batchRows := envInt(t, "SHOPSTREAM_TEST_BENCH_BATCH_ROWS", 10000)
	const partitions = 4
	h := newHarness(t, partitions, protocols[0])
	// The loader as production runs it: a build without the engine, whose
	// library (mapped by every process of the engine build) is not the
	// loader's memory.
	h.loaderBin = os.Getenv("SHOPSTREAM_TEST_BENCH_LOADER")
	ctx := context.Background()

	all := orders(n, partitions)
	recs := make([]*kgo.Record, n)
	for i, o := range all {
		recs[i] = h.record(o)
	}
	for i := 0; i < n; i += 10000 {
		h.produce(recs[i:min(i+10000, n)]...)
	}
	tbl, err := tables.ForTopic(ordersTopic)
	if err != nil {
		t.Fatal(err)
	}

	// Ceiling: decode up front (not timed, the loader's way: the row
	// decoder of the writer's schema), then insert per partition.
	byPart := make([][][]any, partitions)
	decodeStart := time.Now()
	var rd *tables.RowDecoder
	for _, r := range recs {
		_, schema, payload, err := h.serde.WriterSchema(ctx, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if rd == nil {
			if rd, err = tbl.NewRowDecoder(schema); err != nil {
				t.Fatal(err)
			}
		}
		row, _, err := rd.Decode(payload, r.Key, r.Partition, int64(len(byPart[r.Partition])))
		if err != nil {
			t.Fatal(err)
		}
		byPart[r.Partition] = append(byPart[r.Partition], row)
	}
	decodeSecs := time.Since(decodeStart).Seconds()
	loaderBin := "bin/shopstream (engine build)"
	if h.loaderBin != "" {
		loaderBin = h.loaderBin + " (no engine)"
	}
	fmt.Printf("load rows %d, batch %d rows, %d partitions, loader %s\n", n, batchRows, partitions, loaderBin)
	fmt.Printf("load decode   %10.0f rows/s  (Avro decode and mapping alone, one goroutine, %.2fs)\n", float64(n)/decodeSecs, decodeSecs)

	for _, protocol := range protocols {
		h.protocol = protocol
		h.conn = connectWith(t, h.wh, protocol)
		// truncate empties the tables and waits until no merge runs, so
		// each measurement starts on an idle warehouse.
		truncate := func() {
			for _, q := range []string{"TRUNCATE TABLE amazon_orders_changes", "TRUNCATE TABLE amazon_orders"} {
				if err := h.conn.Exec(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			h.eventually("no merges running", time.Minute, func() (bool, string) {
				c := h.count("SELECT count() FROM system.merges")
				return c == 0, fmt.Sprint(c)
			})
		}
		runCeiling := func(round int) float64 {
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, partitions)
			for p := range partitions {
				wg.Go(func() {
					rows := byPart[p]
					for i := 0; i < len(rows); i += batchRows {
						end := min(i+batchRows, len(rows))
						token := fmt.Sprintf("ceiling-%s%d-%d-%d", protocol, round, p, i)
						if err := load.InsertRowsForTest(ctx, h.conn, protocol == "http", tbl, token, rows[i:end]); err != nil {
							errs[p] = err
							return
						}
					}
				})
			}
			wg.Wait()
			secs := time.Since(start).Seconds()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if got := h.count("SELECT count() FROM amazon_orders_changes"); got != int64(n) {
				t.Fatalf("ceiling inserted %d rows, want %d", got, n)
			}
			truncate()
			return secs
		}

		// Loader: the real process, timed from its first rows to its last,
		// so the group join (a broker-side delay) is not counted. Each run
		// is a fresh consumer group reading the topic from the start.
		runLoader := func(round int) (rate float64, peakKB int64) {
			h.group = fmt.Sprintf("%sload-%s-%d", h.prefix, protocol, round)
			cmd := h.loaderProcess("SHOPSTREAM_LOAD_BATCH_ROWS="+strconv.Itoa(batchRows), "SHOPSTREAM_LOG_LEVEL=warn")
			var t0 time.Time
			var c0 int64
			h.eventually("loader's first rows", 2*time.Minute, func() (bool, string) {
				c := h.count("SELECT count() FROM amazon_orders_changes")
				if c > 0 {
					t0, c0 = time.Now(), c
				}
				return c > 0, fmt.Sprint(c)
			})
			h.eventually("loader done", 10*time.Minute, func() (bool, string) {
				peakKB = max(peakKB, vmHWM(cmd.Process.Pid))
				c := h.count("SELECT count() FROM amazon_orders_changes")
				return c == int64(n), fmt.Sprint(c)
			})
			secs := time.Since(t0).Seconds()
			peakKB = max(peakKB, vmHWM(cmd.Process.Pid))
			h.assertExactlyOnce(n)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			truncate()
			return float64(n-int(c0)) / secs, peakKB
		}

		// Loader and ceiling alternate, twice each, and each counts at its
		// best: a shared machine's noise hits both alike.
		truncate()
		var loader, ceiling float64
		var peakKB int64
		for round := 1; round <= 2; round++ {
			rate, kb := runLoader(round)
			loader, peakKB = max(loader, rate), max(peakKB, kb)
			ceiling = max(ceiling, float64(n)/runCeiling(round))
		}
		fmt.Printf("load %-6s ceiling  %10.0f rows/s  (decoded rows, Native inserts, no Kafka; best of two runs)\n", protocol, ceiling)
		fmt.Printf("load %-6s loader   %10.0f rows/s  (shopstream load from its first batch on; best of two runs), peak RSS %d MiB\n",
			protocol, loader, peakKB/1024)
		fmt.Printf("load %-6s ceiling-ratio %.2f\n", protocol, loader/ceiling)
	}
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// vmHWM returns the peak resident set size of pid in KiB, 0 if unknown.
func vmHWM(pid int) int64 {
	kb, err := procfs.StatusKB(pid, "VmHWM")
	if err != nil {
		return 0
	}
	return kb
}
