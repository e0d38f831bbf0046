package config

import (
	"strings"
	"testing"
	"time"
)

func TestDbtSettings(t *testing.T) {
	c := mustLoad(t, "")
	if d := c.Dbt; d.Schedule != "" || d.Bin != "dbt" || d.ProjectDir != "dbt" || strings.Join(d.Args, " ") != "build" ||
		d.Schema != "analytics" || d.CatchUpTimeout != 10*time.Minute || d.Timeout != time.Hour {
		t.Fatalf("unexpected dbt defaults: %+v", d)
	}
	p := writeConfig(t, "dbt:\n  schedule: \"0 */6 * * *\"\n  args: [build, --select, +halo_ranking]\n")
	c = mustLoad(t, p, "SHOPSTREAM_DBT_CATCH_UP_TIMEOUT=90s")
	if d := c.Dbt; d.Schedule != "0 */6 * * *" || strings.Join(d.Args, " ") != "build --select +halo_ranking" || d.CatchUpTimeout != 90*time.Second {
		t.Fatalf("dbt settings not applied: %+v", d)
	}
	if _, err := load("", []string{"SHOPSTREAM_DBT_SCHEDULE=15m"}); err != nil {
		t.Fatalf("an interval is a schedule: %v", err)
	}
	_, err := load("", []string{"SHOPSTREAM_DBT_SCHEDULE=every tuesday", "SHOPSTREAM_DBT_TIMEOUT=0s"})
	if err == nil || !strings.Contains(err.Error(), "dbt.schedule") || !strings.Contains(err.Error(), "dbt.timeout") {
		t.Fatalf("want dbt.schedule and dbt.timeout reported, got %v", err)
	}
}
