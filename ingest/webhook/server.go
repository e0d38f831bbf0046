package webhook

import (
	"net/http"
	"time"
)

// ServerConfig bounds how long a client may hold a connection of the
// receiver, so that slow or stalled clients (slow-loris) cannot pile up
// connections and goroutines: TikTok sends a few hundred bytes and waits
// three seconds for the answer, so every bound is generous for it.
type ServerConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a client
	// that sends its headers, then trickles or stalls the body). Default
	// 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers
	// to the end of the answer, the wait for Kafka included. Default 15s.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection without requests.
	// Default 60s.
	IdleTimeout time.Duration
}

// MaxHeaderBytes bounds a request's headers (TikTok sends a few hundred
// bytes of them).
const MaxHeaderBytes = 64 << 10

// NewServer returns the receiver's HTTP server: h on Path, everything else
// 404, with cfg's timeouts (zero fields take their defaults).
func NewServer(h http.Handler, cfg ServerConfig) *http.Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, 5*time.Second)
	def(&cfg.ReadTimeout, 10*time.Second)
	def(&cfg.WriteTimeout, 15*time.Second)
	def(&cfg.IdleTimeout, time.Minute)
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	return &http.Server{Handler: mux, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: MaxHeaderBytes}
}
