package main

import (
	"bytes"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestProductionBuildHasNoEngine: `go test` builds without the chdb tag, like
// the production binary, which must still build and explain itself.
func TestProductionBuildHasNoEngine(t *testing.T) {
	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	_, err := execute(t, "warehouse", "--listen", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "built without the embedded warehouse") {
		t.Fatalf("warehouse in a build without chdb: %v", err)
	}
	out, err := execute(t, "version")
	if err != nil || !strings.Contains(out, "embedded warehouse: not built in") {
		t.Fatalf("version: %q %v", out, err)
	}
}

// TestConfigValidateReportsEverything: every problem at once, no secret printed.
func TestConfigValidateReportsEverything(t *testing.T) {
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "smoke-signals")
	t.Setenv("SHOPSTREAM_KAFKA_BROKERS", "no-port")
	t.Setenv("SHOPSTREAM_WAREHOUSE_PASSWORD", "hunter2-secret")
	_, err := execute(t, "config", "validate")
	if err == nil || !strings.Contains(err.Error(), "warehouse.protocol") || !strings.Contains(err.Error(), "kafka.brokers[0]") {
		t.Fatalf("config validate: %v", err)
	}
	t.Setenv("SHOPSTREAM_WAREHOUSE_PROTOCOL", "http")
	t.Setenv("SHOPSTREAM_KAFKA_BROKERS", "k1:9092")
	out, err := execute(t, "config", "validate")
	if err != nil || !strings.Contains(out, "config OK") || !strings.Contains(out, "[redacted]") || strings.Contains(out, "hunter2") {
		t.Fatalf("config validate of a good config: %v\n%s", err, out)
	}
}

// TestSoftMemoryLimit: a stage command's limit becomes the heap's soft
// limit, unless it is 0 or GOMEMLIMIT is set.
func TestSoftMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	for _, c := range []struct {
		env         string
		limit, want int64
	}{
		{"", 0, math.MaxInt64},
		{"1GiB", 64 << 20, math.MaxInt64},
		{"", 64 << 20, 64 << 20},
	} {
		debug.SetMemoryLimit(math.MaxInt64)
		t.Setenv("GOMEMLIMIT", c.env)
		softMemoryLimit(c.limit)
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Errorf("GOMEMLIMIT=%q, limit %d: soft limit %d, want %d", c.env, c.limit, got, c.want)
		}
	}
}

// TestStageCommandsNeedPipeline: a command that runs without run's
// embedded broker and registry names the settings it lacks.
func TestStageCommandsNeedPipeline(t *testing.T) {
	t.Setenv("SHOPSTREAM_DATA_DIR", t.TempDir())
	for _, args := range [][]string{{"load"}, {"transform"}, {"ingest", "tiktokbiz"}, {"backfill", "tiktokbiz", "--since", "2026-01-01"}} {
		_, err := execute(t, args...)
		if err == nil || !strings.HasPrefix(err.Error(), args[0]) || !strings.Contains(err.Error(), " needs kafka.brokers and schema_registry.url (set SHOPSTREAM_KAFKA_BROKERS") {
			t.Errorf("%v without brokers: %v", args, err)
		}
	}
}
