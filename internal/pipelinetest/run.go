package pipelinetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
)

// KeepDirVar names a directory under which StartRun keeps every run's data
// and logs, to look at them after a test.
const KeepDirVar = "SHOPSTREAM_TEST_KEEP_DIR"

// RunOptions configure StartRun.
type RunOptions struct {
	// Dir holds the data directory (Dir/data) and the output files.
	// Default: a temporary directory of the test, or, when KeepDirVar is
	// set, a fresh directory under it that stays after the test.
	Dir string
	// Brokers is kafka.brokers; empty starts run's in-process broker.
	Brokers string
	// Prefix, when set, is prepended to every topic and names the consumer
	// groups and transactional ids, so that several runs share one broker.
	Prefix string
	// Webhooks serves the TikTok Shop webhook receiver (on a free port).
	Webhooks bool
	// Env is added last (SHOPSTREAM_* settings win over the defaults above).
	Env []string
	// Healthy bounds the wait for "all components healthy". Default 3 min.
	Healthy time.Duration
}

// Run is a `shopstream run` child process.
type Run struct {
	*Process
	// Dir is the directory of RunOptions.
	Dir string
	// Addresses run listens on (host:port), chosen free before the start:
	// the warehouse's HTTP and native ports, the broker, the registry,
	// metrics (and the analytics page), the webhook receiver.
	WarehouseAddr, NativeAddr, KafkaAddr, RegistryAddr, MetricsAddr, WebhookAddr string
	// Warehouse queries run's warehouse over HTTP.
	Warehouse *Warehouse
}

// WebhookURL is where the receiver takes TikTok Shop deliveries.
func (r *Run) WebhookURL() string { return "http://" + r.WebhookAddr + "/webhooks/tiktok" }

// MetricsURL is run's /metrics.
func (r *Run) MetricsURL() string { return "http://" + r.MetricsAddr + "/metrics" }

// StartRun starts `shopstream run` on free loopback ports with its own data
// directory and waits until it reports every component healthy.
func StartRun(t testing.TB, opts RunOptions) *Run {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
		if keep := os.Getenv(KeepDirVar); keep != "" {
			var err error
			if opts.Dir, err = os.MkdirTemp(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-"); err != nil {
				t.Fatal(err)
			}
			t.Logf("run's data and logs stay in %s", opts.Dir)
		}
	}
	if opts.Healthy <= 0 {
		opts.Healthy = 3 * time.Minute
	}
	r := &Run{Dir: opts.Dir, WarehouseAddr: testenv.FreeAddr(t), NativeAddr: testenv.FreeAddr(t), KafkaAddr: testenv.FreeAddr(t),
		RegistryAddr: testenv.FreeAddr(t), MetricsAddr: testenv.FreeAddr(t)}
	env := []string{
		"SHOPSTREAM_DATA_DIR=" + filepath.Join(opts.Dir, "data"),
		"SHOPSTREAM_WAREHOUSE_LISTEN=" + r.WarehouseAddr,
		"SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + r.NativeAddr,
		"SHOPSTREAM_KAFKA_LISTEN=" + r.KafkaAddr,
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN=" + r.RegistryAddr,
		"SHOPSTREAM_METRICS_LISTEN=" + r.MetricsAddr,
	}
	if opts.Brokers != "" {
		env = append(env, "SHOPSTREAM_KAFKA_BROKERS="+opts.Brokers)
		r.KafkaAddr = strings.Split(opts.Brokers, ",")[0]
	}
	if opts.Webhooks {
		r.WebhookAddr = testenv.FreeAddr(t)
		env = append(env, "SHOPSTREAM_SOURCES_WEBHOOKS_LISTEN="+r.WebhookAddr)
	}
	if p := opts.Prefix; p != "" {
		env = append(env,
			"SHOPSTREAM_SOURCES_TOPIC_PREFIX="+p, "SHOPSTREAM_LOAD_TOPIC_PREFIX="+p, "SHOPSTREAM_TRANSFORM_TOPIC_PREFIX="+p,
			"SHOPSTREAM_SOURCES_INSTANCE="+p, "SHOPSTREAM_LOAD_GROUP="+p+"load",
			"SHOPSTREAM_TRANSFORM_GROUP="+p+"transform", "SHOPSTREAM_TRANSFORM_TRANSACTIONAL_ID="+p+"transform-0")
	}
	env = append(env, opts.Env...)
	r.Warehouse = &Warehouse{URL: "http://" + r.WarehouseAddr, User: lookup(env, "SHOPSTREAM_WAREHOUSE_USER"),
		Password: lookup(env, "SHOPSTREAM_WAREHOUSE_PASSWORD")}
	r.Process = StartProcess(t, "run", testenv.Binary(t), opts.Dir, []string{"run"}, env)
	r.WaitHealthy(t, opts.Healthy)
	return r
}

// WaitHealthy waits until the current incarnation printed "all components
// healthy" (counting the lines of earlier incarnations), failing the test
// after timeout.
func (r *Run) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r.mu.Lock()
	want := r.starts
	r.mu.Unlock()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	// The ingest stages, the webhook receiver among them, start after
	// run reports healthy: wait for the receiver too.
	for strings.Count(r.Stdout(), "all components healthy") < want || !r.receiving(ctx) {
		select {
		case <-r.Exited():
			t.Fatalf("run exited before it was healthy; stdout:\n%s\nstderr ends:\n%s", r.Stdout(), tail(r.Stderr(), 8<<10))
		case <-ctx.Done():
			t.Fatalf("run not healthy within %s; stdout:\n%s\nstderr ends:\n%s", timeout, r.Stdout(), tail(r.Stderr(), 8<<10))
		case <-tick.C:
		}
	}
}

// receiving reports whether the webhook receiver (if run serves one)
// accepts connections.
func (r *Run) receiving(ctx context.Context) bool {
	if r.WebhookAddr == "" {
		return true
	}
	c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", r.WebhookAddr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// RestartRun restarts run after Kill or Stop and waits until it is healthy.
func (r *Run) RestartRun(t testing.TB, timeout time.Duration) {
	t.Helper()
	r.Restart(t)
	r.WaitHealthy(t, timeout)
}

// lookup returns the last value of name in env.
func lookup(env []string, name string) string {
	for _, kv := range slices.Backward(env) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// Env returns name=value settings as a slice, in order: a convenience for
// RunOptions.Env.
func Env(kv ...string) []string {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("pipelinetest.Env: odd number of arguments %q", kv))
	}
	out := make([]string, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}
