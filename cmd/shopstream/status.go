package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/schemas"
)

// statusSources are the sources whose cursors status prints (the webhook
// receiver shares tiktokshop's).
var statusSources = []string{"amazon", "tiktokshop", "tiktokbiz"}

func newStatusCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the ingest cursors, the stages' consumer lag and what the warehouse holds",
		Long: `Read, without changing anything, where the pipeline stands:

  cursors      every ingest cursor in shopstream.cursors: the window it reached
               and when it moved
  lag          per consumer group (load.group, transform.group) and topic, the
               records not yet processed (transaction markers do not count)
  tables       rows and the newest change (source_ts) of every raw change
               table, and how old that change is
  dead letters what dead_letters_open still lists (every stage's dead
               letters no replay has handled), per topic and stage

Kafka is kafka.brokers, or run's embedded broker on kafka.listen; the registry
is schema_registry.url, or run's on schema_registry.listen; the warehouse as
for load. Exits non-zero when a part could not be read (within --timeout).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			// A dependency that accepts connections and never answers must
			// not hang the command.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			err := a.status(ctx, cmd.OutOrStdout(), time.Now())
			if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w; gave up after --timeout %s", err, timeout)
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up on what has not answered by then")
	return cmd
}

// pipelineEndpoints are the broker and registry of the pipeline that a
// command reads: the configured ones, or run's embedded ones.
func (a *app) pipelineEndpoints() (brokers []string, registryURL string) {
	cfg := a.cfg
	brokers = cfg.Kafka.Brokers
	if len(brokers) == 0 {
		brokers = []string{cfg.Kafka.Listen}
	}
	registryURL = cfg.SchemaRegistry.URL
	if registryURL == "" {
		registryURL = "http://" + cfg.SchemaRegistry.Listen
	}
	return brokers, registryURL
}

func (a *app) status(ctx context.Context, out io.Writer, now time.Time) error {
	cfg := a.cfg
	brokers, registryURL := a.pipelineEndpoints()
	kopts := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, a.kafkaOpts()...)
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	var unavailable []string

	fmt.Fprintln(tw, "CURSOR\tWINDOW END\tPOSITION\tMOVED")
	if err := a.printCursors(ctx, tw, kopts, registryURL, now); err != nil {
		unavailable = append(unavailable, "cursors")
		fmt.Fprintf(tw, "(unavailable: %v)\n", err)
	}

	fmt.Fprintln(tw, "\nGROUP\tTOPIC\tLAG\t")
	lags, err := status.Lags(ctx, kopts, cfg.Load.Group, cfg.Transform.Group)
	if err != nil {
		unavailable = append(unavailable, "lag")
		fmt.Fprintf(tw, "(unavailable: %v)\n", err)
	}
	for _, l := range lags {
		note := ""
		if l.Uncommitted > 0 {
			note = fmt.Sprintf("(%d partitions not started)", l.Uncommitted)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", l.Group, l.Topic, l.Lag, note)
	}

	fmt.Fprintln(tw, "\nTABLE\tROWS\tNEWEST CHANGE\tAGE")
	w, err := a.readWarehouse(ctx)
	if err != nil {
		unavailable = append(unavailable, "tables")
		fmt.Fprintf(tw, "(unavailable: %v)\n", err)
	}
	for _, t := range w.Tables {
		if t.Latest.IsZero() {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\n", t.Name, t.Rows)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", t.Name, t.Rows, t.Latest.UTC().Format(time.RFC3339), age(now, t.Latest))
	}
	if err == nil {
		fmt.Fprintln(tw, "\nDEAD LETTERS OPEN\tCOUNT\tSTAGE\t")
		if len(w.OpenDeadLetters) == 0 {
			fmt.Fprintln(tw, "(none)\t0\t\t")
		}
		for _, o := range w.OpenDeadLetters {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\n", o.Topic, o.Count, o.Stage)
		}
	}
	if len(unavailable) > 0 {
		return fmt.Errorf("status incomplete: %s unavailable (see above)", strings.Join(unavailable, ", "))
	}
	return nil
}

func (a *app) printCursors(ctx context.Context, out io.Writer, kopts []kgo.Opt, registryURL string, now time.Time) error {
	client, err := a.registryClient(registryURL)
	if err != nil {
		return err
	}
	serde, err := schemas.NewRegistry(client).Serde(ctx, schemas.TopicCursors)
	if err != nil {
		return err
	}
	cs, err := status.Cursors(ctx, cursor.LoadConfig{ClientOpts: kopts, Topic: a.cfg.Kafka.TopicPrefix + schemas.TopicCursors, Decoder: serde}, statusSources...)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		fmt.Fprintln(out, "(no cursor stored yet)\t\t\t")
	}
	for _, c := range cs {
		end, pos := "-", c.Position
		if !c.WindowEnd.IsZero() {
			end = c.WindowEnd.UTC().Format(time.RFC3339)
		}
		if pos == "" {
			pos = "-"
		}
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", c.Key(), end, clipText(pos, 32), age(now, c.IngestTS)+" ago")
	}
	return nil
}

func (a *app) readWarehouse(ctx context.Context) (status.Warehouse, error) {
	conn, err := load.Open(ctx, a.warehouse(2))
	if err != nil {
		return status.Warehouse{}, err
	}
	defer conn.Close()
	return status.ReadWarehouse(ctx, conn)
}

// age is how long before now t was, to the second.
func age(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() }

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
