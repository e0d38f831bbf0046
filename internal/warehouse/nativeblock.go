package warehouse

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/shopstream/shopstream/internal/chsql"
)

// Blocks between the engine and native-protocol clients.
//
// The engine reads and writes the Native format at protocol revision 0: a
// block is the column and row counts, then per column its name, its type and
// its data. A client that negotiated a recent revision frames the same block
// with a BlockInfo header and a custom-serialization flag after each column's
// type. The column data itself is laid out the same at every revision for
// every type the converter accepts, so a block is converted by walking its
// columns' layouts (which the type names fully determine) and copying the
// bytes, without materialising values. ch-go's ColAuto could decode and
// re-encode many types the same way, but not LowCardinality(Nullable(T)),
// Tuple, Map, Nested or FixedString, which tables here use.
//
// Types whose layout depends on the revision or on per-column state that the
// engine negotiates with a server client (Dynamic, Variant, JSON, Object,
// AggregateFunction) are refused with a NOT_IMPLEMENTED exception.

// errBlockTooLarge is a client block beyond the server's body limit.
var errBlockTooLarge = errors.New("block too large")

// blockCopier reads one block's columns from r and appends them to out.
type blockCopier struct {
	r     *proto.Reader
	out   []byte
	limit int // bytes out may grow to
}

func (c *blockCopier) copyN(n uint64) error {
	if room := c.limit - len(c.out); room < 0 || n > uint64(room) {
		return fmt.Errorf("%w: more than %d bytes", errBlockTooLarge, c.limit)
	}
	start := len(c.out)
	c.out = append(c.out, make([]byte, n)...)
	if _, err := io.ReadFull(c.r, c.out[start:]); err != nil {
		return fmt.Errorf("read column data: %w", noEOF(err))
	}
	return nil
}

// uvarint reads a varint and copies it.
func (c *blockCopier) uvarint() (uint64, error) {
	v, err := c.r.UVarInt()
	if err != nil {
		return 0, noEOF(err)
	}
	c.out = appendUvarint(c.out, v)
	return v, nil
}

// u64 reads a little-endian UInt64 and copies it.
func (c *blockCopier) u64() (uint64, error) {
	start := len(c.out)
	if err := c.copyN(8); err != nil {
		return 0, err
	}
	b := c.out[start:]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, nil
}

// noEOF turns a clean EOF inside a block into an unexpected one: a block
// never ends between its parts.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendStr(b []byte, s string) []byte {
	b = appendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// typeError is a column type the converter cannot carry.
type typeError struct{ typ string }

func (e *typeError) Error() string {
	return fmt.Sprintf("columns of type %s are not supported over the native protocol by the embedded warehouse; use the HTTP interface", e.typ)
}

// fixedWidth is the byte width of each value of the fixed-width types.
var fixedWidth = map[string]uint64{
	"UInt8": 1, "Int8": 1, "Bool": 1, "Enum8": 1, "Nothing": 1,
	"UInt16": 2, "Int16": 2, "Date": 2, "Enum16": 2, "BFloat16": 2,
	"UInt32": 4, "Int32": 4, "Float32": 4, "DateTime": 4, "Date32": 4, "IPv4": 4, "Decimal32": 4, "Time": 4,
	"UInt64": 8, "Int64": 8, "Float64": 8, "DateTime64": 8, "Decimal64": 8, "Time64": 8,
	"UInt128": 16, "Int128": 16, "UUID": 16, "IPv6": 16, "Decimal128": 16,
	"UInt256": 32, "Int256": 32, "Decimal256": 32,
}

// aliases are types stored as another type.
var aliases = map[string]string{
	"Point": "Tuple(Float64, Float64)", "Ring": "Array(Point)", "LineString": "Array(Point)",
	"Polygon": "Array(Ring)", "MultiLineString": "Array(Ring)", "MultiPolygon": "Array(Polygon)",
}

// splitType splits "Base(arg, arg)" into its base and top-level arguments.
func splitType(t string) (base string, args []string) {
	t = strings.TrimSpace(t)
	open := strings.IndexByte(t, '(')
	if open < 0 || !strings.HasSuffix(t, ")") {
		return t, nil
	}
	base, inner := t[:open], t[open+1:len(t)-1]
	start := 0
	for i := range topLevel(inner, ',') {
		args = append(args, strings.TrimSpace(inner[start:i]))
		start = i + 1
	}
	return base, append(args, strings.TrimSpace(inner[start:]))
}

// elementType drops the name of a named Tuple or Nested element ("a String").
func elementType(e string) string {
	for i := range topLevel(e, ' ') {
		return strings.TrimSpace(e[i+1:])
	}
	return e
}

// topLevel yields the positions of sep in the type t that are outside
// parentheses and quotes, in order.
func topLevel(t string, sep byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		depth := 0
		for i := 0; i < len(t); i++ {
			switch t[i] {
			case '\'', '`', '"':
				i = chsql.QuotedEnd(t, i, t[i]) - 1 // at the closing quote
			case '(':
				depth++
			case ')':
				depth--
			case sep:
				if depth == 0 && !yield(i) {
					return
				}
			}
		}
	}
}

// layout normalises a type to the one its data is laid out as.
func layout(t string) (base string, args []string) {
	base, args = splitType(t)
	for {
		switch {
		case aliases[base] != "":
			base, args = splitType(aliases[base])
			continue
		case base == "SimpleAggregateFunction" && len(args) == 2:
			base, args = splitType(args[1])
			continue
		case base == "Map" && len(args) == 2:
			return "Array", []string{"Tuple(" + args[0] + ", " + args[1] + ")"}
		case base == "Nested":
			return "Array", []string{"Tuple(" + strings.Join(args, ", ") + ")"}
		}
		return base, args
	}
}

// copyPrefix copies the serialization state prefix of a column of type t:
// only LowCardinality has one (its dictionary format version), nested
// anywhere in the type.
func (c *blockCopier) copyPrefix(t string) error {
	base, args := layout(t)
	switch base {
	case "LowCardinality":
		v, err := c.u64()
		if err != nil {
			return err
		}
		if v != 1 {
			return fmt.Errorf("LowCardinality dictionary version %d, want 1", v)
		}
	case "Array", "Nullable":
		if len(args) != 1 {
			return &typeError{t}
		}
		return c.copyPrefix(args[0])
	case "Tuple":
		for _, a := range args {
			if err := c.copyPrefix(elementType(a)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flags of a LowCardinality granule's index type.
const (
	lcIndexWidthMask       = 0xff
	lcNeedGlobalDictionary = 1 << 8
	lcHasAdditionalKeys    = 1 << 9
)

// copyData copies rows values of a column of type t.
func (c *blockCopier) copyData(t string, rows uint64) error {
	if rows > uint64(c.limit) {
		// Every value takes a byte at least: a count this large is corrupt.
		return fmt.Errorf("%w: %d values", errBlockTooLarge, rows)
	}
	base, args := layout(t)
	if w, ok := fixedWidth[base]; ok {
		return c.copyN(w * rows)
	}
	switch base {
	case "String":
		for range rows {
			n, err := c.uvarint()
			if err != nil {
				return err
			}
			if err := c.copyN(n); err != nil {
				return err
			}
		}
		return nil
	case "FixedString":
		if len(args) != 1 {
			return &typeError{t}
		}
		n, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil {
			return &typeError{t}
		}
		return c.copyN(n * rows)
	case "Decimal":
		if len(args) == 0 {
			return &typeError{t}
		}
		p, err := strconv.Atoi(args[0])
		if err != nil {
			return &typeError{t}
		}
		switch {
		case p <= 9:
			return c.copyN(4 * rows)
		case p <= 18:
			return c.copyN(8 * rows)
		case p <= 38:
			return c.copyN(16 * rows)
		}
		return c.copyN(32 * rows)
	case "Nullable":
		if len(args) != 1 {
			return &typeError{t}
		}
		if err := c.copyN(rows); err != nil { // null map
			return err
		}
		return c.copyData(args[0], rows)
	case "Array":
		if len(args) != 1 {
			return &typeError{t}
		}
		var total, prev uint64
		for range rows {
			off, err := c.u64()
			if err != nil {
				return err
			}
			if off < prev {
				return fmt.Errorf("array offsets decrease (%d after %d)", off, prev)
			}
			total, prev = off, off
		}
		return c.copyData(args[0], total)
	case "Tuple":
		for _, a := range args {
			if err := c.copyData(elementType(a), rows); err != nil {
				return err
			}
		}
		return nil
	case "LowCardinality":
		if len(args) != 1 {
			return &typeError{t}
		}
		return c.copyLowCardinality(args[0], rows)
	}
	if strings.HasPrefix(base, "Interval") {
		return c.copyN(8 * rows)
	}
	return &typeError{t}
}

// copyLowCardinality copies the granules of a LowCardinality(inner) column:
// each is its index type, its dictionary keys (the inner type without
// Nullable; key 0 stands for NULL), and its rows' key indexes.
func (c *blockCopier) copyLowCardinality(inner string, rows uint64) error {
	dict := inner
	if b, a := splitType(inner); b == "Nullable" && len(a) == 1 {
		dict = a[0]
	}
	for done := uint64(0); done < rows; {
		flags, err := c.u64()
		if err != nil {
			return err
		}
		if flags&lcNeedGlobalDictionary != 0 {
			return errors.New("LowCardinality with a global dictionary is not supported")
		}
		width := flags & lcIndexWidthMask
		if width > 3 {
			return fmt.Errorf("LowCardinality index type %d", width)
		}
		if flags&lcHasAdditionalKeys != 0 {
			keys, err := c.u64()
			if err != nil {
				return err
			}
			if err := c.copyData(dict, keys); err != nil {
				return err
			}
		}
		n, err := c.u64()
		if err != nil {
			return err
		}
		if n == 0 || n > rows-done {
			return fmt.Errorf("LowCardinality granule of %d rows, %d left", n, rows-done)
		}
		if err := c.copyN(n << width); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// blockHeader is a block's shape.
type blockHeader struct {
	columns, rows int
}

// convertBlock reads one block written at revision from and appends it,
// laid out for revision to, to out. A block of zero columns and rows ends a
// stream of blocks; it is converted too.
func convertBlock(r *proto.Reader, from, to int, out []byte, limit int) ([]byte, blockHeader, error) {
	return convertZoned(r, from, to, out, limit, nil)
}

// convertZoned is convertBlock that also names column i's type zones[i]
// where the block says DateTime (see withZones).
func convertZoned(r *proto.Reader, from, to int, out []byte, limit int, zones map[int]string) ([]byte, blockHeader, error) {
	var h blockHeader
	if proto.FeatureBlockInfo.In(from) {
		var info proto.BlockInfo
		if err := info.Decode(r); err != nil {
			return out, h, fmt.Errorf("block info: %w", err)
		}
	}
	if proto.FeatureBlockInfo.In(to) {
		b := proto.Buffer{Buf: out}
		proto.BlockInfo{BucketNum: -1}.Encode(&b)
		out = b.Buf
	}
	cols, err := r.UVarInt()
	if err != nil {
		return out, h, err // a clean EOF before a block ends the stream
	}
	rows, err := r.UVarInt()
	if err != nil {
		return out, h, fmt.Errorf("block rows: %w", noEOF(err))
	}
	if cols > 1<<20 || rows > 1<<32 {
		return out, h, fmt.Errorf("block of %d columns and %d rows is not plausible", cols, rows)
	}
	h = blockHeader{columns: int(cols), rows: int(rows)}
	out = appendUvarint(appendUvarint(out, cols), rows)
	c := blockCopier{r: r, out: out, limit: limit}
	for i := range h.columns {
		name, err := r.Str()
		if err != nil {
			return c.out, h, fmt.Errorf("column %d name: %w", i, noEOF(err))
		}
		typ, err := r.Str()
		if err != nil {
			return c.out, h, fmt.Errorf("column %s type: %w", name, noEOF(err))
		}
		if proto.FeatureCustomSerialization.In(from) {
			custom, err := r.Bool()
			if err != nil {
				return c.out, h, fmt.Errorf("column %s serialization: %w", name, noEOF(err))
			}
			if custom {
				return c.out, h, fmt.Errorf("column %s: custom serialization (sparse columns) is not supported", name)
			}
		}
		named := typ
		if z, ok := zones[i]; ok && typ == "DateTime" {
			named = z
		}
		c.out = appendStr(appendStr(c.out, name), named)
		if proto.FeatureCustomSerialization.In(to) {
			c.out = append(c.out, 0)
		}
		if rows == 0 {
			continue
		}
		if err := c.copyPrefix(typ); err != nil {
			return c.out, h, fmt.Errorf("column %s: %w", name, err)
		}
		if err := c.copyData(typ, rows); err != nil {
			return c.out, h, fmt.Errorf("column %s: %w", name, err)
		}
	}
	return c.out, h, nil
}

// headerBlock encodes a block of no rows with the given columns for revision.
func headerBlock(rev int, names, types []string) []byte {
	b := proto.Buffer{}
	if proto.FeatureBlockInfo.In(rev) {
		proto.BlockInfo{BucketNum: -1}.Encode(&b)
	}
	b.PutInt(len(names))
	b.PutInt(0)
	for i := range names {
		b.PutString(names[i])
		b.PutString(types[i])
		if proto.FeatureCustomSerialization.In(rev) {
			b.PutBool(false)
		}
	}
	return b.Buf
}
