package main

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/supervise"
)

// TestRunRestartsOnlyTheFailedPart: in `run` with simulated sources, the
// webhook receiver cannot listen (its address is taken): the supervisor
// restarts that part, and only that part, logging the cause, while the
// ingest stages, the transform and the loader keep running (no restart of
// theirs; before the supervisor, a webhook server error tore down every
// ingest stage and restarted them). Once the address is free, the
// restarted receiver takes the simulated shop's webhooks, which land in
// the warehouse.
func TestRunRestartsOnlyTheFailedPart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries to the taken address fail at once, and are retried.
	go func() {
		for {
			c, err := taken.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	e := newEmbedded(t)
	logPath := filepath.Join(e.dataDir, "run.log")
	run := startRun(t, e.env("SHOPSTREAM_SOURCES_SIMULATE=true", "SHOPSTREAM_SOURCES_SIM_HISTORY_WEEKS=1",
		"SHOPSTREAM_SOURCES_WEBHOOKS_LISTEN="+taken.Addr().String()), logPath)

	others := []string{"load", "transform", "ingest-amazon", "ingest-tiktokshop", "ingest-tiktokbiz"}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body := httpGet(t, "http://"+e.metricsAddr+"/metrics")
		if restarts(body, "ingest-webhooks") >= 2 && metricSum(body, "shopstream_ingest_records_total") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two receiver restarts with records ingested meanwhile:\n%s", grepLines(body, "shopstream_restarts_total")+"\n"+grepLines(body, "shopstream_ingest_records_total"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	if !regexp.MustCompile(`"stage":"ingest-webhooks".*address already in use.*"message":"failed; restarting"`).Match(b) {
		t.Errorf("the log does not give the receiver's restart with its cause:\n%s", grepLines(string(b), "restarting"))
	}

	taken.Close()
	waitNonZero(t, e.warehouseAddr, "SELECT count() FROM tiktok_webhook_events_changes", "webhook events after the receiver's restart")
	_, body := httpGet(t, "http://"+e.metricsAddr+"/metrics")
	for _, part := range others {
		if n := restarts(body, part); n != 0 {
			t.Errorf("part %s restarted %v times; only the receiver failed", part, n)
		}
		if !strings.Contains(body, supervise.MetricRestarts+`{part="`+part+`"}`) {
			t.Errorf("no %s for part %s", supervise.MetricRestarts, part)
		}
	}
	run.stop(t)
}

// restarts reads shopstream_restarts_total{part} from a /metrics body (-1:
// absent).
func restarts(body, part string) float64 {
	m := regexp.MustCompile(`(?m)^` + supervise.MetricRestarts + `\{part="` + regexp.QuoteMeta(part) + `"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// metricSum adds every sample of a metric in a /metrics body.
func metricSum(body, name string) float64 {
	var sum float64
	for _, m := range regexp.MustCompile(`(?m)^`+name+`(?:\{[^}]*\})? (\S+)$`).FindAllStringSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		sum += v
	}
	return sum
}
