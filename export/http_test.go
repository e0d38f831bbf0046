package export

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// failingQuerier passes queries to a real connection, and its rows fail
// after `after` rows, as a connection lost mid-result would.
type failingQuerier struct {
	Querier
	after int
}

func (q failingQuerier) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	rows, err := q.Querier.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return &failingRows{Rows: rows, left: q.after}, nil
}

type failingRows struct {
	driver.Rows
	left int
}

func (r *failingRows) Next() bool {
	if r.left == 0 {
		return false
	}
	r.left--
	return r.Rows.Next()
}

func (r *failingRows) Err() error {
	if r.left == 0 {
		return errors.New("connection lost")
	}
	return r.Rows.Err()
}

// TestWriteHTTP serves downloads the way the analytics page does: a
// handler passes its own parameterised query. The XLSX and CSV downloads
// carry their media type and a non-ASCII file name and read back right; a
// query that fails answers an error status with no file; a result that
// fails after the response started cuts the connection, so the client sees
// a failed download, not a short file.
func TestWriteHTTP(t *testing.T) {
	w := newWorld(t)
	w.loadFixture(t)
	type querier struct{ Querier }
	var q atomic.Value // the querier the handler uses
	q.Store(querier{w.conn})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		f, err := ParseFormat(r.URL.Query().Get("format"))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		sheet := Sheet{Name: "Fixture", Query: "SELECT * FROM fixture WHERE id <= {max:UInt32} ORDER BY id",
			Params: map[string]string{"max": r.URL.Query().Get("max")}}
		if r.URL.Query().Has("broken") {
			sheet.Query = "SELECT * FROM no_such_table WHERE id <= {max:UInt32}"
		}
		_, err = WriteHTTP(r.Context(), rw, f, "Продажи октябрь", q.Load().(querier).Querier, []Sheet{sheet}, Options{})
		if errors.Is(err, ErrResponseStarted) {
			panic(http.ErrAbortHandler)
		}
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	get := func(query string) (*http.Response, []byte, error) {
		resp, err := http.Get(srv.URL + "/?" + query)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	oracle := w.sql(t, "SELECT * FROM fixture WHERE id <= 5 ORDER BY id", nil)
	for _, format := range []Format{XLSX, CSV} {
		resp, body, err := get("format=" + string(format) + "&max=5")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v %s", format, err, resp.Status, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != format.ContentType() {
			t.Errorf("%s: Content-Type %q", format, ct)
		}
		_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
		if err != nil || params["filename"] != "Продажи октябрь."+string(format) {
			t.Errorf("%s: Content-Disposition %q (%v)", format, resp.Header.Get("Content-Disposition"), err)
		}
		path := filepath.Join(t.TempDir(), "download."+string(format))
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if format == XLSX {
			book := readXLSX(t, path)
			checkXLSXSheet(t, book.Sheets[0], oracle)
		} else {
			checkCSV(t, readCSV(t, path), oracle)
		}
	}

	// A failing query: the handler still owns the response.
	resp, body, err := get("format=xlsx&max=5&broken=1")
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "no_such_table") {
		t.Errorf("broken query: %v %v %s", err, resp.Status, body)
	}
	// A parameter is a value: text that would be SQL is refused by the
	// server as not a UInt32, not run.
	resp, body, err = get("format=csv&max=" + "1%20OR%201%3D1")
	if err != nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("injected parameter: %v %v %s", err, resp.Status, body)
	}

	// Rows that fail after the response started (the 8th row's long title
	// overflows the CSV writer's 64 KiB buffer): the client's read fails.
	q.Store(querier{failingQuerier{Querier: w.conn, after: 8}})
	resp, body, err = get("format=csv&max=8")
	if err == nil {
		t.Errorf("a download cut mid-result read as whole: %s, %d bytes", resp.Status, len(body))
	}
	q.Store(querier{failingQuerier{Querier: w.conn, after: 3}})
	resp, body, err = get("format=xlsx&max=8")
	if err != nil || resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "connection lost") {
		t.Errorf("an XLSX whose rows fail: %v %v %s", err, resp.Status, body)
	}
}
