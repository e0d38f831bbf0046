package ui

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/shopstream/shopstream/load"
)

// codeReadonly is ClickHouse's READONLY error: the session may not change
// the setting (or run the statement) because it is read-only.
const codeReadonly = 164

// readonlySetting is sent with every query: 2 refuses writes and DDL like
// 1, but still lets the client send the settings clickhouse-go and package
// export add per query (max_execution_time from a deadline, max_block_size),
// which 1 would refuse, and may not itself be lowered.
var readonlySetting = clickhouse.Settings{"readonly": 2}

// Conn is a warehouse connection the page reads through.
type Conn struct {
	driver.Conn
	// ReadOnly says how writes are refused: by the readonly setting sent
	// with every query, or by the user's own profile.
	ReadOnly string
}

// Open connects to the warehouse the way the stages do (see load.Open) and
// makes it read-only: every query carries readonly=2, or, when the user's
// profile is read-only already (the server then refuses to change it),
// none, and the profile refuses writes. A server that lets the user write
// and refuses readonly is an error: the page never reads through a
// connection that could write.
func Open(ctx context.Context, w load.Warehouse) (*Conn, error) {
	conn, err := open(ctx, w, readonlySetting)
	if err != nil {
		return nil, err
	}
	level, err := readonlyLevel(ctx, conn)
	if err == nil && level > 0 {
		return &Conn{Conn: conn, ReadOnly: "readonly=2 on every query"}, nil
	}
	_ = conn.Close()
	var ex *clickhouse.Exception
	if err != nil && !(errors.As(err, &ex) && ex.Code == codeReadonly) {
		return nil, fmt.Errorf("ui: read-only check: %w", err)
	}
	if conn, err = open(ctx, w, nil); err != nil {
		return nil, err
	}
	if level, err = readonlyLevel(ctx, conn); err != nil || level == 0 {
		_ = conn.Close()
		if err == nil {
			err = errors.New("the server neither accepts readonly nor has a read-only user")
		}
		return nil, fmt.Errorf("ui: read-only check: %w", err)
	}
	return &Conn{Conn: conn, ReadOnly: fmt.Sprintf("the user's profile (readonly=%d)", level)}, nil
}

// open connects as load.Open does, with settings sent on every query.
func open(ctx context.Context, w load.Warehouse, settings clickhouse.Settings) (driver.Conn, error) {
	w.Settings = settings
	conn, err := load.Open(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	return conn, nil
}

// readonlyLevel is the session's readonly setting as the server sees it.
func readonlyLevel(ctx context.Context, conn driver.Conn) (uint64, error) {
	ctx, cancel := withoutDeadline(ctx)
	defer cancel()
	var v string
	if err := conn.QueryRow(ctx, "SELECT toString(getSetting('readonly'))").Scan(&v); err != nil {
		return 0, err
	}
	var level uint64
	if _, err := fmt.Sscan(v, &level); err != nil {
		return 0, fmt.Errorf("readonly is %q: %w", v, err)
	}
	return level, nil
}

// withoutDeadline keeps ctx's values and cancellation but hides its
// deadline: clickhouse-go turns a deadline into the max_execution_time
// setting, which a user whose profile is readonly=1 may not send. The
// deadline still ends the query, by cancelling it.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	child, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return child, func() { stop(); cancel(context.Canceled) }
}
