// Package tables says which ClickHouse tables hold each Kafka topic and how an
// Avro record becomes a row: the column list, the ClickHouse type of every
// column and the conversion of every value. The loader, the DDL generator
// (internal/ddlgen) and the schema coverage test all read it, so a column can
// only exist where a field feeds it.
//
// # Names
//
// Topic T lands in the raw change table <T with dots as underscores>_changes
// and, for entities, in the current-state table <T with dots as underscores>;
// xchannel topics drop the "xchannel_" prefix (product_daily_changes,
// product_daily). shopstream.cursors has no table: it is the ingest stage's
// position in the sources, Kafka-only state written in the same transaction as
// the records it covers, not data anyone queries.
//
// # Columns
//
// Every Avro field is one column of the same name. A list of records is a
// ClickHouse Nested structure, flattened (parent.child Array(T) per field), so
// users can ARRAY JOIN it and each field keeps its own type and codec; a list
// of records inside such a list (tiktok order line taxes, product SKU
// identifiers and inventory) cannot nest again and is one JSON text per outer
// entry (parent.child Array(String)), readable with JSONExtract. Three columns
// come from the Kafka record rather than the value: _key (the entity's natural
// key), _partition and _offset (where the change was read, which makes
// exactly-once provable: (_partition, _offset) is unique).
package tables

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopstream/shopstream/schemas"
)

// Kafka metadata columns.
const (
	KeyColumn       = "_key"
	PartitionColumn = "_partition"
	OffsetColumn    = "_offset"
	// DeletedColumn is the ReplacingMergeTree is_deleted flag of current-state
	// tables, computed as op = 'delete'.
	DeletedColumn = "is_deleted"
)

// InsertedAtColumn is the instant the warehouse stored a row, filled by
// ClickHouse (DEFAULT now64(3)) in every raw change and current-state table
// (migration 0008); the loader never writes it.
const (
	InsertedAtColumn = "_inserted_at"
	InsertedAtType   = "DateTime64(3, 'UTC')"
)

// Column is one column of a raw change table.
type Column struct {
	// Name is the ClickHouse column name; a Nested field is parent.child.
	Name string
	// Type is the ClickHouse type exactly as DESCRIBE TABLE prints it.
	Type string
	// Codec is the compression codec ("" for the default LZ4).
	Codec string
	// Reason explains the type or codec in one line, for the DDL.
	Reason string
	// Field is the Avro field that feeds the column ("" for Kafka metadata);
	// for a Nested column it is the list field, and Child the entry's field.
	Field, Child string

	conv  converter
	first bool // the first column fed by Field
}

// Source describes where the column's values come from.
func (c Column) Source() string {
	switch {
	case c.Field == "":
		return "kafka record " + strings.TrimPrefix(c.Name, "_")
	case c.Child != "":
		return c.Field + "[]." + c.Child
	}
	return c.Field
}

// Table is how one topic lands in ClickHouse.
type Table struct {
	Topic string
	// Raw is the raw change table: every version of every key (MergeTree).
	Raw string
	// Current is the current-state table (ReplacingMergeTree(version,
	// is_deleted)), "" for topics that are events rather than entities.
	Current string
	// Key holds the ORDER BY expressions that identify an entity.
	Key []string
	// RawPartition and CurrentPartition are PARTITION BY expressions ("" for
	// none); the current one must be a function of the key, because
	// ReplacingMergeTree only replaces rows within a partition.
	RawPartition, CurrentPartition string
	// PartitionReason explains the partitioning in one line.
	PartitionReason string
	// TTL is the raw table's TTL expression ("" for none) and TTLReason why.
	TTL, TTLReason string
	// Columns are the raw table's columns; the current-state table has the
	// same ones plus is_deleted.
	Columns []Column

	fields map[string]bool // Avro fields that have a column
}

// spec is what a topic's schema cannot tell: its key, partitioning and TTL.
type spec struct {
	key                      []string
	rawPart, curPart, reason string
	ttl, ttlReason           string
	events                   bool // no current-state table
}

var specs = map[string]spec{
	schemas.TopicAmazonCatalog: {key: []string{"marketplace_id", "asin"},
		rawPart: "toYYYYMM(source_ts)", reason: "snapshots are read by capture month; the current state is one row per ASIN, too small to partition"},
	schemas.TopicAmazonOrderItems: {key: []string{"marketplace_id", "amazon_order_id", "order_item_id"},
		rawPart: "toYYYYMM(source_ts)", reason: "changes are read by change month; the current state has no date that is fixed per line, so it is not partitioned"},
	schemas.TopicAmazonOrders: {key: []string{"marketplace_id", "amazon_order_id"},
		rawPart: "toYYYYMM(purchase_date)", curPart: "toYYYYMM(purchase_date)", reason: "orders are read by purchase month, which never changes for an order, so all its versions share a partition"},
	schemas.TopicAmazonSalesTraffic: {key: []string{"marketplace_id", "date", "parent_asin", "ifNull(child_asin, '')", "ifNull(sku, '')"},
		rawPart: "toYYYYMM(date)", curPart: "toYYYYMM(date)", reason: "daily figures are read by month of the day, which is part of the key"},
	schemas.TopicAmazonSearchQueryPerformance: {key: []string{"marketplace_id", "report_period", "start_date", "asin", "search_query"},
		rawPart: "toYYYYMM(start_date)", curPart: "toYYYYMM(start_date)", reason: "report periods are read by month of their start, which is part of the key"},
	schemas.TopicAmazonSearchTerms: {key: []string{"marketplace_id", "report_period", "start_date", "department_name", "search_term"},
		rawPart: "toYYYYMM(start_date)", curPart: "toYYYYMM(start_date)", reason: "report periods are read by month of their start, which is part of the key"},
	schemas.TopicTikTokOrders: {key: []string{"shop_id", "order_id"},
		rawPart: "toYYYYMM(create_time)", curPart: "toYYYYMM(create_time)", reason: "orders are read by creation month, which never changes for an order"},
	schemas.TopicTikTokProducts: {key: []string{"shop_id", "product_id"},
		rawPart: "toYYYYMM(source_ts)", reason: "changes are read by change month; the current state is one row per product"},
	schemas.TopicTikTokVideoEngagement: {key: []string{"business_id", "item_id"},
		rawPart: "toYYYYMM(source_ts)", reason: "lifetime snapshots are read by capture month; the current state is one row per video",
		ttl: "toDateTime(source_ts) + INTERVAL 400 DAY", ttlReason: "snapshots are lifetime totals already turned into daily deltas by transform; a year of history covers restatements and year-over-year checks"},
	schemas.TopicTikTokVideoPerformance: {key: []string{"shop_id", "video_id", "date"},
		rawPart: "toYYYYMM(date)", curPart: "toYYYYMM(date)", reason: "daily figures are read by month of the day, which is part of the key"},
	schemas.TopicTikTokWebhookEvents: {key: []string{"tts_notification_id"}, events: true,
		rawPart: "toYYYYMM(timestamp)", reason: "notifications are read by month they were sent",
		ttl: "toDateTime(timestamp) + INTERVAL 180 DAY", ttlReason: "notifications only trigger re-reads of orders, which land in tiktok_orders; half a year is enough to audit them"},
	schemas.TopicProductDaily: {key: []string{"product_key", "date"},
		rawPart: "toYYYYMM(date)", curPart: "toYYYYMM(date)", reason: "daily rows are read by month of the day, which is part of the key"},
	schemas.TopicProductLinks: {key: []string{"channel", KeyColumn},
		rawPart: "toYYYYMM(source_ts)", reason: "changes are read by change month; the identity map is small and not partitioned"},
}

// KafkaOnly lists topics that have no table, with the reason.
var KafkaOnly = map[string]string{
	schemas.TopicCursors: "the ingest stage's source positions, written in the same Kafka transaction as the records they cover; state, not data",
}

// lowCardinality are string fields with few distinct values (statuses, codes,
// enumerations): LowCardinality stores them as dictionary ids.
var lowCardinality = map[string]bool{
	"source": true, "entity": true, "op": true, "marketplace_id": true, "currency_code": true, "currency": true,
	"order_status": true, "order_status_raw": true, "status": true, "audit_status": true, "fulfillment_channel": true,
	"sales_channel": true, "order_channel": true, "ship_service_level": true, "shipment_service_level_category": true,
	"order_type": true, "payment_method": true, "easy_ship_shipment_status": true, "electronic_invoice_status": true,
	"buyer_invoice_preference": true, "date_time_zone": true, "asin_granularity": true, "report_period": true,
	"channel": true, "match_rule": true, "event_type": true, "media_type": true, "fulfillment_type": true,
	"shipping_type": true, "item_classification": true, "website_display_group": true, "website_display_group_name": true,
	"condition_id": true, "condition_subtype_id": true, "price_designation": true, "deemed_reseller_category": true,
	"payment_currency": true, "tiktok_currency": true, "amazon_currency": true, "tiktok_attention_provenance": true, "cancellation_initiator": true,
	"split_or_combine_tag": true, "recipient_region_code": true, "department_name": true,
}

// TableName returns the base table name of topic: dots become underscores
// and xchannel topics drop their prefix.
func TableName(topic string) string {
	return strings.ReplaceAll(strings.TrimPrefix(topic, "xchannel."), ".", "_")
}

// All returns the tables of every topic that has one, in topic order.
func All() ([]*Table, error) {
	var out []*Table
	var errs []error
	for _, topic := range schemas.Topics() {
		if _, ok := KafkaOnly[topic]; ok {
			continue
		}
		t, err := ForTopic(topic)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// ForTopic returns the tables of topic.
func ForTopic(topic string) (*Table, error) {
	sp, ok := specs[topic]
	if !ok {
		return nil, fmt.Errorf("tables: topic %s has no table spec (add it to specs or KafkaOnly)", topic)
	}
	text, err := schemas.Source(topic)
	if err != nil {
		return nil, err
	}
	root, err := parseAvro(text)
	if err != nil {
		return nil, fmt.Errorf("tables: topic %s: %w", topic, err)
	}
	base := TableName(topic)
	t := &Table{
		Topic:           topic,
		Raw:             base + "_changes",
		Key:             sp.key,
		RawPartition:    sp.rawPart,
		PartitionReason: sp.reason,
		TTL:             sp.ttl,
		TTLReason:       sp.ttlReason,
	}
	if !sp.events {
		t.Current = base
		t.CurrentPartition = sp.curPart
	}
	for _, f := range root.fields {
		cols, err := fieldColumns(f)
		if err != nil {
			return nil, fmt.Errorf("tables: topic %s field %s: %w", topic, f.name, err)
		}
		t.Columns = append(t.Columns, cols...)
	}
	t.fields = map[string]bool{}
	for i, c := range t.Columns {
		t.Columns[i].first = !t.fields[c.Field]
		t.fields[c.Field] = true
	}
	t.Columns = append(t.Columns,
		Column{Name: KeyColumn, Type: "String", Codec: "ZSTD(1)", Reason: "Kafka record key: the natural key as text"},
		Column{Name: PartitionColumn, Type: "UInt32", Reason: "Kafka partition the change was read from"},
		Column{Name: OffsetColumn, Type: "UInt64", Codec: "ZSTD(1)", Reason: "Kafka offset: (_partition, _offset) is unique per change"},
	)
	return t, nil
}

// fieldColumns maps one top-level Avro field to its columns.
func fieldColumns(f avroField) ([]Column, error) {
	t := f.typ
	if t.kind == "array" && t.items.kind == "record" {
		var cols []Column
		for _, sub := range t.items.fields {
			c := Column{Name: f.name + "." + sub.name, Field: f.name, Child: sub.name}
			if sub.typ.kind == "array" && sub.typ.items.kind == "record" {
				c.Type, c.Codec, c.Reason = "Array(String)", "ZSTD(1)", "a list inside a list: JSON text per entry (Nested cannot nest)"
				c.conv = jsonConverter(sub.typ)
			} else {
				inner, conv, err := scalar(sub.name, sub.typ, false)
				if err != nil {
					return nil, fmt.Errorf("entry field %s: %w", sub.name, err)
				}
				c.Type, c.Codec, c.Reason = "Array("+inner.typ+")", "ZSTD(1)", "Nested list entry field"
				c.conv = conv
			}
			cols = append(cols, c)
		}
		return cols, nil
	}
	if t.kind == "array" {
		inner, conv, err := scalar(f.name, t.items, false)
		if err != nil {
			return nil, err
		}
		return []Column{{Name: f.name, Field: f.name, Type: "Array(" + inner.typ + ")", Codec: "ZSTD(1)",
			Reason: "list of values", conv: arrayConverter(conv)}}, nil
	}
	ct, conv, err := scalar(f.name, t, true)
	if err != nil {
		return nil, err
	}
	return []Column{{Name: f.name, Field: f.name, Type: ct.typ, Codec: ct.codec, Reason: ct.reason, conv: conv}}, nil
}

type colType struct{ typ, codec, reason string }

// scalar maps a primitive or ["null", T] type. lc allows LowCardinality.
func scalar(name string, t *avroType, lc bool) (colType, converter, error) {
	nullable := false
	if t.kind == "union" {
		nullable, t = true, t.nullable
	}
	conv, err := converterFor(t)
	if err != nil {
		return colType{}, nil, err
	}
	var ct colType
	switch {
	case t.logical == "timestamp-millis":
		ct = colType{"DateTime64(3, 'UTC')", "Delta(8), ZSTD(1)", "instant in UTC to the millisecond; deltas of nearby times compress well"}
	case t.logical == "date":
		ct = colType{"Date32", "", "calendar day; Date32 because release dates can predate 1970"}
	case t.logical == "decimal":
		ct = colType{fmt.Sprintf("Decimal(%d, %d)", t.prec, t.scale), "", "money is exact"}
	case t.kind == "string" && lc && lowCardinality[name]:
		ct = colType{"LowCardinality(String)", "", "few distinct values: stored as dictionary ids"}
	case t.kind == "string":
		ct = colType{"String", "ZSTD(1)", "text compresses far better with ZSTD than LZ4"}
		if name == "data_json" {
			ct = colType{"String", "ZSTD(3)", "raw JSON, rarely read: trade CPU for space"}
		}
	case t.kind == "long":
		ct = colType{"Int64", "", ""}
		if name == "version" {
			ct = colType{"Int64", "Delta(8), ZSTD(1)", "versions grow within a key, the sort order: deltas are tiny"}
		}
	case t.kind == "int":
		ct = colType{"Int32", "", ""}
	case t.kind == "double":
		ct = colType{"Float64", "", ""}
	case t.kind == "boolean":
		ct = colType{"Bool", "", ""}
	default:
		return colType{}, nil, fmt.Errorf("no column type for Avro %s", t.kind)
	}
	if nullable {
		conv = nullableConverter(branchName(t), conv)
		if strings.HasPrefix(ct.typ, "LowCardinality(") {
			ct.typ = "LowCardinality(Nullable(" + strings.TrimSuffix(strings.TrimPrefix(ct.typ, "LowCardinality("), ")") + "))"
		} else {
			ct.typ = "Nullable(" + ct.typ + ")"
		}
		if strings.HasPrefix(ct.codec, "Delta") {
			// Delta does not apply to the null map; ZSTD alone still helps.
			ct.codec, ct.reason = "ZSTD(1)", "optional instant in UTC to the millisecond"
		}
	}
	return ct, conv, nil
}

// Row converts a decoded record and its Kafka coordinates into the values of
// t.Columns, in order. A field the table has no column for is an
// *UnmappedFieldError: data would be lost, and no retry can fix it.
func (t *Table) Row(rec map[string]any, key []byte, partition int32, offset int64) ([]any, error) {
	row := make([]any, len(t.Columns))
	seen := 0 // distinct fields of rec that have columns
	for i, c := range t.Columns {
		switch c.Name {
		case KeyColumn:
			row[i] = string(key)
			continue
		case PartitionColumn:
			row[i] = uint32(partition)
			continue
		case OffsetColumn:
			row[i] = uint64(offset)
			continue
		}
		v, present := rec[c.Field]
		if present && c.first {
			seen++
		}
		if c.Child != "" {
			xs, _ := v.([]any)
			out := make([]any, len(xs))
			for j, x := range xs {
				entry, _ := x.(map[string]any)
				y, err := c.conv(entry[c.Child])
				if err != nil {
					return nil, &MappingError{Column: c.Name, Err: fmt.Errorf("entry %d: %w", j, err)}
				}
				out[j] = y
			}
			row[i] = out
			continue
		}
		if !present {
			// Written with an older schema that lacked the field: the
			// field's default, which is null or [] for every added field.
			if strings.HasPrefix(c.Type, "Array(") {
				row[i] = []any{}
			}
			continue
		}
		y, err := c.conv(v)
		if err != nil {
			return nil, &MappingError{Column: c.Name, Err: err}
		}
		row[i] = y
	}
	if seen != len(rec) {
		// rec has a field no column reads: find it (the slow path).
		for name := range rec {
			if !t.hasField(name) {
				return nil, &UnmappedFieldError{Table: t.Raw, Field: name}
			}
		}
	}
	return row, nil
}

func (t *Table) hasField(name string) bool { return t.fields[name] }

// MappingError is a record value that does not fit its column (dead-letter
// the record).
type MappingError struct {
	Column string
	Err    error
}

func (e *MappingError) Error() string { return fmt.Sprintf("column %s: %v", e.Column, e.Err) }
func (e *MappingError) Unwrap() error { return e.Err }

// UnmappedFieldError is a record field with no column: the record was
// written with a newer schema than this loader's tables. Loading it would
// silently drop the field, so the loader stops until a migration adds it.
type UnmappedFieldError struct {
	Table, Field string
}

func (e *UnmappedFieldError) Error() string {
	return fmt.Sprintf("table %s has no column for field %s (a newer schema added it; add a migration and upgrade the loader)", e.Table, e.Field)
}
