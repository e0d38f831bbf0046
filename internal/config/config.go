// Package config loads shopstream's configuration: one YAML file, then
// SHOPSTREAM_* environment variables, validated with every problem reported
// at once. Secrets come only from the environment or from files.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // transform.time_zone must validate on machines without a zoneinfo database

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/rs/zerolog"

	"github.com/shopstream/shopstream/internal/dbtrun"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/transform/state"
	"github.com/shopstream/shopstream/transform/stream"
)

// EnvPrefix starts every environment variable that sets a config key: the key
// in upper case with dots as underscores, e.g. SHOPSTREAM_KAFKA_BROKERS.
const EnvPrefix = "SHOPSTREAM_"

// Config is the whole configuration.
type Config struct {
	// DataDir holds the embedded warehouse, the in-process broker's log and other local state.
	DataDir        string         `koanf:"data_dir"`
	Log            Log            `koanf:"log"`
	Warehouse      Warehouse      `koanf:"warehouse"`
	Kafka          Kafka          `koanf:"kafka"`
	SchemaRegistry SchemaRegistry `koanf:"schema_registry"`
	Metrics        Metrics        `koanf:"metrics"`
	Load           Loader         `koanf:"load"`
	Transform      Transform      `koanf:"transform"`
	Sources        Sources        `koanf:"sources"`
	UI             UI             `koanf:"ui"`
	Dbt            Dbt            `koanf:"dbt"`

	// Warnings are what Load accepted but the operator should change
	// (deprecated keys); the commands log them.
	Warnings []string `json:"-" koanf:"-"`
}

// Dbt configures scheduled dbt runs inside `run` (package internal/dbtrun).
type Dbt struct {
	// Schedule is an interval ("15m") or a cron expression ("0 */6 * * *",
	// UTC unless it starts with CRON_TZ=zone); empty: dbt is not scheduled.
	Schedule string `koanf:"schedule"`
	// Bin is the dbt executable (a bare name is looked up on PATH).
	Bin string `koanf:"bin"`
	// ProjectDir holds dbt_project.yml; ProfilesDir profiles.yml (empty: ProjectDir).
	ProjectDir  string `koanf:"project_dir"`
	ProfilesDir string `koanf:"profiles_dir"`
	// Args are dbt's arguments (default: build).
	Args []string `koanf:"args"`
	// Schema is the database the models are built in (DBT_CLICKHOUSE_SCHEMA).
	Schema string `koanf:"schema"`
	// CatchUpTimeout bounds the wait for the loader's lag to reach 0
	// before a run; a run that waited longer is recorded as skipped.
	CatchUpTimeout time.Duration `koanf:"catch_up_timeout"`
	// Timeout bounds one dbt run.
	Timeout time.Duration `koanf:"timeout"`
}

// Transform configures the transform stage (shopstream transform): identity
// resolution and the join per product and day.
type Transform struct {
	// TimeZone is the IANA zone whose calendar days key the joined rows.
	TimeZone string `koanf:"time_zone"`
	// Attribution credits a video's figures to the products it shows:
	// full (each product gets all of it) or even (split among them).
	Attribution string `koanf:"attribution"`
	// MappingFile is the explicit product mapping (CSV, see package
	// transform/identity); empty for none.
	MappingFile string `koanf:"mapping_file"`
	// Group is the consumer group of every instance of the stage (and the
	// prefix of its internal topics); instances of one group share the work.
	Group string `koanf:"group"`
	// InstanceID names this process among the group's instances (its static
	// group membership): stable across restarts, so a restarted instance
	// gets its tasks back and restores them from its local state. Empty:
	// the host name (a StatefulSet pod's name).
	InstanceID string `koanf:"instance_id"`
	// Threads is the number of stream threads of the process, each a
	// member of the group with its own tasks, state and transactions
	// (<instance_id>-<n> when more than one).
	Threads int `koanf:"threads"`
	// StateDir holds the local task stores, one directory per thread;
	// empty: <data_dir>/transform.
	StateDir string `koanf:"state_dir"`
	// CacheMB bounds the memory of each thread's stores (value cache,
	// key filter, block cache, memtables), in MiB.
	CacheMB int `koanf:"cache_mb"`
	// Partitions of the internal topics: the most threads that share the
	// join's work. Fixed when the group first runs.
	Partitions int `koanf:"partitions"`
	// MemoryLimit is the memory of `shopstream transform`, in bytes: the
	// Go heap's soft limit (as GOMEMLIMIT, which wins when set) is this
	// less what the stores keep outside the heap (state.OffHeapBytes of
	// CacheMB per thread: 112 MiB at the default 128); 0 for none. It is
	// a plan, not a cap: pebble's flush and compaction buffers and the Go
	// runtime's own memory come on top (the production binary's catch-up
	// in the restart benchmark peaked at 423 MiB under the default), so a
	// container's limit wants some 15 % more.
	MemoryLimit int64 `koanf:"memory_limit"`
	// MaxTransactionRelinks is the most entities a thread recomputes in
	// one transaction when links change (a relink of more is spread over
	// several): it bounds a transaction's memory and duration.
	MaxTransactionRelinks int `koanf:"max_transaction_relinks"`
	// MaxTransactionRecords is the most input records a thread consumes
	// in one transaction (fewer while transactions are slow): a backlog is
	// worked off in short transactions that end well within the
	// transaction timeout.
	MaxTransactionRecords int `koanf:"max_transaction_records"`
	// TransactionalID, when set, is the thread's transactional id
	// (<transactional_id>-<n> with several threads); empty:
	// <group>-<instance>. It must stay the same across restarts, so a
	// restarted instance fences the transactions of the one it replaces.
	TransactionalID string `koanf:"transactional_id"`
}

// Loader configures the load stage (shopstream load): how it batches and how
// much it keeps in flight.
type Loader struct {
	// Group is the Kafka consumer group of the loaders.
	Group string `koanf:"group"`
	// InstanceID, when set, makes this loader a static group member
	// (KIP-345): restarted with the same id (a StatefulSet pod name), it
	// takes its partitions back at once instead of after a rebalance.
	InstanceID string `koanf:"instance_id"`
	// Topics to load; empty loads every topic that has a table.
	Topics []string `koanf:"topics"`
	// BatchRows and BatchBytes cut a partition's batch. Changing them while
	// a batch is uncommitted makes its replay form different batches.
	BatchRows  int `koanf:"batch_rows"`
	BatchBytes int `koanf:"batch_bytes"`
	// MaxWait cuts a smaller batch when records have waited this long.
	MaxWait time.Duration `koanf:"max_wait"`
	// MaxInFlight bounds the batches cut and not yet committed; fetching
	// pauses at the bound, which bounds memory.
	MaxInFlight int `koanf:"max_in_flight"`
	// MemoryLimit is the soft limit of the Go heap of `shopstream load`
	// (as GOMEMLIMIT, which wins when set), in bytes; 0 for none. The GC
	// works harder near it instead of letting garbage double the heap.
	MemoryLimit int64 `koanf:"memory_limit"`
}

// Log configures zerolog.
type Log struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // json or console
}

// Warehouse says where ClickHouse is.
type Warehouse struct {
	// Addr is an external ClickHouse server (host:port). Empty runs the embedded warehouse.
	Addr string `koanf:"addr"`
	// Protocol is how to talk to Addr: native (port 9000, production default) or http.
	Protocol string        `koanf:"protocol"`
	Database string        `koanf:"database"`
	User     string        `koanf:"user"`
	Password secret.Secret `koanf:"password"`
	// Listen is where the embedded warehouse serves the ClickHouse HTTP interface.
	Listen string `koanf:"listen"`
	// NativeListen is where the embedded warehouse serves the native TCP
	// protocol (default 127.0.0.1:9000); empty serves HTTP only.
	NativeListen string `koanf:"native_listen"`
	// MaxBodyBytes bounds one request body to the embedded warehouse.
	MaxBodyBytes int64 `koanf:"max_body_bytes"`
	// MaxMemoryUsage bounds the memory of one statement in the embedded warehouse.
	MaxMemoryUsage int64 `koanf:"max_memory_usage"`
	// IdleConnectionTimeout closes a native-protocol connection of the
	// embedded warehouse that sends nothing this long (ClickHouse's
	// idle_connection_timeout, default 1h).
	IdleConnectionTimeout time.Duration `koanf:"idle_connection_timeout"`
	// TLS reaches Addr over TLS (native port 9440, https 8443), verified
	// against TLSCAFile (PEM) if set, else the system roots.
	TLS       bool   `koanf:"tls"`
	TLSCAFile string `koanf:"tls_ca_file"`
}

// Kafka says where the brokers are.
type Kafka struct {
	// Brokers are the seed brokers of a real cluster. Empty runs an in-process
	// broker persisted under DataDir.
	Brokers []string `koanf:"brokers"`
	// Listen is where the in-process broker listens.
	Listen string `koanf:"listen"`
	// TopicPrefix is prepended to every Kafka topic name the pipeline
	// reads and writes, the cursor and dead-letter topics included
	// (environments or tenants sharing a cluster); table names stay the
	// same. Default none.
	TopicPrefix string        `koanf:"topic_prefix"`
	User        string        `koanf:"user"`
	Password    secret.Secret `koanf:"password"`
	// TLS reaches Brokers over TLS, verified against TLSCAFile (PEM) if
	// set, else the system roots. SASL/PLAIN (User) sends the password as
	// is: use it with TLS.
	TLS       bool   `koanf:"tls"`
	TLSCAFile string `koanf:"tls_ca_file"`
	// FetchMaxWait bounds how long a broker holds a fetch that has
	// nothing to return yet (default 500ms, the Java consumer's). A
	// read-committed consumer (the transform, the loader) can wait this long
	// after a transaction committed before it sees the records: franz-go's
	// own default of 5s added seconds to a change's way to the warehouse.
	FetchMaxWait time.Duration `koanf:"fetch_max_wait"`
	// InputRetention is the retention.ms the ingest stages give the input
	// topics they create (default 7 days: longer than an outage of the
	// transform or the loader should last; the transform keeps its state in
	// its own changelogs); 0 keeps records for ever. Topics that exist keep
	// their settings; dead-letter, changelog and repartition topics have
	// their own.
	InputRetention time.Duration `koanf:"input_retention"`
}

// TLSConfig returns the TLS client configuration of the brokers, nil
// without TLS.
func (k Kafka) TLSConfig() (*tls.Config, error) { return tlsConfig(k.TLS, k.TLSCAFile) }

// TLSConfig returns the TLS client configuration of the warehouse, nil
// without TLS.
func (w Warehouse) TLSConfig() (*tls.Config, error) { return tlsConfig(w.TLS, w.TLSCAFile) }

func tlsConfig(enabled bool, caFile string) (*tls.Config, error) {
	if !enabled {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	cfg.RootCAs = x509.NewCertPool()
	if !cfg.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	return cfg, nil
}

// SchemaRegistry says where the Confluent-compatible registry is.
type SchemaRegistry struct {
	// URL of a registry. Empty runs an in-process one.
	URL string `koanf:"url"`
	// Listen is where the in-process registry listens.
	Listen   string        `koanf:"listen"`
	User     string        `koanf:"user"`
	Password secret.Secret `koanf:"password"`
}

// Metrics configures the Prometheus and health endpoint.
type Metrics struct {
	Listen string `koanf:"listen"`
}

// secretKeys may not be written in the config file; each has a <key>_file
// variant naming a file that holds it.
var secretKeys = append([]string{"warehouse.password", "kafka.password", "schema_registry.password"}, sourceSecretKeys...)

func defaults() map[string]any {
	return map[string]any{
		"data_dir":                          "./data",
		"log.level":                         "info",
		"log.format":                        "json",
		"warehouse.addr":                    "",
		"warehouse.protocol":                "native",
		"warehouse.database":                "default",
		"warehouse.user":                    "default",
		"warehouse.password":                "",
		"warehouse.password_file":           "",
		"warehouse.listen":                  "127.0.0.1:8123",
		"warehouse.native_listen":           "127.0.0.1:9000",
		"warehouse.max_body_bytes":          256 << 20,
		"warehouse.max_memory_usage":        4 << 30,
		"warehouse.idle_connection_timeout": "1h",
		"kafka.brokers":                     []string{},
		"kafka.listen":                      "127.0.0.1:9092",
		"kafka.topic_prefix":                "",
		"kafka.user":                        "",
		"kafka.password":                    "",
		"kafka.password_file":               "",
		"kafka.tls":                         false,
		"kafka.tls_ca_file":                 "",
		"kafka.fetch_max_wait":              "500ms",
		"kafka.input_retention":             "168h",
		"warehouse.tls":                     false,
		"warehouse.tls_ca_file":             "",
		"schema_registry.url":               "",
		"schema_registry.listen":            "127.0.0.1:8081",
		"schema_registry.user":              "",
		"schema_registry.password":          "",
		"schema_registry.password_file":     "",
		"metrics.listen":                    "127.0.0.1:9464",
		"load.group":                        "shopstream-load",
		"load.instance_id":                  "",
		"load.topics":                       []string{},
		"load.topic_prefix":                 "",
		"load.batch_rows":                   10000,
		"load.batch_bytes":                  16 << 20,
		"load.max_wait":                     "1s",
		"load.max_in_flight":                8,
		"load.memory_limit":                 192 << 20,
		"transform.time_zone":               "UTC",
		"transform.attribution":             "full",
		"transform.mapping_file":            "",
		"transform.group":                   stream.DefaultGroup,
		"transform.instance_id":             "",
		"transform.threads":                 1,
		"transform.state_dir":               "",
		"transform.cache_mb":                int(state.DefaultCacheBytes >> 20),
		"transform.partitions":              stream.DefaultPartitions,
		"transform.memory_limit":            384 << 20,
		"transform.max_transaction_relinks": stream.DefaultMaxTransactionRelinks,
		"transform.max_transaction_records": stream.DefaultMaxTransactionRecords,
		"transform.transactional_id":        "",
		"transform.topic_prefix":            "",
		"dbt.schedule":                      "",
		"dbt.bin":                           "dbt",
		"dbt.project_dir":                   "dbt",
		"dbt.profiles_dir":                  "",
		"dbt.args":                          []string{"build"},
		"dbt.schema":                        "analytics",
		"dbt.catch_up_timeout":              "10m",
		"dbt.timeout":                       "1h",
	}
}

// Load reads path (optional: "" means defaults only) and the environment, and
// validates the result. The error lists every problem found.
func Load(path string) (*Config, error) {
	return load(path, os.Environ())
}

func load(path string, environ []string) (*Config, error) {
	k := koanf.New(".")
	def := defaults()
	maps.Copy(def, sourceDefaults())
	maps.Copy(def, uiDefaults())
	if err := k.Load(confmap.Provider(def, "."), nil); err != nil {
		return nil, fmt.Errorf("load defaults: %w", err)
	}
	var problems []error
	if path != "" {
		fileK := koanf.New(".")
		if err := fileK.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("read config %s: %w", path, err)
		}
		for _, key := range fileK.Keys() {
			if _, known := def[key]; !known && !isUnderKnownList(key, def) {
				problems = append(problems, fmt.Errorf("%s: unknown key in %s", key, path))
			}
		}
		for _, key := range secretKeys {
			if fileK.String(key) != "" {
				problems = append(problems, fmt.Errorf("%s: secrets may not be written in the config file; set %s or %s_file", key, EnvName(key), key))
			}
		}
		if err := k.Merge(fileK); err != nil {
			return nil, fmt.Errorf("merge config %s: %w", path, err)
		}
	}
	envMap, envProblems := fromEnv(environ, def)
	problems = append(problems, envProblems...)
	if err := k.Load(confmap.Provider(envMap, "."), nil); err != nil {
		return nil, fmt.Errorf("load environment: %w", err)
	}
	for _, key := range secretKeys {
		if f := k.String(key + "_file"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				problems = append(problems, fmt.Errorf("%s_file: %w", key, err))
				continue
			}
			_ = k.Set(key, strings.TrimSpace(string(b)))
		}
	}
	var c Config
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf", DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(mapstructure.StringToSliceHookFunc(","), mapstructure.StringToTimeDurationHookFunc(), mapstructure.TextUnmarshallerHookFunc(), yamlDateToString),
		WeaklyTypedInput: true,
		Result:           &c,
		TagName:          "koanf",
	}})
	if err != nil {
		problems = append(problems, fmt.Errorf("decode config: %w", err))
	}
	problems = append(problems, c.mergeTopicPrefixes(k)...)
	problems = append(problems, c.validate()...)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &c, nil
}

func isUnderKnownList(key string, def map[string]any) bool {
	for k, v := range def {
		if _, ok := v.([]string); ok && strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// reservedEnv are SHOPSTREAM_* variables that are not config keys.
var reservedEnv = []string{"SHOPSTREAM_CONFIG", "SHOPSTREAM_INTEGRATION", "SHOPSTREAM_TEST_"}

func fromEnv(environ []string, def map[string]any) (map[string]any, []error) {
	byEnv := map[string]string{}
	for key := range def {
		byEnv[EnvName(key)] = key
	}
	out := map[string]any{}
	var problems []error
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || isReserved(name) {
			continue
		}
		key, ok := byEnv[name]
		if !ok {
			problems = append(problems, fmt.Errorf("%s: not a config setting (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(byEnv)), ", ")))
			continue
		}
		if _, isList := def[key].([]string); isList {
			out[key] = splitList(value)
			continue
		}
		out[key] = value
	}
	return out, problems
}

func isReserved(name string) bool {
	for _, r := range reservedEnv {
		if name == r || strings.HasSuffix(r, "_") && strings.HasPrefix(name, r) {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (c *Config) validate() []error {
	var p problems
	bad := p.add
	p.nonEmpty("data_dir", c.DataDir)
	if _, err := zerolog.ParseLevel(c.Log.Level); err != nil || c.Log.Level == "" {
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		bad("log.format", "%q is not json or console", c.Log.Format)
	}
	checkHostPort := p.hostPort
	checkHostPort("warehouse.addr", c.Warehouse.Addr, true)
	checkHostPort("warehouse.listen", c.Warehouse.Listen, false)
	checkHostPort("warehouse.native_listen", c.Warehouse.NativeListen, true)
	if c.Warehouse.Protocol != "native" && c.Warehouse.Protocol != "http" {
		bad("warehouse.protocol", "%q is not native or http", c.Warehouse.Protocol)
	}
	p.nonEmpty("warehouse.database", c.Warehouse.Database)
	p.positive("warehouse.max_body_bytes", int64(c.Warehouse.MaxBodyBytes))
	p.positive("warehouse.max_memory_usage", int64(c.Warehouse.MaxMemoryUsage))
	p.positive("warehouse.idle_connection_timeout", int64(c.Warehouse.IdleConnectionTimeout))
	for i, b := range c.Kafka.Brokers {
		checkHostPort(fmt.Sprintf("kafka.brokers[%d]", i), b, false)
	}
	checkHostPort("kafka.listen", c.Kafka.Listen, false)
	p.positiveDuration("kafka.fetch_max_wait", c.Kafka.FetchMaxWait, "500ms")
	if c.Kafka.InputRetention < 0 {
		bad("kafka.input_retention", "must be 0 (keep for ever) or a positive duration, e.g. 168h")
	}
	for key, t := range map[string]interface{ TLSConfig() (*tls.Config, error) }{"kafka.tls_ca_file": c.Kafka, "warehouse.tls_ca_file": c.Warehouse} {
		if _, err := t.TLSConfig(); err != nil {
			bad(key, "%v", err)
		}
	}
	if c.Kafka.TLSCAFile != "" && !c.Kafka.TLS {
		bad("kafka.tls_ca_file", "is set but kafka.tls is false")
	}
	if c.Warehouse.TLSCAFile != "" && !c.Warehouse.TLS {
		bad("warehouse.tls_ca_file", "is set but warehouse.tls is false")
	}
	p.httpURL("schema_registry.url", c.SchemaRegistry.URL, "; set schema_registry.user and "+EnvName("schema_registry.password"))
	checkHostPort("schema_registry.listen", c.SchemaRegistry.Listen, false)
	checkHostPort("metrics.listen", c.Metrics.Listen, false)
	p.nonEmpty("load.group", c.Load.Group)
	p.positive("load.batch_rows", int64(c.Load.BatchRows))
	p.positive("load.batch_bytes", int64(c.Load.BatchBytes))
	p.positiveDuration("load.max_wait", c.Load.MaxWait, "1s")
	p.positive("load.max_in_flight", int64(c.Load.MaxInFlight))
	if c.Load.MemoryLimit < 0 {
		bad("load.memory_limit", "must be 0 (none) or a number of bytes")
	}
	if c.Transform.TimeZone == "" {
		bad("transform.time_zone", "must not be empty (UTC, or an IANA zone such as America/New_York)")
	} else if _, err := time.LoadLocation(c.Transform.TimeZone); err != nil || c.Transform.TimeZone == "Local" {
		bad("transform.time_zone", "%q is not an IANA time zone such as America/New_York", c.Transform.TimeZone)
	}
	if c.Transform.Attribution != "full" && c.Transform.Attribution != "even" {
		bad("transform.attribution", "%q is not full or even", c.Transform.Attribution)
	}
	if f := c.Transform.MappingFile; f != "" {
		if st, err := os.Stat(f); err != nil {
			bad("transform.mapping_file", "%v", err)
		} else if st.IsDir() {
			bad("transform.mapping_file", "%s is a directory", f)
		}
	}
	p.nonEmpty("transform.group", c.Transform.Group)
	p.positive("transform.threads", int64(c.Transform.Threads))
	p.positive("transform.cache_mb", int64(c.Transform.CacheMB))
	p.positive("transform.partitions", int64(c.Transform.Partitions))
	p.positive("transform.max_transaction_relinks", int64(c.Transform.MaxTransactionRelinks))
	p.positive("transform.max_transaction_records", int64(c.Transform.MaxTransactionRecords))
	if c.Transform.MemoryLimit < 0 {
		bad("transform.memory_limit", "must be 0 (none) or a number of bytes")
	}
	c.Sources.validate(&p)
	c.UI.validate(&p)
	if c.Dbt.Schedule != "" {
		if _, err := dbtrun.ParseSchedule(c.Dbt.Schedule); err != nil {
			bad("dbt.schedule", "%v", err)
		}
		if c.Dbt.Bin == "" {
			bad("dbt.bin", "must not be empty when dbt.schedule is set")
		}
		p.nonEmpty("dbt.schema", c.Dbt.Schema)
		p.positiveDuration("dbt.catch_up_timeout", c.Dbt.CatchUpTimeout, "10m")
		p.positiveDuration("dbt.timeout", c.Dbt.Timeout, "1h")
	}
	return p
}
