package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/httpserve"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
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
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = a.cfg.UI.Listen
			}
			if listen == "" {
				listen = defaultUIListen
			}
			return a.serveUI(cmd.Context(), listen, cmd.OutOrStdout())
		}),
	}
	cmd.Flags().StringVar(&listen, "listen", "", "host:port to serve the page on (default ui.listen, else "+defaultUIListen+")")
	return cmd
}

// serveUI serves the page on listen, supervised, until ctx ends.
func (a *app) serveUI(ctx context.Context, listen string, out io.Writer) error {
	srv, closeUI, err := a.newUI(ctx)
	if err != nil {
		return err
	}
	defer closeUI()
	part, err := a.pagePart(srv, listen, func(addr string) { fmt.Fprintf(out, "analytics page   http://%s/\n", addr) })
	if err != nil {
		return err
	}
	sup, err := a.supervisor(nil)
	if err != nil {
		return err
	}
	sup.Start(ctx, part)
	sup.Wait()
	return nil
}

// pagePart serves the page on a listener of its own as a supervised part.
func (a *app) pagePart(h http.Handler, listen string, onListen func(addr string)) (supervise.Part, error) {
	srv, err := httpserve.New(httpserve.Config{Name: "ui", Listen: listen, Handler: h, OnListen: onListen,
		Logger: a.log.With().Str(logging.Stage, "ui").Logger()})
	if err != nil {
		return supervise.Part{}, err
	}
	return supervise.Part{Name: "ui", Runner: srv}, nil
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
		StatusTimeout: cfg.StatusTimeout, MaxRows: cfg.MaxRows, Models: a.cfg.Dbt.Schema, Logger: a.log.With().Str("stage", "ui").Logger()})
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
// the metrics listener at metricsAddr) serves it, or, on ui.listen, the
// supervised part returned. The page's connection closes when ctx ends.
func (a *app) startPage(ctx context.Context, page *lateHandler, metricsAddr string) (string, []supervise.Part, error) {
	srv, closeUI, err := a.newUI(ctx)
	if err != nil {
		return "", nil, err
	}
	context.AfterFunc(ctx, closeUI)
	if a.cfg.UI.Listen == "" {
		page.set(srv)
		return "http://" + metricsAddr + "/", nil, nil
	}
	part, err := a.pagePart(srv, a.cfg.UI.Listen, nil)
	if err != nil {
		return "", nil, err
	}
	return "http://" + a.cfg.UI.Listen + "/", []supervise.Part{part}, nil
}
