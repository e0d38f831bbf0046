package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/load"
)

func newMigrateCmd(a *app) *cobra.Command {
	var cluster string
	var print bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the ClickHouse tables (versioned, embedded SQL migrations)",
		Long: `Apply the embedded migrations (load/migrations/NNNN_name.sql) that the
warehouse has not recorded in shopstream_migrations yet, in order. Safe to run
twice and from several processes at once: every statement is idempotent.

--cluster NAME runs every statement ON CLUSTER NAME, with Replicated*MergeTree
tables named <table>_local behind Distributed tables sharded by the entity
key. --print shows the statements without connecting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := load.MigrateOptions{Cluster: cluster}
			out := cmd.OutOrStdout()
			if print {
				migs, err := load.Migrations()
				if err != nil {
					return err
				}
				for _, m := range migs {
					stmts, err := m.Statements(opts)
					if err != nil {
						return fmt.Errorf("%s: %w", m.Name, err)
					}
					fmt.Fprintf(out, "-- %s\n", m.Name)
					for _, s := range stmts {
						fmt.Fprintf(out, "%s;\n\n", s)
					}
				}
				return nil
			}
			if err := a.load(); err != nil {
				return err
			}
			conn, err := load.Open(cmd.Context(), a.warehouse(2))
			if err != nil {
				return err
			}
			defer conn.Close()
			applied, err := load.Migrate(cmd.Context(), conn, opts)
			for _, name := range applied {
				fmt.Fprintln(out, "applied", name)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(out, "up to date")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "run ON CLUSTER this cluster (Replicated and Distributed tables)")
	cmd.Flags().BoolVar(&print, "print", false, "print the statements instead of running them")
	return cmd
}
