package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/status"
)

//go:embed assets
var assets embed.FS

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// Warehouse is the connection the page reads through (see Open).
	Warehouse *Conn
	// Status, if set, is where the pipeline view reads the cursors and the
	// consumer lag (as `shopstream status` does); its Warehouse is replaced
	// by the page's read-only connection. Nil: the view shows the
	// warehouse's part only.
	Status *status.Config
	// QueryTimeout bounds one query of the page (default 30s).
	QueryTimeout time.Duration
	// StatusTimeout bounds the pipeline view's reads of Kafka and the
	// registry (default 10s).
	StatusTimeout time.Duration
	// MaxRows bounds the rows a table on the page shows (default 500);
	// downloads have every row.
	MaxRows int
	// Models is the database dbt builds the models in (dbt.schema): the
	// halo views read them there. Empty: the connection's database.
	Models string
	Logger zerolog.Logger
}

// Server serves the page and the data behind it. It is an http.Handler
// that may be mounted under any path prefix (the page uses relative URLs).
type Server struct {
	opts  Options
	mux   *http.ServeMux
	files http.Handler
}

// New returns the page's server.
func New(opts Options) (*Server, error) {
	if opts.Warehouse == nil {
		return nil, errors.New("ui: Options.Warehouse is required")
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 30 * time.Second
	}
	if opts.StatusTimeout <= 0 {
		opts.StatusTimeout = 10 * time.Second
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = 500
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, fmt.Errorf("ui: embedded assets: %w", err)
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), files: http.FileServerFS(sub)}
	s.mux.HandleFunc("GET /{$}", s.serveIndex)
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets", s.files))
	s.mux.HandleFunc("GET /api/meta", s.serveMeta)
	s.mux.HandleFunc("GET /api/data/{name}", s.serveData)
	s.mux.HandleFunc("GET /api/pipeline", s.servePipeline)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Only this origin: no CDN, no inline script, no framing.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, "assets/index.html")
}

// meta is what the page learns first: how it reads and what exists.
type meta struct {
	ReadOnly string          `json:"read_only"`
	Tables   map[string]bool `json:"tables"`
	Status   bool            `json:"status"`
}

// metaTables are the tables whose presence changes what the page offers.
var metaTables = []string{"product_daily", "product_links", "halo_ranking", "product_halo", "halo_by_lag", "dbt_runs"}

func (s *Server) serveMeta(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.QueryTimeout)
	defer cancel()
	sch, err := s.schema(ctx, metaTables)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	m := meta{ReadOnly: s.opts.Warehouse.ReadOnly, Tables: map[string]bool{}, Status: s.opts.Status != nil}
	for _, t := range metaTables {
		_, m.Tables[t] = sch[t]
	}
	writeJSON(w, m)
}

func (s *Server) schema(ctx context.Context, tables []string) (schema, error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	return readSchema(ctx, s.opts.Warehouse, tables, s.opts.Models)
}

func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	d, ok := datasets[r.PathValue("name")]
	if !ok {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("no dataset %q", r.PathValue("name")))
		return
	}
	params, err := datasetParams(d, r.URL.Query(), "format")
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.QueryTimeout)
	defer cancel()
	sch, err := s.schema(ctx, d.tables())
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err)
		return
	}
	format := r.URL.Query().Get("format")
	if missing := sch.missing(d); len(missing) > 0 {
		if format != "" {
			s.fail(w, r, http.StatusNotFound, fmt.Errorf("table %s does not exist. %s", strings.Join(missing, ", "), d.hint))
			return
		}
		writeJSON(w, result{Columns: []column{}, Rows: [][]any{}, Missing: missing, Hint: d.hint})
		return
	}
	if format != "" {
		if d.limited {
			params["limit"] = allRows
		}
		cancel() // a download is bounded by the request, not ui.query_timeout
		s.download(w, r, format, d.title, d.statement(sch, s.opts.Models), params)
		return
	}
	if d.limited {
		params["limit"] = fmt.Sprint(s.opts.MaxRows + 1)
	}
	res, err := readResult(ctx, s.opts.Warehouse, d.statement(sch, s.opts.Models), params, s.opts.MaxRows)
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, fmt.Errorf("%s: %w", d.name, err))
		return
	}
	writeJSON(w, res)
}

// fail answers a request the page could not serve, with the reason as
// JSON; the warehouse's errors are logged too (a person's bad input is
// not).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		code, err = http.StatusGatewayTimeout, fmt.Errorf("%w: the query took longer than ui.query_timeout (%s)", err, s.opts.QueryTimeout)
	}
	if code >= 500 {
		s.opts.Logger.Warn().Err(err).Str("path", r.URL.Path).Msg("page request failed")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// errText is err's message for the page, or "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimSpace(err.Error())
}
