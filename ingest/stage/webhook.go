package stage

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/emit"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/schemas"
)

// KafkaWriter is the webhook receiver's production Writer: it encodes a
// record with the registry's schema and produces it with acks=all on an
// idempotent producer, returning only once the broker acknowledged it.
type KafkaWriter struct {
	cl    *kgo.Client
	k     Kafka
	stage string
	now   func() time.Time
}

// NewKafkaWriter returns a writer with its own client. Close it when done.
func NewKafkaWriter(k Kafka, now func() time.Time) (*KafkaWriter, error) {
	if now == nil {
		now = time.Now
	}
	opts := append([]kgo.Opt{}, k.ClientOpts...)
	// acks=all is franz-go's default and idempotence needs it; said here
	// so that nobody weakens it: the 200 promises the event is durable.
	opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("webhook writer: %w", err)
	}
	return &KafkaWriter{cl: cl, k: k, stage: deadletter.IngestStage("webhooks"), now: now}, nil
}

// WriteRecord implements webhook.Writer.
func (w *KafkaWriter) WriteRecord(ctx context.Context, topic, key string, record map[string]any) error {
	b, err := w.k.Serde.Encode(topic, record)
	if err != nil {
		return fmt.Errorf("encode %s: %w", topic, err)
	}
	r := &kgo.Record{Topic: w.k.Topic(topic), Key: []byte(key), Value: b}
	if err := w.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("produce %s: %w", topic, err)
	}
	return nil
}

// DeadLetter stores a signed body that does not parse on
// tiktok.webhook_events.dlq, a dead letter like emit's; it is
// webhook.Config.DeadLetter.
func (w *KafkaWriter) DeadLetter(ctx context.Context, body []byte, reason string) error {
	l := deadletter.FromPayload(w.stage, w.k.Topic(schemas.TopicTikTokWebhookEvents), "", body, webhook.Path, deadletter.ClassMalformed, reason, w.now())
	if err := w.cl.ProduceSync(ctx, l.Record(emit.DefaultMaxDeadLetterBytes)).FirstErr(); err != nil {
		return fmt.Errorf("produce webhook dead letter: %w", err)
	}
	return nil
}

// Close flushes nothing (every write waited for its ack) and closes the
// client.
func (w *KafkaWriter) Close() { w.cl.Close() }

// Follower is the webhook.OrderFollower that hands order events to the
// TikTok Shop stage's queue, so the order is fetched and emitted through the
// stage's own transaction and change capture.
type Follower struct{ Queue *OrderQueue }

// FollowOrder implements webhook.OrderFollower; it never blocks.
func (f Follower) FollowOrder(ev webhook.Event) {
	if ev.Order != nil && ev.Order.OrderID != "" {
		f.Queue.Add(ev.Order.OrderID)
	}
}
