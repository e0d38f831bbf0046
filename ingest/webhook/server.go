package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// DefaultListen is where a Server listens when ServerConfig.Listen is
// empty.
const DefaultListen = "127.0.0.1:8088"

// ServerConfig configures a Server.
type ServerConfig struct {
	// Listen is the address served; default DefaultListen.
	Listen string
	// Handler serves Path: a Handler from NewHandler.
	Handler http.Handler
	// ShutdownTimeout bounds the wait for deliveries in progress when the
	// server stops; default 5 s (TikTok waits 3 s for an answer).
	ShutdownTimeout time.Duration
	Logger          zerolog.Logger
}

// Server serves POST Path on a listener of its own: the webhook receiver as
// a supervised part (internal/supervise). Each Run listens anew.
type Server struct {
	cfg ServerConfig
	mux *http.ServeMux
}

// NewServer validates cfg and returns a Server; Run starts it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("webhook server: a Handler is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("webhook server: listen address %q: %w", cfg.Listen, err)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	mux := http.NewServeMux()
	mux.Handle(Path, cfg.Handler)
	return &Server{cfg: cfg, mux: mux}, nil
}

// Run listens and serves until ctx ends, then lets deliveries in progress
// finish (up to ShutdownTimeout) and returns nil. It returns an error when
// it cannot listen or the server fails: restart me.
func (s *Server) Run(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("webhooks: listen on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second}
	s.cfg.Logger.Info().Str("listen", ln.Addr().String()).Str("path", Path).Msg("webhook receiver listening")
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-runCtx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	cancel()
	<-stopped
	if errors.Is(err, http.ErrServerClosed) && ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("webhooks: serve: %w", err)
}
