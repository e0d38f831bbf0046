package cursor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/schemas"
)

// Decoder decodes a Confluent wire-format value; *schemas.Serde is one.
type Decoder interface {
	Decode(ctx context.Context, b []byte) (map[string]any, error)
}

// LoadConfig says where the cursors are.
type LoadConfig struct {
	// ClientOpts connect to the cluster: seed brokers, SASL, TLS, logger.
	// Load adds its own consume options.
	ClientOpts []kgo.Opt
	// Topic is the cursor topic; empty means [schemas.TopicCursors].
	Topic string
	// Decoder decodes the cursor records.
	Decoder Decoder
}

// pollHook, when set (by tests), runs after Load processed each poll.
var pollHook func()

// Set is the latest committed cursor of every name of one source.
type Set struct {
	source string
	byName map[string]Cursor
}

// NewSet returns an empty set for source, as a first run sees it.
func NewSet(source string) *Set {
	return &Set{source: source, byName: map[string]Cursor{}}
}

// Source returns the source whose cursors the set holds.
func (s *Set) Source() string { return s.source }

// Len returns the number of names in the set.
func (s *Set) Len() int { return len(s.byName) }

// Get returns the cursor of name, if one was stored.
func (s *Set) Get(name string) (Cursor, bool) {
	c, ok := s.byName[name]
	return c, ok
}

// Cursor returns the stored cursor of name, or [New] when there is none.
func (s *Set) Cursor(name string) Cursor {
	if c, ok := s.byName[name]; ok {
		return c
	}
	return New(s.source, name)
}

// WithPrefix returns the cursors whose name starts with prefix, sorted by name.
func (s *Set) WithPrefix(prefix string) []Cursor {
	var out []Cursor
	for name, c := range s.byName {
		if strings.HasPrefix(name, prefix) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Cursor) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Load reads the cursor topic from its start to its high watermark as of
// the call, with read_committed isolation, and returns the latest cursor of
// every name of source. Records of aborted transactions are never seen; a
// null value (tombstone) removes its name. A missing topic is an empty set.
//
// Reading stops at the high watermark, not at the last stable offset: a
// transaction of another source that is open at the call holds the last
// stable offset back, and a cursor of ours committed after it would be
// missed, so the stage would repeat a window. Load therefore waits until
// every transaction open at the call has ended (at most the transaction
// timeout of a stuck producer). Transactions of this source are never open
// here: creating the Writer fenced them.
//
// The whole topic is read, because Kafka places keys by hash: the cost grows
// with the number of live keys of every source (the topic is compacted), not
// with history.
func Load(ctx context.Context, cfg LoadConfig, source string) (*Set, error) {
	if cfg.Decoder == nil {
		return nil, errors.New("cursor: load: no decoder")
	}
	topic := cfg.Topic
	if topic == "" {
		topic = schemas.TopicCursors
	}
	targets, starts, err := bounds(ctx, cfg.ClientOpts, topic)
	if err != nil {
		return nil, err
	}
	set := NewSet(source)
	if len(targets) == 0 {
		return set, nil
	}

	parts := make(map[int32]kgo.Offset, len(targets))
	for p := range targets {
		parts[p] = kgo.NewOffset().At(starts[p])
	}
	opts := append(slices.Clone(cfg.ClientOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (commit and abort markers) are kept only so that
		// their offsets tell us how far we have read: under read_committed
		// the last offset below the target can be a marker, or a record of
		// an aborted transaction, which is followed by its marker.
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cursor: load %s: consumer client: %w", topic, err)
	}
	defer cl.Close()

	next := make(map[int32]int64, len(targets)) // next offset to read per partition
	for p := range targets {
		next[p] = starts[p]
	}
	prefix := source + ":"
	for !caughtUp(next, targets) {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cursor: load %s for source %s: %w", topic, source, err)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("partition %d: %w", p, err))
		})
		if ferr != nil {
			return nil, fmt.Errorf("cursor: load %s for source %s: fetch: %w", topic, source, ferr)
		}
		var derr error
		fetches.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = max(next[r.Partition], r.Offset+1)
			if r.Attrs.IsControl() || !strings.HasPrefix(string(r.Key), prefix) || derr != nil {
				return
			}
			name := strings.TrimPrefix(string(r.Key), prefix)
			if r.Value == nil {
				delete(set.byName, name)
				return
			}
			rec, err := cfg.Decoder.Decode(ctx, r.Value)
			if err != nil {
				derr = fmt.Errorf("decode cursor %s at partition %d offset %d: %w", r.Key, r.Partition, r.Offset, err)
				return
			}
			c, err := FromRecord(rec)
			if err != nil {
				derr = fmt.Errorf("cursor %s at partition %d offset %d: %w", r.Key, r.Partition, r.Offset, err)
				return
			}
			set.byName[name] = c
		})
		if pollHook != nil {
			pollHook()
		}
		if derr != nil {
			// A cursor of our own source that cannot be read must stop
			// the stage: going on would skip or repeat its window.
			return nil, fmt.Errorf("cursor: load %s for source %s: %w", topic, source, derr)
		}
	}
	return set, nil
}

func caughtUp(next, targets map[int32]int64) bool {
	for p, t := range targets {
		if next[p] < t {
			return false
		}
	}
	return true
}

// bounds returns, per partition of topic that holds data, the high
// watermark (where reading stops) and the log start offset (where it starts).
func bounds(ctx context.Context, clientOpts []kgo.Opt, topic string) (targets, starts map[int32]int64, err error) {
	cl, err := kgo.NewClient(clientOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("cursor: admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("cursor: list end offsets of %s: %w", topic, err)
	}
	begins, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("cursor: list start offsets of %s: %w", topic, err)
	}
	targets, starts = map[int32]int64{}, map[int32]int64{}
	var errs []error
	ends.Each(func(o kadm.ListedOffset) {
		switch {
		case o.Partition == -1 && errors.Is(o.Err, kerr.UnknownTopicOrPartition):
			// No cursor was ever written.
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("partition %d: end offset: %w", o.Partition, o.Err))
		default:
			b, ok := begins.Lookup(topic, o.Partition)
			switch {
			case !ok || b.Err != nil:
				errs = append(errs, fmt.Errorf("partition %d: no start offset: %v", o.Partition, b.Err))
			case o.Offset > b.Offset:
				targets[o.Partition], starts[o.Partition] = o.Offset, b.Offset
			}
		}
	})
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("cursor: offsets of %s: %w", topic, errors.Join(errs...))
	}
	return targets, starts, nil
}

// EnsureTopic creates the cursor topic, compacted, unless it exists. A topic
// created by broker auto-creation would not be compacted and would grow with
// every window forever. Segments are kept small (64 MiB) because compaction
// never touches the active segment: every start of every stage reads the
// whole topic, and the uncompacted tail is what makes that slow.
func EnsureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32, replicationFactor int16) error {
	if topic == "" {
		topic = schemas.TopicCursors
	}
	configs := map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"),
		"segment.bytes":  kadm.StringPtr(strconv.Itoa(64 << 20)),
	}
	_, err := adm.CreateTopic(ctx, partitions, replicationFactor, configs, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("cursor: create topic %s: %w", topic, err)
	}
	if err := kafkatopic.Ready(ctx, adm, topic); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	return nil
}
