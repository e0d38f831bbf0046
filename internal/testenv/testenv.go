// Package testenv gives integration tests the real services that `make test` starts.
//
// Outside `make test` a missing service skips the test; under `make test`
// (SHOPSTREAM_INTEGRATION=1) it fails it, so a skipped integration test can never
// be counted as a pass in CI.
package testenv

import (
	"os"
	"strings"
	"testing"
)

// Environment variables set by `make test` (see the Makefile).
const (
	// IntegrationVar is "1" when every integration service must be present.
	IntegrationVar = "SHOPSTREAM_INTEGRATION"
	// KafkaVar holds the bootstrap brokers of the real Apache Kafka started by deploy/local/kafka.sh.
	KafkaVar = "SHOPSTREAM_TEST_KAFKA"
	// ChdbLibVar holds the path of libchdb.so for tests that start the embedded warehouse.
	ChdbLibVar = "CHDB_LIB_PATH"
	// BinaryVar holds the path of a shopstream binary built with the chdb tag.
	BinaryVar = "SHOPSTREAM_TEST_BINARY"
	// DbtVar holds the path of the dbt executable inside the Makefile's virtual environment.
	DbtVar = "SHOPSTREAM_TEST_DBT"
	// SupersetVar holds the virtual environment of Apache Superset (make superset-venv).
	SupersetVar = "SHOPSTREAM_TEST_SUPERSET"
)

// Require returns the value of the environment variable name, or skips the test
// (fails it under `make test`) when it is unset. what names the service for the message.
func Require(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv(IntegrationVar) == "1" {
		t.Fatalf("%s is required under make test but %s is unset", what, name)
	}
	t.Skipf("%s not available: set %s (make test does)", what, name)
	return ""
}

// KafkaBrokers returns the seed brokers of the real Kafka broker.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	return strings.Split(Require(t, KafkaVar, "Apache Kafka broker"), ",")
}

// Binary returns the path of a shopstream binary built with the embedded warehouse.
func Binary(t testing.TB) string {
	t.Helper()
	return Require(t, BinaryVar, "shopstream binary with chdb")
}

// Grep returns the lines of s that contain substr, one a line: what a
// failed test shows of a long log or /metrics body.
func Grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
