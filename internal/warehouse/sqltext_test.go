package warehouse

import (
	"reflect"
	"testing"
)

func TestParseStatement(t *testing.T) {
	cases := []struct {
		name   string
		query  string
		body   string
		sql    string
		insert *dataInsert
	}{
		{"query in body", "", "SELECT 1", "SELECT 1", nil},
		{"query param and body concatenate", "SELECT 1,", "2", "SELECT 1,\n2", nil},
		{"clickhouse-go batch", "INSERT INTO t (a, b) FORMAT Native", "\x02\x01", "INSERT INTO t (a, b) FORMAT Native",
			&dataInsert{target: "t (a, b)", format: "Native", data: []byte("\x02\x01")}},
		{"insert settings clause", "INSERT INTO db.t SETTINGS async_insert=0 FORMAT CSV", "1\n", "INSERT INTO db.t SETTINGS async_insert=0 FORMAT CSV",
			&dataInsert{target: "db.t", settings: "async_insert=0", format: "CSV", data: []byte("1\n")}},
		{"values with data in body", "insert into t values", "(1)", "insert into t values",
			&dataInsert{target: "t", format: "Values", data: []byte("(1)")}},
		{"insert and data in body", "", "INSERT INTO t FORMAT TSV\r\n1\t2\n", "INSERT INTO t FORMAT TSV",
			&dataInsert{target: "t", format: "TSV", data: []byte("1\t2\n")}},
		{"insert select is SQL", "", "INSERT INTO t SELECT * FROM s", "INSERT INTO t SELECT * FROM s", nil},
	}
	for _, c := range cases {
		st := parseStatement(c.query, []byte(c.body))
		if st.sql != c.sql || !reflect.DeepEqual(st.insert, c.insert) {
			t.Errorf("%s: got sql %q insert %+v, want %q %+v", c.name, st.sql, st.insert, c.sql, c.insert)
		}
	}
}

func TestFromInfile(t *testing.T) {
	ins := &dataInsert{target: "t (a)", settings: "max_threads=1", format: "Native"}
	got := ins.fromInfile("/tmp/it's.data")
	want := `INSERT INTO t (a) FROM INFILE '/tmp/it\'s.data' SETTINGS max_threads=1 FORMAT Native`
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestQueryParameters(t *testing.T) {
	cases := map[string][]string{
		"SELECT {a:UInt8} + {b : String}, {a:UInt8}": {"a", "b"},
		"SELECT '{not:Param}', `{x:y}`, \"{z:q}\"":   nil,
		"SELECT 1 -- {c:UInt8}\n, {d:Date}":          {"d"},
		"SELECT /* {e:UInt8} */ {f:Array(String)}":   {"f"},
		"SELECT map('a', 1), '{\"json\":1}'":         nil,
		"SELECT 'it''s {g:T}', {h:T}":                {"h"},
		"SELECT '\\' {i:T}', {j:T}":                  {"j"},
	}
	for sql, want := range cases {
		if got := newStatementText(sql).parameters(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, want %v", sql, got, want)
		}
	}
}

func TestOutputFormat(t *testing.T) {
	if f := outputFormat("SELECT 1 FORMAT JSONEachRow;", "Native"); f != "JSONEachRow" {
		t.Fatalf("got %s", f)
	}
	if f := outputFormat("SELECT 'FORMAT CSV' AS x", "Native"); f != "Native" {
		t.Fatalf("got %s", f)
	}
}

func TestAsException(t *testing.T) {
	err := asException(errorString("Code: 73. DB::Exception: Code: 73. DB::Exception: Unknown format Nope. (UNKNOWN_FORMAT) (version 26.5.1.1). (UNKNOWN_FORMAT) (version 26.5.1.1)"))
	if err.Code != 73 || err.Message != "Unknown format Nope. (UNKNOWN_FORMAT)" {
		t.Fatalf("got %+v", err)
	}
	if e := asException(errorString("boom")); e.Code != codeStdException || e.Message != "boom" {
		t.Fatalf("got %+v", e)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestStatementText: the lexer sees the token boundaries the engine sees,
// so neither a comment nor a string hides a statement, a call or a
// semicolon from the server, and neither makes it see one that is not
// there.
func TestStatementText(t *testing.T) {
	multi := map[string]bool{
		"SELECT 1;":                               false,
		"SELECT 1; ;  -- done\n":                  false,
		"SELECT ';'; ":                            false,
		"SELECT 1 /* ; /* nested ; */ ; */":       false,
		"SELECT $tag$ ; $tag$":                    false,
		"SELECT 1 # ; DROP TABLE t":               false,
		"SELECT 1 // ; DROP TABLE t":              false,
		"SELECT 1; DROP TABLE t":                  true,
		"SELECT 1 /* */; DROP TABLE t":            true,
		"SELECT 1 #; DROP TABLE t":                true, // # starts a comment only before a space or !
		"SELECT 'it''s'; DROP TABLE t":            true,
		"SELECT 'a\\'; DROP TABLE t --'":          false,
		"SELECT `x;y`, \"a;b\"; SELECT 2":         true,
		"SELECT x'3B'; SELECT 2":                  true,
		"SELECT 1 /* unclosed ; DROP TABLE t":     false,
		"SELECT 1 /* a /* b */ ; DROP TABLE t":    false, // still inside the outer comment
		"SELECT 1 /* a /* b */ */ ; DROP TABLE t": true,
	}
	for sql, want := range multi {
		if got := newStatementText(sql).multiStatement(); got != want {
			t.Errorf("%q: multi-statement %v, want %v", sql, got, want)
		}
	}
	calls := map[string][]string{
		"SELECT * FROM `file`/* x */ ('a')":           {"file"},
		"SELECT * FROM url ('x', CSV) WHERE f(1)":     {"url", "f"},
		"SELECT 'file(' , \"url\"(1)":                 {"url"},
		"CREATE TABLE t (a UInt8) ENGINE = File(CSV)": {"t", "File"},
	}
	for sql, want := range calls {
		if got := newStatementText(sql).calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: calls %v, want %v", sql, got, want)
		}
	}
	set := newStatementText("SET param_q = 'a,b', max_threads = 3, param_arr = [1, 2], readonly = DEFAULT")
	wantSet := []assignment{{"param_q", "'a,b'"}, {"max_threads", "3"}, {"param_arr", "[1, 2]"}, {"readonly", "DEFAULT"}}
	if got := set.setAssignments(); !reflect.DeepEqual(got, wantSet) {
		t.Errorf("SET assignments %v, want %v", got, wantSet)
	}
	if !newStatementText("SELECT 1 SETTINGS `readonly` = 0").assigns("readonly") {
		t.Error("a quoted setting name is not seen")
	}
}

// TestCheckStatement: what the server refuses before the engine runs it.
func TestCheckStatement(t *testing.T) {
	external := map[string]bool{"url": true, "s3": true, "remote": true}
	cases := []struct {
		sql      string
		readonly bool
		code     int
	}{
		{"SELECT 1", true, 0},
		{"SELECT * FROM url('http://x/', CSV)", false, 0},
		{"SELECT * FROM URL('http://x/', CSV)", true, codeReadonly},
		{"SELECT * FROM s3('http://x/')", true, codeReadonly},
		{"SET readonly = DEFAULT", true, codeReadonly},
		{"SET readonly = 0", false, 0},
		{"SET profile = 'default'", true, codeReadonly},
		{"SELECT 1 SETTINGS readonly = 0", true, codeReadonly},
		{"SET max_threads = 2", true, 0},
		{"SELECT 1; SELECT 2", false, codeSyntaxError},
		{"SELECT 1 INTO OUTFILE 'x'", false, codeIntoOutfileNotAllowed},
		{"INSERT INTO t FROM INFILE 'x' FORMAT CSV", false, codeUnknownTypeOfQuery},
		{"SELECT file('/etc/passwd')", false, codeDatabaseAccessDenied},
		{"SELECT 'file(' AS f", true, 0},
		{"SELECT * FROM fileCluster('c', 'x')", false, codeDatabaseAccessDenied},
		{"SELECT format('{} {}', 1, 2)", true, 0},
	}
	for _, c := range cases {
		err := checkStatement(newStatementText(c.sql), c.readonly, external)
		code := 0
		if err != nil {
			code = asException(err).Code
		}
		if code != c.code {
			t.Errorf("%q (readonly %v): %v, want code %d", c.sql, c.readonly, err, c.code)
		}
	}
}
