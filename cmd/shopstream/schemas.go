package main

import "github.com/spf13/cobra"

func newSchemasCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "schemas", Short: "Manage the Avro schemas of the topics"}
	_ = a
	return cmd
}
