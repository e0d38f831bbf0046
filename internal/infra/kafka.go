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
	cluster *kfake.Cluster // nil for an external cluster
}

// InProcess reports whether the broker runs inside this process.
func (b *Broker) InProcess() bool { return b.cluster != nil }

// StartBroker returns the configured brokers after checking that they answer,
// or, with none configured, starts an in-process broker on listen that keeps
// its log in dataDir/kafka.
func StartBroker(ctx context.Context, seeds []string, listen, dataDir string) (*Broker, error) {
	if len(seeds) > 0 {
		b := &Broker{Seeds: seeds}
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
	cluster, err := kfake.NewCluster(
		kfake.Ports(port),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.DataDir(filepath.Join(dataDir, "kafka")),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(4),
	)
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka on %s: %w", listen, err)
	}
	return &Broker{Seeds: cluster.ListenAddrs(), cluster: cluster}, nil
}

// Ping checks that the cluster answers a metadata request.
func (b *Broker) Ping(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Seeds...))
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
