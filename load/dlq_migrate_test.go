package load_test

import (
	"strings"
	"testing"

	"github.com/shopstream/shopstream/load"
)

// TestDeadLetterMigrationOnCluster: 0007's ALTERs run on the local tables,
// and the columns they add also on the Distributed tables in front of them
// (which must show the same columns), without the storage clause those
// cannot take; the open view is replaced on every node.
func TestDeadLetterMigrationOnCluster(t *testing.T) {
	stmts := migrationStatements(t, load.MigrateOptions{Cluster: "shop"}, func(m load.Migration) bool { return m.Version == 7 })
	if len(stmts) != 5 {
		t.Fatalf("0007 on a cluster: %d statements, want 5:\n%s", len(stmts), strings.Join(stmts, "\n;\n"))
	}
	for i, want := range []string{
		"ALTER TABLE dead_letters_local ON CLUSTER shop\n",
		"ALTER TABLE dead_letters ON CLUSTER shop\n",
		"ALTER TABLE dead_letters_replayed_local ON CLUSTER shop\n",
		"ALTER TABLE dead_letters_replayed ON CLUSTER shop\n    ADD COLUMN IF NOT EXISTS `stage` LowCardinality(String)",
		"CREATE OR REPLACE VIEW dead_letters_open ON CLUSTER shop AS\n",
	} {
		if !strings.Contains(stmts[i], want) {
			t.Errorf("statement %d:\n%s\nwant it to contain:\n%s", i+1, stmts[i], want)
		}
	}
	if !strings.Contains(stmts[1], "ADD COLUMN IF NOT EXISTS `truncated_from_bytes` UInt64 AFTER `source_endpoint`") {
		t.Errorf("Distributed dead_letters without the new columns:\n%s", stmts[1])
	}
	if !strings.Contains(stmts[2], "MODIFY ORDER BY (source_topic, source_partition, source_offset, stage)") {
		t.Errorf("replayed table keeps its old key:\n%s", stmts[2])
	}
	for _, i := range []int{1, 3} {
		if strings.Contains(stmts[i], "MODIFY ORDER BY") {
			t.Errorf("storage clause on a Distributed table:\n%s", stmts[i])
		}
	}
}
