package warehouse

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
)

// sampleColumns are columns of the types the tables use, filled by ch-go's
// own encoders, which are the reference for the layouts.
func sampleColumns() []proto.InputColumn {
	ids := new(proto.ColUInt64)
	names := new(proto.ColStr)
	notes := new(proto.ColStr).Nullable()
	channels := new(proto.ColStr).LowCardinality()
	tags := new(proto.ColStr).Array()
	lcTags := new(proto.ColStr).LowCardinality().Array()
	amounts := new(proto.ColDecimal64)
	at := new(proto.ColDateTime64).WithPrecision(proto.PrecisionMilli)
	days := new(proto.ColDate32)
	flags := new(proto.ColBool)
	fixed := proto.ColFixedStr{Size: 3}
	attrs := proto.NewMap[string, uint64](new(proto.ColStr), new(proto.ColUInt64))
	for i := range 5 {
		ids.Append(uint64(i))
		names.Append(string(rune('a'+i)) + "-name")
		if i%2 == 0 {
			notes.Append(proto.Null[string]())
		} else {
			notes.Append(proto.NewNullable("note"))
		}
		channels.Append([]string{"amazon", "tiktok"}[i%2])
		tags.Append(make([]string, i))
		lcTags.Append([]string{"x", "y"}[:i%3%2+1])
		amounts.Append(proto.Decimal64(i * 12345))
		at.Append(time.UnixMilli(int64(i) * 1234567).UTC())
		days.Append(time.Date(1960+i, 1, 2, 0, 0, 0, 0, time.UTC))
		flags.Append(i%2 == 0)
		fixed.Append([]byte{'a', 'b', byte('0' + i)})
		attrs.Append(map[string]uint64{"k": uint64(i)})
	}
	return []proto.InputColumn{
		{Name: "id", Data: ids}, {Name: "name", Data: names}, {Name: "note", Data: notes},
		{Name: "channel", Data: channels}, {Name: "tags", Data: tags}, {Name: "lc_tags", Data: lcTags},
		{Name: "amount", Data: proto.Alias(amounts, "Decimal(18, 4)")}, {Name: "at", Data: at},
		{Name: "day", Data: days}, {Name: "flag", Data: flags}, {Name: "code", Data: &fixed},
		{Name: "attrs", Data: attrs},
	}
}

func encodeAt(t *testing.T, rev int, cols []proto.InputColumn) []byte {
	t.Helper()
	var b proto.Buffer
	blk := proto.Block{Columns: len(cols), Rows: cols[0].Data.Rows(), Info: proto.BlockInfo{BucketNum: -1}}
	if err := blk.EncodeBlock(&b, rev, cols); err != nil {
		t.Fatal(err)
	}
	return b.Buf
}

// TestConvertBlock: a block ch-go encodes for a client's revision converts
// to exactly what ch-go encodes for revision 0 (the engine's Native), and
// back.
func TestConvertBlock(t *testing.T) {
	cols := sampleColumns()
	client := encodeAt(t, proto.Version, cols)
	engine := encodeAt(t, 0, cols)
	got, h, err := convertBlock(proto.NewReader(bytes.NewReader(client)), proto.Version, 0, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if h.columns != len(cols) || h.rows != 5 {
		t.Fatalf("header %+v, want %d columns and 5 rows", h, len(cols))
	}
	if !bytes.Equal(got, engine) {
		t.Fatalf("client block converted for the engine:\n got  %x\n want %x", got, engine)
	}
	back, _, err := convertBlock(proto.NewReader(bytes.NewReader(engine)), 0, proto.Version, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, client) {
		t.Fatalf("engine block converted for the client:\n got  %x\n want %x", back, client)
	}
	names, types := blockColumns(back, proto.Version)
	if len(names) != len(cols) || names[4] != "tags" || types[6] != "Decimal(18, 4)" {
		t.Fatalf("blockColumns = %v %v", names, types)
	}

	// Two blocks in a row, then the end of the stream.
	r := proto.NewReader(bytes.NewReader(append(engine[:len(engine):len(engine)], engine...)))
	for i := range 2 {
		if _, _, err := convertBlock(r, 0, proto.Version, nil, 1<<20); err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
	}
	if _, _, err := convertBlock(r, 0, proto.Version, nil, 1<<20); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last block: %v, want io.EOF", err)
	}
}

// TestConvertBlockRefuses: truncated blocks, blocks beyond the limit and
// types whose layout is not carried are errors, never a silent misread.
func TestConvertBlockRefuses(t *testing.T) {
	client := encodeAt(t, proto.Version, sampleColumns())
	for _, n := range []int{len(client) - 1, len(client) / 2, 12} {
		if _, _, err := convertBlock(proto.NewReader(bytes.NewReader(client[:n])), proto.Version, 0, nil, 1<<20); err == nil {
			t.Errorf("block cut at %d of %d bytes converted", n, len(client))
		}
	}
	if _, _, err := convertBlock(proto.NewReader(bytes.NewReader(client)), proto.Version, 0, nil, 64); !errors.Is(err, errBlockTooLarge) {
		t.Errorf("block over the limit: %v", err)
	}
	v := proto.Buffer{}
	v.PutInt(1)
	v.PutInt(1)
	v.PutString("j")
	v.PutString("JSON")
	v.PutRaw([]byte{0, 0, 0, 0})
	var te *typeError
	if _, _, err := convertBlock(proto.NewReader(bytes.NewReader(v.Buf)), 0, proto.Version, nil, 1<<20); !errors.As(err, &te) {
		t.Errorf("JSON column: %v, want a typeError", err)
	}
}

// FuzzConvertBlock feeds arbitrary client blocks to the converter: it never
// panics, and what it accepts converts to the same engine block after a
// round trip through the client's layout.
func FuzzConvertBlock(f *testing.F) {
	f.Add(encodeAt(&testing.T{}, proto.Version, sampleColumns()))
	f.Add([]byte{1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		engine, _, err := convertBlock(proto.NewReader(bytes.NewReader(b)), proto.Version, 0, nil, 1<<20)
		if err != nil {
			return
		}
		client, _, err := convertBlock(proto.NewReader(bytes.NewReader(engine)), 0, proto.Version, nil, 1<<20)
		if err != nil {
			t.Fatalf("an accepted block does not convert back: %v", err)
		}
		again, _, err := convertBlock(proto.NewReader(bytes.NewReader(client)), proto.Version, 0, nil, 1<<20)
		if err != nil || !bytes.Equal(again, engine) {
			t.Fatalf("round trip changed the block: %v", err)
		}
	})
}

// TestSplitType: arguments split at top-level commas only (not inside
// parentheses or quotes), and a named element loses its name, not a space
// inside an argument or a quoted name.
func TestSplitType(t *testing.T) {
	for _, c := range []struct {
		in   string
		base string
		args []string
	}{
		{"String", "String", nil},
		{" Decimal(18, 4) ", "Decimal", []string{"18", "4"}},
		{"Map(String, Array(Tuple(UInt8, String)))", "Map", []string{"String", "Array(Tuple(UInt8, String))"}},
		{"Enum8('a,b' = 1, 'c)' = 2)", "Enum8", []string{"'a,b' = 1", "'c)' = 2"}},
		{"Tuple(`x, y` String, b Nullable(Int64))", "Tuple", []string{"`x, y` String", "b Nullable(Int64)"}},
	} {
		base, args := splitType(c.in)
		if base != c.base || !slices.Equal(args, c.args) {
			t.Errorf("splitType(%q) = %q %q, want %q %q", c.in, base, args, c.base, c.args)
		}
	}
	for in, want := range map[string]string{
		"a String":                  "String",
		"String":                    "String",
		"`a b` Map(String, UInt64)": "Map(String, UInt64)",
		"Map(String, UInt64)":       "Map(String, UInt64)",
	} {
		if got := elementType(in); got != want {
			t.Errorf("elementType(%q) = %q, want %q", in, got, want)
		}
	}
}
