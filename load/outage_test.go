package load_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
)

// scrape returns the /metrics body of the process serving on addr ("" when
// it does not answer).
func scrape(addr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sample sums the series of metric name in a /metrics body whose labels
// contain labels (e.g. `part="load"`; "" for all); -1 when there is none.
func sample(body, name, labels string) float64 {
	sum, found := 0.0, false
	for _, m := range regexp.MustCompile(`(?m)^`+name+`(\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], labels) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// loaderState is what a loader process's metrics say about an outage.
type loaderState struct{ restarts, warehouseUp, brokersUp, retries float64 }

func (s loaderState) String() string {
	return fmt.Sprintf("restarts %v, warehouse up %v, brokers up %v, retries %v", s.restarts, s.warehouseUp, s.brokersUp, s.retries)
}

func stateOf(addr string) loaderState {
	body := scrape(addr)
	return loaderState{restarts: sample(body, supervise.MetricRestarts, `part="load"`), warehouseUp: sample(body, load.MetricWarehouseUp, ""),
		brokersUp: sample(body, load.MetricBrokersUp, ""), retries: sample(body, load.MetricRetries, "")}
}

// logLines counts the lines of a log file that contain s.
func logLines(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

// outageEnv configures the loader processes of the outage tests: small
// batches, few in flight, a static member (a restarted process takes the
// partitions back at once) and metrics on addr.
func outageEnv(metrics string) []string {
	return []string{"SHOPSTREAM_LOAD_BATCH_ROWS=200", "SHOPSTREAM_LOAD_MAX_WAIT=100ms", "SHOPSTREAM_LOAD_MAX_IN_FLIGHT=4",
		"SHOPSTREAM_LOAD_INSTANCE_ID=loader-1", "SHOPSTREAM_METRICS_LISTEN=" + metrics}
}

// TestLoadRidesOutWarehouseOutage: `shopstream load`, run as production
// runs it (its supervisor counting restarts), loses the warehouse while
// records keep arriving. It stays in place: no restart, its batches kept
// and retried, the warehouse gauge down, the retries counted, one log line
// for the outage. A loader started while the warehouse is away (the chaos
// soak's restart storm: each start used to fail at once) waits for it the
// same way. Once the warehouse is back every record is loaded exactly once
// and the gauge is up again.
func TestLoadRidesOutWarehouseOutage(t *testing.T) {
	h := newHarness(t, 4, "native")
	const n = 4000
	recs := h.records(orders(n, 4))
	h.produce(recs[:n/4]...)
	m1 := testenv.FreeAddr(t)
	first := h.loaderProcess(outageEnv(m1)...)
	h.waitRows(n/4, 2*time.Minute)
	h.eventually("first quarter committed", time.Minute, func() (bool, string) {
		c := h.committed()
		return c == n/4, fmt.Sprint(c)
	})

	h.wh.Kill()
	h.produce(recs[n/4:]...)
	h.eventually("the running loader sees the outage and retries in place", 2*time.Minute, func() (bool, string) {
		s := stateOf(m1)
		return s.warehouseUp == 0 && s.retries >= 5, s.String()
	})
	if s := stateOf(m1); s.restarts != 0 {
		t.Fatalf("the loader restarted during the outage: %s", s)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	m2 := testenv.FreeAddr(t)
	h.loaderProcess(outageEnv(m2)...)
	log2 := h.loaderLog
	h.eventually("a loader started during the outage waits for the warehouse", 2*time.Minute, func() (bool, string) {
		s := stateOf(m2)
		return s.warehouseUp == 0 && s.retries >= 5, s.String()
	})
	if s := stateOf(m2); s.restarts != 0 {
		t.Fatalf("the loader started during the outage restarted: %s", s)
	}
	if c := h.committed(); c != n/4 {
		t.Fatalf("%d offsets committed while the warehouse was down, %d rows were inserted", c, n/4)
	}

	h.wh.Restart(t)
	h.waitRows(n, 3*time.Minute)
	h.eventually("all committed", time.Minute, func() (bool, string) {
		c := h.committed()
		return c == n, fmt.Sprint(c)
	})
	h.assertExactlyOnce(n)
	s := stateOf(m2)
	if s.restarts != 0 || s.warehouseUp != 1 {
		t.Errorf("after the outage: %s; want no restart and the warehouse up", s)
	}
	if down, back := logLines(t, log2, "warehouse unreachable"), logLines(t, log2, "warehouse back"); down != 1 || back != 1 {
		t.Errorf("the outage was logged %d times and its end %d times; want once each", down, back)
	}
}

// ownBroker is a Kafka broker of one test (deploy/local/kafka.sh in a
// temporary directory), so that the test can pause it without touching
// the broker other tests share.
type ownBroker struct {
	dir, script string
	brokers     []string
}

func startOwnBroker(t *testing.T) *ownBroker {
	t.Helper()
	testenv.KafkaBrokers(t) // skips (or fails under make test) without Kafka
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b := &ownBroker{dir: t.TempDir(), script: filepath.Join(wd, "..", "deploy", "local", "kafka.sh")}
	out, err := exec.Command(b.script, "start", b.dir).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Logf("kafka.sh start: %s", ee.Stderr)
		}
		t.Fatalf("start a broker of the test's own: %v", err)
	}
	t.Cleanup(func() {
		b.signal(t, syscall.SIGCONT)
		_ = exec.Command(b.script, "stop", b.dir).Run()
	})
	b.brokers = []string{strings.TrimSpace(string(out))}
	return b
}

// signal sends sig to the broker's JVM: SIGSTOP pauses it (connections
// hang, as behind a network partition), SIGCONT resumes it.
func (b *ownBroker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.dir, "kafka.pid"))
	if err != nil {
		t.Fatalf("broker pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("broker pid %q: %v", raw, err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal the broker: %v", err)
	}
}

// TestLoadRidesOutBrokerPause: the broker is paused (SIGSTOP) while the
// loader inserts and commits. The loader stays in place: no restart, the
// brokers gauge down and up again, and once the broker resumes every
// record is loaded exactly once.
func TestLoadRidesOutBrokerPause(t *testing.T) {
	b := startOwnBroker(t)
	h := newHarnessOn(t, 4, "native", b.brokers)
	const n = 20000
	h.produceOrders(n)

	m := testenv.FreeAddr(t)
	h.loaderProcess(outageEnv(m)...)
	log := h.loaderLog
	h.eventually("the loader inserting", 2*time.Minute, func() (bool, string) {
		c := h.count("SELECT count() FROM amazon_orders_changes")
		return c > 0, fmt.Sprint(c)
	})
	b.signal(t, syscall.SIGSTOP)
	t.Logf("broker paused at %d rows of %d", h.count("SELECT count() FROM amazon_orders_changes"), n)
	h.eventually("the loader sees no broker answer", 2*time.Minute, func() (bool, string) {
		s := stateOf(m)
		return s.brokersUp == 0, s.String()
	})
	if s := stateOf(m); s.restarts != 0 {
		t.Fatalf("the loader restarted during the broker outage: %s", s)
	}
	b.signal(t, syscall.SIGCONT)

	h.waitRows(n, 3*time.Minute)
	h.eventually("all committed", 2*time.Minute, func() (bool, string) {
		c := h.committed()
		return c == n, fmt.Sprint(c)
	})
	h.assertExactlyOnce(n)
	h.eventually("the brokers gauge up again", time.Minute, func() (bool, string) {
		s := stateOf(m)
		return s.brokersUp == 1, s.String()
	})
	if s := stateOf(m); s.restarts != 0 {
		t.Errorf("after the broker outage: %s; want no restart", s)
	}
	if down := logLines(t, log, "kafka brokers unreachable"); down < 1 {
		t.Errorf("the broker outage was not logged")
	}
}
