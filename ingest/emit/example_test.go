package emit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/changecapture"
	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/ingest/emit"
	"github.com/shopstream/shopstream/schemas"
)

// api stands for a source client: one window of entities, as API payloads.
type api interface {
	Fetch(ctx context.Context, from, to time.Time) ([]payload, error)
}

// payload is one entity as the API sent it.
type payload struct {
	Raw []byte
}

// toRecord maps a payload to the topic's Avro record (goavro native form),
// its natural key and the time the source says it changed; an error means
// the payload is malformed or unexpected.
func toRecord(p payload) (rec map[string]any, key string, changed time.Time, err error) {
	return nil, "", time.Time{}, errors.New("not a real source")
}

// Example shows the loop of a source stage: writer first (it fences the
// previous incarnation), then cursor and change-capture state; then, per
// window, fetch → change-capture → one transaction with records, dead
// letters, the cursor and the state → advance.
func Example() {
	ctx := context.Background()
	var (
		serde   *schemas.Serde // from schemas.NewRegistry(client).Serde(ctx)
		source  api
		brokers = []string{"127.0.0.1:9092"}
	)
	const (
		name  = "orders/ATVPDKIKX0DER"
		topic = "amazon.orders"
	)
	run := func(ctx context.Context) error {
		w, err := emit.New(ctx, emit.Config{
			ClientOpts:      []kgo.Opt{kgo.SeedBrokers(brokers...)},
			TransactionalID: emit.TransactionalID("amazon", "0"),
			Stage:           "ingest-amazon",
			Encoder:         serde,
		})
		if err != nil {
			return err
		}
		defer w.Close()
		set, err := cursor.Load(ctx, cursor.LoadConfig{
			ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)},
			Decoder:    serde,
		}, "amazon")
		if err != nil {
			return err
		}
		tracker, err := changecapture.NewTracker(changecapture.Config{Source: "amazon", Entity: "order"}, set)
		if err != nil {
			return err
		}
		cur := set.Cursor(name)
		for {
			from := cur.WindowEnd // zero on the first run: start the backfill there instead
			to := time.Now().Add(-2 * time.Minute)
			payloads, err := source.Fetch(ctx, from, to)
			if err != nil {
				return err // or retry with backoff; nothing was written
			}
			b := w.NewBatch()
			b.Join(tracker) // its pending state commits (or rolls back) with the batch
			for _, p := range payloads {
				if key, err := capture(b, tracker, topic, p); err != nil {
					// Malformed or unexpected: keep the raw payload, go on.
					b.AddDeadLetter(emit.DeadLetter{Topic: topic, Key: key, Payload: p.Raw, Reason: err.Error(), Endpoint: "getOrders"})
				}
			}
			next := cur.Advance("", from, to, time.Now())
			if err := b.SetCursor(next); err != nil {
				return err
			}
			if err := w.Commit(ctx, b); err != nil {
				// ErrAborted: nothing was written, retry the window.
				// Anything else: return; the caller restarts run, which
				// fences, reloads and goes on from what was committed.
				if errors.Is(err, emit.ErrAborted) {
					continue
				}
				return err
			}
			cur = next
		}
	}
	for ctx.Err() == nil {
		if err := run(ctx); err != nil {
			fmt.Println("stage restarts:", err) // log it, back off, alert on ErrFenced
		}
	}
}

// capture adds the record of p to b if its entity really changed. It
// returns the entity key when it is known.
func capture(b *emit.Batch, tracker *changecapture.Tracker, topic string, p payload) (string, error) {
	rec, key, changed, err := toRecord(p)
	if err != nil {
		return key, err
	}
	c, ok, err := tracker.Observe(key, rec, changed)
	if err != nil || !ok {
		return key, err // !ok: nothing really changed
	}
	return key, b.Add(topic, key, c.Stamp(rec, time.Now()))
}
