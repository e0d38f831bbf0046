package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
)

// linksTable is xchannel.product_links read in full by this instance, like
// a Kafka Streams GlobalKTable: the product key of every channel product.
// A goroutine follows the topic (read_committed) and queues what it reads;
// the engine applies the queue between transactions (drain), so the table
// only changes at points the facts tasks react to.
type linksTable struct {
	topic string
	dec   decoder // the follower's, or the driver's (Driver has no follower)

	// Owned by the engine's goroutine.
	links map[identity.Ref]linkEntry
	// skus are the linked TikTok SKUs of each TikTok product.
	skus map[[2]string]map[identity.Ref]bool
	// productKeys caches ProductKeys per TikTok product: every change of
	// a video computes the keys of each product it shows, and building
	// them walks two large maps (2 % of the stage's CPU). drain drops
	// the entries of the products an update touches.
	productKeys map[[2]string][]string
	pos         map[int32]int64 // per partition, the offset after the last record applied

	mu    sync.Mutex
	queue []linkUpdate
	err   error

	cl   *kgo.Client
	done chan struct{}
}

// linkEntry is a channel product's last link record. A deleted link is
// kept (as a tombstone, bounded by the catalog), so a task that was away
// still learns that the product lost its link.
type linkEntry struct {
	key     string
	deleted bool
	// product is a TikTok SKU's product; products every product the SKU
	// was ever linked to (its videos depend on the SKU's link).
	product   string
	products  []string
	partition int32
	offset    int64
	// The change metadata of the input that caused the link: rows a link
	// change re-emits carry it.
	sourceTS, ingestTS time.Time
}

type linkUpdate struct {
	ref   identity.Ref
	entry linkEntry
}

// linksIdle is how long the bootstrap waits for more records before it
// takes the topic as read (the last records were compacted away).
const linksIdle = 3 * time.Second

func newLinksTable(topic string, serde Serde) *linksTable {
	return &linksTable{topic: topic, dec: decoder{serde: serde}, links: map[identity.Ref]linkEntry{},
		skus: map[[2]string]map[identity.Ref]bool{}, productKeys: map[[2]string][]string{}, done: make(chan struct{})}
}

// openLinks reads the topic to its end (the last stable offsets at the
// call) and then follows it in the background until close.
func openLinks(ctx context.Context, opts []kgo.Opt, topic string, serde Serde) (*linksTable, error) {
	t := newLinksTable(topic, serde)
	cl, err := kgo.NewClient(append(opts[:len(opts):len(opts)],
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())...)
	if err != nil {
		return nil, fmt.Errorf("stream: links table: %w", err)
	}
	t.cl = cl
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("stream: links table: end offsets: %w", err)
	}
	target := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			target[o.Partition] = o.Offset
		}
	})
	idle := time.Now()
	for len(target) > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			cl.Close()
			return nil, ctx.Err()
		}
		if err := t.read(ctx, fs); err != nil {
			cl.Close()
			return nil, err
		}
		got := false
		fs.EachRecord(func(r *kgo.Record) {
			got = true
			if e, ok := target[r.Partition]; ok && r.Offset+1 >= e {
				delete(target, r.Partition)
			}
		})
		if got {
			idle = time.Now()
		} else if time.Since(idle) > linksIdle {
			break
		}
	}
	t.drain()
	go t.follow(ctx)
	return t, nil
}

// read decodes a poll's records into the queue.
func (t *linksTable) read(ctx context.Context, fs kgo.Fetches) error {
	var errs []error
	fs.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("fetch %s[%d]: %w", topic, p, err))
		}
	})
	var ups []linkUpdate
	fs.EachRecord(func(r *kgo.Record) {
		u, ok, err := t.decode(ctx, r)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			ups = append(ups, u)
		}
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	t.queue = append(t.queue, ups...)
	if err := errors.Join(errs...); err != nil && t.err == nil {
		t.err = fmt.Errorf("stream: links table: %w", err)
	}
	return errors.Join(errs...)
}

// add queues one product_links record (the Driver's way in).
func (t *linksTable) add(ctx context.Context, r *kgo.Record) error {
	u, ok, err := t.decode(ctx, r)
	if err != nil || !ok {
		return err
	}
	t.mu.Lock()
	t.queue = append(t.queue, u)
	t.mu.Unlock()
	return nil
}

// decode reads a product_links record; ok is false for control records
// and tombstones.
func (t *linksTable) decode(ctx context.Context, r *kgo.Record) (linkUpdate, bool, error) {
	if r.Attrs.IsControl() || r.Value == nil {
		return linkUpdate{}, false, nil
	}
	n, err := t.dec.decode(ctx, r.Value)
	if err != nil {
		return linkUpdate{}, false, fmt.Errorf("decode %s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	ref := identity.Ref{Channel: identity.Channel(n.String("channel"))}
	if ref.Channel == identity.ChannelAmazon {
		ref.Account, ref.ID = n.OptString("marketplace_id"), n.OptString("asin")
	} else {
		ref.Account, ref.ID = n.OptString("shop_id"), n.OptString("sku_id")
	}
	u := linkUpdate{ref: ref, entry: linkEntry{key: n.String("product_key"), deleted: n.String("op") == "delete",
		product:   n.OptString("product_id"),
		partition: r.Partition, offset: r.Offset, sourceTS: n.Time("source_ts"), ingestTS: n.Time("ingest_ts")}}
	if err := n.Err(); err != nil {
		return linkUpdate{}, false, fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	return u, true, nil
}

func (t *linksTable) follow(ctx context.Context) {
	defer close(t.done)
	for {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		if t.read(ctx, fs) != nil {
			return
		}
	}
}

// drain applies what the follower read and returns the channel products
// whose link changed; an error of the follower is returned here.
func (t *linksTable) drain() ([]identity.Ref, error) {
	t.mu.Lock()
	q, err := t.queue, t.err
	t.queue = nil
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var changed []identity.Ref
	if t.pos == nil {
		t.pos = map[int32]int64{}
	}
	for _, u := range q {
		old, had := t.links[u.ref]
		e := u.entry
		e.products = old.products
		if e.product != "" && !slices.Contains(e.products, e.product) {
			e.products = append(slices.Clip(e.products), e.product)
		}
		t.links[u.ref] = e
		t.pos[e.partition] = max(t.pos[e.partition], e.offset+1)
		// The SKU's key counts in the keys of the product it leaves and
		// of the one it joins (the same one when only its key changed).
		delete(t.productKeys, [2]string{u.ref.Account, old.product})
		delete(t.productKeys, [2]string{u.ref.Account, e.product})
		if had && !old.deleted && old.product != "" {
			delete(t.skus[[2]string{u.ref.Account, old.product}], u.ref)
		}
		if !e.deleted && e.product != "" {
			p := [2]string{u.ref.Account, e.product}
			if t.skus[p] == nil {
				t.skus[p] = map[identity.Ref]bool{}
			}
			t.skus[p][u.ref] = true
		}
		if !had || old.deleted != e.deleted || old.key != e.key || old.product != e.product {
			changed = append(changed, u.ref)
			for _, p := range []string{old.product, e.product} {
				if p != "" {
					changed = append(changed, join.ProductRef(u.ref.Account, p))
				}
			}
		}
	}
	return changed, nil
}

// ProductKeys returns the sorted distinct keys of a TikTok product's
// linked SKUs. The slice is shared: the caller must not modify it.
func (t *linksTable) ProductKeys(shop, product string) []string {
	p := [2]string{shop, product}
	if keys, ok := t.productKeys[p]; ok {
		return keys
	}
	var keys []string
	for ref := range t.skus[p] {
		if k := t.links[ref].key; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	// Clipped: an append by a caller copies rather than writing into
	// the cached array.
	keys = slices.Clip(keys)
	t.productKeys[p] = keys
	return keys
}

// Key returns the product key of a channel product and whether identity
// knows it: an unknown product keeps its channel-scoped key.
func (t *linksTable) Key(ref identity.Ref) (string, bool) {
	if e, ok := t.links[ref]; ok && !e.deleted {
		return e.key, true
	}
	return ref.String(), false
}

// position returns, per partition of the topic, the offset after the last
// record applied.
func (t *linksTable) position() map[int32]int64 { return maps.Clone(t.pos) }

// changedSince returns the channel products whose last record is at or
// after pos (per partition): what a task that reacted up to pos has not
// seen, deleted links included.
func (t *linksTable) changedSince(pos map[int32]int64) []identity.Ref {
	var out []identity.Ref
	for ref, e := range t.links {
		if e.offset >= pos[e.partition] {
			out = append(out, ref)
			for _, p := range e.products {
				out = append(out, join.ProductRef(ref.Account, p))
			}
		}
	}
	return out
}

func (t *linksTable) close() {
	if t == nil || t.cl == nil {
		return
	}
	t.cl.Close()
	<-t.done
}

// trigger returns the change metadata for rows re-emitted because the
// links of refs changed: the latest of their causes.
func (t *linksTable) trigger(refs []identity.Ref) join.Meta {
	var m join.Meta
	for _, ref := range refs {
		if e, ok := t.links[ref]; ok && e.sourceTS.After(m.SourceTS) {
			m.SourceTS, m.IngestTS = e.sourceTS, e.ingestTS
		}
	}
	return m
}
