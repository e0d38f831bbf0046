package stage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/simworld"
	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/ingest/tiktokbiz"
	"github.com/shopstream/shopstream/ingest/tiktokbiz/tiktokbiztest"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/secret"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// spoilOne rewrites the first video of every list page so that its likes
// are an object: the page is fine, that one video is not.
type spoilOne struct{ next http.RoundTripper }

func (s spoilOne) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	body = bytes.Replace(body, []byte(`"likes":`), []byte(`"likes":{"unexpected":true},"likes_was":`), 1)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// TestMalformedPayloadIsDeadLettered: a video the client cannot decode
// reaches the stage through OnMalformed and lands, raw, in
// tiktok.video_engagement.dlq with its reason, in the same transaction as
// the snapshot; the other videos land and the stage goes on.
func TestMalformedPayloadIsDeadLettered(t *testing.T) {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	clock := simworld.NewManualClock(simworld.DefaultStart.Add(20 * 24 * time.Hour))
	w := simworld.MustNew(simworld.Config{Seed: 21, Clock: clock, Scale: simworld.Scale{Products: 6, VideosPerDay: 4}})
	srv := tiktokbiztest.NewServer(w, tiktokbiztest.Options{})
	t.Cleanup(srv.Close)
	c := srv.Sim.Credentials()
	dead := &stage.DeadLetters{}
	client, err := tiktokbiz.New(tiktokbiz.Config{BaseURL: srv.BaseURL(), BusinessID: c.BusinessID, AccessToken: secret.Secret(c.AccessToken),
		HTTPClient: &http.Client{Transport: spoilOne{srv.Client().Transport}}, Clock: clock,
		OnMalformed: func(raw json.RawMessage, err error) {
			dead.Add(schemas.TopicTikTokVideoEngagement, "video/list", raw, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := stage.OpenTikTokBusiness(ctx, stage.BusinessConfig{Kafka: kafkaOf(env), Client: client, BusinessID: c.BusinessID, DeadLetters: dead, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.Step(context.WithoutCancel(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if p.DeadLetters == 0 {
		t.Fatalf("no dead letter in the snapshot: %+v", p)
	}
	dl := env.ReadAll(t, env.Topic(schemas.TopicTikTokVideoEngagement+deadletter.Suffix), testenv.Settled)
	if len(dl) != p.DeadLetters {
		t.Fatalf("%d dead letters in the topic, %d committed", len(dl), p.DeadLetters)
	}
	reason := ""
	for _, h := range dl[0].Headers {
		if h.Key == deadletter.HeaderReason {
			reason = string(h.Value)
		}
	}
	if reason == "" || !bytes.Contains(dl[0].Value, []byte(`"unexpected":true`)) {
		t.Fatalf("dead letter %q without reason or raw payload (reason %q)", dl[0].Value, reason)
	}
	recs := readTopic(t, env, schemas.TopicTikTokVideoEngagement)
	if len(recs) == 0 || len(recs) != p.Records {
		t.Fatalf("%d records landed, %d committed", len(recs), p.Records)
	}
	t.Logf("%d videos landed, %d dead-lettered: %s", len(recs), len(dl), reason)
}
