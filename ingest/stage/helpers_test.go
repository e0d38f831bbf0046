package stage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/ingest/tiktokshop"
	"github.com/shopstream/shopstream/ingest/tiktokshop/tiktokshoptest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

func kafkaOf(e *testenv.Kafka) stage.Kafka {
	return stage.Kafka{ClientOpts: e.ClientOpts(), Serde: e.Serde, Prefix: e.Prefix}
}

// shopSim starts the TikTok Shop simulator over a world of seed and scale
// whose manual clock reads now, and returns the world, the clock, the server
// and a client configuration for it (through the server's HTTP client).
func shopSim(tb testing.TB, seed uint64, now time.Time, scale simworld.Scale, opts tiktokshoptest.Options) (*simworld.World, *simworld.ManualClock, *tiktokshoptest.Server, tiktokshop.Config) {
	clock := simworld.NewManualClock(now)
	w := simworld.MustNew(simworld.Config{Seed: seed, Clock: clock, Scale: scale})
	srv := tiktokshoptest.NewServer(w, opts)
	tb.Cleanup(srv.Close)
	creds := srv.Sim.Credentials()
	return w, clock, srv, tiktokshop.Config{APIBaseURL: srv.APIBaseURL(), AuthBaseURL: srv.AuthBaseURL(),
		AppKey: creds.AppKey, AppSecret: secret.Secret(creds.AppSecret), AuthCode: secret.Secret(creds.AuthCode),
		HTTPClient: srv.Client(), Clock: clock}
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

// bizRig is the TikTok Business simulator on a manual clock, a test's share
// of Kafka, and the dead letters its clients' OnMalformed hooks collect.
type bizRig struct {
	env   *testenv.Kafka
	clock *simworld.ManualClock
	srv   *tiktokbiztest.Server
	creds tiktokbiztest.Credentials
	dead  *stage.DeadLetters
}

func newBizRig(t *testing.T) *bizRig {
	t.Helper()
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(20 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 21, Clock: clock, Scale: simworld.Scale{Products: 6, VideosPerDay: 4}})
	srv := tiktokbiztest.NewServer(w, tiktokbiztest.Options{})
	t.Cleanup(srv.Close)
	return &bizRig{env: testenv.NewKafka(t), clock: clock, srv: srv, creds: srv.Sim.Credentials(), dead: &stage.DeadLetters{}}
}

// client is a client of the simulator over rt whose malformed videos go to
// the rig's dead letters.
func (r *bizRig) client(t *testing.T, rt http.RoundTripper) *tiktokbiz.Client {
	t.Helper()
	cl, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: r.srv.BaseURL(), BusinessID: r.creds.BusinessID, AccessToken: secret.Secret(r.creds.AccessToken),
		HTTPClient: &http.Client{Transport: rt}, Clock: r.clock,
		OnMalformed: func(raw json.RawMessage, err error) {
			r.dead.Add(schemas.TopicTikTokVideoEngagement, "video/list", raw, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// open opens the stage on k with client as instance.
func (r *bizRig) open(ctx context.Context, t *testing.T, k stage.Kafka, client *tiktokbiz.Client, instance string) *stage.TikTokBusiness {
	t.Helper()
	st, err := stage.OpenTikTokBusiness(ctx, stage.BusinessConfig{Kafka: k, Client: client, BusinessID: r.creds.BusinessID,
		Instance: instance, DeadLetters: r.dead, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	return st
}
