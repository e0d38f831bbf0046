package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/schemas"
)

// Writer writes one record durably to Kafka: it returns nil only once the
// broker acknowledged the record (acks=all), and an error otherwise. The
// record is in goavro's native form; the Writer encodes it for topic.
type Writer interface {
	WriteRecord(ctx context.Context, topic, key string, record map[string]any) error
}

// OrderFollower is told about an event that concerns an order once the event
// is durably in Kafka and the 200 is on its way, so the order can be fetched
// (order detail) and emitted in full. FollowOrder must not block for long:
// queue the fetch (stage.Follower hands it to the TikTok Shop stage).
type OrderFollower interface {
	FollowOrder(ev Event)
}

// Outcomes counted in the requests metric.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeBadSignature = "bad_signature"
	OutcomeMalformed    = "malformed"
	OutcomeTooLarge     = "too_large"
	OutcomeWriteFailed  = "write_failed"
)

// DefaultMaxBodyBytes is Config's default MaxBodyBytes (64 KiB).
const DefaultMaxBodyBytes = 64 << 10

// Config configures a Handler.
type Config struct {
	// AppKey and AppSecret are the app's; the secret keys the signature.
	AppKey    string
	AppSecret secret.Secret
	// Writer stores events. Required.
	Writer Writer
	// Follower, if set, is told about order events after they are stored.
	Follower OrderFollower
	// DeadLetter, if set, stores a signed body that does not parse with the
	// reason (typically on tiktok.webhook_events.dlq), returning once it is
	// durable; the delivery is then answered 200, since TikTok would only
	// send the same bytes again. Without it such a body is answered 400 and
	// logged.
	DeadLetter func(ctx context.Context, body []byte, reason string) error
	// Topic defaults to schemas.TopicTikTokWebhookEvents.
	Topic string
	// MaxBodyBytes bounds a request body. Default DefaultMaxBodyBytes;
	// TikTok's notifications are a few hundred bytes.
	MaxBodyBytes int64
	// WriteTimeout bounds the wait for Kafka. TikTok waits three seconds
	// for the answer; default 2.5 s leaves room for the network.
	WriteTimeout time.Duration
	// RecentIDs is how many acknowledged notification ids are remembered to
	// answer redeliveries without writing again. Default DefaultRecentIDs;
	// negative disables it (the deterministic event_id still dedupes
	// downstream). Remember primes it, for example after a restart.
	RecentIDs int
	// Now stamps ingest_ts. Default time.Now.
	Now func() time.Time
	// Registerer registers the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Logger logs failures; never bodies or signatures. Default: no logs.
	Logger *zerolog.Logger
}

// DefaultRecentIDs is how many notification ids a Handler remembers by
// default.
const DefaultRecentIDs = 10000

// Handler is the http.Handler of POST /webhooks/tiktok.
type Handler struct {
	cfg      Config
	requests *prometheus.CounterVec
	recent   *recentSet
}

// NewHandler returns the webhook handler.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.AppKey == "" || len(cfg.AppSecret) == 0 || cfg.Writer == nil {
		return nil, errors.New("webhook: AppKey, AppSecret and Writer are required")
	}
	if cfg.Topic == "" {
		cfg.Topic = schemas.TopicTikTokWebhookEvents
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2500 * time.Millisecond
	}
	if cfg.RecentIDs == 0 {
		cfg.RecentIDs = DefaultRecentIDs
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		nop := zerolog.Nop()
		cfg.Logger = &nop
	}
	h := &Handler{cfg: cfg, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shopstream_webhook_requests_total",
		Help: "TikTok Shop webhook deliveries by outcome (accepted, duplicate, bad_signature, malformed, too_large, write_failed).",
	}, []string{"source", "outcome"})}
	if cfg.RecentIDs > 0 {
		h.recent = newRecentSet(cfg.RecentIDs)
	}
	for _, o := range []string{OutcomeAccepted, OutcomeDuplicate, OutcomeBadSignature, OutcomeMalformed, OutcomeTooLarge, OutcomeWriteFailed} {
		h.requests.WithLabelValues(Source, o) // export zeros, so rates work from the start
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(h.requests); err != nil {
			return nil, fmt.Errorf("webhook: register metrics: %w", err)
		}
	}
	return h, nil
}

func (h *Handler) count(outcome string) { h.requests.WithLabelValues(Source, outcome).Inc() }

// Remember marks notification ids as stored, oldest first, as if they had
// just been accepted: a restarted receiver primes itself with the events it
// stored before (see stage.RecentNotificationIDs), so that TikTok's
// redelivery of one of them (its 200 lost in the crash) is answered without
// storing the event twice. It does nothing when RecentIDs is negative.
func (h *Handler) Remember(ids ...string) {
	if h.recent == nil {
		return
	}
	for _, id := range ids {
		h.recent.add(id)
	}
}

// ServeHTTP handles one delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.count(OutcomeTooLarge)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		// The sender went away mid-body; it will retry.
		h.count(OutcomeMalformed)
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	// Verify before parsing: nothing of an unauthenticated body is read.
	if !Verify(h.cfg.AppKey, []byte(h.cfg.AppSecret), body, r.Header.Get("Authorization")) {
		h.count(OutcomeBadSignature)
		h.cfg.Logger.Warn().Str("remote", r.RemoteAddr).Int("bytes", len(body)).Msg("webhook with a bad signature rejected")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, err := Parse(body)
	if err != nil {
		// Signed by TikTok but unusable: a retry would bring the same bytes.
		h.count(OutcomeMalformed)
		if h.cfg.DeadLetter != nil {
			ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
			derr := h.cfg.DeadLetter(ctx, body, err.Error())
			cancel()
			if derr == nil {
				w.WriteHeader(http.StatusOK)
				return
			}
			h.cfg.Logger.Error().Err(derr).Msg("dead-lettering a malformed webhook failed")
			http.Error(w, "event not stored, retry later", http.StatusServiceUnavailable)
			return
		}
		h.cfg.Logger.Error().Err(err).Int("bytes", len(body)).Msg("signed webhook does not parse")
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if h.recent != nil && h.recent.contains(ev.NotificationID) {
		h.count(OutcomeDuplicate)
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.WriteTimeout)
	err = h.cfg.Writer.WriteRecord(ctx, h.cfg.Topic, ev.NotificationID, Record(ev, h.cfg.Now()))
	cancel()
	if err != nil {
		// 5xx makes TikTok deliver again on its retry schedule.
		h.count(OutcomeWriteFailed)
		h.cfg.Logger.Error().Err(err).Str("tts_notification_id", ev.NotificationID).Msg("webhook event not stored")
		http.Error(w, "event not stored, retry later", http.StatusServiceUnavailable)
		return
	}
	if h.recent != nil {
		h.recent.add(ev.NotificationID)
	}
	h.count(OutcomeAccepted)
	w.WriteHeader(http.StatusOK)
	if ev.Order != nil && h.cfg.Follower != nil {
		// Send the 200 before following up, so TikTok is not kept waiting.
		_ = http.NewResponseController(w).Flush()
		h.cfg.Follower.FollowOrder(ev)
	}
}

// recentSet remembers the last n ids added (FIFO eviction).
type recentSet struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newRecentSet(n int) *recentSet {
	return &recentSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (s *recentSet) contains(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *recentSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
}
