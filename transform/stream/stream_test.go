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
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// kafkaEnv is a real broker with a fresh set of prefixed topics and a
// schema registry holding every schema.
type kafkaEnv struct {
	brokers []string
	prefix  string
	group   string // the transform's consumer group
	serde   *schemas.Serde
	sr      *sr.Client
	adm     *kadm.Client
	cl      *kgo.Client
}

func newKafkaEnv(t *testing.T) *kafkaEnv {
	t.Helper()
	k := testenv.NewKafka(t)
	k.CreateTopics(t, 2, append(Topics(), identity.TopicProductLinks, join.TopicProductDaily)...)
	return &kafkaEnv{brokers: k.Brokers, prefix: k.Prefix, group: strings.TrimSuffix(k.Prefix, ".") + "-group", serde: k.Serde, sr: k.Registry, adm: k.Admin, cl: k.Client}
}

func (e *kafkaEnv) produce(t *testing.T, ins []schematest.Input) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for _, in := range ins {
		b, err := e.serde.Encode(in.Topic, in.Value)
		if err != nil {
			t.Fatalf("encode %s %s: %v", in.Topic, in.Key, err)
		}
		rs = append(rs, &kgo.Record{Topic: e.prefix + in.Topic, Key: []byte(in.Key), Value: b})
	}
	// Ingest writes in transactions, so inputs carry commit markers.
	testenv.ProduceCommitted(t, ctx, e.brokers, e.prefix+"ingest", rs...)
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
	tb := &table{rows: map[string]map[string]any{}}
	e.consume(t, ctx, topic, func(r *kgo.Record) {
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
	return tb
}

// followOutputs follows the transform's outputs: the joined rows
// (xchannel.product_daily) and the identity links
// (xchannel.product_links).
func (e *kafkaEnv) followOutputs(t *testing.T, ctx context.Context) (rows, links *table) {
	t.Helper()
	return e.follow(t, ctx, join.TopicProductDaily), e.follow(t, ctx, identity.TopicProductLinks)
}

// consume hands every committed record of topic, from the start, to fn
// (on a goroutine of its own) until ctx or the test ends.
func (e *kafkaEnv) consume(t *testing.T, ctx context.Context, topic string, fn func(*kgo.Record)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.prefix+topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cl.Close(); <-done })
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachRecord(fn)
		}
	}()
}

// checkTables fails t for what the tables found wrong in their topics:
// records that did not decode, versions that went back.
func checkTables(t *testing.T, tables ...*table) {
	t.Helper()
	for _, tb := range tables {
		tb.mu.Lock()
		if len(tb.errs) > 0 {
			t.Errorf("output problems: %v", tb.errs)
		}
		tb.mu.Unlock()
	}
}

// waitTables waits until rows and links hold wantRows and wantLinks (as
// current returns them).
func waitTables(t *testing.T, what string, timeout time.Duration, rows, links *table, wantRows, wantLinks []string) {
	t.Helper()
	waitFor(t, what, timeout, func() bool {
		return slices.Equal(rows.current(), wantRows) && slices.Equal(links.current(), wantLinks)
	}, func() string {
		return "rows:\n" + diff(rows.current(), wantRows) + "\nlinks:\n" + diff(links.current(), wantLinks)
	})
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
		switch {
		case x == nil:
			// Absent and null are the same: a field added to the schema
			// reads back as its null default.
		case k == "version", k == "event_id", k == "source_ts", k == "ingest_ts", k == "op", k == "previous_product_key":
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

// expected is what the tables must end up holding: the serial reference fed the same
// inputs directly.
func expected(t *testing.T, ins []schematest.Input) (rows, links []string) {
	t.Helper()
	p := newSerial(nil, join.Config{})
	for _, in := range ins {
		if err := p.process(in.Topic, in.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range p.join.Rows() {
		rows = append(rows, r.Key()+" "+contentOf(r.Record()))
	}
	for _, l := range p.res.Links() {
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

// TestCrashBeforeCommit: an instance commits a first part of a history,
// then crashes in a later transaction after producing its outputs,
// changelog records and offsets but before committing them. The rest of
// the history arrives and the instance restarts on its state directory:
// it fences the open transaction, restores its stores from their
// checkpoints and goes on. The joined rows and links, read back
// read_committed with the latest version per key, must equal the serial
// reference over all inputs, versions only growing per key, and the
// undecodable record must be in the dead-letter topic.
func TestCrashBeforeCommit(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, links := e.followOutputs(t, ctx)
	dir := t.TempDir()

	ins := history(t)
	a, b := len(ins)/3, 2*len(ins)/3
	wantRows1, _ := expected(t, ins[:a])
	e.produce(t, ins[:a])

	var mu sync.Mutex
	armed := false
	crashed := errors.New("simulated crash")
	crashBeforeEnd = func() error {
		mu.Lock()
		defer mu.Unlock()
		if armed {
			return crashed
		}
		return nil
	}
	t.Cleanup(func() { crashBeforeEnd = nil })
	tr, err := New(e.config("0", dir))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- tr.Run(ctx) }()
	waitFor(t, "the first part's rows", time.Minute, func() bool { return slices.Equal(rows.current(), wantRows1) },
		func() string { return diff(rows.current(), wantRows1) })
	mu.Lock()
	armed = true
	mu.Unlock()
	e.produce(t, ins[a:b])
	waitCrash(t, errc, crashed)
	// Nothing of the crashed transaction is visible.
	if got := rows.current(); !slices.Equal(got, wantRows1) {
		t.Fatalf("rows of the crashed transaction are visible:\n%s", diff(got, wantRows1))
	}

	e.produce(t, ins[b:])
	if err := e.cl.ProduceSync(ctx, &kgo.Record{Topic: e.prefix + "tiktok.orders", Key: []byte("bad"), Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	wantRows, wantLinks := expected(t, ins)
	stop := e.startInstance(t, "0", dir)
	waitTables(t, "all rows after the restart", time.Minute, rows, links, wantRows, wantLinks)
	dead := e.count(t, ctx, deadletter.Topic("tiktok.orders"))
	waitFor(t, "the dead letter", time.Minute, func() bool { return dead() == 1 }, func() string { return fmt.Sprint(dead()) })
	if err := stop(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	checkTables(t, rows, links)
}

// count returns a function reporting how many committed records topic has.
func (e *kafkaEnv) count(t *testing.T, ctx context.Context, topic string) func() int {
	t.Helper()
	var mu sync.Mutex
	n := 0
	e.consume(t, ctx, topic, func(*kgo.Record) {
		mu.Lock()
		n++
		mu.Unlock()
	})
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

// TestInputsExpired: the inputs need not keep their history. An instance
// joins the first half of a history and commits it; then every input
// record is deleted (as retention would), the rest arrives, and an
// instance with an empty state directory takes over: it restores the
// facts from the changelogs, not from the inputs, so the rows equal the
// serial reference over the whole history.
func TestInputsExpired(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, links := e.followOutputs(t, ctx)
	ins := history(t)
	half, _ := expected(t, ins[:len(ins)/2])
	e.produce(t, ins[:len(ins)/2])
	stop := e.startInstance(t, "0", t.TempDir())
	waitFor(t, "the first half's rows", time.Minute, func() bool { return slices.Equal(rows.current(), half) },
		func() string { return diff(rows.current(), half) })
	if err := stop(); err != nil {
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
	wantRows, wantLinks := expected(t, ins)
	stop = e.startInstance(t, "0", t.TempDir())
	waitTables(t, "every row", time.Minute, rows, links, wantRows, wantLinks)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// waitCrash waits for a run to end with the simulated crash, and disarms
// crashBeforeEnd.
func waitCrash(t *testing.T, errc <-chan error, crashed error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, crashed) {
			t.Fatalf("first run ended with %v, want the simulated crash", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("first run did not crash")
	}
	crashBeforeEnd = nil
}

// feed gives a Driver one input, encoded as the ingest stage writes it.
func feed(t *testing.T, d *Driver, serde Serde, in schematest.Input) {
	t.Helper()
	b, err := serde.Encode(in.Topic, in.Value)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Input(in.Topic, []byte(in.Key), b); err != nil {
		t.Fatal(err)
	}
}

// outputTables returns empty product_daily and product_links tables and
// a Driver.Output that keeps the last record per key in them, failing t
// when a version does not grow.
func outputTables(t *testing.T, serde Serde) (map[string]*table, func(topic string, key, value []byte)) {
	tables := map[string]*table{join.TopicProductDaily: {rows: map[string]map[string]any{}},
		identity.TopicProductLinks: {rows: map[string]map[string]any{}}}
	return tables, func(topic string, key, value []byte) {
		tb := tables[topic]
		if tb == nil {
			t.Errorf("output to %s", topic)
			return
		}
		v, err := serde.Decode(context.Background(), value)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := tb.rows[string(key)]; ok && prev["version"].(int64) >= v["version"].(int64) {
			t.Errorf("%s %s: version %d after %d", topic, key, v["version"], prev["version"])
		}
		tb.rows[string(key)] = v
	}
}
