package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is a shopstream child process of a test; its output goes to
// files in its directory. (A stand-in for package pipelinetest's Process
// until that lands on main.)
type process struct {
	name, dir string
	exited    chan struct{}
	err       error // how it exited, once exited is closed
	cmd       *exec.Cmd
}

// startProcess starts bin with args and env added to the test's
// environment, and kills it (with its children) when the test ends.
func startProcess(t *testing.T, name, bin, dir string, args, env []string) *process {
	t.Helper()
	p := &process{name: name, dir: dir, exited: make(chan struct{})}
	stdout, err := os.Create(filepath.Join(dir, name+".stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, name+".stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	// Its own process group, so that killing it takes run's warehouse along.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		if t.Failed() {
			t.Logf("%s stderr ends:\n%s", name, tail(p.stderr(), 8<<10))
		}
	})
	return p
}

func (p *process) stdout() string { return p.read("stdout") }
func (p *process) stderr() string { return p.read("stderr") }

func (p *process) read(ext string) string {
	b, _ := os.ReadFile(filepath.Join(p.dir, p.name+"."+ext))
	return string(b)
}

// waitOutput waits until the process printed substr on standard output.
func (p *process) waitOutput(timeout time.Duration, substr string) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(p.stdout(), substr) {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (%v) before printing %q; stderr ends:\n%s", p.name, p.err, substr, tail(p.stderr(), 8<<10))
		case <-deadline.C:
			return fmt.Errorf("%s did not print %q within %s", p.name, substr, timeout)
		case <-tick.C:
		}
	}
	return nil
}

// httpQuery runs sql against the ClickHouse HTTP interface at addr and
// returns the body (TabSeparated unless sql says otherwise).
func httpQuery(ctx context.Context, addr, sql string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/?"+url.Values{"default_format": {"TabSeparated"}}.Encode(), strings.NewReader(sql))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("query %.80q: %w", sql, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("query %.80q: %w", sql, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("query %.80q: %s: %s", sql, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
