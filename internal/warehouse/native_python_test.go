package warehouse_test

import (
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
)

// nativePythonVar holds the Python of the venv with clickhouse-driver
// (make native-venv).
const nativePythonVar = "SHOPSTREAM_TEST_NATIVE_PYTHON"

// TestNativeClickHouseDriver is the matrix row of clickhouse-driver
// (Python, pinned in testdata/requirements-native.txt) over the native
// protocol: testdata/native_driver.py connects, creates a table of every
// column type the tables use, inserts rows (100,000 with LZ4), reads them
// back equal, runs client- and server-side parameters, a per-query setting
// and an error whose code it checks, once per compression method.
func TestNativeClickHouseDriver(t *testing.T) {
	py := testenv.Require(t, nativePythonVar, "Python with clickhouse-driver (make native-venv)")
	w := startWarehouse(t)
	host, port, err := net.SplitHostPort(w.NativeAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ compression, rows string }{{"lz4", "100000"}, {"none", "20000"}, {"zstd", "20000"}} {
		t.Run(tc.compression, func(t *testing.T) {
			out, err := exec.Command(py, "testdata/native_driver.py", host, port, tc.compression, tc.rows).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "ok ") {
				t.Fatalf("clickhouse-driver with compression %s: %v\n%s", tc.compression, err, out)
			}
			t.Log(strings.TrimSpace(string(out)))
		})
	}
}
