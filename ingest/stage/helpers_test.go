package stage_test

import (
	"fmt"
	"math/big"
	"testing"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/testenv"
)

func kafkaOf(e *testenv.Kafka) stage.Kafka {
	return stage.Kafka{ClientOpts: e.ClientOpts(), Serde: e.Serde, Prefix: e.Prefix}
}

// rec is one decoded record of a topic.
type rec struct {
	key string
	v   map[string]any
}

func readTopic(t *testing.T, e *testenv.Kafka, logical string) []rec {
	t.Helper()
	ctx := testenv.Context(t)
	var out []rec
	for _, r := range e.ReadAll(t, e.Topic(logical), testenv.Settled) {
		v, err := e.Serde.Decode(ctx, r.Value)
		if err != nil {
			t.Fatalf("decode %s: %v", logical, err)
		}
		out = append(out, rec{key: string(r.Key), v: v})
	}
	return out
}

// checkNoDuplicates: one record per (key, version), event ids unique, and
// versions growing per key in offset order (keys stay in one partition).
func checkNoDuplicates(t *testing.T, topic string, recs []rec) {
	t.Helper()
	kv := map[string]bool{}
	ids := map[string]bool{}
	last := map[string]int64{}
	for _, r := range recs {
		ver := r.v["version"].(int64)
		id := r.v["event_id"].(string)
		k := fmt.Sprintf("%s@%d", r.key, ver)
		if kv[k] {
			t.Errorf("%s: duplicate record %s", topic, k)
		}
		if ids[id] {
			t.Errorf("%s: duplicate event_id %s (key %s)", topic, id, r.key)
		}
		if ver <= last[r.key] {
			t.Errorf("%s: key %s version %d after %d", topic, r.key, ver, last[r.key])
		}
		kv[k], ids[id], last[r.key] = true, true, ver
	}
}

// latest returns the highest version of every key.
func latest(recs []rec) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range recs {
		if cur, ok := out[r.key]; !ok || r.v["version"].(int64) > cur["version"].(int64) {
			out[r.key] = r.v
		}
	}
	return out
}

// un unwraps an Avro union value ({"long": 3} → 3).
func un(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, x := range m {
			return x
		}
	}
	return v
}

func asInt(v any) int64 {
	switch x := un(v).(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case nil:
		return 0
	}
	panic(fmt.Sprintf("not an int: %T %v", v, v))
}

// cents turns a decimal (*big.Rat) into minor units.
func cents(v any) simworld.Money {
	r, ok := un(v).(*big.Rat)
	if !ok {
		return 0
	}
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	return simworld.Money(c.Num().Int64() / c.Denom().Int64())
}
