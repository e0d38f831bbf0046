package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/wire"
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
	// relinks is how many more entities the instance's facts tasks may
	// relink in the current transaction (Config.MaxTransactionRelinks),
	// shared by them.
	relinks *int
	// queued is set while the task's relink queue may hold work: after
	// a start or an abort (the store may hold a queue) and until a tick
	// finds it empty.
	queued bool
	buf    []byte
}

// linksPosKey holds a facts task's product_links position.
var linksPosKey = []byte("\x00links")

func (s *factsStep) reset() {
	s.pos = nil
	s.queued = true
	s.facts.Reset()
}

// busy reports whether the task has relinks left for later transactions.
func (s *factsStep) busy() bool { return s.queued }

// factsFlushed, set by tests, is called with the entities a facts task
// flushes at the end of each transaction; an error fails the flush (a
// crash before the commit).
var factsFlushed func(task string, entities int) error

func (s *factsStep) process(_ context.Context, r *kgo.Record, _ emitFunc) error {
	f, err := join.DecodeFact(r.Value)
	if err != nil {
		return fmt.Errorf("facts: %w", err)
	}
	if err := s.facts.Apply(f); err != nil {
		return fmt.Errorf("facts: %s: %w", join.EntityOf(f), err)
	}
	return nil
}

// flush sends the partials the transaction's facts and link changes moved.
func (s *factsStep) flush(_ context.Context, emit emitFunc) error {
	if factsFlushed != nil {
		if err := factsFlushed(s.st.Name(), s.facts.Pending()); err != nil {
			return err
		}
	}
	cs, err := s.facts.Flush()
	if err != nil {
		return fmt.Errorf("facts: %w", err)
	}
	for i := range cs {
		c := &cs[i]
		s.buf = join.AppendPartialChange(s.buf[:0], c)
		emit(internalPartials, true, []byte(c.Key+":"+c.Day.String()), slices.Clone(s.buf))
	}
	return nil
}

// tick reacts to the link changes this task has not seen: those drained
// for this transaction, or, when the task starts or its last transaction
// aborted, every link recorded after its stored position. It queues the
// channel products whose links changed in the store, with the position,
// and relinks the queue's next entities, as many as the transaction's
// budget has left: a link change that many entities depend on is spread
// over transactions, which the engine runs back to back while the queue
// is not empty.
func (s *factsStep) tick(context.Context, emitFunc) error {
	refs := *s.changed
	if s.pos == nil {
		pos := map[int32]int64{}
		if b, ok, err := s.st.Get(linksPosKey); err != nil {
			return err
		} else if ok {
			r := wire.Reader{B: b}
			for range r.Count() {
				p := int32(r.Varint())
				pos[p] = r.Varint()
			}
			if r.Err != nil {
				return fmt.Errorf("facts: links position: %w", r.Err)
			}
		}
		refs = s.links.changedSince(pos)
		s.pos, s.queued = pos, true
	}
	if len(refs) > 0 {
		if err := s.facts.Relink(refs, s.links.trigger(refs)); err != nil {
			return fmt.Errorf("facts: relink: %w", err)
		}
		s.queued = true
	}
	if !maps.Equal(s.links.pos, s.pos) {
		now := s.links.position()
		b := binary.AppendUvarint(nil, uint64(len(now)))
		for _, p := range slices.Sorted(maps.Keys(now)) {
			b = binary.AppendVarint(binary.AppendVarint(b, int64(p)), now[p])
		}
		if err := s.st.Set(linksPosKey, b); err != nil {
			return err
		}
		s.pos = now
	}
	if s.queued && *s.relinks > 0 {
		n, more, err := s.facts.RelinkQueued(*s.relinks)
		if err != nil {
			return fmt.Errorf("facts: relink: %w", err)
		}
		*s.relinks -= n
		s.queued = more
	}
	return nil
}

// rowsStep is a rows task: per row, the sum of the partials of the
// entities that reach it and the last version emitted (one key per row,
// r/<row>, a join.RowState; <row> is the output key, product_key:date).
// The partial changes of a transaction are summed in memory and each
// changed row is emitted once, when the transaction ends (as Kafka Streams'
// caching suppresses all but the last update of a key per commit).
type rowsStep struct {
	st    *state.Store
	serde Serde
	zone  string
	floor int64
	// rows are the rows the transaction touched, with the trigger of the
	// last change of each.
	rows  map[string]*pendingRow
	free  []*pendingRow // of earlier transactions, to reuse
	count int           // rows emitted by the transaction, for metrics
	buf   []byte
	key   []byte
}

type pendingRow struct {
	rs      join.RowState
	key     string
	day     join.Day
	trigger join.Meta
}

func (s *rowsStep) reset() { clear(s.rows) }

func (s *rowsStep) process(_ context.Context, r *kgo.Record, _ emitFunc) error {
	c, err := join.DecodePartialChange(r.Value)
	if err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	p := s.rows[string(r.Key)]
	if p == nil {
		if n := len(s.free); n > 0 {
			p, s.free = s.free[n-1], s.free[:n-1]
			*p = pendingRow{key: c.Key, day: c.Day}
		} else {
			p = &pendingRow{key: c.Key, day: c.Day}
		}
		s.key = append(append(s.key[:0], "r/"...), r.Key...)
		if b, ok, err := s.st.Get(s.key); err != nil {
			return err
		} else if ok {
			if p.rs, err = join.DecodeRowState(b); err != nil {
				return fmt.Errorf("rows: %s: %w", r.Key, err)
			}
		}
		s.rows[string(r.Key)] = p
	}
	if err := p.rs.Apply(&c); err != nil {
		return fmt.Errorf("rows: %s: %w", r.Key, err)
	}
	p.trigger = c.Trigger
	return nil
}

// flush emits the rows of the transaction whose content changed, and
// writes their state.
func (s *rowsStep) flush(_ context.Context, emit emitFunc) error {
	for _, k := range slices.Sorted(maps.Keys(s.rows)) {
		p := s.rows[k]
		out, ok := p.rs.Next(p.key, p.day, s.zone, s.floor, p.trigger)
		key := append([]byte("r/"), k...)
		var err error
		if p.rs.Empty() && p.rs.Version() == 0 {
			err = s.st.Delete(key)
		} else {
			s.buf = join.AppendRowState(s.buf[:0], &p.rs)
			err = s.st.Set(key, s.buf)
		}
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		v, err := encodeOutput(s.serde, join.TopicProductDaily, out.AppendAvro, out.Record)
		if err != nil {
			return fmt.Errorf("rows: encode %s: %w", k, err)
		}
		emit(join.TopicProductDaily, false, []byte(k), v)
		s.count++
	}
	for _, p := range s.rows {
		if len(s.free) < maxFreeRows {
			s.free = append(s.free, p)
		}
	}
	clear(s.rows)
	return nil
}

// maxFreeRows bounds the rows a rows task keeps for reuse.
const maxFreeRows = 4096

// headerAppender is a Serde that writes the wire-format header alone
// (*schemas.Serde), so a step can write the Avro body itself.
type headerAppender interface {
	AppendHeader(b []byte, topic string) ([]byte, error)
}

// encodeOutput encodes an output value of topic: its Avro body written
// by appendBody straight behind the schema's header when the serde writes
// headers, else the native record through the serde (goavro).
func encodeOutput(serde Serde, topic string, appendBody func([]byte) []byte, record func() map[string]any) ([]byte, error) {
	h, ok := serde.(headerAppender)
	if !ok {
		return serde.Encode(topic, record())
	}
	b, err := h.AppendHeader(make([]byte, 0, 256), topic)
	if err != nil {
		return nil, err
	}
	return appendBody(b), nil
}
