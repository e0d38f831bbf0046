package warehouse

import "time"

// Engine opens handles on the ClickHouse engine that serves the warehouse.
//
// A handle carries per-connection state (USE, SET), like a ClickHouse session;
// handles are cheap to open, so stateless requests get a fresh one and never see
// each other's settings.
type Engine interface {
	Open() (Conn, error)
	// Close releases the engine; it is called once, after every handle is closed.
	Close() error
}

// Conn is one engine handle. It is used by one goroutine at a time.
type Conn interface {
	// Query runs sql and returns its output in format (a ClickHouse format name).
	// A FORMAT clause inside sql takes precedence, as in ClickHouse.
	Query(sql, format string) (Result, error)
	Close()
}

// queryOnce runs sql on a handle of its own, closed after it, and returns
// its output as TabSeparated.
func queryOnce(engine Engine, sql string) (Result, error) {
	c, err := engine.Open()
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	return c.Query(sql, "TabSeparated")
}

// Result is the output of one statement.
type Result struct {
	Data      []byte
	RowsRead  uint64
	BytesRead uint64
	// RowsWritten and BytesWritten count what an INSERT wrote, when known.
	RowsWritten  uint64
	BytesWritten uint64
	Elapsed      time.Duration
}
