package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/logging"
	"github.com/shopstream/shopstream/internal/supervise"
)

// pipeline is where this process's stages find Kafka and the schema
// registry, and where their metrics go: `ingest`, `transform` and `load`
// read it from the config, `run` from the infrastructure it started.
type pipeline struct {
	brokers     []string
	registryURL string
	reg         *prometheus.Registry
}

// runStage is the one preamble of the stage commands (ingest, transform,
// load): it checks that the brokers and the registry are configured, serves
// /metrics, /healthz and /readyz on metrics.listen (ready while Kafka, the
// registry and, with warehouse, the warehouse answer), builds the command's
// parts and runs them under the supervisor until ctx ends.
func (a *app) runStage(ctx context.Context, name string, warehouse bool, build func(pipeline) ([]supervise.Part, error)) error {
	p, err := a.configuredPipeline(name)
	if err != nil {
		return err
	}
	p.reg = prometheus.NewRegistry()
	addr, stop, err := serveOps(a.cfg.Metrics.Listen, a.stageChecks(p.brokers, p.registryURL, warehouse), p.reg)
	if err != nil {
		return err
	}
	defer stop()
	a.log.Info().Str(logging.Stage, name).Str("metrics", addr).Msg("serving metrics")
	parts, err := build(p)
	if err != nil {
		return err
	}
	sup, err := a.supervisor(p.reg)
	if err != nil {
		return err
	}
	sup.Start(ctx, parts...)
	sup.Wait()
	return nil
}

// configuredPipeline is the pipeline of the configured brokers and registry
// for the command name, which runs without run's embedded ones: an error
// when either is not configured.
func (a *app) configuredPipeline(name string) (pipeline, error) {
	cfg := a.cfg
	if len(cfg.Kafka.Brokers) == 0 || cfg.SchemaRegistry.URL == "" {
		return pipeline{}, fmt.Errorf("%s needs kafka.brokers and schema_registry.url (set %s and %s; run starts both in process)",
			name, config.EnvName("kafka.brokers"), config.EnvName("schema_registry.url"))
	}
	return pipeline{brokers: cfg.Kafka.Brokers, registryURL: cfg.SchemaRegistry.URL}, nil
}

// supervisor returns the supervisor of this process's parts, its restarts
// counted in reg.
func (a *app) supervisor(reg prometheus.Registerer) (*supervise.Supervisor, error) {
	m, err := supervise.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return supervise.New(a.log, m, supervise.Policy{}), nil
}

// stageKafka is how the ingest stages reach Kafka: the brokers with the
// configured authentication, the embedded schemas registered, the topic
// prefix.
func (a *app) stageKafka(ctx context.Context, p pipeline) (stage.Kafka, error) {
	serde, err := a.serde(ctx, p.registryURL)
	if err != nil {
		return stage.Kafka{}, err
	}
	return a.kafkaWith(p.brokers, serde), nil
}

// kafkaWith is stageKafka with the serde at hand.
func (a *app) kafkaWith(brokers []string, serde stage.Serde) stage.Kafka {
	return stage.Kafka{ClientOpts: a.clientOpts(brokers), Serde: serde,
		Prefix: a.cfg.Kafka.TopicPrefix, InputRetention: a.cfg.Kafka.InputRetention}
}
