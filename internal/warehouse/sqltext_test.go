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
		if got := queryParameters(sql); !reflect.DeepEqual(got, want) {
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
