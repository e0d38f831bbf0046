package cursor

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/schemas"
	"github.com/shopstream/shopstream/schemas/schematest"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func TestAdvance(t *testing.T) {
	c := New("amazon", "orders/ATVPDKIKX0DER")
	if c.Stored() || c.Version != 0 || c.Key() != "amazon:orders/ATVPDKIKX0DER" {
		t.Fatalf("New = %+v", c)
	}
	c1 := c.Advance("tok-1", t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if c1.Version != 1 || c1.Op != OpCreate || c1.Position != "tok-1" || !c1.Stored() {
		t.Errorf("first Advance = %+v", c1)
	}
	c2 := c1.Advance("", t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	if c2.Version != 2 || c2.Op != OpUpdate || c2.Position != "" {
		t.Errorf("second Advance = %+v", c2)
	}
	if c1.EventID() == c2.EventID() {
		t.Error("two advances share an event id")
	}
	// An advance re-done after a crash is the same record.
	if again := c.Advance("tok-1", t0, t0.Add(time.Hour), t0.Add(5*time.Hour)); again.EventID() != c1.EventID() || again.Version != c1.Version {
		t.Errorf("re-done advance = %+v (%s), want version %d and id %s", again, again.EventID(), c1.Version, c1.EventID())
	}
}

// TestRecordRoundTrip: a cursor survives the shopstream.cursors schema, with
// and without the optional fields.
func TestRecordRoundTrip(t *testing.T) {
	codec, err := schemas.NewCodec(schemas.TopicCursors)
	if err != nil {
		t.Fatal(err)
	}
	full := New("tiktokshop", "orders/shop-1").Advance("page-7", t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	bare := New("amazon", "catalog").Advance("", time.Time{}, time.Time{}, t0)
	for _, c := range []Cursor{full, bare} {
		_, rec := schematest.RoundTrip(t, codec, c.Record())
		if rec["event_id"] != c.EventID() {
			t.Errorf("event_id = %v, want %s", rec["event_id"], c.EventID())
		}
		got, err := FromRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
}

func TestFromRecordRefusesMalformed(t *testing.T) {
	good := New("amazon", "x").Advance("p", t0, t0, t0).Record()
	for name, mutate := range map[string]func(map[string]any){
		"no name":         func(r map[string]any) { r["cursor_name"] = "" },
		"version type":    func(r map[string]any) { r["version"] = "1" },
		"missing source":  func(r map[string]any) { delete(r, "source") },
		"source_ts type":  func(r map[string]any) { r["source_ts"] = int64(1) },
		"missing version": func(r map[string]any) { delete(r, "version") },
	} {
		rec := map[string]any{}
		for k, v := range good {
			rec[k] = v
		}
		mutate(rec)
		if _, err := FromRecord(rec); err == nil {
			t.Errorf("%s: FromRecord succeeded", name)
		}
	}
}

func TestSetWithPrefix(t *testing.T) {
	s := NewSet("amazon")
	for _, n := range []string{"changecapture/order/b", "orders/X", "changecapture/order/a", "changecapture/orders/c"} {
		s.byName[n] = New("amazon", n)
	}
	got := s.WithPrefix("changecapture/order/")
	if len(got) != 2 || got[0].Name != "changecapture/order/a" || got[1].Name != "changecapture/order/b" {
		t.Errorf("WithPrefix = %+v", got)
	}
	if c := s.Cursor("missing"); c.Stored() || c.Source != "amazon" {
		t.Errorf("Cursor(missing) = %+v", c)
	}
}
