package export

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestXLSXContinuationSheets lowers the rows a worksheet holds to 7 and
// exports 20 rows: they continue on "Numbers (2)" and "Numbers (3)", each
// with the bold frozen header and an autofilter, and nothing is lost or
// repeated. A sheet the caller named like a continuation keeps its name.
func TestXLSXContinuationSheets(t *testing.T) {
	w := newWorld(t)
	path := filepath.Join(t.TempDir(), "cont.xlsx")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT number AS n, toString(number) AS s FROM numbers(20)"
	stats, err := WriteXLSX(context.Background(), f, w.conn, []Sheet{
		{Name: "Numbers (2)", Query: "SELECT 1 AS one"},
		{Name: "Numbers", Query: q},
	}, Options{rowsPerSheet: 7})
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if st := stats.Sheets[1]; st.Rows != 20 || !slices.Equal(st.Continued, []string{"Numbers (2) (2)", "Numbers (3)"}) {
		t.Errorf("stats %+v, want 20 rows continued on two sheets", st)
	}
	book := readXLSX(t, path)
	var names []string
	var got []string
	for _, sh := range book.Sheets {
		names = append(names, sh.Name)
		if sh.Name == "Numbers (2)" {
			continue
		}
		oracle := result{names: []string{"n", "s"}, types: []string{"UInt64", "String"}}
		for _, r := range sh.Rows[1:] {
			got = append(got, fmt.Sprint(r[1].V))
			oracle.rows = append(oracle.rows, []any{fmt.Sprint(r[0].V), r[1].V})
		}
		checkXLSXSheet(t, sh, oracle) // header, frozen row, autofilter, types
	}
	if !slices.Equal(names, []string{"Numbers (2)", "Numbers", "Numbers (2) (2)", "Numbers (3)"}) {
		t.Errorf("sheets %q", names)
	}
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprint(i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows across the sheets %q, want 0..19 once each", got)
	}
}

// TestXLSXRowLimit exports 1,048,576 rows with the command: one more than
// a worksheet holds under its header, so the last row goes on a second
// sheet, and the command says so. (The binary, not the race-instrumented
// test, writes the million cells.)
func TestXLSXRowLimit(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	out, err := w.runCLI(t, dir, "--sheet", "n", "--query", "SELECT number FROM numbers(1048576)", "-o", "limit.xlsx")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "continued on more sheets") || !strings.Contains(out, "n (2)") {
		t.Errorf("no warning about the continuation sheet:\n%s", out)
	}
	sheets := scanSheets(t, filepath.Join(dir, "limit.xlsx"))
	if len(sheets) != 2 || sheets[0].rows != 1<<20 || sheets[1].rows != 2 || sheets[0].last != "1048574" || sheets[1].last != "1048575" {
		t.Errorf("sheets %+v, want 1,048,576 rows (header + 0..1048574) and 2 (header + 1048575)", sheets)
	}
}

type scannedSheet struct {
	rows int
	last string // the last row's first value
}

// scanSheets counts each worksheet's rows straight from the zip (openpyxl
// takes minutes over a million rows), in sheet order.
func scanSheets(t testing.TB, path string) []scannedSheet {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var out []scannedSheet
	for i := 1; ; i++ {
		f, err := zr.Open(fmt.Sprintf("xl/worksheets/sheet%d.xml", i))
		if err != nil {
			return out
		}
		var s scannedSheet
		dec := xml.NewDecoder(f)
		inV, firstInRow := false, false
		for {
			tok, err := dec.RawToken()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				switch tok.Name.Local {
				case "row":
					s.rows++
					firstInRow = true
				case "v", "t":
					inV = firstInRow
				}
			case xml.CharData:
				if inV {
					s.last = strings.TrimSpace(string(tok))
					inV, firstInRow = false, false
				}
			}
		}
		_ = f.Close()
		out = append(out, s)
	}
}
