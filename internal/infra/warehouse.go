package infra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Warehouse supervises the embedded warehouse, which runs as a child process
// (`shopstream warehouse`) because a bad query can crash the engine's host
// process: the child is restarted, the pipeline keeps running.
type Warehouse struct {
	URL string
	// NativeAddr is host:port of the native protocol, "" if not served.
	NativeAddr string
	args       []string
	bin        string
	log        zerolog.Logger

	mu       sync.Mutex
	cmd      *exec.Cmd
	restarts int
	cancel   context.CancelFunc
	done     chan struct{}
}

// StartWarehouse starts `bin warehouse --listen listen --native-listen
// nativeListen --data dataDir [extraArgs...]`, waits until it answers /ping
// (and accepts native connections), and keeps it running until Stop. Both
// protocols are served by the one child: when a query crashes it, every
// client of either protocol loses its connection (an error, never a hang)
// and the child is restarted.
func StartWarehouse(ctx context.Context, bin, listen, nativeListen, dataDir string, log zerolog.Logger, extraArgs ...string) (*Warehouse, error) {
	w := &Warehouse{
		URL:        "http://" + listen,
		NativeAddr: nativeListen,
		bin:        bin,
		args:       append([]string{"warehouse", "--listen", listen, "--native-listen", nativeListen, "--data", dataDir}, extraArgs...),
		log:        log,
		done:       make(chan struct{}),
	}
	exited, err := w.spawn()
	if err != nil {
		return nil, err
	}
	if err := w.waitHealthy(ctx, exited, 2*time.Minute); err != nil {
		w.kill()
		return nil, err
	}
	superviseCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.supervise(superviseCtx, exited)
	return w, nil
}

func (w *Warehouse) spawn() (<-chan error, error) {
	cmd := exec.Command(w.bin, w.args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	// Its own process group keeps a terminal's Ctrl-C away from the child (the
	// supervisor stops it in order); Pdeathsig ends it if the supervisor dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start warehouse process: %w", err)
	}
	w.mu.Lock()
	w.cmd = cmd
	w.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return exited, nil
}

func (w *Warehouse) waitHealthy(ctx context.Context, exited <-chan error, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if w.Ping(ctx) == nil {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("warehouse process exited before it was healthy: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("warehouse at %s not healthy after %s", w.URL, timeout)
		case <-tick.C:
		}
	}
}

// supervise restarts the child whenever it exits, with capped backoff.
func (w *Warehouse) supervise(ctx context.Context, exited <-chan error) {
	defer close(w.done)
	backoff := time.Second
	for {
		select {
		case <-ctx.Done():
			w.stopChild(exited)
			return
		case err := <-exited:
			w.mu.Lock()
			w.restarts++
			n := w.restarts
			w.mu.Unlock()
			w.log.Warn().Err(err).Int("restarts", n).Dur("backoff", backoff).Msg("warehouse process exited; restarting")
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
			next, err := w.spawn()
			if err != nil {
				w.log.Error().Err(err).Msg("warehouse restart failed")
				ch := make(chan error, 1)
				ch <- err
				exited = ch
				continue
			}
			if err := w.waitHealthy(ctx, next, 2*time.Minute); err == nil {
				backoff = time.Second
				w.log.Info().Str("url", w.URL).Msg("warehouse healthy again")
			}
			exited = next
		}
	}
}

func (w *Warehouse) stopChild(exited <-chan error) {
	w.mu.Lock()
	cmd := w.cmd
	w.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (w *Warehouse) kill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cmd != nil && w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
	}
}

// Ping checks that the warehouse answers /ping and, if it serves the
// native protocol, accepts connections on its port.
func (w *Warehouse) Ping(ctx context.Context) error {
	if err := PingClickHouseHTTP(ctx, nil, w.URL); err != nil {
		return err
	}
	if w.NativeAddr == "" {
		return nil
	}
	return DialPort(ctx, w.NativeAddr)
}

// DialPort checks that addr accepts TCP connections within 2 s.
func DialPort(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("warehouse %s does not accept connections: %w", addr, err)
	}
	return c.Close()
}

// Stop terminates the child and its supervision.
func (w *Warehouse) Stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
}

// PingClickHouseHTTP checks that a ClickHouse HTTP interface at baseURL answers /ping,
// asked with client (nil: http.DefaultClient).
func PingClickHouseHTTP(ctx context.Context, client *http.Client, baseURL string) error {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/ping", nil)
	if err != nil {
		return fmt.Errorf("ping %s: %w", baseURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ping %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || string(body) != "Ok.\n" {
		return errors.New("ping " + baseURL + ": unexpected answer " + resp.Status)
	}
	return nil
}
