package tables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/shopstream/shopstream/schemas"
)

// RowDecoder turns the Avro binary of records written with one schema
// straight into rows of a Table: the values Row would produce from goavro's
// decoded map, without building the map. Decoding was the loader's main
// cost (a map entry, an interface and often a union map per field, and
// big.Rat decimals).
//
// A RowDecoder is compiled per writer schema, so a field the table has no
// column for is known up front. Schemas it cannot compile (a list inside a
// list, which becomes JSON text, or a writer type that maps to another
// column type than the table's) return ErrSlowPath from NewRowDecoder: use
// the goavro path (Row) for them.
type RowDecoder struct {
	t        *Table
	fields   []fieldDecoder // in writer order
	defaults []any          // per column: the value when the writer lacks the field
	// unmapped is a writer field no column holds ("" if none).
	unmapped string
	sourceTS int // column of source_ts, -1 if none
}

// ErrSlowPath says a schema needs the goavro path.
var ErrSlowPath = errors.New("tables: schema not supported by the row decoder")

// fieldDecoder decodes one field of the writer's record into row.
type fieldDecoder func(r *avroReader, row []any) error

// valueDecoder decodes one value into what its column holds.
type valueDecoder func(r *avroReader) (any, error)

// NewRowDecoder compiles a decoder for records written with schema (the
// writer's Avro schema text) into rows of t.
func (t *Table) NewRowDecoder(schema string) (*RowDecoder, error) {
	root, err := parseAvro(schema)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSlowPath, err)
	}
	if root.kind != "record" {
		return nil, fmt.Errorf("%w: schema is a %s, not a record", ErrSlowPath, root.kind)
	}
	d := &RowDecoder{t: t, defaults: make([]any, len(t.Columns)), sourceTS: -1}
	colIdx := map[string]int{}
	for i, c := range t.Columns {
		colIdx[c.Name] = i
		if strings.HasPrefix(c.Type, "Array(") {
			d.defaults[i] = []any{}
		}
		if c.Name == "source_ts" {
			d.sourceTS = i
		}
	}
	for _, f := range root.fields {
		if !t.fields[f.name] {
			if d.unmapped == "" {
				d.unmapped = f.name
			}
			skip, err := skipper(f.typ)
			if err != nil {
				return nil, err
			}
			d.fields = append(d.fields, func(r *avroReader, _ []any) error { return skip(r) })
			continue
		}
		// The writer's field must map to the columns the table has.
		cols, err := fieldColumns(f)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: %w", ErrSlowPath, f.name, err)
		}
		for _, c := range cols {
			i, ok := colIdx[c.Name]
			if !ok || t.Columns[i].Type != c.Type {
				return nil, fmt.Errorf("%w: field %s maps to %s %s", ErrSlowPath, f.name, c.Name, c.Type)
			}
		}
		fd, err := fieldOp(f, cols, colIdx)
		if err != nil {
			return nil, err
		}
		d.fields = append(d.fields, fd)
	}
	return d, nil
}

// fieldOp compiles the decoder of a top-level field.
func fieldOp(f avroField, cols []Column, colIdx map[string]int) (fieldDecoder, error) {
	t := f.typ
	if t.kind == "array" && t.items.kind == "record" {
		return nestedOp(f.name, t.items, cols, colIdx)
	}
	i := colIdx[cols[0].Name]
	name := cols[0].Name
	var vd valueDecoder
	var err error
	if t.kind == "array" {
		vd, err = arrayOp(t.items)
	} else {
		vd, err = valueOp(t)
	}
	if err != nil {
		return nil, err
	}
	return func(r *avroReader, row []any) error {
		v, err := vd(r)
		if err != nil {
			return wrapValueErr(name, err)
		}
		row[i] = v
		return nil
	}, nil
}

// wrapValueErr makes a value that does not fit its column a MappingError;
// malformed Avro stays an undecodable error.
func wrapValueErr(column string, err error) error {
	if errors.Is(err, schemas.ErrUndecodable) {
		return err
	}
	return &MappingError{Column: column, Err: err}
}

// nestedOp compiles a list of records flattened into one Array column per
// entry field.
func nestedOp(field string, item *avroType, cols []Column, colIdx map[string]int) (fieldDecoder, error) {
	type child struct {
		col  int // -1: no column, skip
		dec  valueDecoder
		skip func(*avroReader) error
	}
	byChild := map[string]int{}
	for _, c := range cols {
		byChild[c.Child] = colIdx[c.Name]
	}
	var children []child
	seen := 0
	for _, sub := range item.fields {
		col, ok := byChild[sub.name]
		if !ok {
			s, err := skipper(sub.typ)
			if err != nil {
				return nil, err
			}
			children = append(children, child{col: -1, skip: s})
			continue
		}
		seen++
		if sub.typ.kind == "array" && sub.typ.items.kind == "record" {
			return nil, fmt.Errorf("%w: %s.%s is a list inside a list, held as JSON text", ErrSlowPath, field, sub.name)
		}
		dec, err := valueOp(sub.typ)
		if err != nil {
			return nil, err
		}
		children = append(children, child{col: col, dec: dec})
	}
	if seen != len(cols) {
		return nil, fmt.Errorf("%w: entries of %s lack fields the table has", ErrSlowPath, field)
	}
	return func(r *avroReader, row []any) error {
		outs := make([][]any, len(children))
		for j, ch := range children {
			if ch.col >= 0 {
				outs[j] = []any{}
			}
		}
		entry := 0
		err := r.blocks(func() error {
			for j, ch := range children {
				if ch.col < 0 {
					if err := ch.skip(r); err != nil {
						return err
					}
					continue
				}
				v, err := ch.dec(r)
				if err != nil {
					return wrapValueErr(field+"."+item.fields[j].name, fmt.Errorf("entry %d: %w", entry, err))
				}
				outs[j] = append(outs[j], v)
			}
			entry++
			return nil
		})
		if err != nil {
			return err
		}
		for j, ch := range children {
			if ch.col >= 0 {
				row[ch.col] = outs[j]
			}
		}
		return nil
	}, nil
}

// arrayOp compiles a list of values.
func arrayOp(item *avroType) (valueDecoder, error) {
	vd, err := valueOp(item)
	if err != nil {
		return nil, err
	}
	return func(r *avroReader) (any, error) {
		out := []any{}
		err := r.blocks(func() error {
			v, err := vd(r)
			if err != nil {
				return fmt.Errorf("entry %d: %w", len(out), err)
			}
			out = append(out, v)
			return nil
		})
		return out, err
	}, nil
}

// valueOp compiles a primitive, logical or ["null", T] value into the Go
// value its column's converter would produce.
func valueOp(t *avroType) (valueDecoder, error) {
	if t.kind == "union" {
		inner, err := valueOp(t.nullable)
		if err != nil {
			return nil, err
		}
		return func(r *avroReader) (any, error) {
			idx, err := r.long()
			if err != nil {
				return nil, err
			}
			switch idx {
			case 0:
				return nil, nil
			case 1:
				return inner(r)
			}
			return nil, r.fail("union branch %d of 2", idx)
		}, nil
	}
	switch {
	case t.logical == "timestamp-millis" && t.kind == "long":
		return func(r *avroReader) (any, error) {
			v, err := r.long()
			if err != nil {
				return nil, err
			}
			return time.UnixMilli(v).UTC(), nil
		}, nil
	case t.logical == "date" && t.kind == "int":
		return func(r *avroReader) (any, error) {
			v, err := r.long()
			if err != nil {
				return nil, err
			}
			return time.Unix(v*86400, 0).UTC(), nil
		}, nil
	case t.logical == "decimal" && t.kind == "bytes":
		return decimalOp(t.prec, t.scale), nil
	case t.logical != "":
		return nil, fmt.Errorf("%w: logical type %s on %s", ErrSlowPath, t.logical, t.kind)
	}
	switch t.kind {
	case "string":
		return func(r *avroReader) (any, error) { return r.str() }, nil
	case "long":
		return func(r *avroReader) (any, error) { return r.long() }, nil
	case "int":
		return func(r *avroReader) (any, error) {
			v, err := r.long()
			if err != nil {
				return nil, err
			}
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, r.fail("int %d out of range", v)
			}
			return int32(v), nil
		}, nil
	case "double":
		return func(r *avroReader) (any, error) {
			b, err := r.take(8)
			if err != nil {
				return nil, err
			}
			return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
		}, nil
	case "boolean":
		return func(r *avroReader) (any, error) {
			b, err := r.take(1)
			if err != nil {
				return nil, err
			}
			if b[0] > 1 {
				return nil, r.fail("boolean byte %d", b[0])
			}
			return b[0] == 1, nil
		}, nil
	}
	return nil, fmt.Errorf("%w: Avro %s", ErrSlowPath, t.kind)
}

// decimalOp decodes a bytes decimal (big-endian two's complement of the
// unscaled value) of the column's precision and scale.
func decimalOp(prec, scale int) valueDecoder {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(prec)), nil)
	var limit64 int64 = math.MaxInt64
	if prec <= 18 {
		limit64 = limit.Int64()
	}
	exp := int32(-scale)
	return func(r *avroReader) (any, error) {
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return decimal.New(0, exp), nil
		}
		if len(b) <= 8 {
			v := int64(int8(b[0])) // sign-extended
			for _, x := range b[1:] {
				v = v<<8 | int64(x)
			}
			if v >= limit64 || v <= -limit64 {
				return nil, fmt.Errorf("decimal %s does not fit precision %d", decimal.New(v, exp).String(), limit.BitLen())
			}
			return decimal.New(v, exp), nil
		}
		u := new(big.Int).SetBytes(b)
		if b[0]&0x80 != 0 {
			u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		if new(big.Int).Abs(u).Cmp(limit) >= 0 {
			return nil, fmt.Errorf("decimal %s does not fit precision %d", decimal.NewFromBigInt(u, exp).String(), limit.BitLen())
		}
		return decimal.NewFromBigInt(u, exp), nil
	}
}

// skipper compiles reading past a value of type t.
func skipper(t *avroType) (func(*avroReader) error, error) {
	switch t.kind {
	case "null":
		return func(*avroReader) error { return nil }, nil
	case "boolean":
		return func(r *avroReader) error { _, err := r.take(1); return err }, nil
	case "int", "long":
		return func(r *avroReader) error { _, err := r.long(); return err }, nil
	case "float":
		return func(r *avroReader) error { _, err := r.take(4); return err }, nil
	case "double":
		return func(r *avroReader) error { _, err := r.take(8); return err }, nil
	case "string", "bytes":
		return func(r *avroReader) error { _, err := r.bytes(); return err }, nil
	case "union":
		inner, err := skipper(t.nullable)
		if err != nil {
			return nil, err
		}
		return func(r *avroReader) error {
			idx, err := r.long()
			switch {
			case err != nil:
				return err
			case idx == 0:
				return nil
			case idx == 1:
				return inner(r)
			}
			return r.fail("union branch %d of 2", idx)
		}, nil
	case "array":
		inner, err := skipper(t.items)
		if err != nil {
			return nil, err
		}
		return func(r *avroReader) error { return r.blocks(func() error { return inner(r) }) }, nil
	case "record":
		var fs []func(*avroReader) error
		for _, f := range t.fields {
			s, err := skipper(f.typ)
			if err != nil {
				return nil, err
			}
			fs = append(fs, s)
		}
		return func(r *avroReader) error {
			for _, s := range fs {
				if err := s(r); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return nil, fmt.Errorf("%w: cannot skip Avro %s", ErrSlowPath, t.kind)
}

// Decode turns the Avro payload of one record and its Kafka coordinates into
// the values of the table's columns, and returns the record's source_ts
// (zero if it has none). Errors are those of Row: a *MappingError for a
// value that does not fit, an *UnmappedFieldError for a field without a
// column, and an error matching schemas.ErrUndecodable for bytes that are
// not a record of the schema.
func (d *RowDecoder) Decode(payload, key []byte, partition int32, offset int64) ([]any, time.Time, error) {
	row := make([]any, len(d.defaults))
	copy(row, d.defaults)
	r := avroReader{b: payload}
	for _, f := range d.fields {
		if err := f(&r, row); err != nil {
			return nil, time.Time{}, err
		}
	}
	if r.i != len(r.b) {
		return nil, time.Time{}, fmt.Errorf("%w: %d trailing bytes after the record", schemas.ErrUndecodable, len(r.b)-r.i)
	}
	if d.unmapped != "" {
		return nil, time.Time{}, &UnmappedFieldError{Table: d.t.Raw, Field: d.unmapped}
	}
	n := len(d.t.Columns)
	row[n-3] = string(key)
	row[n-2] = uint32(partition)
	row[n-1] = uint64(offset)
	var ts time.Time
	if d.sourceTS >= 0 {
		ts, _ = row[d.sourceTS].(time.Time)
	}
	return row, ts, nil
}

// avroReader reads Avro binary encoding.
type avroReader struct {
	b []byte
	i int
}

// maxBlockCount bounds the entries of one array block, as schemas does for
// goavro: a corrupt count must not allocate the process away.
const maxBlockCount = 1 << 20

func (r *avroReader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", schemas.ErrUndecodable, r.i, fmt.Sprintf(format, args...))
}

func (r *avroReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.i >= len(r.b) {
			return 0, r.fail("unexpected end of the record")
		}
		c := r.b[r.i]
		r.i++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, r.fail("varint longer than 10 bytes")
}

func (r *avroReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.i {
		return nil, r.fail("length %d past the end of the record", n)
	}
	b := r.b[r.i : r.i+n]
	r.i += n
	return b, nil
}

func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.i) {
		return nil, r.fail("length %d past the end of the record", n)
	}
	return r.take(int(n))
}

func (r *avroReader) str() (string, error) {
	b, err := r.bytes()
	return string(b), err
}

// blocks calls item for every entry of an array's blocks.
func (r *avroReader) blocks(item func() error) error {
	for {
		n, err := r.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil { // the block's size in bytes
				return err
			}
		}
		if n > maxBlockCount {
			return r.fail("array block of %d entries", n)
		}
		for range n {
			if err := item(); err != nil {
				return err
			}
		}
	}
}
