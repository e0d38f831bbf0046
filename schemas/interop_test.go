package schemas_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// TestInteropKafkaGo produces one record per topic schema with franz-go and
// the package's Serde to a real Kafka broker, then reads them back with an
// independent stack: segmentio/kafka-go for Kafka, plain net/http for the
// schema registry (GET /schemas/ids/{id}) and goavro for the Avro body. Only
// the wire format and the registry API connect the two sides.
func TestInteropKafkaGo(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	// A bound so that a broken broker fails the test instead of hanging it;
	// nothing here waits on time to pass.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// srfake served over HTTP by httptest, with the real compatibility check.
	fake, cl := newFakeRegistry(t)
	reg := schemas.NewRegistry(cl)
	if _, err := reg.Register(ctx); err != nil {
		t.Fatal(err)
	}
	serde, err := reg.Serde(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// One unique topic per run; every value names its own schema id, so the
	// records of all schemas can share it.
	topic := "shopstream-schemas-interop-" + randomSuffix(t)
	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close) // after the topic is deleted: cleanups run last-in first-out
	adm := kadm.NewClient(kcl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// Created is not yet served: a produce or a kafka-go read before its
	// leader is known fails with UNKNOWN_TOPIC_OR_PARTITION.
	if err := kafkatopic.Ready(ctx, adm, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test context is done by now; deleting is best effort.
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		if _, err := adm.DeleteTopics(dctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})

	type sent struct {
		schemaTopic string
		value       map[string]any
	}
	var want []sent
	var recs []*kgo.Record
	for i, st := range schemas.Topics() {
		v := sample(t, st, 100+i)
		wire, err := serde.Encode(st, v)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sent{st, v})
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(st + ":" + strconv.Itoa(i)), Value: wire})
	}
	if err := kcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	rd := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   brokers,
		Topic:     topic,
		Partition: 0,
		MaxBytes:  10 << 20,
		// Close waits for the fetch in flight; a short long-poll keeps
		// teardown from idling for the default ten seconds.
		MaxWait: 250 * time.Millisecond,
	})
	defer rd.Close()
	if err := rd.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	codecs := map[uint32]*goavro.Codec{}
	for i, w := range want {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read %d of %d: %v", i+1, len(want), err)
		}
		if got, wantKey := string(m.Key), w.schemaTopic+":"+strconv.Itoa(i); got != wantKey {
			t.Fatalf("message %d has key %q, want %q", i, got, wantKey)
		}
		if len(m.Value) < 5 || m.Value[0] != 0 {
			t.Fatalf("%s: value does not start with the magic byte 0: % x", w.schemaTopic, m.Value[:min(len(m.Value), 5)])
		}
		id := binary.BigEndian.Uint32(m.Value[1:5])
		c, ok := codecs[id]
		if !ok {
			c = fetchCodec(ctx, t, fake.URL(), id)
			codecs[id] = c
		}
		native, rest, err := c.NativeFromBinary(m.Value[5:])
		if err != nil {
			t.Fatalf("%s: goavro decode with schema id %d: %v", w.schemaTopic, id, err)
		}
		if len(rest) != 0 {
			t.Fatalf("%s: %d bytes left after the record", w.schemaTopic, len(rest))
		}
		if d := diffNative(w.value, native); d != nil {
			t.Fatalf("%s: record read by kafka-go differs: %q", w.schemaTopic, d)
		}
	}
}

// fetchCodec gets schema id from the registry's REST API with net/http and
// compiles it with goavro.
func fetchCodec(ctx context.Context, t *testing.T, registryURL string, id uint32) *goavro.Codec {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/schemas/ids/%d", registryURL, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET schema id %d: %v", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read schema id %d: %v", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET schema id %d: %s: %s", id, resp.Status, body)
	}
	var s struct {
		Schema     string `json:"schema"`
		SchemaType string `json:"schemaType"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("schema id %d: %v", id, err)
	}
	if s.SchemaType != "" && s.SchemaType != "AVRO" {
		t.Fatalf("schema id %d has type %s", id, s.SchemaType)
	}
	c, err := goavro.NewCodec(s.Schema)
	if err != nil {
		t.Fatalf("schema id %d: %v", id, err)
	}
	return c
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
