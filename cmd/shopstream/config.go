package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate",
		Short: "Validate the config file and environment, reporting every problem; print the result with secrets redacted",
		Args:  cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			out, err := json.MarshalIndent(a.cfg, "", "  ")
			if err != nil {
				return fmt.Errorf("print config: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\nconfig OK\n", out)
			return nil
		}),
	})
	return cmd
}
