package warehouse_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func post(t *testing.T, u string, body []byte, header ...string) (int, string) {
	t.Helper()
	resp, out := do(t, http.MethodPost, u, body, header...)
	return resp.StatusCode, out
}

// do sends one request with the header pairs and returns the response
// (body read and closed) and its body.
func do(t *testing.T, method, u string, body []byte, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestCompressedInsert: request bodies compressed with HTTP Content-Encoding
// are decoded before the engine reads them.
func TestCompressedInsert(t *testing.T) {
	w := startWarehouse(t)
	if code, out := post(t, w.URL+"/", []byte("CREATE TABLE c (s String) ENGINE = MergeTree ORDER BY s")); code != 200 {
		t.Fatalf("create: %d %s", code, out)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("gzip\n"))
	_ = zw.Close()
	if code, out := post(t, query(w.URL, "INSERT INTO c FORMAT TSV"), gz.Bytes(), "Content-Encoding", "gzip"); code != 200 {
		t.Fatalf("gzip insert: %d %s", code, out)
	}
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll([]byte("zstd\n"), nil)
	if code, out := post(t, query(w.URL, "INSERT INTO c FORMAT TSV"), zs, "Content-Encoding", "zstd"); code != 200 {
		t.Fatalf("zstd insert: %d %s", code, out)
	}
	if code, out := post(t, query(w.URL, "INSERT INTO c FORMAT TSV"), []byte("x"), "Content-Encoding", "gzip"); code == 200 || !strings.HasPrefix(out, "Code: ") {
		t.Fatalf("corrupt gzip body accepted: %d %s", code, out)
	}
	if code, out := post(t, query(w.URL, "SELECT groupArray(s) FROM (SELECT s FROM c ORDER BY s)"), nil); code != 200 || out != "['gzip','zstd']\n" {
		t.Fatalf("rows: %d %q", code, out)
	}
}

// TestSessions: SET and temporary tables persist within a session_id, a URL
// setting applies to one request only, and a session in use is locked.
func TestSessions(t *testing.T) {
	w := startWarehouse(t)
	s := func(sql string, params ...string) (int, string) {
		return post(t, query(w.URL, sql, append([]string{"session_id", "s1"}, params...)...), nil)
	}
	if code, out := s("SET max_threads = 3"); code != 200 {
		t.Fatalf("set: %d %s", code, out)
	}
	if code, out := s("CREATE TEMPORARY TABLE tmp (x UInt8)"); code != 200 {
		t.Fatalf("temporary table: %d %s", code, out)
	}
	if code, out := s("INSERT INTO tmp VALUES (7)"); code != 200 {
		t.Fatalf("insert: %d %s", code, out)
	}
	if code, out := s("SELECT getSetting('max_threads'), (SELECT sum(x) FROM tmp)"); code != 200 || out != "3\t7\n" {
		t.Fatalf("session state: %d %q", code, out)
	}
	if code, out := s("SELECT getSetting('max_threads')", "max_threads", "1"); code != 200 || out != "1\n" {
		t.Fatalf("URL setting in a session: %d %q", code, out)
	}
	if code, out := s("SELECT getSetting('max_threads')"); code != 200 || out != "3\n" {
		t.Fatalf("URL setting leaked into the session: %d %q", code, out)
	}
	// Without the session, none of it is visible.
	if code, out := post(t, query(w.URL, "SELECT getSetting('max_threads') = 3"), nil); code != 200 || out != "0\n" {
		t.Fatalf("session setting leaked to a stateless request: %d %q", code, out)
	}
	if code, out := post(t, query(w.URL, "SELECT 1", "session_id", "never-made", "session_check", "1"), nil); code != 500 || !strings.HasPrefix(out, "Code: 372.") {
		t.Fatalf("session_check on an unknown session: %d %q", code, out)
	}
}
