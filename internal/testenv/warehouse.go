package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/infra"
)

// Warehouse is a `shopstream warehouse` process started for one test.
type Warehouse struct {
	URL  string // http://host:port
	Addr string // host:port of the HTTP interface
	// NativeAddr is host:port of the native protocol.
	NativeAddr string
	Data       string // data directory

	cmd    *exec.Cmd
	exited chan struct{}
	log    string
	env    []string
}

// StartWarehouse starts a fresh embedded warehouse process on a free port with
// its own data directory, and kills it when the test ends. env adds
// environment settings ("SHOPSTREAM_WAREHOUSE_MAX_BODY_BYTES=1024").
func StartWarehouse(t testing.TB, env ...string) *Warehouse {
	t.Helper()
	w := &Warehouse{Data: filepath.Join(t.TempDir(), "warehouse"), env: env}
	w.NativeAddr = FreeAddr(t)
	w.start(t, FreeAddr(t))
	t.Cleanup(w.Kill)
	return w
}

// handedOut is every address FreeAddr returned in this process.
var handedOut sync.Map

// FreeAddr returns a loopback address with a port that was free a moment
// ago, and never the same one twice in a process: a port just released can
// come back from the next bind, and a test asking for several addresses in
// a row (warehouse, broker, registry) would get it twice.
func FreeAddr(t testing.TB) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
}

func (w *Warehouse) start(t testing.TB, addr string) {
	t.Helper()
	w.Addr, w.URL = addr, "http://"+addr
	w.log = filepath.Join(filepath.Dir(w.Data), "warehouse-"+strconv.FormatInt(time.Now().UnixNano(), 10)+".log")
	logFile, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	w.cmd = exec.Command(Binary(t), "warehouse", "--listen", addr, "--native-listen", w.NativeAddr, "--data", w.Data)
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
	for infra.PingClickHouseHTTP(ctx, nil, w.URL) != nil {
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

func (w *Warehouse) dumpLog(t testing.TB) {
	b, _ := os.ReadFile(w.log)
	t.Logf("warehouse log (%s):\n%s", w.log, b)
}

// Kill ends the process with SIGKILL, like a crash, and waits for it to exit.
func (w *Warehouse) Kill() {
	if w.cmd != nil && w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

// Restart kills the process and starts it again on the same address and data directory.
func (w *Warehouse) Restart(t testing.TB) {
	t.Helper()
	w.Kill()
	w.start(t, w.Addr)
}

// SilentAddr returns the address of a listener that accepts connections
// and never answers: a dependency that hangs rather than refuses. It closes
// with the test.
func SilentAddr(t testing.TB) string {
	t.Helper()
	var mu sync.Mutex
	var held []net.Conn
	ln := Listen(t, func(c net.Conn) {
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// Listen returns a loopback listener on a free port that hands every
// connection it accepts to handle, in its accepting goroutine, until it is
// closed; it closes with the test at the latest.
func Listen(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handle(c)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// Env configures a shopstream command to use this warehouse as its
// embedded one (both protocols' addresses).
func (w *Warehouse) Env() []string {
	return []string{"SHOPSTREAM_WAREHOUSE_LISTEN=" + w.Addr, "SHOPSTREAM_WAREHOUSE_NATIVE_LISTEN=" + w.NativeAddr}
}

// AddrFor returns the address of protocol: "native" or "http".
func (w *Warehouse) AddrFor(protocol string) string {
	if protocol == "native" {
		return w.NativeAddr
	}
	return w.Addr
}

// Atoi reads an integer field of a warehouse's TabSeparated answer, and
// fails the test when the field is not one.
func Atoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not an integer: %q", s)
	}
	return n
}

// Atof reads a number field of a warehouse's TabSeparated answer, and fails
// the test when the field is not one (NULL, \N, included).
func Atof(t testing.TB, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return f
}
