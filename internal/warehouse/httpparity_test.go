package warehouse_test

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/compress"
)

// TestHTTPParityEdges: what the client matrix does not reach: ClickHouse's
// request headers winning over parameters, a corrupted compressed body,
// read-only GET, and mixed authentication schemes.
func TestHTTPParityEdges(t *testing.T) {
	w := startWarehouse(t)
	// Headers win over parameters.
	resp, out := do(t, "POST", query(w.URL, "SELECT currentDatabase() AS db", "database", "default", "default_format", "CSV"), nil,
		"X-ClickHouse-Database", "system", "X-ClickHouse-Format", "JSONEachRow")
	if out != "{\"db\":\"system\"}\n" || resp.Header.Get("X-ClickHouse-Format") != "JSONEachRow" {
		t.Errorf("X-ClickHouse-Database/Format: %q, format header %q", out, resp.Header.Get("X-ClickHouse-Format"))
	}
	// A DDL statement has no X-ClickHouse-Format (clients take that for a result set).
	if resp, out := do(t, "POST", w.URL+"/", []byte("CREATE TABLE z (s String) ENGINE = MergeTree ORDER BY s")); resp.StatusCode != 200 || resp.Header.Get("X-ClickHouse-Format") != "" {
		t.Errorf("DDL: %d %q, X-ClickHouse-Format %q", resp.StatusCode, out, resp.Header.Get("X-ClickHouse-Format"))
	}
	// decompress=1 with a good block lands, with a flipped byte it is refused (40) and nothing lands.
	zw := compress.NewWriter(compress.LevelZero, compress.ZSTD)
	if err := zw.Compress([]byte("INSERT INTO z FORMAT TSV\nzstd\n")); err != nil {
		t.Fatal(err)
	}
	block := append([]byte(nil), zw.Data...)
	if resp, out := do(t, "POST", w.URL+"/?decompress=1", block); resp.StatusCode != 200 {
		t.Fatalf("decompress=1: %d %s", resp.StatusCode, out)
	}
	block[len(block)-1] ^= 0xff
	if resp, out := do(t, "POST", w.URL+"/?decompress=1", block); resp.Header.Get("X-ClickHouse-Exception-Code") != "40" {
		t.Errorf("corrupted block: %d %q", resp.StatusCode, out)
	}
	// compress=1: one LZ4 block whose sizes frame the answer.
	_, out = do(t, "POST", w.URL+"/?compress=1", []byte("SELECT s FROM z"))
	if b := []byte(out); len(b) < 25 || b[16] != 0x82 || int(binary.LittleEndian.Uint32(b[17:21])) != len(b)-16 || binary.LittleEndian.Uint32(b[21:25]) != 5 {
		t.Errorf("compress=1 answer %x is not one LZ4 block of 5 bytes", b)
	}
	// GET is read-only.
	if resp, out := do(t, "GET", query(w.URL, "CREATE TABLE y (s String) ENGINE = Memory"), nil); resp.StatusCode != 500 || resp.Header.Get("X-ClickHouse-Exception-Code") != "164" || !strings.Contains(out, "method GET implies readonly") {
		t.Errorf("DDL over GET: %d %q", resp.StatusCode, out)
	}
	// Two authentication schemes at once are refused.
	if resp, _ := do(t, "GET", query(w.URL, "SELECT 1", "user", "default"), nil, "X-ClickHouse-User", "default"); resp.StatusCode != 403 || resp.Header.Get("X-ClickHouse-Exception-Code") != "516" {
		t.Errorf("mixed authentication: %d", resp.StatusCode)
	}
}

// TestProgressDuplicateIDAndCancel: a long read-only statement sends
// X-ClickHouse-Progress headers while it runs, a second statement with its
// query_id is refused (216), and closing the connection kills it.
func TestProgressDuplicateIDAndCancel(t *testing.T) {
	w := startWarehouse(t)
	conn, err := net.Dial("tcp", w.Addr)
	if err != nil {
		t.Fatal(err)
	}
	params := url.Values{"query": {"SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 0"},
		"query_id": {"long-one"}, "send_progress_in_http_headers": {"1"}, "http_headers_progress_interval_ms": {"100"},
		"cancel_http_readonly_queries_on_client_close": {"1"}}
	if _, err := conn.Write([]byte("GET /?" + params.Encode() + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q: %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("headers ended before a progress header: %v", err)
		}
		if strings.HasPrefix(line, "X-ClickHouse-Progress: {\"read_rows\":\"") {
			break
		}
	}
	resp, err := http.Get(query(w.URL, "SELECT 1", "query_id", "long-one"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-ClickHouse-Exception-Code") != "216" {
		t.Errorf("second statement with a running query_id: %d, code %q", resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"))
	}
	_ = conn.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, out := curl(t, query(w.URL, "SELECT count() FROM system.processes WHERE query LIKE '%sipHash64%' AND query NOT LIKE '%system.processes%'"), "")
		if out == "0\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the statement still runs a minute after its client left: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
