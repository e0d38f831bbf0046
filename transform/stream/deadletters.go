package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
)

// deadLetters is what the inputs' dead-letter topics say about the
// transform's dead letters: which are still open (a rebuild leaves their
// records out) and which were replayed (a request for one is skipped).
type deadLetters struct {
	topics   map[string]bool
	open     map[deadletter.ID]bool
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
	d := &deadLetters{topics: map[string]bool{}, open: map[deadletter.ID]bool{}, replayed: g.Replayed()}
	for _, t := range topics {
		d.topics[t] = true
	}
	for _, l := range g.Letters(deadletter.KindTransform) {
		if id := l.ID(); !d.replayed[id] {
			d.open[id] = true
		}
	}
	return d, nil
}

func (d *deadLetters) isDLQ(topic string) bool { return d.topics[topic] }

// isOpen reports whether input record r is a dead letter not replayed yet.
func (d *deadLetters) isOpen(r *kgo.Record) bool {
	return d.open[deadletter.ID{Stage: deadletter.StageTransform, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}]
}

// replay handles a live record of a dead-letter topic. Only a request to
// replay one of the transform's own dead letters does anything: when its
// record now processes, replay returns its outputs and ok, and the caller
// writes them with the marker of id in the same transaction. A record that
// still cannot be processed leaves its dead letter open. err is an error
// that stops the batch (a registry that cannot be reached).
func (d *deadLetters) replay(ctx context.Context, cfg Config, proc *Processor, r *kgo.Record, stats *batchStats) (out []Output, id deadletter.ID, ok bool, err error) {
	e := deadletter.Parse(r)
	if e.Kind != deadletter.EntryReplayRequest || e.ID.Stage != deadletter.StageTransform {
		return nil, id, false, nil
	}
	log := cfg.Log.With().Str("dead_letter", e.ID.String()).Logger()
	if e.Err != nil {
		stats.replays["failed"]++
		log.Warn().Err(e.Err).Msg("replay request without the dead letter's coordinates; ignored")
		return nil, id, false, nil
	}
	if d.replayed[e.ID] {
		stats.replays["already"]++
		return nil, id, false, nil
	}
	orig := &kgo.Record{Topic: e.ID.Topic, Partition: e.ID.Partition, Offset: e.ID.Offset, Key: r.Key, Value: r.Value}
	out, err = process(ctx, cfg.Serde, proc, strings.TrimPrefix(e.ID.Topic, cfg.TopicPrefix), orig)
	if err != nil {
		var dead deadLetter
		if !errors.As(err, &dead) {
			return nil, id, false, err
		}
		stats.replays["failed"]++
		log.Warn().Err(err).Msg("dead letter replayed and failed again; it stays open")
		return nil, id, false, nil
	}
	// Within this run: the transaction commits it, or the run ends and
	// the next one reads the topics again.
	d.replayed[e.ID] = true
	delete(d.open, e.ID)
	stats.replays["replayed"]++
	return out, e.ID, true, nil
}
