package stream

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/wire"
	"github.com/shopstream/shopstream/transform/state"
)

// identityMsg is what the route step sends the identity step: the
// products one source record lists now (a catalog ASIN, a TikTok product
// with its SKUs; none for a delete), or a seller SKU learnt from sales
// and orders.
type identityMsg struct {
	learn    bool
	source   string
	items    []identity.Item
	ref      identity.Ref
	sku      string
	version  int64
	sourceTS time.Time
	ingestTS time.Time
}

func appendRef(b []byte, r identity.Ref) []byte {
	return wire.AppendString(wire.AppendString(wire.AppendString(b, string(r.Channel)), r.Account), r.ID)
}

func (m *identityMsg) append(b []byte) []byte {
	b = append(b, 1) // layout
	if m.learn {
		b = append(b, 'l')
	} else {
		b = append(b, 'p')
	}
	b = binary.AppendVarint(b, m.version)
	b = binary.AppendVarint(b, m.sourceTS.UnixNano())
	b = binary.AppendVarint(b, m.ingestTS.UnixNano())
	if m.learn {
		return wire.AppendString(appendRef(b, m.ref), m.sku)
	}
	b = wire.AppendString(b, m.source)
	b = binary.AppendUvarint(b, uint64(len(m.items)))
	for _, it := range m.items {
		b = wire.AppendString(wire.AppendString(appendRef(b, it.Ref), it.ProductID), it.SellerSKU)
		b = binary.AppendUvarint(b, uint64(len(it.Identifiers)))
		for _, id := range it.Identifiers {
			b = wire.AppendString(wire.AppendString(b, id.Type), id.Value)
		}
	}
	return b
}

func readRef(r *wire.Reader) identity.Ref {
	return identity.Ref{Channel: identity.Channel(r.String()), Account: r.String(), ID: r.String()}
}

func decodeIdentityMsg(b []byte) (identityMsg, error) {
	r := wire.Reader{B: b}
	if v := r.Byte(); v != 1 && r.Err == nil {
		return identityMsg{}, fmt.Errorf("identity message of layout %d", v)
	}
	var m identityMsg
	m.learn = r.Byte() == 'l'
	m.version = r.Varint()
	m.sourceTS = time.Unix(0, r.Varint()).UTC()
	m.ingestTS = time.Unix(0, r.Varint()).UTC()
	if m.learn {
		m.ref, m.sku = readRef(&r), r.String()
	} else {
		m.source = r.String()
		for range r.Count() {
			it := identity.Item{Ref: readRef(&r), ProductID: r.String(), SellerSKU: r.String()}
			for range r.Count() {
				it.Identifiers = append(it.Identifiers, identity.Identifier{Type: r.String(), Value: r.String()})
			}
			m.items = append(m.items, it)
		}
	}
	if r.Err == nil && len(r.B) > 0 {
		return identityMsg{}, fmt.Errorf("%d bytes after an identity message", len(r.B))
	}
	return m, r.Err
}

// identityStep is the identity task: identity.Resolver over the catalog
// kept in its store, publishing link changes to xchannel.product_links.
//
// Store layout: src/<source> = version + the products the source record
// lists (the identity inputs, as the Resolver needs them); sku/<ref> =
// the seller SKUs learnt for an ASIN; ver/<ref> = the version of the
// ref's last link record. The Resolver's indexes live in memory (bounded
// by the catalog) and are rebuilt from the store when the task starts or
// a transaction aborts.
type identityStep struct {
	st      *state.Store
	mapping *identity.Mapping
	serde   Serde
	floor   int64
	res     *identity.Resolver // nil until rebuilt
	links   int                // link records of the transaction, for metrics
	now     func() time.Time
	// conflictsAt is when the conflicts were last counted; conflictsStale
	// that links moved since (counted).
	conflictsAt    time.Time
	conflictsStale bool
}

func (s *identityStep) reset() { s.res = nil }

// rebuild loads the Resolver from the store.
func (s *identityStep) rebuild() error {
	res := identity.NewResolver(s.mapping)
	var err error
	scanErr := s.st.Scan([]byte("sku/"), func(k, v []byte) bool {
		r := wire.Reader{B: k[len("sku/"):]}
		ref := readRef(&r)
		vr := wire.Reader{B: v}
		for range vr.Count() {
			res.LearnSellerSKU(ref, vr.String())
		}
		err = errors.Join(r.Err, vr.Err)
		return err == nil
	})
	if err = errors.Join(err, scanErr); err != nil {
		return fmt.Errorf("identity: learnt SKUs: %w", err)
	}
	scanErr = s.st.Scan([]byte("src/"), func(k, v []byte) bool {
		var m identityMsg
		if m, err = decodeIdentityMsg(v); err == nil {
			res.Put(m.source, m.items)
		}
		return err == nil
	})
	if err = errors.Join(err, scanErr); err != nil {
		return fmt.Errorf("identity: sources: %w", err)
	}
	s.res = res
	return nil
}

func (s *identityStep) process(ctx context.Context, r *kgo.Record, emit emitFunc) error {
	if s.res == nil {
		if err := s.rebuild(); err != nil {
			return err
		}
	}
	m, err := decodeIdentityMsg(r.Value)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	var changes []identity.Change
	if m.learn {
		key := appendRef([]byte("sku/"), m.ref)
		old, _, err := s.st.Get(key)
		if err != nil {
			return err
		}
		or := wire.Reader{B: old}
		var skus []string
		for range or.Count() {
			skus = append(skus, or.String())
		}
		changes = s.res.LearnSellerSKU(m.ref, m.sku)
		if !slices.Contains(skus, m.sku) {
			skus = append(skus, m.sku)
			b := binary.AppendUvarint(nil, uint64(len(skus)))
			for _, sku := range skus {
				b = wire.AppendString(b, sku)
			}
			if err := s.st.Set(key, b); err != nil {
				return err
			}
		}
	} else {
		key := []byte("src/" + m.source)
		if old, ok, err := s.st.Get(key); err != nil {
			return err
		} else if ok {
			prev, err := decodeIdentityMsg(old)
			if err != nil {
				return fmt.Errorf("identity: %s: %w", m.source, err)
			}
			if m.version <= prev.version {
				// An older snapshot arriving late must not change links.
				return nil
			}
		}
		if err := s.st.Set(key, m.append(nil)); err != nil {
			return err
		}
		changes = s.res.Put(m.source, m.items)
	}
	for _, c := range changes {
		vk := appendRef([]byte("ver/"), c.Link.Ref)
		var v int64
		if b, ok, err := s.st.Get(vk); err != nil {
			return err
		} else if ok {
			v, _ = binary.Varint(b)
		}
		v = max(v+1, s.floor)
		if err := s.st.Set(vk, binary.AppendVarint(nil, v)); err != nil {
			return err
		}
		key := c.Link.Ref.String()
		b, err := encodeOutput(s.serde, identity.TopicProductLinks,
			func(b []byte) []byte {
				_, b = identity.AppendLinkAvro(b, c, v, m.sourceTS, m.ingestTS)
				return b
			},
			func() map[string]any {
				_, rec := identity.LinkRecord(c, v, m.sourceTS, m.ingestTS)
				return rec
			})
		if err != nil {
			return fmt.Errorf("identity: encode link %s: %w", key, err)
		}
		emit(identity.TopicProductLinks, false, []byte(key), b)
		s.links++
	}
	return nil
}
