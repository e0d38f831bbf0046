package export

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shopstream/shopstream/load"
)

// TestEmptyResultHeader: a query without rows exports its header row over
// both protocols. Over HTTP the Native answer to it is empty (as from a
// ClickHouse server), so the columns come from DESCRIBE; over the native
// protocol from the server's header block.
func TestEmptyResultHeader(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	native, err := load.Open(ctx, load.Warehouse{Addr: w.wh.NativeAddr, Protocol: "native"})
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close()
	sheet := Sheet{Query: "SELECT number AS n, toString(number) AS label, toDecimal64(number, 2) AS amount FROM numbers(10) WHERE n > {min:UInt64}",
		Params: map[string]string{"min": "100"}}
	for name, q := range map[string]Querier{"http": w.conn, "native": native} {
		var buf bytes.Buffer
		st, err := WriteCSV(ctx, &buf, q, sheet, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Rows != 0 || buf.String() != "n,label,amount\n" && buf.String() != "n,label,amount\r\n" {
			t.Errorf("%s: %d rows, %q; want the header row alone", name, st.Rows, buf.String())
		}
	}
}
