package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/transform/state"
)

// wordCount is the engine's test topology, Kafka Streams' word count:
// words (any partitions) are repartitioned by word to a counting task
// whose store holds each word's count; every count goes out to "counts".
// Exactly once means each word's committed counts are 1, 2, ..., n.
func wordCount(prefix, group string) *topology {
	return &topology{prefix: prefix, group: group, outputs: map[string]map[string]*string{"counts": nil},
		subs: []*subTopology{
			{name: "split", inputs: []string{"words"}, newTask: func(int32, *state.Store) processor { return splitter{} }},
			{name: "count", internal: "count", partitions: 4, store: "counts",
				newTask: func(_ int32, st *state.Store) processor { return &counter{st: st} }},
		}}
}

type splitter struct{}

func (splitter) process(_ context.Context, r *kgo.Record, emit emitFunc) error {
	for w := range strings.FieldsSeq(string(r.Value)) {
		emit("count", true, []byte(w), []byte{})
	}
	return nil
}

func (splitter) reset() {}

type counter struct{ st *state.Store }

func (c *counter) process(_ context.Context, r *kgo.Record, emit emitFunc) error {
	v, _, err := c.st.Get(r.Key)
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(v))
	n++
	if err := c.st.Set(r.Key, []byte(strconv.Itoa(n))); err != nil {
		return err
	}
	emit("counts", false, r.Key, []byte(strconv.Itoa(n)))
	return nil
}

func (c *counter) reset() {}

const engineChildEnv = "STREAM_ENGINE_CHILD"

// TestEngineChild is one instance of TestEngineScaleOut's stage; it does
// nothing in a normal run.
func TestEngineChild(t *testing.T) {
	if os.Getenv(engineChildEnv) != "1" {
		t.Skip("runs only as a child of TestEngineScaleOut")
	}
	prefix, group := os.Getenv("STREAM_PREFIX"), os.Getenv("STREAM_GROUP")
	e, err := newEngine(engineConfig{
		brokers:    strings.Split(os.Getenv("STREAM_BROKERS"), ","),
		clientOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second)},
		group:      group, instanceID: os.Getenv("STREAM_INSTANCE"), stateDir: os.Getenv("STREAM_STATE_DIR"),
		log: zerolog.New(os.Stderr).Level(zerolog.InfoLevel),
	}, wordCount(prefix, group))
	if err != nil {
		t.Fatal(err)
	}
	t.Fatalf("engine stopped: %v", e.run(context.Background()))
}

// instance is a running child instance.
type instance struct {
	id, dir string
	cmd     *exec.Cmd
	done    chan struct{}
	log     string
}

// TestEngineScaleOut runs the word count with one and with three
// instances in one group, SIGKILLing and restarting instances at random
// (some with their state directory wiped) while words arrive and the
// group rebalances. Every word's committed counts must be exactly 1..n.
func TestEngineScaleOut(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d_instances", n), func(t *testing.T) { testEngineScaleOut(t, n) })
	}
}

func testEngineScaleOut(t *testing.T, instances int) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prefix := fmt.Sprintf("eng%d.", time.Now().UnixNano())
	group := "wc"
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopics(ctx, 3, 1, nil, prefix+"words", prefix+"counts")
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	top := wordCount(prefix, group)
	t.Cleanup(func() {
		topics := []string{prefix + "words", prefix + "counts"}
		for tp := range top.internalPartitions() {
			topics = append(topics, tp)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = adm.DeleteTopics(dctx, topics...)
	})

	counts := map[string][]int{}
	var mu sync.Mutex
	follow, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+"counts"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Close()
	go func() {
		for {
			fs := follow.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				n, _ := strconv.Atoi(string(r.Value))
				mu.Lock()
				counts[string(r.Key)] = append(counts[string(r.Key)], n)
				mu.Unlock()
			})
		}
	}()

	start := func(id, dir string) *instance {
		logf, err := os.CreateTemp(t.TempDir(), "instance-*.log")
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^TestEngineChild$")
		cmd.Env = append(os.Environ(), engineChildEnv+"=1", "STREAM_BROKERS="+strings.Join(brokers, ","),
			"STREAM_PREFIX="+prefix, "STREAM_GROUP="+group, "STREAM_INSTANCE="+id, "STREAM_STATE_DIR="+dir)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		in := &instance{id: id, dir: dir, cmd: cmd, done: make(chan struct{}), log: logf.Name()}
		go func() { _ = cmd.Wait(); close(in.done) }()
		return in
	}
	kill := func(in *instance) { _ = in.cmd.Process.Kill(); <-in.done }
	var running []*instance
	base := t.TempDir()
	for i := range instances {
		id := strconv.Itoa(i)
		running = append(running, start(id, filepath.Join(base, id)))
	}
	t.Cleanup(func() {
		for _, in := range running {
			kill(in)
			if t.Failed() {
				b, _ := os.ReadFile(in.log)
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("instance %s log (tail):\n%s", in.id, b)
			}
		}
	})

	rng := rand.New(rand.NewPCG(uint64(instances), 11))
	want := map[string]int{}
	vocabulary := 60
	for round := range 6 {
		var rs []*kgo.Record
		for range 40 {
			var words []string
			for range 1 + rng.IntN(6) {
				w := fmt.Sprintf("w%02d", rng.IntN(vocabulary))
				want[w]++
				words = append(words, w)
			}
			rs = append(rs, &kgo.Record{Topic: prefix + "words", Value: []byte(strings.Join(words, " "))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		// Let the stage get into the words, then kill one instance at a
		// random moment and restart it, sometimes with its state lost.
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		i := rng.IntN(len(running))
		in := running[i]
		kill(in)
		wipe := rng.IntN(3) == 0
		if wipe {
			if err := os.RemoveAll(in.dir); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("round %d: killed instance %s (state wiped: %v)", round, in.id, wipe)
		running[i] = start(in.id, in.dir)
	}

	deadline := time.Now().Add(3 * time.Minute)
	for {
		mu.Lock()
		done := len(counts) == len(want)
		for w, n := range want {
			if c := counts[w]; len(c) == 0 || c[len(c)-1] != n {
				done = false
			}
		}
		var bad []string
		for w, c := range counts {
			for i, n := range c {
				if n != i+1 {
					bad = append(bad, fmt.Sprintf("%s: %v", w, c))
					break
				}
			}
		}
		mu.Unlock()
		slices.Sort(bad)
		if len(bad) > 0 {
			t.Fatalf("committed counts are not 1..n (lost or duplicated work):\n%s", strings.Join(bad, "\n"))
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("counts did not reach %v:\n%v", want, counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAdaptLimit: slow transactions halve the next poll's records, quick
// ones double them, within the configured bound (and never below a floor
// unless the bound is lower); no bound stays none.
func TestAdaptLimit(t *testing.T) {
	for _, c := range []struct {
		limit, bound int
		took         time.Duration
		want         int
	}{
		{1000, 1000, txnTarget + time.Millisecond, 500},
		{60, 1000, 2 * txnTarget, minPollRecords},
		{10, 10, 2 * txnTarget, 10},
		{500, 1000, time.Millisecond, 1000},
		{1000, 1000, time.Millisecond, 1000},
		{500, 1000, txnTarget / 2, 500},
		{0, 0, time.Hour, 0},
	} {
		if got := adaptLimit(c.limit, c.bound, c.took); got != c.want {
			t.Errorf("adaptLimit(%d, %d, %s) = %d, want %d", c.limit, c.bound, c.took, got, c.want)
		}
	}
}
