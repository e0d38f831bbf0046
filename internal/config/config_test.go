package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shopstream.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, "")
	if c.Warehouse.Listen != "127.0.0.1:8123" || c.DataDir != "./data" || len(c.Kafka.Brokers) != 0 || c.Warehouse.Protocol != "native" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	p := writeConfig(t, "data_dir: /var/lib/shopstream\nkafka:\n  brokers: [a:9092]\nwarehouse:\n  addr: ch:9000\n")
	secret := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secret, []byte("s3cr3t-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, p, "SHOPSTREAM_KAFKA_BROKERS=b:9092, c:9092",
		"SHOPSTREAM_WAREHOUSE_MAX_BODY_BYTES=1024",
		"SHOPSTREAM_SCHEMA_REGISTRY_PASSWORD_FILE="+secret,
		"SHOPSTREAM_WAREHOUSE_PASSWORD=s3cr3t-from-env",
		"SHOPSTREAM_TEST_KAFKA=ignored")
	if c.DataDir != "/var/lib/shopstream" || c.Warehouse.Addr != "ch:9000" {
		t.Fatalf("file values lost: %+v", c)
	}
	if strings.Join(c.Kafka.Brokers, ",") != "b:9092,c:9092" || c.Warehouse.MaxBodyBytes != 1024 {
		t.Fatalf("environment did not override: brokers %v, max body %d", c.Kafka.Brokers, c.Warehouse.MaxBodyBytes)
	}
	if c.SchemaRegistry.Password.Reveal() != "s3cr3t-from-file" || c.Warehouse.Password.Reveal() != "s3cr3t-from-env" {
		t.Fatalf("secrets not loaded")
	}
	// Secrets never print, whatever prints them.
	out, _ := json.Marshal(c)
	printed := string(out) + fmt.Sprintf("%v %+v %#v %s", c, c, c, c.Warehouse.Password)
	if strings.Contains(printed, "s3cr3t") {
		t.Fatalf("a secret was printed: %s", printed)
	}
}

func TestEveryProblemReported(t *testing.T) {
	p := writeConfig(t, "warehouse:\n  protocol: carrier-pigeon\n  password: inline\n  listen: nope\nlog:\n  level: chatty\nkafak:\n  brokers: [x]\n")
	_, err := load(p, []string{"SHOPSTREAM_KAFKA_BROKERS=no-port", "SHOPSTREAM_NOPE=1", "SHOPSTREAM_SCHEMA_REGISTRY_URL=ftp://x"})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		"warehouse.protocol", "warehouse.password: secrets may not be written in the config file",
		"warehouse.listen", "log.level", "kafak", "kafka.brokers[0]", "SHOPSTREAM_NOPE", "schema_registry.url",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "inline") {
		t.Errorf("error leaks the secret value:\n%s", msg)
	}
	// The unknown variable's problem lists the known ones, sorted.
	_, known, _ := strings.Cut(msg, "SHOPSTREAM_NOPE: not a config setting (known: ")
	known, _, _ = strings.Cut(known, ")")
	if names := strings.Split(known, ", "); len(names) < 10 || !slices.IsSorted(names) || !slices.Contains(names, "SHOPSTREAM_KAFKA_BROKERS") {
		t.Errorf("known settings not listed in order: %q", known)
	}
}

func TestLoaderSettings(t *testing.T) {
	c := mustLoad(t, writeConfig(t, "load:\n  max_wait: 250ms\n  topics: [amazon.orders]\n"), "SHOPSTREAM_LOAD_BATCH_ROWS=500",
		"SHOPSTREAM_LOAD_INSTANCE_ID=loader-0")
	l := c.Load
	if l.MaxWait.Milliseconds() != 250 || l.BatchRows != 500 || l.InstanceID != "loader-0" ||
		strings.Join(l.Topics, ",") != "amazon.orders" || l.Group != "shopstream-load" || l.MaxInFlight != 8 || l.MemoryLimit != 192<<20 {
		t.Fatalf("loader settings: %+v", l)
	}
	_, err := load("", []string{"SHOPSTREAM_LOAD_MAX_WAIT=0s", "SHOPSTREAM_LOAD_BATCH_BYTES=-1"})
	if err == nil || !strings.Contains(err.Error(), "load.max_wait") || !strings.Contains(err.Error(), "load.batch_bytes") {
		t.Fatalf("bad loader settings accepted or not all reported: %v", err)
	}
}

// TestKafkaFetchMaxWait: the fetch wait defaults to the Java consumer's
// 500ms (franz-go's 5s delayed read-committed consumers by seconds), can be
// set, and must be positive.
func TestKafkaFetchMaxWait(t *testing.T) {
	c := mustLoad(t, "")
	if c.Kafka.FetchMaxWait != 500*time.Millisecond {
		t.Fatalf("default kafka.fetch_max_wait %s", c.Kafka.FetchMaxWait)
	}
	if c, err := load("", []string{"SHOPSTREAM_KAFKA_FETCH_MAX_WAIT=100ms"}); err != nil || c.Kafka.FetchMaxWait != 100*time.Millisecond {
		t.Fatalf("kafka.fetch_max_wait from the environment: %v %v", c, err)
	}
	if _, err := load("", []string{"SHOPSTREAM_KAFKA_FETCH_MAX_WAIT=0s"}); err == nil || !strings.Contains(err.Error(), "kafka.fetch_max_wait") {
		t.Fatalf("zero fetch wait accepted: %v", err)
	}
}

// mustLoad loads the configuration at path (empty: none) with env as the
// environment, failing t on an error.
func mustLoad(t *testing.T, path string, env ...string) *Config {
	t.Helper()
	c, err := load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
