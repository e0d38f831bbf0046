package stream

import (
	"fmt"
	"time"

	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/native"
	"github.com/shopstream/shopstream/transform/join"
)

// Output is a record to produce.
type Output struct {
	Topic string
	Key   string
	Value map[string]any
}

// Processor routes decoded input records to identity resolution and the
// join and turns what changed into output records. It is pure state, the
// deterministic core of Run, usable without Kafka (tests, rebuilds).
type Processor struct {
	res          *identity.Resolver
	join         *join.Join
	linkVersions map[string]int64
	// identityVersions is the highest version applied to identity per
	// catalog or product key: an older snapshot arriving late must not
	// change the links (the join keeps its own versions).
	identityVersions map[string]int64
	floor            int64
}

// NewProcessor returns an empty Processor.
func NewProcessor(mapping *identity.Mapping, cfg join.Config) *Processor {
	return &Processor{res: identity.NewResolver(mapping), join: join.New(cfg), linkVersions: map[string]int64{}, identityVersions: map[string]int64{}}
}

// Topics returns the input topics a Processor understands.
func Topics() []string {
	return append(join.InputTopics(), identity.TopicTikTokProducts)
}

// SetVersionFloor makes every output from now on carry a version of at
// least v (see join.Join.SetVersionFloor).
func (p *Processor) SetVersionFloor(v int64) {
	p.floor = max(p.floor, v)
	p.join.SetVersionFloor(v)
}

// Rows returns the join's current rows.
func (p *Processor) Rows() []join.Row { return p.join.Rows() }

// Links returns the current identity links.
func (p *Processor) Links() []identity.Link { return p.res.Links() }

// Conflicts returns the current identity conflicts.
func (p *Processor) Conflicts() []identity.Conflict { return p.res.Conflicts() }

// Process applies one record of topic. An error means the record cannot be
// used and the state is unchanged; send it to the dead-letter topic.
func (p *Processor) Process(topic string, rec map[string]any) ([]Output, error) {
	m, err := join.ReadMeta(rec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", topic, err)
	}
	var links []identity.Change
	var rows []join.Row
	switch topic {
	case identity.TopicTikTokProducts:
		src, items, err := identity.TikTokProductItems(rec)
		if err != nil {
			return nil, err
		}
		links = p.putIdentity(topic, src, items, m.Version)
	case identity.TopicAmazonCatalog:
		// Read both views before changing any state, so a bad record
		// changes nothing.
		src, items, err := identity.AmazonCatalogItems(rec)
		if err != nil {
			return nil, err
		}
		if rows, err = p.join.ApplyRecord(topic, rec); err != nil {
			return nil, err
		}
		links = p.putIdentity(topic, src, items, m.Version)
	default:
		if rows, err = p.join.ApplyRecord(topic, rec); err != nil {
			return nil, err
		}
		if ref, sku, ok := learntSKU(topic, rec); ok && m.Op != "delete" {
			links = p.res.LearnSellerSKU(ref, sku)
		}
	}
	out := make([]Output, 0, len(links)+len(rows))
	if len(links) > 0 {
		rows = append(rows, p.join.ApplyLinks(links, m)...)
		for _, c := range links {
			ks := c.Link.Ref.String()
			v := max(p.linkVersions[ks]+1, p.floor)
			p.linkVersions[ks] = v
			key, val := identity.LinkRecord(c, v, m.SourceTS, m.IngestTS)
			out = append(out, Output{Topic: identity.TopicProductLinks, Key: key, Value: val})
		}
	}
	for _, r := range rows {
		out = append(out, Output{Topic: join.TopicProductDaily, Key: r.Key(), Value: r.Record()})
	}
	return out, nil
}

// putIdentity applies a catalog or product snapshot to identity resolution
// unless a newer version of the same key was applied already.
func (p *Processor) putIdentity(topic, src string, items []identity.Item, version int64) []identity.Change {
	k := topic + "\x00" + src
	if seen, ok := p.identityVersions[k]; ok && version <= seen {
		return nil
	}
	p.identityVersions[k] = version
	return p.res.Put(src, items)
}

// learntSKU returns the seller SKU an Amazon sales or order record shows
// for an ASIN: the catalog API does not list them.
func learntSKU(topic string, rec map[string]any) (identity.Ref, string, bool) {
	r := native.Wrap(rec)
	var asin, sku string
	switch topic {
	case join.TopicAmazonSalesTraffic:
		asin, sku = r.OptString("child_asin"), r.OptString("sku")
	case join.TopicAmazonOrderItems:
		asin, sku = r.OptString("asin"), r.OptString("seller_sku")
	default:
		return identity.Ref{}, "", false
	}
	mkt := r.OptString("marketplace_id")
	if asin == "" || sku == "" || mkt == "" || r.Err() != nil {
		return identity.Ref{}, "", false
	}
	return identity.Ref{Channel: identity.ChannelAmazon, Account: mkt, ID: asin}, sku, true
}

// versionFloor is the version floor of a (re)started stage: the start time
// in microseconds, above any version a previous run emitted unless it
// changed one row more than a million times a second.
func versionFloor(now time.Time) int64 { return now.UnixMicro() }
