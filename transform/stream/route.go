package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// routeStep is a route task: it decodes the input records of one
// partition index, dead-letters those that cannot be read, and forwards
// what each later step needs: identity inputs to the identity step, facts
// (in their wire form, keyed by entity) to the facts step. It keeps no
// state.
type routeStep struct {
	serde  Serde
	prefix string
	stats  *batchStats
	buf    []byte
}

func (s *routeStep) reset() {}

func (s *routeStep) process(ctx context.Context, r *kgo.Record, emit emitFunc) error {
	if r.Value == nil {
		// A tombstone of a compacted input: the keyed record's delete was
		// already sent as op delete.
		return nil
	}
	topic := strings.TrimPrefix(r.Topic, s.prefix)
	s.stats.inputs[topic]++
	dead := func(reason error) {
		s.stats.dead[topic]++
		d := deadLetter{reason}.record(r)
		emit(topic+DeadLetterSuffix, false, d.Key, d.Value, d.Headers...)
	}
	rec, err := s.serde.Decode(ctx, r.Value)
	if err != nil {
		if isPermanentDecodeError(err) {
			dead(fmt.Errorf("decode: %w", err))
			return nil
		}
		return fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	m, err := join.ReadMeta(rec)
	if err != nil {
		dead(fmt.Errorf("%s: %w", topic, err))
		return nil
	}
	var (
		fact join.Fact
		id   *identityMsg
	)
	switch topic {
	case identity.TopicTikTokProducts:
		src, items, err := identity.TikTokProductItems(rec)
		if err != nil {
			dead(err)
			return nil
		}
		id = &identityMsg{source: src, items: items}
	case identity.TopicAmazonCatalog:
		src, items, err := identity.AmazonCatalogItems(rec)
		if err == nil {
			fact, err = join.ReadRecord(topic, rec)
		}
		if err != nil {
			dead(err)
			return nil
		}
		id = &identityMsg{source: src, items: items}
	default:
		if fact, err = join.ReadRecord(topic, rec); err == nil {
			err = join.Check(fact)
		}
		if err != nil {
			dead(err)
			return nil
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
	return nil
}

var errNoSerde = errors.New("stream: config needs a serde")
