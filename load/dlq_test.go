package load_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/load"
)

// TestDeadLettersOfEveryStage: the loader loads the dead letters the other
// stages wrote to <topic>.dlq into dead_letters (an ingest payload named by
// its own position, a transform record by its original coordinates, a
// record someone else wrote as a dead letter of no known stage), and the
// replayed markers into dead_letters_replayed; its own dead letters it
// inserts once, with their batch, not again from the topic. The open view
// lists every stage's dead letters not replayed, and `dlq replay` of the
// loader's dead letters counts only those: the other stages' are not
// "still failing" on every replay.
func TestDeadLettersOfEveryStage(t *testing.T) {
	h := newHarness(t, 1, "http")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := h.prefix + ordersTopic
	dlq := deadletter.Topic(topic)
	if _, err := h.adm.CreateTopic(ctx, 1, 1, nil, dlq); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	ingest := deadletter.FromPayload(deadletter.IngestStage("amazon"), topic, "ATVPDKIKX0DER:111", []byte(`{"AmazonOrderId":`),
		"getOrders", deadletter.ClassMalformed, "unexpected end of JSON input", at)
	orig := &kgo.Record{Topic: topic, Partition: 0, Offset: 3, Key: []byte("k"), Value: []byte("v")}
	transform := deadletter.FromKafka(deadletter.StageTransform, orig, deadletter.ClassProcessing, "no marketplace", at)
	replayedTransform := deadletter.FromKafka(deadletter.StageTransform, &kgo.Record{Topic: topic, Partition: 0, Offset: 4}, deadletter.ClassProcessing, "x", at)
	// A load dead letter on the topic that is not in the table: the feed
	// must leave it to the loader that wrote it.
	loadOnTopic := deadletter.FromKafka(deadletter.StageLoad, &kgo.Record{Topic: topic, Partition: 0, Offset: 999}, deadletter.ClassMapping, "x", at)
	h.produce(ingest.Record(0), transform.Record(0), replayedTransform.Record(0), deadletter.MarkerRecord(replayedTransform.ID(), at),
		loadOnTopic.Record(0), deadletter.RequestRecord(transform), &kgo.Record{Topic: dlq, Value: []byte("foreign")})

	// Data with one record of a schema the registry does not know.
	const n = 10
	recs := h.records(orders(n, 1))
	poison := h.record(order{n: n, version: 1, op: "create"})
	binary.BigEndian.PutUint32(poison.Value[1:5], 99999)
	h.produce(append(recs, poison)...)

	h.runLoader(h.options(nil))
	h.waitRows(n, time.Minute)
	h.eventually("every stage's dead letters", time.Minute, func() (bool, string) {
		c := h.count("SELECT count() FROM dead_letters")
		return c == 5, fmt.Sprint(c)
	})
	for q, want := range map[string]int64{
		// The ingest payload, named by its position in the topic (offset 0).
		fmt.Sprintf("SELECT count() FROM dead_letters WHERE stage = 'ingest-amazon' AND source_topic = '%s' AND source_partition = 0 AND source_offset = 0 "+
			"AND source_endpoint = 'getOrders' AND error_class = 'malformed' AND key = 'ATVPDKIKX0DER:111' AND dead_at = '2026-11-02 03:04:05'", topic): 1,
		"SELECT count() FROM dead_letters WHERE stage = 'transform' AND source_offset IN (3, 4)":               2,
		"SELECT count() FROM dead_letters WHERE stage = 'unknown' AND value = 'foreign' AND source_offset = 6": 1,
		// The loader's own, once; not the one only on the topic.
		fmt.Sprintf("SELECT count() FROM dead_letters WHERE stage = 'load' AND source_offset = %d AND error_class = 'unknown_schema'", n): 1,
		"SELECT count() FROM dead_letters WHERE stage = 'load' AND source_offset = 999":                                                   0,
		"SELECT count() FROM dead_letters_replayed WHERE stage = 'transform' AND source_offset = 4":                                       1,
		// Open: the ingest, unknown and load dead letters and one transform.
		"SELECT count() FROM dead_letters_open":                                                 4,
		"SELECT count() FROM dead_letters_open WHERE stage = 'transform' AND source_offset = 4": 0,
	} {
		if got := h.count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}

	st, err := load.ReplayDLQ(ctx, load.ReplayOptions{Brokers: h.brokers, Topic: ordersTopic, TopicPrefix: h.prefix, HTTP: true,
		BatchRows: 100, Log: h.options(nil).Log}, h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	// The loader's two (its own and the one only on the topic) still fail;
	// the others are not its to replay.
	if st.Read != 2 || st.StillFailing != 2 || st.Loaded != 0 {
		t.Errorf("replay of the loader's dead letters: %+v, want 2 read and still failing", st)
	}
}
