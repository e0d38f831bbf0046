package infra

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestInProcessBrokerEnforcesUser: with kafka.user set, run's in-process
// broker refuses a client without SASL and one with a wrong password, and
// takes the configured user, as a configured cluster would.
func TestInProcessBrokerEnforcesUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	auth := func(user, pass string) kgo.Opt {
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
	}
	b, err := StartBroker(ctx, nil, freeAddr(t), t.TempDir(), "shop", "k-pass-0123", auth("shop", "k-pass-0123"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("the configured user: %v", err)
	}
	for name, opts := range map[string][]kgo.Opt{
		"no SASL":        nil,
		"wrong password": {auth("shop", "k-pass-0124")},
		"wrong user":     {auth("admin", "k-pass-0123")},
	} {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := ExternalBroker(b.Seeds, opts...).Ping(pctx)
		cancel()
		if err == nil {
			t.Errorf("%s: the broker answered", name)
		} else if strings.Contains(err.Error(), "k-pass-0123") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}

// TestInProcessRegistryEnforcesUser: with schema_registry.user set, run's
// in-process registry answers 401 without basic auth or with a wrong
// password, and serves the configured user.
func TestInProcessRegistryEnforcesUser(t *testing.T) {
	ctx := context.Background()
	r, err := StartRegistry(ctx, "", freeAddr(t), "shop", "r-pass-0123")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("the configured user: %v", err)
	}
	for _, c := range []struct{ name, user, pass string }{{"none", "", ""}, {"wrong password", "shop", "r-pass-0124"}, {"wrong user", "admin", "r-pass-0123"}} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/subjects", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %s, want 401", c.name, resp.Status)
		}
	}
	if err := ExternalRegistry(r.URL, "shop", "nope").Ping(ctx); err == nil {
		t.Error("a wrong password pinged the registry")
	}
}
