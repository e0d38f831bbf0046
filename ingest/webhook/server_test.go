package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestServerLifecycle: Run serves Path on its address until its context
// ends and then returns nil; Run again serves again (a restarted
// incarnation); a Run that cannot listen returns an error (restart me);
// NewServer rejects a config without a handler.
func TestServerLifecycle(t *testing.T) {
	if _, err := NewServer(ServerConfig{}); err == nil {
		t.Fatal("a server without a handler was accepted")
	}
	h, err := NewHandler(Config{AppKey: "key", AppSecret: secret.Secret("app-secret"), Writer: &memWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	s, err := NewServer(ServerConfig{Listen: addr, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	for incarnation := 1; incarnation <= 2; incarnation++ {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		// An unsigned delivery reaches the handler, which refuses it.
		var resp *http.Response
		for {
			resp, err = http.Post("http://"+addr+Path, "application/json", strings.NewReader(`{}`))
			if err == nil {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("incarnation %d stopped: %v", incarnation, err)
			case <-time.After(10 * time.Millisecond): // the listener is not up yet
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("incarnation %d: unsigned delivery answered %d", incarnation, resp.StatusCode)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("incarnation %d: Run after cancel = %v, want nil", incarnation, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("Run on a taken address = %v, want a listen error", err)
	}
}

// serve runs NewServer with h and cfg on a loopback port until the test
// ends, and returns the address once it listens.
func serve(t *testing.T, h http.Handler, cfg ServerConfig) string {
	t.Helper()
	listening := make(chan string, 1)
	cfg.Listen, cfg.Handler, cfg.OnListen = "127.0.0.1:0", h, func(addr string) { listening <- addr }
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := testenv.RunUntilCleanup(t, "webhook server", srv.Run)
	select {
	case addr := <-listening:
		return addr
	case <-stopped:
		t.Fatal("server stopped before it listened")
		return ""
	}
}

// closedByServer waits until the server closes conn, reading whatever it
// answers first, and returns that. The deadline only bounds a failing
// test: the server's own timeout ends a passing one.
func closedByServer(t *testing.T, conn net.Conn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still holds the connection of a stalled client after a minute (read %q)", b)
	}
	return string(b)
}

// stalledClient connects to addr, sends the start of a request (format,
// with the path and the host) and stalls; the connection is closed when the
// test ends.
func stalledClient(t *testing.T, addr, format string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, format, Path, addr); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSlowLorisIsCutOff: a client that sends part of its headers and
// stalls, and one that sends its headers and then stalls in the body, are
// both disconnected by the server within its configured timeouts (here a
// few hundred milliseconds); the stalled body ends the handler (counted,
// nothing stored), and a well-behaved delivery is served meanwhile.
func TestSlowLorisIsCutOff(t *testing.T) {
	h, mw, _ := newTestHandler(t)
	addr := serve(t, h, ServerConfig{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond})

	// Headers never finished.
	headers := stalledClient(t, addr, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n")
	// Headers complete, body stalled after a few bytes.
	body := stalledClient(t, addr, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: 00\r\nContent-Length: 1000\r\n\r\n{\"type\":1,")

	// Meanwhile a real delivery is answered.
	ok := []byte(`{"type":1,"tts_notification_id":"7327112393057371999","shop_id":"7494049642642441621","timestamp":1644412885,"data":{}}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+Path, strings.NewReader(string(ok)))
	req.Header.Set("Authorization", Signature(testKey, []byte(testSecret), ok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delivery next to stalled clients: %s", resp.Status)
	}

	if got := closedByServer(t, headers); got != "" && !strings.HasPrefix(got, "HTTP/1.1 408") {
		t.Errorf("stalled headers answered %q", got)
	}
	got := closedByServer(t, body)
	if got != "" {
		if st, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil); err != nil || st.StatusCode != http.StatusBadRequest {
			t.Errorf("stalled body answered %q", got)
		}
	}
	// The handler gave up on the body: counted, and nothing stored but
	// the real delivery.
	if n := counterValue(t, h.requests.WithLabelValues(Source, OutcomeMalformed)); n != 1 {
		t.Errorf("the stalled body was counted %v times as unreadable, want 1", n)
	}
	if mw.count() != 1 {
		t.Errorf("%d records stored, want the one real delivery", mw.count())
	}
}

// TestServerDefaults: every timeout is set when the config leaves it
// zero, so that no receiver runs with Go's unlimited defaults.
func TestServerDefaults(t *testing.T) {
	s, err := NewServer(ServerConfig{Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	if c.ReadHeaderTimeout <= 0 || c.ReadTimeout <= 0 || c.WriteTimeout <= 0 || c.IdleTimeout <= 0 || c.MaxHeaderBytes != MaxHeaderBytes {
		t.Fatalf("server without a bound: %+v", c)
	}
}

// TestRememberedEventIsNotStoredAgain: ids primed with Remember (the
// events a previous incarnation stored) make a redelivery a duplicate.
func TestRememberedEventIsNotStoredAgain(t *testing.T) {
	h, mw, _ := newTestHandler(t)
	h.Remember("7327112393057371910")
	body := []byte(`{"type":1,"tts_notification_id":"7327112393057371910","timestamp":1644412885,"data":{}}`)
	if rec := post(h, body, Signature(testKey, []byte(testSecret), body)); rec.Code != http.StatusOK {
		t.Fatalf("redelivery answered %d", rec.Code)
	}
	if mw.count() != 0 || counterValue(t, h.requests.WithLabelValues(Source, OutcomeDuplicate)) != 1 {
		t.Fatalf("a remembered event was stored again (%d records)", mw.count())
	}
}
