package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/schemas"
)

// Kafka is one test's share of the real broker (KafkaBrokers): topics
// under a prefix unique to the test, deleted when it ends, and an
// in-process schema registry (srfake, over HTTP, so that child processes
// reach it too) with every schema registered.
type Kafka struct {
	Brokers []string
	// Prefix starts every topic of the test; pass it to the stages as their
	// topic prefix (kafka.topic_prefix to a child process).
	Prefix string
	// Serde encodes and decodes with the registered schemas; it knows
	// topics by their logical names (without Prefix).
	Serde *schemas.Serde
	// Encoder encodes for prefixed topics through Serde.
	Encoder Encoder
	// Registry is a client of the schema registry at RegistryURL.
	Registry    *sr.Client
	RegistryURL string
	// Client is a plain client of the broker, and Admin its admin client.
	Client *kgo.Client
	Admin  *kadm.Client
}

// NewKafka returns t's share of the broker, or skips t when no broker is
// configured (fails it under make test).
func NewKafka(t testing.TB) *Kafka {
	t.Helper()
	brokers := KafkaBrokers(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "t" + hex.EncodeToString(b[:]) + "."

	reg := NewRegistry(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	k := &Kafka{
		Brokers:     brokers,
		Prefix:      prefix,
		Serde:       reg.Serde,
		Encoder:     Encoder{Serde: reg.Serde, Prefix: prefix},
		Registry:    reg.Client,
		RegistryURL: reg.URL,
		Client:      cl,
		Admin:       kadm.NewClient(cl),
	}
	t.Cleanup(k.deleteTopics)
	return k
}

// deleteTopics deletes every topic under the test's prefix.
func (e *Kafka) deleteTopics() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := e.Admin.ListTopics(ctx)
	if err != nil {
		return // the broker is gone; nothing to tidy
	}
	var names []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, e.Prefix) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		_, _ = e.Admin.DeleteTopics(ctx, names...)
	}
}

// Timeout bounds every test's Kafka work (Context), so that a bug hangs no
// test for longer; tests never wait on it to pass.
const Timeout = 2 * time.Minute

// Context returns a context that ends with the test or after Timeout.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Topic returns the test's name of a logical topic.
func (e *Kafka) Topic(logical string) string { return e.Prefix + logical }

// Env configures a shopstream command to use this share of the broker:
// the brokers, the registry and the topic prefix.
func (e *Kafka) Env() []string {
	return []string{"SHOPSTREAM_KAFKA_BROKERS=" + strings.Join(e.Brokers, ","),
		"SHOPSTREAM_SCHEMA_REGISTRY_URL=" + e.RegistryURL, "SHOPSTREAM_KAFKA_TOPIC_PREFIX=" + e.Prefix}
}

// ClientOpts connect a client to the broker.
func (e *Kafka) ClientOpts() []kgo.Opt { return []kgo.Opt{kgo.SeedBrokers(e.Brokers...)} }

// CreateTopic creates the test's topic for logical with the given partitions
// and configs, and returns its name.
func (e *Kafka) CreateTopic(t testing.TB, logical string, partitions int32, configs map[string]*string) string {
	t.Helper()
	name := e.Topic(logical)
	if _, err := e.Admin.CreateTopic(Context(t), partitions, 1, configs, name); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if err := kafkatopic.Ready(Context(t), e.Admin, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// CreateTopics creates the test's topic of each logical name with its
// dead-letter topic, partitions each, with unlimited retention as the
// stages create them (the transform checks), and returns the topics'
// names, dead-letter topics included.
func (e *Kafka) CreateTopics(t testing.TB, partitions int32, logical ...string) []string {
	t.Helper()
	var names []string
	for _, l := range logical {
		names = append(names, e.Topic(l), deadletter.Topic(e.Topic(l)))
	}
	ctx := Context(t)
	res, err := e.Admin.CreateTopics(ctx, partitions, 1, map[string]*string{"retention.ms": kadm.StringPtr("-1")}, names...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	if err := kafkatopic.Ready(ctx, e.Admin, names...); err != nil {
		t.Fatal(err)
	}
	return names
}

// Encoder encodes records of prefixed topics with the schema of their
// logical topic.
type Encoder struct {
	Serde  *schemas.Serde
	Prefix string
}

// Encode implements emit.Encoder.
func (e Encoder) Encode(topic string, v map[string]any) ([]byte, error) {
	return e.Serde.Encode(strings.TrimPrefix(topic, e.Prefix), v)
}

// Isolation says how far ReadAll reads and what it sees.
type Isolation int

const (
	// Settled reads read_committed up to the high watermark as of the
	// call: it waits until every transaction open at the call has ended,
	// so a commit that just returned is visible (its markers are written
	// after EndTxn returns).
	Settled Isolation = iota
	// StableNow reads read_committed up to the last stable offset as of
	// the call, without waiting for open transactions.
	StableNow
	// Uncommitted reads read_uncommitted up to the high watermark:
	// records of open and aborted transactions too.
	Uncommitted
)

// ReadAll returns the records (not control records) of topic, read as iso
// says.
func (e *Kafka) ReadAll(t testing.TB, topic string, iso Isolation) []*kgo.Record {
	t.Helper()
	ctx := Context(t)
	var (
		ends kadm.ListedOffsets
		err  error
	)
	if iso == StableNow {
		ends, err = e.Admin.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = e.Admin.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	targets := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		if o.Offset > 0 {
			targets[o.Partition] = o.Offset
		}
	})
	if len(targets) == 0 {
		return nil
	}
	level := kgo.ReadCommitted()
	if iso == Uncommitted {
		level = kgo.ReadUncommitted()
	}
	parts := map[int32]kgo.Offset{}
	for p := range targets {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(level),
		// Markers tell how far we have read (see cursor.Load).
		kgo.KeepControlRecords(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := map[int32]int64{}
	var out []*kgo.Record
	for {
		done := true
		for p, target := range targets {
			if next[p] < target {
				done = false
			}
		}
		if done {
			return out
		}
		fetches := cl.PollFetches(ctx)
		if err := errors.Join(ctx.Err(), fetches.Err()); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
}

// ProduceCommitted writes rs to the broker at brokers in one committed
// transaction of transactionalID, as the ingest stages write, so that the
// records carry commit markers.
func ProduceCommitted(t testing.TB, ctx context.Context, brokers []string, transactionalID string, rs ...*kgo.Record) {
	t.Helper()
	txn, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(transactionalID))
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
