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

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendRef(b []byte, r identity.Ref) []byte {
	return appendString(appendString(appendString(b, string(r.Channel)), r.Account), r.ID)
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
		return appendString(appendRef(b, m.ref), m.sku)
	}
	b = appendString(b, m.source)
	b = binary.AppendUvarint(b, uint64(len(m.items)))
	for _, it := range m.items {
		b = appendString(appendString(appendRef(b, it.Ref), it.ProductID), it.SellerSKU)
		b = binary.AppendUvarint(b, uint64(len(it.Identifiers)))
		for _, id := range it.Identifiers {
			b = appendString(appendString(b, id.Type), id.Value)
		}
	}
	return b
}

// reader reads what the append functions wrote, with a sticky error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errors.New("truncated internal record")
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a length bounded by the bytes left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *reader) ref() identity.Ref {
	return identity.Ref{Channel: identity.Channel(r.string()), Account: r.string(), ID: r.string()}
}

func decodeIdentityMsg(b []byte) (identityMsg, error) {
	r := reader{b: b}
	if v := r.byte1(); v != 1 && r.err == nil {
		return identityMsg{}, fmt.Errorf("identity message of layout %d", v)
	}
	var m identityMsg
	m.learn = r.byte1() == 'l'
	m.version = r.varint()
	m.sourceTS = time.Unix(0, r.varint()).UTC()
	m.ingestTS = time.Unix(0, r.varint()).UTC()
	if m.learn {
		m.ref, m.sku = r.ref(), r.string()
	} else {
		m.source = r.string()
		for range r.count() {
			it := identity.Item{Ref: r.ref(), ProductID: r.string(), SellerSKU: r.string()}
			for range r.count() {
				it.Identifiers = append(it.Identifiers, identity.Identifier{Type: r.string(), Value: r.string()})
			}
			m.items = append(m.items, it)
		}
	}
	if r.err == nil && len(r.b) > 0 {
		return identityMsg{}, fmt.Errorf("%d bytes after an identity message", len(r.b))
	}
	return m, r.err
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
}

func (s *identityStep) reset() { s.res = nil }

// rebuild loads the Resolver from the store.
func (s *identityStep) rebuild() error {
	res := identity.NewResolver(s.mapping)
	var err error
	scanErr := s.st.Scan([]byte("sku/"), func(k, v []byte) bool {
		r := reader{b: k[len("sku/"):]}
		ref := r.ref()
		vr := reader{b: v}
		for range vr.count() {
			res.LearnSellerSKU(ref, vr.string())
		}
		err = errors.Join(r.err, vr.err)
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
		or := reader{b: old}
		var skus []string
		for range or.count() {
			skus = append(skus, or.string())
		}
		changes = s.res.LearnSellerSKU(m.ref, m.sku)
		if !slices.Contains(skus, m.sku) {
			skus = append(skus, m.sku)
			b := binary.AppendUvarint(nil, uint64(len(skus)))
			for _, sku := range skus {
				b = appendString(b, sku)
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
		key, rec := identity.LinkRecord(c, v, m.sourceTS, m.ingestTS)
		b, err := s.serde.Encode(identity.TopicProductLinks, rec)
		if err != nil {
			return fmt.Errorf("identity: encode link %s: %w", key, err)
		}
		emit(identity.TopicProductLinks, false, []byte(key), b)
		s.links++
	}
	return nil
}
