package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/procfs"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

// restartOptions configure the restart benchmark.
type restartOptions struct {
	brokers []string
	binary  string // bin/shopstream
	cacheMB int
}

// runRestart is the restart benchmark: the world's history goes into the
// input topics of a real broker; `shopstream transform` (one instance, the
// production binary, a schema registry of its own) consumes all of it;
// then it is killed with SIGKILL and started again on the same state
// directory, and the benchmark prints the time from the start of the new
// process to the first product_daily row it commits (a record produced
// while it was down waits for it). It does the same once more with the
// state directory wiped, as when a task moves to another instance or a
// disk is lost: the stores are restored from their changelogs.
func runRestart(out io.Writer, o options, ro restartOptions) error {
	ctx := context.Background()
	reg := srfake.New()
	defer reg.Close()
	src, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		return err
	}
	registry := schemas.NewRegistry(src)
	if _, err := registry.Register(ctx); err != nil {
		return fmt.Errorf("register schemas: %w", err)
	}
	serde, err := registry.Serde(ctx)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("benchrestart%d.", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(ro.brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<16))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var inputs []string
	for _, t := range stream.Topics() {
		inputs = append(inputs, prefix+t)
	}
	created := append([]string{}, inputs...)
	for _, t := range inputs {
		created = append(created, deadletter.Topic(t))
	}
	if res, err := adm.CreateTopics(ctx, 6, -1, nil, created...); err != nil || res.Error() != nil {
		return fmt.Errorf("create topics: %v %v", err, res.Error())
	}
	defer func() {
		// Everything under the prefix: the inputs and what the stage
		// created (outputs, internal topics).
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if ts, err := adm.ListTopics(ctx); err == nil {
			var mine []string
			for _, t := range ts.Names() {
				if strings.HasPrefix(t, prefix) {
					mine = append(mine, t)
				}
			}
			_, _ = adm.DeleteTopics(ctx, mine...)
		}
	}()

	fmt.Fprintf(out, "transform restart bench: %d products, %d videos, %d days into Kafka (%v), then `%s transform`\n",
		o.products, o.videos, o.days, ro.brokers, ro.binary)
	p := &producer{cl: cl, serde: serde, prefix: prefix, fill: schematest.NewFiller(), out: out, started: time.Now()}
	w := newWorld(o.products, o.videos, o.posted, o.relinkDay, p)
	if err := w.generate(o.days); err != nil {
		return err
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err := p.err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "produced         %d input records in %s\n", p.n.Load(), time.Since(p.started).Round(time.Second))

	dir, err := os.MkdirTemp("", "benchrestart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	group := prefix + "transform"
	child := func(name string) (*exec.Cmd, error) {
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		cmd := exec.Command(ro.binary, "transform", "--instance-id", "0")
		cmd.Env = append(os.Environ(),
			"SHOPSTREAM_KAFKA_BROKERS="+strings.Join(ro.brokers, ","),
			"SHOPSTREAM_SCHEMA_REGISTRY_URL="+reg.URL(),
			"SHOPSTREAM_METRICS_LISTEN=127.0.0.1:0",
			"SHOPSTREAM_LOG_LEVEL=info",
			"SHOPSTREAM_KAFKA_TOPIC_PREFIX="+prefix,
			"SHOPSTREAM_TRANSFORM_GROUP="+group,
			"SHOPSTREAM_TRANSFORM_STATE_DIR="+filepath.Join(dir, "state"),
			fmt.Sprintf("SHOPSTREAM_TRANSFORM_CACHE_MB=%d", ro.cacheMB),
			fmt.Sprintf("SHOPSTREAM_TRANSFORM_PARTITIONS=%d", o.partitions),
		)
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd, cmd.Start()
	}

	// The whole history, once.
	start := time.Now()
	cmd, err := child("catchup")
	if err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := waitCaughtUp(ctx, adm, group, inputs, 2*time.Hour); err != nil {
		return err
	}
	took := time.Since(start)
	st, _ := procfs.ReadStat(cmd.Process.Pid)
	cpu, hwm := st.CPU, statusKB(cmd.Process.Pid, "VmHWM")
	fmt.Fprintf(out, "caught up        %d records in %s wall, %.1fs CPU of the process: %.0f records/s per core (Kafka client included); VmHWM %s\n",
		p.n.Load(), took.Round(time.Second), cpu.Seconds(), float64(p.n.Load())/cpu.Seconds(), hwm)
	if du, err := dirSize(filepath.Join(dir, "state")); err == nil {
		fmt.Fprintf(out, "state directory  %.1f MiB\n", float64(du)/(1<<20))
	}

	version := int64(1 << 40)
	restart := func(name string, wipe bool) (time.Duration, error) {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if wipe {
			if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
				return 0, err
			}
		}
		// A new record while the stage is down: its row is the first
		// output the new process can commit (or one of the killed
		// process's aborted transaction, done again).
		ends, err := adm.ListEndOffsets(ctx, prefix+join.TopicProductDaily)
		if err != nil {
			return 0, err
		}
		// A day of its own, so that its row is new.
		version++
		probe := w.catalogRecord(1, version, w.d0.Add(time.Duration(o.days+int(version-1<<40))*24*time.Hour))
		if err := p.add("amazon.catalog", probe); err != nil {
			return 0, err
		}
		if err := cl.Flush(ctx); err != nil {
			return 0, err
		}
		offsets := map[string]map[int32]kgo.Offset{}
		ends.Each(func(l kadm.ListedOffset) {
			if offsets[l.Topic] == nil {
				offsets[l.Topic] = map[int32]kgo.Offset{}
			}
			offsets[l.Topic][l.Partition] = kgo.NewOffset().At(l.Offset)
		})
		rows, err := kgo.NewClient(kgo.SeedBrokers(ro.brokers...), kgo.ConsumePartitions(offsets),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		start := time.Now()
		if cmd, err = child(name); err != nil {
			return 0, err
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		for {
			fs := rows.PollFetches(pctx)
			if pctx.Err() != nil {
				return 0, fmt.Errorf("%s: no product_daily row within 10 minutes (log %s)", name, filepath.Join(dir, name+".log"))
			}
			if fs.NumRecords() > 0 {
				return time.Since(start), nil
			}
		}
	}
	warm, err := restart("restart", false)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restart          first row %.2fs after the start of the process (SIGKILL, same state directory)\n", warm.Seconds())
	fmt.Fprintf(out, "                 %s\n", restoreSummary(filepath.Join(dir, "restart.log")))
	cold, err := restart("wiped", true)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "restart wiped    first row %.2fs after the start of the process (SIGKILL, state directory wiped: restored from the changelogs)\n", cold.Seconds())
	fmt.Fprintf(out, "                 %s\n", restoreSummary(filepath.Join(dir, "wiped.log")))
	fmt.Fprintf(out, "transform restart-seconds %.2f\n", warm.Seconds())
	return nil
}

// producer is the sink that writes the world to the input topics.
type producer struct {
	cl      *kgo.Client
	serde   *schemas.Serde
	prefix  string
	fill    *schematest.Filler
	out     io.Writer
	started time.Time
	n       atomic.Int64

	mu    sync.Mutex
	first error
}

func (p *producer) add(topic string, rec map[string]any) error {
	if err := p.err(); err != nil {
		return err
	}
	v, err := encodeRecord(p.fill, p.serde, topic, rec)
	if err != nil {
		return err
	}
	p.n.Add(1)
	p.cl.Produce(context.Background(), &kgo.Record{Topic: p.prefix + topic, Value: v}, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.first == nil {
				p.first = err
			}
			p.mu.Unlock()
		}
	})
	return nil
}

func (p *producer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

func (p *producer) day(d int) {
	if d%7 == 0 {
		fmt.Fprintf(p.out, "produced day %-4d %d records so far, %s\n", d, p.n.Load(), time.Since(p.started).Round(time.Second))
	}
}

// waitCaughtUp waits until the group has committed every record of the
// inputs and its internal topics have no lag.
func waitCaughtUp(ctx context.Context, adm *kadm.Client, group string, inputs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ends, err := adm.ListEndOffsets(ctx, inputs...)
	if err != nil {
		return err
	}
	for {
		done := true
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			done = false
		} else {
			ends.Each(func(l kadm.ListedOffset) {
				if o, ok := offs.Lookup(l.Topic, l.Partition); l.Offset > 0 && (!ok || o.At < l.Offset) {
					done = false
				}
			})
		}
		if done {
			lags, err := adm.Lag(ctx, group)
			l := lags[group]
			if err != nil || l.Error() != nil || l.Lag.Total() != 0 {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the transform did not catch up")
		}
		time.Sleep(time.Second)
	}
}

// statusKB returns a field of /proc/pid/status (VmRSS, VmHWM) as "N kB",
// or "unknown".
func statusKB(pid int, field string) string {
	kb, err := procfs.StatusKB(pid, field)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%d kB", kb)
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// restoreSummary sums the "task restored" lines of a process's log.
func restoreSummary(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "restores: " + err.Error()
	}
	tasks, records := 0, 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"task restored"`) {
			continue
		}
		tasks++
		if i := strings.Index(line, `"records":`); i >= 0 {
			rest := line[i+len(`"records":`):]
			if j := strings.IndexAny(rest, ",}"); j > 0 {
				n, _ := strconv.Atoi(rest[:j])
				records += n
			}
		}
	}
	return fmt.Sprintf("%d tasks restored, %d changelog records read", tasks, records)
}
