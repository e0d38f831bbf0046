// Package schemas holds the Avro schema of every Kafka topic of shopstream,
// embedded in the binary, and the helpers that register them with a schema
// registry and encode and decode record values.
//
// # Files and names
//
// Each topic has exactly one schema file, <topic>.avsc, in this directory;
// adding a file adds the topic to [Topics]. Values are registered under the
// subject <topic>-value ([Subject], Confluent's TopicNameStrategy). The top
// record of a topic lives in the namespace com.shopstream.<prefix>, where
// prefix is the part of the topic name before the first dot (amazon, tiktok,
// xchannel, shopstream). Field names are snake_case; fields read from an API
// keep the API's name (AmazonOrderId becomes amazon_order_id, TikTok names
// stay as they are), and nested API objects are flattened with their parent
// as prefix (payment.total_amount becomes payment_total_amount). Every
// record's doc names its Kafka key, e.g. "Key: marketplace_id:amazon_order_id".
//
// # Change metadata
//
// Every record starts with the same seven fields, in this order:
//
//	event_id   string  deterministic id of the change, for deduplication
//	source     string  stage that produced it (amazon, tiktokshop, tiktokbiz, transform, ...)
//	entity     string  kind of entity (order, order_item, product, ...)
//	op         string  create, update, delete or snapshot
//	source_ts  long    timestamp-millis, UTC: when the source says it changed
//	ingest_ts  long    timestamp-millis, UTC: when shopstream read it
//	version    long    grows with every change of the same key
//
// op is a string rather than an Avro enum: adding a symbol to an enum breaks
// readers that still hold the old schema, a new string value does not.
//
// # Value types
//
//   - Money is bytes with logicalType decimal, precision 18 and scale 4,
//     together with an ISO 4217 currency code field in the same or an
//     enclosing record (currency_code, currency, payment_currency, ...), which
//     every amount of that record shares. Never float or double:
//     amounts that arrive as JSON numbers are parsed from their text. Rates
//     that must stay exact (tax_rate) use scale 6.
//   - Ratios, shares and percentages, which are not money (click_share,
//     buy_box_percentage, ...), are double; each field's doc says whether it
//     is a fraction or a percent.
//   - Instants are long with logicalType timestamp-millis, in UTC; APIs that
//     send Unix seconds are multiplied by 1000.
//   - A day that a source cuts in a shop or marketplace time zone is an int
//     with logicalType date (days since 1970-01-01), plus a string field
//     date_time_zone holding the IANA zone, so a day is never mistaken for a
//     UTC day.
//   - Counts and ranks are long.
//   - API enumerations (order status, report period, ...) are strings, so a
//     value the API adds later does not make records undecodable.
//   - An optional field is the union ["null", T] with default null. null
//     means "not reported", which is not the same as zero.
//   - Lists (order lines, products in a video, identifiers, sales ranks,
//     search terms) are arrays, of records where an entry has several
//     fields, with default []; a list is never null.
//
// # Native form
//
// [Codec] and [Serde] take and return records in goavro's native form
// (github.com/linkedin/goavro/v2): a record is a map[string]any; long is
// int64 (int, int32 and int64 are accepted when encoding); double is float64;
// a decimal is a *big.Rat; timestamp-millis and date are time.Time (decoded in
// UTC; a date decodes as midnight UTC of that day); an array is a []any. A
// non-null value of an optional field is wrapped in a single-entry map keyed
// by the branch name, e.g. map[string]any{"string": "B07N4M94X4"},
// map[string]any{"bytes.decimal": big.NewRat(23844, 100)},
// map[string]any{"long.timestamp-millis": t} or map[string]any{"int.date": d};
// goavro.Union builds it, and [OptString], [OptLong] and their siblings build
// the value of an optional field. A null is plain nil.
//
// goavro cuts a decimal to the schema's scale without an error, rounding
// toward negative infinity (12.34567 is written as 12.3456, -12.34567 as
// -12.3457), so producers round money to four decimal places themselves
// before encoding.
//
// Importing the package lowers goavro.MaxBlockCount, process-wide, to 2^20
// entries per array or map block: goavro allocates a block up front from the
// count it reads, and without the bound one corrupt value of a few bytes
// ends the process with a fatal out-of-memory error.
//
// # Wire format and registry
//
// Kafka record values use the Confluent wire format: byte 0, the schema id as
// a 4-byte big-endian integer, then the Avro binary encoding. [Registry]
// registers the embedded schemas (subject compatibility BACKWARD, checked
// against the latest version before registering) and builds a [Serde], which
// encodes with the embedded schemas' ids and decodes values of any schema id
// the registry knows, so records written before a schema change still decode
// with the schema they were written with. A value that can never decode fails
// with an error matching [ErrBadHeader], [ErrUnknownSchemaID] or
// [ErrUndecodable] (dead-letter it); any other error, such as an unreachable
// registry, is worth retrying.
//
// # Changing a schema
//
// Changes must stay BACKWARD compatible: a consumer with the new schema must
// read every record written with an older one. In practice: add a field only
// as optional with a default (["null", T], default null, or an array with
// default []); never rename a field, change its type or its decimal
// precision and scale, and use strings rather than Avro enums; removing a
// field is allowed. The
// released versions of every schema are kept under testdata/released/<topic>/
// (1.avsc, 2.avsc, ...). The tests check the current schema against every
// released version and fail while the current schema differs from the
// newest released one, so a change is only done once it is copied there as
// the next version.
package schemas
