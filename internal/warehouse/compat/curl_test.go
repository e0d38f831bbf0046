package compat_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tsv renders row r in ClickHouse's TabSeparated text, the way a shell user
// feeds and reads it.
func tsv(r row) string {
	str := func(p *string) string {
		if p == nil {
			return `\N`
		}
		return *p
	}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	var b strings.Builder
	field := func(s string) { b.WriteString(s); b.WriteByte('\t') }
	field(strconv.FormatUint(r.ID, 10))
	field(r.Name)
	field(r.Channel)
	field(str(r.Region))
	if r.Units == nil {
		field(`\N`)
	} else {
		field(strconv.FormatInt(*r.Units, 10))
	}
	field(r.Price.String())
	if r.Discount == nil {
		field(`\N`)
	} else {
		field(r.Discount.String())
	}
	if r.Score == nil {
		field(`\N`)
	} else {
		field(num(*r.Score))
	}
	if r.Active == nil {
		field(`\N`)
	} else {
		field(strconv.FormatBool(*r.Active))
	}
	field(r.Day.Format("2006-01-02"))
	field(r.ChangedAt.Format("2006-01-02 15:04:05.000"))
	quoted := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = "'" + s + "'"
		}
		return "[" + strings.Join(q, ",") + "]"
	}
	field(quoted(r.Tags))
	ratings := make([]string, len(r.Ratings))
	for i, f := range r.Ratings {
		ratings[i] = "NULL"
		if f != nil {
			ratings[i] = num(*f)
		}
	}
	field("[" + strings.Join(ratings, ",") + "]")
	field(quoted(r.ItemsSKU))
	qty := make([]string, len(r.ItemsQty))
	for i, q := range r.ItemsQty {
		qty[i] = strconv.FormatInt(q, 10)
	}
	b.WriteString("[" + strings.Join(qty, ",") + "]\n")
	return b.String()
}

// curlCall is one curl invocation's outcome.
type curlCall struct {
	status, exceptionCode, contentEncoding string
	body                                   string
}

// runCurlCmd runs the real curl: POST body (a file) to the warehouse with
// the URL parameters, credentials in basic auth, extra curl arguments.
func runCurlCmd(tg target, user, password string, params url.Values, bodyFile string, extra ...string) (curlCall, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := []string{"-sS", "-D", "-", "-H", "Expect:", "-u", user + ":" + password}
	if bodyFile != "" {
		args = append(args, "--data-binary", "@"+bodyFile)
	}
	args = append(args, extra...)
	args = append(args, "http://"+tg.host+":"+tg.port+"/?"+params.Encode())
	out, err := exec.CommandContext(ctx, "curl", args...).Output()
	if err != nil {
		return curlCall{}, fmt.Errorf("curl: %w", err)
	}
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	c := curlCall{status: strings.Fields(lines[0])[1], body: string(body)}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		switch strings.ToLower(k) {
		case "x-clickhouse-exception-code":
			c.exceptionCode = strings.TrimSpace(v)
		case "content-encoding":
			c.contentEncoding = strings.TrimSpace(v)
		}
	}
	return c, nil
}

// runCurl is the matrix row of curl: TabSeparated in and out, gzip request
// bodies and gzip answers (enable_http_compression) for compression.
func runCurl(t *testing.T, tg target) string {
	var out strings.Builder
	report := func(check string, err error) {
		if err != nil {
			fmt.Fprintf(&out, "CHECK %s fail %v\n", check, strings.ReplaceAll(err.Error(), "\n", " "))
			return
		}
		fmt.Fprintf(&out, "CHECK %s ok\n", check)
	}
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := func(c curlCall, err error) error {
		if err != nil {
			return err
		}
		if c.status != "200" {
			return fmt.Errorf("status %s, exception %s: %s", c.status, c.exceptionCode, c.body)
		}
		return nil
	}
	q := func(sql string, kv ...string) url.Values {
		v := url.Values{"query": {sql}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	call := func(params url.Values, bodyFile string, extra ...string) (curlCall, error) {
		return runCurlCmd(tg, tg.user, tg.password, params, bodyFile, extra...)
	}

	report("connect", ok(call(q("SELECT 1"), "")))
	report("ddl", ok(call(url.Values{}, file("ddl.sql", fmt.Sprintf(ddl, tg.table)))))

	var first, second, all strings.Builder
	for i := range uint64(tg.rows) {
		line := tsv(genRow(i))
		if i < uint64(tg.rows/2) {
			first.WriteString(line)
		} else {
			second.WriteString(line)
		}
		all.WriteString(line)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(first.String()))
	_ = zw.Close()
	insert := "INSERT INTO " + tg.table + " (" + columns + ") FORMAT TabSeparated"
	errOn := ok(call(q(insert), file("first.tsv.gz", gz.String()), "-H", "Content-Encoding: gzip"))
	errOff := ok(call(q(insert), file("second.tsv", second.String())))
	if errOn == nil && errOff == nil {
		report("insert", nil)
	} else {
		report("insert", fmt.Errorf("gzip half: %v; plain half: %v", errOn, errOff))
	}
	selectAll := "SELECT " + columns + " FROM " + tg.table + " ORDER BY id FORMAT TabSeparated"
	readBack := func(compressed bool) error {
		params, extra := q(selectAll), []string{}
		if compressed {
			params.Set("enable_http_compression", "1")
			extra = append(extra, "--compressed")
		}
		c, err := call(params, "", extra...)
		if err := ok(c, err); err != nil {
			return err
		}
		if compressed && c.contentEncoding == "" {
			return fmt.Errorf("enable_http_compression=1 with Accept-Encoding: the answer is not compressed")
		}
		if c.body != all.String() {
			return fmt.Errorf("read back %d bytes that differ from the %d inserted", len(c.body), all.Len())
		}
		return nil
	}
	errOnRead := readBack(true)
	report("readback", errOnRead)
	if errOn != nil {
		errOnRead = errOn
	}
	report("compression_on", errOnRead)
	errOffRead := readBack(false)
	if errOff != nil {
		errOffRead = errOff
	}
	report("compression_off", errOffRead)

	c, err := call(q("SELECT name FROM "+tg.table+" WHERE id = {id:UInt64}", "param_id", "7"), "")
	if err = ok(c, err); err == nil && c.body != "p7-é\n" {
		err = fmt.Errorf("parameterised query returned %q", c.body)
	}
	report("params", err)

	sid := fmt.Sprintf("compat-curl-%d", time.Now().UnixNano())
	err = ok(call(q("SET max_threads = 3", "session_id", sid), file("empty", "")))
	if err == nil {
		c, err = call(q("SELECT getSetting('max_threads')", "session_id", sid), "")
		if err = ok(c, err); err == nil && c.body != "3\n" {
			err = fmt.Errorf("max_threads in the session = %q, want 3", c.body)
		}
	}
	report("session", err)

	c, err = call(q("SELECT * FROM no_such_table"), "")
	if err == nil && (c.status != "404" || c.exceptionCode != "60" || !strings.HasPrefix(c.body, "Code: 60. DB::Exception: ")) {
		err = fmt.Errorf("status %s, code %q, body %q; want 404, 60, Code: 60. DB::Exception: ...", c.status, c.exceptionCode, c.body)
	}
	report("error", err)

	if tg.wrongPassword {
		c, err := runCurlCmd(tg, tg.user, tg.password+"x", q("SELECT 1"), "")
		if err == nil && (c.status != "403" || c.exceptionCode != "516") {
			err = fmt.Errorf("wrong password: status %s, code %q, body %q; want 403, 516", c.status, c.exceptionCode, c.body)
		}
		report(checkAuth, err)
	}
	return out.String()
}
