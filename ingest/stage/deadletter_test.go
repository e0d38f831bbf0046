package stage_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/shopstream/shopstream/internal/deadletter"
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
	r := newBizRig(t)
	env, ctx := r.env, testenv.Context(t)
	st := r.open(ctx, t, kafkaOf(env), r.client(t, spoilOne{r.srv.Client().Transport}), "")
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
