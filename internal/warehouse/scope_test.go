package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// openSession is one native connection (clickhouse-go's pool held at
// one), so that its statements share the connection's session.
func openSession(t *testing.T, addr string, settings clickhouse.Settings) driver.Conn {
	t.Helper()
	return openConn(t, &clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.Native,
		MaxOpenConns: 1, MaxIdleConns: 1, DialTimeout: 10 * time.Second, ReadTimeout: time.Minute, Settings: settings})
}

func exceptionCode(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return -1
}

// TestParameterScope: a query parameter sent with a statement is that
// statement's alone, while one the session SETs lasts for the session, as
// in ClickHouse: over a native connection and over an HTTP session. The
// session's own value comes back after a statement that sent its own.
func TestParameterScope(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	t.Run("native", func(t *testing.T) {
		conn := openSession(t, w.NativeAddr, nil)
		with := func(params clickhouse.Parameters) context.Context {
			return clickhouse.Context(ctx, clickhouse.WithParameters(params))
		}
		var v string
		if err := conn.QueryRow(with(clickhouse.Parameters{"id": "5"}), "SELECT toString({id:UInt64})").Scan(&v); err != nil || v != "5" {
			t.Fatalf("parameter sent with the query: %q, %v", v, err)
		}
		if err := conn.QueryRow(ctx, "SELECT toString({id:UInt64})").Scan(&v); exceptionCode(err) != 456 {
			t.Fatalf("a later query without the parameter: %q, %v; want exception 456", v, err)
		}
		mustExec(ctx, t, conn, "SET param_q = 'session'")
		const read = "SELECT {q:String}"
		if got := queryString(ctx, t, conn, read); got != "session" {
			t.Fatalf("the session's parameter = %q, want session", got)
		}
		if got := queryString(with(clickhouse.Parameters{"q": "query"}), t, conn, read); got != "query" {
			t.Fatalf("a query's own value = %q, want query", got)
		}
		if got := queryString(ctx, t, conn, read); got != "session" {
			t.Fatalf("after a query with its own value the session's parameter = %q, want session", got)
		}
	})
	t.Run("http session", func(t *testing.T) {
		sess := "scope-" + fmt.Sprint(time.Now().UnixNano())
		get := func(sql string, params ...string) (string, string) {
			t.Helper()
			resp, out := do(t, http.MethodPost, query(w.URL, sql, append([]string{"session_id", sess}, params...)...), nil)
			return resp.Header.Get("X-ClickHouse-Exception-Code"), out
		}
		if code, out := get("SELECT {id:UInt64}", "param_id", "5"); code != "" || out != "5\n" {
			t.Fatalf("parameter sent with the request: %s %q", code, out)
		}
		if code, out := get("SELECT {id:UInt64}"); code != "456" {
			t.Fatalf("a later request without the parameter: %s %q, want 456", code, out)
		}
		if code, out := get("SET param_q = 'session'"); code != "" {
			t.Fatalf("SET param_q: %s %q", code, out)
		}
		for _, c := range []struct {
			params []string
			want   string
		}{
			{nil, "session\n"}, {[]string{"param_q", "request"}, "request\n"}, {nil, "session\n"},
		} {
			if code, out := get("SELECT {q:String}", c.params...); code != "" || out != c.want {
				t.Fatalf("SELECT {q:String} %v: %s %q, want %q", c.params, code, out, c.want)
			}
		}
	})
}

// TestSettingsScope: settings sent with a statement last for it alone, on a
// native connection as on an HTTP session, including readonly (which the
// engine does not let a statement undo) and the session's own values, which
// come back after it; an INSERT takes them in its own SETTINGS clause.
func TestSettingsScope(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	conn := openSession(t, w.NativeAddr, nil)
	setting := func(ctx context.Context, name string) string {
		t.Helper()
		return queryString(ctx, t, conn, "SELECT toString(getSetting('"+name+"'))")
	}
	with := func(s clickhouse.Settings) context.Context {
		return clickhouse.Context(ctx, clickhouse.WithSettings(s))
	}
	mustExec(ctx, t, conn, "SET max_threads = 3")
	if got := setting(with(clickhouse.Settings{"max_threads": 1, "readonly": 2}), "readonly"); got != "2" {
		t.Fatalf("readonly in the query that sent it = %s", got)
	}
	if got := setting(with(clickhouse.Settings{"max_threads": 1}), "max_threads"); got != "1" {
		t.Fatalf("max_threads in the query that sent it = %s", got)
	}
	if got, threads := setting(ctx, "readonly"), setting(ctx, "max_threads"); got != "0" || threads != "3" {
		t.Fatalf("after the queries: readonly %s, max_threads %s; want the session's 0 and 3", got, threads)
	}
	if err := conn.Exec(ctx, "CREATE TABLE scope (n UInt64) ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100"); err != nil {
		t.Fatalf("the session writes again after a read-only query: %v", err)
	}
	// A readonly query may not write, the next one may.
	if err := conn.Exec(with(clickhouse.Settings{"readonly": 1}), "INSERT INTO scope VALUES (1)"); exceptionCode(err) != 164 {
		t.Fatalf("insert under readonly=1: %v, want exception 164", err)
	}
	for range 2 {
		bctx := with(clickhouse.Settings{"insert_deduplicate": 1, "insert_deduplication_token": "scope-1"})
		batch, err := conn.PrepareBatch(bctx, "INSERT INTO scope")
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.Append(uint64(7)); err != nil {
			t.Fatal(err)
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("insert with a deduplication token: %v", err)
		}
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM scope").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after a replayed token: %d, %v; want 1", n, err)
	}
	if got := setting(ctx, "insert_deduplication_token"); got != "" {
		t.Fatalf("the insert's token outlived it: %q", got)
	}
}

// TestConcurrentParameters: statements with query parameters run at once on
// many connections of both protocols, each seeing its own values. (The
// engine holds parameters per handle; the server no longer serialises
// parameterised statements.)
func TestConcurrentParameters(t *testing.T) {
	w := startWarehouse(t)
	ctx := context.Background()
	native := openNative(t, w.NativeAddr, nil, clickhouse.Auth{})
	httpConn := openClickHouse(t, w.Addr)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		conn := native
		if g%2 == 1 {
			conn = httpConn
		}
		wg.Go(func() {
			for i := range 40 {
				v := fmt.Sprintf("g%d-%d", g, i)
				qctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"a": v, "b": v}))
				var a, b string
				var n uint64
				if err := conn.QueryRow(qctx, "SELECT {a:String}, {b:String}, count() FROM numbers(10000) WHERE toString(number) != {a:String}").Scan(&a, &b, &n); err != nil {
					errs <- err
					return
				}
				if a != v || b != v || n != 10000 {
					errs <- fmt.Errorf("statement with %s saw %s, %s, %d", v, a, b, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
