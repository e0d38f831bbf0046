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

// ServerConfig configures the receiver's server.
type ServerConfig struct {
	// Listen is the address served; default DefaultListen.
	Listen string
	// Handler serves Path: a Handler from NewHandler.
	Handler http.Handler
	Logger  zerolog.Logger
}

// NewServer returns the webhook receiver's server: Handler on Path, on a
// listener of its own, as a supervised part (each Run listens anew, serves
// until its context ends and lets deliveries in progress finish; TikTok
// waits 3 s for an answer).
func NewServer(cfg ServerConfig) (*httpserve.Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("webhook server: a Handler is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	mux := http.NewServeMux()
	mux.Handle(Path, cfg.Handler)
	return httpserve.New(httpserve.Config{Name: "webhooks", Listen: cfg.Listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		Logger: cfg.Logger.With().Str("path", Path).Logger()})
}
