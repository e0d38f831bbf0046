package stage

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/schemas"
)

// EnsureTopics creates the cursor topic (compacted) and the given logical
// topics with their dead-letter topics, unless they exist, with the
// broker's default partitions and replication. The data topics keep their
// records for k.InputRetention (the transform keeps its state in its own
// changelogs, so the inputs need only outlive an outage of their
// consumers); a dead letter stays until someone replays it. A topic that
// exists is left as it is. A stage must not rely on auto-creation: brokers
// usually disable it, and a transaction producing to a missing topic
// aborts.
func EnsureTopics(ctx context.Context, k Kafka, logical ...string) error {
	cl, err := kgo.NewClient(k.ClientOpts...)
	if err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := cursor.EnsureTopic(ctx, adm, k.Topic(schemas.TopicCursors), -1, -1); err != nil {
		return err
	}
	var data, dead []string
	for _, t := range logical {
		data, dead = append(data, k.Topic(t)), append(dead, k.Topic(deadletter.Topic(t)))
	}
	if err := kafkatopic.Ensure(ctx, adm, inputConfig(k.InputRetention), data...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	if err := kafkatopic.Ensure(ctx, adm, kafkatopic.KeepAll(), dead...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	return nil
}

// inputConfig is the configuration of data topics that keep their records
// for retention (0: for ever), whatever their size.
func inputConfig(retention time.Duration) map[string]*string {
	if retention <= 0 {
		return kafkatopic.KeepAll()
	}
	return map[string]*string{"retention.ms": kadm.StringPtr(strconv.FormatInt(retention.Milliseconds(), 10)), "retention.bytes": kadm.StringPtr("-1")}
}
