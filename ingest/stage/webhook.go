package stage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/emit"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/httpserve"
	"github.com/shopstream/shopstream/internal/secret"
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

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	Kafka Kafka
	// AppKey and AppSecret are the TikTok Shop app's; the secret verifies
	// the signatures.
	AppKey    string
	AppSecret secret.Secret
	// Follow is the TikTok Shop stage's queue (ShopConfig.Follow): order
	// events name the orders it fetches.
	Follow *OrderQueue
	// Listen and MaxBodyBytes: see webhook.ServerConfig and webhook.Config.
	Listen       string
	MaxBodyBytes int64
	// Registerer, if set, registers the receiver's metrics.
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
}

// Receiver is the webhook receiver as a supervised part: webhook.Server
// over a handler that writes through a KafkaWriter and hands order events
// to the TikTok Shop stage.
type Receiver struct {
	k     Kafka
	kw    *KafkaWriter
	srv   *httpserve.Server
	close sync.Once
}

// NewReceiver validates cfg and builds the receiver; Run serves.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Follow == nil {
		return nil, errors.New("webhook receiver: a Follow queue is required (the TikTok Shop stage's)")
	}
	kw, err := NewKafkaWriter(cfg.Kafka, nil)
	if err != nil {
		return nil, err
	}
	h, err := webhook.NewHandler(webhook.Config{AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, Writer: kw,
		Follower: Follower{Queue: cfg.Follow}, DeadLetter: kw.DeadLetter, MaxBodyBytes: cfg.MaxBodyBytes,
		Logger: &cfg.Logger, Registerer: cfg.Registerer})
	if err == nil {
		var srv *httpserve.Server
		if srv, err = webhook.NewServer(webhook.ServerConfig{Listen: cfg.Listen, Handler: h, Logger: cfg.Logger}); err == nil {
			return &Receiver{k: cfg.Kafka, kw: kw, srv: srv}, nil
		}
	}
	kw.Close()
	return nil, fmt.Errorf("webhook receiver: %w", err)
}

// Run ensures the events topic exists and serves until ctx ends (nil) or
// the server fails (the error: restart me).
func (r *Receiver) Run(ctx context.Context) error {
	if err := EnsureTopics(ctx, r.k, schemas.TopicTikTokWebhookEvents); err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	return r.srv.Run(ctx)
}

// Close closes the Kafka writer; it is idempotent.
func (r *Receiver) Close() error {
	r.close.Do(r.kw.Close)
	return nil
}

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
