package pipelinetest

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
)

// MigratedWarehouse starts a fresh embedded warehouse (testenv.StartWarehouse)
// and creates the loader's tables in database (created when it is not
// "default"), as `shopstream migrate` does. It returns the warehouse and a
// connection to database, closed when the test ends.
func MigratedWarehouse(t testing.TB, database string) (*testenv.Warehouse, driver.Conn) {
	t.Helper()
	w := testenv.StartWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func(db string) driver.Conn {
		conn, err := load.Open(ctx, load.Warehouse{Addr: w.Addr, Protocol: "http", Database: db, User: "default"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	conn := open("default")
	if database != "default" {
		if err := conn.Exec(ctx, "CREATE DATABASE "+database); err != nil {
			t.Fatal(err)
		}
		conn = open(database)
	}
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return w, conn
}

// DbtProject returns the absolute path of the repository's dbt project: dbt/
// next to the go.mod above the test's directory.
func DbtProject(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "dbt")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// DbtProfile returns the variables that point the project's profile
// (dbt/profiles.yml) at the warehouse whose HTTP interface is baseURL: models
// built in analytics over the loader's tables in raw.
func DbtProfile(t testing.TB, baseURL, raw string) []string {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"DBT_CLICKHOUSE_HOST=" + u.Hostname(), "DBT_CLICKHOUSE_PORT=" + u.Port(),
		"DBT_CLICKHOUSE_SCHEMA=analytics", "DBT_CLICKHOUSE_RAW_SCHEMA=" + raw}
}

// DbtEnv returns the whole environment of a dbt process run by a test: the
// test's own without its DBT_* variables (a developer's profile or server
// must not leak in), DbtProfile, and target and log directories under
// workDir.
func DbtEnv(t testing.TB, baseURL, raw, workDir string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBT_") {
			env = append(env, kv)
		}
	}
	return append(append(env, DbtProfile(t, baseURL, raw)...),
		"DBT_TARGET_PATH="+filepath.Join(workDir, "target"), "DBT_LOG_PATH="+filepath.Join(workDir, "logs"),
		"DBT_SEND_ANONYMOUS_USAGE_STATS=false", "DBT_USE_COLORS=false")
}
