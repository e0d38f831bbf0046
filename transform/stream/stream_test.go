package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// kafkaEnv is a real broker with a fresh set of prefixed topics and a
// schema registry holding every schema.
type kafkaEnv struct {
	brokers []string
	prefix  string
	serde   *schemas.Serde
	sr      *sr.Client
	adm     *kadm.Client
	cl      *kgo.Client
}

func newKafkaEnv(t *testing.T) *kafkaEnv {
	t.Helper()
	k := testenv.NewKafka(t)
	k.CreateTopics(t, 2, append(Topics(), identity.TopicProductLinks, join.TopicProductDaily)...)
	return &kafkaEnv{brokers: k.Brokers, prefix: k.Prefix, serde: k.Serde, sr: k.Registry, adm: k.Admin, cl: k.Client}
}

func (e *kafkaEnv) produce(t *testing.T, ins []input) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for _, in := range ins {
		b, err := e.serde.Encode(in.topic, in.rec)
		if err != nil {
			t.Fatalf("encode %s %s: %v", in.topic, in.key, err)
		}
		rs = append(rs, &kgo.Record{Topic: e.prefix + in.topic, Key: []byte(in.key), Value: b})
	}
	// Ingest writes in transactions, so inputs carry commit markers.
	txn, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.TransactionalID(e.prefix+"ingest"))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// table reads the committed output of topic as a current-state table
// would: per key, the record with the highest version.
type table struct {
	mu   sync.Mutex
	rows map[string]map[string]any
	errs []string
}

func (e *kafkaEnv) follow(t *testing.T, ctx context.Context, topic string) *table {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.prefix+topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	tb := &table{rows: map[string]map[string]any{}}
	done := make(chan struct{})
	t.Cleanup(func() { cl.Close(); <-done })
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				v, err := e.serde.Decode(ctx, r.Value)
				tb.mu.Lock()
				defer tb.mu.Unlock()
				if err != nil {
					tb.errs = append(tb.errs, err.Error())
					return
				}
				k := string(r.Key)
				if prev, ok := tb.rows[k]; ok && prev["version"].(int64) >= v["version"].(int64) {
					tb.errs = append(tb.errs, fmt.Sprintf("%s: version %d after %d", k, v["version"], prev["version"]))
				}
				tb.rows[k] = v
			})
		}
	}()
	return tb
}

// current returns the table's live rows, without fields that differ
// between runs (versions, ids, times).
func (tb *table) current() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for k, v := range tb.rows {
		if v["op"] == "delete" {
			continue
		}
		out = append(out, k+" "+contentOf(v))
	}
	slices.Sort(out)
	return out
}

func contentOf(v map[string]any) string {
	c := map[string]any{}
	for k, x := range v {
		switch k {
		case "version", "event_id", "source_ts", "ingest_ts", "op", "previous_product_key":
		default:
			// A null field reads as an absent one: the schema's null
			// default (a decoded record has every field of its schema).
			if x != nil {
				c[k] = x
			}
		}
	}
	return fmt.Sprint(c)
}

// expected is what the tables must end up holding: a Processor fed the same
// inputs directly.
func expected(t *testing.T, ins []input) (rows, links []string) {
	t.Helper()
	p := NewProcessor(nil, join.Config{})
	for _, in := range ins {
		if _, err := p.Process(in.topic, in.rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range p.Rows() {
		rows = append(rows, r.Key()+" "+contentOf(r.Record()))
	}
	for _, l := range p.Links() {
		key, rec := identity.LinkRecord(identity.Change{Link: l, PreviousKey: "x"}, 1, time.Time{}, time.Time{})
		links = append(links, key+" "+contentOf(rec))
	}
	slices.Sort(rows)
	slices.Sort(links)
	return rows, links
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool, explain func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, explain())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run starts Run and returns a function that stops it and returns its error.
func (e *kafkaEnv) run(t *testing.T, group string, batches *int) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: group,
			TransactionalID: group + "-txn", Serde: e.serde,
			OnBatch: func(int, int) { mu.Lock(); *batches++; mu.Unlock() }})
	}()
	return func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(time.Minute):
			return errors.New("Run did not stop")
		}
	}
}

// TestRunRefusesExpiringInputs: an input topic that deletes records after
// a day would make a rebuild forget facts, so Run stops at once with an
// error that names the topic, the setting and the fix.
func TestRunRefusesExpiringInputs(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := e.prefix + join.InputTopics()[0]
	day := "86400000"
	res, err := e.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &day}}, topic)
	if err != nil || res[0].Err != nil {
		t.Fatalf("alter %s: %v %v", topic, err, res)
	}
	// Brokers apply a config change a moment after acknowledging it.
	for retentionMS(t, ctx, e.adm, topic) != day {
		time.Sleep(50 * time.Millisecond)
	}
	err = Run(ctx, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: e.prefix + "g", Serde: e.serde})
	if err == nil || !strings.Contains(err.Error(), topic+" has retention.ms="+day) || !strings.Contains(err.Error(), "retention.ms=-1") {
		t.Fatalf("Run = %v, want a refusal naming %s and the fix", err, topic)
	}
}

func retentionMS(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == "retention.ms" && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// TestRunWithCrash runs the stage against a real broker. The first run
// commits a first part of a history, then crashes in its second
// transaction after producing that transaction's outputs but before
// committing it. The rest of the history arrives, a second run rebuilds its
// state from the topics and goes on. The joined rows and links, read back
// read_committed with the latest version per key, must equal a direct
// computation over all inputs, with versions only growing per key, and the
// undecodable record must be in the dead-letter topic.
func TestRunWithCrash(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows := e.follow(t, ctx, join.TopicProductDaily)
	links := e.follow(t, ctx, identity.TopicProductLinks)
	group := strings.TrimSuffix(e.prefix, ".") + "-group"

	ins := history(t)
	a, b := len(ins)/3, 2*len(ins)/3
	wantRows1, _ := expected(t, ins[:a])
	e.produce(t, ins[:a])

	var mu sync.Mutex
	transactions := 0
	crashed := errors.New("simulated crash")
	crashBeforeEnd = func() error {
		mu.Lock()
		defer mu.Unlock()
		transactions++
		if transactions == 2 {
			return crashed
		}
		return nil
	}
	t.Cleanup(func() { crashBeforeEnd = nil })
	var batches int
	ctx1, cancel1 := context.WithCancel(ctx)
	defer cancel1()
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx1, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: group,
			TransactionalID: group + "-txn", Serde: e.serde})
	}()
	waitFor(t, "the first part's rows", time.Minute, func() bool { return slices.Equal(rows.current(), wantRows1) },
		func() string { return diff(rows.current(), wantRows1) })
	e.produce(t, ins[a:b])
	select {
	case err := <-errc:
		if !errors.Is(err, crashed) {
			t.Fatalf("first run ended with %v, want the simulated crash", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("first run did not crash")
	}
	crashBeforeEnd = nil
	// Nothing of the crashed transaction is visible.
	if got := rows.current(); !slices.Equal(got, wantRows1) {
		t.Fatalf("rows of the crashed transaction are visible:\n%s", diff(got, wantRows1))
	}

	e.produce(t, ins[b:])
	if err := e.cl.ProduceSync(ctx, &kgo.Record{Topic: e.prefix + "tiktok.orders", Key: []byte("bad"), Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wantRows, wantLinks := expected(t, ins)
	stop := e.run(t, group, &batches)
	waitFor(t, "all rows after the restart", time.Minute, func() bool {
		return slices.Equal(rows.current(), wantRows) && slices.Equal(links.current(), wantLinks)
	}, func() string {
		return "rows:\n" + diff(rows.current(), wantRows) + "\nlinks:\n" + diff(links.current(), wantLinks)
	})
	dead := e.count(t, ctx, deadletter.Topic("tiktok.orders"))
	waitFor(t, "the dead letter", time.Minute, func() bool { return dead() == 1 }, func() string { return fmt.Sprint(dead()) })
	if err := stop(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	for _, tb := range []*table{rows, links} {
		tb.mu.Lock()
		if len(tb.errs) > 0 {
			t.Errorf("output problems: %v", tb.errs)
		}
		tb.mu.Unlock()
	}
}

// count returns a function reporting how many committed records topic has.
func (e *kafkaEnv) count(t *testing.T, ctx context.Context, topic string) func() int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.prefix+topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	t.Cleanup(func() { cl.Close(); <-done })
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				mu.Lock()
				n++
				mu.Unlock()
			})
		}
	}()
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// diff lists the lines only in got (-) and only in want (+).
func diff(got, want []string) string {
	var out []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, "- "+g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, "+ "+w)
		}
	}
	return strings.Join(out, "\n")
}

// TestRunAfterRetention checks that a rebuild does not wait forever for
// records that retention deleted: the inputs below the committed offsets are
// gone, and the stage must still go on to process new records.
func TestRunAfterRetention(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	group := strings.TrimSuffix(e.prefix, ".") + "-group"
	ins := history(t)
	e.produce(t, ins[:len(ins)/2])
	var batches int
	var mu sync.Mutex
	count := func() int { mu.Lock(); defer mu.Unlock(); return batches }
	ctx1, cancel1 := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx1, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: group, TransactionalID: group + "-txn",
			Serde: e.serde, OnBatch: func(int, int) { mu.Lock(); batches++; mu.Unlock() }})
	}()
	waitFor(t, "the first run's transaction", time.Minute, func() bool { return count() > 0 }, func() string { return "" })
	// Let the first run commit everything it read.
	lag := func() int64 {
		lags, err := e.adm.Lag(ctx, group)
		if err != nil {
			return -1
		}
		return lags[group].Lag.Total()
	}
	waitFor(t, "no lag", time.Minute, func() bool { return lag() == 0 }, func() string { return fmt.Sprint(lag()) })
	cancel1()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ends, err := e.adm.ListEndOffsets(ctx, prefixed(e.prefix, Topics())...)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.adm.DeleteRecords(ctx, ends.Offsets())
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Error(); err != nil {
		t.Fatal(err)
	}

	e.produce(t, ins[len(ins)/2:])
	before := count()
	ctx2, cancel2 := context.WithCancel(ctx)
	go func() {
		done <- Run(ctx2, Config{Brokers: e.brokers, TopicPrefix: e.prefix, Group: group, TransactionalID: group + "-txn",
			Serde: e.serde, OnBatch: func(int, int) { mu.Lock(); batches++; mu.Unlock() }})
	}()
	waitFor(t, "a transaction after the rebuild", time.Minute, func() bool { return count() > before }, func() string { return "" })
	cancel2()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
