package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/pipelinetest"
	"github.com/shopstream/shopstream/internal/testenv"
)

// pythonVar names the Python of .cache/export-venv (openpyxl), which `make
// test` sets; /work/tools/itest does not, so the venv's usual place is the
// fallback.
const pythonVar = "SHOPSTREAM_TEST_EXPORT_PYTHON"

// python returns the interpreter the files are read back with.
func python(t testing.TB) string {
	t.Helper()
	if os.Getenv(pythonVar) == "" {
		_, file, _, _ := runtime.Caller(0)
		fallback := filepath.Join(filepath.Dir(file), "..", ".cache", "export-venv", "bin", "python")
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	return testenv.Require(t, pythonVar, "Python with openpyxl (make export-venv)")
}

// world is a fresh embedded warehouse with the migrations applied and a
// connection to it over HTTP, as the embedded warehouse is reached.
type world struct {
	wh   *testenv.Warehouse
	conn driver.Conn
}

func newWorld(t *testing.T) *world {
	t.Helper()
	python(t) // skip before starting anything when the readers are missing
	wh, conn := pipelinetest.MigratedWarehouse(t, "default")
	return &world{wh: wh, conn: conn}
}

// exec runs statements through the HTTP interface.
func (w *world) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := w.post(s, nil); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
}

func (w *world) post(query string, params map[string]string) ([]byte, error) {
	v := url.Values{}
	for k, p := range params {
		v.Set("param_"+k, p)
	}
	// Exact text for what JSON would round: 64-bit integers, decimals, and
	// nan/inf as words.
	v.Set("output_format_json_quote_64bit_integers", "1")
	v.Set("output_format_json_quote_decimals", "1")
	v.Set("output_format_json_quote_denormals", "1")
	resp, err := http.Post(w.wh.URL+"/?"+v.Encode(), "text/plain", strings.NewReader(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("warehouse: %s: %s", resp.Status, body)
	}
	return body, nil
}

// result is a query's answer as the warehouse itself writes it (JSON over
// HTTP, not the Native blocks the exporter reads): the oracle.
type result struct {
	names, types []string
	rows         [][]any // string, json.Number, bool, nil, []any
}

func (w *world) sql(t testing.TB, query string, params map[string]string) result {
	t.Helper()
	body, err := w.post(strings.TrimRight(strings.TrimSpace(query), ";")+"\nFORMAT JSONCompactEachRowWithNamesAndTypes", params)
	if err != nil {
		t.Fatalf("oracle query: %v\n%s", err, query)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var r result
	if err := dec.Decode(&r.names); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&r.types); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		var row []any
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		r.rows = append(r.rows, row)
	}
	return r
}

// readXLSX reads a workbook back with openpyxl.
func readXLSX(t testing.TB, path string) xlsxFile {
	t.Helper()
	var f xlsxFile
	readBack(t, "xlsx", path, &f)
	return f
}

type xlsxFile struct {
	Sheets []xlsxSheet `json:"sheets"`
}

type xlsxSheet struct {
	Name       string             `json:"name"`
	Freeze     *string            `json:"freeze"`
	Filter     *string            `json:"filter"`
	Widths     map[string]float64 `json:"widths"`
	HeaderBold []bool             `json:"header_bold"`
	Rows       [][]xlsxCell       `json:"rows"`
}

// xlsxCell is a cell as openpyxl reads it: T is the Python type of its
// value (null, int, float, str, bool, datetime), Fmt its number format, DT
// openpyxl's data type (s text, n number, d date, b bool, f formula).
type xlsxCell struct {
	T   string `json:"t"`
	V   any    `json:"v"`
	Fmt string `json:"fmt"`
	DT  string `json:"dt"`
}

// readCSV reads a CSV file back with Python's csv module.
func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	var f struct {
		Records [][]string `json:"records"`
	}
	readBack(t, "csv", path, &f)
	return f.Records
}

func readBack(t testing.TB, mode, path string, into any) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(python(t), filepath.Join(filepath.Dir(file), "testdata", "readback.py"), mode, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read %s back (%s): %v\n%s", path, mode, err, stderr.String())
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatalf("readback output: %v", err)
	}
}
