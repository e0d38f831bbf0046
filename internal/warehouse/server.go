// Package warehouse serves the ClickHouse HTTP interface over an embedded
// ClickHouse engine (chDB), so that clickhouse-go, dbt-clickhouse, curl and BI
// tools talk to it as to a ClickHouse server.
package warehouse

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/rs/zerolog"
)

// Options tune the server. Zero values take the defaults.
type Options struct {
	// MaxBodyBytes bounds a request body, after decompression (default 256 MiB).
	MaxBodyBytes int64
	// MaxConcurrentQueries bounds the statements running at once; more wait (default 16).
	MaxConcurrentQueries int
	// MaxMemoryUsage is the per-statement memory limit in bytes (default 4 GiB):
	// without one an oversized query can take the whole process down.
	MaxMemoryUsage int64
	// TempDir holds insert data while the engine reads it (default os.TempDir()).
	TempDir string
	// Logger receives lifecycle events and failed statements (at debug level).
	Logger zerolog.Logger
	// Credentials are the user and password clients must present (default:
	// "default" with no password).
	Credentials Credentials
}

func (o *Options) setDefaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 256 << 20
	}
	if o.MaxConcurrentQueries <= 0 {
		o.MaxConcurrentQueries = 16
	}
	if o.MaxMemoryUsage <= 0 {
		o.MaxMemoryUsage = 4 << 30
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
}

// Server is an http.Handler speaking the ClickHouse HTTP protocol.
type Server struct {
	engine   Engine
	opts     Options
	version  string
	timezone string
	slots    chan struct{}
	// paramMu serialises statements with query parameters: chDB has been seen to
	// mix parameter state across handles.
	paramMu  sync.Mutex
	sessions *sessions
}

// NewServer wraps engine. It asks the engine for its version once.
func NewServer(engine Engine, opts Options) (*Server, error) {
	opts.setDefaults()
	s := &Server{engine: engine, opts: opts, slots: make(chan struct{}, opts.MaxConcurrentQueries)}
	s.sessions = newSessions(engine)
	c, err := engine.Open()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := c.Query("SELECT version(), timezone()", "TabSeparated")
	if err != nil {
		return nil, fmt.Errorf("query engine version: %w", err)
	}
	fields := strings.Split(strings.TrimSpace(string(res.Data)), "\t")
	if len(fields) != 2 {
		return nil, fmt.Errorf("unexpected engine version answer %q", res.Data)
	}
	s.version, s.timezone = fields[0], fields[1]
	return s, nil
}

// Version is the engine's ClickHouse version.
func (s *Server) Version() string { return s.version }

// Close ends every open session.
func (s *Server) Close() { s.sessions.closeAll() }

// ExpireSessions closes sessions idle for longer than their timeout; call it
// periodically.
func (s *Server) ExpireSessions(now time.Time) { s.sessions.expire(now) }

// transportParams are URL parameters that configure the HTTP exchange, not the query.
var transportParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "session_id": true,
	"session_timeout": true, "session_check": true, "query_id": true, "quota_key": true,
	"compress": true, "decompress": true, "enable_http_compression": true,
	"wait_end_of_query": true, "buffer_size": true, "client_protocol_version": true,
	"role": true, "send_progress_in_http_headers": true, "http_headers_progress_interval_ms": true,
	"cancel_http_readonly_queries_on_client_close": true, "user": true, "password": true,
	"add_http_cors_header": true, "async_insert": true, "wait_for_async_insert": true,
	"http_response_buffer_size": true, "http_wait_end_of_query": true,
}

// request is what a client asked for, taken from the URL.
type request struct {
	database       string
	format         string
	queryID        string
	sessionID      string
	sessionCheck   bool
	sessionTimeout time.Duration
	clientRevision uint64
	settings       [][2]string
	params         map[string]string
}

func parseRequest(q url.Values) (*request, error) {
	r := &request{
		database:  q.Get("database"),
		format:    q.Get("default_format"),
		queryID:   q.Get("query_id"),
		sessionID: q.Get("session_id"),
		params:    map[string]string{},
	}
	if r.format == "" {
		r.format = "TabSeparated"
	}
	if r.queryID == "" {
		r.queryID = newQueryID()
	}
	r.sessionCheck = q.Get("session_check") == "1"
	r.sessionTimeout = 60 * time.Second
	if v := q.Get("session_timeout"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 || secs > 3600 {
			return nil, &Exception{Code: codeBadArguments, Message: fmt.Sprintf("Invalid session timeout: '%s'", v)}
		}
		r.sessionTimeout = time.Duration(secs) * time.Second
	}
	if v := q.Get("client_protocol_version"); v != "" {
		r.clientRevision, _ = strconv.ParseUint(v, 10, 64)
	}
	if q.Get("decompress") == "1" {
		return nil, &Exception{Code: codeNotImplemented, Message: "ClickHouse block compression (decompress=1) is not supported by the embedded warehouse; configure no compression or HTTP Content-Encoding"}
	}
	for name, vals := range q {
		switch {
		case strings.HasPrefix(name, "param_"):
			r.params[strings.TrimPrefix(name, "param_")] = vals[len(vals)-1]
		case !transportParams[name]:
			if !isIdentifier(name) {
				return nil, &Exception{Code: 115, Message: fmt.Sprintf("Unknown setting '%s'", name)}
			}
			r.settings = append(r.settings, [2]string{name, vals[len(vals)-1]})
		}
	}
	return r, nil
}

func newQueryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	q := hr.URL.Query()
	switch {
	case hr.URL.Path == "/ping" || hr.URL.Path == "/replicas_status":
		writeOK(w)
		return
	case hr.URL.Path != "/":
		s.writeError(w, "", &Exception{Code: codeBadArguments, Message: fmt.Sprintf("There is no handle %s", hr.URL.Path)}, http.StatusNotFound)
		return
	case (hr.Method == http.MethodGet || hr.Method == http.MethodHead) && !q.Has("query"):
		writeOK(w)
		return
	case hr.Method != http.MethodGet && hr.Method != http.MethodPost:
		s.writeError(w, "", &Exception{Code: codeBadArguments, Message: "Only GET and POST are supported"}, http.StatusMethodNotAllowed)
		return
	}
	req, err := parseRequest(q)
	if err != nil {
		s.writeError(w, "", err, 0)
		return
	}
	if strings.HasPrefix(hr.Header.Get("Content-Type"), "multipart/form-data") {
		s.writeError(w, req.queryID, &Exception{Code: codeNotImplemented, Message: "External tables (multipart/form-data) are not supported by the embedded warehouse"}, 0)
		return
	}
	body, err := s.readBody(w, hr)
	if err != nil {
		s.writeError(w, req.queryID, err, 0)
		return
	}
	st := parseStatement(q.Get("query"), body)
	if strings.TrimSpace(st.sql) == "" {
		s.writeError(w, req.queryID, &Exception{Code: 62, Message: "Empty query. (SYNTAX_ERROR)"}, 0)
		return
	}
	if isHello(st.sql) {
		w.Header().Set("X-ClickHouse-Format", "Native")
		s.writeResult(w, req.queryID, "Native", Result{Data: helloBlock(req.clientRevision, "shopstream-warehouse", s.version, s.timezone), RowsRead: 1})
		return
	}
	format := outputFormat(st.sql, req.format)
	res, err := s.execute(hr.Context(), req, st)
	if err != nil {
		s.opts.Logger.Debug().Err(err).Str("query_id", req.queryID).Msg("statement failed")
		s.writeError(w, req.queryID, err, 0)
		return
	}
	if st.insert == nil {
		w.Header().Set("X-ClickHouse-Format", format)
	}
	s.writeResult(w, req.queryID, format, res)
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	_, _ = io.WriteString(w, "Ok.\n")
}

var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body, decoding its Content-Encoding, within MaxBodyBytes.
func (s *Server) readBody(w http.ResponseWriter, hr *http.Request) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	var in io.Reader = http.MaxBytesReader(w, hr.Body, limit)
	enc := strings.ToLower(strings.TrimSpace(hr.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, &Exception{Code: 354, Message: "Cannot decompress gzip request body: " + err.Error()}
		}
		in = zr
	case "deflate":
		zr, err := zlib.NewReader(in)
		if err != nil {
			return nil, &Exception{Code: 354, Message: "Cannot decompress deflate request body: " + err.Error()}
		}
		in = zr
	case "br":
		in = brotli.NewReader(in)
	case "zstd":
		zr, err := zstd.NewReader(in)
		if err != nil {
			return nil, &Exception{Code: 354, Message: "Cannot decompress zstd request body: " + err.Error()}
		}
		defer zr.Close()
		in = zr
	case "lz4":
		in = lz4.NewReader(in)
	default:
		return nil, &Exception{Code: codeBadArguments, Message: fmt.Sprintf("Unknown Content-Encoding of HTTP request: %s", enc)}
	}
	body, err := io.ReadAll(io.LimitReader(in, limit+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: limit is %d bytes", errBodyTooLarge, limit)
	}
	if err != nil {
		return nil, &Exception{Code: 354, Message: "Cannot read request body: " + err.Error()}
	}
	return body, nil
}

// execute runs one statement on a handle prepared with the request's settings,
// database and query parameters.
func (s *Server) execute(ctx context.Context, req *request, st statement) (Result, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	conn, release, err := s.handle(req)
	if err != nil {
		return Result{}, err
	}
	defer release()

	names := queryParameters(st.sql)
	for _, n := range names {
		if _, ok := req.params[n]; !ok {
			// The engine crashes on an unbound parameter, so it never sees one.
			return Result{}, &Exception{Code: codeUnknownQueryParameter, Message: fmt.Sprintf("Substitution `%s` is not set. (UNKNOWN_QUERY_PARAMETER)", n)}
		}
	}
	if len(names) > 0 {
		s.paramMu.Lock()
		defer s.paramMu.Unlock()
		for _, n := range names {
			if _, err := conn.Query("SET param_"+n+" = "+quoteString(req.params[n]), "TabSeparated"); err != nil {
				return Result{}, err
			}
		}
	}
	if req.database != "" {
		if _, err := conn.Query("USE "+quoteIdentifier(req.database), "TabSeparated"); err != nil {
			return Result{}, err
		}
	}
	if st.insert == nil {
		return conn.Query(st.sql, req.format)
	}
	return s.insertData(conn, st.insert)
}

// insertData hands the body to the engine through a temporary file: chDB reads
// insert data only from SQL or from files.
func (s *Server) insertData(conn Conn, ins *dataInsert) (Result, error) {
	f, err := os.CreateTemp(s.opts.TempDir, "insert-*.data")
	if err != nil {
		return Result{}, fmt.Errorf("stage insert data: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(ins.data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return Result{}, fmt.Errorf("stage insert data: %w", werr)
	}
	return conn.Query(ins.fromInfile(f.Name()), "TabSeparated")
}

// handle returns an engine handle with the request's settings applied, and the
// function that gives it back.
func (s *Server) handle(req *request) (Conn, func(), error) {
	if req.sessionID != "" {
		sess, err := s.sessions.acquire(req.sessionID, req.sessionCheck, req.sessionTimeout)
		if err != nil {
			return nil, nil, err
		}
		restore, err := applySettingsRestorable(sess.conn, req.settings)
		if err != nil {
			sess.release()
			return nil, nil, err
		}
		return sess.conn, func() { restore(); sess.release() }, nil
	}
	conn, err := s.engine.Open()
	if err != nil {
		return nil, nil, err
	}
	settings := append([][2]string{{"max_memory_usage", strconv.FormatInt(s.opts.MaxMemoryUsage, 10)}}, req.settings...)
	if err := applySettings(conn, settings); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, conn.Close, nil
}

func applySettings(conn Conn, settings [][2]string) error {
	for _, kv := range settings {
		if _, err := conn.Query("SET "+kv[0]+" = "+quoteString(kv[1]), "TabSeparated"); err != nil {
			return err
		}
	}
	return nil
}

// applySettingsRestorable applies per-request settings on a session handle and
// returns a function that puts the session's own values back, since settings
// from the URL belong to one request, not to the session.
func applySettingsRestorable(conn Conn, settings [][2]string) (func(), error) {
	if len(settings) == 0 {
		return func() {}, nil
	}
	names := make([]string, len(settings))
	for i, kv := range settings {
		names[i] = quoteString(kv[0])
	}
	res, err := conn.Query("SELECT name, value, changed FROM system.settings WHERE name IN ("+strings.Join(names, ",")+")", "JSONCompactEachRow")
	if err != nil {
		return nil, err
	}
	var restore []string
	for _, line := range bytes.Split(bytes.TrimSpace(res.Data), []byte("\n")) {
		var name, value string
		var changed int
		if len(line) == 0 {
			continue
		}
		if _, err := fmt.Sscanf(string(line), "[%q,%q,%d]", &name, &value, &changed); err != nil {
			return nil, fmt.Errorf("read session settings: %w", err)
		}
		if changed == 1 {
			restore = append(restore, "SET "+name+" = "+quoteString(value))
		} else {
			restore = append(restore, "SET "+name+" = DEFAULT")
		}
	}
	undo := func() {
		for _, stmt := range restore {
			_, _ = conn.Query(stmt, "TabSeparated")
		}
	}
	if err := applySettings(conn, settings); err != nil {
		undo()
		return nil, err
	}
	return undo, nil
}

func quoteIdentifier(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

var contentTypes = map[string]string{
	"Native": "application/octet-stream", "RowBinary": "application/octet-stream",
	"RowBinaryWithNamesAndTypes": "application/octet-stream", "Parquet": "application/octet-stream",
	"Arrow": "application/octet-stream", "ArrowStream": "application/octet-stream",
	"JSON": "application/json; charset=UTF-8", "JSONCompact": "application/json; charset=UTF-8",
	"JSONEachRow": "application/x-ndjson; charset=UTF-8", "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
	"CSV": "text/csv; charset=UTF-8; header=absent", "CSVWithNames": "text/csv; charset=UTF-8; header=present",
}

func (s *Server) writeResult(w http.ResponseWriter, queryID, format string, res Result) {
	h := w.Header()
	ct, ok := contentTypes[format]
	if !ok {
		ct = "text/tab-separated-values; charset=UTF-8"
	}
	h.Set("Content-Type", ct)
	h.Set("X-ClickHouse-Query-Id", queryID)
	h.Set("X-ClickHouse-Timezone", s.timezone)
	h.Set("X-ClickHouse-Server-Display-Name", "shopstream-warehouse")
	h.Set("X-ClickHouse-Summary", fmt.Sprintf(`{"read_rows":"%d","read_bytes":"%d","written_rows":"0","written_bytes":"0","total_rows_to_read":"0","result_rows":"0","result_bytes":"%d","elapsed_ns":"%d"}`,
		res.RowsRead, res.BytesRead, len(res.Data), res.Elapsed.Nanoseconds()))
	h.Set("Content-Length", strconv.Itoa(len(res.Data)))
	_, _ = w.Write(res.Data)
}

// writeError answers like ClickHouse: a non-200 status, the code in
// X-ClickHouse-Exception-Code and "Code: N. DB::Exception: ..." in the body.
func (s *Server) writeError(w http.ResponseWriter, queryID string, err error, status int) {
	var ex *Exception
	switch {
	case errors.Is(err, errBodyTooLarge):
		ex = &Exception{Code: codeBadArguments, Message: "Request body is too large: " + err.Error()}
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		ex = &Exception{Code: 394, Message: "Query was cancelled. (QUERY_WAS_CANCELLED)"}
	default:
		ex = asException(err)
	}
	if status == 0 {
		status = httpStatus(ex.Code)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ex.Code))
	if queryID != "" {
		h.Set("X-ClickHouse-Query-Id", queryID)
	}
	body := fmt.Sprintf("%s (version %s)\n", ex.Error(), s.version)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
