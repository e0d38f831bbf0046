package main

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/warehouse"
)

func newWarehouseCmd(a *app) *cobra.Command {
	var listen, nativeListen, dataDir string
	cmd := &cobra.Command{
		Use:   "warehouse",
		Short: "Serve the ClickHouse HTTP interface and native protocol over the embedded ClickHouse engine (chDB)",
		Long: `Serve the ClickHouse HTTP interface (port 8123) and the native TCP protocol
(port 9000) over the embedded ClickHouse engine, with a persistent data
directory, so clickhouse-go, clickhouse-driver, dbt-clickhouse, curl and BI
tools can use it as a ClickHouse server.`,
		Args: cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = a.cfg.Warehouse.Listen
			}
			if !cmd.Flags().Changed("native-listen") {
				nativeListen = a.cfg.Warehouse.NativeListen
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
				MaxBodyBytes:          a.cfg.Warehouse.MaxBodyBytes,
				MaxMemoryUsage:        a.cfg.Warehouse.MaxMemoryUsage,
				TempDir:               dataDir,
				Logger:                a.log.With().Str("stage", "warehouse").Logger(),
				Credentials:           warehouse.Credentials{User: a.cfg.Warehouse.User, Password: a.cfg.Warehouse.Password.Reveal()},
				IdleConnectionTimeout: a.cfg.Warehouse.IdleConnectionTimeout,
			})
			if err != nil {
				return fmt.Errorf("start warehouse: %w", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("warehouse listen: %w", err)
			}
			g, ctx := errgroup.WithContext(cmd.Context())
			ev := a.log.Info().Str("stage", "warehouse").Str("listen", ln.Addr().String())
			if nativeListen != "" {
				nln, err := net.Listen("tcp", nativeListen)
				if err != nil {
					_ = ln.Close()
					return fmt.Errorf("warehouse native listen: %w", err)
				}
				ev = ev.Str("native_listen", nln.Addr().String())
				g.Go(func() error { return srv.ServeNative(ctx, nln) })
			}
			ev.Str("data", dataDir).Str("clickhouse", srv.Version()).Msg("warehouse serving")
			// Serve closes the server's sessions when it returns, so it
			// returns last.
			g.Go(func() error { return srv.Serve(ctx, ln) })
			return g.Wait()
		}),
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to serve HTTP on (default warehouse.listen, 127.0.0.1:8123)")
	cmd.Flags().StringVar(&nativeListen, "native-listen", "", "address to serve the native protocol on; empty: none (default warehouse.native_listen, 127.0.0.1:9000)")
	cmd.Flags().StringVar(&dataDir, "data", "", "data directory (default <data_dir>/warehouse)")
	return cmd
}
