package stream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/kafkatopic"
	"github.com/shopstream/shopstream/transform/state"
)

// subTopology is one step of the topology: the topics it consumes, and
// what one of its tasks does with a record. Its tasks are numbered by the
// partition of its sources: task p consumes partition p of every source.
type subTopology struct {
	name string
	// inputs are external source topics (without the prefix), created by
	// others; internal names an internal repartition topic
	// (<group>-<internal>-repartition) of partitions partitions instead.
	inputs     []string
	internal   string
	partitions int
	// store, if set, gives each task a store with a changelog
	// <group>-<store>-changelog.
	store string
	// newTask returns the processor of task partition; st is nil without
	// a store.
	newTask func(partition int32, st *state.Store) processor
}

// processor handles the records of one task.
type processor interface {
	// process handles one record of the task's sources, reading and
	// writing the task's state through its store and sending records
	// with emit. An error stops the stage (the transaction aborts); a
	// record that can never be processed is a dead letter, not an error.
	process(ctx context.Context, r *kgo.Record, emit emitFunc) error
	// reset forgets what the processor caches of its state: the
	// transaction that wrote it aborted.
	reset()
}

// emitFunc sends a record: to an output topic (name without the prefix)
// or, with internal set, to the internal repartition topic of that name.
type emitFunc func(topic string, internal bool, key, value []byte, headers ...kgo.RecordHeader)

// topology is the sub-topologies of a stage and the names of its topics.
type topology struct {
	prefix, group string
	subs          []*subTopology
	// outputs are the external topics the stage produces to (without the
	// prefix), with their topic configs.
	outputs map[string]map[string]*string
}

// repartitionTopic names an internal repartition topic.
func (t *topology) repartitionTopic(name string) string {
	return t.prefix + t.group + "-" + name + "-repartition"
}

// changelogTopic names a store's changelog topic.
func (t *topology) changelogTopic(store string) string {
	return t.prefix + t.group + "-" + store + "-changelog"
}

// sources returns the full names of a sub-topology's source topics.
func (t *topology) sources(s *subTopology) []string {
	if s.internal != "" {
		return []string{t.repartitionTopic(s.internal)}
	}
	out := make([]string, len(s.inputs))
	for i, in := range s.inputs {
		out[i] = t.prefix + in
	}
	return out
}

// internalPartitions returns the partitions of each internal topic (full
// names): repartition topics and changelogs.
func (t *topology) internalPartitions() map[string]int {
	out := map[string]int{}
	for _, s := range t.subs {
		if s.internal == "" {
			continue
		}
		out[t.repartitionTopic(s.internal)] = s.partitions
		if s.store != "" {
			out[t.changelogTopic(s.store)] = s.partitions
		}
	}
	return out
}

// validate checks the topology's wiring.
func (t *topology) validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, s := range t.subs {
		switch {
		case s.internal == "" && len(s.inputs) == 0:
			errs = append(errs, fmt.Errorf("sub-topology %s has no source", s.name))
		case s.internal != "" && s.partitions < 1:
			errs = append(errs, fmt.Errorf("sub-topology %s: %d partitions", s.name, s.partitions))
		case s.store != "" && s.internal == "":
			// Task p of external inputs spans partition p of topics
			// whose partition counts the stage does not control.
			errs = append(errs, fmt.Errorf("sub-topology %s: a store needs an internal source topic", s.name))
		}
		for _, src := range t.sources(s) {
			if seen[src] {
				errs = append(errs, fmt.Errorf("topic %s is the source of two sub-topologies", src))
			}
			seen[src] = true
		}
	}
	return errors.Join(errs...)
}

// repartitionRetention bounds what a stopped deployment leaves in its
// repartition topics; a running stage deletes what it has committed.
const repartitionRetention = "604800000" // a week

// changelogDeleteRetention is how long compaction keeps changelog
// tombstones; state.Options.MaxCheckpointAge must not exceed it.
const changelogDeleteRetention = "86400000" // 24 hours

// changelogSegmentBytes and changelogSegmentMS roll a changelog's active
// segment, which compaction never touches, at 16 MiB or after an hour:
// with the broker's 1 GiB segments a task's changelog stayed uncompacted
// for most of its life, and a task that moved read every write ever made
// (bench-transform-restart: 3.8M changelog records for 1.5M inputs).
const (
	changelogSegmentBytes = "16777216"
	changelogSegmentMS    = "3600000"
)

// ensure creates the internal and output topics that do not exist, and
// checks that existing internal topics have the partitions the topology
// needs: a repartition topic with other partitions would route keys to
// other tasks than their state is in.
func (t *topology) ensure(ctx context.Context, adm *kadm.Client) error {
	var errs []error
	for topic, configs := range t.outputs {
		errs = append(errs, kafkatopic.Ensure(ctx, adm, configs, t.prefix+topic))
	}
	want := t.internalPartitions()
	for topic, n := range want {
		configs := map[string]*string{"retention.ms": kadm.StringPtr(repartitionRetention)}
		if isChangelog(topic) {
			configs = map[string]*string{"cleanup.policy": kadm.StringPtr("compact"),
				"delete.retention.ms": kadm.StringPtr(changelogDeleteRetention),
				"segment.bytes":       kadm.StringPtr(changelogSegmentBytes),
				"segment.ms":          kadm.StringPtr(changelogSegmentMS)}
		}
		res, err := adm.CreateTopics(ctx, int32(n), -1, configs, topic)
		if err != nil {
			errs = append(errs, fmt.Errorf("create %s: %w", topic, err))
			continue
		}
		if err := res.Error(); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create %s: %w", topic, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var names []string
	for topic := range want {
		names = append(names, topic)
	}
	if err := kafkatopic.Ready(ctx, adm, names...); err != nil {
		return err
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("list internal topics: %w", err)
	}
	for topic, n := range want {
		if d := details[topic]; len(d.Partitions) != n {
			errs = append(errs, fmt.Errorf("internal topic %s has %d partitions, the topology needs %d (transform.partitions "+
				"changed? it cannot change for a group: use a new transform.group, or delete the group's internal topics)",
				topic, len(d.Partitions), n))
		}
	}
	return errors.Join(errs...)
}

func isChangelog(topic string) bool {
	return strings.HasSuffix(topic, "-changelog")
}

// partitionOf returns the partition of an internal topic with n
// partitions that key belongs to. It is stable across processes and
// versions: it decides which task, and so which store, holds a key.
func partitionOf(key []byte, n int) int32 {
	h := fnv.New32a()
	_, _ = h.Write(key)
	return int32(h.Sum32() % uint32(n))
}

// partitioner partitions the records of internal topics as the engine
// set them (Record.Partition) and every other topic as Kafka's default
// partitioner does (murmur2 of the key), so downstream consumers see
// outputs partitioned as any producer would.
type partitioner struct {
	internal map[string]bool
	def      kgo.Partitioner
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.internal[topic] {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.def.ForTopic(topic)
}
