package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/load"
)

func newDLQCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "Inspect and re-process dead letters"}
	replay := &cobra.Command{
		Use:   "replay TOPIC",
		Short: "Re-process every dead letter of TOPIC (from TOPIC.dlq) into its raw change table",
		Long: `Read TOPIC.dlq from the beginning to its current end and load every record that
now decodes and maps, with its original partition and offset, into TOPIC's raw
change table. Records already loaded are skipped, so replaying twice is
harmless; records that still fail stay in TOPIC.dlq and are counted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(); err != nil {
				return err
			}
			ctx := cmd.Context()
			w := a.warehouse(2)
			conn, err := load.Open(ctx, w)
			if err != nil {
				return err
			}
			defer conn.Close()
			serde, err := a.serde(ctx, a.cfg.SchemaRegistry.URL)
			if err != nil {
				return err
			}
			st, err := load.ReplayDLQ(ctx, load.ReplayOptions{
				Brokers: a.cfg.Kafka.Brokers, KafkaOpts: a.kafkaOpts(), Topic: args[0], TopicPrefix: a.cfg.Load.TopicPrefix,
				HTTP: w.Protocol == "http", BatchRows: a.cfg.Load.BatchRows,
				Log: a.log.With().Str("stage", "dlq").Logger(),
			}, serde, conn)
			fmt.Fprintf(cmd.OutOrStdout(), "read %d, loaded %d, already loaded %d, still failing %d\n",
				st.Read, st.Loaded, st.AlreadyLoaded, st.StillFailing)
			return err
		},
	}
	cmd.AddCommand(replay)
	return cmd
}
