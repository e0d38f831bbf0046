package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/native"
	"github.com/shopstream/shopstream/transform/join"
)

// routeStep is a route task: it decodes the input records of one
// partition index, dead-letters those that cannot be read (package
// deadletter), and forwards what each later step needs: identity inputs to
// the identity step, facts (in their wire form, keyed by entity) to the
// facts step. It also consumes the inputs' dead-letter topics for replay
// requests (`shopstream dlq replay`): the record a request carries is
// routed like a live input, with the replayed marker in the same
// transaction. Which dead letters were replayed is read from those topics
// when the instance starts (dl) and kept in memory; the step keeps no
// store.
type routeStep struct {
	prefix string
	stats  *batchStats
	dl     *deadLetters
	now    func() time.Time
	log    zerolog.Logger
	buf    []byte
	dec    decoder
}

// writerSchemas is what the fast decoder needs of a Serde: the schema a
// value was written with (*schemas.Serde has it).
type writerSchemas interface {
	WriterSchema(ctx context.Context, b []byte) (id int, schema string, payload []byte, err error)
}

// decoder reads values: straight from their Avro binary through the
// native.Plan of the writer schema when the serde names the schema and a
// plan compiles for it, else through the serde's goavro decoding. Both
// read the same (TestFastDecodeEqualsGoavro). Errors are the serde's. A
// decoder is used by one goroutine at a time.
type decoder struct {
	serde Serde
	log   zerolog.Logger
	// plans are the fast decoders of the writer schemas met, by schema
	// id (nil: the schema needs goavro); rec is the record they decode
	// into, valid until the next decode.
	plans map[int]*native.Plan
	rec   native.Record
}

func (d *decoder) decode(ctx context.Context, b []byte) (*native.Record, error) {
	if ws, ok := d.serde.(writerSchemas); ok {
		id, schema, payload, err := ws.WriterSchema(ctx, b)
		if err != nil {
			return nil, err
		}
		p, ok := d.plans[id]
		if !ok {
			if p, err = native.Compile(schema); err != nil {
				d.log.Debug().Err(err).Int("schema_id", id).Msg("records of this schema are decoded through goavro")
				p = nil
			}
			if d.plans == nil {
				d.plans = map[int]*native.Plan{}
			}
			d.plans[id] = p
		}
		if p != nil {
			if err := p.Decode(payload, &d.rec); err != nil {
				return nil, fmt.Errorf("schema id %d: %w", id, err)
			}
			return &d.rec, nil
		}
	}
	rec, err := d.serde.Decode(ctx, b)
	if err != nil {
		return nil, err
	}
	return native.Wrap(rec), nil
}

func (s *routeStep) reset() {}

func (s *routeStep) process(ctx context.Context, r *kgo.Record, emit emitFunc) error {
	if s.dl.isDLQ(r.Topic) {
		return s.replay(ctx, r, emit)
	}
	_, err := s.route(ctx, r, emit)
	return err
}

// out emits a record built for a full topic name (dead letters, markers).
func (s *routeStep) out(emit emitFunc, r *kgo.Record) {
	emit(strings.TrimPrefix(r.Topic, s.prefix), false, r.Key, r.Value, r.Headers...)
}

// replay handles a record of a dead-letter topic: a request to replay one
// of the transform's dead letters that is still open is routed, and marked
// replayed, unless it fails again (then it stays open).
func (s *routeStep) replay(ctx context.Context, r *kgo.Record, emit emitFunc) error {
	e := deadletter.Parse(r)
	if e.Kind != deadletter.EntryReplayRequest || e.ID.Stage != deadletter.StageTransform {
		return nil
	}
	log := s.log.With().Str("dead_letter", e.ID.String()).Logger()
	switch {
	case e.Err != nil:
		s.stats.replays["failed"]++
		log.Warn().Err(e.Err).Msg("replay request without the dead letter's coordinates; ignored")
		return nil
	case s.dl.replayed[e.ID]:
		s.stats.replays["already"]++
		return nil
	}
	orig := &kgo.Record{Topic: e.ID.Topic, Partition: e.ID.Partition, Offset: e.ID.Offset, Key: r.Key, Value: r.Value}
	ok, err := s.route(ctx, orig, func(topic string, internal bool, key, value []byte, headers ...kgo.RecordHeader) {
		if !internal && strings.HasSuffix(topic, deadletter.Suffix) {
			return // still dead: its letter stays open, no second letter
		}
		emit(topic, internal, key, value, headers...)
	})
	if err != nil {
		return err
	}
	if !ok {
		s.stats.replays["failed"]++
		log.Warn().Msg("dead letter replayed and failed again; it stays open")
		return nil
	}
	s.dl.replayed[e.ID] = true
	s.stats.replays["replayed"]++
	s.out(emit, deadletter.MarkerRecord(e.ID, s.now()))
	return nil
}

// route routes one input record; ok is false when it was dead-lettered.
func (s *routeStep) route(ctx context.Context, r *kgo.Record, emit emitFunc) (ok bool, err error) {
	if r.Value == nil {
		// A tombstone of a compacted input: the keyed record's delete was
		// already sent as op delete.
		return true, nil
	}
	topic := strings.TrimPrefix(r.Topic, s.prefix)
	s.stats.inputs[topic]++
	ok = true
	dead := func(class string, reason error) {
		ok = false
		s.stats.dead[topic]++
		s.out(emit, deadletter.FromKafka(deadletter.StageTransform, r, class, reason.Error(), s.now()).Record(0))
	}
	rec, err := s.dec.decode(ctx, r.Value)
	if err != nil {
		if class := deadletter.DecodeClass(err); class != "" {
			dead(class, fmt.Errorf("decode: %w", err))
			return ok, nil
		}
		return false, fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	m, err := join.ReadNativeMeta(rec)
	if err != nil {
		dead(deadletter.ClassProcessing, fmt.Errorf("%s: %w", topic, err))
		return ok, nil
	}
	var (
		fact join.Fact
		id   *identityMsg
	)
	switch topic {
	case identity.TopicTikTokProducts:
		src, items, err := identity.TikTokProductNative(rec)
		if err != nil {
			dead(deadletter.ClassProcessing, err)
			return ok, nil
		}
		id = &identityMsg{source: src, items: items}
	case identity.TopicAmazonCatalog:
		src, items, err := identity.AmazonCatalogNative(rec)
		if err == nil {
			fact, err = join.ReadNative(topic, rec)
		}
		if err != nil {
			dead(deadletter.ClassProcessing, err)
			return ok, nil
		}
		id = &identityMsg{source: src, items: items}
	default:
		if fact, err = join.ReadNative(topic, rec); err == nil {
			err = join.Check(fact)
		}
		if err != nil {
			dead(deadletter.ClassProcessing, err)
			return ok, nil
		}
		if ref, sku, ok := learntSKU(topic, rec); ok && m.Op != "delete" {
			id = &identityMsg{learn: true, ref: ref, sku: sku}
		}
	}
	if id != nil {
		id.version, id.sourceTS, id.ingestTS = m.Version, m.SourceTS, m.IngestTS
		emit(internalIdentity, true, []byte(id.source), id.append(nil))
	}
	if fact != nil {
		s.buf = join.AppendFact(s.buf[:0], fact)
		emit(internalFacts, true, []byte(join.EntityOf(fact)), append([]byte(nil), s.buf...))
	}
	return true, nil
}

var errNoSerde = errors.New("stream: config needs a serde")
