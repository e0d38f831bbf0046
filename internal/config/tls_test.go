package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/testenv"
)

// TestTLSSettings: TLS is off by default; a CA file must hold a PEM
// certificate and needs tls on; a good one becomes the client's roots.
func TestTLSSettings(t *testing.T) {
	c := mustLoad(t, "")
	if k, err := c.Kafka.TLSConfig(); k != nil || err != nil {
		t.Fatalf("kafka TLS by default: %v %v", k, err)
	}
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"SHOPSTREAM_KAFKA_TLS=true", "SHOPSTREAM_KAFKA_TLS_CA_FILE=" + notPEM}, "kafka.tls_ca_file: CA file " + notPEM + " holds no PEM certificate"},
		{[]string{"SHOPSTREAM_WAREHOUSE_TLS=true", "SHOPSTREAM_WAREHOUSE_TLS_CA_FILE=" + missing}, "warehouse.tls_ca_file: read CA file"},
		{[]string{"SHOPSTREAM_WAREHOUSE_TLS_CA_FILE=" + missing}, "warehouse.tls_ca_file: is set but warehouse.tls is false"},
	} {
		if _, err := load("", c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error does not say %q:\n%v", c.env, c.want, err)
		}
	}

	_, ca := testenv.SelfSignedTLS(t)
	c = mustLoad(t, "", "SHOPSTREAM_WAREHOUSE_TLS=true", "SHOPSTREAM_WAREHOUSE_TLS_CA_FILE="+ca)
	w, err := c.Warehouse.TLSConfig()
	if err != nil || w == nil || w.RootCAs == nil {
		t.Fatalf("warehouse TLS: %+v %v", w, err)
	}
}
