package warehouse_test

import (
	"bytes"
	"context"
	"net/url"
	"os/exec"
	"strings"
	"testing"
)

// curl runs the real curl binary and returns the HTTP status line's code, the
// X-ClickHouse-Exception-Code header and the body.
func curl(t *testing.T, rawURL string, body string) (status, exceptionCode, out string) {
	t.Helper()
	args := []string{"-sS", "-g", "-D", "-", rawURL}
	if body != "" {
		args = append(args, "--data-binary", "@-")
	}
	cmd := exec.CommandContext(context.Background(), "curl", args...)
	cmd.Stdin = strings.NewReader(body)
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v", rawURL, err)
	}
	head, payload, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	status = strings.Fields(lines[0])[1]
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "X-ClickHouse-Exception-Code") {
			exceptionCode = strings.TrimSpace(v)
		}
	}
	return status, exceptionCode, string(payload)
}

func query(base, sql string, params ...string) string {
	v := url.Values{"query": {sql}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return base + "/?" + v.Encode()
}

// TestCurlContract: what a person or a shell script gets from the warehouse.
func TestCurlContract(t *testing.T) {
	w := startWarehouse(t)
	cases := []struct {
		name, url, body, want string
	}{
		{"version", query(w.URL, "SELECT version()"), "", "26.5"},
		{"ping", w.URL + "/ping", "", "Ok.\n"},
		{"TabSeparated", query(w.URL, "SELECT number, concat('p', toString(number)) FROM numbers(2) FORMAT TabSeparated"), "", "0\tp0\n1\tp1\n"},
		{"JSONEachRow", query(w.URL, "SELECT number AS n, 'x' AS s FROM numbers(2)", "default_format", "JSONEachRow"), "", "{\"n\":0,\"s\":\"x\"}\n{\"n\":1,\"s\":\"x\"}\n"},
		{"CSVWithNames", query(w.URL, "SELECT 1 AS a, 'b,c' AS b FORMAT CSVWithNames"), "", "\"a\",\"b\"\n1,\"b,c\"\n"},
		{"query in body", w.URL + "/", "SELECT 40 + 2", "42\n"},
		{"parameter", query(w.URL, "SELECT {who:String}", "param_who", "it's me"), "", "it\\'s me\n"},
		{"database", query(w.URL, "SELECT currentDatabase()", "database", "system"), "", "system\n"},
		{"setting", query(w.URL, "SELECT getSetting('max_threads')", "max_threads", "1"), "", "1\n"},
	}
	for _, c := range cases {
		status, code, body := curl(t, c.url, c.body)
		if status != "200" || code != "" {
			t.Errorf("%s: status %s, exception code %q, body %q", c.name, status, code, body)
			continue
		}
		if c.name == "version" && !strings.HasPrefix(body, c.want) || c.name != "version" && body != c.want {
			t.Errorf("%s: body %q, want %q", c.name, body, c.want)
		}
	}

	// Inserts with data in the body, in several formats, then read back.
	mustCurl := func(u, body string) {
		t.Helper()
		if status, code, out := curl(t, u, body); status != "200" {
			t.Fatalf("%s: status %s code %s: %s", u, status, code, out)
		}
	}
	mustCurl(w.URL+"/", "CREATE TABLE sales (sku String, units UInt32) ENGINE = MergeTree ORDER BY sku")
	mustCurl(query(w.URL, "INSERT INTO sales FORMAT CSV"), "A,1\nB,2\n")
	mustCurl(query(w.URL, "INSERT INTO sales FORMAT TabSeparated"), "C\t3\n")
	mustCurl(query(w.URL, "INSERT INTO sales FORMAT JSONEachRow"), `{"sku":"D","units":4}`+"\n")
	mustCurl(query(w.URL, "INSERT INTO sales (sku, units) VALUES"), "('E', 5)")
	mustCurl(w.URL+"/", "INSERT INTO sales FORMAT CSV\nF,6\n")
	if _, _, out := curl(t, query(w.URL, "SELECT sku, units FROM sales ORDER BY sku FORMAT CSV"), ""); out != "\"A\",1\n\"B\",2\n\"C\",3\n\"D\",4\n\"E\",5\n\"F\",6\n" {
		t.Fatalf("rows after inserts in five formats: %q", out)
	}

	// Errors: non-200, the code in the header, "Code: N. DB::Exception:" in the body.
	errCases := []struct {
		name, url, body, status, code string
	}{
		{"unknown table", query(w.URL, "SELECT * FROM nope"), "", "404", "60"},
		{"syntax error", query(w.URL, "SELECT (1"), "", "400", "62"},
		{"unknown format", query(w.URL, "SELECT 1", "default_format", "NoSuchFormat"), "", "404", "73"},
		{"missing parameter", query(w.URL, "SELECT {x:UInt8} + 1"), "", "500", "456"},
		{"bad insert data", query(w.URL, "INSERT INTO sales FORMAT CSV"), "only-one-column\n", "400", ""},
		{"unknown setting", query(w.URL, "SELECT 1", "no_such_setting", "1"), "", "404", "115"},
	}
	for _, c := range errCases {
		status, code, body := curl(t, c.url, c.body)
		if status != c.status || (c.code != "" && code != c.code) || code == "" {
			t.Errorf("%s: status %s code %q, want %s %s; body %q", c.name, status, code, c.status, c.code, body)
		}
		if !strings.HasPrefix(body, "Code: "+code+". DB::Exception: ") {
			t.Errorf("%s: body %q does not start with the ClickHouse exception text", c.name, body)
		}
	}
	// And the server is still serving.
	if status, _, body := curl(t, query(w.URL, "SELECT count() FROM sales"), ""); status != "200" || body != "6\n" {
		t.Fatalf("after errors: status %s body %q", status, body)
	}
}

// TestOversizedBody: a body over the limit is refused with a ClickHouse-style
// error and nothing of it lands; the server keeps serving.
func TestOversizedBody(t *testing.T) {
	w := startWarehouse(t, "SHOPSTREAM_WAREHOUSE_MAX_BODY_BYTES=1024")
	if status, _, out := curl(t, w.URL+"/", "CREATE TABLE big (s String) ENGINE = MergeTree ORDER BY s"); status != "200" {
		t.Fatalf("create: %s %s", status, out)
	}
	status, code, body := curl(t, query(w.URL, "INSERT INTO big FORMAT TabSeparated"), strings.Repeat("x", 2048)+"\n")
	if status != "413" || code == "" || !strings.HasPrefix(body, "Code: "+code+". DB::Exception: Request body is too large") {
		t.Fatalf("oversized insert: status %s code %q body %q", status, code, body)
	}
	if status, _, body := curl(t, query(w.URL, "SELECT count() FROM big"), ""); status != "200" || body != "0\n" {
		t.Fatalf("after the oversized insert: status %s body %q", status, body)
	}
}
