package warehouse_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/infra"
	"github.com/shopstream/shopstream/internal/testenv"
)

// warehouseProcess is a `shopstream warehouse` child started for one test.
type warehouseProcess struct {
	URL    string
	Addr   string
	Data   string
	cmd    *exec.Cmd
	exited chan struct{}
	log    string
	env    []string
}

// startWarehouse starts a fresh warehouse process on a free port with its own
// data directory and stops it when the test ends. env adds SHOPSTREAM_*
// settings ("KEY=value").
func startWarehouse(t *testing.T, env ...string) *warehouseProcess {
	t.Helper()
	w := &warehouseProcess{Data: filepath.Join(t.TempDir(), "warehouse"), env: env}
	w.start(t, freeAddr(t))
	t.Cleanup(w.stop)
	return w
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func (w *warehouseProcess) start(t *testing.T, addr string) {
	t.Helper()
	w.Addr, w.URL = addr, "http://"+addr
	w.log = filepath.Join(filepath.Dir(w.Data), "warehouse-"+strconv.FormatInt(time.Now().UnixNano(), 10)+".log")
	logFile, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	w.cmd = exec.Command(testenv.Binary(t), "warehouse", "--listen", addr, "--data", w.Data)
	w.cmd.Env = append(append(os.Environ(), "SHOPSTREAM_LOG_LEVEL=debug"), w.env...)
	w.cmd.Stdout, w.cmd.Stderr = logFile, logFile
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start warehouse: %v", err)
	}
	exited := make(chan struct{})
	w.exited = exited
	go func() { _ = w.cmd.Wait(); close(exited) }()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for infra.PingClickHouseHTTP(ctx, w.URL) != nil {
		select {
		case <-exited:
			w.dumpLog(t)
			t.Fatalf("warehouse exited before answering /ping")
		case <-ctx.Done():
			w.dumpLog(t)
			t.Fatalf("warehouse did not answer /ping within 60s")
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			w.dumpLog(t)
		}
	})
}

func (w *warehouseProcess) dumpLog(t *testing.T) {
	b, _ := os.ReadFile(w.log)
	t.Logf("warehouse log:\n%s", b)
}

// kill ends the process with SIGKILL, like a crash.
func (w *warehouseProcess) kill() {
	if w.cmd != nil && w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

// restart starts the warehouse again on the same address and data directory.
func (w *warehouseProcess) restart(t *testing.T) {
	t.Helper()
	w.kill()
	w.start(t, w.Addr)
}

func (w *warehouseProcess) stop() { w.kill() }
