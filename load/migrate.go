package load

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// migrationFiles are the versioned migrations, NNNN_name.sql, applied in
// version order. A released file never changes (Migrate refuses a changed
// checksum); a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable records the applied migrations.
const MigrationsTable = "shopstream_migrations"

// migrationsDDL creates the bookkeeping table. ReplacingMergeTree keyed by
// version lets several loaders that start at once record the same migration
// without a lock: the duplicates collapse, and readers use FINAL.
const migrationsDDL = `CREATE TABLE IF NOT EXISTS shopstream_migrations
(
    ` + "`version`" + ` UInt32, -- NNNN of the file name
    ` + "`name`" + ` String, -- the file name
    ` + "`checksum`" + ` String, -- SHA-256 of the file: a released migration must never change
    ` + "`applied_at`" + ` DateTime64(3, 'UTC') -- when it was recorded
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version`

// Migration is one embedded migration file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].Name, out[i].Name, out[i].Version)
		}
	}
	return out, nil
}

// MigrateOptions configure Migrate.
type MigrateOptions struct {
	// Cluster, when set, makes every statement ON CLUSTER Cluster: tables
	// become Replicated*MergeTree tables named <name>_local with a
	// Distributed table <name> in front (sharded by the entity key), and
	// materialized views read and write the local tables (plain views read
	// the Distributed ones). ALTER TABLE of a table changes both the local
	// and the Distributed table; ALTER TABLE ... MODIFY QUERY of a
	// materialized view reads the local table.
	Cluster string
}

// Statements returns the statements of m as Migrate runs them with opts.
func (m Migration) Statements(opts MigrateOptions) ([]string, error) {
	return statements(m.SQL, opts)
}

func statements(sql string, opts MigrateOptions) ([]string, error) {
	if opts.Cluster != "" && !identRE.MatchString(opts.Cluster) {
		return nil, fmt.Errorf("cluster name %q is not a plain identifier", opts.Cluster)
	}
	var out []string
	for _, s := range splitStatements(sql) {
		if opts.Cluster == "" {
			out = append(out, s)
			continue
		}
		cs, err := clusterize(s, opts.Cluster)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// splitStatements cuts a file at lines that end with a semicolon (outside
// comments). The migrations are our own files, written that way.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if stripComments(s) != "" {
			out = append(out, s)
		}
	}
	for _, line := range strings.SplitAfter(sql, "\n") {
		code, _, _ := strings.Cut(line, "--")
		if t := strings.TrimSpace(code); strings.HasSuffix(t, ";") {
			cur.WriteString(strings.Replace(line, ";", "", 1))
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		code, _, _ := strings.Cut(line, "--")
		b.WriteString(strings.TrimSpace(code))
	}
	return b.String()
}

var (
	identRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	createRE     = regexp.MustCompile(`(?m)^CREATE TABLE IF NOT EXISTS (\w+)\b`)
	mvRE         = regexp.MustCompile(`(?m)^CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS`)
	viewRE       = regexp.MustCompile(`(?m)^CREATE VIEW IF NOT EXISTS (\w+) AS`)
	alterRE      = regexp.MustCompile(`(?m)^ALTER TABLE (\w+)( MODIFY QUERY)?`)
	replaceRE    = regexp.MustCompile(`(?m)^CREATE OR REPLACE VIEW (\w+) AS`)
	fromRE       = regexp.MustCompile(`(?m)^FROM (\w+)\s*$`)
	mergeTreeRE  = regexp.MustCompile(`(?m)^ENGINE = (\w*)MergeTree(?:\((.*)\))?\s*$`)
	dedupSetting = "non_replicated_deduplication_window"
)

// materializeRE matches an ALTER that is a mutation of stored parts only.
var materializeRE = regexp.MustCompile(`(?m)^\s*MATERIALIZE COLUMN `)

// clusterize rewrites one statement for a cluster; see MigrateOptions.
func clusterize(stmt, cluster string) ([]string, error) {
	if m := mvRE.FindStringSubmatch(stmt); m != nil {
		s := mvRE.ReplaceAllString(stmt, fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS ${1} ON CLUSTER %s TO ${2}_local AS", cluster))
		if !fromRE.MatchString(s) {
			return nil, fmt.Errorf("view %s: no FROM line to point at the local table", m[1])
		}
		return []string{fromRE.ReplaceAllString(s, "FROM ${1}_local")}, nil
	}
	if m := alterRE.FindStringSubmatch(stmt); m != nil {
		if m[2] != "" {
			// A materialized view's new query reads the local table, as
			// the view itself does.
			s := alterRE.ReplaceAllString(stmt, fmt.Sprintf("ALTER TABLE ${1} ON CLUSTER %s${2}", cluster))
			if !fromRE.MatchString(s) {
				return nil, fmt.Errorf("view %s: no FROM line to point at the local table", m[1])
			}
			return []string{fromRE.ReplaceAllString(s, "FROM ${1}_local")}, nil
		}
		if materializeRE.MatchString(stmt) {
			// A mutation rewrites stored parts: only the local tables
			// have any.
			return []string{alterRE.ReplaceAllString(stmt, fmt.Sprintf("ALTER TABLE ${1}_local ON CLUSTER %s", cluster))}, nil
		}
		// A column change applies to the replicated local tables and to
		// the Distributed table in front of them, which has columns too.
		return []string{
			alterRE.ReplaceAllString(stmt, fmt.Sprintf("ALTER TABLE ${1}_local ON CLUSTER %s", cluster)),
			distributedAlter(stmt, m[1], cluster),
		}, nil
	}
	if replaceRE.MatchString(stmt) {
		return []string{replaceRE.ReplaceAllString(stmt, fmt.Sprintf("CREATE OR REPLACE VIEW ${1} ON CLUSTER %s AS", cluster))}, nil
	}
	if viewRE.MatchString(stmt) {
		// A plain view reads the Distributed tables, under the same names.
		return []string{viewRE.ReplaceAllString(stmt, fmt.Sprintf("CREATE VIEW IF NOT EXISTS ${1} ON CLUSTER %s AS", cluster))}, nil
	}
	m := createRE.FindStringSubmatch(stmt)
	if m == nil {
		return nil, fmt.Errorf("cannot run on a cluster, not a CREATE TABLE or view or an ALTER TABLE: %.60q", stmt)
	}
	name := m[1]
	local := name + "_local"
	s := createRE.ReplaceAllString(stmt, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s ON CLUSTER %s", local, cluster))
	em := mergeTreeRE.FindStringSubmatch(s)
	if em == nil {
		return nil, fmt.Errorf("table %s: no MergeTree engine line", name)
	}
	args := fmt.Sprintf("'/clickhouse/tables/{shard}/{database}/%s', '{replica}'", local)
	if em[2] != "" {
		args += ", " + em[2]
	}
	s = mergeTreeRE.ReplaceAllLiteralString(s, fmt.Sprintf("ENGINE = Replicated%sMergeTree(%s)", em[1], args))
	// Replicated tables deduplicate inserts by default; the window is the
	// same setting under its replicated name.
	s = strings.ReplaceAll(s, dedupSetting, "replicated_deduplication_window")
	// Rows of one key go to one shard, so ReplacingMergeTree can replace them
	// and the raw table and its view's target agree on where a key lives.
	shardBy := "rand()"
	if strings.Contains(stmt, "`_key`") {
		shardBy = "cityHash64(_key)"
	}
	dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s ON CLUSTER %s AS %s\nENGINE = Distributed(%s, currentDatabase(), %s, %s)",
		name, cluster, local, cluster, local, shardBy)
	return []string{s, dist}, nil
}

// distributedAlter is an ALTER TABLE (one clause per line) for the
// Distributed table name: its column clauses only, since the others
// (MODIFY ORDER BY) concern the storage of the local tables.
func distributedAlter(stmt, name, cluster string) string {
	s := alterRE.ReplaceAllString(stmt, fmt.Sprintf("ALTER TABLE ${1} ON CLUSTER %s", cluster))
	var clauses []string
	storage := false
	loc := alterRE.FindStringIndex(stmt)
	for _, line := range strings.Split(stmt[loc[1]:], "\n") {
		code, _, _ := strings.Cut(line, "--")
		switch code = strings.TrimSpace(code); {
		case code == "":
		case strings.HasPrefix(code, "ADD COLUMN"):
			clauses = append(clauses, strings.TrimSuffix(code, ","))
		default:
			storage = true
		}
	}
	if !storage {
		return s
	}
	return fmt.Sprintf("ALTER TABLE %s ON CLUSTER %s\n    %s", name, cluster, strings.Join(clauses, ",\n    "))
}

// DDLConn is what Migrate needs from a ClickHouse connection.
type DDLConn interface {
	Exec(ctx context.Context, query string, args ...any) error
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// Migrate applies the embedded migrations that conn's database has not
// recorded yet, in version order, and returns the names of those it applied.
// Every statement is idempotent (IF NOT EXISTS, OR REPLACE), so loaders that start at once
// may apply the same migration concurrently; each records it, and the
// records collapse. A recorded migration whose file changed is an error.
func Migrate(ctx context.Context, conn DDLConn, opts MigrateOptions) ([]string, error) {
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	boot, err := statements(migrationsDDL+";\n", opts)
	if err != nil {
		return nil, err
	}
	for _, s := range boot {
		if err := execDDL(ctx, conn, s); err != nil {
			return nil, fmt.Errorf("create %s: %w", MigrationsTable, err)
		}
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []string
	for _, m := range migs {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return done, fmt.Errorf("migration %s was changed after it was applied (checksum %s, recorded %s): add a new migration instead", m.Name, m.Checksum, sum)
			}
			continue
		}
		stmts, err := m.Statements(opts)
		if err != nil {
			return done, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		for i, s := range stmts {
			if err := execDDL(ctx, conn, s); err != nil {
				return done, fmt.Errorf("migration %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+MigrationsTable+" (version, name, checksum, applied_at) VALUES (?, ?, ?, now64(3))",
			uint32(m.Version), m.Name, m.Checksum); err != nil {
			return done, fmt.Errorf("record migration %s: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}

// execDDL runs one idempotent statement. A concurrent loader creating the
// same table can still win the race inside the server; that is success.
func execDDL(ctx context.Context, conn DDLConn, stmt string) error {
	err := conn.Exec(ctx, stmt)
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && ex.Code == codeTableAlreadyExists {
		return nil
	}
	return err
}

const codeTableAlreadyExists = 57

func appliedMigrations(ctx context.Context, conn DDLConn) (map[int]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, checksum FROM "+MigrationsTable+" FINAL")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
		}
		out[int(v)] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", MigrationsTable, err)
	}
	return out, nil
}
