package status_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestLagsIgnoreTransactionMarkers: a group that committed everything of a
// transactionally written topic sits one commit marker before each
// partition's end; Lags reports 0 there (kadm's end - committed says 1 per
// partition), counts the records of a later transaction, and counts every
// record of a group that never committed; a group the broker does not
// know has no lag and no error.
func TestLagsIgnoreTransactionMarkers(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := fmt.Sprintf("status-%d", time.Now().UnixNano())
	group, idle := topic+"-g", topic+"-idle"
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	cl, err := kgo.NewClient(append(opts, kgo.TransactionalID(topic+"-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	txn := func(n int) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	txn(10)
	// Commit as a consumer does: one past the last record it got, which is
	// the marker's offset.
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: 5})
	offsets.Add(kadm.Offset{Topic: topic, Partition: 1, At: 5})
	if _, err := adm.CommitOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
	raw, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if got := raw[group].Lag.Total(); got != 2 {
		t.Fatalf("kadm lag %d, want 2 (one marker per partition): the test no longer shows the problem", got)
	}
	want := func(g string, lag int64, uncommitted int) {
		t.Helper()
		lags, err := status.Lags(ctx, opts, g)
		if err != nil {
			t.Fatal(err)
		}
		if len(lags) != 1 || lags[0].Topic != topic || lags[0].Lag != lag || lags[0].Uncommitted != uncommitted {
			t.Fatalf("Lags(%s) = %+v, want lag %d with %d partitions uncommitted", g, lags, lag, uncommitted)
		}
	}
	want(group, 0, 0)
	txn(3)
	want(group, 3, 0)

	// A group far behind (partition 0) or without a commit (partition 1):
	// every offset counts, markers included (9 + 8 offsets, 13 records).
	other := kadm.Offsets{}
	other.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0})
	if _, err := adm.CommitOffsets(ctx, idle, other); err != nil {
		t.Fatal(err)
	}
	want(idle, 17, 1)

	// A group the broker does not know (a fresh start: the transform has
	// not committed yet) is no error: one entry marked NoCommits, next to
	// the lags of a group that committed. Kafka answers GROUP_ID_NOT_FOUND
	// for it, which failed the whole call (and `shopstream status`) before.
	fresh := topic + "-never"
	lags, err := status.Lags(ctx, opts, group, fresh)
	if err != nil {
		t.Fatalf("Lags with a group that never committed: %v", err)
	}
	if len(lags) != 2 || lags[0] != (status.TopicLag{Group: group, Topic: topic, Lag: 3}) || lags[1] != (status.TopicLag{Group: fresh, NoCommits: true}) {
		t.Fatalf("Lags(%s, %s) = %+v, want the lag of %s and %s without commits", group, fresh, lags, group, fresh)
	}
}
