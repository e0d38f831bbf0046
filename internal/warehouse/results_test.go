package warehouse_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// emptyQuery has no rows; its columns have names found nowhere else.
const emptyQuery = "SELECT number AS empty_n, toString(number) AS empty_s, toDateTime(number, 'Asia/Tokyo') AS empty_t FROM numbers(0)"

// TestEmptyResultHeaders: a result without rows still tells its columns
// wherever ClickHouse tells them: in every HTTP format that writes a header
// (names, types, metadata or a schema), and in the header block of the
// native protocol, for queries and for SHOW alike. The Native format over
// HTTP is the exception, as in ClickHouse: an empty body (clients then ask
// with DESCRIBE, as clickhouse-connect's DB-API cursor and package export
// do), so clickhouse-go over HTTP sees no columns, as against a server.
func TestEmptyResultHeaders(t *testing.T) {
	w := startWarehouse(t)
	names := []string{"empty_n", "empty_s", "empty_t"}
	types := []string{"UInt64", "String", "DateTime('Asia/Tokyo')"}
	// Formats escape the zone's quotes and slash each their own way.
	withTypes := append(append([]string{}, names...), "UInt64", "String", "DateTime(", "Tokyo")
	formats := map[string][]string{ // format: what the answer must contain
		"RowBinaryWithNames": names, "RowBinaryWithNamesAndTypes": withTypes,
		"TSVWithNames": names, "TabSeparatedWithNamesAndTypes": withTypes,
		"CSVWithNames": names, "CSVWithNamesAndTypes": withTypes,
		"JSONCompactEachRowWithNames": names, "JSONCompactEachRowWithNamesAndTypes": withTypes,
		"JSONCompactStringsEachRowWithNamesAndTypes": withTypes, "CustomSeparatedWithNamesAndTypes": withTypes,
		"JSON": withTypes, "JSONCompact": withTypes, "JSONColumns": names, "JSONColumnsWithMetadata": withTypes,
		"XML": withTypes, "Markdown": names,
		// Binary schemas; ORC shares the names' common prefix.
		"Parquet": names, "Arrow": names, "ArrowStream": names, "Avro": names, "ORC": {"empty_n"},
	}
	for format, want := range formats {
		resp, out := do(t, http.MethodPost, query(w.URL, emptyQuery, "default_format", format), nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-ClickHouse-Format") != format {
			t.Errorf("%s: %d %q", format, resp.StatusCode, out)
			continue
		}
		for _, s := range want {
			if !strings.Contains(out, s) {
				t.Errorf("%s of no rows does not name %s: %q", format, s, out)
			}
		}
	}
	// RowBinaryWithNamesAndTypes (what JDBC reads) exactly.
	_, out := do(t, http.MethodPost, query(w.URL, emptyQuery, "default_format", "RowBinaryWithNamesAndTypes"), nil)
	r := proto.NewReader(strings.NewReader(out))
	n, err := r.UVarInt()
	var got []string
	for i := 0; err == nil && i < 2*int(n); i++ {
		var s string
		s, err = r.Str()
		got = append(got, s)
	}
	if err != nil || !slices.Equal(got, append(append([]string{}, names...), types...)) {
		t.Errorf("RowBinaryWithNamesAndTypes header: %q, %v", got, err)
	}
	resp, out := do(t, http.MethodPost, query(w.URL, emptyQuery, "default_format", "Native"), nil)
	if resp.StatusCode != 200 || out != "" || resp.Header.Get("X-ClickHouse-Format") != "Native" {
		t.Errorf("Native over HTTP of no rows: %d %q, want an empty body as from ClickHouse", resp.StatusCode, out)
	}

	ctx := context.Background()
	columns := func(conn driver.Conn, sql string) (names, types []string) {
		t.Helper()
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		defer rows.Close()
		for _, c := range rows.ColumnTypes() {
			names, types = append(names, c.Name()), append(types, c.DatabaseTypeName())
		}
		if rows.Next() {
			t.Fatalf("%s returned a row", sql)
		}
		return names, types
	}
	native := openNative(t, w.NativeAddr, nil, clickhouse.Auth{})
	if n, ty := columns(native, emptyQuery); !slices.Equal(n, names) || !slices.Equal(ty, types) {
		t.Errorf("native header block of no rows: %v %v, want %v %v", n, ty, names, types)
	}
	if n, ty := columns(native, "SHOW TABLES LIKE 'nothing%'"); !slices.Equal(n, []string{"name"}) || !slices.Equal(ty, []string{"String"}) {
		t.Errorf("native header block of an empty SHOW TABLES: %v %v", n, ty)
	}
	if n, _ := columns(openClickHouse(t, w.Addr), emptyQuery); len(n) != 0 {
		t.Errorf("clickhouse-go over HTTP saw columns %v in an empty Native body", n)
	}
}

// TestDateTimeZones: a DateTime column with a time zone keeps it over the
// native protocol and for clickhouse-go over HTTP (which asks for a recent
// revision), in rows and in the type clients report, as from a server; a
// client of revision 0 gets DateTime, as from ClickHouse. (The engine
// writes revision 0.)
func TestDateTimeZones(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	native := openNative(t, w.NativeAddr, nil, clickhouse.Auth{})
	mustExec(ctx, t, native, "CREATE TABLE zoned (t DateTime('Asia/Tokyo'), u DateTime, n Nullable(DateTime('America/New_York'))) ENGINE = MergeTree ORDER BY t")
	at := time.Date(2026, 11, 1, 10, 30, 0, 0, time.UTC)
	batch, err := native.PrepareBatch(ctx, "INSERT INTO zoned")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(at, at, &at); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	wantTypes := []string{"DateTime('Asia/Tokyo')", "DateTime", "Nullable(DateTime('America/New_York'))"}
	for name, conn := range map[string]driver.Conn{"native": native, "http": openClickHouse(t, w.Addr)} {
		rows, err := conn.Query(ctx, "SELECT t, u, n FROM zoned")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, c := range rows.ColumnTypes() {
			got = append(got, c.DatabaseTypeName())
		}
		if !slices.Equal(got, wantTypes) {
			t.Errorf("%s: column types %v, want %v", name, got, wantTypes)
		}
		var tt, u time.Time
		var n *time.Time
		if !rows.Next() {
			t.Fatalf("%s: no row", name)
		}
		if err := rows.Scan(&tt, &u, &n); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rows.Close()
		if !tt.Equal(at) || tt.Location().String() != "Asia/Tokyo" || n == nil || !n.Equal(at) || n.Location().String() != "America/New_York" || !u.Equal(at) {
			t.Errorf("%s: read %v, %v, %v; want %v in Tokyo, UTC and New York", name, tt, u, n, at)
		}
	}
	// Revision 0 (no client_protocol_version) names it DateTime, as ClickHouse does.
	_, out := do(t, http.MethodPost, query(w.URL, "SELECT t FROM zoned FORMAT Native"), nil)
	if !strings.Contains(out, "\x08DateTime") || strings.Contains(out, "Tokyo") {
		t.Errorf("Native at revision 0: %q, want the type DateTime without its zone", out)
	}
}

// TestIdleConnectionTimeout: a native connection that sends nothing for
// warehouse.idle_connection_timeout is closed by the server, while a query
// that runs longer than that is not cut.
func TestIdleConnectionTimeout(t *testing.T) {
	const idle = 2 * time.Second
	w := startWarehouse(t, "SHOPSTREAM_WAREHOUSE_IDLE_CONNECTION_TIMEOUT="+idle.String())
	conn := openSession(t, w.NativeAddr, nil)
	var slept uint8
	if err := conn.QueryRow(context.Background(), "SELECT sleep(3)").Scan(&slept); err != nil {
		t.Fatalf("a query longer than the idle timeout: %v", err)
	}

	nc, err := net.Dial("tcp", w.NativeAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var b proto.Buffer
	proto.ClientHello{Name: "idle-test", Major: 1, ProtocolVersion: proto.Version, Database: "default", User: "default"}.Encode(&b)
	if _, err := nc.Write(b.Buf); err != nil {
		t.Fatal(err)
	}
	r := proto.NewReader(nc)
	var hello proto.ServerHello
	if code, err := r.UVarInt(); err != nil || proto.ServerCode(code) != proto.ServerCodeHello {
		t.Fatalf("server hello: %d, %v", code, err)
	}
	if err := hello.DecodeAware(r, proto.Version); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	b.PutString("") // the addendum: quota key
	if _, err := nc.Write(b.Buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = nc.SetReadDeadline(start.Add(time.Minute))
	_, err = r.UVarInt()
	if !errors.Is(err, io.EOF) {
		t.Fatalf("an idle connection got %v, want the server to close it", err)
	}
	if waited := time.Since(start); waited < idle {
		t.Fatalf("closed after %v, before the idle timeout %v", waited, idle)
	}
}
