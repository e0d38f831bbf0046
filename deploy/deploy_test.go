// Package deploy_test keeps the deployment files in this directory (compose
// file, Kubernetes manifests, dashboard, alert rules, Dockerfile) honest:
// nothing here is run in CI, so these tests check every setting, command,
// port and metric name the files use against the code that must accept it.
package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/ingest/amazon"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/webhook"
	"github.com/shopstream/shopstream/internal/config"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/transform/stream"
)

// TestFilesParse: every YAML (all documents) and JSON file under deploy/
// parses.
func TestFilesParse(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml":
			yamlDocs(t, path)
		case ".json":
			var v any
			if err := json.Unmarshal(readFile(t, path), &v); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		default:
			return nil
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 {
		t.Errorf("parsed only %d YAML/JSON files; were deployment files moved?", n)
	}
}

// TestConfigAccepted: every shopstream container, in compose.yaml and in the
// manifests, gets a configuration (SHOPSTREAM_* variables, the ConfigMap's
// file, secret files) that the real loader accepts, and that its command
// can run with.
func TestConfigAccepted(t *testing.T) {
	for _, c := range allContainers(t) {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadConfig(t, c)
			needs := func(ok bool, what string) {
				if !ok {
					t.Errorf("%s: `shopstream %s` needs %s", c.name, strings.Join(c.args, " "), what)
				}
			}
			cmd := c.args[0]
			if cmd != "migrate" {
				needs(len(cfg.Kafka.Brokers) > 0, "kafka.brokers")
				needs(cfg.SchemaRegistry.URL != "", "schema_registry.url")
				// Probes and Prometheus come from outside the container.
				needs(!isLoopback(cfg.Metrics.Listen), "metrics.listen on a non-loopback address, not "+cfg.Metrics.Listen)
			}
			if cmd == "migrate" || cmd == "load" {
				// An empty addr means the embedded warehouse, which the
				// production binary does not have.
				needs(cfg.Warehouse.Addr != "", "warehouse.addr")
			}
			if cmd == "ingest" {
				s := cfg.Sources
				configured := map[string]bool{"amazon": s.Amazon.Endpoint != "", "tiktokshop": s.TikTokShop.APIBaseURL != "",
					"webhooks": s.TikTokShop.APIBaseURL != "" && !isLoopback(s.Webhooks.Listen), "tiktokbiz": s.TikTokBiz.BaseURL != ""}
				needs(configured[c.args[1]], "its source configured (and webhooks a non-loopback sources.webhooks.listen)")
			}
		})
	}
}

// TestCommandsExist: every command line the files run names subcommands,
// arguments and flags the binary has, asked through cobra's completion.
func TestCommandsExist(t *testing.T) {
	bin := binary(t)
	seen := map[string]bool{}
	for _, c := range allContainers(t) {
		line := strings.Join(c.args, " ")
		if seen[line] {
			continue
		}
		seen[line] = true
		var path []string
		for _, w := range c.args {
			if strings.HasPrefix(w, "-") {
				flag, _, _ := strings.Cut(w, "=")
				if !slices.Contains(complete(t, bin, append(path, "--")...), flag) {
					t.Errorf("%s: `shopstream %s` has no flag %s", c.name, strings.Join(path, " "), flag)
				}
				continue
			}
			if !slices.Contains(complete(t, bin, append(path, "")...), w) {
				t.Errorf("%s: `shopstream %s` does not take %q", c.name, strings.Join(path, " "), w)
			}
			path = append(path, w)
		}
	}
}

// TestProbesMatchConfig: each Deployment probes, exposes and advertises to
// Prometheus the port its own configuration serves metrics on, and the
// webhook Service and compose port reach the receiver's port.
func TestProbesMatchConfig(t *testing.T) {
	receivers := map[string]container{} // by component label
	receiverPort := map[string]int{}    // sources.webhooks.listen's port, by component label
	for _, c := range k8sContainers(t) {
		if c.args[0] == "migrate" {
			continue
		}
		cfg := loadConfig(t, c)
		metrics := port(t, cfg.Metrics.Listen)
		for kind, p := range map[string]*probe{"livenessProbe": c.liveness, "readinessProbe": c.readiness} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("%s: no %s httpGet", c.name, kind)
				continue
			}
			if got := c.resolvePort(t, string(p.HTTPGet.Port)); got != metrics {
				t.Errorf("%s: %s on port %d, but metrics.listen is %s", c.name, kind, got, cfg.Metrics.Listen)
			}
		}
		if got := c.annotations["prometheus.io/port"]; got != strconv.Itoa(metrics) {
			t.Errorf("%s: prometheus.io/port %q, but metrics.listen is %s", c.name, got, cfg.Metrics.Listen)
		}
		if len(c.args) > 1 && c.args[1] == "webhooks" {
			receivers[c.component], receiverPort[c.component] = c, port(t, cfg.Sources.Webhooks.Listen)
		}
	}
	services := 0
	for _, o := range k8sObjects(t) {
		if o.kind != "Service" {
			continue
		}
		var svc struct {
			Spec struct {
				Selector map[string]string
				Ports    []struct {
					TargetPort intOrString
				}
			}
		}
		decode(t, o, &svc)
		component := svc.Spec.Selector["app.kubernetes.io/component"]
		rc, ok := receivers[component]
		if !ok {
			t.Errorf("%s: Service %s selects no webhook receiver", o.file, o.name)
			continue
		}
		for _, p := range svc.Spec.Ports {
			if got := rc.resolvePort(t, string(p.TargetPort)); got != receiverPort[component] {
				t.Errorf("%s: Service %s targets port %d, the receiver listens on %d", o.file, o.name, got, receiverPort[component])
			}
		}
		services++
	}
	if services == 0 {
		t.Error("no Service exposes the webhook receiver")
	}
	for _, c := range composeContainers(t) {
		if len(c.args) < 2 || c.args[1] != "webhooks" {
			continue
		}
		want := strconv.Itoa(port(t, loadConfig(t, c).Sources.Webhooks.Listen))
		if !slices.ContainsFunc(c.published, func(p string) bool { return strings.HasSuffix(p, ":"+want) }) {
			t.Errorf("%s: ports %v publish no container port %s (sources.webhooks.listen)", c.name, c.published, want)
		}
	}
}

// TestProbesServed starts every Deployment's command with its own
// configuration, its dependencies pointed at a server that never answers
// (so the stage waits and keeps serving), and asks the paths its probes and
// Prometheus use: liveness and metrics answer, readiness says the stage is
// not ready and names Kafka, which does not answer.
func TestProbesServed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	bin := binary(t)
	addr := testenv.SilentAddr(t)
	for _, c := range k8sContainers(t) {
		if c.args[0] == "migrate" {
			continue
		}
		t.Run(c.component, func(t *testing.T) {
			env := c.fileEnv(t)
			env["SHOPSTREAM_KAFKA_BROKERS"] = addr
			env["SHOPSTREAM_SCHEMA_REGISTRY_URL"] = "http://" + addr
			env["SHOPSTREAM_WAREHOUSE_ADDR"] = addr
			// Free ports: tests run beside `make run`, which holds 9464.
			env["SHOPSTREAM_METRICS_LISTEN"] = "127.0.0.1:0"
			if _, ok := env["SHOPSTREAM_SOURCES_WEBHOOKS_LISTEN"]; ok {
				env["SHOPSTREAM_SOURCES_WEBHOOKS_LISTEN"] = "127.0.0.1:0"
			}
			base := serveAddr(t, bin, c.args, env)
			for p, want := range map[string]int{c.liveness.HTTPGet.Path: http.StatusOK, c.annotations["prometheus.io/path"]: http.StatusOK,
				c.readiness.HTTPGet.Path: http.StatusServiceUnavailable} {
				resp, err := http.Get("http://" + base + p)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("%s: GET %s = %s, want %d: %s", c.name, p, resp.Status, want, body)
				}
				if want != http.StatusOK && !strings.Contains(string(body), "kafka") {
					t.Errorf("%s: GET %s does not name the dependency that does not answer: %s", c.name, p, body)
				}
			}
		})
	}
}

// TestMetricNamesRegistered: every metric the dashboard and the alert rules
// query is one the stages register (histograms with their _bucket, _sum and
// _count series).
func TestMetricNamesRegistered(t *testing.T) {
	known := registeredMetrics(t)
	metricRE := regexp.MustCompile(`\b(?:shopstream|process|go)_[A-Za-z0-9_]+`)
	quotedRE := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	for _, f := range []string{"grafana/shopstream.json", "prometheus/alerts.yaml"} {
		var exprs []string
		for _, doc := range yamlDocs(t, f) { // JSON is YAML
			walk(doc, func(key string, v any) {
				if s, ok := v.(string); ok && key == "expr" {
					exprs = append(exprs, s)
				}
			})
		}
		if len(exprs) == 0 {
			t.Errorf("%s: no expr found", f)
		}
		for _, e := range exprs {
			names := metricRE.FindAllString(quotedRE.ReplaceAllString(e, `""`), -1)
			if len(names) == 0 {
				t.Errorf("%s: %q queries no shopstream metric", f, e)
			}
			for _, n := range names {
				if !known.has(n) {
					t.Errorf("%s: %q uses %s, which no stage registers", f, e, n)
				}
			}
		}
	}
}

// TestAlertRulesComplete: each rule can be routed and read.
func TestAlertRulesComplete(t *testing.T) {
	var rules struct {
		Groups []struct {
			Name  string
			Rules []struct {
				Alert       string
				Expr        string
				For         string
				Labels      map[string]string
				Annotations map[string]string
			}
		}
	}
	decodeInto(t, "prometheus/alerts.yaml", yamlDocs(t, "prometheus/alerts.yaml")[0], &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("group %s: rule %q needs alert, expr, labels.severity and annotations.summary", g.Name, r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("rule %s: for: %v", r.Alert, err)
				}
			}
		}
	}
}

// TestDockerfile: the image builds with the Go release go.mod asks for,
// the production way (no chdb tag, no cgo), and exposes the ports the
// manifests use.
func TestDockerfile(t *testing.T) {
	df := string(readFile(t, "Dockerfile"))
	goMod := string(readFile(t, "../go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if goVersion == nil {
		t.Fatal("go.mod: no go directive")
	}
	if !strings.Contains(df, "FROM golang:"+goVersion[1]+" ") {
		t.Errorf("Dockerfile: build stage is not golang:%s (go.mod)", goVersion[1])
	}
	for _, want := range []string{"CGO_ENABLED=0 go build", "./cmd/shopstream", `ENTRYPOINT ["shopstream"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: missing %q", want)
		}
	}
	if strings.Contains(df, "chdb") {
		t.Error("Dockerfile: the production image is built without the chdb tag")
	}
	if !regexp.MustCompile(`(?m)^USER [1-9]`).MatchString(df) {
		t.Error("Dockerfile: needs a numeric non-root USER (runAsNonRoot checks it)")
	}
	exposed := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(df)
	for _, c := range k8sContainers(t) {
		for name, p := range c.ports {
			if exposed == nil || !slices.Contains(strings.Fields(exposed[1]), strconv.Itoa(p)) {
				t.Errorf("Dockerfile: EXPOSE lacks %d (%s port %s)", p, c.name, name)
			}
		}
	}
}

// container is one shopstream container of compose.yaml or a manifest.
type container struct {
	name      string // for messages: file and service or workload
	component string
	args      []string
	env       map[string]string
	// files returns what the test puts at a path the container reads (the
	// ConfigMap's file, a placeholder secret), false if nothing mounts it.
	files func(path string) (string, bool)
	// Kubernetes only.
	ports               map[string]int
	liveness, readiness *probe
	annotations         map[string]string
	// Compose only: published ports.
	published []string
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port intOrString
	}
}

// intOrString is a Kubernetes port: a number or a port name.
type intOrString string

func (p *intOrString) UnmarshalJSON(b []byte) error {
	*p = intOrString(strings.Trim(string(b), `"`))
	return nil
}

// resolvePort turns a probe or Service port (name or number) into a number.
func (c container) resolvePort(t *testing.T, p string) int {
	if n, err := strconv.Atoi(p); err == nil {
		return n
	}
	n, ok := c.ports[p]
	if !ok {
		t.Errorf("%s: no container port named %q", c.name, p)
	}
	return n
}

// fileEnv is the container's SHOPSTREAM_* environment with the files it
// names (SHOPSTREAM_CONFIG, *_FILE) written to temporary ones.
func (c container) fileEnv(t *testing.T) map[string]string {
	env := map[string]string{}
	for k, v := range c.env {
		if !strings.HasPrefix(k, config.EnvPrefix) {
			continue
		}
		if k == "SHOPSTREAM_CONFIG" || strings.HasSuffix(k, "_FILE") {
			content, ok := c.files(v)
			if !ok {
				t.Errorf("%s: %s=%s, but no volume or secret provides that file", c.name, k, v)
			}
			f := filepath.Join(t.TempDir(), filepath.Base(v))
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			v = f
		}
		env[k] = v
	}
	return env
}

// loadConfig runs the real config loader on the container's environment
// and files, with nothing of the test process's own SHOPSTREAM_* leaking in.
func loadConfig(t *testing.T, c container) *config.Config {
	t.Helper()
	env := c.fileEnv(t)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "") // restores it after the test
			_ = os.Unsetenv(name)
		}
	}
	for k, v := range env {
		if k != "SHOPSTREAM_CONFIG" {
			t.Setenv(k, v)
		}
	}
	cfg, err := config.Load(env["SHOPSTREAM_CONFIG"])
	if err != nil {
		t.Fatalf("%s: the config loader rejects its configuration:\n%v", c.name, err)
	}
	return cfg
}

func allContainers(t *testing.T) []container {
	return append(composeContainers(t), k8sContainers(t)...)
}

// composeContainers are the compose services built from deploy/Dockerfile.
func composeContainers(t *testing.T) []container {
	var compose struct {
		Services map[string]struct {
			Build       any
			Command     []string
			Environment map[string]any
			Secrets     []string
			Ports       []string
		}
		Secrets map[string]any
	}
	decodeInto(t, "compose.yaml", yamlDocs(t, "compose.yaml")[0], &compose) // anchors and merges resolved
	// Compose substitutes ${VAR:-default} from the shell; any value will do.
	interp := regexp.MustCompile(`\$\{[^}]*\}`)
	var out []container
	for name, s := range compose.Services {
		if s.Build == nil {
			continue
		}
		mounted := map[string]bool{}
		for _, sec := range s.Secrets {
			if _, ok := compose.Secrets[sec]; !ok {
				t.Errorf("compose.yaml: service %s uses undefined secret %s", name, sec)
			}
			mounted["/run/secrets/"+sec] = true
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = interp.ReplaceAllString(fmt.Sprint(v), "placeholder")
		}
		out = append(out, container{name: "compose.yaml " + name, component: name, args: s.Command, env: env, published: s.Ports,
			files: func(p string) (string, bool) { return "placeholder", mounted[p] }})
	}
	if len(out) < 6 {
		t.Fatalf("compose.yaml: %d shopstream services, want migrate, three ingest stages, transform, load", len(out))
	}
	return out
}

type k8sObject struct {
	file, kind, name string
	doc              map[string]any
}

func k8sObjects(t *testing.T) []k8sObject {
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in k8s/: %v", err)
	}
	var out []k8sObject
	for _, f := range files {
		for _, doc := range yamlDocs(t, f) {
			var head struct {
				Kind     string
				Metadata struct{ Name string }
			}
			decodeInto(t, f, doc, &head)
			out = append(out, k8sObject{file: f, kind: head.Kind, name: head.Metadata.Name, doc: doc})
		}
	}
	return out
}

func decode(t *testing.T, o k8sObject, v any) {
	t.Helper()
	decodeInto(t, o.file+": "+o.kind+" "+o.name, o.doc, v)
}

// decodeInto fills the struct v from a parsed document, through JSON: its
// field names match Kubernetes' and compose's camelCase keys.
func decodeInto(t *testing.T, where string, doc map[string]any, v any) {
	t.Helper()
	b, err := json.Marshal(doc)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

// k8sContainers are the containers of the Deployments and Jobs, with the
// files their ConfigMap and Secret volumes provide.
func k8sContainers(t *testing.T) []container {
	objs := k8sObjects(t)
	configMaps := map[string]map[string]string{}
	for _, o := range objs {
		if o.kind == "ConfigMap" {
			var cm struct{ Data map[string]string }
			decode(t, o, &cm)
			configMaps[o.name] = cm.Data
		}
	}
	var out []container
	for _, o := range objs {
		if o.kind != "Deployment" && o.kind != "Job" {
			continue
		}
		var w struct {
			Spec struct {
				Template struct {
					Metadata struct {
						Labels      map[string]string
						Annotations map[string]string
					}
					Spec struct {
						Containers []struct {
							Name, Image string
							Args        []string
							Env         []struct{ Name, Value string }
							Ports       []struct {
								Name          string
								ContainerPort int
							}
							LivenessProbe  *probe
							ReadinessProbe *probe
							VolumeMounts   []struct {
								Name      string
								MountPath string
							}
						}
						Volumes []struct {
							Name      string
							ConfigMap *struct{ Name string }
							Secret    *struct {
								SecretName string
							}
						}
					}
				}
			}
		}
		decode(t, o, &w)
		pod := w.Spec.Template
		for _, ct := range pod.Spec.Containers {
			c := container{name: fmt.Sprintf("%s %s/%s", o.file, o.name, ct.Name), component: pod.Metadata.Labels["app.kubernetes.io/component"],
				args: ct.Args, env: map[string]string{}, ports: map[string]int{}, liveness: ct.LivenessProbe, readiness: ct.ReadinessProbe,
				annotations: pod.Metadata.Annotations}
			for _, e := range ct.Env {
				c.env[e.Name] = e.Value
			}
			for _, p := range ct.Ports {
				c.ports[p.Name] = p.ContainerPort
			}
			// Mount path -> ConfigMap data (nil: a Secret, whose keys the
			// operator creates).
			mounts := map[string]map[string]string{}
			for _, m := range ct.VolumeMounts {
				for _, v := range pod.Spec.Volumes {
					switch {
					case v.Name != m.Name:
					case v.ConfigMap != nil:
						data, ok := configMaps[v.ConfigMap.Name]
						if !ok {
							t.Errorf("%s: ConfigMap %s is not in k8s/", c.name, v.ConfigMap.Name)
						}
						mounts[m.MountPath] = data
					case v.Secret != nil:
						mounts[m.MountPath] = nil
					}
				}
			}
			c.files = func(p string) (string, bool) {
				data, ok := mounts[filepath.Dir(p)]
				if !ok {
					return "", false
				}
				if data == nil {
					return "placeholder", true
				}
				content, ok := data[filepath.Base(p)]
				return content, ok
			}
			out = append(out, c)
		}
	}
	if len(out) < 6 {
		t.Fatalf("k8s/: %d shopstream containers, want migrate, three ingest stages, transform, load", len(out))
	}
	return out
}

// metricSet is the metric families the stages register, by type.
type metricSet map[string]dto.MetricType

func (m metricSet) has(name string) bool {
	if _, ok := m[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		typ, ok := m[strings.TrimSuffix(name, suffix)]
		if strings.HasSuffix(name, suffix) && ok &&
			(typ == dto.MetricType_HISTOGRAM || typ == dto.MetricType_SUMMARY && suffix != "_bucket") {
			return true
		}
	}
	return false
}

// describing records the name and type of every metric registered through
// it: vectors without children are not gathered, so their descriptions are
// the only trace of them.
type describing struct {
	prometheus.Registerer
	set metricSet
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d describing) Register(c prometheus.Collector) error {
	typ := dto.MetricType_UNTYPED
	switch c.(type) {
	case *prometheus.HistogramVec:
		typ = dto.MetricType_HISTOGRAM
	case *prometheus.SummaryVec:
		typ = dto.MetricType_SUMMARY
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqNameRE.FindStringSubmatch(desc.String()); m != nil {
			d.set[m[1]] = typ
		}
	}
	return d.Registerer.Register(c)
}

func (d describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// registeredMetrics constructs the stages' metrics the way cmd/shopstream
// does (serveOps adds the Go and process collectors).
func registeredMetrics(t *testing.T) metricSet {
	reg := prometheus.NewRegistry()
	d := describing{Registerer: reg, set: metricSet{}}
	if _, err := stage.NewMetrics(d); err != nil {
		t.Fatal(err)
	}
	load.NewMetrics(d)
	stream.NewMetrics(d)
	// The API clients and the webhook receiver register theirs when built.
	must := func(_ any, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(supervise.NewMetrics(d))
	must(amazon.NewClient(amazon.Config{Endpoint: "http://127.0.0.1:1", MarketplaceID: "ATVPDKIKX0DER",
		Credentials: amazon.Credentials{ClientID: "id", ClientSecret: "secret", RefreshToken: "token"}, Registerer: d}))
	must(tiktokshop.New(tiktokshop.Config{APIBaseURL: "http://127.0.0.1:1", AppKey: "key", AppSecret: "secret", AuthCode: "code", Registerer: d}))
	must(tiktokbiz.New(tiktokbiz.Config{BaseURL: "http://127.0.0.1:1", BusinessID: "id", AccessToken: "token", Registerer: d}))
	must(webhook.NewHandler(webhook.Config{AppKey: "key", AppSecret: "secret", Writer: nopWriter{}, Registerer: d}))
	d.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families { // the real types, where there are series
		d.set[f.GetName()] = f.GetType()
	}
	return d.set
}

type nopWriter struct{}

func (nopWriter) WriteRecord(context.Context, string, string, map[string]any) error { return nil }

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// binary is $SHOPSTREAM_TEST_BINARY (what make test builds), else a plain
// production build of cmd/shopstream.
func binary(t *testing.T) string {
	if b := os.Getenv("SHOPSTREAM_TEST_BINARY"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shopstream-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "shopstream")
		out, err := exec.Command("go", "build", "-o", builtBin, "../cmd/shopstream").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		_ = os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// complete lists what cobra offers after words (the last one being the
// prefix to complete): subcommands, valid arguments or flags.
func complete(t *testing.T, bin string, words ...string) []string {
	out, err := exec.Command(bin, append([]string{"__complete"}, words...)...).Output()
	if err != nil {
		t.Fatalf("shopstream __complete %v: %v", words, err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, ":") { // the directive ends the list
			break
		}
		if name, _, _ := strings.Cut(line, "\t"); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// serveAddr starts bin with args and env, and returns the address it
// serves metrics on, read from its "serving metrics" log line.
func serveAddr(t *testing.T, bin string, args []string, env map[string]string) string {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		if k == "SHOPSTREAM_CONFIG" {
			cmd.Args = append(cmd.Args, "--config", v)
			continue
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			var line struct{ Metrics string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Metrics != "" {
				found <- line.Metrics
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		close(found)
	}()
	select {
	case a, ok := <-found:
		if !ok {
			t.Fatalf("shopstream %v stopped before serving metrics:\n%s", args, log.String())
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("shopstream %v did not report its metrics address", args)
	}
	return ""
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// yamlDocs parses every document of a YAML (or JSON) file, with the YAML
// library the config loader uses (through koanf, so go.mod needs nothing
// new); documents are split at "---" lines, as this directory writes them.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, chunk := range docSeparator.Split(string(readFile(t, path)), -1) {
		doc, err := kyaml.Parser().Unmarshal([]byte(chunk))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(doc) > 0 {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return docs
}

// walk calls fn for every map entry in v, at any depth.
func walk(v any, fn func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			fn(k, x)
			walk(x, fn)
		}
	case []any:
		for _, x := range v {
			walk(x, fn)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func port(t *testing.T, hostPort string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostPort)
	n, err2 := strconv.Atoi(p)
	if err != nil || err2 != nil {
		t.Fatalf("%q is not host:port", hostPort)
	}
	return n
}

func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
