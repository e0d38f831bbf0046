// Package deadletter is the one dead-letter contract of every stage. Ingest,
// transform and load build their dead letters here, so that one reader
// (dead_letters, status, `shopstream dlq replay`) understands all of them.
//
// # Records on <topic>.dlq
//
// A dead letter is what a stage could not process, kept on the dead-letter
// topic of the topic it was read from or meant for ([Topic]): the original
// key and value (for ingest, the API payload; cut to a size limit when the
// stage asks), and headers naming the stage, the reason, an error class,
// where the record came from (the original topic, partition and offset, or,
// for an ingest payload that never was a Kafka record, the API endpoint),
// when the stage gave up, and whether the value was truncated.
//
// Two more kinds of record share the topic:
//   - a replay request asks the stage that dead-lettered a record to process
//     it again (the transform, whose state lives in the running stage): the
//     dead letter's key and value, and the [ID] of the dead letter;
//   - a replayed marker says a dead letter was processed after all, by
//     whoever replayed it, in the transaction that wrote the result where
//     there is one.
//
// # State of a dead letter
//
// A dead letter is open from the moment it is written until a marker with
// its [ID] exists (in the topic, and as a row of dead_letters_replayed). A
// replay that fails again changes nothing: the dead letter stays open for
// the next one. Replaying is idempotent: a marked dead letter is not
// replayed again.
package deadletter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/schemas"
)

// Suffix is appended to a topic to name its dead-letter topic.
const Suffix = ".dlq"

// Topic returns the dead-letter topic of topic.
func Topic(topic string) string { return topic + Suffix }

// Header names. Every stage writes the same set; the ones that do not apply
// are left out.
const (
	HeaderReason     = "shopstream.dlq.reason"
	HeaderErrorClass = "shopstream.dlq.error_class"
	HeaderStage      = "shopstream.dlq.stage"
	// HeaderTopic, HeaderPartition and HeaderOffset are where the original
	// record was read. An ingest dead letter has only HeaderTopic: the topic
	// its payload was meant for.
	HeaderTopic     = "shopstream.dlq.original_topic"
	HeaderPartition = "shopstream.dlq.original_partition"
	HeaderOffset    = "shopstream.dlq.original_offset"
	// HeaderEndpoint is the API operation an ingest payload came from.
	HeaderEndpoint = "shopstream.dlq.source_endpoint"
	// HeaderTime is when the stage gave up on the record (RFC 3339, UTC).
	HeaderTime = "shopstream.dlq.time"
	// HeaderTruncated is set, to the value's full length, when the value was
	// cut to the size limit.
	HeaderTruncated = "shopstream.dlq.truncated_from_bytes"
	// HeaderChange is set by ingest when change capture had recorded the
	// payload's change (op/version) before writing it failed: a replay
	// writes that change, so it keeps its version and event id.
	HeaderChange = "shopstream.dlq.change"
	// HeaderKind is absent on a dead letter, EntryReplayRequest or
	// EntryReplayed on the other records of a dead-letter topic.
	HeaderKind = "shopstream.dlq.kind"
)

// Values of HeaderKind.
const (
	EntryReplayRequest = "replay_request"
	EntryReplayed      = "replayed"
)

// Kinds of stage, as [Letter.Kind] says.
const (
	KindIngest    = "ingest"
	KindTransform = "transform"
	KindLoad      = "load"
)

// Stages that write dead letters; an ingest stage is IngestStage(source).
const (
	StageTransform = KindTransform
	StageLoad      = KindLoad
	ingestPrefix   = KindIngest + "-"
)

// IngestStage names the ingest stage of source, e.g. ingest-amazon.
func IngestStage(source string) string { return ingestPrefix + source }

// IngestSource returns the source of an ingest stage name.
func IngestSource(stage string) (string, bool) { return strings.CutPrefix(stage, ingestPrefix) }

// Error classes: why a record is dead, in one word.
const (
	// ClassBadHeader, ClassUnknownSchema and ClassUndecodable: the value
	// is not Confluent wire format, names a schema id the registry does not
	// know, or does not decode with its schema (see [DecodeClass]).
	ClassBadHeader     = "bad_header"
	ClassUnknownSchema = "unknown_schema"
	ClassUndecodable   = "undecodable"
	// ClassMapping: the record decoded but does not map: to the table's
	// columns (load), or an API object to its record (ingest).
	ClassMapping = "mapping"
	// ClassProcessing: the transform cannot apply the decoded record to
	// identity resolution or the join.
	ClassProcessing = "processing"
	// ClassMalformed: an API payload does not parse.
	ClassMalformed = "malformed"
	// ClassEncoding: a record does not fit its topic's schema, or change
	// capture refused it.
	ClassEncoding = "encoding"
)

// DecodeClass returns the class of a schemas.Serde decode error that no
// retry can fix (the value is poison), or "" for one that may go away (the
// registry could not be reached).
func DecodeClass(err error) string {
	switch {
	case errors.Is(err, schemas.ErrBadHeader):
		return ClassBadHeader
	case errors.Is(err, schemas.ErrUnknownSchemaID):
		return ClassUnknownSchema
	case errors.Is(err, schemas.ErrUndecodable):
		return ClassUndecodable
	}
	return ""
}

// ID names one dead letter: in replay requests and markers, in
// dead_letters (source_topic, source_partition, source_offset, stage) and
// in dead_letters_replayed. It is the stage and the original record's
// coordinates; an ingest dead letter, which has none, is named by its own
// position in the dead-letter topic.
type ID struct {
	Stage     string
	Topic     string
	Partition int32
	Offset    int64
}

func (id ID) String() string {
	return fmt.Sprintf("%s %s/%d/%d", id.Stage, id.Topic, id.Partition, id.Offset)
}

func kindOf(stage string) string {
	if _, ok := IngestSource(stage); ok {
		return KindIngest
	}
	return stage
}

// Letter is one dead letter.
type Letter struct {
	// Topic is the topic the record was read from (transform, load) or
	// meant for (ingest), as named in Kafka.
	Topic string
	// Key and Value are the original record's, or for ingest the entity
	// key (when known) and the API payload.
	Key, Value []byte
	Stage      string
	Reason     string
	Class      string
	// Partition and Offset are where the original record was read; Offset
	// is -1 for an ingest payload, which never was a Kafka record.
	Partition int32
	Offset    int64
	// Endpoint is the API operation an ingest payload came from.
	Endpoint string
	// Time is when the stage gave up on it.
	Time time.Time
	// TruncatedFrom is the value's length before it was cut to the size
	// limit; 0 when it was not cut.
	TruncatedFrom int
	// Change is set by ingest when change capture had recorded the change.
	Change *Change

	// DLQPartition and DLQOffset are where the dead letter itself is: set
	// by [Parse]; -1 for one not written yet.
	DLQPartition int32
	DLQOffset    int64
}

// Change is the change-capture metadata an ingest dead letter keeps.
type Change struct {
	Op      string
	Version int64
}

// FromKafka returns a Letter of a record r that stage could not process.
func FromKafka(stage string, r *kgo.Record, class, reason string, at time.Time) Letter {
	return Letter{Topic: r.Topic, Key: r.Key, Value: r.Value, Stage: stage, Class: class, Reason: reason,
		Partition: r.Partition, Offset: r.Offset, Time: at, DLQPartition: -1, DLQOffset: -1}
}

// FromPayload returns a Letter of an API payload that an ingest stage could
// not turn into a record of topic (its Kafka name). key may be empty.
func FromPayload(stage, topic, key string, payload []byte, endpoint, class, reason string, at time.Time) Letter {
	l := Letter{Topic: topic, Value: payload, Stage: stage, Class: class, Reason: reason, Endpoint: endpoint,
		Offset: -1, Time: at, DLQPartition: -1, DLQOffset: -1}
	if key != "" {
		l.Key = []byte(key)
	}
	return l
}

// Kind is the kind of stage that wrote l: KindIngest, KindTransform or
// KindLoad.
func (l Letter) Kind() string { return kindOf(l.Stage) }

// ID returns the letter's ID. For an ingest letter it needs the letter's
// position (a parsed letter).
func (l Letter) ID() ID {
	if l.Offset >= 0 {
		return ID{Stage: l.Stage, Topic: l.Topic, Partition: l.Partition, Offset: l.Offset}
	}
	return ID{Stage: l.Stage, Topic: l.Topic, Partition: l.DLQPartition, Offset: l.DLQOffset}
}

// Record returns the dead-letter record of l, for Topic(l.Topic). A
// maxBytes above 0 cuts the value to that many bytes (and says so in
// HeaderTruncated): a dead letter too large for the topic would fail the
// transaction that carries it.
func (l Letter) Record(maxBytes int) *kgo.Record {
	value := l.Value
	truncated := l.TruncatedFrom
	if maxBytes > 0 && len(value) > maxBytes {
		truncated = len(value)
		value = value[:maxBytes]
	}
	h := []kgo.RecordHeader{
		header(HeaderStage, l.Stage),
		header(HeaderReason, l.Reason),
		header(HeaderErrorClass, l.Class),
		header(HeaderTopic, l.Topic),
	}
	if l.Offset >= 0 {
		h = append(h, header(HeaderPartition, strconv.Itoa(int(l.Partition))), header(HeaderOffset, strconv.FormatInt(l.Offset, 10)))
	}
	if l.Endpoint != "" {
		h = append(h, header(HeaderEndpoint, l.Endpoint))
	}
	if !l.Time.IsZero() {
		h = append(h, header(HeaderTime, l.Time.UTC().Format(time.RFC3339Nano)))
	}
	if truncated > 0 {
		h = append(h, header(HeaderTruncated, strconv.Itoa(truncated)))
	}
	if l.Change != nil {
		h = append(h, header(HeaderChange, l.Change.Op+"/"+strconv.FormatInt(l.Change.Version, 10)))
	}
	return &kgo.Record{Topic: Topic(l.Topic), Key: clone(l.Key), Value: clone(value), Headers: h}
}

// RequestRecord returns a request that the stage which wrote l process it
// again: l's key and value, on l's dead-letter topic.
func RequestRecord(l Letter) *kgo.Record {
	h := append(idHeaders(l.ID()), header(HeaderKind, EntryReplayRequest))
	return &kgo.Record{Topic: Topic(l.Topic), Key: clone(l.Key), Value: clone(l.Value), Headers: h}
}

// MarkerRecord returns the marker that the dead letter id was replayed.
func MarkerRecord(id ID, at time.Time) *kgo.Record {
	h := append(idHeaders(id), header(HeaderKind, EntryReplayed), header(HeaderTime, at.UTC().Format(time.RFC3339Nano)))
	return &kgo.Record{Topic: Topic(id.Topic), Headers: h}
}

func idHeaders(id ID) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		header(HeaderStage, id.Stage),
		header(HeaderTopic, id.Topic),
		header(HeaderPartition, strconv.Itoa(int(id.Partition))),
		header(HeaderOffset, strconv.FormatInt(id.Offset, 10)),
	}
}

func header(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
