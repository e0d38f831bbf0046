package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/schemas"
)

func newLoadCmd(a *app) *cobra.Command {
	var noMigrate bool
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load every topic into ClickHouse: batched, idempotent, offsets committed after the insert",
		Long: `Consume the topics (load.topics, default all) in the consumer group load.group,
decode the Avro values, insert them into the raw change tables in batches of
load.batch_rows rows or load.batch_bytes bytes (or what arrived within
load.max_wait) with insert_deduplication_token = topic-partition-first-last,
and commit offsets only after ClickHouse acknowledged. Records that cannot be
decoded or mapped go to <topic>.dlq and the dead_letters table; the other
stages' dead letters on <topic>.dlq are loaded into dead_letters too, and
replayed markers into dead_letters_replayed (see shopstream dlq replay).

Applies the migrations first (see shopstream migrate) unless --no-migrate.
ClickHouse is warehouse.addr over warehouse.protocol, or the embedded
warehouse when warehouse.addr is empty: on warehouse.native_listen over the
native protocol, or on warehouse.listen with protocol http.`,
		Args: cobra.NoArgs,
		RunE: a.configured(func(cmd *cobra.Command, _ []string) error {
			// The process runs only the loader, so its limit is the
			// process's.
			softMemoryLimit(a.cfg.Load.MemoryLimit)
			return a.runStage(cmd.Context(), "load", true, func(p pipeline) ([]supervise.Part, error) {
				part, err := a.loadPart(p, !noMigrate)
				return []supervise.Part{part}, err
			})
		}),
	}
	cmd.Flags().BoolVar(&noMigrate, "no-migrate", false, "do not apply migrations at start")
	return cmd
}

// loadPart is the loader as a supervised part. The options are checked
// here, at start; each incarnation registers the schemas and runs a
// load.Loader, which waits for the warehouse (an outage is not a restart)
// and applies the migrations (with migrate).
func (a *app) loadPart(p pipeline, migrate bool) (supervise.Part, error) {
	cfg := a.cfg
	log := a.log.With().Str(logging.Stage, "load").Logger()
	w := a.warehouse(cfg.Load.MaxInFlight + 2)
	kopts := a.kafkaOpts()
	if cfg.Load.InstanceID != "" {
		kopts = append(kopts, kgo.InstanceID(cfg.Load.InstanceID))
	}
	opts := load.Options{
		Brokers:     p.brokers,
		KafkaOpts:   kopts,
		Group:       cfg.Load.Group,
		Topics:      cfg.Load.Topics,
		TopicPrefix: cfg.Kafka.TopicPrefix,
		HTTP:        w.Protocol == "http",
		BatchRows:   cfg.Load.BatchRows,
		BatchBytes:  cfg.Load.BatchBytes,
		MaxWait:     cfg.Load.MaxWait,
		MaxInFlight: cfg.Load.MaxInFlight,
		Migrate:     migrate,
		Log:         log,
		Metrics:     load.NewMetrics(p.reg),
	}
	if err := opts.Validate(); err != nil {
		return supervise.Part{}, err
	}
	run := func(ctx context.Context) error {
		conn, err := load.Dial(w)
		if err != nil {
			return err
		}
		defer conn.Close()
		serde, err := a.serde(ctx, p.registryURL)
		if err != nil {
			return err
		}
		l, err := load.New(opts, serde, conn)
		if err != nil {
			return err
		}
		defer l.Close()
		return l.Run(ctx)
	}
	return supervise.Part{Name: "load", Runner: supervise.RunnerFunc(run)}, nil
}

// warehouse is how the stages reach ClickHouse: the configured server, or
// the embedded warehouse over warehouse.protocol (HTTP when it serves no
// native port).
func (a *app) warehouse(conns int) load.Warehouse {
	cfg := a.cfg.Warehouse
	w := load.Warehouse{Addr: cfg.Addr, Protocol: cfg.Protocol, Database: cfg.Database,
		User: cfg.User, Password: cfg.Password.Reveal(), MaxOpenConns: conns, TLS: a.warehouseTLS}
	if w.Addr == "" {
		w.Addr, w.TLS = cfg.NativeListen, nil
		if cfg.Protocol == "http" || cfg.NativeListen == "" {
			w.Addr, w.Protocol = cfg.Listen, "http"
		}
	}
	return w
}

// kafkaOpts are the client options every stage shares (authentication,
// fetch wait).
func (a *app) kafkaOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.FetchMaxWait(a.cfg.Kafka.FetchMaxWait)}
	if a.kafkaTLS != nil {
		opts = append(opts, kgo.DialTLSConfig(a.kafkaTLS.Clone()))
	}
	if a.cfg.Kafka.User != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: a.cfg.Kafka.User, Pass: a.cfg.Kafka.Password.Reveal()}.AsMechanism()))
	}
	return opts
}

// clientOpts are the options of a client of brokers: the seeds and
// kafkaOpts.
func (a *app) clientOpts(brokers []string) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, a.kafkaOpts()...)
}

// serde registers the embedded schemas (a no-op when they are) and returns a
// serde over the configured registry.
func (a *app) serde(ctx context.Context, url string) (*schemas.Serde, error) {
	if url == "" {
		return nil, fmt.Errorf("schema_registry.url is required (run starts an in-process registry)")
	}
	client, err := a.registryClient(url)
	if err != nil {
		return nil, err
	}
	reg := schemas.NewRegistry(client)
	if _, err := reg.Register(ctx); err != nil {
		return nil, fmt.Errorf("register schemas: %w", err)
	}
	return reg.Serde(ctx)
}

// registryClient is a client of the schema registry at url, with the
// configured credentials.
func (a *app) registryClient(url string) (*sr.Client, error) {
	cfg := a.cfg.SchemaRegistry
	opts := []sr.ClientOpt{sr.URLs(url)}
	if cfg.User != "" {
		opts = append(opts, sr.BasicAuth(cfg.User, cfg.Password.Reveal()))
	}
	client, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return client, nil
}
