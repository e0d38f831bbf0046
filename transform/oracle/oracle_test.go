package oracle

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

// env is one test's world: the real broker with topics under a prefix of
// their own, a schema registry over HTTP, a fresh embedded warehouse with
// the migrations applied and a loader of every topic the oracle reads.
type env struct {
	t       *testing.T
	brokers []string
	prefix  string
	group   string
	regURL  string
	serde   *schemas.Serde
	adm     *kadm.Client
	conn    driver.Conn
	counts  map[string]int // input records produced per topic

	// The transform's configuration (see configure).
	evenSplit   bool
	mappingFile string
}

// mappingColumns is the header of the mapping file: not in the documented
// order, and with a note, both of which the file format allows.
var mappingColumns = []string{"channel", "channel_id", "product_key", "note"}

// configure sets the transform's attribution and mapping file (rows, nil
// for none), and loads the same file into the warehouse as oracle_mapping,
// which identity.sql reads. ClickHouse parses the CSV itself, so the two
// sides share no parsing code.
func (e *env) configure(v variant, rows [][]string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.evenSplit = v.evenSplit
	for _, q := range []string{"DROP TABLE IF EXISTS oracle_mapping",
		MappingTable} {
		if err := e.conn.Exec(ctx, q); err != nil {
			e.t.Fatal(err)
		}
	}
	if rows == nil {
		return
	}
	var buf bytes.Buffer
	if err := csv.NewWriter(&buf).WriteAll(append([][]string{mappingColumns}, rows...)); err != nil {
		e.t.Fatal(err)
	}
	e.mappingFile = filepath.Join(e.t.TempDir(), "mapping.csv")
	if err := os.WriteFile(e.mappingFile, buf.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
	var structure []string
	for _, c := range mappingColumns {
		structure = append(structure, c+" String")
	}
	literal := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	q := fmt.Sprintf("INSERT INTO oracle_mapping SELECT product_key, channel, channel_id FROM format(CSVWithNames, '%s', '%s')",
		strings.Join(structure, ", "), literal.Replace(buf.String()))
	if err := e.conn.Exec(ctx, q); err != nil {
		e.t.Fatal(err)
	}
}

// oracleRelation is the join oracle for the env's attribution.
func (e *env) oracleRelation() string {
	return relation(e.evenSplit, zones)
}

// loadedTopics are the topics the loader lands: the transform's inputs
// (raw change tables for the oracle) and outputs.
func loadedTopics() []string {
	return append(stream.Topics(), identity.TopicProductLinks, join.TopicProductDaily)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	k := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	brokers := k.Brokers
	e := &env{t: t, brokers: brokers, prefix: k.Prefix, regURL: k.RegistryURL, serde: k.Serde, adm: k.Admin, counts: map[string]int{}}
	e.group = strings.TrimSuffix(e.prefix, ".") + "-transform"
	k.CreateTopics(t, 3, loadedTopics()...)

	var err error
	wh := testenv.StartWarehouse(t)
	e.conn, err = load.Open(ctx, load.Warehouse{Addr: wh.Addr, Protocol: "http", MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.conn.Close() })
	if _, err := load.Migrate(ctx, e.conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := load.New(load.Options{
		Brokers: brokers, Group: e.prefix + "load", Topics: loadedTopics(), TopicPrefix: e.prefix, HTTP: true,
		BatchRows: 500, BatchBytes: 4 << 20, MaxWait: 100 * time.Millisecond, MaxInFlight: 8,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}, e.serde, e.conn)
	if err != nil {
		t.Fatal(err)
	}
	testenv.RunUntilCleanup(t, "loader", l.Run)
	return e
}

// produce writes inputs in one transaction, as ingest does.
func (e *env) produce(ins []schematest.Input) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs := make([]*kgo.Record, 0, len(ins))
	for _, in := range ins {
		b, err := e.serde.Encode(in.Topic, in.Value)
		if err != nil {
			e.t.Fatalf("encode %s %s: %v", in.Topic, in.Key, err)
		}
		rs = append(rs, &kgo.Record{Topic: e.prefix + in.Topic, Key: []byte(in.Key), Value: b})
		e.counts[in.Topic]++
	}
	testenv.ProduceCommitted(e.t, ctx, e.brokers, e.prefix+"ingest", rs...)
}

// transform is a running transform process.
type transform struct {
	cmd     *exec.Cmd
	done    chan struct{}
	metrics string // URL of its /metrics
	log     string
}

// startTransform runs instance id of the transform as a child process
// configured by environment, as production does, so that it can be killed
// with SIGKILL like a crashed stage. Its state directory is
// <stateDir>/<id>, kept across its restarts.
func (e *env) startTransform(id int, stateDir string) *transform {
	e.t.Helper()
	addr := testenv.FreeAddr(e.t)
	logf, err := os.CreateTemp(e.t.TempDir(), "transform-*.log")
	if err != nil {
		e.t.Fatal(err)
	}
	defer logf.Close()
	// By default the child is this test binary running stream.New with
	// the broker's minimum session timeout (TestTransformChild);
	// ORACLE_BINARY=1 runs `shopstream transform` instead (default 45 s
	// session timeout: slower, as tasks of a member that does not come
	// back move only when its session ends).
	cmd := exec.Command(os.Args[0], "-test.run=^TestTransformChild$")
	if os.Getenv("ORACLE_BINARY") == "1" {
		cmd = exec.Command(testenv.Binary(e.t), "transform")
	}
	attribution := "full"
	if e.evenSplit {
		attribution = "even"
	}
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"SHOPSTREAM_KAFKA_BROKERS="+strings.Join(e.brokers, ","),
		"SHOPSTREAM_SCHEMA_REGISTRY_URL="+e.regURL,
		"SHOPSTREAM_METRICS_LISTEN="+addr,
		"SHOPSTREAM_LOG_LEVEL=info",
		"SHOPSTREAM_TRANSFORM_GROUP="+e.group,
		fmt.Sprintf("SHOPSTREAM_TRANSFORM_INSTANCE_ID=%d", id),
		"SHOPSTREAM_TRANSFORM_STATE_DIR="+stateDir,
		fmt.Sprintf("SHOPSTREAM_TRANSFORM_PARTITIONS=%d", internalPartitions),
		"SHOPSTREAM_KAFKA_TOPIC_PREFIX="+e.prefix,
		"SHOPSTREAM_TRANSFORM_ATTRIBUTION="+attribution,
		"SHOPSTREAM_TRANSFORM_MAPPING_FILE="+e.mappingFile,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	tr := &transform{cmd: cmd, done: make(chan struct{}), metrics: "http://" + addr + "/metrics", log: logf.Name()}
	go func() { _ = cmd.Wait(); close(tr.done) }()
	e.t.Cleanup(func() {
		tr.kill()
		if e.t.Failed() {
			b, _ := os.ReadFile(tr.log)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			e.t.Logf("transform log %s (tail):\n%s", tr.log, b)
		}
	})
	deadline := time.Now().Add(time.Minute)
	for tr.counter(recordsIn) < 0 {
		select {
		case <-tr.done:
			b, _ := os.ReadFile(tr.log)
			e.t.Fatalf("the transform process ended before it served metrics:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the transform process does not serve metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return tr
}

// counter returns the sum of a counter of the process's metrics; -1 while
// they cannot be read. Both count what committed transactions consumed
// (records_in, inputs) and produced (records_out, internal records
// excluded) since the process started.
func (tr *transform) counter(name string) int64 {
	resp, err := http.Get(tr.metrics)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += v
		}
	}
	if resp.StatusCode != http.StatusOK || sc.Err() != nil {
		return -1
	}
	return int64(n)
}

// childEnv makes TestTransformChild run the transform.
const childEnv = "ORACLE_TRANSFORM_CHILD"

// TestTransformChild is the transform process of TestOracle, configured
// like `shopstream transform` by SHOPSTREAM_* variables; it does nothing in
// a normal run.
func TestTransformChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as a child of TestOracle")
	}
	ctx := context.Background()
	_, serde := testenv.SerdeAt(t, ctx, os.Getenv("SHOPSTREAM_SCHEMA_REGISTRY_URL"))
	mapping, err := identity.LoadMapping(os.Getenv("SHOPSTREAM_TRANSFORM_MAPPING_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	var jcfg join.Config
	if os.Getenv("SHOPSTREAM_TRANSFORM_ATTRIBUTION") == "even" {
		jcfg.Attribution = join.EvenSplit
	}
	reg := prometheus.NewRegistry()
	metrics := stream.NewMetrics(reg)
	ln, err := net.Listen("tcp", os.Getenv("SHOPSTREAM_METRICS_LISTEN"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{})) }()
	id := os.Getenv("SHOPSTREAM_TRANSFORM_INSTANCE_ID")
	partitions, err := strconv.Atoi(os.Getenv("SHOPSTREAM_TRANSFORM_PARTITIONS"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := stream.New(stream.Config{
		Brokers:     strings.Split(os.Getenv("SHOPSTREAM_KAFKA_BROKERS"), ","),
		Group:       os.Getenv("SHOPSTREAM_TRANSFORM_GROUP"),
		InstanceID:  id,
		StateDir:    filepath.Join(os.Getenv("SHOPSTREAM_TRANSFORM_STATE_DIR"), id),
		Partitions:  partitions,
		TopicPrefix: os.Getenv("SHOPSTREAM_KAFKA_TOPIC_PREFIX"),
		Serde:       serde,
		Mapping:     mapping,
		Join:        jcfg,
		Metrics:     metrics,
		// A member that does not come back within its session leaves the
		// group and its tasks move; the broker's minimum keeps it quick.
		ClientOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second)},
		Log:        zerolog.New(os.Stderr).Level(zerolog.InfoLevel).With().Timestamp().Str("instance", id).Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tr.Run(ctx)
	t.Fatalf("transform stopped: %v", err)
}

// Counters of the transform's metrics.
const (
	recordsIn  = "shopstream_transform_records_in_total"
	recordsOut = "shopstream_transform_records_out_total"
)

// killAfter kills the process with SIGKILL once counter has reached n, or
// after timeout; it returns the counter's last value.
func (tr *transform) killAfter(counter string, n int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	var got int64
	for {
		got = tr.counter(counter)
		if got >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr.kill()
	return got
}

// kill ends the process with SIGKILL and waits for it.
func (tr *transform) kill() {
	_ = tr.cmd.Process.Kill()
	<-tr.done
}

func (e *env) lines(ctx context.Context, q string) ([]string, error) {
	rows, err := e.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// loaded reports whether every produced input is in its raw change table.
func (e *env) loaded(ctx context.Context) (bool, string) {
	for topic, n := range e.counts {
		table := strings.ReplaceAll(topic, ".", "_") + "_changes"
		got, err := e.lines(ctx, "SELECT toString(count()) FROM "+table)
		if err != nil || len(got) != 1 || got[0] != fmt.Sprint(n) {
			return false, fmt.Sprintf("%s: %v of %d (%v)", table, got, n, err)
		}
	}
	return true, ""
}

// waitMembers waits until the transform group has n members: the broker
// has dropped a killed process once its session timed out.
func (e *env) waitMembers(n int) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		gs, err := e.adm.DescribeGroups(ctx, e.group)
		cancel()
		if err == nil {
			if g, ok := gs[e.group]; ok && g.Err == nil && len(g.Members) == n {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("the transform group does not have %d members: %v %v", n, gs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lag returns the transform group's lag over its input topics.
func (e *env) lag(ctx context.Context) int64 {
	lags, err := e.adm.Lag(ctx, e.group)
	if err != nil {
		return -1
	}
	l := lags[e.group]
	if l.Error() != nil {
		return -1
	}
	return l.Lag.Total()
}

// converge waits until the raw tables hold every input, the transform has
// committed them all and product_daily equals the oracle; on the deadline
// it fails with a diff, and at once when one of the transform processes
// trs has ended (they only end when killed).
func (e *env) converge(what string, trs []*transform) {
	e.t.Helper()
	// Generous: on a loaded machine one run of the oracle query takes a
	// minute (a clean one, a few seconds).
	deadline := time.Now().Add(8 * time.Minute)
	oracleQ := lineQuery(e.oracleRelation())
	actualQ := lineQuery(actualRelation)
	wantLinksQ, gotLinksQ := fmt.Sprintf(linkLine, identitySQL), fmt.Sprintf(linkLine, actualLinks)
	began := time.Now()
	var last string
	var differSince time.Time // since when a caught-up stage has differed
	for {
		for _, tr := range trs {
			select {
			case <-tr.done:
				b, _ := os.ReadFile(tr.log)
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				e.t.Fatalf("%s: a transform process ended by itself (log %s):\n%s", what, tr.log, b)
			default:
			}
		}
		ok, caughtUp, state := e.compare(oracleQ, actualQ, wantLinksQ, gotLinksQ)
		if ok {
			e.t.Logf("%s: product_daily and product_links equal the oracles: %s (waited %s)",
				what, state, time.Since(began).Round(time.Millisecond))
			return
		}
		last = state
		switch {
		case !caughtUp:
			differSince = time.Time{}
		case differSince.IsZero():
			differSince = time.Now()
		case time.Since(differSince) > 2*time.Minute:
			// Every input is committed and loaded: only the outputs'
			// loading may still be behind, and not for this long.
			deadline = time.Now()
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: product_daily does not equal the oracle: %s\ncolumns: product_key | date | %s", what, last, columnNames())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// compare runs both oracles once all inputs are loaded and the transform
// has committed them all; state says what differs or what is missing.
func (e *env) compare(oracleQ, actualQ, wantLinksQ, gotLinksQ string) (ok, caughtUp bool, state string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if ok, state := e.loaded(ctx); !ok {
		return false, false, state
	}
	if lag := e.lag(ctx); lag != 0 {
		return false, false, fmt.Sprintf("transform lag %d", lag)
	}
	var res [4][]string
	for i, q := range []string{oracleQ, actualQ, wantLinksQ, gotLinksQ} {
		var err error
		if res[i], err = e.lines(ctx, q); err != nil {
			if ctx.Err() != nil {
				return false, false, fmt.Sprintf("query: %v", err)
			}
			e.t.Fatalf("query %d: %v", i, err)
		}
	}
	want, got, wantLinks, gotLinks := res[0], res[1], res[2], res[3]
	if slices.Equal(got, want) && slices.Equal(gotLinks, wantLinks) {
		return true, true, fmt.Sprintf("%d rows, %d links", len(want), len(wantLinks))
	}
	return false, true, fmt.Sprintf("%d rows, oracle %d; diff (- product_daily, + oracle):\n%s\n%d links, oracle %d; diff (- product_links, + identity oracle):\n%s",
		len(got), len(want), diff(got, want), len(gotLinks), len(wantLinks), diff(gotLinks, wantLinks))
}

// variant is a configuration of the transform under the oracle, with the
// worlds that exercise it.
type variant struct {
	name string
	// seeds are the worlds run with one transform instance, seeds3 those
	// run with three (ORACLE_LONG=1 adds long3).
	seeds, seeds3, long3 []uint64
	kills                int // SIGKILL rounds while the second half arrives
	// evenSplit runs the join with join.EvenSplit instead of FullCredit;
	// its worlds' videos show up to three products, so that there are
	// remainders to hand out.
	evenSplit bool
	// mapping gives the transform a mapping file (world.mappingRows).
	mapping bool
	// mixCurrencies puts a second currency into the world.
	mixCurrencies bool
}

var variants = []variant{
	{name: "full", seeds: []uint64{1, 2}, seeds3: []uint64{4}, long3: []uint64{5, 6, 8}, kills: 3},
	// The split and the mapping change what rows hold, not how the stage
	// recovers: one world and fewer kills keep the package's time down.
	{name: "even_mapped", seeds: []uint64{3}, long3: []uint64{7}, kills: 2, evenSplit: true, mapping: true, mixCurrencies: true},
}

// internalPartitions is the transform's partitions (transform.partitions)
// in the oracle: more than one task per step for three instances.
const internalPartitions = 4

// The size of the worlds.
const worldProducts, worldVideos = 28, 24

// worldOf returns the world generator of a variant and seed.
func worldOf(t testing.TB, v variant, seed uint64) *world {
	w := newWorld(t, seed)
	// Off in the committed runs: the world it generates leaves no row for
	// the several-GTINs conflict, which the coverage check demands (see
	// world.staleIdentity).
	w.staleIdentity = os.Getenv("ORACLE_STALE_IDENTITY") == "1"
	if v.evenSplit {
		w.maxShown = 3
	}
	w.mixCurrencies, w.mapped = v.mixCurrencies, v.mapping
	return w
}

// TestOracle: a seeded world of input changes goes through the transform
// and the loader; product_daily and product_links must equal the oracles
// computed in SQL over the raw change tables, row by row. Then the rest of
// the world arrives while transform processes are killed with SIGKILL at
// random points and restarted, and the tables must equal the oracles
// again. Each variant runs the transform in another configuration, with
// one instance and with three instances of one group (which rebalance
// their tasks as instances die, leave and come back).
func TestOracle(t *testing.T) {
	long := os.Getenv("ORACLE_LONG") == "1"
	for _, v := range variants {
		runs := []struct {
			seeds     []uint64
			instances int
		}{{v.seeds, 1}, {v.seeds3, 3}}
		if long {
			runs = append(runs, struct {
				seeds     []uint64
				instances int
			}{v.long3, 3})
		}
		for _, r := range runs {
			for _, seed := range r.seeds {
				t.Run(fmt.Sprintf("%s_seed%d_%dinstances", v.name, seed, r.instances), func(t *testing.T) {
					// Worlds are independent (own topics, group and warehouse),
					// and most of a run is waiting for the group to rebalance.
					t.Parallel()
					testOracle(t, v, seed, r.instances)
				})
			}
		}
	}
}

func testOracle(t *testing.T, v variant, seed uint64, instances int) {
	e := newEnv(t)
	w := worldOf(t, v, seed)
	ins := w.build(worldProducts, worldVideos)
	e.configure(v, w.mapping)
	t.Logf("world of seed %d: %d input changes, %d instances", seed, len(ins), instances)
	rng := rand.New(rand.NewPCG(seed, 7))

	// First half, one clean run.
	half := len(ins) / 2
	start := time.Now()
	e.produce(ins[:half])
	stateDir := t.TempDir()
	trs := make([]*transform, instances)
	for i := range trs {
		trs[i] = e.startTransform(i, stateDir)
	}
	e.converge("first half", trs)

	// The rest in parts, each in several transactions while the stage
	// runs, and a SIGKILL of a random instance at a random point: as soon
	// as it serves metrics (before it has its tasks), once it has
	// committed a random number of inputs, or once it has committed a
	// random number of outputs.
	rest := ins[half:]
	kills := v.kills
	if instances > 1 {
		kills++
	}
	for k := range kills {
		part := rest[k*len(rest)/kills : (k+1)*len(rest)/kills]
		for c := range 5 {
			e.produce(part[c*len(part)/5 : (c+1)*len(part)/5])
		}
		victim := rng.IntN(instances)
		counter, n := recordsIn, int64(0)
		switch rng.IntN(4) {
		case 0:
		case 1:
			counter, n = recordsOut, 1+rng.Int64N(int64(len(part)/instances))
		default:
			n = 1 + rng.Int64N(int64(len(part)/instances))
		}
		// An instance that gets few tasks may never reach n: then it
		// dies at the timeout, wherever it is.
		got := trs[victim].killAfter(counter, n, time.Minute/time.Duration(instances))
		t.Logf("kill %d: instance %d at %s %d (target %d)", k+1, victim, counter, got, n)
		how := "at once"
		if instances > 1 {
			switch rng.IntN(4) {
			case 0:
				// Restart at once: a static member, it gets its tasks
				// back without a rebalance and restores them from its
				// local store.
			case 1:
				// After its session has ended: the others take its
				// tasks over (restored from the changelogs) and hand
				// them back when it returns, two rebalances.
				how = "after its session ended"
				e.waitMembers(instances - 1)
			case 2:
				// Its disk is lost: it restores all it gets from the
				// changelogs.
				how = "with its state directory wiped"
				if err := os.RemoveAll(filepath.Join(stateDir, strconv.Itoa(victim))); err != nil {
					t.Fatal(err)
				}
			default:
				// A second instance dies while the first is down, and
				// both come back at once.
				other := (victim + 1 + rng.IntN(instances-1)) % instances
				trs[other].kill()
				how = fmt.Sprintf("with instance %d killed too", other)
				trs[other] = e.startTransform(other, stateDir)
			}
		} else if os.Getenv("ORACLE_WAIT_GROUP_EMPTY") == "1" {
			// Restart at once, while the killed member's session is still
			// alive: static membership gives the new process its tasks.
			// ORACLE_WAIT_GROUP_EMPTY=1 waits for the session to end instead.
			e.waitMembers(0)
		}
		t.Logf("restart %d: instance %d %s", k+1, victim, how)
		trs[victim] = e.startTransform(victim, stateDir)
	}
	e.converge("after the kills", trs)
	for _, tr := range trs {
		tr.kill()
	}
	e.checkCoverage(v, e.oracleRelation())
	t.Logf("seed %d took %s", seed, time.Since(start).Round(time.Millisecond))
}

// check counts the rows of a relation that meet cond.
type check struct{ name, cond string }

// checkCoverage fails the test when the world left a column, a kind of
// product key, a conflict or a rule of the variant out: an oracle that
// compares nulls proves nothing. The rules are counted in oracleRel, the
// join oracle's relation (its rule_*, split_* and *_currencies columns),
// which product_daily equals by now.
func (e *env) checkCoverage(v variant, oracleRel string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var daily []check
	for _, c := range columns {
		daily = append(daily, check{c.name, fmt.Sprintf("%s IS NOT NULL AND toString(%s) NOT IN ('0', '')", c.name, c.name)})
	}
	daily = append(daily,
		check{"key gtin", "startsWith(product_key, 'gtin:')"},
		check{"key seller_sku", "startsWith(product_key, 'sku:')"},
		check{"key unmatched_amazon", "startsWith(product_key, 'amazon:')"},
		check{"key unmatched_tiktok", "startsWith(product_key, 'tiktok:') AND NOT match(product_key, ':(product:|unlinked$)')"},
		check{"key tiktok_product_fallback", "match(product_key, ':product:')"},
		check{"key unlinked shop", fmt.Sprintf("product_key = 'tiktok:%s:unlinked' AND tiktok_views IS NOT NULL", shop)},
		check{"key unlinked business", fmt.Sprintf("product_key = 'tiktok:%s:unlinked' AND tiktok_views IS NOT NULL", business)},
		check{"attention measured", "tiktok_attention_provenance = 'measured'"},
		check{"attention estimated", "tiktok_attention_provenance = 'estimated'"},
		check{"attention mixed", "tiktok_attention_provenance = 'mixed'"},
	)
	links := []check{
		{"conflict several_gtins", "conflict_reason LIKE '%several GTINs%'"},
		{"conflict gtin_same_account", "conflict_reason LIKE 'GTIN % is on several products%'"},
		{"conflict several_seller_skus", "conflict_reason LIKE '%several seller SKUs%'"},
	}
	// The rules of TikTok attention, counted where the oracle applies them.
	oracle := []check{
		{"likes measured by the shop", "rule_shop_likes > 0"},
		{"spread in proportion to measured views", "rule_spread_proportional > 0"},
		{"spread evenly", "rule_spread_even > 0"},
		{"spread with units left to the largest remainders", "rule_spread_leftover > 0"},
	}
	if v.mapping {
		daily = append(daily,
			check{"key mapping_file", "NOT match(product_key, '^(gtin|sku|amazon|tiktok):')"},
			check{"key " + mappedJoin + " with amazon figures", fmt.Sprintf("product_key = '%s' AND (amazon_sessions IS NOT NULL OR amazon_orders IS NOT NULL)", mappedJoin)},
			check{"key " + mappedJoin + " with tiktok figures", fmt.Sprintf("product_key = '%s' AND (tiktok_units IS NOT NULL OR tiktok_views IS NOT NULL)", mappedJoin)},
		)
		for _, k := range []string{mappedAmazonSide, mappedBothSides, mappedProduct, mappedShopSKU, mappedJoin, mappedPair} {
			links = append(links, check{"mapping " + k, fmt.Sprintf("match_rule = 'mapping_file' AND product_key = '%s'", k)})
		}
		links = append(links, check{"mapping overrides a gtin, twin unmatched", fmt.Sprintf(
			"match_rule = 'unmatched' AND gtin14 IN (SELECT gtin14 FROM product_links FINAL WHERE is_deleted = 0 AND product_key = '%s')", mappedAmazonSide)})
	}
	if v.evenSplit {
		oracle = append(oracle,
			check{"split engagement", "split_engagement > 0"},
			check{"split video_gmv", "split_video_gmv > 0"},
			check{"split engagement remainder", "split_engagement_remainder > 0"},
			check{"split video_gmv remainder", "split_video_gmv_remainder > 0"},
		)
	}
	if v.mixCurrencies {
		oracle = append(oracle,
			check{"mixed tiktok_currency", "tiktok_currencies > 1"},
			check{"mixed amazon_currency", "amazon_currencies > 1"},
		)
	}
	var got []string
	for _, g := range []struct {
		relation string
		checks   []check
	}{
		{actualRelation, daily},
		{"SELECT * FROM product_links FINAL WHERE is_deleted = 0", links},
		{oracleRel, oracle},
	} {
		if len(g.checks) == 0 {
			continue
		}
		var exprs []string
		for _, c := range g.checks {
			exprs = append(exprs, fmt.Sprintf("'%s=' || toString(countIf(%s))", c.name, c.cond))
		}
		lines, err := e.lines(ctx, "SELECT arrayJoin(["+strings.Join(exprs, ", ")+"]) FROM ("+g.relation+") SETTINGS join_use_nulls = 1")
		if err != nil {
			e.t.Fatal(err)
		}
		got = append(got, lines...)
	}
	e.t.Logf("rows with a non-zero value, per column, kind of key, conflict and rule: %s", strings.Join(got, " "))
	for _, g := range got {
		if strings.HasSuffix(g, "=0") {
			e.t.Errorf("the world left %s: no row has it", strings.TrimSuffix(g, "=0"))
		}
	}
}
