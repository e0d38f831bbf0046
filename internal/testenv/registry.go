package testenv

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/shopstream/shopstream/schemas"
)

// Registry is a schema registry of the test's own (srfake over HTTP, so
// that child processes reach it too) with every schema registered.
type Registry struct {
	URL string
	// Client is a client of the registry at URL.
	Client *sr.Client
	// Serde encodes and decodes with the registered schemas.
	Serde *schemas.Serde
}

// NewRegistry starts t's schema registry, closed when t ends. It needs no
// broker, so tests without Kafka use it for a Serde.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return &Registry{URL: reg.URL(), Client: client, Serde: RegisterAll(t, Context(t), client)}
}

// RegisterAll registers every schema with the registry behind client and
// returns a Serde over them.
func RegisterAll(t testing.TB, ctx context.Context, client *sr.Client) *schemas.Serde {
	t.Helper()
	registry := schemas.NewRegistry(client)
	if _, err := registry.Register(ctx); err != nil {
		t.Fatalf("register schemas: %v", err)
	}
	serde, err := registry.Serde(ctx)
	if err != nil {
		t.Fatalf("serde: %v", err)
	}
	return serde
}

// SerdeAt returns a client of the schema registry at url and a Serde over
// the schemas registered there already: by the run a test started, or by
// the parent of a test's child process.
func SerdeAt(t testing.TB, ctx context.Context, url string) (*sr.Client, *schemas.Serde) {
	t.Helper()
	client, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	serde, err := schemas.NewRegistry(client).Serde(ctx)
	if err != nil {
		t.Fatalf("serde: %v", err)
	}
	return client, serde
}
