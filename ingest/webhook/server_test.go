package webhook

import (
	"context"
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
