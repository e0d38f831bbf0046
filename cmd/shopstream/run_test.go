package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/testenv"
)

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRunEmbedded starts `shopstream run` on embedded defaults and checks that
// the warehouse, the broker and the registry it reports all answer, that a
// crashed warehouse is restarted, and that it stops cleanly.
func TestRunEmbedded(t *testing.T) {
	bin := testenv.Binary(t)
	dataDir := t.TempDir()
	warehouseAddr, kafkaAddr, registryAddr, metricsAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(),
		"SHOPSTREAM_DATA_DIR="+dataDir,
		"SHOPSTREAM_WAREHOUSE_LISTEN="+warehouseAddr,
		"SHOPSTREAM_KAFKA_LISTEN="+kafkaAddr,
		"SHOPSTREAM_SCHEMA_REGISTRY_LISTEN="+registryAddr,
		"SHOPSTREAM_METRICS_LISTEN="+metricsAddr,
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dataDir, "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("run log:\n%s", b)
		}
	})

	// Read what run prints until it reports itself healthy.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	var printed []string
	timeout := time.After(2 * time.Minute)
	for healthy := false; !healthy; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("run exited before reporting healthy; printed %q", printed)
			}
			printed = append(printed, l)
			healthy = strings.HasPrefix(l, "all components healthy")
		case <-timeout:
			t.Fatalf("run not healthy after 2 minutes; printed %q", printed)
		}
	}
	out := strings.Join(printed, "\n")
	for _, want := range []string{"http://" + warehouseAddr, kafkaAddr, "http://" + registryAddr, metricsAddr} {
		if !strings.Contains(out, want) {
			t.Errorf("run output does not say where %s listens:\n%s", want, out)
		}
	}

	// The warehouse answers the README's query.
	if code, body := httpGet(t, "http://"+warehouseAddr+"/?query="+url.QueryEscape("SELECT version()")); code != 200 || !strings.HasPrefix(body, "26.5") {
		t.Fatalf("warehouse: %d %q", code, body)
	}
	// The broker takes a record and gives it back.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.ConsumeTopics("run.smoke"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "run.smoke", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce to the embedded broker: %v", err)
	}
	if fetches := cl.PollRecords(ctx, 1); fetches.Err() != nil || fetches.NumRecords() != 1 || string(fetches.Records()[0].Value) != "hello" {
		t.Fatalf("consume from the embedded broker: %v, %d records", fetches.Err(), fetches.NumRecords())
	}
	// The registry and the health endpoints answer.
	// The registry answers, with every topic's schema registered by run.
	if code, body := httpGet(t, "http://"+registryAddr+"/subjects"); code != 200 || !strings.Contains(body, `"xchannel.product_daily-value"`) || !strings.Contains(body, `"amazon.orders-value"`) {
		t.Fatalf("registry: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+metricsAddr+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d %q", code, body)
	}

	// A crashed warehouse process is restarted by run.
	pid := warehouseChildPid(t, dataDir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := httpGet(t, "http://"+warehouseAddr+"/?query=SELECT+1")
		if code == 200 && body == "1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("warehouse not back after a crash: %d %q", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if newPid := warehouseChildPid(t, dataDir); newPid == pid {
		t.Fatalf("warehouse pid unchanged after SIGKILL")
	}

	// SIGTERM stops run and its warehouse child.
	child := warehouseChildPid(t, dataDir)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("run exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after SIGTERM")
	}
	if syscall.Kill(child, 0) == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); !strings.Contains(string(b), ") Z ") {
			t.Fatalf("warehouse child %d still running after run stopped", child)
		}
	}
}

// warehouseChildPid finds the `shopstream warehouse` process serving dataDir.
func warehouseChildPid(t *testing.T, dataDir string) int {
	t.Helper()
	want := filepath.Join(dataDir, "warehouse")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && args[1] == "warehouse" && args[len(args)-1] == want {
			if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); strings.Contains(string(st), ") Z ") {
				continue
			}
			return pid
		}
	}
	t.Fatalf("no warehouse process for %s", want)
	return 0
}
