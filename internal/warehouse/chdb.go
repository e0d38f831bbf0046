//go:build chdb

package warehouse

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
)

// ChdbEngine is the ClickHouse engine embedded through libchdb.so.
//
// chDB binds one engine per process to one data path; any number of handles may
// be open on it and queries on different handles run in parallel.
type ChdbEngine struct {
	connString string
	// anchor keeps the engine alive between requests: closing the last handle
	// would shut the embedded server down and reopening it costs a full start.
	anchor chdbpurego.ChdbConn
}

// OpenChdb starts the embedded engine on dataDir (created if missing).
func OpenChdb(dataDir string) (*ChdbEngine, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data dir %q: %w", dataDir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	e := &ChdbEngine{connString: "file:" + abs}
	anchor, err := chdbpurego.NewConnectionFromConnString(e.connString)
	if err != nil {
		return nil, fmt.Errorf("start chDB on %s: %w", abs, err)
	}
	e.anchor = anchor
	return e, nil
}

// Open returns a new handle on the engine.
func (e *ChdbEngine) Open() (Conn, error) {
	c, err := chdbpurego.NewConnectionFromConnString(e.connString)
	if err != nil {
		return nil, fmt.Errorf("open chDB handle: %w", err)
	}
	return chdbConn{c}, nil
}

// Close shuts the engine down.
func (e *ChdbEngine) Close() error {
	e.anchor.Close()
	return nil
}

type chdbConn struct{ c chdbpurego.ChdbConn }

func (c chdbConn) Query(sql, format string) (Result, error) {
	r, err := c.c.Query(sql, format)
	if err != nil {
		return Result{}, err
	}
	if r == nil {
		return Result{}, nil
	}
	defer r.Free()
	if err := r.Error(); err != nil {
		return Result{}, err
	}
	// Buf points into memory that Free releases.
	data := append([]byte(nil), r.Buf()...)
	return Result{
		Data:      data,
		RowsRead:  r.RowsRead(),
		BytesRead: r.BytesRead(),
		Elapsed:   time.Duration(r.Elapsed() * float64(time.Second)),
	}, nil
}

func (c chdbConn) Close() { c.c.Close() }
