// Package httpserve serves an http.Handler on an address of its own as a
// supervised part (internal/supervise): the webhook receiver, the analytics
// page on ui.listen.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Server.
type Config struct {
	// Name names the server in errors and logs ("webhooks", "ui").
	Name string
	// Listen is the address served (host:port; port 0 picks one).
	Listen  string
	Handler http.Handler
	// ShutdownTimeout bounds the wait for requests in progress when the
	// server stops; default 5 s.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers; default 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout, WriteTimeout, IdleTimeout and MaxHeaderBytes are
	// http.Server's; zero leaves net/http's default.
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	// OnListen, if set, is told the address each incarnation listens on.
	OnListen func(addr string)
	Logger   zerolog.Logger
}

// Server serves Handler on Listen. Each Run listens anew.
type Server struct{ cfg Config }

// New validates cfg and returns a Server; Run serves.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, fmt.Errorf("%s server: a handler is required", cfg.Name)
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("%s server: listen address %q: %w", cfg.Name, cfg.Listen, err)
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	return &Server{cfg: cfg}, nil
}

// Config returns the server's configuration, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Run listens and serves until ctx ends, then lets requests in progress
// finish (up to ShutdownTimeout) and returns nil. It returns an error when
// it cannot listen or the server fails: restart me.
func (s *Server) Run(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", s.cfg.Name, s.cfg.Listen, err)
	}
	srv := &http.Server{Handler: s.cfg.Handler, ReadHeaderTimeout: s.cfg.ReadHeaderTimeout, ReadTimeout: s.cfg.ReadTimeout,
		WriteTimeout: s.cfg.WriteTimeout, IdleTimeout: s.cfg.IdleTimeout, MaxHeaderBytes: s.cfg.MaxHeaderBytes}
	s.cfg.Logger.Info().Str("listen", ln.Addr().String()).Msg(s.cfg.Name + " listening")
	if s.cfg.OnListen != nil {
		s.cfg.OnListen(ln.Addr().String())
	}
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
	return fmt.Errorf("%s: serve: %w", s.cfg.Name, err)
}
