package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/ingest/sources"
	"github.com/shopstream/shopstream/internal/status"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/schemas"
)

func newStatusCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the ingest cursors, the stages' consumer lag and what the warehouse holds",
		Long: `Read, without changing anything, where the pipeline stands:

  cursors      every ingest cursor in shopstream.cursors: the window it reached
               and when it moved
  lag          per consumer group (load.group, transform.group) and topic, the
               records not yet processed (transaction markers do not count);
               "no commits yet" for a group that has not started (not an error)
  tables       rows and the newest change (source_ts) of every raw change
               table, and how old that change is
  dead letters what dead_letters_open still lists (every stage's dead
               letters no replay has handled), per topic and stage
  dbt runs     the newest scheduled dbt runs (dbt_runs): status, duration,
               what failed

Kafka is kafka.brokers, or run's embedded broker on kafka.listen; the registry
is schema_registry.url, or run's on schema_registry.listen; the warehouse as
for load. Exits non-zero when a part could not be read (within --timeout).`,
		Args: cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			// A dependency that accepts connections and never answers must
			// not hang the command.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			err := a.status(ctx, cmd.OutOrStdout(), time.Now())
			if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w; gave up after --timeout %s", err, timeout)
			}
			return err
		}),
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
	cfg, err := a.statusConfig()
	if err != nil {
		return err
	}
	r := status.Read(ctx, cfg)
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	unavailable := printReport(tw, r, now)
	fmt.Fprintln(tw, "\nDBT RUN\tSTARTED\tSTATUS\tDURATION\tMODELS OK/FAILED\tTESTS OK/FAILED\tFAILED")
	if err := a.printDbtRuns(ctx, tw); err != nil {
		unavailable = append(unavailable, "dbt runs")
		fmt.Fprintf(tw, "(unavailable: %v)\n", err)
	}
	if len(unavailable) > 0 {
		return fmt.Errorf("status incomplete: %s unavailable (see above)", strings.Join(unavailable, ", "))
	}
	return nil
}

// printReport prints the cursors, lags, tables and open dead letters of r
// and returns the parts that could not be read. A group with no commits
// yet (a fresh start) is said so, and is not a part that failed.
func printReport(tw io.Writer, r status.Report, now time.Time) (unavailable []string) {

	fmt.Fprintln(tw, "CURSOR\tWINDOW END\tPOSITION\tMOVED")
	if r.CursorsErr != nil {
		fmt.Fprintf(tw, "(unavailable: %v)\n", r.CursorsErr)
	} else if len(r.Cursors) == 0 {
		fmt.Fprintln(tw, "(no cursor stored yet)\t\t\t")
	}
	for _, c := range r.Cursors {
		end, pos := "-", c.Position
		if !c.WindowEnd.IsZero() {
			end = c.WindowEnd.UTC().Format(time.RFC3339)
		}
		if pos == "" {
			pos = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Key(), end, clipText(pos, 32), age(now, c.IngestTS)+" ago")
	}

	fmt.Fprintln(tw, "\nGROUP\tTOPIC\tLAG\t")
	if r.LagsErr != nil {
		fmt.Fprintf(tw, "(unavailable: %v)\n", r.LagsErr)
	}
	for _, l := range r.Lags {
		if l.NoCommits {
			fmt.Fprintf(tw, "%s\t-\t-\t(no commits yet)\n", l.Group)
			continue
		}
		note := ""
		if l.Uncommitted > 0 {
			note = fmt.Sprintf("(%d partitions not started)", l.Uncommitted)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", l.Group, l.Topic, l.Lag, note)
	}

	fmt.Fprintln(tw, "\nTABLE\tROWS\tNEWEST CHANGE\tAGE")
	if r.WarehouseErr != nil {
		fmt.Fprintf(tw, "(unavailable: %v)\n", r.WarehouseErr)
	}
	for _, t := range r.Warehouse.Tables {
		if t.Latest.IsZero() {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\n", t.Name, t.Rows)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", t.Name, t.Rows, t.Latest.UTC().Format(time.RFC3339), age(now, t.Latest))
	}
	if r.WarehouseErr == nil {
		fmt.Fprintln(tw, "\nDEAD LETTERS OPEN\tCOUNT\tSTAGE\t")
		if len(r.Warehouse.OpenDeadLetters) == 0 {
			fmt.Fprintln(tw, "(none)\t0\t\t")
		}
		for _, o := range r.Warehouse.OpenDeadLetters {
			fmt.Fprintf(tw, "%s\t%d\t%s\t\n", o.Topic, o.Count, o.Stage)
		}
	}
	return r.Unavailable()
}

// statusConfig says where status (and the page's pipeline view) reads:
// the pipeline's broker and registry (pipelineEndpoints), the warehouse as
// for load.
func (a *app) statusConfig() (status.Config, error) {
	cfg := a.cfg
	brokers, registryURL := a.pipelineEndpoints()
	registry, err := a.registryClient(registryURL)
	if err != nil {
		return status.Config{}, err
	}
	return status.Config{
		KafkaOpts:   a.clientOpts(brokers),
		Registry:    registry,
		CursorTopic: cfg.Kafka.TopicPrefix + schemas.TopicCursors,
		Sources:     sources.Names(),
		Groups:      []string{cfg.Load.Group, cfg.Transform.Group},
		Warehouse: func(ctx context.Context) (status.Querier, func(), error) {
			conn, err := load.Open(ctx, a.warehouse(2))
			if err != nil {
				return nil, nil, err
			}
			return conn, func() { _ = conn.Close() }, nil
		},
	}, nil
}

// printDbtRuns prints the newest scheduled dbt runs (dbt_runs).
func (a *app) printDbtRuns(ctx context.Context, out io.Writer) error {
	conn, err := load.Open(ctx, a.warehouse(1))
	if err != nil {
		return err
	}
	defer conn.Close()
	runs, err := status.DbtRuns(ctx, conn, 5)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintln(out, "(none recorded: set dbt.schedule)\t\t\t\t\t\t")
	}
	for _, r := range runs {
		failed := strings.Join(append(slices.Clone(r.FailedModels), r.FailedTests...), ", ")
		if failed == "" && r.Status != "success" {
			failed = r.Error
		}
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%d/%d\t%d/%d\t%s\n", r.RunID[:min(8, len(r.RunID))], r.StartedAt.UTC().Format(time.RFC3339),
			r.Status, r.Duration.Round(time.Second), r.ModelsOK, r.ModelsFailed, r.TestsOK, r.TestsFailed, clipText(failed, 60))
	}
	return nil
}

// age is how long before now t was, to the second.
func age(now, t time.Time) string { return now.Sub(t).Round(time.Second).String() }

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
