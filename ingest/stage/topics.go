package stage

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/cursor"
	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/schemas"
)

// EnsureTopics creates the cursor topic (compacted) and the given logical
// topics with their dead-letter topics, unless they exist, with the
// broker's default partitions and replication and unlimited retention: the
// transform rebuilds its state from the whole history of the data topics,
// and a dead letter must stay until someone replays it. A stage must not
// rely on auto-creation: brokers usually disable it, and a transaction
// producing to a missing topic aborts.
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
	var names []string
	for _, t := range logical {
		names = append(names, k.Topic(t), k.Topic(deadletter.Topic(t)))
	}
	if err := kafkatopic.Ensure(ctx, adm, kafkatopic.KeepAll(), names...); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	return nil
}
