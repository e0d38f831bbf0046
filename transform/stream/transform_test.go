package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// config is the configuration of instance id of the env's group, state in dir.
func (e *kafkaEnv) config(id, dir string) Config {
	return Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: e.group, InstanceID: id, StateDir: dir,
		Serde: e.serde, Partitions: 4, CacheBytes: 16 << 20,
		ClientOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second)},
		Log:        zerolog.Nop()}
}

// startInstance runs one instance of the partitioned transform until the
// returned stop is called. Its warnings go to the test log, and to logs.
func (e *kafkaEnv) startInstance(t *testing.T, id, dir string, logs ...io.Writer) (stop func() error) {
	t.Helper()
	cfg := e.config(id, dir)
	out := io.MultiWriter(append(logs, zerolog.NewTestWriter(t))...)
	cfg.Log = zerolog.New(out).Level(zerolog.WarnLevel).With().Timestamp().Str("instance", id).Logger()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return errors.Join(err, tr.Close())
		case <-time.After(time.Minute):
			return errors.New("Run did not stop")
		}
	}
}

// TestTransformInstances runs the partitioned transform with one and with
// three instances of a group over the same history,
// stopping and restarting instances while it arrives, one of them with a
// wiped state directory. product_daily and product_links, read back
// read_committed with the latest version per key, must equal the
// serial reference's.
func TestTransformInstances(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d_instances", n), func(t *testing.T) {
			e := newKafkaEnv(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, links := e.followOutputs(t, ctx)
			ins := history(t)
			base := t.TempDir()
			dir := func(i int) string { return filepath.Join(base, fmt.Sprint(i)) }
			stops := make([]func() error, n)
			for i := range n {
				stops[i] = e.startInstance(t, fmt.Sprint(i), dir(i))
			}
			third := len(ins) / 3
			e.produce(t, ins[:third])
			// Restart instance 0 with its state, then (more data later)
			// with its state directory gone.
			if err := stops[0](); err != nil {
				t.Fatal(err)
			}
			stops[0] = e.startInstance(t, "0", dir(0))
			e.produce(t, ins[third:2*third])
			if err := stops[0](); err != nil {
				t.Fatal(err)
			}
			stops[0] = e.startInstance(t, "0", filepath.Join(base, "wiped"))
			e.produce(t, ins[2*third:])

			wantRows, wantLinks := expected(t, ins)
			waitTables(t, "rows and links", 2*time.Minute, rows, links, wantRows, wantLinks)
			for _, stop := range stops {
				if err := stop(); err != nil {
					t.Errorf("instance: %v", err)
				}
			}
			checkTables(t, rows, links)
		})
	}
}

// TestDriver runs the topology in process (every step, task and store,
// no broker) over the history, with several partitions and transaction
// sizes, restarting it on the same state directory halfway: the outputs,
// last version per key, equal the serial reference's.
func TestDriver(t *testing.T) {
	serde := testenv.NewRegistry(t).Serde
	ins := history(t)
	wantRows, wantLinks := expected(t, ins)
	for _, parts := range []int{1, 4} {
		for _, every := range []int{1, 5, 1000} {
			dir := t.TempDir()
			tables, output := outputTables(t, serde)
			d, err := NewDriver(Config{Serde: serde, Partitions: parts, StateDir: dir, CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			run := func(ins []schematest.Input) {
				d.Output = output
				for i, in := range ins {
					feed(t, d, serde, in)
					if (i+1)%every == 0 {
						if err := d.Commit(); err != nil {
							t.Fatal(err)
						}
					}
				}
				for range 2 { // the second reacts to links the first produced
					if err := d.Commit(); err != nil {
						t.Fatal(err)
					}
				}
			}
			run(ins[:len(ins)/2])
			if d, err = d.Reopen(); err != nil {
				t.Fatal(err)
			}
			run(ins[len(ins)/2:])
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if got := tables[join.TopicProductDaily].current(); !slices.Equal(got, wantRows) {
				t.Fatalf("%d partitions, commit every %d: rows differ:\n%s", parts, every, diff(got, wantRows))
			}
			if got := tables[identity.TopicProductLinks].current(); !slices.Equal(got, wantLinks) {
				t.Fatalf("%d partitions, commit every %d: links differ:\n%s", parts, every, diff(got, wantLinks))
			}
		}
	}
}
