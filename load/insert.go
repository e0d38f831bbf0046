package load

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/deadletter"
	"github.com/shopstream/shopstream/internal/retry"
	"github.com/shopstream/shopstream/load/tables"
)

// deadRecord is a record that cannot be loaded, and why.
type deadRecord struct {
	idx    int // in the batch
	class  string
	reason string
}

// decodeBatch decodes and maps b's records. It retries decode errors that
// are not poison (an unreachable registry), dead-letters poison, and fails
// on a field no column holds.
func (l *Loader) decodeBatch(ctx context.Context, tbl *tables.Table, b *batch) (rows [][]any, dead []deadRecord, sourceTS []time.Time, err error) {
	rows = make([][]any, 0, len(b.recs))
	sourceTS = make([]time.Time, 0, len(b.recs))
	for i, r := range b.recs {
		row, ts, err := l.decodeRecord(ctx, tbl, r)
		if c := deadletter.DecodeClass(err); c != "" {
			dead = append(dead, deadRecord{idx: i, class: c, reason: err.Error()})
			continue
		}
		var unmapped *tables.UnmappedFieldError
		var mapping *tables.MappingError
		switch {
		case errors.As(err, &unmapped):
			return nil, nil, nil, fmt.Errorf("load: record %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, err)
		case errors.As(err, &mapping):
			dead = append(dead, deadRecord{idx: i, class: deadletter.ClassMapping, reason: fmt.Sprintf("table %s %v", tbl.Raw, err)})
			continue
		case err != nil:
			return nil, nil, nil, fmt.Errorf("load: record %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if !ts.IsZero() {
			sourceTS = append(sourceTS, ts)
		}
		rows = append(rows, row)
	}
	return rows, dead, sourceTS, nil
}

// writerSchemas is what the row decoder needs from the Decoder
// (schemas.Serde has it): the writer's schema of a value.
type writerSchemas interface {
	WriterSchema(ctx context.Context, b []byte) (id int, schema string, payload []byte, err error)
}

// rowDecoderKey is a table and the id of a writer schema.
type rowDecoderKey struct {
	table string
	id    int
}

// decodeRecord decodes one record into its row and source_ts, straight
// from the Avro bytes where a row decoder compiles for its schema, else
// through goavro's map. Decode errors that are not poison are retried.
func (l *Loader) decodeRecord(ctx context.Context, tbl *tables.Table, r *kgo.Record) ([]any, time.Time, error) {
	if ws, ok := l.dec.(writerSchemas); ok {
		var rd *tables.RowDecoder
		var payload []byte
		lookup := func() error {
			id, schema, p, err := ws.WriterSchema(ctx, r.Value)
			if err != nil {
				if deadletter.DecodeClass(err) != "" {
					return err
				}
				return retry.Retryable(err)
			}
			rd, payload = l.rowDecoder(tbl, id, schema), p
			return nil
		}
		// Known schemas answer at once; only a registry that does not
		// answer needs the retry loop (and its allocations).
		if err := lookup(); err != nil {
			if deadletter.DecodeClass(err) != "" {
				return nil, time.Time{}, err
			}
			if err := retryOp(ctx, l.m.retries.WithLabelValues(tbl.Raw, "decode"), nil, l.log, "decode", lookup); err != nil {
				return nil, time.Time{}, err
			}
		}
		if rd != nil {
			return rd.Decode(payload, r.Key, r.Partition, r.Offset)
		}
	}
	var rec map[string]any
	err := retryOp(ctx, l.m.retries.WithLabelValues(tbl.Raw, "decode"), nil, l.log, "decode", func() error {
		var err error
		rec, err = l.dec.Decode(ctx, r.Value)
		if err != nil && deadletter.DecodeClass(err) != "" {
			return err
		}
		return retry.Retryable(err)
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	row, err := tbl.Row(rec, r.Key, r.Partition, r.Offset)
	ts, _ := rec["source_ts"].(time.Time)
	return row, ts, err
}

// rowDecoder returns the compiled decoder of tbl for writer schema id, nil
// when the schema needs the goavro path.
func (l *Loader) rowDecoder(tbl *tables.Table, id int, schema string) *tables.RowDecoder {
	key := rowDecoderKey{tbl.Raw, id}
	if v, ok := l.rowDecoders.Load(key); ok {
		return v.(*tables.RowDecoder)
	}
	rd, err := tbl.NewRowDecoder(schema)
	if err != nil {
		l.log.Debug().Err(err).Str("table", tbl.Raw).Int("schema_id", id).Msg("records of this schema are decoded through goavro")
		rd = nil
	}
	l.rowDecoders.Store(key, rd)
	return rd
}

// insertSettings make a replayed batch a no-op in the raw table and in the
// current-state table its materialized view feeds.
func insertSettings(token string) clickhouse.Settings {
	return clickhouse.Settings{
		"insert_deduplicate":                                 1,
		"insert_deduplication_token":                         token,
		"deduplicate_blocks_in_dependent_materialized_views": 1,
	}
}

// insertRetrying inserts rows with b's token until ClickHouse acknowledges,
// retrying in place with backoff (a warehouse outage included: the same
// rows with the same token, which ClickHouse drops if an earlier attempt
// landed after all); errors that name a schema mismatch stop the loader.
func (l *Loader) insertRetrying(ctx context.Context, tbl *tables.Table, b *batch, rows [][]any) error {
	return l.warehouseOp(ctx, tbl.Raw, "insert", l.log.With().Str("table", tbl.Raw).Str("batch_id", b.token()).Logger(), func() error {
		err := insertRows(ctx, l.conn, l.opts.HTTP, tbl.Raw, tbl.Columns, b.token(), rows)
		var ae *appendError
		if errors.As(err, &ae) {
			r := b.recs[ae.row]
			return fmt.Errorf("load: table %s, record %s/%d/%d: %w", tbl.Raw, r.Topic, r.Partition, r.Offset, ae.err)
		}
		if isSchemaMismatch(err) {
			return fmt.Errorf("load: table %s, batch %s (records %s/%d/%d-%d): schema mismatch: %w",
				tbl.Raw, b.token(), b.topic, b.partition, b.first(), b.last(), err)
		}
		return retry.Retryable(err)
	})
}

// warehouseOp runs op, an operation on the warehouse of table, under
// retryOp with the warehouse's dependency, counting its retries as op.
func (l *Loader) warehouseOp(ctx context.Context, table, what string, log zerolog.Logger, op func() error) error {
	return retryOp(ctx, l.m.retries.WithLabelValues(table, what), l.warehouse, log, what+" "+table, op)
}

// appendError is a value clickhouse-go refused for its column: a bug in the
// mapping or a table that differs from the schema, never fixed by a retry.
type appendError struct {
	row int
	err error
}

func (e *appendError) Error() string { return fmt.Sprintf("row %d: %v", e.row, e.err) }

// insertRows sends rows as one Native batch with the given dedup token.
func insertRows(ctx context.Context, conn BatchConn, http bool, table string, cols []tables.Column, token string, rows [][]any) error {
	opts := []clickhouse.QueryOption{clickhouse.WithSettings(insertSettings(token))}
	if http {
		// The loader checked the table at start; skip a DESCRIBE per batch.
		nt := make([]clickhouse.ColumnNameAndType, len(cols))
		for i, c := range cols {
			nt[i] = clickhouse.ColumnNameAndType{Name: c.Name, Type: c.Type}
		}
		opts = append(opts, clickhouse.WithColumnNamesAndTypes(nt))
	}
	qctx := clickhouse.Context(ctx, opts...)
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "`" + c.Name + "`"
	}
	batch, err := conn.PrepareBatch(qctx, "INSERT INTO `"+table+"` ("+strings.Join(names, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	defer func() { _ = batch.Abort() }()
	for i, row := range rows {
		if err := batch.Append(row...); err != nil {
			return &appendError{row: i, err: err}
		}
	}
	if err := batch.Send(); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// The URL carries the whole column list; the cause is enough.
			err = fmt.Errorf("%s to the warehouse: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

// schemaMismatchCodes are ClickHouse errors about the table's shape.
var schemaMismatchCodes = map[int32]bool{
	8:  true, // THERE_IS_NO_COLUMN
	10: true, // NOT_FOUND_COLUMN_IN_BLOCK
	16: true, // NO_SUCH_COLUMN_IN_TABLE
	44: true, // ILLEGAL_COLUMN
	47: true, // UNKNOWN_IDENTIFIER
	53: true, // TYPE_MISMATCH
	60: true, // UNKNOWN_TABLE
	70: true, // CANNOT_CONVERT_TYPE
}

func isSchemaMismatch(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && schemaMismatchCodes[ex.Code]
}

func kerrOf(code int16) error {
	return kerr.ErrorForCode(code)
}
