package compat_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"
)

// row is one generated row, in clickhouse-go's types.
type row struct {
	ID        uint64
	Name      string
	Channel   string
	Region    *string
	Units     *int64
	Price     decimal.Decimal
	Discount  *decimal.Decimal
	Score     *float64
	Active    *bool
	Day       time.Time
	ChangedAt time.Time
	Tags      []string
	Ratings   []*float64
	ItemsSKU  []string
	ItemsQty  []int64
}

func ptr[T any](v T) *T { return &v }

// genRow is row i, as expectedRowsSQL computes it.
func genRow(i uint64) row {
	r := row{ID: i, Name: fmt.Sprintf("p%d", i), Channel: []string{"amazon", "tiktok_shop", "tiktok_ads"}[i%3]}
	if i%7 == 0 {
		r.Name += "-é"
	}
	if i%4 != 0 {
		r.Region = ptr([]string{"eu", "us", "jp"}[i%3])
	}
	if i%5 != 0 {
		r.Units = ptr(int64(i)*3 - 150000)
	}
	r.Price = decimal.New(int64(i*7919%100000000)-50000000, -4)
	if i%6 != 0 {
		r.Discount = ptr(decimal.New(int64(i%10000), -4))
	}
	if i%9 != 0 {
		r.Score = ptr(float64(i) * 0.125)
	}
	if i%3 != 0 {
		r.Active = ptr(i%2 == 0)
	}
	r.Day = time.Unix(0, 0).UTC().AddDate(0, 0, int(i%146000)-25567)
	r.ChangedAt = time.UnixMilli(int64(1700000000000 + i*1001)).UTC()
	r.Tags = []string{}
	for j := range i % 4 {
		r.Tags = append(r.Tags, fmt.Sprintf("t%d", i+j))
	}
	r.Ratings = []*float64{}
	r.ItemsSKU, r.ItemsQty = []string{}, []int64{}
	for j := range i % 3 {
		if j == 1 {
			r.Ratings = append(r.Ratings, nil)
		} else {
			r.Ratings = append(r.Ratings, ptr(float64(j)*0.5))
		}
		r.ItemsSKU = append(r.ItemsSKU, fmt.Sprintf("s%d-%d", i, j))
		r.ItemsQty = append(r.ItemsQty, int64((i+j)%1000))
	}
	return r
}

// equalRows compares rows value by value (decimals by value, times by instant).
func equalRows(a, b row) bool {
	if !a.Price.Equal(b.Price) || (a.Discount == nil) != (b.Discount == nil) || a.Discount != nil && !a.Discount.Equal(*b.Discount) ||
		!a.Day.Equal(b.Day) || !a.ChangedAt.Equal(b.ChangedAt) {
		return false
	}
	a.Price, b.Price, a.Discount, b.Discount = decimal.Zero, decimal.Zero, nil, nil
	a.Day, b.Day, a.ChangedAt, b.ChangedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

const columns = "id, name, channel, region, units, price, discount, score, active, day, changed_at, tags, ratings, `items.sku`, `items.qty`"

func openGo(tg target, password string, compress *clickhouse.Compression, settings clickhouse.Settings) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Addr:        []string{net.JoinHostPort(tg.host, tg.port)},
		Protocol:    clickhouse.HTTP,
		Auth:        clickhouse.Auth{Username: tg.user, Password: password},
		Compression: compress,
		Settings:    settings,
		DialTimeout: 10 * time.Second,
		ReadTimeout: 5 * time.Minute,
	}
	if tg.native {
		// One connection: over the native protocol the connection is the
		// session.
		opts.Protocol, opts.MaxOpenConns = clickhouse.Native, 1
	}
	return clickhouse.Open(opts)
}

// runClickHouseGo is the matrix row of clickhouse-go over HTTP or the native
// protocol (tg.native): LZ4 block compression (over HTTP compress=1 and
// decompress=1) on one connection, none on the other.
func runClickHouseGo(t *testing.T, tg target) string {
	ctx := context.Background()
	var out strings.Builder
	report := func(check string, err error) bool {
		if err != nil {
			fmt.Fprintf(&out, "CHECK %s fail %v\n", check, strings.ReplaceAll(err.Error(), "\n", " "))
			return false
		}
		fmt.Fprintf(&out, "CHECK %s ok\n", check)
		return true
	}
	on, err := openGo(tg, tg.password, &clickhouse.Compression{Method: clickhouse.CompressionLZ4}, nil)
	if !report("connect", err) {
		return out.String()
	}
	defer on.Close()
	off, err := openGo(tg, tg.password, nil, nil)
	if !report("connect", err) {
		return out.String()
	}
	defer off.Close()
	report("connect", on.Ping(ctx))
	report("ddl", on.Exec(ctx, fmt.Sprintf(ddl, tg.table)))

	insert := func(conn driver.Conn, from, to uint64) error {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+tg.table+" ("+columns+")")
		if err != nil {
			return err
		}
		for i := from; i < to; i++ {
			r := genRow(i)
			if err := batch.Append(r.ID, r.Name, r.Channel, r.Region, r.Units, r.Price, r.Discount, r.Score, r.Active,
				r.Day, r.ChangedAt, r.Tags, r.Ratings, r.ItemsSKU, r.ItemsQty); err != nil {
				return err
			}
		}
		return batch.Send()
	}
	readBack := func(conn driver.Conn) error {
		rows, err := conn.Query(ctx, "SELECT "+columns+" FROM "+tg.table+" ORDER BY id")
		if err != nil {
			return err
		}
		defer rows.Close()
		var n uint64
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.ID, &r.Name, &r.Channel, &r.Region, &r.Units, &r.Price, &r.Discount, &r.Score, &r.Active,
				&r.Day, &r.ChangedAt, &r.Tags, &r.Ratings, &r.ItemsSKU, &r.ItemsQty); err != nil {
				return err
			}
			if want := genRow(n); !equalRows(r, want) {
				return fmt.Errorf("row %d = %+v, want %+v", n, r, want)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n != uint64(tg.rows) {
			return fmt.Errorf("read %d rows, want %d", n, tg.rows)
		}
		return nil
	}
	half := uint64(tg.rows / 2)
	errOn := insert(on, 0, half)
	errOff := insert(off, half, uint64(tg.rows))
	report("insert", errors.Join(errOn, errOff))
	errOnRead := readBack(on)
	report("readback", errOnRead)
	report("compression_on", errors.Join(errOn, errOnRead))
	report("compression_off", errors.Join(errOff, readBack(off)))

	var name string
	err = on.QueryRow(clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"id": "7"})),
		"SELECT name FROM "+tg.table+" WHERE id = {id:UInt64}").Scan(&name)
	if err == nil && name != "p7-é" {
		err = fmt.Errorf("parameterised query returned %q", name)
	}
	report("params", err)

	// clickhouse-go sends its settings as URL parameters, session_id too;
	// over the native protocol its one connection is the session.
	var sessSettings clickhouse.Settings
	if !tg.native {
		sessSettings = clickhouse.Settings{"session_id": fmt.Sprintf("compat-go-%d", time.Now().UnixNano())}
	}
	sess, err := openGo(tg, tg.password, nil, sessSettings)
	if err == nil {
		defer sess.Close()
		err = sess.Exec(ctx, "SET max_threads = 3")
	}
	if err == nil {
		var v string
		if err = sess.QueryRow(ctx, "SELECT getSetting('max_threads')::String").Scan(&v); err == nil && v != "3" {
			err = fmt.Errorf("max_threads in the session = %s, want 3", v)
		}
	}
	report("session", err)

	if tg.native {
		// Over HTTP a server sends no header block for an empty result;
		// over the native protocol it does.
		report("empty_result", emptyResultColumns(ctx, on, tg.table))
	}

	err = on.Exec(ctx, "SELECT * FROM no_such_table")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 {
		report("error", fmt.Errorf("got %v, want an exception with code 60", err))
	} else {
		report("error", nil)
	}

	if tg.wrongPassword {
		bad, err := openGo(tg, tg.password+"x", nil, nil)
		if err == nil {
			err = bad.Ping(ctx)
			bad.Close()
		}
		if !errors.As(err, &ex) || ex.Code != 516 {
			report(checkAuth, fmt.Errorf("wrong password: got %v, want an exception with code 516", err))
		} else {
			report(checkAuth, nil)
		}
	}
	return out.String()
}

// emptyResultColumns checks that a query without rows reports its columns.
func emptyResultColumns(ctx context.Context, conn driver.Conn, table string) error {
	rows, err := conn.Query(ctx, "SELECT id, price, changed_at FROM "+table+" WHERE id > 1000000000000")
	if err != nil {
		return err
	}
	defer rows.Close()
	var got []string
	for _, c := range rows.ColumnTypes() {
		got = append(got, c.Name()+" "+c.DatabaseTypeName())
	}
	if rows.Next() {
		return errors.New("the empty query returned a row")
	}
	if want := []string{"id UInt64", "price Decimal(18, 4)", "changed_at DateTime64(3, 'UTC')"}; !slices.Equal(got, want) {
		return fmt.Errorf("columns of an empty result: %v, want %v", got, want)
	}
	return rows.Err()
}
