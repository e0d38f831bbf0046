package stage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/simworld/fault"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// runBusiness snapshots the video list every 6 simulated hours for days
// days. The client's back-off returns at once without moving the clock, so
// the world stands still during each read and the last snapshot can be
// compared with one instant's truth.
func runBusiness(t *testing.T, faults fault.Config, restarts bool, days int) {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(20 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 21, Clock: clock, Scale: simworld.Scale{Products: 6, VideosPerDay: 4}})
	srv := tiktokbiztest.NewServer(w, tiktokbiztest.Options{Faults: faults})
	t.Cleanup(srv.Close)
	c := srv.Sim.Credentials()
	dead := &stage.DeadLetters{}
	client, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: srv.BaseURL(), BusinessID: c.BusinessID, AccessToken: secret.Secret(c.AccessToken),
		RefreshToken: secret.Secret(c.RefreshToken), ClientID: c.ClientID, ClientSecret: secret.Secret(c.ClientSecret),
		HTTPClient: srv.Client(), Clock: clock.Still(), MaxAttempts: 40,
		OnMalformed: func(raw json.RawMessage, err error) {
			dead.Add(schemas.TopicTikTokVideoEngagement, "video/list", raw, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := stage.BusinessConfig{Kafka: kafkaOf(env), Client: client, BusinessID: c.BusinessID, Interval: 6 * time.Hour,
		DeadLetters: dead, Clock: clock}
	open := func() *stage.TikTokBusiness {
		st, err := stage.OpenTikTokBusiness(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	snapshots, kills := 0, 0
	for i := 0; i < days*4; i++ {
		if restarts && i%3 == 1 {
			// Killed before the commit: nothing of this snapshot lands,
			// and the restarted stage takes it again.
			sctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := st.Step(sctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("killed step: %v", err)
			}
			kills++
			st.Close()
			st = open()
		}
		p, err := st.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Done {
			t.Fatalf("snapshot %d not taken", i)
		}
		snapshots++
		if p2, err := st.Step(ctx); err != nil || p2.Done {
			t.Fatalf("second snapshot within the interval: %v %v", p2, err)
		}
		if restarts && i%2 == 0 {
			st.Close()
			st = open()
		}
		if i < days*4-1 {
			clock.Advance(6 * time.Hour)
		}
	}
	st.Close()

	recs := readTopic(t, env, schemas.TopicTikTokVideoEngagement)
	checkNoDuplicates(t, schemas.TopicTikTokVideoEngagement, recs)
	last := latest(recs)
	truth := w.TruthAt(clock.Now())
	want, vanished := 0, 0
	for _, v := range truth.Videos() {
		if v.Account != simworld.AccountOfficial {
			continue
		}
		want++
		e, _ := truth.VideoEngagement(v.ID)
		got, ok := last[tiktokbiz.Key(c.BusinessID, v.ID)]
		if !ok {
			t.Errorf("video %s missing", v.ID)
			continue
		}
		if asInt(got["video_views"]) != e.VideoViews || asInt(got["likes"]) != e.Likes || asInt(got["shares"]) != e.Shares || asInt(got["favorites"]) != e.Favorites {
			t.Errorf("video %s: views %v likes %v shares %v saves %v; truth %+v", v.ID, un(got["video_views"]), un(got["likes"]), un(got["shares"]), un(got["favorites"]), e)
		}
		if e.InsightsAvailable != (un(got["reach"]) != nil) {
			t.Errorf("video %s: reach %v, insights available %v", v.ID, un(got["reach"]), e.InsightsAvailable)
		}
		if !e.InsightsAvailable {
			vanished++
		}
	}
	if len(last) != want || want == 0 {
		t.Fatalf("%d videos in Kafka, %d in truth", len(last), want)
	}
	t.Logf("%d snapshots (%d killed), %d records for %d videos (%d with vanished insights)", snapshots, kills, len(recs), len(last), vanished)
}

// TestTikTokBusinessStageMatchesTruth: video list snapshots land in
// tiktok.video_engagement only when a video's totals changed; the latest
// record of every video equals the truth at the last snapshot, vanished
// insights included.
func TestTikTokBusinessStageMatchesTruth(t *testing.T) {
	runBusiness(t, fault.Config{}, false, 10)
}

// TestTikTokBusinessStageUnderFaultsAndRestarts: the same with 5xx and
// malformed bodies, snapshots killed before their commit and the stage
// restarted from its cursors.
func TestTikTokBusinessStageUnderFaultsAndRestarts(t *testing.T) {
	runBusiness(t, fault.Config{ServerErrorRate: 0.05, MalformedRate: 0.05}, true, 10)
}
