package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/shopstream/shopstream/ingest/sim"
	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/procfs"
	"github.com/shopstream/shopstream/internal/testenv"
)

// Names of the processes the chaos kills besides the stages.
const (
	brokerName    = "kafka"
	warehouseName = "warehouse"
)

// Consumer groups of the loader and the transform (their defaults).
const (
	loadGroup      = "shopstream-load"
	transformGroup = "shopstream-transform"
)

// world sizes the simulated world.
type world struct {
	seed                   uint64
	historyWeeks, products int
	amazonPerMinute        float64
	tiktokPerMinute        float64
	videosPerDay           float64
}

// pipeline is every process of the soak.
type pipeline struct {
	t   *testing.T
	dir string
	bin string

	brokerDir string
	brokers   string
	registry  string

	whHTTP, whNative string
	wh               *pipelinetest.Warehouse

	sim     *pipelinetest.Process
	simURL  string
	desc    sim.Description
	webhook string // the receiver's address

	// members are the supervised processes, by name: the warehouse,
	// the stages, the transforms and the loader.
	members map[string]*member
	order   []string
	broker  *broker
}

// start brings the pipeline up in dir: broker, registry, warehouse,
// simulators, stages, loader and transforms (n instances).
func start(t *testing.T, ctx context.Context, dir string, w world, transforms int) *pipeline {
	t.Helper()
	p := &pipeline{t: t, dir: dir, bin: testenv.Binary(t), members: map[string]*member{}}

	p.brokerDir = filepath.Join(dir, "kafka")
	p.broker = &broker{dir: p.brokerDir, script: kafkaScript(t)}
	brokers, err := p.broker.start(ctx)
	if err != nil {
		t.Fatalf("start the broker: %v", err)
	}
	p.brokers = brokers
	t.Cleanup(p.broker.stop)

	// The schema registry is infrastructure outside the chaos: it runs in
	// the test, over HTTP.
	reg := httptest.NewServer(srfake.NewRegistry().Handler())
	t.Cleanup(reg.Close)
	p.registry = reg.URL

	p.whHTTP, p.whNative = testenv.FreeAddr(t), testenv.FreeAddr(t)
	p.wh = &pipelinetest.Warehouse{URL: "http://" + p.whHTTP}
	p.add(warehouseName, []string{"warehouse", "--listen", p.whHTTP, "--native-listen", p.whNative, "--data", filepath.Join(dir, "warehouse")}, nil)
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := p.wh.WaitInt(wctx, "SELECT 1", func(n int64) bool { return n == 1 }); err != nil {
		t.Fatalf("warehouse: %v", err)
	}

	p.webhook = testenv.FreeAddr(t)
	simAddr := testenv.FreeAddr(t)
	p.sim = pipelinetest.StartProcess(t, "sim", p.bin, dir, []string{"sim", "--seed", strconv.FormatUint(w.seed, 10), "--listen", simAddr,
		"--history-weeks", strconv.Itoa(w.historyWeeks), "--rate-scale", "120", "--products", strconv.Itoa(w.products),
		"--amazon-orders-per-minute", fmt.Sprint(w.amazonPerMinute), "--tiktok-orders-per-minute", fmt.Sprint(w.tiktokPerMinute),
		"--videos-per-day", fmt.Sprint(w.videosPerDay), "--webhook-url", "http://" + p.webhook + webhook.Path}, nil)
	line, err := p.sim.WaitForOutput(wctx, `"base_url"`)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(line), &p.desc); err != nil {
		t.Fatalf("simulator description %q: %v", line, err)
	}
	p.simURL = p.desc.BaseURL

	src := p.sourcesEnv(t)
	for _, stage := range []string{"amazon", "tiktokbiz", "webhooks"} {
		p.add("ingest-"+stage, []string{"ingest", stage}, src)
	}
	p.add("load", []string{"load"}, nil)
	instanceFlag := p.transformTakesInstanceID()
	for i := range transforms {
		name := fmt.Sprintf("transform-%d", i)
		if instanceFlag {
			// The partitioned transform: a static member per instance,
			// its transactional ids derived from the instance id.
			p.add(name, []string{"transform", "--instance-id", name}, nil)
			continue
		}
		// The single-instance transform needs a transactional id per
		// process.
		p.add(name, []string{"transform"}, pipelinetest.Env("SHOPSTREAM_TRANSFORM_TRANSACTIONAL_ID", "shopstream-"+name))
	}
	return p
}

// transformTakesInstanceID reports whether `shopstream transform` names its
// instance (--instance-id), as the partitioned transform does.
func (p *pipeline) transformTakesInstanceID() bool {
	out, _ := exec.Command(p.bin, "transform", "--help").CombinedOutput()
	return strings.Contains(string(out), "--instance-id")
}

// commonEnv is what every process of the pipeline is configured with.
func (p *pipeline) commonEnv(name string) []string {
	return pipelinetest.Env(
		"SHOPSTREAM_KAFKA_BROKERS", p.brokers, "SHOPSTREAM_SCHEMA_REGISTRY_URL", p.registry,
		"SHOPSTREAM_WAREHOUSE_ADDR", p.whNative, "SHOPSTREAM_DATA_DIR", filepath.Join(p.dir, name+"-data"),
		"SHOPSTREAM_LOG_LEVEL", "info", "SHOPSTREAM_METRICS_LISTEN", testenv.FreeAddr(p.t))
}

// sourcesEnv points the ingest stages at the simulators, polling often
// enough that the soak sees many windows.
func (p *pipeline) sourcesEnv(t *testing.T) []string {
	d := p.desc
	truth, err := groundTruth(d)
	if err != nil {
		t.Fatal(err)
	}
	var asins []string
	for _, e := range truth.TruthAt(d.WorldStart).Catalog() {
		asins = append(asins, e.ASIN)
	}
	day := func(zone string) string {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		return d.WorldStart.In(loc).Format(time.DateOnly)
	}
	return append(pipelinetest.SimSourcesEnv(d), pipelinetest.Env(
		"SHOPSTREAM_SOURCES_AMAZON_SINCE", day(simworld.DefaultAmazonZone),
		"SHOPSTREAM_SOURCES_AMAZON_ASINS", strings.Join(asins, ","),
		"SHOPSTREAM_SOURCES_AMAZON_POLL_INTERVAL", "10s", "SHOPSTREAM_SOURCES_AMAZON_REPORT_INTERVAL", "1m",
		"SHOPSTREAM_SOURCES_AMAZON_CATALOG_INTERVAL", "1m", "SHOPSTREAM_SOURCES_AMAZON_REPORT_POLL_INTERVAL", "1s",
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_SINCE", day(simworld.DefaultShopZone),
		"SHOPSTREAM_SOURCES_TIKTOKSHOP_POLL_INTERVAL", "5s",
		"SHOPSTREAM_SOURCES_TIKTOKBIZ_POLL_INTERVAL", "10s",
		"SHOPSTREAM_SOURCES_WEBHOOKS_LISTEN", p.webhook,
	)...)
}

// groundTruth rebuilds the simulators' world from their description: the
// world is a pure function of its seed, epoch, scale and halo.
func groundTruth(d sim.Description) (*simworld.World, error) {
	return simworld.New(simworld.Config{Seed: d.Seed, Start: d.WorldStart, Scale: d.Scale, Halo: d.Halo, Clock: simworld.NewWallClock()})
}

// add starts a supervised process.
func (p *pipeline) add(name string, args, env []string) {
	env = append(p.commonEnv(name), env...)
	m := &member{name: name, proc: pipelinetest.StartProcess(p.t, name, p.bin, p.dir, args, env), restarted: make(chan struct{}, 1)}
	p.members[name] = m
	p.order = append(p.order, name)
}

// supervise restarts every member that exits, as a container runtime
// does: after the chaos's downtime when the chaos killed it, after a
// second when it exited on its own. It returns when ctx ends.
func (p *pipeline) supervise(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, name := range p.order {
		m := p.members[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.supervise(ctx, p.t)
		}()
	}
	return &wg
}

// member is one supervised process.
type member struct {
	name string
	proc *pipelinetest.Process

	mu        sync.Mutex
	stopped   bool          // stopped for good (the settle phase)
	killed    bool          // the chaos killed the running incarnation
	down      time.Duration // how long it stays down after that kill
	selfExits []string      // how incarnations ended that the chaos did not kill
	restarted chan struct{}
}

// kill SIGKILLs the running incarnation; the supervisor starts the next
// one after down. It reports false when none was running (it had exited
// on its own and waits for its restart).
func (m *member) kill(down time.Duration) bool {
	if !m.running() {
		return false
	}
	m.mu.Lock()
	m.killed, m.down = true, down
	m.mu.Unlock()
	m.proc.Kill()
	return true
}

// stop ends the process with SIGTERM (SIGKILL after timeout) and keeps it
// down.
func (m *member) stop(timeout time.Duration) error {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	err := m.proc.Stop(timeout)
	if err != nil {
		return fmt.Errorf("stop %s: %w", m.name, err)
	}
	return nil
}

// running reports whether an incarnation runs now.
func (m *member) running() bool {
	select {
	case <-m.proc.Exited():
		return false
	default:
		return true
	}
}

func (m *member) supervise(ctx context.Context, t *testing.T) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.proc.Exited():
		}
		m.mu.Lock()
		if m.stopped {
			m.mu.Unlock()
			return
		}
		wait := time.Second
		if m.killed {
			wait, m.killed = m.down, false
		} else {
			err := m.proc.Wait(time.Second)
			m.selfExits = append(m.selfExits, fmt.Sprint(err))
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := m.proc.Relaunch(); err != nil {
			t.Errorf("restart %s: %v", m.name, err)
			return
		}
		select {
		case m.restarted <- struct{}{}:
		default:
		}
	}
}

// exits returns how the incarnations the chaos did not kill ended.
func (m *member) exits() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.selfExits...)
}

// broker is the Kafka broker the soak owns, so that it can kill it.
type broker struct {
	dir, script string
	mu          sync.Mutex
}

func kafkaScript(t *testing.T) string {
	t.Helper()
	// The test runs in test/chaos; the script is the repository's.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	s := filepath.Join(wd, "..", "..", "deploy", "local", "kafka.sh")
	if _, err := os.Stat(s); err != nil {
		t.Fatalf("deploy/local/kafka.sh: %v", err)
	}
	return s
}

func (b *broker) run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, b.script, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kafka.sh %s: %w: %s", strings.Join(args, " "), err, tailOf(errOut.String(), 2000))
	}
	return strings.TrimSpace(out.String()), nil
}

func (b *broker) start(ctx context.Context) (string, error) { return b.run(ctx, "start", b.dir) }

// kill SIGKILLs the broker's JVM, as a crash would.
func (b *broker) kill() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	raw, err := os.ReadFile(filepath.Join(b.dir, "kafka.pid"))
	if err != nil {
		return fmt.Errorf("broker pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fmt.Errorf("broker pid %q: %w", raw, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill broker %d: %w", pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		if procfs.Gone(pid) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// resume starts the killed broker again on its data and port.
func (b *broker) resume(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.run(ctx, "resume", b.dir)
	return err
}

func (b *broker) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = b.run(ctx, "stop", b.dir)
}

// setFaults applies c to every simulated API.
func (p *pipeline) setFaults(ctx context.Context, c fault.Config) error {
	body, err := json.Marshal(c)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.simURL+sim.FaultsPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("set faults: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("set faults: %s: %s", resp.Status, b)
	}
	return nil
}

// faultCounts returns what the simulators injected, per kind over every
// API, and the ids of the entities they broke.
func (p *pipeline) faultCounts(ctx context.Context) (map[string]int, []string, error) {
	var st sim.FaultState
	if err := p.getJSON(ctx, sim.FaultsPath, &st); err != nil {
		return nil, nil, err
	}
	out := map[string]int{}
	for _, counts := range st.Counts {
		for k, n := range counts {
			out[k] += n
		}
	}
	var broken []string
	for _, ids := range st.Broken {
		broken = append(broken, ids...)
	}
	return out, broken, nil
}

func (p *pipeline) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.simURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
