package stage_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// refuseFirst is a serde that refuses the first engagement record it is
// asked to encode, as a mapping bug would: the record does not fit.
type refuseFirst struct {
	stage.Serde
	mu      sync.Mutex
	refused string // item_id
}

func (r *refuseFirst) Encode(topic string, v map[string]any) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if topic == schemas.TopicTikTokVideoEngagement && r.refused == "" {
		r.refused = v["item_id"].(string)
		return nil, errors.New("a field the schema does not have")
	}
	return r.Serde.Encode(topic, v)
}

// TestReplayDeadLetters: a snapshot dead-letters the videos the API sent
// malformed (the first of every page) and one whose record did not encode. Once fixed (the API sends
// good data, the build encodes), the stage's replay writes each video
// exactly once through its writer and change capture, with the replayed
// markers in the same transaction: the malformed ones fetched again, the
// other parsed again and written with the change it was given. Every dead
// letter is then marked, so `dlq replay` leaves them alone; and the
// malformed ones replayed again anyway find nothing left to write (change
// capture holds their content).
func TestReplayDeadLetters(t *testing.T) {
	r := newBizRig(t)
	env, ctx, srv := r.env, testenv.Context(t), r.srv

	// The build and the API that dead-letter.
	buggy := kafkaOf(env)
	refusing := &refuseFirst{Serde: env.Serde}
	buggy.Serde = refusing
	st := r.open(ctx, t, buggy, r.client(t, spoilOne{srv.Client().Transport}), "")
	p, err := st.Step(ctx)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	before := readTopic(t, env, schemas.TopicTikTokVideoEngagement)
	g, err := deadletter.Read(ctx, env.ClientOpts(), deadletter.Topic(env.Topic(schemas.TopicTikTokVideoEngagement)))
	if err != nil {
		t.Fatal(err)
	}
	letters := g.Letters(deadletter.KindIngest)
	var change *deadletter.Change
	malformed := 0
	for _, l := range letters {
		switch l.Class {
		case deadletter.ClassEncoding:
			change = l.Change
		case deadletter.ClassMalformed:
			malformed++
		}
	}
	if p.DeadLetters != len(letters) || malformed == 0 || malformed != len(letters)-1 || change == nil {
		t.Fatalf("%d dead letters committed, %d in the topic (%d malformed), refused video's change %v; want the malformed videos and the refused one with its change",
			p.DeadLetters, len(letters), malformed, change)
	}

	// The fix: a good API, a build that encodes. A replay instance with its
	// own transactional id, sharing the stage's change-capture state.
	replay := func(letters []deadletter.Letter) stage.ReplayStats {
		t.Helper()
		st := r.open(ctx, t, kafkaOf(env), r.client(t, srv.Client().Transport), "dlq-replay")
		defer st.Close()
		rs, err := st.Replay(ctx, letters)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	rs := replay(letters)
	if rs.Replayed != len(letters) || rs.StillFailing != 0 || len(rs.Marked) != len(letters) {
		t.Fatalf("replay: %+v, want all %d replayed (failures %v)", rs, len(letters), rs.Failures)
	}
	after := readTopic(t, env, schemas.TopicTikTokVideoEngagement)
	checkNoDuplicates(t, schemas.TopicTikTokVideoEngagement, after)
	if len(after) != len(before)+len(letters) {
		t.Fatalf("%d records after the replay, %d before: want one per dead letter, %d", len(after), len(before), len(letters))
	}
	refusedKey := tiktokbiz.Key(r.creds.BusinessID, refusing.refused)
	for _, r := range after[len(before):] {
		if r.key == refusedKey && r.v["version"] != change.Version {
			t.Errorf("refused video written with version %v, its change had %d", r.v["version"], change.Version)
		}
	}
	g, err = deadletter.Read(ctx, env.ClientOpts(), deadletter.Topic(env.Topic(schemas.TopicTikTokVideoEngagement)))
	if err != nil {
		t.Fatal(err)
	}
	done := g.Replayed()
	for _, l := range letters {
		if !done[l.ID()] {
			t.Errorf("no replayed marker for %v", l.ID())
		}
	}

	var again []deadletter.Letter
	for _, l := range letters {
		if l.Change == nil {
			again = append(again, l)
		}
	}
	rs = replay(again)
	if rs.Replayed != 0 || rs.Already != len(again) || rs.StillFailing != 0 {
		t.Errorf("malformed videos replayed again: %+v, want nothing left to write", rs)
	}
	if n := len(readTopic(t, env, schemas.TopicTikTokVideoEngagement)); n != len(after) {
		t.Errorf("a second replay wrote %d records", n-len(after))
	}
}
