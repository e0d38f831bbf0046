// Package infra starts, or connects to, the infrastructure the stages run on:
// the warehouse, the Kafka brokers and the schema registry.
package infra

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is a Kafka cluster the stages use: a configured one, or an in-process
// franz-go kfake cluster persisted under the data directory.
type Broker struct {
	Seeds   []string
	opts    []kgo.Opt      // authentication, for Ping
	cluster *kfake.Cluster // nil for an external cluster
}

// ExternalBroker is the configured cluster at seeds, reached with opts
// (authentication).
func ExternalBroker(seeds []string, opts ...kgo.Opt) *Broker {
	return &Broker{Seeds: seeds, opts: opts}
}

// InProcess reports whether the broker runs inside this process.
func (b *Broker) InProcess() bool { return b.cluster != nil }

// StartBroker returns the configured brokers after checking that they answer
// (reached with opts), or, with none configured, starts an in-process broker
// on listen that keeps its log in dataDir/kafka. With a user, the in-process
// broker takes only SASL/PLAIN clients that authenticate as user with
// password (opts must carry the same credentials), as a configured cluster
// would; without one it takes any client.
func StartBroker(ctx context.Context, seeds []string, listen, dataDir, user, password string, opts ...kgo.Opt) (*Broker, error) {
	if len(seeds) > 0 {
		b := ExternalBroker(seeds, opts...)
		if err := b.Ping(ctx); err != nil {
			return nil, err
		}
		return b, nil
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("kafka listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("kafka listen port %q: %w", portText, err)
	}
	kopts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.DataDir(filepath.Join(dataDir, "kafka")),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(4),
	}
	if user != "" {
		kopts = append(kopts, kfake.EnableSASL(), kfake.Superuser("PLAIN", user, password))
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka on %s: %w", listen, err)
	}
	return &Broker{Seeds: cluster.ListenAddrs(), opts: opts, cluster: cluster}, nil
}

// Ping checks that the cluster answers a metadata request.
func (b *Broker) Ping(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Seeds...)}, b.opts...)...)
	if err != nil {
		return fmt.Errorf("kafka client for %v: %w", b.Seeds, err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka brokers %v do not answer: %w", b.Seeds, err)
	}
	return nil
}

// Close stops an in-process broker, flushing its log to disk.
func (b *Broker) Close() {
	if b.cluster != nil {
		b.cluster.Close()
	}
}
