package stage_test

import (
	"testing"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// TestEnsureTopicsKeepHistory: data and dead-letter topics are created with
// unlimited retention (the transform rebuilds from their whole history), the
// cursor topic compacted.
func TestEnsureTopicsKeepHistory(t *testing.T) {
	env := testenv.NewKafka(t)
	ctx := testenv.Context(t)
	if err := stage.EnsureTopics(ctx, kafkaOf(env), schemas.TopicTikTokVideoEngagement); err != nil {
		t.Fatal(err)
	}
	data, dead := env.Topic(schemas.TopicTikTokVideoEngagement), env.Topic(schemas.TopicTikTokVideoEngagement+deadletter.Suffix)
	rcs, err := env.Admin.DescribeTopicConfigs(ctx, data, dead)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			t.Fatalf("%s: %v", rc.Name, rc.Err)
		}
		got := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
		if got["retention.ms"] != "-1" || got["retention.bytes"] != "-1" {
			t.Errorf("%s: retention.ms=%s retention.bytes=%s, want -1 and -1", rc.Name, got["retention.ms"], got["retention.bytes"])
		}
	}
}
