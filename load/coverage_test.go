package load_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

// avroPaths lists the column each field of topic's schema must land in:
// field for a top-level field, list.field for a field of a list of records.
// It reads the schema JSON itself rather than package tables, so that the
// test checks the migrated tables against the schemas, not against the code
// that generated them.
func avroPaths(t *testing.T, topic string) []string {
	t.Helper()
	text, err := schemas.Source(topic)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range rec.Fields {
		var arr struct {
			Type  string `json:"type"`
			Items struct {
				Type   string `json:"type"`
				Fields []struct {
					Name string `json:"name"`
				} `json:"fields"`
			} `json:"items"`
		}
		if json.Unmarshal(f.Type, &arr) == nil && arr.Type == "array" && arr.Items.Type == "record" {
			for _, sub := range arr.Items.Fields {
				out = append(out, f.Name+"."+sub.Name)
			}
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// TestEveryFieldHasAColumnAndEveryColumnASource migrates a fresh warehouse
// and compares DESCRIBE TABLE of every raw change and current-state table
// with the topic's Avro schema: each field (and each field of a list of
// records) has a column of the type the loader writes, and each column is fed
// by a field, the Kafka record (_key, _partition, _offset) or, in
// current-state tables, op (is_deleted), or the warehouse itself
// (_inserted_at). A schema change without a migration
// fails here instead of silently dropping data.
func TestEveryFieldHasAColumnAndEveryColumnASource(t *testing.T) {
	conn, _ := openWarehouse(t)
	ctx := context.Background()
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, topic := range schemas.Topics() {
		if reason, ok := tables.KafkaOnly[topic]; ok {
			t.Logf("%s: no table: %s", topic, reason)
			continue
		}
		tb, err := tables.ForTopic(topic)
		if err != nil {
			t.Fatal(err)
		}
		wantType := map[string]string{}
		for _, c := range tb.Columns {
			wantType[c.Name] = c.Type
		}
		check := func(table string, extra map[string]string) {
			rows, err := conn.Query(ctx, "DESCRIBE TABLE "+table)
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			got := map[string]string{}
			for rows.Next() {
				var name, typ, defType, defExpr, comment, codec, ttl string
				if err := rows.Scan(&name, &typ, &defType, &defExpr, &comment, &codec, &ttl); err != nil {
					t.Fatal(err)
				}
				got[name] = typ
			}
			rows.Close()
			for _, path := range avroPaths(t, topic) {
				typ, ok := got[path]
				if !ok {
					t.Errorf("%s: field %s of topic %s has no column", table, path, topic)
					continue
				}
				if typ != wantType[path] {
					t.Errorf("%s: column %s is %s, the loader writes %s", table, path, typ, wantType[path])
				}
			}
			sources := map[string]bool{}
			for _, p := range avroPaths(t, topic) {
				sources[p] = true
			}
			for name, typ := range got {
				switch {
				case sources[name]:
				case name == tables.KeyColumn || name == tables.PartitionColumn || name == tables.OffsetColumn:
					if typ != wantType[name] {
						t.Errorf("%s: column %s is %s, want %s", table, name, typ, wantType[name])
					}
				case extra[name] != "":
					if typ != extra[name] {
						t.Errorf("%s: column %s is %s, want %s", table, name, typ, extra[name])
					}
				default:
					t.Errorf("%s: column %s has no source in topic %s", table, name, topic)
				}
			}
		}
		check(tb.Raw, map[string]string{tables.InsertedAtColumn: tables.InsertedAtType})
		if tb.Current != "" {
			check(tb.Current, map[string]string{tables.DeletedColumn: "UInt8", tables.InsertedAtColumn: tables.InsertedAtType})
		}
	}
}

// sampleValue builds a value of the Avro type raw (schema JSON) in goavro's
// native form, with every optional field set and two entries per list.
func sampleValue(t *testing.T, raw json.RawMessage, namespace string, i int) any {
	t.Helper()
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return samplePrimitive(t, name, "", i)
	}
	var union []json.RawMessage
	if json.Unmarshal(raw, &union) == nil {
		branch := union[1]
		v := sampleValue(t, branch, namespace, i)
		var bname string
		if json.Unmarshal(branch, &bname) != nil {
			var obj struct {
				Type    string `json:"type"`
				Logical string `json:"logicalType"`
			}
			_ = json.Unmarshal(branch, &obj)
			bname = obj.Type + "." + obj.Logical
		}
		return goavro.Union(bname, v)
	}
	var obj struct {
		Type    string          `json:"type"`
		Logical string          `json:"logicalType"`
		Items   json.RawMessage `json:"items"`
		Fields  []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	switch obj.Type {
	case "record":
		m := map[string]any{}
		for j, f := range obj.Fields {
			m[f.Name] = sampleValue(t, f.Type, namespace, i*100+j)
		}
		return m
	case "array":
		return []any{sampleValue(t, obj.Items, namespace, i), sampleValue(t, obj.Items, namespace, i+1)}
	}
	return samplePrimitive(t, obj.Type, obj.Logical, i)
}

func samplePrimitive(t *testing.T, typ, logical string, i int) any {
	t.Helper()
	switch {
	case logical == "timestamp-millis":
		return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	case logical == "date":
		return time.Date(1965+i%80, 3, 1, 0, 0, 0, 0, time.UTC)
	case logical == "decimal":
		return big.NewRat(int64(i)*12345+7, 10000)
	}
	switch typ {
	case "string":
		return fmt.Sprintf("s%d", i)
	case "long":
		return int64(i)
	case "int":
		return int32(i)
	case "double":
		return float64(i) / 8
	case "boolean":
		return i%2 == 0
	}
	t.Fatalf("no sample for Avro %s", typ)
	return nil
}

// TestEveryTopicLoads encodes a record of every topic with every optional
// field set and every list holding entries (lists of records inside lists
// too), decodes it through the registry serde, maps it and inserts it the way
// the loader does: each raw change table and each current-state table gets
// the row, with its lists intact.
func TestEveryTopicLoads(t *testing.T) {
	eachProtocol(t, func(t *testing.T, protocol string) {
		conn := connectWith(t, testenv.StartWarehouse(t), protocol)
		ctx := context.Background()
		if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, topic := range schemas.Topics() {
			if _, ok := tables.KafkaOnly[topic]; ok {
				continue
			}
			text, _ := schemas.Source(topic)
			rec := sampleValue(t, json.RawMessage(text), "", 1).(map[string]any)
			codec, err := schemas.NewCodec(topic)
			if err != nil {
				t.Fatal(err)
			}
			_, decoded := schematest.RoundTrip(t, codec, rec)
			tb, _ := tables.ForTopic(topic)
			row, err := tb.Row(decoded, []byte("key"), 0, 0)
			if err != nil {
				t.Fatalf("%s: map: %v", topic, err)
			}
			if err := load.InsertRowsForTest(ctx, conn, protocol == "http", tb, topic+"-0-0-0", [][]any{row}); err != nil {
				t.Fatalf("%s: insert: %v", topic, err)
			}
			if n := load.QueryUint(t, conn, "SELECT count() FROM "+tb.Raw); n != 1 {
				t.Errorf("%s: %d rows", tb.Raw, n)
			}
			if tb.Current != "" {
				if n := load.QueryUint(t, conn, "SELECT count() FROM "+tb.Current+" FINAL"); n != 1 {
					t.Errorf("%s: %d rows", tb.Current, n)
				}
				// The view copies every column: one it does not select (a
				// column added later without its view) would hold the default.
				for _, c := range tb.Columns {
					q := "SELECT ifNull(toString(`" + c.Name + "`), 'NULL') FROM "
					raw, cur := queryStrings(t, conn, q+tb.Raw), queryStrings(t, conn, q+tb.Current+" FINAL")
					if fmt.Sprint(raw) != fmt.Sprint(cur) {
						t.Errorf("%s.%s = %v, but %s has %v", tb.Current, c.Name, cur, tb.Raw, raw)
					}
				}
			}
			for _, c := range tb.Columns {
				if c.Child == "" {
					continue
				}
				if n := load.QueryUint(t, conn, fmt.Sprintf("SELECT length(`%s`) FROM %s", c.Name, tb.Raw)); n != 2 {
					t.Errorf("%s.%s: %d entries, want 2", tb.Raw, c.Name, n)
				}
			}
		}
		// A list inside a list is JSON text per entry, with exact decimals.
		js := queryStrings(t, conn, "SELECT `line_items.item_tax`[1] FROM tiktok_orders_changes")
		if len(js) != 1 || !strings.HasPrefix(js[0], "[{") || !strings.Contains(js[0], `"tax_amount":`) {
			t.Errorf("line_items.item_tax[1] = %v", js)
		}
	})
}
