package warehouse

import (
	"regexp"
	"strings"
)

// statement is one request's SQL and, for an INSERT that carries data, its data.
type statement struct {
	sql string
	// insert is set for INSERT ... FORMAT F whose rows come in the request body.
	insert *dataInsert
}

// dataInsert is `INSERT INTO <target> [SETTINGS ...] FORMAT <format>` plus its rows.
type dataInsert struct {
	target   string // table, optional column list
	settings string // the statement's own SETTINGS clause, without the keyword
	format   string
	data     []byte
}

var (
	insertFormatRe = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+([A-Za-z0-9_]+)`)
	insertValuesRe = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(.+?)\s+VALUES\s*$`)
	settingsWordRe = regexp.MustCompile(`(?i)\bSETTINGS\b`)
	formatClauseRe = regexp.MustCompile(`(?is)\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$`)
)

// parseStatement splits a request into SQL and insert data the way ClickHouse's
// HTTP handler does: the query parameter comes first and the body follows it; for
// an INSERT with FORMAT (or VALUES) everything after the format name is data.
func parseStatement(queryParam string, body []byte) statement {
	if queryParam != "" {
		if m := insertFormatRe.FindStringSubmatch(queryParam); m != nil && strings.TrimSpace(queryParam[len(m[0]):]) == "" {
			return statement{sql: queryParam, insert: newDataInsert(m[1], m[2], body)}
		}
		if m := insertValuesRe.FindStringSubmatch(queryParam); m != nil && len(body) > 0 {
			return statement{sql: queryParam, insert: newDataInsert(m[1], "Values", body)}
		}
		if len(body) == 0 {
			return statement{sql: queryParam}
		}
		return statement{sql: queryParam + "\n" + string(body)}
	}
	// The whole request is the body: split an INSERT's data off at the line after FORMAT.
	if loc := insertFormatRe.FindSubmatchIndex(body); loc != nil {
		rest := body[loc[1]:]
		if data, ok := dataAfterFormat(rest); ok {
			m := insertFormatRe.FindSubmatch(body)
			return statement{sql: string(body[:loc[1]]), insert: newDataInsert(string(m[1]), string(m[2]), data)}
		}
	}
	return statement{sql: string(body)}
}

// dataAfterFormat returns the bytes after the FORMAT name: ClickHouse skips
// blanks up to and including one line break. It reports false when the statement
// goes on in SQL (e.g. `FORMAT JSONEachRow SETTINGS`), which is not a data insert.
func dataAfterFormat(rest []byte) ([]byte, bool) {
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t') {
		i++
	}
	switch {
	case i == len(rest):
		return nil, true
	case rest[i] == '\n':
		return rest[i+1:], true
	case rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n':
		return rest[i+2:], true
	case i > 0:
		return rest[i:], true
	}
	return nil, false
}

func newDataInsert(head, format string, data []byte) *dataInsert {
	ins := &dataInsert{target: strings.TrimSpace(head), format: format, data: data}
	if loc := settingsWordRe.FindStringIndex(head); loc != nil {
		ins.target = strings.TrimSpace(head[:loc[0]])
		ins.settings = strings.TrimSpace(head[loc[1]:])
	}
	return ins
}

// fromInfile rewrites the insert to read its data from path, the way the
// engine accepts data without a network stream.
func (ins *dataInsert) fromInfile(path string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(ins.target)
	b.WriteString(" FROM INFILE ")
	b.WriteString(quoteString(path))
	if ins.settings != "" {
		b.WriteString(" SETTINGS ")
		b.WriteString(ins.settings)
	}
	b.WriteString(" FORMAT ")
	b.WriteString(ins.format)
	return b.String()
}

// outputFormat is the format the response is in: the statement's own FORMAT
// clause, else the default.
func outputFormat(sql, def string) string {
	if m := formatClauseRe.FindStringSubmatch(sql); m != nil {
		return m[1]
	}
	return def
}

// quoteString renders s as a ClickHouse string literal.
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// returnsResult says whether a statement produces a result set, which is
// when ClickHouse sends X-ClickHouse-Format: clients tell a query's empty
// result from a command's summary by it.
func (s statementText) returnsResult() bool {
	switch s.keyword() {
	case "SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK", "KILL", "VALUES", "FROM", "TABLE":
		return true
	}
	return false
}

// helloQuery is the server-info query clickhouse-go sends first over HTTP.
const helloQuery = "SELECT displayName(), version(), revision(), timezone()"

func isHello(sql string) bool {
	return strings.Join(strings.Fields(sql), " ") == helloQuery
}
