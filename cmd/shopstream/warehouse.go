package main

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shopstream/shopstream/internal/warehouse"
)

func newWarehouseCmd(a *app) *cobra.Command {
	var listen, dataDir string
	cmd := &cobra.Command{
		Use:   "warehouse",
		Short: "Serve the ClickHouse HTTP interface over the embedded ClickHouse engine (chDB)",
		Long: `Serve the ClickHouse HTTP interface (port 8123) over the embedded ClickHouse
engine, with a persistent data directory, so clickhouse-go, dbt-clickhouse,
curl and BI tools can use it as a ClickHouse server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if listen == "" {
				listen = a.cfg.Warehouse.Listen
			}
			if dataDir == "" {
				dataDir = filepath.Join(a.cfg.DataDir, "warehouse")
			}
			engine, err := openEngine(dataDir)
			if err != nil {
				return err
			}
			defer engine.Close()
			srv, err := warehouse.NewServer(engine, warehouse.Options{
				MaxBodyBytes:   a.cfg.Warehouse.MaxBodyBytes,
				MaxMemoryUsage: a.cfg.Warehouse.MaxMemoryUsage,
				TempDir:        dataDir,
				Logger:         a.log.With().Str("stage", "warehouse").Logger(),
				Credentials:    warehouse.Credentials{User: a.cfg.Warehouse.User, Password: a.cfg.Warehouse.Password.Reveal()},
			})
			if err != nil {
				return fmt.Errorf("start warehouse: %w", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("warehouse listen: %w", err)
			}
			a.log.Info().Str("stage", "warehouse").Str("listen", ln.Addr().String()).Str("data", dataDir).
				Str("clickhouse", srv.Version()).Msg("warehouse serving")
			return srv.Serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve on (default warehouse.listen, 127.0.0.1:8123)")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory (default <data_dir>/warehouse)")
	return cmd
}
