package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/schemas"
)

func newSchemasCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "schemas", Short: "Manage the Avro schemas of the topics"}
	var registryURL string
	check := &cobra.Command{
		Use:   "check",
		Short: "Register every topic's schema; fail on a backward-incompatible change",
		Long: `Register every topic's embedded Avro schema under its subject (<topic>-value),
with BACKWARD compatibility, after asking the registry whether the schema is
compatible with the latest registered version. Exits non-zero, naming every
incompatible subject and the registry's reasons, if any change would break
readers of existing data.

With no registry configured (schema_registry.url), the schemas are checked
against a fresh in-process registry, which proves they parse and register.`,
		Args: cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			url := registryURL
			if url == "" {
				url = a.cfg.SchemaRegistry.URL
			}
			listen := "127.0.0.1:0"
			reg, err := infra.StartRegistry(cmd.Context(), url, listen, a.cfg.SchemaRegistry.User, a.cfg.SchemaRegistry.Password.Reveal())
			if err != nil {
				return err
			}
			defer reg.Close()
			ids, err := a.registerSchemas(cmd.Context(), reg.URL)
			subjects := make([]string, 0, len(ids))
			for s := range ids {
				subjects = append(subjects, s)
			}
			sort.Strings(subjects)
			out := cmd.OutOrStdout()
			for _, s := range subjects {
				fmt.Fprintf(out, "%-45s id %d\n", s, ids[s])
			}
			if err != nil {
				return fmt.Errorf("schema check failed:\n%w", err)
			}
			where := reg.URL
			if reg.InProcess() {
				where = "a fresh in-process registry (no schema_registry.url configured)"
			}
			fmt.Fprintf(out, "%d schemas registered and compatible with %s\n", len(ids), where)
			return nil
		}),
	}
	check.Flags().StringVar(&registryURL, "registry", "", "schema registry URL (default schema_registry.url)")
	cmd.AddCommand(check)
	return cmd
}

// registerSchemas registers every topic's schema with the registry at url
// (with the configured credentials), checking backward compatibility first,
// and returns the id per subject.
func (a *app) registerSchemas(ctx context.Context, url string) (map[string]int, error) {
	client, err := a.registryClient(url)
	if err != nil {
		return nil, err
	}
	return schemas.NewRegistry(client).Register(ctx)
}
