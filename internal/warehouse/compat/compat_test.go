package compat_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testenv"
)

// ddl is the table every client creates: each column type product_daily and
// the raw tables use, Nested included.
const ddl = `CREATE TABLE %s (
	id UInt64,
	name String,
	channel LowCardinality(String),
	region LowCardinality(Nullable(String)),
	units Nullable(Int64),
	price Decimal(18, 4),
	discount Nullable(Decimal(18, 4)),
	score Nullable(Float64),
	active Nullable(Bool),
	day Date32,
	changed_at DateTime64(3, 'UTC'),
	tags Array(String),
	ratings Array(Nullable(Float64)),
	items Nested(sku String, qty Int64)
) ENGINE = MergeTree ORDER BY id`

// expectedRowsSQL computes in ClickHouse the rows each client generates
// itself: row i of every client is this function of i.
const expectedRowsSQL = `SELECT
	number AS id,
	concat('p', toString(number), if(number % 7 = 0, '-é', '')) AS name,
	['amazon', 'tiktok_shop', 'tiktok_ads'][number % 3 + 1] AS channel,
	if(number % 4 = 0, NULL, ['eu', 'us', 'jp'][number % 3 + 1]) AS region,
	if(number % 5 = 0, NULL, toInt64(number) * 3 - 150000) AS units,
	toDecimal64(toInt64(number * 7919 % 100000000) - 50000000, 4) / 10000 AS price,
	if(number % 6 = 0, NULL, toDecimal64(number % 10000, 4) / 10000) AS discount,
	if(number % 9 = 0, NULL, number * 0.125) AS score,
	if(number % 3 = 0, NULL, number % 2 = 0) AS active,
	addDays(toDate32('1970-01-01'), toInt32(number % 146000) - 25567) AS day,
	fromUnixTimestamp64Milli(toInt64(1700000000000 + number * 1001), 'UTC') AS changed_at,
	arrayMap(j -> concat('t', toString(number + j)), range(number % 4)) AS tags,
	arrayMap(j -> if(j = 1, NULL, j * 0.5), range(number % 3)) AS ratings,
	arrayMap(j -> concat('s', toString(number), '-', toString(j)), range(number % 3)) AS ` + "`items.sku`" + `,
	arrayMap(j -> toInt64((number + j) % 1000), range(number % 3)) AS ` + "`items.qty`" + `
FROM numbers({rows})`

var nonIdentifier = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// Checks every client reports; checkAuth only when a password is set.
var baseChecks = []string{"connect", "ddl", "insert", "readback", "compression_on", "compression_off", "params", "session", "error"}

const checkAuth = "auth_rejected"

// target is the warehouse a client runs against.
type target struct {
	host, port     string
	user, password string
	table          string
	rows           int
	// wrongPassword asks the client to show that a wrong password is refused
	// with code 516.
	wrongPassword bool
	// native says host:port is the native protocol's, not HTTP's.
	native bool
}

func (tg target) env() []string {
	wrong := "0"
	if tg.wrongPassword {
		wrong = "1"
	}
	return []string{"CH_HOST=" + tg.host, "CH_PORT=" + tg.port, "CH_USER=" + tg.user, "CH_PASSWORD=" + tg.password,
		"CH_TABLE=" + tg.table, "CH_DDL=" + fmt.Sprintf(ddl, tg.table), "CH_ROWS=" + strconv.Itoa(tg.rows),
		"CH_WRONG_PASSWORD_CHECK=" + wrong}
}

// client is one row of the matrix.
type client struct {
	name, version, protocol string
	// run performs the checks and returns their lines ("CHECK name ok|fail ...").
	run func(t *testing.T, tg target) string
	// without are base checks the client has no way to do.
	without []string
}

// script runs a program of this directory with the target in its
// environment; setup names the interpreter and any environment it needs.
func script(setup func(t *testing.T) (tool string, env []string), args ...string) func(t *testing.T, tg target) string {
	return func(t *testing.T, tg target) string {
		t.Helper()
		tool, env := setup(t)
		args := append([]string{}, args...)
		for i, a := range args {
			if a == "{jdbc}" {
				args[i] = filepath.Join(testenv.Require(t, "SHOPSTREAM_TEST_JDBC_LIB", "the JDBC driver's jars (make compat-clients)"), "*")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tool, args...)
		cmd.Env = append(append(os.Environ(), env...), tg.env()...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s %v: %v\nstderr:\n%s", tool, args, err, tail(stderr.String(), 4000))
		}
		return string(out)
	}
}

// python is the dbt venv's interpreter, which has clickhouse-connect and
// dbt-clickhouse.
func python(t *testing.T) (string, []string) {
	return testenv.Require(t, "SHOPSTREAM_TEST_PYTHON", "the venv's Python with clickhouse-connect (make venv)"), nil
}

// nativePython is the Python of the venv with clickhouse-driver, the
// native-protocol client (make native-venv).
func nativePython(t *testing.T) (string, []string) {
	return testenv.Require(t, "SHOPSTREAM_TEST_NATIVE_PYTHON", "the Python with clickhouse-driver (make native-venv)"), nil
}

// java is the system's Java, which runs JdbcCheck.java from source.
func java(t *testing.T) (string, []string) {
	tool, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	return tool, nil
}

// node is the system's Node.js with the pinned @clickhouse/client.
func node(t *testing.T) (string, []string) {
	modules := testenv.Require(t, "SHOPSTREAM_TEST_NODE_MODULES", "@clickhouse/client installed by make compat-clients")
	tool, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	return tool, []string{"NODE_PATH=" + modules}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

var clients = []client{
	{"clickhouse-go", "v2.51.0", "HTTP", runClickHouseGo, nil},
	{"curl", "system", "HTTP", runCurl, nil},
	{"clickhouse-connect", "1.12.0", "HTTP", script(python, "clickhouse_connect_check.py"), nil},
	{"@clickhouse/client", "1.23.1", "HTTP", script(node, "node/clickhouse_js_check.js"), nil},
	{"clickhouse-jdbc", "0.10.0", "HTTP", script(java, "-cp", "{jdbc}", "jdbc/JdbcCheck.java"), nil},
	{"clickhouse-go", "v2.51.0", "native", runClickHouseGo, nil},
	{"clickhouse-driver", "0.2.11", "native", script(nativePython, "clickhouse_driver_check.py"), nil},
	// dbt has no query parameters: a project's values are rendered into
	// its SQL by Jinja.
	{"dbt-clickhouse", "1.10.3", "HTTP", script(python, "dbt_check.py"), []string{"params"}},
}

// TestClientMatrix runs every client against a fresh warehouse, once with no
// password (100,000 rows) and once with a user and password (1,000 rows),
// and checks on the server that the rows that landed are exactly the
// expected ones.
func TestClientMatrix(t *testing.T) {
	testenv.Binary(t)
	for _, c := range clients {
		for _, auth := range []bool{false, true} {
			name := c.name + "/" + c.protocol + "/no-password"
			if auth {
				name = c.name + "/" + c.protocol + "/password"
			}
			t.Run(name, func(t *testing.T) {
				env := []string{}
				tg := target{user: "default", table: "compat_" + strings.Trim(nonIdentifier.ReplaceAllString(c.name, "_"), "_"), rows: 100000,
					native: c.protocol == "native"}
				if auth {
					tg.user, tg.password, tg.rows, tg.wrongPassword = "shop_analyst", "pa55:w0rd é", 1000, true
					env = append(env, "SHOPSTREAM_WAREHOUSE_USER="+tg.user, "SHOPSTREAM_WAREHOUSE_PASSWORD="+tg.password)
				}
				w := testenv.StartWarehouse(t, env...)
				u, err := url.Parse(w.URL)
				if err != nil {
					t.Fatal(err)
				}
				tg.host, tg.port = u.Hostname(), u.Port()
				if tg.native {
					if tg.host, tg.port, err = net.SplitHostPort(w.NativeAddr); err != nil {
						t.Fatal(err)
					}
				}
				out := c.run(t, tg)
				results := parseChecks(out)
				var want []string
				for _, check := range baseChecks {
					if !slices.Contains(c.without, check) {
						want = append(want, check)
					}
				}
				if auth {
					want = append(want, checkAuth)
				}
				for _, check := range want {
					r, ok := results[check]
					switch {
					case !ok:
						t.Errorf("%s: check %s not reported", c.name, check)
					case r != "ok":
						t.Errorf("%s: check %s: %s", c.name, check, r)
					}
				}
				for check, r := range results {
					if r != "ok" && !slices.Contains(want, check) {
						t.Errorf("%s: check %s: %s", c.name, check, r)
					}
				}
				verifyRows(t, w.URL, tg)
				if !t.Failed() {
					checks := make([]string, 0, len(results))
					for k := range results {
						checks = append(checks, k)
					}
					sort.Strings(checks)
					t.Logf("%s %s over %s: %s", c.name, c.version, c.protocol, strings.Join(checks, ", "))
				}
			})
		}
	}
}

func parseChecks(out string) map[string]string {
	results := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) < 3 || f[0] != "CHECK" {
			continue
		}
		if f[2] == "ok" {
			if _, failed := results[f[1]]; !failed {
				results[f[1]] = "ok"
			}
			continue
		}
		results[f[1]] = f[2] // a failure wins over an earlier ok
	}
	return results
}

// verifyRows checks on the server that the client's table holds exactly the
// expected rows, comparing every column with ClickHouse's own computation.
func verifyRows(t *testing.T, base string, tg target) {
	t.Helper()
	run := func(sql string) string {
		t.Helper()
		out, err := httpQuery(base, tg.user, tg.password, sql)
		if err != nil {
			t.Fatalf("verify %q: %v", sql, err)
		}
		return out
	}
	run(fmt.Sprintf(ddl, "expected"))
	run("INSERT INTO expected " + strings.ReplaceAll(expectedRowsSQL, "{rows}", strconv.Itoa(tg.rows)))
	got := run(fmt.Sprintf(`SELECT
		(SELECT count() FROM %[1]s),
		(SELECT count() FROM (SELECT * FROM %[1]s EXCEPT SELECT * FROM expected)),
		(SELECT count() FROM (SELECT * FROM expected EXCEPT SELECT * FROM %[1]s))`, tg.table))
	if want := fmt.Sprintf("%d\t0\t0\n", tg.rows); got != want {
		t.Errorf("rows on the server: count, unexpected, missing = %q, want %q", got, want)
	}
}

func httpQuery(base, user, password, sql string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), nil
}
