package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Warehouse says how to reach ClickHouse.
type Warehouse struct {
	// Addr is host:port.
	Addr string
	// Protocol is "native" (port 9000, the production default) or "http"
	// (the embedded warehouse, or a server's port 8123).
	Protocol string
	Database string
	User     string
	Password string
	// MaxOpenConns bounds the connections; the loader needs one per
	// in-flight batch.
	MaxOpenConns int
	// TLS, if set, reaches Addr over TLS (https, or the native secure port).
	TLS *tls.Config
	// Settings are sent with every query of the connection (e.g. readonly);
	// nil sends none beyond the client's own.
	Settings clickhouse.Settings
}

// URL is the warehouse's HTTP base URL (https with TLS).
func (w Warehouse) URL() string {
	if w.TLS != nil {
		return "https://" + w.Addr
	}
	return "http://" + w.Addr
}

// Open connects to the warehouse and checks that it answers.
func Open(ctx context.Context, w Warehouse) (driver.Conn, error) {
	conn, err := Dial(w)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("warehouse %s (%s) does not answer: %w", w.Addr, w.Protocol, err)
	}
	return conn, nil
}

// Dial returns a connection pool to the warehouse without reaching it: its
// connections are made when used, so a warehouse that is away now is not
// an error (the loader waits for it).
func Dial(w Warehouse) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr:         []string{w.Addr},
		Auth:         clickhouse.Auth{Database: w.Database, Username: w.User, Password: w.Password},
		DialTimeout:  10 * time.Second,
		ReadTimeout:  5 * time.Minute,
		MaxOpenConns: max(w.MaxOpenConns, 2),
		MaxIdleConns: max(w.MaxOpenConns, 2),
		TLS:          w.TLS,
		Settings:     w.Settings,
	}
	switch w.Protocol {
	case "native", "":
		opts.Protocol = clickhouse.Native
		// LZ4 block compression halves the bytes on the wire for the cost of
		// little CPU.
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	case "http":
		opts.Protocol = clickhouse.HTTP
	default:
		return nil, fmt.Errorf("warehouse protocol %q is not native or http", w.Protocol)
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s (%s): %w", w.Addr, w.Protocol, err)
	}
	return conn, nil
}
