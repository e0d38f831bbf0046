package cursor

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// producer is a raw transactional producer of cursor records.
type producer struct {
	t     *testing.T
	env   *testenv.Kafka
	topic string
	cl    *kgo.Client
}

func newProducer(t *testing.T, env *testenv.Kafka, topic, txnID string) *producer {
	t.Helper()
	cl, err := kgo.NewClient(append(env.ClientOpts(), kgo.TransactionalID(env.Prefix+txnID))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{t: t, env: env, topic: topic, cl: cl}
}

// begin starts a transaction and writes cs (or a tombstone for a cursor with
// an empty Source, keyed by its Name) into it.
func (p *producer) begin(cs ...Cursor) {
	p.t.Helper()
	if err := p.cl.BeginTransaction(); err != nil {
		p.t.Fatal(err)
	}
	var recs []*kgo.Record
	for _, c := range cs {
		r := &kgo.Record{Topic: p.topic, Key: []byte(c.Key())}
		if c.Version > 0 {
			v, err := p.env.Encoder.Encode(p.topic, c.Record())
			if err != nil {
				p.t.Fatal(err)
			}
			r.Value = v
		}
		recs = append(recs, r)
	}
	if err := p.cl.ProduceSync(testenv.Context(p.t), recs...).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *producer) end(commit kgo.TransactionEndTry) {
	p.t.Helper()
	if err := p.cl.EndTransaction(testenv.Context(p.t), commit); err != nil {
		p.t.Fatal(err)
	}
}

func (p *producer) write(cs ...Cursor) {
	p.t.Helper()
	p.begin(cs...)
	p.end(kgo.TryCommit)
}

// newCursorTopic starts Kafka and creates the cursor topic with the given
// number of partitions.
func newCursorTopic(t *testing.T, partitions int32) (*testenv.Kafka, string) {
	t.Helper()
	env := testenv.NewKafka(t)
	topic := env.Topic(schemas.TopicCursors)
	if err := EnsureTopic(testenv.Context(t), env.Admin, topic, partitions, 1); err != nil {
		t.Fatal(err)
	}
	return env, topic
}

func load(t *testing.T, env *testenv.Kafka, topic, source string) *Set {
	t.Helper()
	set, err := Load(testenv.Context(t), LoadConfig{ClientOpts: env.ClientOpts(), Topic: topic, Decoder: env.Serde}, source)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestLoadMissingTopicIsEmpty(t *testing.T) {
	env := testenv.NewKafka(t)
	if set := load(t, env, env.Topic(schemas.TopicCursors), "amazon"); set.Len() != 0 {
		t.Errorf("Load of a missing topic = %d cursors", set.Len())
	}
}

// TestLoadLatestCommitted: Load returns, for one source, the latest
// committed cursor of every name; other sources, aborted transactions and
// deleted names do not show.
func TestLoadLatestCommitted(t *testing.T) {
	env, topic := newCursorTopic(t, 3)
	if err := EnsureTopic(testenv.Context(t), env.Admin, topic, 3, 1); err != nil {
		t.Fatalf("EnsureTopic on an existing topic: %v", err)
	}
	p := newProducer(t, env, topic, "loader")

	orders := New("amazon", "orders/US")
	o1 := orders.Advance("", t0, t0.Add(time.Hour), t0)
	o2 := o1.Advance("", t0.Add(time.Hour), t0.Add(2*time.Hour), t0)
	o3 := o2.Advance("", t0.Add(2*time.Hour), t0.Add(3*time.Hour), t0)
	report := New("amazon", "reports/sales").Advance("doc-1", t0, t0, t0)
	gone := New("amazon", "orders/old").Advance("x", t0, t0, t0)
	other := New("amazonx", "orders/US").Advance("not ours", t0, t0, t0)

	p.write(o1, report, gone, other)
	p.write(o2)
	p.begin(o3) // aborted: must not show
	p.end(kgo.TryAbort)
	p.write(Cursor{Source: "amazon", Name: "orders/old"}) // tombstone
	// Aborted again: the log now ends with an abort marker.
	p.begin(o3)
	p.end(kgo.TryAbort)

	set := load(t, env, topic, "amazon")
	if set.Len() != 2 {
		t.Errorf("Load found %d names, want 2: %+v", set.Len(), set.WithPrefix(""))
	}
	if got, _ := set.Get("orders/US"); got != o2 {
		t.Errorf("orders/US = %+v, want the last committed %+v", got, o2)
	}
	if got, _ := set.Get("reports/sales"); got != report {
		t.Errorf("reports/sales = %+v, want %+v", got, report)
	}
	if _, ok := set.Get("orders/old"); ok {
		t.Error("a deleted cursor is still loaded")
	}
	if set := load(t, env, topic, "amazonx"); set.Len() != 1 {
		t.Errorf("source amazonx has %d cursors, want 1", set.Len())
	}
}

// TestLoadWaitsForOpenTransactions: a transaction of another source, open
// when Load starts, holds the last stable offset below our latest committed
// cursor. Load must still return that cursor (reading only to the last
// stable offset would return the one before, and the stage would repeat a
// window).
func TestLoadWaitsForOpenTransactions(t *testing.T) {
	env, topic := newCursorTopic(t, 1)
	ours := newProducer(t, env, topic, "ours")
	theirs := newProducer(t, env, topic, "theirs")

	c1 := New("amazon", "orders/US").Advance("", t0, t0.Add(time.Hour), t0)
	c2 := c1.Advance("", t0.Add(time.Hour), t0.Add(2*time.Hour), t0)
	ours.write(c1)
	theirs.begin(New("tiktokshop", "orders/shop").Advance("p", t0, t0, t0))
	ours.write(c2) // after the open transaction in the same partition

	// Load's first poll can only return what precedes the open transaction;
	// the transaction ends only after it.
	polled := make(chan struct{}, 1)
	pollHook = func() {
		select {
		case polled <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() { pollHook = nil })
	type result struct {
		set *Set
		err error
	}
	done := make(chan result, 1)
	go func() {
		set, err := Load(context.WithoutCancel(testenv.Context(t)), LoadConfig{ClientOpts: env.ClientOpts(), Topic: topic, Decoder: env.Serde}, "amazon")
		done <- result{set, err}
	}()
	<-polled
	theirs.end(kgo.TryCommit)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := r.set.Cursor("orders/US"); got != c2 {
		t.Errorf("Load = %+v, want the latest committed %+v", got, c2)
	}
}
