package emit

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/changecapture"
	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/testenv"
)

const snapshotCursor = "orders-snapshot/" + marketplace

// snapshotStage polls whole snapshots of orders and emits only real changes:
// the loop of doc.go, with the API replaced by the snapshot argument.
type snapshotStage struct {
	env     *testenv.Kafka
	w       *Writer
	tracker *changecapture.Tracker
	cur     cursor.Cursor
}

// start is a (re)start of the stage: writer first (fencing the previous
// incarnation), then cursors and change-capture state.
func start(t *testing.T, env *testenv.Kafka) *snapshotStage {
	t.Helper()
	w := newWriter(t, env, "snapshots")
	set := loadCursors(t, env)
	tr, err := changecapture.NewTracker(changecapture.Config{Source: testSource, Entity: "order"}, set)
	if err != nil {
		t.Fatal(err)
	}
	return &snapshotStage{env: env, w: w, tracker: tr, cur: set.Cursor(snapshotCursor)}
}

// round captures one snapshot taken at captured and returns the changes it
// committed. crash, if set, runs between produce and commit.
func (s *snapshotStage) round(ctx context.Context, snapshot map[string]map[string]any, captured time.Time, crash func(context.Context) error) ([]changecapture.Change, error) {
	b := s.w.NewBatch()
	b.Join(s.tracker)
	var changes []changecapture.Change
	for i := range len(snapshot) {
		key := orderKey(i)
		c, changed, err := s.tracker.Observe(key, snapshot[key], captured)
		if err != nil {
			return nil, err
		}
		if !changed {
			continue
		}
		rec := c.Stamp(copyRecord(snapshot[key]), fixedNow())
		if err := b.Add(s.env.Topic(ordersTopic), key, rec); err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	next := s.cur.Advance(strconv.FormatInt(captured.UnixMilli(), 10), time.Time{}, captured, fixedNow())
	if err := b.SetCursor(next); err != nil {
		return nil, err
	}
	s.w.beforeEnd = crash
	if err := s.w.Commit(ctx, b); err != nil {
		return nil, err
	}
	s.cur = next
	return changes, nil
}

func copyRecord(rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	return out
}

// snapshot returns four orders, with the statuses given by index.
func snapshot(statuses ...string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for i, st := range statuses {
		out[orderKey(i)] = orderContent(i, st, base)
	}
	return out
}

// TestChangeCaptureAcrossRestarts: an unchanged snapshot emits nothing, a
// changed entity emits one record; versions grow and event ids are
// deterministic across restarts, including the restart after a crash
// between produce and commit, whose change is re-emitted with the same id
// and committed once.
func TestChangeCaptureAcrossRestarts(t *testing.T) {
	env := testenv.NewKafka(t)
	orders, _ := topics(t, env)
	ctx := testenv.Context(t)
	at := func(n int) time.Time { return base.Add(time.Duration(n) * time.Hour) }
	mustRound := func(s *snapshotStage, snap map[string]map[string]any, captured time.Time, want int) []changecapture.Change {
		t.Helper()
		changes, err := s.round(ctx, snap, captured, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != want {
			t.Fatalf("snapshot at %v emitted %d changes, want %d: %+v", captured, len(changes), want, changes)
		}
		return changes
	}

	s := start(t, env)
	created := mustRound(s, snapshot("Pending", "Pending", "Pending", "Pending"), at(1), 4)
	mustRound(s, snapshot("Pending", "Pending", "Pending", "Pending"), at(2), 0)
	shipped := mustRound(s, snapshot("Pending", "Shipped", "Pending", "Pending"), at(3), 1)
	if shipped[0].Key != orderKey(1) || shipped[0].Version <= created[1].Version || shipped[0].Op != cursor.OpUpdate {
		t.Fatalf("change of order 1 = %+v, want an update above version %d", shipped[0], created[1].Version)
	}

	// Restart: the state comes back from the cursor topic.
	s = start(t, env)
	if got := len(loadCursors(t, env).WithPrefix(changecapture.StatePrefix("order"))); got != 4 {
		t.Fatalf("state records in the cursor topic = %d, want 4", got)
	}
	mustRound(s, snapshot("Pending", "Shipped", "Pending", "Pending"), at(4), 0)

	// Crash between produce and commit of a change of order 2.
	_, err := s.round(ctx, snapshot("Pending", "Shipped", "Canceled", "Pending"), at(5), func(context.Context) error { return errCrash })
	if !errors.Is(err, errCrash) {
		t.Fatalf("round = %v, want the crash", err)
	}
	lost := eventIDs(t, env, env.ReadAll(t, orders, testenv.Uncommitted))

	// Restart and re-read the same window.
	s = start(t, env)
	if pos := s.cur.Position; pos != strconv.FormatInt(at(4).UnixMilli(), 10) {
		t.Fatalf("cursor after the crash at %s, want the window of %v", pos, at(4))
	}
	canceled := mustRound(s, snapshot("Pending", "Shipped", "Canceled", "Pending"), at(5), 1)
	if lost[canceled[0].EventID] != 1 {
		t.Errorf("the re-emitted change has id %s, which the crashed attempt did not write: the id is not deterministic", canceled[0].EventID)
	}
	mustRound(s, snapshot("Pending", "Shipped", "Canceled", "Pending"), at(6), 0)

	// Downstream: six changes, each once, with versions growing per key.
	committed := env.ReadAll(t, orders, testenv.Settled)
	ids := eventIDs(t, env, committed)
	want := append(append(append([]changecapture.Change{}, created...), shipped...), canceled...)
	if len(committed) != len(want) {
		t.Errorf("committed records = %d, want %d", len(committed), len(want))
	}
	for _, c := range want {
		if ids[c.EventID] != 1 {
			t.Errorf("change %+v is downstream %d times, want once", c, ids[c.EventID])
		}
	}
	last := map[string]int64{}
	for _, r := range committed {
		v, err := env.Serde.Decode(ctx, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		version := v["version"].(int64)
		if version <= last[string(r.Key)] {
			t.Errorf("key %s: version %d after %d", r.Key, version, last[string(r.Key)])
		}
		last[string(r.Key)] = version
	}
}
