package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/sources"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/load"
)

func newDLQCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and re-process dead letters"}
	replay := &cobra.Command{
		Use:   "replay TOPIC",
		Short: "Re-process every open dead letter of TOPIC (from TOPIC.dlq), each kind by the stage that wrote it",
		Long: `Read TOPIC.dlq from the beginning to its current end and replay its dead
letters, once the cause is fixed (a schema the registry lacked, a parser or
mapping fixed in a new build, an API that sends good data again):

  load       decoded and mapped again and loaded, with their original
             partition and offset, into TOPIC's raw change table; records
             already loaded are skipped
  transform  handed back to the running transform (a replay request on
             TOPIC.dlq), which processes each like a live input and writes
             its outputs with the replayed marker in one transaction
  ingest     parsed again with this build's code, or, when the payload still
             does not parse, fetched again from the API, and written through
             the source stage's transactional writer and change capture with
             the replayed marker

Every replayed dead letter is recorded in dead_letters_replayed, so
dead_letters_open and status list only those still open. Replaying twice is
harmless: what was replayed is not replayed again, and what still fails stays
open and is counted.`,
		Args: cobra.ExactArgs(1),
		RunE: a.configured(func(cmd *cobra.Command, args []string) error {
			return a.replayDLQ(cmd.Context(), cmd.OutOrStdout(), args[0])
		}),
	}
	cmd.AddCommand(replay)
	return cmd
}

// replayDLQ replays the open dead letters of topic, kind by kind, and
// prints a line per kind.
func (a *app) replayDLQ(ctx context.Context, out io.Writer, topic string) error {
	brokers, registryURL := a.pipelineEndpoints()
	kopts := a.clientOpts(brokers)
	log := a.log.With().Str(logging.Stage, "dlq").Str(logging.Topic, topic).Logger()
	w := a.warehouse(2)
	conn, err := load.Open(ctx, w)
	if err != nil {
		return err
	}
	defer conn.Close()
	serde, err := a.serde(ctx, registryURL)
	if err != nil {
		return err
	}

	st, err := load.ReplayDLQ(ctx, load.ReplayOptions{
		Brokers: brokers, KafkaOpts: a.kafkaOpts(), Topic: topic, TopicPrefix: a.cfg.Kafka.TopicPrefix,
		HTTP: w.Protocol == "http", BatchRows: a.cfg.Load.BatchRows, Log: log,
	}, serde, conn)
	fmt.Fprintf(out, "load: read %d, loaded %d, already loaded %d, still failing %d\n",
		st.Read, st.Loaded, st.AlreadyLoaded, st.StillFailing)
	if err != nil {
		return err
	}

	g, err := deadletter.Read(ctx, kopts, deadletter.Topic(a.cfg.Kafka.TopicPrefix+topic))
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	done := g.Replayed()
	open := func(kind string) (open []deadletter.Letter, before int) {
		for _, l := range g.Letters(kind) {
			if done[l.ID()] {
				before++
			} else {
				open = append(open, l)
			}
		}
		return open, before
	}

	// The transform's state lives in the running transform: ask it.
	letters, before := open(deadletter.KindTransform)
	requests := make([]*kgo.Record, len(letters))
	for i, l := range letters {
		requests[i] = deadletter.RequestRecord(l)
	}
	if len(requests) > 0 {
		cl, err := kgo.NewClient(kopts...)
		if err != nil {
			return fmt.Errorf("dlq replay: kafka client: %w", err)
		}
		err = cl.ProduceSync(ctx, requests...).FirstErr()
		cl.Close()
		if err != nil {
			return fmt.Errorf("dlq replay: request the transform's replays: %w", err)
		}
	}
	fmt.Fprintf(out, "transform: requested %d (the running transform replays them; see status), replayed before %d\n", len(requests), before)

	letters, before = open(deadletter.KindIngest)
	ist, err := a.replayIngest(ctx, serde, letters)
	fmt.Fprintf(out, "ingest: replayed %d, nothing left to write %d, still failing %d, replayed before %d\n",
		ist.Replayed, ist.Already, ist.StillFailing, before)
	if err != nil {
		return err
	}
	return load.MarkReplayed(ctx, conn, w.Protocol == "http", ist.Marked)
}

// ingestReplayer is an ingest stage that replays its dead letters.
type ingestReplayer interface {
	Replay(ctx context.Context, letters []deadletter.Letter) (stage.ReplayStats, error)
	Close()
}

// replayIngest replays ingest dead letters through their sources' stages,
// each opened as its own instance (instance "<sources.instance>-dlq-replay"):
// its writer has its own transactional id, so the running stage is not
// fenced, and it shares the stage's change-capture state in
// shopstream.cursors. The webhook receiver's dead letters go to the TikTok
// Shop stage, which fetches the orders they name.
func (a *app) replayIngest(ctx context.Context, serde stage.Serde, letters []deadletter.Letter) (stage.ReplayStats, error) {
	var total stage.ReplayStats
	if len(letters) == 0 {
		return total, nil
	}
	bySource := map[string][]deadletter.Letter{}
	for _, l := range letters {
		src, _ := deadletter.IngestSource(l.Stage)
		bySource[sources.Owner(src)] = append(bySource[sources.Owner(src)], l)
	}
	s, err := a.resolveSources(ctx, false)
	if err != nil {
		return total, err
	}
	if s.Instance == "" {
		s.Instance = "0"
	}
	s.Instance += "-dlq-replay"
	brokers, _ := a.pipelineEndpoints()
	k := a.kafkaWith(brokers, serde)
	for _, name := range slices.Sorted(maps.Keys(bySource)) {
		ls := bySource[name]
		src, ok := sources.Lookup(name)
		if !ok || !src.Configured(s) {
			total.StillFailing += len(ls)
			a.log.Warn().Str(logging.Source, name).Int("dead_letters", len(ls)).
				Msg("dead letters of a source that is not configured (sources." + name + "); they stay open")
			continue
		}
		st, err := src.Stage(s, sources.Env{Kafka: k, Log: a.log})
		if err != nil {
			return total, fmt.Errorf("dlq replay: %w", err)
		}
		r, err := openReplayer(ctx, st.Open)
		if err != nil {
			return total, fmt.Errorf("dlq replay: %s stage: %w", name, err)
		}
		res, err := r.Replay(ctx, ls)
		r.Close()
		if err != nil {
			return total, fmt.Errorf("dlq replay: %w", err)
		}
		for id, err := range res.Failures {
			a.log.Warn().Str(logging.Stage, "dlq").Str("dead_letter", id.String()).Err(err).Msg("dead letter still fails; it stays open")
		}
		total.Replayed += res.Replayed
		total.Already += res.Already
		total.StillFailing += res.StillFailing
		total.Marked = append(total.Marked, res.Marked...)
	}
	return total, nil
}
func openReplayer(ctx context.Context, open func(context.Context) (stage.Stepper, error)) (ingestReplayer, error) {
	st, err := open(ctx)
	if err != nil {
		return nil, err
	}
	r, ok := st.(ingestReplayer)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("%T cannot replay dead letters", st)
	}
	return r, nil
}
