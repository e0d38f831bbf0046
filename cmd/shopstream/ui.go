package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/ui"
)

// defaultUIListen is where `shopstream ui` serves the page when neither
// --listen nor ui.listen says.
const defaultUIListen = "127.0.0.1:8480"

func newUICmd(a *app) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the analytics page against the configured warehouse",
		Long: `Serve the built-in analytics page (products across both channels, one product
over time, the halo ranking, identity, the pipeline) against the warehouse
configured as for load: warehouse.addr over warehouse.protocol with
warehouse.user and its password, or the embedded warehouse on
warehouse.listen. The page only reads (readonly on every query, or a
read-only user). The pipeline view reads Kafka and the schema registry as
status does.

The page is served on --listen, else ui.listen, else ` + defaultUIListen + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if listen == "" {
				listen = a.cfg.UI.Listen
			}
			if listen == "" {
				listen = defaultUIListen
			}
			return a.serveUI(cmd.Context(), listen, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to serve the page on (default ui.listen, else "+defaultUIListen+")")
	return cmd
}

// serveUI serves the page on listen until ctx ends.
func (a *app) serveUI(ctx context.Context, listen string, out io.Writer) error {
	srv, closeUI, err := a.newUI(ctx)
	if err != nil {
		return err
	}
	defer closeUI()
	addr, done, err := servePage(ctx, srv, listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "analytics page   http://%s/\n", addr)
	return <-done
}

// servePage serves h on listen until ctx ends. It returns the address
// and a channel that gets the server's result once it stopped.
func servePage(ctx context.Context, h http.Handler, listen string) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, fmt.Errorf("ui listen: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	context.AfterFunc(ctx, func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	})
	done := make(chan error, 1)
	go func() {
		err := hs.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else {
			err = fmt.Errorf("ui: %w", err)
		}
		done <- err
	}()
	return ln.Addr().String(), done, nil
}

// newUI connects the page to the warehouse (read-only) and to what status
// reads.
func (a *app) newUI(ctx context.Context) (*ui.Server, func(), error) {
	conn, err := ui.Open(ctx, a.warehouse(4))
	if err != nil {
		return nil, nil, err
	}
	statusCfg, err := a.statusConfig()
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	cfg := a.cfg.UI
	srv, err := ui.New(ui.Options{Warehouse: conn, Status: &statusCfg, QueryTimeout: cfg.QueryTimeout,
		StatusTimeout: cfg.StatusTimeout, MaxRows: cfg.MaxRows, Logger: a.log.With().Str("stage", "ui").Logger()})
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	a.log.Info().Str("stage", "ui").Str("read_only", conn.ReadOnly).Msg("analytics page connected")
	return srv, func() { _ = conn.Close() }, nil
}

// lateHandler answers 503 until its handler is set: run serves the page
// on the metrics listener, which starts before the warehouse is ready.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) { l.h.Store(&h) }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "the analytics page starts once the warehouse is ready", http.StatusServiceUnavailable)
}

// startPage connects run's analytics page and returns its URL: page (on
// the metrics listener at metricsAddr) serves it, or its own listener on
// ui.listen, closed when ctx ends.
func (a *app) startPage(ctx context.Context, page *lateHandler, metricsAddr string) (string, error) {
	srv, closeUI, err := a.newUI(ctx)
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, closeUI)
	if a.cfg.UI.Listen == "" {
		page.set(srv)
		return "http://" + metricsAddr + "/", nil
	}
	addr, _, err := servePage(ctx, srv, a.cfg.UI.Listen)
	if err != nil {
		return "", err
	}
	return "http://" + addr + "/", nil
}
