// Package warehouse serves the ClickHouse HTTP interface over an embedded
// ClickHouse engine (chDB), so that clickhouse-go, dbt-clickhouse, curl and BI
// tools talk to it as to a ClickHouse server.
package warehouse

import (
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

	"github.com/ClickHouse/ch-go/compress"
	"github.com/rs/zerolog"
	"github.com/shopstream/shopstream/internal/chsql"
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
	// IdleConnectionTimeout closes a native-protocol connection that sends
	// nothing for this long between queries (default 1h, ClickHouse's
	// idle_connection_timeout).
	IdleConnectionTimeout time.Duration
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
	if o.IdleConnectionTimeout <= 0 {
		o.IdleConnectionTimeout = time.Hour
	}
}

// Server is an http.Handler speaking the ClickHouse HTTP protocol.
type Server struct {
	engine   Engine
	opts     Options
	version  string
	timezone string
	slots    chan struct{}
	sessions *sessions
	running  runningQueries
	// external are the table functions that reach outside the warehouse
	// (lower case), refused to read-only statements.
	external map[string]bool
	// settingNames are the engine's settings (see knownSettings).
	settingNames func() (map[string]bool, error)
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
	if s.external, err = externalTableFunctions(c); err != nil {
		return nil, err
	}
	s.settingNames = sync.OnceValues(func() (map[string]bool, error) {
		res, err := queryOnce(engine, "SELECT name FROM system.settings")
		if err != nil {
			return nil, fmt.Errorf("list settings: %w", err)
		}
		names := map[string]bool{}
		for _, n := range strings.Fields(string(res.Data)) {
			names[n] = true
		}
		return names, nil
	})
	return s, nil
}

// Version is the engine's ClickHouse version.
func (s *Server) Version() string { return s.version }

// Close ends every open session.
func (s *Server) Close() { s.sessions.closeAll() }

// ExpireSessions closes sessions idle for longer than their timeout; call it
// periodically.
func (s *Server) ExpireSessions(now time.Time) { s.sessions.expire(now) }

// transportParams are URL parameters that configure the HTTP exchange, not the
// statement: ClickHouse's reserved names plus the HTTP-only settings this
// server applies itself.
var transportParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "session_id": true,
	"session_timeout": true, "session_check": true, "close_session": true, "query_id": true,
	"quota_key": true, "compress": true, "decompress": true, "enable_http_compression": true,
	"wait_end_of_query": true, "buffer_size": true, "client_protocol_version": true,
	"role": true, "send_progress_in_http_headers": true, "http_headers_progress_interval_ms": true,
	"cancel_http_readonly_queries_on_client_close": true, "user": true, "password": true,
	"add_http_cors_header": true, "async_insert": true, "wait_for_async_insert": true,
	"http_response_buffer_size": true, "http_wait_end_of_query": true, "stacktrace": true,
	"http_zlib_compression_level": true, "http_native_compression_disable_checksumming_on_decompress": true,
}

// request is what a statement runs with, whichever protocol brought it: the
// database, the default output format, settings, query parameters and the
// session.
type request struct {
	database       string
	format         string
	queryID        string
	sessionID      string
	sessionCheck   bool
	sessionTimeout time.Duration
	settings       [][2]string
	params         map[string]string
	// readonly refuses statements that change data (HTTP GET).
	readonly bool
	// zones gives top-level DateTime columns of a Native result their time
	// zone (see withZones), as a server does for a client of a revision
	// that knows them.
	zones bool
	// marker, when set, tags the statement (its log_comment) so that its
	// progress can be read and the statement killed from another handle.
	marker string
}

// setting returns the value of a per-request setting and whether it is set.
func (r *request) setting(name string) (string, bool) {
	for i := len(r.settings) - 1; i >= 0; i-- {
		if r.settings[i][0] == name {
			return r.settings[i][1], true
		}
	}
	return "", false
}

// httpRequest is a request as it came over HTTP, with the exchange's own options.
type httpRequest struct {
	request
	clientRevision uint64
	closeSession   bool
	// compress answers in ClickHouse's compressed block format (compress=1),
	// with compressMethod; decompress reads the body in it (decompress=1).
	compress       bool
	compressMethod compress.Method
	decompress     bool
	// encoding is the HTTP Content-Encoding of the answer ("" for none),
	// chosen from Accept-Encoding when enable_http_compression is on.
	encoding  string
	zlibLevel int
	// sendProgress sends X-ClickHouse-Progress headers every progressEvery
	// while the statement runs.
	sendProgress  bool
	progressEvery time.Duration
	// cancelOnClose kills a read-only statement whose client went away.
	cancelOnClose bool
}

// parseBool reads a boolean parameter as ClickHouse does: 1/0 or true/false.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true":
		return true, nil
	case "", "0", "false":
		return false, nil
	}
	return false, &Exception{Code: codeCannotParseBool, Message: fmt.Sprintf("Cannot parse boolean value '%s' of parameter %s. (CANNOT_PARSE_BOOL)", v, name)}
}

func parseRequest(hr *http.Request) (*httpRequest, error) {
	q := hr.URL.Query()
	r := &httpRequest{request: request{
		database:  firstNonEmpty(hr.Header.Get("X-ClickHouse-Database"), q.Get("database")),
		format:    firstNonEmpty(hr.Header.Get("X-ClickHouse-Format"), q.Get("default_format"), "TabSeparated"),
		queryID:   firstNonEmpty(q.Get("query_id"), hr.Header.Get("X-ClickHouse-Query-Id"), newQueryID()),
		sessionID: q.Get("session_id"),
		params:    map[string]string{},
		readonly:  hr.Method == http.MethodGet,
	}}
	bools := map[string]*bool{
		"session_check": &r.sessionCheck, "close_session": &r.closeSession, "compress": &r.compress,
		"decompress": &r.decompress, "send_progress_in_http_headers": &r.sendProgress,
		"cancel_http_readonly_queries_on_client_close": &r.cancelOnClose,
	}
	for name, dst := range bools {
		v, err := parseBool(name, q.Get(name))
		if err != nil {
			return nil, err
		}
		*dst = v
	}
	r.sessionTimeout = 60 * time.Second
	if v := q.Get("session_timeout"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			return nil, &Exception{Code: codeInvalidSessionTimeout, Message: fmt.Sprintf("Invalid session timeout: '%s'. (INVALID_SESSION_TIMEOUT)", v)}
		}
		if secs > 3600 {
			return nil, &Exception{Code: codeInvalidSessionTimeout, Message: fmt.Sprintf("Session timeout '%s' is larger than max_session_timeout: 3600. Maximum session timeout could be modified in configuration file. (INVALID_SESSION_TIMEOUT)", v)}
		}
		r.sessionTimeout = time.Duration(secs) * time.Second
	}
	if v := q.Get("client_protocol_version"); v != "" {
		rev, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &Exception{Code: codeCannotParseNumber, Message: fmt.Sprintf("Cannot parse client_protocol_version '%s'. (CANNOT_PARSE_NUMBER)", v)}
		}
		r.clientRevision = rev
	}
	r.progressEvery = 100 * time.Millisecond
	if v := q.Get("http_headers_progress_interval_ms"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, &Exception{Code: codeCannotParseNumber, Message: fmt.Sprintf("Cannot parse http_headers_progress_interval_ms '%s'. (CANNOT_PARSE_NUMBER)", v)}
		}
		r.progressEvery = max(time.Duration(ms)*time.Millisecond, 10*time.Millisecond)
	}
	r.zlibLevel = 3
	if v := q.Get("http_zlib_compression_level"); v != "" {
		level, err := strconv.Atoi(v)
		if err != nil || level < 1 || level > 9 {
			return nil, &Exception{Code: codeBadArguments, Message: fmt.Sprintf("Invalid http_zlib_compression_level '%s': expected 1..9. (BAD_ARGUMENTS)", v)}
		}
		r.zlibLevel = level
	}
	httpCompression, err := parseBool("enable_http_compression", q.Get("enable_http_compression"))
	if err != nil {
		return nil, err
	}
	if httpCompression {
		r.encoding = chooseEncoding(hr.Header.Get("Accept-Encoding"))
	}
	for name, vals := range q {
		switch {
		case name == "":
		case strings.HasPrefix(name, "param_"):
			r.params[strings.TrimPrefix(name, "param_")] = vals[len(vals)-1]
		case !transportParams[name]:
			if !chsql.IsIdentifier(name) {
				return nil, &Exception{Code: codeUnknownSetting, Message: fmt.Sprintf("Unknown setting '%s'. (UNKNOWN_SETTING)", name)}
			}
			r.settings = append(r.settings, [2]string{name, vals[len(vals)-1]})
		}
	}
	if _, ok := r.setting("readonly"); ok && r.readonly {
		// GET is readonly=2, which may not change readonly (as ClickHouse's
		// settings constraints have it).
		return nil, &Exception{Code: codeReadonly, Message: "Cannot modify 'readonly' setting in readonly mode. (READONLY)"}
	}
	r.zones = r.clientRevision >= zonesRevision
	r.compressMethod = compress.LZ4
	if v, ok := r.setting("network_compression_method"); ok {
		m, err := compressionMethod(v)
		if err != nil {
			return nil, err
		}
		r.compressMethod = m
	}
	return r, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// requestCredentials returns the user and password a request presents:
// X-ClickHouse-User/X-ClickHouse-Key headers, HTTP basic auth, or the
// user/password URL parameters, never two of them at once (as in ClickHouse).
// None at all is the default user without a password.
func requestCredentials(hr *http.Request, q url.Values) (user, password string, err error) {
	headerUser, headerKey := hr.Header.Get("X-ClickHouse-User"), hr.Header.Get("X-ClickHouse-Key")
	inHeaders := headerUser != "" || headerKey != ""
	authz := hr.Header.Get("Authorization")
	inParams := q.Has("user") || q.Has("password")
	mixed := func(a, b string) error {
		return &Exception{Code: codeAuthenticationFailed, Message: fmt.Sprintf("Invalid authentication: it is not allowed to use %s and %s simultaneously. (AUTHENTICATION_FAILED)", a, b)}
	}
	switch {
	case inHeaders && authz != "":
		return "", "", mixed("X-ClickHouse HTTP headers", "Authorization HTTP header")
	case inHeaders && inParams:
		return "", "", mixed("X-ClickHouse HTTP headers", "authentication via parameters")
	case inHeaders:
		return headerUser, headerKey, nil
	case authz != "" && inParams:
		return "", "", mixed("Authorization HTTP header", "authentication via parameters")
	case authz != "":
		user, password, ok := hr.BasicAuth()
		if !ok {
			scheme, _, _ := strings.Cut(authz, " ")
			return "", "", &Exception{Code: codeAuthenticationFailed, Message: fmt.Sprintf("Invalid authentication: '%s' HTTP Authorization scheme is not supported. (AUTHENTICATION_FAILED)", scheme)}
		}
		return user, password, nil
	}
	return q.Get("user"), q.Get("password"), nil
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
	w.Header().Set("X-ClickHouse-Server-Display-Name", displayName)
	switch {
	case hr.URL.Path == "/ping" || hr.URL.Path == "/replicas_status":
		writeOK(w)
		return
	case hr.URL.Path != "/":
		s.writeError(w, nil, &Exception{Code: codeBadArguments, Message: fmt.Sprintf("There is no handle %s", hr.URL.Path)}, http.StatusNotFound)
		return
	case (hr.Method == http.MethodGet || hr.Method == http.MethodHead) && !q.Has("query"):
		writeOK(w)
		return
	case hr.Method != http.MethodGet && hr.Method != http.MethodPost:
		s.writeError(w, nil, &Exception{Code: codeBadArguments, Message: "Only GET and POST are supported"}, http.StatusMethodNotAllowed)
		return
	}
	user, password, err := requestCredentials(hr, q)
	if err == nil {
		err = s.opts.Credentials.Authenticate(user, password)
	}
	if err != nil {
		s.opts.Logger.Debug().Str("user", user).Str("remote", hr.RemoteAddr).Msg("authentication failed")
		s.writeError(w, nil, err, 0)
		return
	}
	req, err := parseRequest(hr)
	if err != nil {
		s.writeError(w, nil, err, 0)
		return
	}
	w.Header().Set("X-ClickHouse-Query-Id", req.queryID)
	if strings.HasPrefix(hr.Header.Get("Content-Type"), "multipart/form-data") {
		s.writeError(w, nil, &Exception{Code: codeNotImplemented, Message: "External tables (multipart/form-data) are not supported by the embedded warehouse. (NOT_IMPLEMENTED)"}, 0)
		return
	}
	body, err := s.readBody(w, hr, req.decompress)
	if err != nil {
		s.writeError(w, nil, err, 0)
		return
	}
	st := parseStatement(q.Get("query"), body)
	if strings.TrimSpace(st.sql) == "" {
		s.writeError(w, nil, &Exception{Code: codeSyntaxError, Message: "Empty query. (SYNTAX_ERROR)"}, 0)
		return
	}
	if req.closeSession && req.sessionID != "" {
		defer s.sessions.close(req.sessionID)
	}
	if isHello(st.sql) {
		s.writeResult(w, req, "Native", Result{Data: helloBlock(req.clientRevision, displayName, s.version, s.timezone), RowsRead: 1}, true)
		return
	}
	format := outputFormat(st.sql, req.format)
	req.zones = req.zones && format == "Native"
	done, err := s.running.start(req.queryID)
	if err != nil {
		s.writeError(w, req, err, 0)
		return
	}
	defer done()
	res, err := s.run(w, hr, req, st, format)
	if err != nil {
		if errors.Is(err, errAnswered) {
			return
		}
		s.opts.Logger.Debug().Err(err).Str("query_id", req.queryID).Msg("statement failed")
		if ex := asException(err); req.readonly && ex.Code == codeReadonly && strings.Contains(ex.Message, "Cannot execute query in readonly mode") {
			err = &Exception{Code: codeReadonly, Message: readonlyGETMessage}
		}
		s.writeError(w, req, err, 0)
		return
	}
	if st.insert != nil {
		// The engine counts the rows it read from the insert data: the rows written.
		res.RowsWritten, res.BytesWritten = res.RowsRead, res.BytesRead
	}
	s.writeResult(w, req, format, res, st.insert == nil && newStatementText(st.sql).returnsResult())
}

// displayName is what the server calls itself in X-ClickHouse-Server-Display-Name
// and displayName().
const displayName = "shopstream-warehouse"

const readonlyGETMessage = "Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries. (READONLY)"

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	_, _ = io.WriteString(w, "Ok.\n")
}

var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body within MaxBodyBytes, decoding its HTTP
// Content-Encoding and then, with decompress, ClickHouse's compressed blocks.
func (s *Server) readBody(w http.ResponseWriter, hr *http.Request, decompress bool) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	in, closeDecoder, err := contentDecoder(http.MaxBytesReader(w, hr.Body, limit), hr.Header.Get("Content-Encoding"))
	if err != nil {
		return nil, err
	}
	defer closeDecoder()
	body, err := io.ReadAll(io.LimitReader(in, limit+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: limit is %d bytes", errBodyTooLarge, limit)
	}
	if err != nil {
		return nil, &Exception{Code: codeCannotDecompress, Message: "Cannot read request body: " + err.Error() + ". (CANNOT_DECOMPRESS)"}
	}
	if decompress {
		return decompressBlocks(body, limit)
	}
	return body, nil
}

// execute runs one statement with the request's settings, database and
// query parameters: on the request's session, or on a handle of its own.
func (s *Server) execute(ctx context.Context, req *request, st statement) (Result, error) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	text := newStatementText(st.sql)
	settings := req.settings
	if req.marker != "" {
		settings = append(settings[:len(settings):len(settings)], [2]string{"log_comment", req.marker})
	}
	if req.readonly {
		// GET: read-only, last, so that the request's own settings took
		// (parseRequest refused one that changes readonly).
		settings = append(settings[:len(settings):len(settings)], [2]string{"readonly", "2"})
	}
	if req.sessionID == "" {
		conn, err := s.engine.Open()
		if err != nil {
			return Result{}, err
		}
		defer conn.Close()
		settings = append([][2]string{{"max_memory_usage", strconv.FormatInt(s.opts.MaxMemoryUsage, 10)}}, settings...)
		return s.runStatement(conn, nil, req, text, st, settings)
	}
	sess, err := s.sessions.acquire(req.sessionID, req.sessionCheck, req.sessionTimeout)
	if err != nil {
		return Result{}, err
	}
	defer sess.release()
	res, err := s.runStatement(sess.conn, &sess.state, req, text, st, settings)
	var lost *stateLostError
	if errors.As(err, &lost) {
		// The session's handle no longer holds what the session set.
		s.opts.Logger.Warn().Err(lost.err).Str("session_id", req.sessionID).Msg("session closed")
		sess.drop = true
		return res, nil
	}
	return res, err
}

// stateLostError is a statement that ran, after which its handle's session
// state could not be put back.
type stateLostError struct{ err error }

func (e *stateLostError) Error() string { return e.err.Error() }

// runStatement binds the statement's settings and parameters on conn (state
// is its session, nil for a handle of this statement alone), runs it and
// puts the session's values back.
func (s *Server) runStatement(conn Conn, state *handleState, req *request, text statementText, st statement, settings [][2]string) (Result, error) {
	b, err := s.bind(conn, state, text, settings, req.params, st.insert)
	if err != nil {
		return Result{}, err
	}
	res, err := func() (Result, error) {
		if req.database != "" {
			if _, err := conn.Query("USE "+quoteIdentifier(req.database), "TabSeparated"); err != nil {
				return Result{}, err
			}
		}
		if st.insert != nil {
			return s.insertData(conn, st.insert)
		}
		res, err := conn.Query(st.sql, req.format)
		if err == nil && req.zones {
			res.Data = s.withZones(conn, text, res.Data)
		}
		return res, err
	}()
	if err == nil && state != nil && text.keyword() == "SET" {
		state.noteSet(text)
	}
	if state == nil {
		return res, err
	}
	if uerr := b.undo(); uerr != nil {
		if err != nil {
			return res, err
		}
		return res, &stateLostError{uerr}
	}
	return res, err
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

func quoteIdentifier(s string) string {
	return "`" + strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s) + "`"
}

var contentTypes = map[string]string{
	"Native": "application/octet-stream", "RowBinary": "application/octet-stream",
	"RowBinaryWithNames": "application/octet-stream", "RowBinaryWithNamesAndTypes": "application/octet-stream",
	"Parquet": "application/octet-stream", "Arrow": "application/octet-stream", "ArrowStream": "application/octet-stream",
	"ORC": "application/octet-stream", "Avro": "application/octet-stream",
	"JSON": "application/json; charset=UTF-8", "JSONCompact": "application/json; charset=UTF-8",
	"JSONStrings": "application/json; charset=UTF-8", "JSONColumns": "application/json; charset=UTF-8",
	"JSONEachRow": "application/x-ndjson; charset=UTF-8", "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
	"JSONStringsEachRow": "application/x-ndjson; charset=UTF-8",
	"CSV":                "text/csv; charset=UTF-8; header=absent", "CSVWithNames": "text/csv; charset=UTF-8; header=present",
	"CSVWithNamesAndTypes": "text/csv; charset=UTF-8; header=present",
	"XML":                  "application/xml; charset=UTF-8",
}

// answer is a whole HTTP response, built before any of it is sent.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// summary is the X-ClickHouse-Summary (and X-ClickHouse-Progress) JSON.
func summary(read, readBytes, written, writtenBytes, total, resultBytes uint64, elapsed time.Duration) string {
	return fmt.Sprintf(`{"read_rows":"%d","read_bytes":"%d","written_rows":"%d","written_bytes":"%d","total_rows_to_read":"%d","result_rows":"0","result_bytes":"%d","elapsed_ns":"%d"}`,
		read, readBytes, written, writtenBytes, total, resultBytes, elapsed.Nanoseconds())
}

// resultAnswer is the answer to a statement that succeeded. withFormat says
// whether the statement produces a result (X-ClickHouse-Format is sent only
// then, as clients tell queries from commands by it).
func (s *Server) resultAnswer(req *httpRequest, format string, res Result, withFormat bool) (answer, error) {
	h := http.Header{}
	ct, ok := contentTypes[format]
	if !ok {
		ct = "text/tab-separated-values; charset=UTF-8"
	}
	h.Set("Content-Type", ct)
	if withFormat {
		h.Set("X-ClickHouse-Format", format)
	}
	h.Set("X-ClickHouse-Timezone", s.timezone)
	h.Set("X-ClickHouse-Summary", summary(res.RowsRead, res.BytesRead, res.RowsWritten, res.BytesWritten, res.RowsRead, uint64(len(res.Data)), res.Elapsed))
	body, err := encodeBody(req, res.Data, h)
	if err != nil {
		return answer{}, err
	}
	return answer{status: http.StatusOK, header: h, body: body}, nil
}

// errorAnswer answers like ClickHouse: a non-200 status, the code in
// X-ClickHouse-Exception-Code and "Code: N. DB::Exception: ..." in the body,
// encoded as the result would have been once the statement ran (req set).
func (s *Server) errorAnswer(req *httpRequest, err error, status int) answer {
	var ex *Exception
	switch {
	case errors.Is(err, errBodyTooLarge):
		ex = &Exception{Code: codeBadArguments, Message: "Request body is too large: " + err.Error()}
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		ex = &Exception{Code: codeQueryWasCancelled, Message: "Query was cancelled. (QUERY_WAS_CANCELLED)"}
	default:
		ex = asException(err)
	}
	if status == 0 {
		status = httpStatus(ex.Code)
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("X-ClickHouse-Exception-Code", strconv.Itoa(ex.Code))
	text := []byte(fmt.Sprintf("%s (version %s)\n", ex.Error(), s.version))
	body := text
	if req != nil {
		if b, err := encodeBody(req, text, h); err == nil {
			body = b
		} else {
			h.Del("Content-Encoding")
		}
	}
	return answer{status: status, header: h, body: body}
}

func (a answer) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func (s *Server) writeResult(w http.ResponseWriter, req *httpRequest, format string, res Result, withFormat bool) {
	a, err := s.resultAnswer(req, format, res, withFormat)
	if err != nil {
		a = s.errorAnswer(nil, err, 0)
	}
	a.writeTo(w)
}

func (s *Server) writeError(w http.ResponseWriter, req *httpRequest, err error, status int) {
	s.errorAnswer(req, err, status).writeTo(w)
}
