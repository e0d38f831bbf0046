package stage_test

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/ingest/stage"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas"
)

// TestEnsureTopicsRetention: data topics are created with the retention of
// kafka.input_retention (read back from the broker; 0 keeps records for
// ever) and dead-letter topics with unlimited retention whatever it is
// (a dead letter stays until replayed).
func TestEnsureTopicsRetention(t *testing.T) {
	for _, tc := range []struct {
		retention time.Duration
		dataMS    string
	}{{7 * 24 * time.Hour, "604800000"}, {0, "-1"}} {
		t.Run(tc.retention.String(), func(t *testing.T) {
			env := testenv.NewKafka(t)
			ctx := testenv.Context(t)
			k := kafkaOf(env)
			k.InputRetention = tc.retention
			if err := stage.EnsureTopics(ctx, k, schemas.TopicTikTokVideoEngagement); err != nil {
				t.Fatal(err)
			}
			data, dead := env.Topic(schemas.TopicTikTokVideoEngagement), env.Topic(schemas.TopicTikTokVideoEngagement+deadletter.Suffix)
			want := map[string]string{data: tc.dataMS, dead: "-1"}
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
				if got["retention.ms"] != want[rc.Name] || got["retention.bytes"] != "-1" {
					t.Errorf("%s: retention.ms=%s retention.bytes=%s, want %s and -1", rc.Name, got["retention.ms"], got["retention.bytes"], want[rc.Name])
				}
			}
		})
	}
}
