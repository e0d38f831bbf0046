package warehouse_test

import (
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
)

// startWarehouse starts a fresh warehouse process for one test.
func startWarehouse(t *testing.T, env ...string) *testenv.Warehouse {
	t.Helper()
	return testenv.StartWarehouse(t, env...)
}
