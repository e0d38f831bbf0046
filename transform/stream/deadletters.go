package stream

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
)

// deadLetters is what the inputs' dead-letter topics say about the
// transform's dead letters: which were replayed (a request for one is
// skipped). An open dead letter needs nothing: its input record is below
// the committed offsets and never processed again, unless replayed.
type deadLetters struct {
	topics   map[string]bool
	replayed map[deadletter.ID]bool
}

// dlqTopics returns the dead-letter topics of topics.
func dlqTopics(topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = deadletter.Topic(t)
	}
	return out
}

// readDeadLetters reads the dead-letter topics to their ends.
func readDeadLetters(ctx context.Context, cfg Config, topics []string) (*deadLetters, error) {
	g, err := deadletter.Read(ctx, append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.ClientOpts...), topics...)
	if err != nil {
		return nil, fmt.Errorf("stream: dead letters: %w", err)
	}
	d := &deadLetters{topics: map[string]bool{}, replayed: g.Replayed()}
	for _, t := range topics {
		d.topics[t] = true
	}
	return d, nil
}

func (d *deadLetters) isDLQ(topic string) bool { return d.topics[topic] }
