package infra

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Registry is a Confluent-compatible schema registry: a configured one, or
// franz-go's srfake served in process.
type Registry struct {
	URL            string
	user, password string // basic auth of a configured registry
	srv            *http.Server
}

// ExternalRegistry is the configured registry at url, reached with basic
// auth when user is set.
func ExternalRegistry(url, user, password string) *Registry {
	return &Registry{URL: url, user: user, password: password}
}

// InProcess reports whether the registry runs inside this process.
func (r *Registry) InProcess() bool { return r.srv != nil }

// StartRegistry returns the configured registry after checking that it
// answers (with basic auth when user is set), or, with none configured,
// serves an in-process one on listen, which with a user answers only
// requests that carry user and password as basic auth.
// The in-process registry keeps schemas in memory; stages register theirs at
// start, in a fixed order, so ids are stable across restarts.
func StartRegistry(ctx context.Context, url, listen, user, password string) (*Registry, error) {
	if url != "" {
		r := ExternalRegistry(url, user, password)
		if err := r.Ping(ctx); err != nil {
			return nil, err
		}
		return r, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("listen for in-process schema registry: %w", err)
	}
	h := srfake.NewRegistry().Handler()
	if user != "" {
		h = basicAuth(h, user, password)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Registry{URL: "http://" + ln.Addr().String(), user: user, password: password, srv: srv}, nil
}

// Ping checks that the registry answers.
func (r *Registry) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/subjects", nil)
	if err != nil {
		return fmt.Errorf("schema registry %s: %w", r.URL, err)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("schema registry %s does not answer: %w", r.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("schema registry %s answered %s", r.URL, resp.Status)
	}
	return nil
}

// Close stops an in-process registry.
func (r *Registry) Close() {
	if r.srv != nil {
		if err := r.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}
}

// basicAuth answers 401, as Confluent's registry does, to a request without
// user and password as basic auth; the comparison takes the same time
// whatever the credentials sent.
func basicAuth(next http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		okUser := subtle.ConstantTimeCompare([]byte(u), []byte(user))
		okPass := subtle.ConstantTimeCompare([]byte(p), []byte(password))
		if !ok || okUser&okPass != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="schema registry"`)
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error_code":40101,"message":"Unauthorized"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}
