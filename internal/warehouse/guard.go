package warehouse

import (
	"fmt"
	"strings"
)

// What the warehouse refuses before the engine sees a statement.
//
// The engine is chDB, a clickhouse-local: it trusts whoever types the SQL,
// as a command-line tool may. A ClickHouse server does not trust its
// clients that far, and the warehouse answers as the server does:
//
//   - One statement per query: the engine would run `SET readonly = DEFAULT;
//     DROP TABLE t` whole, a server refuses multi-statements (62).
//   - No files of the host: the engine writes `INTO OUTFILE` and reads
//     `FROM INFILE`, file() and the File engine anywhere on the machine; a
//     server refuses the first two (358, 78) and confines the rest to its
//     user_files directory, which the engine cannot do, so the warehouse
//     refuses them (291).
//   - Read-only stays read-only: under readonly (HTTP GET, or the readonly
//     setting of the request, the query or the session) the `readonly` and
//     `profile` settings cannot change (164; the engine would take
//     `SET readonly = DEFAULT`), and table functions that reach the network
//     are refused (164). A server allows those under readonly=2, but a
//     read-only query must not be able to call back into the warehouse (or
//     any other service on its host) where its own readonly does not reach.

// hostFileFunctions read or write files of the warehouse's host (lower
// case; the engine takes some names in any case). The table engine File
// and the dictionary source FILE share the first name.
var hostFileFunctions = map[string]bool{
	"file": true, "filecluster": true, "filesystem": true, "executable": true, "executablepool": true,
	"sqlite": true, "iceberglocal": true, "iceberglocalcluster": true, "deltalakelocal": true,
	"paimonlocal": true, "paimonlocalcluster": true,
}

// localTableFunctions are the table functions the engine refuses under
// readonly=1 (system.table_functions.allow_readonly = 0) that read nothing
// but the warehouse's own data: every other one of those reaches the
// network or the host, and a read-only query may not call it. Taking the
// list from the engine refuses the table functions of a newer engine by
// default.
var localTableFunctions = map[string]bool{
	"format": true, "zeros": true, "zeros_mt": true, "loop": true, "viewexplain": true, "dictionary": true,
	"timeseriesdata": true, "timeseriesmetrics": true, "timeseriestags": true, "timeseriesselector": true,
	"prometheusquery": true, "prometheusqueryrange": true,
}

// codes of the refusals.
const (
	codeIntoOutfileNotAllowed = 358 // INTO_OUTFILE_NOT_ALLOWED
	codeUnknownTypeOfQuery    = 78  // UNKNOWN_TYPE_OF_QUERY
	codeDatabaseAccessDenied  = 291 // DATABASE_ACCESS_DENIED
)

// checkStatement refuses what the warehouse never runs for a client, and,
// with readonly, what a read-only statement may not do. external names the
// table functions that reach outside the warehouse.
func checkStatement(st statementText, readonly bool, external map[string]bool) error {
	if st.multiStatement() {
		return &Exception{Code: codeSyntaxError, Message: "Syntax error (Multi-statements are not allowed): failed at position 1: " + abbreviate(st.sql) + ". (SYNTAX_ERROR)"}
	}
	if st.hasWords("INTO", "OUTFILE") {
		return &Exception{Code: codeIntoOutfileNotAllowed, Message: "INTO OUTFILE is not allowed. (INTO_OUTFILE_NOT_ALLOWED)"}
	}
	if st.hasWords("FROM", "INFILE") {
		return &Exception{Code: codeUnknownTypeOfQuery, Message: "Query has infile and was send directly to server. (UNKNOWN_TYPE_OF_QUERY)"}
	}
	for _, call := range st.calls() {
		name := strings.ToLower(call)
		if hostFileFunctions[name] {
			return &Exception{Code: codeDatabaseAccessDenied, Message: fmt.Sprintf(
				"%s() would reach files of the warehouse's host: a ClickHouse server keeps them to its user_files directory, which the embedded engine cannot, so the embedded warehouse refuses them. (DATABASE_ACCESS_DENIED)", call)}
		}
		if readonly && external[name] {
			return &Exception{Code: codeReadonly, Message: fmt.Sprintf(
				"%s() reaches outside the warehouse, which a read-only query may not do in the embedded warehouse. (READONLY)", call)}
		}
	}
	if readonly {
		for _, name := range []string{"readonly", "profile"} {
			if st.assigns(name) {
				return &Exception{Code: codeReadonly, Message: fmt.Sprintf("Cannot modify '%s' setting in readonly mode. (READONLY)", name)}
			}
		}
	}
	return nil
}

// abbreviate shortens a statement for an error message.
func abbreviate(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 200 {
		return sql[:200] + "..."
	}
	return sql
}

// externalTableFunctions asks the engine for the table functions that
// reach outside the warehouse (see localTableFunctions).
func externalTableFunctions(conn Conn) (map[string]bool, error) {
	res, err := conn.Query("SELECT name FROM system.table_functions WHERE allow_readonly = 0", "TabSeparated")
	if err != nil {
		return nil, fmt.Errorf("list table functions: %w", err)
	}
	external := map[string]bool{}
	for _, name := range strings.Fields(string(res.Data)) {
		if name = strings.ToLower(name); !localTableFunctions[name] {
			external[name] = true
		}
	}
	return external, nil
}
