package webhook

import (
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/httpserve"
)

// DefaultListen is where the receiver listens when ServerConfig.Listen is
// empty.
const DefaultListen = "127.0.0.1:8088"

// The receiver's default timeouts (ServerConfig), generous for TikTok, which
// sends a few hundred bytes and waits three seconds for the answer.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 15 * time.Second
	DefaultIdleTimeout       = time.Minute
)

// MaxHeaderBytes bounds a request's headers (TikTok sends a few hundred
// bytes of them).
const MaxHeaderBytes = 64 << 10

// ServerConfig configures the receiver's server. Its timeouts bound how
// long a client may hold a connection, so that slow or stalled clients
// (slow-loris) cannot pile up connections and goroutines; zero takes the
// default.
type ServerConfig struct {
	// Listen is the address served; default DefaultListen.
	Listen string
	// Handler serves Path: a Handler from NewHandler.
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a client
	// that sends its headers, then trickles or stalls the body).
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers
	// to the end of the answer, the wait for Kafka included.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection without requests.
	IdleTimeout time.Duration
	// OnListen, if set, is told the address each incarnation listens on
	// (Listen may have port 0).
	OnListen func(addr string)
	Logger   zerolog.Logger
}

// NewServer returns the webhook receiver's server: Handler on Path,
// everything else 404, on a listener of its own, with cfg's timeouts, as a
// supervised part (each Run listens anew, serves until its context ends and
// lets deliveries in progress finish).
func NewServer(cfg ServerConfig) (*httpserve.Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("webhook server: a Handler is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	mux := http.NewServeMux()
	mux.Handle(Path, cfg.Handler)
	return httpserve.New(httpserve.Config{Name: "webhooks", Listen: cfg.Listen, Handler: mux,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout,
		IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: MaxHeaderBytes, OnListen: cfg.OnListen,
		Logger: cfg.Logger.With().Str("path", Path).Logger()})
}
