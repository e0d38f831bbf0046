package emit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/changecapture"
	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

const (
	ordersTopic = "amazon.orders"
	marketplace = "ATVPDKIKX0DER"
	testSource  = "amazon"
	cursorName  = "orders/" + marketplace
)

// base is the fixed time of the simulated source; tests never read the
// wall clock to decide anything.
var base = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fixedNow is the clock of the writers under test.
func fixedNow() time.Time { return base.Add(24 * time.Hour) }

// topics creates the test's orders topic (3 partitions), its dead-letter
// topic and the compacted cursor topic.
func topics(t *testing.T, env *testenv.Kafka) (orders, cursors string) {
	t.Helper()
	orders = env.CreateTopic(t, ordersTopic, 3, nil)
	env.CreateTopic(t, ordersTopic+deadletter.Suffix, 1, nil)
	cursors = env.Topic(schemas.TopicCursors)
	if err := cursor.EnsureTopic(testenv.Context(t), env.Admin, cursors, 3, 1); err != nil {
		t.Fatal(err)
	}
	return orders, cursors
}

func newWriter(t testing.TB, env *testenv.Kafka, txnID string) *Writer {
	t.Helper()
	w, err := New(testenv.Context(t), Config{
		ClientOpts:      env.ClientOpts(),
		TransactionalID: env.Prefix + txnID,
		Stage:           "ingest-amazon",
		Encoder:         env.Encoder,
		CursorTopic:     env.Topic(schemas.TopicCursors),
		Now:             fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func loadCursors(t testing.TB, env *testenv.Kafka) *cursor.Set {
	t.Helper()
	set, err := cursor.Load(testenv.Context(t), cursor.LoadConfig{
		ClientOpts: env.ClientOpts(),
		Topic:      env.Topic(schemas.TopicCursors),
		Decoder:    env.Serde,
	}, testSource)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func orderKey(i int) string { return fmt.Sprintf("%s:902-%07d-%07d", marketplace, i, i) }

// order is order i of the simulated source in status, last updated at
// updated, with its change metadata stamped for a plain (not change-captured)
// emit: the event id is the order's change identity.
func order(i int, status string, updated time.Time) map[string]any {
	rec := orderContent(i, status, updated)
	key := orderKey(i)
	h, err := changecapture.HashRecord(rec)
	if err != nil {
		panic(err)
	}
	return changecapture.Change{
		Source:   testSource,
		Entity:   "order",
		Key:      key,
		Op:       cursor.OpUpdate,
		EventID:  changecapture.EventID(testSource, "order", key, updated.UnixMilli(), h),
		Version:  updated.UnixMilli(),
		SourceTS: updated,
	}.Stamp(rec, fixedNow())
}

// orderContent is order i without change metadata.
func orderContent(i int, status string, updated time.Time) map[string]any {
	return map[string]any{
		"amazon_order_id":  fmt.Sprintf("902-%07d-%07d", i, i),
		"marketplace_id":   marketplace,
		"purchase_date":    base,
		"last_update_date": updated,
		"order_status":     status,
	}
}

// sourceOrders is the simulated source: n orders, order i updated at base+i min.
func sourceOrders(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range n {
		out[i] = order(i, "Unshipped", base.Add(time.Duration(i)*time.Minute))
	}
	return out
}

// errCrash stands for the process dying.
var errCrash = errors.New("simulated crash between produce and commit")

// runStage is a minimal source stage over src: it resumes from the stored
// cursor (position = index of the next order) and writes windows of size
// orders, each with the cursor that covers it, in one transaction. Before
// committing window crashAt (counted from 0 over the whole source) it calls
// crash and returns what crash returns, leaving the transaction open as a
// dead process would.
func runStage(ctx context.Context, env *testenv.Kafka, w *Writer, set *cursor.Set, src []map[string]any, size, crashAt int, crash func(context.Context) error) error {
	topic := env.Topic(ordersTopic)
	cur := set.Cursor(cursorName)
	start := 0
	if cur.Position != "" {
		var err error
		if start, err = strconv.Atoi(cur.Position); err != nil {
			return fmt.Errorf("cursor position %q: %w", cur.Position, err)
		}
	}
	for start < len(src) {
		end := min(start+size, len(src))
		b := w.NewBatch()
		for i, rec := range src[start:end] {
			if err := b.Add(topic, orderKey(start+i), rec); err != nil {
				return err
			}
		}
		next := cur.Advance(strconv.Itoa(end), base.Add(time.Duration(start)*time.Minute), base.Add(time.Duration(end)*time.Minute), fixedNow())
		if err := b.SetCursor(next); err != nil {
			return err
		}
		w.beforeEnd = nil
		if start/size == crashAt {
			w.beforeEnd = crash
		}
		if err := w.Commit(ctx, b); err != nil {
			return err
		}
		cur, start = next, end
	}
	return nil
}

// eventIDs decodes records and counts them per event id.
func eventIDs(t *testing.T, env *testenv.Kafka, recs []*kgo.Record) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, r := range recs {
		v, err := env.Serde.Decode(testenv.Context(t), r.Value)
		if err != nil {
			t.Fatalf("decode %s at %d/%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		ids[v["event_id"].(string)]++
	}
	return ids
}

// assertExactlyOnce checks that the committed orders are exactly src, each
// once, and that the stored cursor covers all of it.
func assertExactlyOnce(t *testing.T, env *testenv.Kafka, src []map[string]any) {
	t.Helper()
	got := eventIDs(t, env, env.ReadAll(t, env.Topic(ordersTopic), testenv.Settled))
	for i, rec := range src {
		id := rec["event_id"].(string)
		if got[id] != 1 {
			t.Errorf("order %d (event %s) is in the topic %d times, want once", i, id, got[id])
		}
		delete(got, id)
	}
	for id, n := range got {
		t.Errorf("unexpected event %s in the topic %d times", id, n)
	}
	if c := loadCursors(t, env).Cursor(cursorName); c.Position != strconv.Itoa(len(src)) {
		t.Errorf("cursor position = %q, want %d", c.Position, len(src))
	}
}
