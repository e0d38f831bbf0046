package stage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
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
	// Server is the receiver's address and timeouts (its Handler is set
	// here); MaxBodyBytes: see webhook.Config.
	Server       webhook.ServerConfig
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
	h     *webhook.Handler
	srv   *httpserve.Server
	log   zerolog.Logger
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
		sc := cfg.Server
		sc.Handler, sc.Logger = h, cfg.Logger
		if srv, err = webhook.NewServer(sc); err == nil {
			return &Receiver{k: cfg.Kafka, kw: kw, h: h, srv: srv, log: cfg.Logger}, nil
		}
	}
	kw.Close()
	return nil, fmt.Errorf("webhook receiver: %w", err)
}

// Run ensures the events topic exists, primes the handler with the
// events already stored, and serves until ctx ends (nil) or the server
// fails (the error: restart me).
func (r *Receiver) Run(ctx context.Context) error {
	if err := EnsureTopics(ctx, r.k, schemas.TopicTikTokWebhookEvents); err != nil {
		return fmt.Errorf("webhook receiver: %w", err)
	}
	// Events stored before a restart are known: TikTok's redelivery of one
	// (its 200 lost in a crash) is answered without storing it again. A
	// failure here costs only that, so it does not stop the receiver.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	recent, err := RecentNotificationIDs(pctx, r.k, webhook.DefaultRecentIDs)
	cancel()
	if err != nil {
		r.log.Warn().Err(err).Msg("webhook receiver starts without the events stored before")
	}
	r.h.Remember(recent...)
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

// RecentNotificationIDs returns the keys (notification ids) of the last n
// events of each partition of tiktok.webhook_events, oldest first within a
// partition. The receiver primes its memory of stored events with them at
// start (webhook.Handler.Remember): TikTok redelivers an event whose 200 it
// did not get, and a receiver that crashed after the broker's ack but before
// answering would otherwise store that event a second time.
func RecentNotificationIDs(ctx context.Context, k Kafka, n int) ([]string, error) {
	cl, err := kgo.NewClient(k.ClientOpts...)
	if err != nil {
		return nil, fmt.Errorf("recent webhook events: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := k.Topic(schemas.TopicTikTokWebhookEvents)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("recent webhook events: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("recent webhook events: %w", err)
	}
	from := map[int32]kgo.Offset{}
	remaining := map[int32]int64{} // partition -> the offset still to reach
	var ferr error
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			ferr = errors.Join(ferr, fmt.Errorf("%s[%d]: %w", e.Topic, e.Partition, e.Err))
			return
		}
		s, _ := starts.Lookup(e.Topic, e.Partition)
		first := max(s.Offset, e.Offset-int64(n))
		if first < e.Offset {
			from[e.Partition] = kgo.NewOffset().At(first)
			remaining[e.Partition] = e.Offset
		}
	})
	if ferr != nil {
		return nil, fmt.Errorf("recent webhook events: %w", ferr)
	}
	if len(from) == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(append(append([]kgo.Opt{}, k.ClientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, fmt.Errorf("recent webhook events: %w", err)
	}
	defer rd.Close()
	var ids []string
	for len(remaining) > 0 {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("recent webhook events: %w", err)
		}
		if err := fs.Err(); err != nil {
			return nil, fmt.Errorf("recent webhook events: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			ids = append(ids, string(r.Key))
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return ids, nil
}
