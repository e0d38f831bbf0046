package warehouse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ClickHouse/ch-go/proto"
)

// Time zones of DateTime columns.
//
// The engine writes the Native format at protocol revision 0, and at a
// revision before 54337 ClickHouse names a column of type DateTime('zone')
// plain DateTime (old clients could not parse the zone); only DateTime64
// and DateTime nested in another type keep it. A client of a newer revision
// (every native client, and clickhouse-go over HTTP, which sends
// client_protocol_version) gets the zone from a server and shows times in
// it. So when a result may hold such a column (its bytes contain the type
// name DateTime), the statement's columns are read with DESCRIBE on the
// same handle, and the blocks re-typed. That costs one DESCRIBE, for results
// with a DateTime column only.

// zonesRevision is the first revision whose clients know a DateTime's zone
// (DBMS_MIN_REVISION_WITH_TIME_ZONE_PARAMETER_IN_DATETIME_DATA_TYPE).
const zonesRevision = 54337

// dateTimeMarker is the type name DateTime as a block writes it.
var dateTimeMarker = []byte("\x08DateTime")

// returnsRows says whether the statement is a query DESCRIBE can describe.
func (s statementText) returnsRows() bool {
	switch s.keyword() {
	case "SELECT", "WITH":
		return true
	}
	return false
}

// zonedColumns returns the zoned DateTime types of the statement's result
// columns by position, when data (its Native output) may name them plain
// DateTime; nil when it cannot.
func zonedColumns(conn Conn, st statementText, data []byte) map[int]string {
	if !bytes.Contains(data, dateTimeMarker) || !st.returnsRows() {
		return nil
	}
	_, types, err := describeQuery(conn, st.sql)
	if err != nil {
		return nil
	}
	var zones map[int]string
	for i, t := range types {
		if strings.HasPrefix(t, "DateTime(") {
			if zones == nil {
				zones = map[int]string{}
			}
			zones[i] = t
		}
	}
	return zones
}

// withZones returns data, the statement's revision-0 Native output, with
// its DateTime columns' zones named (data itself when there are none).
func (s *Server) withZones(conn Conn, st statementText, data []byte) []byte {
	zones := zonedColumns(conn, st, data)
	if zones == nil {
		return data
	}
	r := proto.NewReader(bytes.NewReader(data))
	out := make([]byte, 0, len(data)+64)
	for {
		var err error
		out, _, err = convertZoned(r, 0, 0, out, len(data)+1<<20, zones)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			s.opts.Logger.Debug().Err(err).Msg("result kept without its DateTime zones")
			return data
		}
	}
}

// describeQuery returns the names and types of a query's result columns.
func describeQuery(conn Conn, sql string) (names, types []string, err error) {
	sql = strings.TrimRight(strings.TrimSpace(stripFormat(sql)), "; \t\r\n")
	res, err := conn.Query("DESCRIBE ("+sql+"\n)", "TabSeparated")
	if err != nil {
		return nil, nil, fmt.Errorf("describe the result: %w", err)
	}
	for _, line := range strings.Split(strings.TrimRight(string(res.Data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			continue
		}
		names, types = append(names, unescapeTSV(f[0])), append(types, unescapeTSV(f[1]))
	}
	return names, types, nil
}
