// Command shopstream runs the shopstream pipeline: any stage on its own, or all
// of them in one process on embedded infrastructure (`shopstream run`).
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rs/zerolog"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shopstream:", err)
		os.Exit(1)
	}
}

// app holds what every subcommand shares: the loaded config and the logger.
type app struct {
	configPath string
	cfg        *config.Config
	log        zerolog.Logger
	// TLS client configurations of the brokers and the warehouse, nil
	// without TLS; built once from the validated config.
	kafkaTLS, warehouseTLS *tls.Config
}

// configured is the RunE of a command that needs the configuration: it
// loads it (failing on any problem) before run.
func (a *app) configured(run func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := a.load(); err != nil {
			return err
		}
		return run(cmd, args)
	}
}

// load reads the config once, before a subcommand that needs it runs.
func (a *app) load() error {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	a.cfg = cfg
	a.log = logging.New(cfg.Log.Level, cfg.Log.Format)
	for _, w := range cfg.Warnings {
		a.log.Warn().Msg(w)
	}
	// Validation read the CA files already; a failure here is one that
	// appeared since, and is reported the same way.
	if a.kafkaTLS, err = cfg.Kafka.TLSConfig(); err != nil {
		return fmt.Errorf("invalid configuration:\nkafka.tls_ca_file: %w", err)
	}
	if a.warehouseTLS, err = cfg.Warehouse.TLSConfig(); err != nil {
		return fmt.Errorf("invalid configuration:\nwarehouse.tls_ca_file: %w", err)
	}
	return nil
}

func newRootCmd() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:           "shopstream",
		Short:         "Change-data-capture from Amazon and TikTok Shop into ClickHouse, joined per product",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", os.Getenv("SHOPSTREAM_CONFIG"),
		"YAML config file (env SHOPSTREAM_CONFIG); SHOPSTREAM_* variables override it")
	root.AddCommand(
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, _ []string) {
				fmt.Fprintln(cmd.OutOrStdout(), "shopstream", version, "(embedded warehouse: "+embeddedWarehouse+")")
			},
		},
		newConfigCmd(a),
		newWarehouseCmd(a),
		newRunCmd(a),
		newSchemasCmd(a),
		newLoadCmd(a),
		newMigrateCmd(a),
		newDLQCmd(a),
		newStatusCmd(a),
		newDbtCmd(a),
		newTransformCmd(a),
		newSimCmd(),
		newIngestCmd(a),
		newBackfillCmd(a),
		newUICmd(a),
		newExportCmd(a),
	)
	return root
}

// softMemoryLimit sets the Go heap's soft limit (runtime/debug) of a
// command that runs one stage: limit bytes, unless it is 0 (none) or the
// environment sets GOMEMLIMIT, which wins.
func softMemoryLimit(limit int64) {
	if limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}
