package oracle

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
	"github.com/shopstream/shopstream/schemas/schematest"
	"github.com/shopstream/shopstream/transform/identity"
	"github.com/shopstream/shopstream/transform/join"
	"github.com/shopstream/shopstream/transform/stream"
)

// coverageSeeds is how many seeds per variant TestWorldCoverage builds
// (ORACLE_COVERAGE_SEEDS overrides it); the seeds of the variants and
// 9505, a seed that once left a case out, are always among them.
func coverageSeeds(t *testing.T, v variant) []uint64 {
	n := 6
	if s := os.Getenv("ORACLE_COVERAGE_SEEDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("ORACLE_COVERAGE_SEEDS=%q: %v", s, err)
		}
	}
	seeds := append(append([]uint64{9505}, v.seeds...), v.seeds3...)
	for s, own := uint64(1000), len(seeds); len(seeds) < n+own; s += 7919 {
		seeds = append(seeds, s)
	}
	return seeds
}

// TestWorldCoverage proves that the world generator makes every case the
// coverage check demands for any seed, by construction: it builds the
// worlds of many seeds of every variant and runs checkCoverage on each,
// without Kafka, the transform process or the loader. The world's inputs
// go through the transform's Processor in this process; inputs and
// outputs go into the raw change tables of one embedded warehouse, mapped
// as the loader maps them. On the way, product_daily and product_links
// must equal the oracles, as in TestOracle: many more worlds than the
// pipeline can afford.
func TestWorldCoverage(t *testing.T) {
	wh := testenv.StartWarehouse(t)
	ctx := context.Background()
	conn, err := load.Open(ctx, load.Warehouse{Addr: wh.Addr, Protocol: "http", MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	serde := testenv.NewRegistry(t).Serde
	var tbls []*tables.Table
	for _, topic := range loadedTopics() {
		tb, err := tables.ForTopic(topic)
		if err != nil {
			t.Fatal(err)
		}
		tbls = append(tbls, tb)
	}
	for _, v := range variants {
		for _, seed := range coverageSeeds(t, v) {
			t.Run(fmt.Sprintf("%s_seed%d", v.name, seed), func(t *testing.T) {
				e := &env{t: t, conn: conn, serde: serde}
				for _, tb := range tbls {
					for _, name := range []string{tb.Raw, tb.Current} {
						if name != "" {
							if err := conn.Exec(ctx, "TRUNCATE TABLE "+name); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
				began := time.Now()
				w := worldOf(t, v, seed)
				ins := w.build(worldProducts, worldVideos)
				e.configure(v, w.mapping)
				e.loadInProcess(v, ins, tbls)
				loaded := time.Now()
				// The oracle once, for the comparison and the coverage check.
				for _, q := range []string{"DROP TABLE IF EXISTS oracle_rows",
					"CREATE TABLE oracle_rows ENGINE = Memory AS SELECT * FROM (" + e.oracleRelation() + ") SETTINGS join_use_nulls = 1"} {
					if err := conn.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				const oracleRows = "SELECT * FROM oracle_rows"
				oracleQ, actualQ := lineQuery(oracleRows), lineQuery(actualRelation)
				wantLinksQ, gotLinksQ := fmt.Sprintf(linkLine, identitySQL), fmt.Sprintf(linkLine, actualLinks)
				var res [4][]string
				var took []string
				for i, q := range []string{oracleQ, actualQ, wantLinksQ, gotLinksQ} {
					qs := time.Now()
					if res[i], err = e.lines(ctx, q); err != nil {
						t.Fatalf("query %d: %v", i, err)
					}
					took = append(took, time.Since(qs).Round(time.Millisecond).String())
				}
				t.Logf("queries took %v", took)
				if !slices.Equal(res[0], res[1]) || !slices.Equal(res[2], res[3]) {
					t.Fatalf("%d rows, oracle %d; diff (- product_daily, + oracle):\n%s\n%d links, oracle %d; diff (- product_links, + identity oracle):\n%s\ncolumns: product_key | date | %s",
						len(res[1]), len(res[0]), diff(res[1], res[0]), len(res[3]), len(res[2]), diff(res[3], res[2]), columnNames())
				}
				compared := time.Now()
				e.checkCoverage(v, oracleRows)
				t.Logf("%d inputs; built and loaded in %s, compared in %s, coverage in %s", len(ins), loaded.Sub(began).Round(time.Millisecond),
					compared.Sub(loaded).Round(time.Millisecond), time.Since(compared).Round(time.Millisecond))
			})
		}
	}
}

// loadInProcess runs the world's inputs through the transform's whole
// topology in process (stream.Driver: every step, task and pebble store,
// two partitions, a transaction per 25 inputs), configured like the variant's
// transform, and inserts the inputs and every output into their raw change
// tables (the current-state tables follow through their views), each
// record encoded and decoded with its topic's schema and mapped by package
// tables, as the loader does.
func (e *env) loadInProcess(v variant, ins []schematest.Input, tbls []*tables.Table) {
	e.t.Helper()
	mapping, err := identity.LoadMapping(e.mappingFile)
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg join.Config
	if v.evenSplit {
		cfg.Attribution = join.EvenSplit
	}
	d, err := stream.NewDriver(stream.Config{Serde: e.serde, Mapping: mapping, Join: cfg, Partitions: 2,
		StateDir: e.t.TempDir(), CacheBytes: 8 << 20})
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	byTopic := map[string]*tables.Table{}
	for _, tb := range tbls {
		byTopic[tb.Topic] = tb
	}
	rows := map[string][][]any{}
	add := func(topic string, key []byte, rec map[string]any) {
		tb := byTopic[topic]
		if tb == nil {
			e.t.Fatalf("the transform wrote to %s (%s): the world has no dead letters", topic, key)
		}
		row, err := tb.Row(rec, key, 0, int64(len(rows[topic])))
		if err != nil {
			e.t.Fatalf("map %s %s: %v", topic, key, err)
		}
		rows[topic] = append(rows[topic], row)
	}
	d.Output = func(topic string, key, value []byte) {
		rec, err := e.serde.Decode(context.Background(), value)
		if err != nil {
			e.t.Fatalf("decode %s %s: %v", topic, key, err)
		}
		add(topic, key, rec)
	}
	for i, in := range ins {
		b, err := e.serde.Encode(in.Topic, in.Value)
		if err != nil {
			e.t.Fatalf("encode %s %s: %v", in.Topic, in.Key, err)
		}
		back, err := e.serde.Decode(context.Background(), b)
		if err != nil {
			e.t.Fatal(err)
		}
		add(in.Topic, []byte(in.Key), back)
		if err := d.Input(in.Topic, []byte(in.Key), b); err != nil {
			e.t.Fatalf("process %s %s: %v", in.Topic, in.Key, err)
		}
		if (i+1)%25 == 0 || i == len(ins)-1 {
			if err := d.Commit(); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tb := range tbls {
		if len(rows[tb.Topic]) == 0 {
			continue
		}
		nt := make([]clickhouse.ColumnNameAndType, len(tb.Columns))
		names := make([]string, len(tb.Columns))
		for i, c := range tb.Columns {
			nt[i] = clickhouse.ColumnNameAndType{Name: c.Name, Type: c.Type}
			names[i] = "`" + c.Name + "`"
		}
		batch, err := e.conn.PrepareBatch(clickhouse.Context(ctx, clickhouse.WithColumnNamesAndTypes(nt)),
			"INSERT INTO `"+tb.Raw+"` ("+strings.Join(names, ", ")+")")
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range rows[tb.Topic] {
			if err := batch.Append(r...); err != nil {
				e.t.Fatalf("%s: %v", tb.Raw, err)
			}
		}
		if err := batch.Send(); err != nil {
			e.t.Fatalf("%s: %v", tb.Raw, err)
		}
	}
}
