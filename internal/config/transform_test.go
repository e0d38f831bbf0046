package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTransformSettings(t *testing.T) {
	c := mustLoad(t, "")
	if tr := c.Transform; tr.TimeZone != "UTC" || tr.Attribution != "full" || tr.Group != "shopstream-transform" ||
		tr.TransactionalID != "" || tr.MappingFile != "" || tr.InstanceID != "" || tr.Threads != 1 || tr.StateDir != "" ||
		tr.CacheMB != 128 || tr.Partitions != 12 || tr.MaxTransactionRelinks != 1000 ||
		tr.MaxTransactionRecords != 1000 {
		t.Fatalf("unexpected transform defaults: %+v", tr)
	}

	mapping := writeConfig(t, "")
	p := writeConfig(t, "transform:\n  time_zone: America/New_York\n  attribution: even\n  mapping_file: "+mapping+"\n")
	c = mustLoad(t, p, "SHOPSTREAM_TRANSFORM_GROUP=g2")
	if tr := c.Transform; tr.TimeZone != "America/New_York" || tr.Attribution != "even" || tr.MappingFile != mapping || tr.Group != "g2" {
		t.Fatalf("transform settings not applied: %+v", tr)
	}

	_, err := load("", []string{
		"SHOPSTREAM_TRANSFORM_TIME_ZONE=Mars/Olympus_Mons",
		"SHOPSTREAM_TRANSFORM_ATTRIBUTION=half",
		"SHOPSTREAM_TRANSFORM_MAPPING_FILE=" + filepath.Join(t.TempDir(), "missing.csv"),
		"SHOPSTREAM_TRANSFORM_THREADS=0",
		"SHOPSTREAM_TRANSFORM_CACHE_MB=0",
		"SHOPSTREAM_TRANSFORM_PARTITIONS=-1",
		"SHOPSTREAM_TRANSFORM_MEMORY_LIMIT=-5",
		"SHOPSTREAM_TRANSFORM_MAX_TRANSACTION_RELINKS=0",
		"SHOPSTREAM_TRANSFORM_MAX_TRANSACTION_RECORDS=-1",
	})
	if err == nil {
		t.Fatal("bad transform settings accepted")
	}
	for _, key := range []string{"transform.time_zone", "transform.attribution", "transform.mapping_file", "transform.threads",
		"transform.cache_mb", "transform.partitions", "transform.memory_limit", "transform.max_transaction_relinks",
		"transform.max_transaction_records"} {
		if !strings.Contains(err.Error(), key+":") {
			t.Errorf("no problem reported for %s in:\n%v", key, err)
		}
	}
}
