package warehouse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runningQueries holds the query ids of the statements running now: ClickHouse
// refuses a second statement with the id of one still running.
type runningQueries struct {
	mu   sync.Mutex
	byID map[string]struct{}
}

// start registers id and returns the function that forgets it.
func (r *runningQueries) start(id string) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID == nil {
		r.byID = map[string]struct{}{}
	}
	if _, ok := r.byID[id]; ok {
		return nil, &Exception{Code: codeQueryWithSameIDRunning, Message: fmt.Sprintf("Query with id = %s is already running. (QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING)", id)}
	}
	r.byID[id] = struct{}{}
	return func() {
		r.mu.Lock()
		delete(r.byID, id)
		r.mu.Unlock()
	}, nil
}

// errAnswered says the response was already written on a hijacked connection.
var errAnswered = errors.New("answered on the hijacked connection")

// progress is a running statement's counters, from system.processes.
type progress struct {
	read, readBytes, written, writtenBytes, total uint64
	elapsed                                       time.Duration
}

func (p progress) json() string {
	return summary(p.read, p.readBytes, p.written, p.writtenBytes, p.total, 0, p.elapsed)
}

// run executes a statement. When the client asked for progress headers
// (send_progress_in_http_headers) or for cancellation on close
// (cancel_http_readonly_queries_on_client_close with a read-only request),
// it tags the statement and watches it from another handle: each interval it
// reads the statement's counters from system.processes and sends them as an
// X-ClickHouse-Progress header; when the client goes away, it kills it. Like
// ClickHouse, once a progress header is out the status is 200 and an error
// arrives as X-ClickHouse-Exception-Code and the body.
func (s *Server) run(w http.ResponseWriter, hr *http.Request, req *httpRequest, st statement, format string) (Result, error) {
	readonly := req.readonly
	if v, ok := req.setting("readonly"); ok && v != "0" {
		readonly = true
	}
	cancel := req.cancelOnClose && readonly
	_, ownComment := req.setting("log_comment")
	if !req.sendProgress && !cancel || ownComment {
		return s.execute(hr.Context(), &req.request, st)
	}
	req.marker = "shopstream-http:" + newQueryID()
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := s.execute(context.WithoutCancel(hr.Context()), &req.request, st)
		done <- outcome{res, err}
	}()
	var tick <-chan time.Time
	if req.sendProgress {
		t := time.NewTicker(req.progressEvery)
		defer t.Stop()
		tick = t.C
	}
	gone := hr.Context().Done()
	var head *hijacked
	for {
		select {
		case o := <-done:
			if head == nil {
				return o.res, o.err
			}
			var a answer
			if o.err != nil {
				a = s.errorAnswer(req, o.err, 0)
			} else if a, o.err = s.resultAnswer(req, format, o.res, st.insert == nil && newStatementText(st.sql).returnsResult()); o.err != nil {
				a = s.errorAnswer(nil, o.err, 0)
			}
			head.finish(a)
			return Result{}, errAnswered
		case <-tick:
			p, ok := s.progressOf(req.marker)
			if !ok {
				continue
			}
			if head == nil {
				var err error
				if head, err = hijack(w); err != nil {
					s.opts.Logger.Debug().Err(err).Msg("progress headers: cannot take the connection over")
					tick = nil
					continue
				}
				if gone != nil {
					gone = head.gone
				}
			}
			head.header("X-ClickHouse-Progress", p.json())
		case <-gone:
			gone = nil
			if cancel {
				s.kill(req.marker)
			}
		}
	}
}

// progressOf reads the counters of the statement tagged marker.
func (s *Server) progressOf(marker string) (progress, bool) {
	res, err := queryOnce(s.engine, "SELECT read_rows, read_bytes, written_rows, written_bytes, total_rows_approx, elapsed FROM system.processes WHERE Settings['log_comment'] = "+quoteString(marker)+" LIMIT 1")
	if err != nil {
		return progress{}, false
	}
	f := strings.Fields(string(res.Data))
	if len(f) != 6 {
		return progress{}, false
	}
	var p progress
	for i, dst := range []*uint64{&p.read, &p.readBytes, &p.written, &p.writtenBytes, &p.total} {
		*dst, _ = strconv.ParseUint(f[i], 10, 64)
	}
	secs, _ := strconv.ParseFloat(f[5], 64)
	p.elapsed = time.Duration(secs * float64(time.Second))
	return p, true
}

// kill cancels the statement tagged marker.
func (s *Server) kill(marker string) {
	if _, err := queryOnce(s.engine, "KILL QUERY WHERE Settings['log_comment'] = "+quoteString(marker)+" ASYNC"); err != nil {
		s.opts.Logger.Debug().Err(err).Msg("kill a statement whose client went away")
	}
}

// hijacked is a response whose status line and first headers are out, sent
// on the raw connection: net/http sends all headers at once, and progress
// headers go out one by one while the statement runs. The connection closes
// after the response.
type hijacked struct {
	conn net.Conn
	buf  *bufio.ReadWriter
	// gone closes when the client closes the connection: net/http no
	// longer watches a hijacked one.
	gone chan struct{}
}

func hijack(w http.ResponseWriter) (*hijacked, error) {
	pre := w.Header().Clone()
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack: %w", err)
	}
	h := &hijacked{conn: conn, buf: buf, gone: make(chan struct{})}
	go func() {
		_, _ = io.Copy(io.Discard, buf.Reader)
		close(h.gone)
	}()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\n")
	h.header("Date", time.Now().UTC().Format(http.TimeFormat))
	h.header("Connection", "close")
	for k, vs := range pre {
		for _, v := range vs {
			h.header(k, v)
		}
	}
	return h, nil
}

// header sends one header line now.
func (h *hijacked) header(name, value string) {
	_, _ = h.buf.WriteString(name + ": " + value + "\r\n")
	_ = h.buf.Flush()
}

// finish sends the rest of the headers and the body, and closes the
// connection. The status stays 200: an error shows in
// X-ClickHouse-Exception-Code and the body, as in ClickHouse.
func (h *hijacked) finish(a answer) {
	for k, vs := range a.header {
		for _, v := range vs {
			_, _ = h.buf.WriteString(k + ": " + v + "\r\n")
		}
	}
	_, _ = h.buf.WriteString("Content-Length: " + strconv.Itoa(len(a.body)) + "\r\n\r\n")
	_, _ = h.buf.Write(a.body)
	_ = h.buf.Flush()
	_ = h.conn.Close()
}
