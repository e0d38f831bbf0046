package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/ingest/emit"
	"github.com/shopstream/shopstream/internal/supervise"
	"github.com/shopstream/shopstream/internal/testenv"
	"github.com/shopstream/shopstream/load"
)

// TestRunRestartsOnlyTheFailedPart: in `run` with simulated sources, each
// of three parts fails in turn, and the supervisor restarts that part, and
// only that part, while the others keep running (no restart of theirs;
// before the supervisor, a webhook server error tore down every ingest stage
// and restarted them):
//   - the webhook receiver cannot listen (its address is taken): it is
//     restarted, the cause logged; once the address is free, it takes the
//     simulated shop's webhooks, which land in the warehouse;
//   - another producer takes the TikTok Shop stage's transactional id (a
//     second instance started by mistake): the stage's next commit is
//     fenced, and the stage restarts alone, fencing the other in turn;
//   - the warehouse child is killed (SIGKILL): it is restarted, and rows are
//     loaded again, by the loader that kept running.
func TestRunRestartsOnlyTheFailedPart(t *testing.T) {
	// Deliveries to the taken address fail at once, and are retried.
	taken := testenv.Listen(t, func(c net.Conn) { c.Close() })
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
			t.Fatalf("no two receiver restarts with records ingested meanwhile:\n%s", testenv.Grep(body, "shopstream_restarts_total")+"\n"+testenv.Grep(body, "shopstream_ingest_records_total"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	if !regexp.MustCompile(`"stage":"ingest-webhooks".*address already in use.*"message":"failed; restarting"`).Match(b) {
		t.Errorf("the log does not give the receiver's restart with its cause:\n%s", testenv.Grep(string(b), "restarting"))
	}

	taken.Close()
	waitNonZero(t, e.warehouseAddr, "SELECT count() FROM tiktok_webhook_events_changes", "webhook events after the receiver's restart")
	_, body := httpGet(t, "http://"+e.metricsAddr+"/metrics")
	checkNoRestarts(t, body, logPath, "the receiver", others...)

	// A second producer with the TikTok Shop stage's transactional id.
	zombie, err := kgo.NewClient(kgo.SeedBrokers(e.kafkaAddr), kgo.TransactionalID(emit.TransactionalID("tiktokshop", "0")))
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := zombie.ProducerID(ctx); err != nil {
		t.Fatalf("take the stage's transactional id: %v", err)
	}
	waitMetrics(t, e.metricsAddr, "a restart of the fenced TikTok Shop stage", func(body string) bool { return restarts(body, "ingest-tiktokshop") >= 1 })
	b, _ = os.ReadFile(logPath)
	if !regexp.MustCompile(`"stage":"ingest-tiktokshop".*fenced.*"message":"failed; restarting"`).Match(b) {
		t.Errorf("the log does not give the stage's restart with its cause:\n%s", testenv.Grep(string(b), "restarting"))
	}
	_, body = httpGet(t, "http://"+e.metricsAddr+"/metrics")
	checkNoRestarts(t, body, logPath, "the TikTok Shop stage", "load", "transform", "ingest-amazon", "ingest-tiktokbiz", "warehouse")

	// The warehouse child killed: it is restarted, and the loader, which
	// kept running, loads again.
	pid := warehousePID(t, logPath)
	loaded := metricSum(body, load.MetricRowsInserted)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the warehouse child %d: %v", pid, err)
	}
	waitMetrics(t, e.metricsAddr, "the warehouse's restart and rows loaded after it", func(body string) bool {
		return restarts(body, "warehouse") >= 1 && metricSum(body, load.MetricRowsInserted) > loaded && warehousePID(t, logPath) != pid
	})
	_, body = httpGet(t, "http://"+e.metricsAddr+"/metrics")
	checkNoRestarts(t, body, logPath, "the warehouse", "load", "transform", "ingest-amazon", "ingest-tiktokbiz")
	run.stop(t)
}

// checkNoRestarts fails t if a part of parts restarted, or has no restart
// counter, in the /metrics body; failed names what did fail. A restart is
// reported with the causes run's log (at logPath) gives for it.
func checkNoRestarts(t *testing.T, body, logPath, failed string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if n := restarts(body, part); n != 0 {
			b, _ := os.ReadFile(logPath)
			t.Errorf("part %s restarted %v times; only %s failed; its log:\n%s", part, n, failed,
				testenv.Grep(testenv.Grep(string(b), `"stage":"`+part+`"`), "restarting"))
		}
		if !strings.Contains(body, supervise.MetricRestarts+`{part="`+part+`"}`) {
			t.Errorf("no %s for part %s", supervise.MetricRestarts, part)
		}
	}
}

// waitMetrics polls run's /metrics until ok; the deadline only bounds a
// hang.
func waitMetrics(t *testing.T, addr, what string, ok func(body string) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body := httpGet(t, "http://"+addr+"/metrics")
		if ok(body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s:\n%s", what, testenv.Grep(body, supervise.MetricRestarts))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// warehousePID is the pid of the warehouse child run started last, from its
// log.
func warehousePID(t *testing.T, logPath string) int {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"pid":([0-9]+)[^\n]*"message":"warehouse healthy"`).FindAllSubmatch(b, -1)
	if m == nil {
		t.Fatal("run did not log the warehouse child's pid")
	}
	pid, _ := strconv.Atoi(string(m[len(m)-1][1]))
	return pid
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
