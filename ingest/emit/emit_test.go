package emit

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
)

// TestCommitIsAtomic: while the transaction is open, read_committed readers
// see neither the records nor the cursor although both are in the log; after
// the commit they see both.
func TestCommitIsAtomic(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, cursors := topics(t, env)
	ctx := testenv.Context(t)
	w := newWriter(t, env, "atomic")

	src := sourceOrders(20)
	var duringTxn func(context.Context) error = func(context.Context) error {
		if n := len(env.ReadAll(t, orders, testenv.Uncommitted)); n != len(src) {
			t.Errorf("read_uncommitted sees %d orders while the transaction is open, want %d", n, len(src))
		}
		if n := len(env.ReadAll(t, orders, testenv.StableNow)); n != 0 {
			t.Errorf("read_committed sees %d orders before the commit, want 0", n)
		}
		if n := len(env.ReadAll(t, cursors, testenv.StableNow)); n != 0 {
			t.Errorf("read_committed sees %d cursors before the commit, want 0", n)
		}
		return nil
	}
	if err := runStage(ctx, env, w, loadCursors(t, env), src, len(src), 0, duringTxn); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, env, src)
	c := loadCursors(t, env).Cursor(cursorName)
	if c.Version != 1 || c.Op != cursor.OpCreate || !c.WindowEnd.Equal(base.Add(20*time.Minute)) {
		t.Errorf("stored cursor = %+v, want version 1, op create, window end +20m", c)
	}
}

// TestAbortedBatchLeavesNothing: a record the broker rejects aborts the
// whole transaction; the records acknowledged before it and the cursor stay
// invisible, and the writer goes on with the next batch.
func TestAbortedBatchLeavesNothing(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, cursors := topics(t, env)
	small := "2048"
	// The dead-letter topic of amazon.order_items takes no record over 2 KiB.
	tiny := env.CreateTopic(t, "amazon.order_items"+deadletter.Suffix, 1, map[string]*string{"max.message.bytes": &small})
	ctx := testenv.Context(t)
	w := newWriter(t, env, "abort")

	src := sourceOrders(10)
	b := w.NewBatch()
	for i, rec := range src {
		if err := b.Add(orders, orderKey(i), rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetCursor(cursor.New(testSource, cursorName).Advance("10", base, base.Add(10*time.Minute), fixedNow())); err != nil {
		t.Fatal(err)
	}
	// The broker takes the orders and the cursor (other partitions) and
	// refuses only this one; the whole transaction must then abort.
	b.AddDeadLetter(DeadLetter{Topic: strings.TrimSuffix(tiny, deadletter.Suffix), Payload: incompressible(t, 4096), Reason: "too big"})

	err := w.Commit(ctx, b)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("Commit = %v, want ErrAborted", err)
	}
	if n := len(env.ReadAll(t, orders, testenv.Uncommitted)); n == 0 {
		t.Errorf("read_uncommitted sees no orders: the abort must come after they were written, or this test proves nothing")
	}
	if n := len(env.ReadAll(t, orders, testenv.Settled)); n != 0 {
		t.Errorf("read_committed sees %d orders of the aborted transaction", n)
	}
	if n := len(env.ReadAll(t, cursors, testenv.Settled)); n != 0 {
		t.Errorf("read_committed sees %d cursors of the aborted transaction", n)
	}
	if c := loadCursors(t, env).Cursor(cursorName); c.Stored() {
		t.Errorf("cursor.Load returned %+v from an aborted transaction", c)
	}

	// The writer is still good: the same window, without the bad record.
	if err := runStage(ctx, env, w, loadCursors(t, env), src, 10, -1, nil); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, env, src)
}

// TestDeadLetters: payloads that could not become records go to
// <topic>.dlq with their reason, stage, endpoint and time, in the same
// transaction as the good records, and the stage goes on.
func TestDeadLetters(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, _ := topics(t, env)
	ctx := testenv.Context(t)
	w := newWriter(t, env, "dlq")
	w.maxDLQ = 100

	b := w.NewBatch()
	if err := b.Add(orders, orderKey(1), order(1, "Shipped", base)); err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"AmazonOrderId":"902-1","OrderStatus":12}`)
	bad := orderContent(2, "Shipped", base)
	bad["order_status"] = 12 // an unexpected type from the API: the schema refuses it
	if err := b.Add(orders, orderKey(2), bad); err == nil {
		t.Fatal("Add accepted a record that does not fit the schema")
	} else {
		b.AddDeadLetter(DeadLetter{Topic: orders, Key: orderKey(2), Payload: raw, Reason: err.Error(), Endpoint: "/orders/v0/orders"})
	}
	big := []byte(strings.Repeat("x", 300))
	b.AddDeadLetter(DeadLetter{Topic: orders, Payload: big, Reason: "truncated JSON", Endpoint: "/orders/v0/orders"})
	if err := b.SetCursor(cursor.New(testSource, cursorName).Advance("3", base, base.Add(time.Minute), fixedNow())); err != nil {
		t.Fatal(err)
	}
	if r, d, c := b.Counts(); r != 1 || d != 2 || c != 1 {
		t.Fatalf("Counts = %d, %d, %d; want 1, 2, 1", r, d, c)
	}
	if err := w.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}

	if n := len(env.ReadAll(t, orders, testenv.Settled)); n != 1 {
		t.Errorf("orders topic holds %d records, want 1", n)
	}
	dlq := env.ReadAll(t, orders+deadletter.Suffix, testenv.Settled)
	if len(dlq) != 2 {
		t.Fatalf("dead-letter topic holds %d records, want 2", len(dlq))
	}
	headers := func(r *kgo.Record) map[string]string {
		m := map[string]string{}
		for _, h := range r.Headers {
			m[h.Key] = string(h.Value)
		}
		return m
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range dlq {
		byKey[string(r.Key)] = r
	}
	first, second := byKey[orderKey(2)], byKey[""]
	if first == nil || second == nil {
		t.Fatalf("dead letters by key: %v", byKey)
	}
	h := headers(first)
	if string(first.Value) != string(raw) {
		t.Errorf("dead letter value = %q, want the raw payload %q", first.Value, raw)
	}
	if !strings.Contains(h[deadletter.HeaderReason], "encode") || h[deadletter.HeaderStage] != "ingest-amazon" || h[deadletter.HeaderEndpoint] != "/orders/v0/orders" {
		t.Errorf("dead letter headers = %v", h)
	}
	if ts, err := time.Parse(time.RFC3339Nano, h[deadletter.HeaderTime]); err != nil || !ts.Equal(fixedNow()) {
		t.Errorf("dead letter time header %q (%v), want %v", h[deadletter.HeaderTime], err, fixedNow())
	}
	if h := headers(second); len(second.Value) != 100 || h[deadletter.HeaderTruncated] != "300" {
		t.Errorf("oversized dead letter: %d bytes, headers %v; want 100 bytes, truncated_from_bytes 300", len(second.Value), h)
	}
}

// TestFencedZombieAndReplay: a stage stalls between producing a window and
// committing it (a GC pause, a network partition) and is presumed dead. Its
// successor with the same transactional id fences it (the broker aborts the
// open transaction), loads the stored cursor and re-emits exactly the
// uncommitted window and the rest. When the zombie wakes up and commits, it
// is refused with ErrFenced. Downstream sees every order exactly once.
func TestFencedZombieAndReplay(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, _ := topics(t, env)
	ctx := testenv.Context(t)
	src := sourceOrders(50)

	stalled, wake := make(chan struct{}), make(chan struct{})
	zombieDone := make(chan error, 1)
	zombie := newWriter(t, env, "stage-0")
	zombieCursors := loadCursors(t, env)
	go func() {
		zombieDone <- runStage(ctx, env, zombie, zombieCursors, src, 10, 2, func(context.Context) error {
			close(stalled)
			<-wake
			return nil // go on to commit, as if nothing happened
		})
	}()
	<-stalled

	successor := newWriter(t, env, "stage-0") // fences the zombie
	// Windows 0 and 1 are committed; window 2 was in the log, and is aborted.
	if n := len(env.ReadAll(t, orders, testenv.Settled)); n != 20 {
		t.Fatalf("committed orders after the restart = %d, want 20", n)
	}
	set := loadCursors(t, env)
	if c := set.Cursor(cursorName); c.Position != "20" || c.Version != 2 {
		t.Fatalf("cursor after the stall = %+v, want position 20, version 2", c)
	}
	if err := runStage(ctx, env, successor, set, src, 10, -1, nil); err != nil {
		t.Fatal(err)
	}

	close(wake)
	if err := <-zombieDone; !errors.Is(err, ErrFenced) {
		t.Fatalf("the zombie's commit = %v, want ErrFenced", err)
	}

	assertExactlyOnce(t, env, src)
	// The stalled window was really written, and aborted: the log holds it
	// twice.
	if n := len(env.ReadAll(t, orders, testenv.Uncommitted)); n != 60 {
		t.Errorf("orders in the log (read_uncommitted) = %d, want 60 (50 + the aborted window of 10)", n)
	}
}

// childEnv carries the parent's setup to the stage process of
// TestKilledStageReplaysExactlyOnce.
const childEnv = "SHOPSTREAM_EMIT_TEST_CHILD"

// crashPoint is what the child prints when its window is produced and
// acknowledged but not committed: the moment the parent kills it.
const crashPoint = "CRASHPOINT"

// TestKilledStageReplaysExactlyOnce runs the stage in a child process, kills
// it with SIGKILL after the broker acknowledged window 3 and before the
// commit, restarts the stage here from the stored cursor and checks that
// downstream sees every order exactly once.
func TestKilledStageReplaysExactlyOnce(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, _ := topics(t, env)
	ctx := testenv.Context(t)
	src := sourceOrders(60)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStageChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		"CHILD_BROKERS="+strings.Join(env.Brokers, ","),
		"CHILD_PREFIX="+env.Prefix,
		"CHILD_REGISTRY="+env.RegistryURL,
	)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	reached := false
	for lines.Scan() {
		if lines.Text() == crashPoint {
			reached = true
			break
		}
	}
	if !reached {
		_ = cmd.Wait()
		t.Fatal("the stage process ended without reaching the crash point")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error is the signal

	// The restarted stage fences the dead one's open transaction.
	w := newWriter(t, env, "stage-0")
	if n := len(env.ReadAll(t, orders, testenv.Settled)); n != 30 {
		t.Fatalf("committed orders after the kill = %d, want 30 (windows 0-2)", n)
	}
	if err := runStage(ctx, env, w, loadCursors(t, env), src, 10, -1, nil); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, env, src)
	if n := len(env.ReadAll(t, orders, testenv.Uncommitted)); n != 70 {
		t.Errorf("orders in the log (read_uncommitted) = %d, want 70 (60 + the killed window of 10)", n)
	}
}

// TestStageChildProcess is the stage process of
// TestKilledStageReplaysExactlyOnce; it does nothing in a normal run.
func TestStageChildProcess(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as the child of TestKilledStageReplaysExactlyOnce")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testenv.Timeout)
	defer cancel()
	_, serde := testenv.SerdeAt(t, ctx, os.Getenv("CHILD_REGISTRY"))
	prefix := os.Getenv("CHILD_PREFIX")
	env := &testenv.Kafka{
		Brokers: strings.Split(os.Getenv("CHILD_BROKERS"), ","),
		Prefix:  prefix,
		Serde:   serde,
		Encoder: testenv.Encoder{Serde: serde, Prefix: prefix},
	}
	w := newWriter(t, env, "stage-0")
	err := runStage(ctx, env, w, loadCursors(t, env), sourceOrders(60), 10, 3, func(ctx context.Context) error {
		fmt.Println(crashPoint)
		<-ctx.Done() // wait for SIGKILL
		return ctx.Err()
	})
	t.Fatalf("the stage process was not killed: %v", err)
}

// TestEmptyBatchWritesNothing: a batch without records, cursors or pending
// state commits without a transaction.
func TestEmptyBatchWritesNothing(t *testing.T) {
	env := testenv.NewKafka(t)
	_, cursors := topics(t, env)
	w := newWriter(t, env, "empty")
	if err := w.Commit(testenv.Context(t), w.NewBatch()); err != nil {
		t.Fatal(err)
	}
	if n := len(env.ReadAll(t, cursors, testenv.Uncommitted)); n != 0 {
		t.Errorf("an empty batch wrote %d records", n)
	}
}

func TestTransactionalID(t *testing.T) {
	if got := TransactionalID("amazon", strconv.Itoa(0)); got != "shopstream-ingest-amazon-0" {
		t.Errorf("TransactionalID = %q", got)
	}
}

// incompressible returns n random bytes: the producer compresses batches, and
// zeros would shrink below any size limit.
func incompressible(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
