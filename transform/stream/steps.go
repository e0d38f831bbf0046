package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/state"
)

// Internal topics of the transform's topology.
const (
	internalIdentity = "identity"
	internalFacts    = "facts"
	internalPartials = "partials"
)

// factsStep is a facts task: join.Facts over the task's store, fed the
// facts of its entities and the link changes of the global table. It
// sends the partials that changed to the rows step.
type factsStep struct {
	facts *join.Facts
	st    *state.Store
	links *linksTable
	// pos is the product_links position the task has reacted to; nil
	// until read from the store (at start and after an abort).
	pos     map[int32]int64
	changed *[]identity.Ref // the links drained for the current transaction
	buf     []byte
}

// linksPosKey holds a facts task's product_links position.
var linksPosKey = []byte("\x00links")

func (s *factsStep) reset() { s.pos = nil }

func (s *factsStep) process(_ context.Context, r *kgo.Record, emit emitFunc) error {
	f, err := join.DecodeFact(r.Value)
	if err != nil {
		return fmt.Errorf("facts: %w", err)
	}
	cs, err := s.facts.Apply(f)
	if err != nil {
		return fmt.Errorf("facts: %s: %w", join.EntityOf(f), err)
	}
	s.send(cs, emit)
	return nil
}

func (s *factsStep) send(cs []join.PartialChange, emit emitFunc) {
	for i := range cs {
		c := &cs[i]
		s.buf = join.AppendPartialChange(s.buf[:0], c)
		emit(internalPartials, true, []byte(c.Key+":"+c.Day.String()), slices.Clone(s.buf))
	}
}

// tick reacts to the link changes this task has not seen: those drained
// for this transaction, or, when the task starts or its last transaction
// aborted, every link recorded after its stored position.
func (s *factsStep) tick(_ context.Context, emit emitFunc) error {
	refs := *s.changed
	if s.pos == nil {
		pos := map[int32]int64{}
		if b, ok, err := s.st.Get(linksPosKey); err != nil {
			return err
		} else if ok {
			r := reader{b: b}
			for range r.count() {
				p := int32(r.varint())
				pos[p] = r.varint()
			}
			if r.err != nil {
				return fmt.Errorf("facts: links position: %w", r.err)
			}
		}
		refs = s.links.changedSince(pos)
		s.pos = pos
	}
	if len(refs) == 0 && len(s.pos) == len(s.links.pos) && maps.Equal(s.pos, s.links.pos) {
		return nil
	}
	now := s.links.position()
	if len(refs) > 0 {
		cs, err := s.facts.Relink(refs, s.links.trigger(refs))
		if err != nil {
			return fmt.Errorf("facts: relink: %w", err)
		}
		s.send(cs, emit)
	}
	if !maps.Equal(now, s.pos) {
		b := binary.AppendUvarint(nil, uint64(len(now)))
		for _, p := range slices.Sorted(maps.Keys(now)) {
			b = binary.AppendVarint(binary.AppendVarint(b, int64(p)), now[p])
		}
		if err := s.st.Set(linksPosKey, b); err != nil {
			return err
		}
		s.pos = now
	}
	return nil
}

// rowsStep is a rows task: per row, the partials of the entities that
// reach it and the last version emitted (one key per row, r/<row>, a
// join.RowState; <row> is the output key, product_key:date); it emits a
// row when its content changed.
type rowsStep struct {
	st    *state.Store
	serde Serde
	zone  string
	floor int64
	rows  int // rows of the transaction, for metrics
	buf   []byte
}

func (s *rowsStep) reset() {}

func (s *rowsStep) process(_ context.Context, r *kgo.Record, emit emitFunc) error {
	c, err := join.DecodePartialChange(r.Value)
	if err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	key := append([]byte("r/"), r.Key...)
	var rs join.RowState
	if b, ok, err := s.st.Get(key); err != nil {
		return err
	} else if ok {
		if rs, err = join.DecodeRowState(b); err != nil {
			return fmt.Errorf("rows: %s: %w", r.Key, err)
		}
	}
	out, ok, err := rs.Apply(&c, s.zone, s.floor)
	if err != nil {
		return fmt.Errorf("rows: %s: %w", r.Key, err)
	}
	s.buf = join.AppendRowState(s.buf[:0], &rs)
	if err := s.st.Set(key, s.buf); err != nil {
		return err
	}
	if !ok {
		return nil
	}
	var v []byte
	if h, ok := s.serde.(headerAppender); ok {
		// The row's Avro body written directly, behind the schema's header.
		if v, err = h.AppendHeader(make([]byte, 0, 256), join.TopicProductDaily); err == nil {
			v = out.AppendAvro(v)
		}
	} else {
		v, err = s.serde.Encode(join.TopicProductDaily, out.Record())
	}
	if err != nil {
		return fmt.Errorf("rows: encode %s: %w", r.Key, err)
	}
	emit(join.TopicProductDaily, false, r.Key, v)
	s.rows++
	return nil
}

// headerAppender is a Serde that writes the wire-format header alone
// (*schemas.Serde), so a step can write the Avro body itself.
type headerAppender interface {
	AppendHeader(b []byte, topic string) ([]byte, error)
}
