package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
)

// TestReplayDeadLetter: a product whose schema the registry does not know
// yet is dead-lettered and changes nothing. The registry learns the schema
// and the transform restarts (as after a deploy): the open dead letter,
// below the committed offsets, is not read again although it now decodes.
// A replay request makes the
// running transform process it: the outputs appear with the replayed
// marker, and a second request for the same dead letter changes nothing.
func TestReplayDeadLetter(t *testing.T) {
	e := newKafkaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, links := e.followOutputs(t, ctx)
	outputs := e.count(t, ctx, identity.TopicProductLinks)
	dlq := deadletter.Topic(e.prefix + identity.TopicTikTokProducts)

	ins := history(t)
	late := schematest.NewInput(t, identity.TopicTikTokProducts, shop+":P9", map[string]any{
		"event_id": "late", "source": "test", "entity": "x", "op": "snapshot", "version": int64(1),
		"source_ts": date("2026-01-09"), "ingest_ts": date("2026-01-09"), "shop_id": shop, "product_id": "P9", "status": "ACTIVATE",
		"skus": []any{map[string]any{"sku_id": "S9", "identifiers": []any{map[string]any{"identifier_type": "UPC", "identifier": gtin[2:]}}}}})
	rowsBefore, linksBefore := expected(t, ins)
	rowsAfter, linksAfter := expected(t, append(slices.Clone(ins), late))
	if slices.Equal(linksBefore, linksAfter) {
		t.Fatal("fixture: the late product changes no link")
	}
	e.produce(t, ins)
	// The late product carries a schema id the registry has not seen.
	next := nextSchemaID(t, ctx, e.sr)
	v, err := e.serde.Encode(late.Topic, late.Value)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(v[1:5], uint32(next))
	if err := e.cl.ProduceSync(ctx, &kgo.Record{Topic: e.prefix + late.Topic, Key: []byte(late.Key), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	stop := e.startInstance(t, "0", dir)
	read := func() deadletter.Log {
		g, err := deadletter.Read(ctx, []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, dlq)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	waitFor(t, "the dead letter", time.Minute, func() bool { return len(read().Letters(deadletter.KindTransform)) == 1 },
		func() string { return fmt.Sprint(read().Entries) })
	waitTables(t, "the other outputs", time.Minute, rows, links, rowsBefore, linksBefore)
	dead := read().Letters(deadletter.KindTransform)[0]
	if dead.Class != deadletter.ClassUnknownSchema || dead.Offset < 0 || dead.Topic != e.prefix+late.Topic {
		t.Fatalf("dead letter %+v", dead)
	}

	// The fix: the registry learns the schema. Then a restart.
	text, _ := schemas.Source(late.Topic)
	ss, err := e.sr.CreateSchema(ctx, "replay-test-value", sr.Schema{Schema: strings.Replace(text, `"doc": "`, `"doc": "Late: `, 1), Type: sr.TypeAvro})
	if err != nil || ss.ID != next {
		t.Fatalf("registry gave id %d (%v), the late product carries %d", ss.ID, err, next)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = e.startInstance(t, "0", dir)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()

	request := func() *kgo.Record {
		r := deadletter.RequestRecord(dead)
		if err := e.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	request()
	waitTables(t, "the replayed outputs", time.Minute, rows, links, rowsAfter, linksAfter)
	if rep := read().Replayed(); len(rep) != 1 || !rep[dead.ID()] {
		t.Fatalf("replayed markers %v, want the dead letter's", rep)
	}

	// Again: the transform reads the request and writes nothing.
	n := outputs()
	again := request()
	waitFor(t, "the second request consumed", time.Minute, func() bool {
		offs, err := e.adm.FetchOffsets(ctx, e.group)
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(again.Topic, again.Partition)
		return ok && o.At > again.Offset
	}, func() string { return "" })
	if got := outputs(); got != n {
		t.Errorf("a second request wrote %d more links", got-n)
	}
	g := read()
	markers := 0
	for _, en := range g.Entries {
		if en.Kind == deadletter.EntryReplayed {
			markers++
		}
	}
	if markers != 1 {
		t.Errorf("%d replayed markers after two requests, want 1", markers)
	}
}

// nextSchemaID is the id the registry gives the next new schema.
func nextSchemaID(t *testing.T, ctx context.Context, client *sr.Client) int {
	t.Helper()
	subjects, err := client.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	maxID := 0
	for _, s := range subjects {
		ss, err := client.SchemaByVersion(ctx, s, -1)
		if err != nil {
			t.Fatal(err)
		}
		maxID = max(maxID, ss.ID)
	}
	return maxID + 1
}
