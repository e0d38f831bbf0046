package load_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/load"
	"github.com/shopstream/shopstream/load/tables"
)

// TestInsertedAtIsTheInsertTime: _inserted_at (migration 0008) is filled by
// the warehouse when a row is stored, in the raw change table and, through
// the view, in the current-state table; a row stored before the migration
// keeps one fixed time (the migration's), instead of the read-time default a
// bare ADD COLUMN would give old parts (which would make every old row look
// new to a watermark reader at every query).
func TestInsertedAtIsTheInsertTime(t *testing.T) {
	conn, _ := openWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The schema as it was before 0008, by hand (Migrate would apply all).
	for _, s := range migrationStatements(t, load.MigrateOptions{}, func(m load.Migration) bool { return m.Version < 8 }) {
		if err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%.80s: %v", s, err)
		}
	}
	insert := func(id string) {
		t.Helper()
		q := "INSERT INTO tiktok_webhook_events_changes (event_id, source, entity, op, source_ts, ingest_ts, version, tts_notification_id, type, timestamp, data_json, _key, _partition, _offset) " +
			"VALUES ('" + id + "', 'test', 'webhook_event', 'create', now64(3), now64(3), 1, '" + id + "', 1, now64(3), '{}', '" + id + "', 0, 0)"
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		q = "INSERT INTO product_links_changes (event_id, source, entity, op, source_ts, ingest_ts, version, product_key, channel, match_rule, unmatched, _key, _partition, _offset) " +
			"VALUES ('" + id + "', 'test', 'product_link', 'create', now64(3), now64(3), 1, 'p-" + id + "', 'tiktok', 'gtin', false, '" + id + "', 0, 0)"
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	insert("old")
	if _, err := load.Migrate(ctx, conn, load.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	migrated := queryStrings(t, conn, "SELECT toString(now64(3, 'UTC'))")[0]
	before := queryStrings(t, conn, "SELECT toString(now64(3, 'UTC'))")[0]
	insert("new")
	after := queryStrings(t, conn, "SELECT toString(now64(3, 'UTC'))")[0]
	// Wait (by polling the server's clock, not sleeping) until its clock
	// has moved past every time above: a value computed at read time
	// would now read later than after.
	for queryStrings(t, conn, "SELECT toString(now64(3, 'UTC') > toDateTime64('"+after+"', 3, 'UTC'))")[0] != "1" {
		if ctx.Err() != nil {
			t.Fatal("the warehouse clock does not move")
		}
	}
	for _, table := range []string{"tiktok_webhook_events_changes", "product_links_changes", "product_links FINAL"} {
		got := queryStrings(t, conn, "SELECT concat(_key, ' ', toString("+tables.InsertedAtColumn+")) FROM "+table+" ORDER BY _key")
		if len(got) != 2 {
			t.Fatalf("%s: %q", table, got)
		}
		at := map[string]string{}
		for _, l := range got {
			k, v, _ := strings.Cut(l, " ")
			at[k] = v
		}
		if at["new"] < before || at["new"] > after {
			t.Errorf("%s: new row stored at %s, not between %s and %s", table, at["new"], before, after)
		}
		if at["old"] > migrated {
			t.Errorf("%s: a row stored before the migration reads %s, after the migration (%s): computed at read time", table, at["old"], migrated)
		}
	}
	// Nobody writes it: the loader's column list does not name it.
	tb, err := tables.ForTopic("tiktok.orders")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range tb.Columns {
		if c.Name == tables.InsertedAtColumn {
			t.Fatal("the loader writes _inserted_at")
		}
	}
}
