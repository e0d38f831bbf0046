package deadletter_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/schemas"
)

var at = time.Date(2026, 11, 3, 4, 5, 6, 7000000, time.UTC)

// written gives a built record the position the broker would.
func written(r *kgo.Record, partition int32, offset int64) *kgo.Record {
	r.Partition, r.Offset = partition, offset
	return r
}

// TestEveryStageRoundTrips: what each stage builds reads back as the same
// dead letter, with the ID that names it everywhere: the original
// coordinates for transform and load, the dead letter's own position for
// an ingest payload.
func TestEveryStageRoundTrips(t *testing.T) {
	orig := &kgo.Record{Topic: "p.tiktok.orders", Partition: 2, Offset: 41, Key: []byte("shop:1"), Value: []byte{0, 0, 0, 0, 9, 1}}
	change := &deadletter.Change{Op: "update", Version: 1762142706007}
	payload := deadletter.FromPayload(deadletter.IngestStage("tiktokbiz"), "p.tiktok.video_engagement", "biz:v1",
		[]byte(`{"item_id":"v1","likes":{}}`), "video/list", deadletter.ClassMalformed, "likes: not a number", at)
	payload.Change = change
	for _, tc := range []struct {
		name string
		l    deadletter.Letter
		want deadletter.ID
		kind string
	}{
		{"load", deadletter.FromKafka(deadletter.StageLoad, orig, deadletter.ClassUnknownSchema, "schema id 9", at),
			deadletter.ID{Stage: "load", Topic: "p.tiktok.orders", Partition: 2, Offset: 41}, "load"},
		{"transform", deadletter.FromKafka(deadletter.StageTransform, orig, deadletter.ClassProcessing, "no shop", at),
			deadletter.ID{Stage: "transform", Topic: "p.tiktok.orders", Partition: 2, Offset: 41}, "transform"},
		{"ingest", payload,
			deadletter.ID{Stage: "ingest-tiktokbiz", Topic: "p.tiktok.video_engagement", Partition: 1, Offset: 7}, "ingest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.l.Record(0)
			if r.Topic != deadletter.Topic(tc.l.Topic) {
				t.Errorf("dead letter on %s, want %s", r.Topic, deadletter.Topic(tc.l.Topic))
			}
			e := deadletter.Parse(written(r, 1, 7))
			if e.Err != nil || e.Kind != "" {
				t.Fatalf("parse: kind %q, %v", e.Kind, e.Err)
			}
			got := e.Letter
			if got.Stage != tc.l.Stage || got.Reason != tc.l.Reason || got.Class != tc.l.Class || got.Topic != tc.l.Topic ||
				got.Endpoint != tc.l.Endpoint || !got.Time.Equal(at) || string(got.Key) != string(tc.l.Key) ||
				string(got.Value) != string(tc.l.Value) || got.Offset != tc.l.Offset || got.Partition != tc.l.Partition {
				t.Errorf("read back %+v\nwrote %+v", got, tc.l)
			}
			if (got.Change == nil) != (tc.l.Change == nil) || (got.Change != nil && *got.Change != *tc.l.Change) {
				t.Errorf("change %v, want %v", got.Change, tc.l.Change)
			}
			if e.ID != tc.want || got.Kind() != tc.kind {
				t.Errorf("id %v kind %s, want %v %s", e.ID, got.Kind(), tc.want, tc.kind)
			}
		})
	}
}

// TestRequestsAndMarkersNameTheirDeadLetter: a replay request carries the
// dead letter's record and ID, a marker its ID; Log tells which dead
// letters are replayed.
func TestRequestsAndMarkersNameTheirDeadLetter(t *testing.T) {
	orig := &kgo.Record{Topic: "tiktok.products", Partition: 0, Offset: 5, Key: []byte("k"), Value: []byte("v")}
	dead := deadletter.Parse(written(deadletter.FromKafka(deadletter.StageTransform, orig, deadletter.ClassUnknownSchema, "x", at).Record(0), 0, 0))
	req := deadletter.Parse(written(deadletter.RequestRecord(dead.Letter), 0, 1))
	if req.Err != nil || req.Kind != deadletter.EntryReplayRequest || req.ID != dead.ID ||
		string(req.Letter.Key) != "k" || string(req.Letter.Value) != "v" || req.Letter.Topic != "tiktok.products" {
		t.Fatalf("request %+v, dead letter %v", req, dead.ID)
	}
	mark := deadletter.Parse(written(deadletter.MarkerRecord(dead.ID, at), 0, 2))
	if mark.Err != nil || mark.Kind != deadletter.EntryReplayed || mark.ID != dead.ID || !mark.Letter.Time.Equal(at) {
		t.Fatalf("marker %+v", mark)
	}
	// An ingest dead letter's marker names it by its own position.
	ing := deadletter.Parse(written(deadletter.FromPayload("ingest-amazon", "amazon.orders", "", []byte("{"), "getOrders",
		deadletter.ClassMalformed, "eof", at).Record(0), 3, 9))
	ingMark := deadletter.Parse(written(deadletter.MarkerRecord(ing.ID, at), 0, 3))

	g := deadletter.Log{Entries: []deadletter.Entry{dead, req, mark, ing, ingMark}}
	if rep := g.Replayed(); len(rep) != 2 || !rep[dead.ID] || !rep[ing.ID] {
		t.Errorf("replayed %v", rep)
	}
	if ls := g.Letters(deadletter.KindTransform); len(ls) != 1 || ls[0].ID() != dead.ID {
		t.Errorf("transform letters %v", ls)
	}
	if ls := g.Letters(deadletter.KindIngest); len(ls) != 1 || ls[0].ID() != (deadletter.ID{Stage: "ingest-amazon", Topic: "amazon.orders", Partition: 3, Offset: 9}) {
		t.Errorf("ingest letters %v", ls)
	}
}

// TestTruncation: a value over the limit is cut and says how long it was.
func TestTruncation(t *testing.T) {
	l := deadletter.FromPayload("ingest-tiktokshop", "tiktok.orders", "", []byte(strings.Repeat("x", 300)), "orders.search", "", "", at)
	e := deadletter.Parse(written(l.Record(100), 0, 0))
	if len(e.Letter.Value) != 100 || e.Letter.TruncatedFrom != 300 {
		t.Errorf("value %d bytes, truncated from %d", len(e.Letter.Value), e.Letter.TruncatedFrom)
	}
	if e := deadletter.Parse(written(l.Record(0), 0, 0)); len(e.Letter.Value) != 300 || e.Letter.TruncatedFrom != 0 {
		t.Errorf("no limit: value %d bytes, truncated from %d", len(e.Letter.Value), e.Letter.TruncatedFrom)
	}
}

// TestLegacyDialects: dead letters kept from before this package (ingest's
// and the transform's own headers) read as dead letters of their stage,
// with their coordinates, so they can be listed and replayed.
func TestLegacyDialects(t *testing.T) {
	h := func(kv ...string) []kgo.RecordHeader {
		var out []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			out = append(out, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	ingest := deadletter.Parse(&kgo.Record{Topic: "amazon.orders.dlq", Partition: 0, Offset: 4, Value: []byte("{"),
		Headers: h("reason", "eof", "stage", "ingest-amazon", "source_endpoint", "getOrders", "time", at.Format(time.RFC3339Nano), "truncated_from_bytes", "900")})
	if ingest.Err != nil || ingest.ID != (deadletter.ID{Stage: "ingest-amazon", Topic: "amazon.orders", Partition: 0, Offset: 4}) ||
		ingest.Letter.Endpoint != "getOrders" || ingest.Letter.TruncatedFrom != 900 || !ingest.Letter.Time.Equal(at) {
		t.Errorf("legacy ingest: %+v", ingest)
	}
	transform := deadletter.Parse(&kgo.Record{Topic: "tiktok.orders.dlq", Partition: 0, Offset: 0, Value: []byte("v"),
		Headers: h("reason", "decode: schemas: schema id unknown", "stage", "transform", "topic", "tiktok.orders", "partition", "1", "offset", "77")})
	if transform.Err != nil || transform.ID != (deadletter.ID{Stage: "transform", Topic: "tiktok.orders", Partition: 1, Offset: 77}) ||
		transform.Letter.Class != deadletter.ClassUndecodable {
		t.Errorf("legacy transform: %+v", transform)
	}
	foreign := deadletter.Parse(&kgo.Record{Topic: "tiktok.orders.dlq", Partition: 2, Offset: 3, Value: []byte("?")})
	if foreign.Err == nil || foreign.Kind != "" || foreign.ID != (deadletter.ID{Topic: "tiktok.orders", Partition: 2, Offset: 3}) {
		t.Errorf("record without headers: %+v", foreign)
	}
	bad := deadletter.Parse(&kgo.Record{Topic: "x.dlq", Headers: h(deadletter.HeaderStage, "load", deadletter.HeaderPartition, "a", deadletter.HeaderOffset, "1")})
	if bad.Err == nil {
		t.Error("a partition that is not a number went unnoticed")
	}
}

// TestDecodeClass: the registry's poison errors have a class, anything
// else (a registry that cannot be reached) none: it is retried.
func TestDecodeClass(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("x: %w", schemas.ErrBadHeader):       deadletter.ClassBadHeader,
		fmt.Errorf("x: %w", schemas.ErrUnknownSchemaID): deadletter.ClassUnknownSchema,
		fmt.Errorf("x: %w", schemas.ErrUndecodable):     deadletter.ClassUndecodable,
		errors.New("connection refused"):                "",
	} {
		if got := deadletter.DecodeClass(err); got != want {
			t.Errorf("%v: class %q, want %q", err, got, want)
		}
	}
}
