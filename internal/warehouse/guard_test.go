package warehouse_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestReadonlyCannotWrite: a read-only request (HTTP GET, readonly=2 as the
// analytics page sends it, over either protocol) cannot get a table
// dropped: not by changing readonly (as a URL parameter of a GET, with
// `SET readonly = DEFAULT`, which the engine itself would take, or in a
// second statement), and not by calling back into the warehouse's own HTTP
// port through url() or another table function that reaches the network.
// The callback itself, a GET, is read-only too.
func TestReadonlyCannotWrite(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	exec := func(sql string) {
		t.Helper()
		if code, out := post(t, w.URL+"/", []byte(sql)); code != 200 {
			t.Fatalf("%s: %d %s", sql, code, out)
		}
	}
	exec("CREATE TABLE victim (n UInt8) ENGINE = MergeTree ORDER BY n")
	exec("INSERT INTO victim VALUES (1)")
	stillThere := func(how string) {
		t.Helper()
		if code, out := post(t, w.URL+"/", []byte("SELECT count() FROM victim")); code != 200 || out != "1\n" {
			t.Fatalf("after %s the table is gone or changed: %d %q", how, code, out)
		}
	}
	drop := query(w.URL, "DROP TABLE victim", "readonly", "0")
	callback := func(target string) string {
		return "SELECT * FROM url('" + target + "', 'TSV', 'x String')"
	}
	httpCases := []struct {
		name, method, url, body, code string
	}{
		{"GET changing readonly", http.MethodGet, drop, "", "164"},
		{"GET with SET readonly = DEFAULT and a second statement", http.MethodGet, query(w.URL, "SET readonly = DEFAULT; DROP TABLE victim"), "", "62"},
		{"readonly=2 with SET readonly = DEFAULT", http.MethodPost, query(w.URL, "SET readonly = DEFAULT", "readonly", "2", "session_id", "guard"), "", "164"},
		{"readonly=2 with a second statement", http.MethodPost, query(w.URL, "SELECT 1; DROP TABLE victim", "readonly", "2"), "", "62"},
		{"readonly=2 calling back through url()", http.MethodPost, query(w.URL, callback(drop), "readonly", "2"), "", "164"},
		{"readonly=2 calling back through s3()", http.MethodPost, query(w.URL, "SELECT * FROM s3('"+drop+"', 'TSV', 'x String')", "readonly", "2"), "", "164"},
		{"readonly=2 calling back through remote()", http.MethodPost, query(w.URL, "SELECT * FROM remote('"+w.NativeAddr+"', system.one)", "readonly", "2"), "", "164"},
		{"a writer's url() callback is a read-only GET", http.MethodPost, w.URL + "/", callback(drop), "164"},
	}
	for _, c := range httpCases {
		resp, out := do(t, c.method, c.url, []byte(c.body))
		if got := resp.Header.Get("X-ClickHouse-Exception-Code"); got != c.code && !strings.Contains(out, "Code: "+c.code+".") {
			t.Errorf("%s: %d %q, want code %s", c.name, resp.StatusCode, out, c.code)
		}
		stillThere(c.name)
	}
	// The session that tried keeps working, and is not read-only.
	if code, out := post(t, query(w.URL, "SELECT getSetting('readonly')", "session_id", "guard"), nil); code != 200 || out != "0\n" {
		t.Errorf("the session after a refused statement: %d %q", code, out)
	}

	// The analytics page's connection: readonly=2 on every query, native.
	page := openSession(t, w.NativeAddr, clickhouse.Settings{"readonly": 2})
	for _, sql := range []string{
		"DROP TABLE victim",
		"SET readonly = DEFAULT",
		"SET readonly = 0",
		"SELECT 1; DROP TABLE victim",
		callback(drop),
	} {
		if err := page.Exec(ctx, sql); exceptionCode(err) < 0 {
			t.Errorf("%s with readonly=2 over the native protocol: %v, want an exception", sql, err)
		}
		stillThere(sql + " over the native protocol")
	}
	var v string
	if err := page.QueryRow(ctx, "SELECT toString(getSetting('readonly'))").Scan(&v); err != nil || v != "2" {
		t.Fatalf("the page's connection after the refusals: readonly %q, %v", v, err)
	}
}

// TestHostFilesRefused: the engine would write and read files anywhere on
// the warehouse's host (INTO OUTFILE, FROM INFILE, file(), the File
// engine); a ClickHouse server refuses the first two and keeps the rest to
// its user_files directory, and the warehouse refuses all of them, with
// ClickHouse's codes, whoever asks and over either protocol.
func TestHostFilesRefused(t *testing.T) {
	w := startWarehouse(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.txt")
	if code, body := post(t, w.URL+"/", []byte("CREATE TABLE f (s String) ENGINE = Memory")); code != 200 {
		t.Fatal(body)
	}
	cases := []struct{ sql, code string }{
		{"SELECT 1 INTO OUTFILE '" + out + "'", "358"},
		{"INSERT INTO f FROM INFILE '" + secret + "' FORMAT LineAsString", "78"},
		{"SELECT * FROM file('" + secret + "', 'LineAsString')", "291"},
		{"SELECT file('" + secret + "')", "291"},
		{"SELECT * FROM `file`/* hidden */ ('" + secret + "', 'LineAsString')", "291"},
		{"CREATE TABLE g (s String) ENGINE = File(LineAsString, '" + secret + "')", "291"},
		{"SELECT * FROM sqlite('" + secret + "', 't')", "291"},
	}
	conn := openSession(t, w.NativeAddr, nil)
	for _, c := range cases {
		resp, body := do(t, http.MethodPost, w.URL+"/?"+url.Values{"query": {c.sql}}.Encode(), nil)
		if got := resp.Header.Get("X-ClickHouse-Exception-Code"); got != c.code || strings.Contains(body, "s3cr3t") {
			t.Errorf("HTTP %s: code %q %q, want %s", c.sql, got, body, c.code)
		}
		if err := conn.Exec(context.Background(), c.sql); fmt.Sprint(exceptionCode(err)) != c.code {
			t.Errorf("native %s: %v, want exception %s", c.sql, err, c.code)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("INTO OUTFILE wrote %s: %v", out, err)
	}
	if code, body := post(t, w.URL+"/", []byte("SELECT count() FROM f")); code != 200 || body != "0\n" {
		t.Errorf("FROM INFILE loaded rows: %d %q", code, body)
	}
}
