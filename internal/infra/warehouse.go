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
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// Warehouse is the embedded warehouse, which runs as a child process
// (`shopstream warehouse`) because a bad query can crash the engine's host
// process, as a supervised part (internal/supervise): each Run starts the
// child and waits until it answers, then returns when the child exits (an
// error: restart me) or, once ctx ends, stops it and returns nil. Both
// protocols are served by the one child: when a query crashes it, every
// client of either protocol loses its connection (an error, never a hang),
// and the supervisor restarts it; the pipeline keeps running.
type Warehouse struct {
	URL string
	// NativeAddr is host:port of the native protocol, "" if not served.
	NativeAddr string
	args       []string
	bin        string
	log        zerolog.Logger
}

// healthyTimeout bounds the wait for a started child to answer.
const healthyTimeout = 2 * time.Minute

// NewWarehouse validates the settings of `bin warehouse --listen listen
// --native-listen nativeListen --data dataDir [extraArgs...]`; Run starts
// it.
func NewWarehouse(bin, listen, nativeListen, dataDir string, log zerolog.Logger, extraArgs ...string) (*Warehouse, error) {
	if bin == "" || dataDir == "" {
		return nil, errors.New("warehouse: a binary and a data directory are required")
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("warehouse: listen address %q: %w", listen, err)
	}
	if _, _, err := net.SplitHostPort(nativeListen); err != nil && nativeListen != "" {
		return nil, fmt.Errorf("warehouse: native listen address %q: %w", nativeListen, err)
	}
	return &Warehouse{
		URL:        "http://" + listen,
		NativeAddr: nativeListen,
		bin:        bin,
		args:       append([]string{"warehouse", "--listen", listen, "--native-listen", nativeListen, "--data", dataDir}, extraArgs...),
		log:        log,
	}, nil
}

// Run starts the child, waits until it answers, and keeps it until it
// exits (the error says how) or ctx ends (then it stops the child: SIGTERM,
// SIGKILL after 15 s, and returns nil).
func (w *Warehouse) Run(ctx context.Context) error {
	cmd, exited, err := w.spawn()
	if err != nil {
		return err
	}
	if err := w.waitHealthy(ctx, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	w.log.Info().Str("url", w.URL).Int("pid", cmd.Process.Pid).Msg("warehouse healthy")
	select {
	case err := <-exited:
		return fmt.Errorf("warehouse process exited: %v", err)
	case <-ctx.Done():
		stopChild(cmd, exited)
		return nil
	}
}

func (w *Warehouse) spawn() (*exec.Cmd, <-chan error, error) {
	cmd := exec.Command(w.bin, w.args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	// Its own process group keeps a terminal's Ctrl-C away from the child (the
	// supervisor stops it in order); Pdeathsig ends it if the supervisor dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start warehouse process: %w", err)
	}
	// The channel yields the exit error once and is then closed: waitHealthy
	// may have taken the error already when Run waits for the exit.
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		close(exited)
	}()
	return cmd, exited, nil
}

func (w *Warehouse) waitHealthy(ctx context.Context, exited <-chan error) error {
	deadline := time.NewTimer(healthyTimeout)
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
			return fmt.Errorf("warehouse at %s not healthy after %s", w.URL, healthyTimeout)
		case <-tick.C:
		}
	}
}

func stopChild(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
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
