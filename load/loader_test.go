package load_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
	"github.com/shopstream/shopstream/schemas"
)

// TestLoadExactlyOnce: records over four partitions land once each, the
// current-state table has every key, and the group's offsets reach the end.
// 3,001 records in batches of 200 leave a tail that only a time cut loads.
func TestLoadExactlyOnce(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		h := newHarness(t, 4, protocol)
		const n = 3001
		h.produceOrders(n)
		stop := h.runLoader(h.options(nil))
		h.waitRows(n, 2*time.Minute)
		h.eventually("offsets committed to the end", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == n, fmt.Sprint(c)
		})
		if err := stop(); err != nil {
			t.Fatalf("loader: %v", err)
		}
		h.assertExactlyOnce(n)
		if got := h.count("SELECT count() FROM amazon_orders FINAL"); got != n {
			t.Errorf("current state: %d orders, want %d", got, n)
		}
	})
}

// TestLoadUpdatesAndDeletes: every key gets several versions, some keys end
// deleted and some get a late lower version; the current-state table read
// with FINAL holds exactly the last version of every key not deleted, and
// the raw change table holds every change.
func TestLoadUpdatesAndDeletes(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		h := newHarness(t, 3, protocol)
		const keys = 300
		rng := rand.New(rand.NewPCG(1, 2))
		var recs []*kgo.Record
		want := map[string]int{} // order id -> last version; absent: deleted
		total := 0
		for k := 0; k < keys; k++ {
			versions := 1 + rng.IntN(4)
			o := order{n: k, partition: int32(k % 3)}
			for v := 1; v <= versions; v++ {
				o.version, o.op = v, "update"
				if v == 1 {
					o.op = "create"
				}
				if v == versions && k%5 == 0 {
					o.op = "delete"
				}
				recs = append(recs, h.record(o))
				total++
			}
			if k%7 == 0 && versions > 1 {
				// A lower version arriving late must not win.
				late := o
				late.version, late.op = 1, "update"
				rec := h.record(late)
				recs = append(recs, rec)
				total++
			}
			if k%5 != 0 {
				want[o.id()] = versions
			}
		}
		h.produce(recs...)
		h.runLoader(h.options(nil))
		h.waitRows(total, 2*time.Minute)
		// The raw table's rows are visible before the same insert has written
		// the view's; the commit comes after both.
		h.eventually("offsets committed to the end", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == int64(total), fmt.Sprint(c)
		})

		rows, err := h.conn.Query(context.Background(), "SELECT amazon_order_id, version FROM amazon_orders FINAL")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for rows.Next() {
			var id string
			var v int64
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			got[id] = int(v)
		}
		rows.Close()
		if len(got) != len(want) {
			t.Errorf("current state has %d orders, want %d", len(got), len(want))
		}
		for id, v := range want {
			if got[id] != v {
				t.Errorf("order %s: version %d in current state, want %d", id, got[id], v)
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("deleted order %s is in the current state", id)
			}
		}
		if c := h.count("SELECT count() FROM (SELECT _partition, _offset FROM amazon_orders_changes GROUP BY ALL HAVING count() > 1)"); c != 0 {
			t.Errorf("%d duplicate changes", c)
		}
	})
}

// poison returns values that cannot be loaded, one of each kind.
func poison(h *harness, unknownID int) map[string][]byte {
	good := h.record(order{n: 1, version: 1, op: "create"}).Value
	unknown := append([]byte{0, 0, 0, 0, 0}, good[5:]...)
	binary.BigEndian.PutUint32(unknown[1:5], uint32(unknownID))
	truncated := append([]byte(nil), good[:len(good)/2]...)
	return map[string][]byte{
		"bad_header":     []byte(`{"not":"avro"}`),
		"unknown_schema": unknown,
		"undecodable":    truncated,
	}
}

// TestLoadPoisonRecords: undecodable records go to <topic>.dlq with their
// coordinates and to dead_letters; every other record lands and the
// partitions keep flowing to their end.
func TestLoadPoisonRecords(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		h := newHarness(t, 2, protocol)
		const n = 1000
		bad := poison(h, 99999)
		var recs []*kgo.Record
		nPoison := 0
		for i, o := range orders(n, 2) {
			recs = append(recs, h.record(o))
			if i%97 == 0 {
				for class, v := range bad {
					recs = append(recs, &kgo.Record{Topic: h.prefix + ordersTopic, Partition: o.partition,
						Key: []byte("poison-" + class), Value: v})
					nPoison++
				}
			}
		}
		h.produce(recs...)
		reg := prometheus.NewRegistry()
		opts := h.options(reg)
		h.runLoader(opts)
		h.waitRows(n, 2*time.Minute)
		h.eventually("offsets committed past the poison", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == int64(len(recs)), fmt.Sprint(c)
		})
		h.assertExactlyOnce(n)
		if got := h.count("SELECT count() FROM dead_letters"); got != int64(nPoison) {
			t.Errorf("dead_letters has %d rows, want %d", got, nPoison)
		}
		for class := range bad {
			q := fmt.Sprintf("SELECT count() FROM dead_letters WHERE error_class = '%s' AND source_topic = '%s' AND stage = 'load'", class, h.prefix+ordersTopic)
			if got := h.count(q); got != int64(nPoison/3) {
				t.Errorf("%s: %d, want %d", q, got, nPoison/3)
			}
		}

		// The dead-letter topic has each poison record with its coordinates.
		dl := readAll(t, h, deadletter.Topic(h.prefix+ordersTopic), nPoison)
		for _, r := range dl {
			hdr := map[string]string{}
			for _, x := range r.Headers {
				hdr[x.Key] = string(x.Value)
			}
			if hdr[deadletter.HeaderTopic] != h.prefix+ordersTopic || hdr[deadletter.HeaderStage] != "load" ||
				hdr[deadletter.HeaderReason] == "" || hdr[deadletter.HeaderOffset] == "" || hdr[deadletter.HeaderPartition] == "" {
				t.Errorf("dead letter headers %v", hdr)
			}
			if !strings.HasPrefix(string(r.Key), "poison-"+hdr[deadletter.HeaderErrorClass]) {
				t.Errorf("dead letter %s has class %s", r.Key, hdr[deadletter.HeaderErrorClass])
			}
		}
		if got := testenv.MetricSum(t, reg, "shopstream_load_dead_letters_total"); got != float64(nPoison) {
			t.Errorf("dead letters metric %v, want %d", got, nPoison)
		}
	})
}

// readAll reads at least n records of topic from the start.
func readAll(t *testing.T, h *harness, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %d records, want %d", topic, len(out), n)
		}
		out = append(out, f.Records()...)
	}
	return out
}

// TestLoadTransactionalInput: the topics the loader reads are written in
// Kafka transactions (ingest and transform do so). An aborted transaction's
// records never land, a committed one's do, and once everything is loaded
// the lag gauge reads 0 even though every transaction left a marker at the
// end of its partitions.
func TestLoadTransactionalInput(t *testing.T) {
	h := newHarness(t, 2, "http")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	txn, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...), kgo.TransactionalID(h.prefix+"txn"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	const n, aborted = 300, 50
	all := orders(n+aborted, 2)
	write := func(os []order, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, o := range os {
			if err := txn.ProduceSync(ctx, h.record(o)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	write(all[:n/2], kgo.TryCommit)
	write(all[n:], kgo.TryAbort)
	write(all[n/2:n], kgo.TryCommit)

	reg := prometheus.NewRegistry()
	h.runLoader(h.options(reg))
	h.waitRows(n, 2*time.Minute)
	h.eventually("lag gauge at 0", time.Minute, func() (bool, string) {
		lag := testenv.MetricSum(t, reg, load.MetricConsumerLag)
		return lag == 0, fmt.Sprint(lag)
	})
	h.assertExactlyOnce(n)
	// The newest change loaded is the last committed order's (see
	// harness.record), not an aborted one's, which come later in time.
	// The gauge moves after the insert returns, which may be after the rows
	// are visible and the lag gauge (set at fetch) reads 0: wait for it to
	// reach the last committed order, then require it not to be past it.
	newest := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Add((n-1)*time.Minute + time.Second)
	h.eventually("newest change gauge", time.Minute, func() (bool, string) {
		got := testenv.MetricSum(t, reg, load.MetricNewestChange)
		return got >= float64(newest.Unix()), fmt.Sprint(got)
	})
	if got := testenv.MetricSum(t, reg, load.MetricNewestChange); got != float64(newest.Unix()) {
		t.Errorf("newest change gauge %v, want %v (%s)", got, newest.Unix(), newest)
	}
}

// TestDLQReplay: records whose schema the registry did not know yet are
// dead-lettered; once the registry has it, `dlq replay` loads them with
// their original coordinates, and a second replay adds nothing.
func TestDLQReplay(t *testing.T) {
	h := newHarness(t, 2, "http")
	ctx := context.Background()
	subjects, err := h.sr.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	maxID := 0
	for _, s := range subjects {
		ss, err := h.sr.SchemaByVersion(ctx, s, -1)
		if err != nil {
			t.Fatal(err)
		}
		maxID = max(maxID, ss.ID)
	}
	next := maxID + 1

	const n, late = 400, 20
	recs := h.records(orders(n, 2))
	for i := 0; i < late; i++ {
		r := h.record(order{n: n + i, version: 1, op: "create", partition: int32(i % 2)})
		binary.BigEndian.PutUint32(r.Value[1:5], uint32(next))
		recs = append(recs, r)
	}
	h.produce(recs...)
	h.runLoader(h.options(nil))
	h.waitRows(n, 2*time.Minute)
	h.eventually("late records dead-lettered", time.Minute, func() (bool, string) {
		c := h.count("SELECT count() FROM dead_letters WHERE error_class = 'unknown_schema'")
		return c == late, fmt.Sprint(c)
	})
	if open := h.count("SELECT count() FROM dead_letters_open"); open != late {
		t.Errorf("dead_letters_open has %d rows before any replay, want %d", open, late)
	}

	// The registry learns the schema (another subject, a doc change so it
	// gets a new id): the id the late records carry.
	text, _ := schemas.Source(ordersTopic)
	text = strings.Replace(text, `"doc": "An Amazon order header`, `"doc": "Amazon order header`, 1)
	ss, err := h.sr.CreateSchema(ctx, "replay-test-value", sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	if ss.ID != next {
		t.Fatalf("registry gave id %d, the late records carry %d", ss.ID, next)
	}
	opts := load.ReplayOptions{Brokers: h.brokers, Topic: ordersTopic, TopicPrefix: h.prefix, HTTP: true, BatchRows: 7,
		Log: h.options(nil).Log}
	st, err := load.ReplayDLQ(ctx, opts, h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != late || st.Loaded != late || st.StillFailing != 0 {
		t.Errorf("first replay: %+v", st)
	}
	if open := h.count("SELECT count() FROM dead_letters_open"); open != 0 {
		t.Errorf("%d dead letters still open after the replay loaded them all", open)
	}
	st, err = load.ReplayDLQ(ctx, opts, h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 0 || st.AlreadyLoaded != late {
		t.Errorf("second replay: %+v", st)
	}
	h.assertExactlyOnce(n + late)
}

// TestLoadSurvivesWarehouseOutage: the warehouse is killed while records
// keep arriving; the loader retries with backoff, pauses fetching, commits
// nothing it has not inserted, and once the warehouse is back everything
// lands exactly once.
func TestLoadSurvivesWarehouseOutage(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		h := newHarness(t, 4, protocol)
		const n = 4000
		all := orders(n, 4)
		var first, second []*kgo.Record
		for i, o := range all {
			if i < n/4 {
				first = append(first, h.record(o))
			} else {
				second = append(second, h.record(o))
			}
		}
		h.produce(first...)
		reg := prometheus.NewRegistry()
		opts := h.options(reg)
		opts.MaxInFlight = 2
		stop := h.runLoader(opts)
		h.waitRows(n/4, 2*time.Minute)
		h.eventually("first quarter committed", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == n/4, fmt.Sprint(c)
		})

		h.wh.Kill()
		h.produce(second...)
		h.eventually("inserts retried while the warehouse is down", time.Minute, func() (bool, string) {
			r := testenv.MetricSum(t, reg, "shopstream_load_retries_total")
			return r >= 3, fmt.Sprint(r)
		})
		h.eventually("fetching paused", time.Minute, func() (bool, string) {
			p := testenv.MetricSum(t, reg, "shopstream_load_fetch_paused")
			return p == 1, fmt.Sprint(p)
		})
		if c := h.committed(); c != n/4 {
			t.Fatalf("committed %d while the warehouse was down, only %d were inserted", c, n/4)
		}
		if inflight := testenv.MetricSum(t, reg, "shopstream_load_batches_in_flight"); inflight > float64(opts.MaxInFlight)+4 {
			t.Errorf("%v batches in flight, bound %d", inflight, opts.MaxInFlight)
		}

		h.wh.Restart(t)
		h.waitRows(n, 3*time.Minute)
		h.eventually("all committed", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == n, fmt.Sprint(c)
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		h.assertExactlyOnce(n)
	})
}

// TestLoadSIGKILL kills the loader process (SIGKILL) several times at
// random points while it inserts, restarting it each time: everything lands
// exactly once, because replays re-form the same batches and ClickHouse
// drops the repeats.
func TestLoadSIGKILL(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		h := newHarness(t, 4, protocol)
		const n = 20000
		h.produceOrders(n)
		// A static member id lets each restart take the partitions back at once
		// instead of waiting out the killed member's session.
		env := []string{"SHOPSTREAM_LOAD_BATCH_ROWS=250", "SHOPSTREAM_LOAD_MAX_WAIT=50ms", "SHOPSTREAM_LOAD_MAX_IN_FLIGHT=4",
			"SHOPSTREAM_LOAD_INSTANCE_ID=loader-1"}
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		var kills []int64
		replays := 0
		// At least five kills, and more (up to twelve) until one has left an
		// inserted batch uncommitted, the case the insert token is for.
		for i := 0; i < 12 && (i < 5 || replays == 0); i++ {
			cmd := h.loaderProcess(env...)
			// Kill at a random row count past the last kill point: while
			// batches are being inserted and committed.
			base := h.count("SELECT count() FROM amazon_orders_changes")
			target := base + 250 + rng.Int64N(1500)
			if target >= n {
				break
			}
			h.eventually(fmt.Sprintf("kill %d at %d rows", i+1, target), 2*time.Minute, func() (bool, string) {
				c := h.count("SELECT count() FROM amazon_orders_changes")
				return c >= target, fmt.Sprint(c)
			})
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			rows, committed := h.count("SELECT count() FROM amazon_orders_changes"), h.committed()
			kills = append(kills, rows)
			if committed < rows {
				replays++
			}
			t.Logf("kill %d: %d rows inserted, %d offsets committed", i+1, rows, committed)
		}
		t.Logf("%d of %d kills left inserted batches uncommitted, so their replay was deduplicated", replays, len(kills))
		if replays == 0 {
			t.Log("no kill landed between an insert and its commit; the replay path went unexercised this run")
		}
		h.loaderProcess(env...)
		h.waitRows(n, 3*time.Minute)
		h.eventually("all committed", time.Minute, func() (bool, string) {
			c := h.committed()
			return c == n, fmt.Sprint(c)
		})
		h.assertExactlyOnce(n)
		if !slices.IsSorted(kills) {
			t.Errorf("row counts went down between kills: %v", kills)
		}
	})
}

// TestLoadStopsOnUnmappedField: a record written with a newer schema that
// has a field no column holds stops the loader with an error naming the
// table, the field and the record, and nothing past it is committed.
func TestLoadStopsOnUnmappedField(t *testing.T) {
	h := newHarness(t, 1, "http")
	ctx := context.Background()
	text, _ := schemas.Source(ordersTopic)
	newer := strings.Replace(text, `"fields": [`, `"fields": [
    {"name": "gift_message", "type": ["null", "string"], "default": null},`, 1)
	ss, err := h.sr.CreateSchema(ctx, "newer-orders-value", sr.Schema{Schema: newer, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	good := h.record(order{n: 1, version: 1, op: "create"})
	// The same Avro body with gift_message = null prepended (union index 0).
	bad := append([]byte{0, 0, 0, 0, 0, 0}, good.Value[5:]...)
	binary.BigEndian.PutUint32(bad[1:5], uint32(ss.ID))
	h.produce(good, &kgo.Record{Topic: good.Topic, Key: []byte("newer"), Value: bad})

	l, err := load.New(h.options(nil), h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = l.Run(rctx)
	if err == nil {
		t.Fatal("loader did not stop")
	}
	for _, want := range []string{"amazon_orders_changes", "gift_message", h.prefix + ordersTopic + "/0/1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if c := h.committed(); c > 0 {
		t.Errorf("committed %d past the batch that failed", c)
	}
}

// TestLoadRefusesMissingColumn: a table that lacks a column the loader
// writes (a migration not applied) stops the loader before it consumes,
// naming the table and column.
func TestLoadRefusesMissingColumn(t *testing.T) {
	h := newHarness(t, 1, "http")
	for _, q := range []string{"DROP VIEW amazon_orders_mv", "ALTER TABLE amazon_orders_changes DROP COLUMN seller_display_name"} {
		if err := h.conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	l, err := load.New(h.options(nil), h.serde, h.conn)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "amazon_orders_changes") || !strings.Contains(err.Error(), "seller_display_name") {
		t.Fatalf("got %v, want an error naming the table and column", err)
	}
}

// TestPendingTimeCutSurvivesCrash stages what a crash leaves behind after a
// time-cut batch was inserted but before its offsets were committed: the
// write-ahead commit (offset 0, metadata shopstream-cut:39) and the rows of
// offsets 0-39 in the table under their token. A loader that starts then,
// with more records available than the first attempt saw, must re-form the
// batch 0-39 exactly (ClickHouse drops it) instead of cutting a bigger one
// that would load offsets 0-39 twice.
func TestPendingTimeCutSurvivesCrash(t *testing.T) {
	h := newHarness(t, 1, "http")
	ctx := context.Background()
	const n, cut = 100, 39
	recs := h.produceOrders(n)

	topic := h.prefix + ordersTopic
	tbl, err := tables.ForTopic(ordersTopic)
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]any
	for i := 0; i <= cut; i++ {
		rec, err := h.serde.Decode(ctx, recs[i].Value)
		if err != nil {
			t.Fatal(err)
		}
		row, err := tbl.Row(rec, recs[i].Key, 0, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if err := load.InsertRowsForTest(ctx, h.conn, true, tbl, fmt.Sprintf("%s-0-0-%d", topic, cut), rows); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1, Metadata: fmt.Sprintf("shopstream-cut:%d", cut)})
	resp, err := h.adm.CommitOffsets(ctx, h.group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}

	opts := h.options(nil)
	opts.BatchRows = 1000 // only time cuts
	h.runLoader(opts)
	h.eventually("offsets committed to the end", time.Minute, func() (bool, string) {
		c := h.committed()
		return c == n, fmt.Sprint(c)
	})
	h.assertExactlyOnce(n)
}
