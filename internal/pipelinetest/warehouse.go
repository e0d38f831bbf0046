package pipelinetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Warehouse queries a ClickHouse HTTP interface (run's embedded warehouse)
// as a user's client does.
type Warehouse struct {
	// URL is http://host:port.
	URL string
	// User and Password are sent as basic auth when User or Password is set.
	User, Password string
	// Client defaults to a client with a 2-minute timeout.
	Client *http.Client
}

// Query runs sql and returns the body (TabSeparated unless sql says
// FORMAT). An answer other than 200 is an error with ClickHouse's message.
func (w *Warehouse) Query(ctx context.Context, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/?"+url.Values{"default_format": {"TabSeparated"}}.Encode(), strings.NewReader(sql))
	if err != nil {
		return "", fmt.Errorf("query %.80q: %w", sql, err)
	}
	if w.User != "" || w.Password != "" {
		req.SetBasicAuth(w.User, w.Password)
	}
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("query %.80q: %w", sql, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("query %.80q: read answer: %w", sql, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("query %.80q: %s: %s", sql, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// Rows runs sql and returns its TabSeparated rows, split into fields
// (values are not unescaped: keep them plain).
func (w *Warehouse) Rows(ctx context.Context, sql string) ([][]string, error) {
	body, err := w.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if l != "" {
			out = append(out, strings.Split(l, "\t"))
		}
	}
	return out, nil
}

// Int runs sql, which returns one integer.
func (w *Warehouse) Int(ctx context.Context, sql string) (int64, error) {
	body, err := w.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(body), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("query %.80q: not one integer: %q", sql, body)
	}
	return n, nil
}

// WaitInt polls sql (one integer) every 200 ms until done accepts its value
// and returns it; on ctx's end it returns the last value with the error.
// Failed queries count as not done (the warehouse may be restarting).
func (w *Warehouse) WaitInt(ctx context.Context, sql string, done func(int64) bool) (int64, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last int64
	var lastErr error
	for {
		n, err := w.Int(ctx, sql)
		if err == nil && done(n) {
			return n, nil
		}
		if err == nil {
			last = n
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("%w (last error: %w)", ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("waiting for %.100q (last value %d): %w", sql, last, ctx.Err())
		case <-tick.C:
		}
	}
}
