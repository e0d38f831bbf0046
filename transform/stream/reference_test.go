package stream

import (
	"context"
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/internal/native"
	"github.com/shopstream/shopstream/transform/join"
)

// serial is the stage's rules run one record at a time in memory, the
// reference the partitioned stage is held to: identity resolution over the
// catalog (a late, older snapshot changes nothing), the join of package
// join, and every link change applied to the join at once.
type serial struct {
	res      *identity.Resolver
	join     *join.Join
	versions map[string]int64 // highest version applied to identity per source record
}

func newSerial(mapping *identity.Mapping, cfg join.Config) *serial {
	return &serial{res: identity.NewResolver(mapping), join: join.New(cfg), versions: map[string]int64{}}
}

// process applies one record; an error means the stage dead-letters it.
func (p *serial) process(topic string, rec map[string]any) error {
	m, err := join.ReadMeta(rec)
	if err != nil {
		return err
	}
	var links []identity.Change
	put := func(src string, items []identity.Item) {
		k := topic + "\x00" + src
		if seen, ok := p.versions[k]; ok && m.Version <= seen {
			return
		}
		p.versions[k] = m.Version
		links = p.res.Put(src, items)
	}
	switch topic {
	case identity.TopicTikTokProducts:
		src, items, err := identity.TikTokProductItems(rec)
		if err != nil {
			return err
		}
		put(src, items)
	case identity.TopicAmazonCatalog:
		src, items, err := identity.AmazonCatalogItems(rec)
		if err != nil {
			return err
		}
		if _, err := p.join.ApplyRecord(topic, rec); err != nil {
			return err
		}
		put(src, items)
	default:
		if _, err := p.join.ApplyRecord(topic, rec); err != nil {
			return err
		}
		if ref, sku, ok := learntSKU(topic, native.Wrap(rec)); ok && m.Op != "delete" {
			links = p.res.LearnSellerSKU(ref, sku)
		}
	}
	if len(links) > 0 {
		p.join.ApplyLinks(links, m)
	}
	return nil
}

// driverOutputs runs ins through a Driver and returns the last record of
// every output key, per topic, decoded.
func driverOutputs(t *testing.T, ins []schematest.Input, partitions int) map[string]map[string]map[string]any {
	t.Helper()
	serde := testenv.NewRegistry(t).Serde
	d, err := NewDriver(Config{Serde: serde, Partitions: partitions, StateDir: t.TempDir(), CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out := map[string]map[string]map[string]any{}
	d.Output = func(topic string, key, value []byte) {
		v, err := serde.Decode(context.Background(), value)
		if err != nil {
			t.Fatal(err)
		}
		if out[topic] == nil {
			out[topic] = map[string]map[string]any{}
		}
		out[topic][string(key)] = v
	}
	for _, in := range ins {
		feed(t, d, serde, in)
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
