// Package pipelinetest runs the whole pipeline as a user runs it, for
// end-to-end tests and benchmarks: `shopstream run` and single stages as
// child processes (killed with SIGKILL like a crash, restarted on the same
// data), signed TikTok Shop webhooks sent to the receiver, and SQL against
// the warehouse's HTTP interface, FINAL tables included. Everything a
// process printed stays in files, so a test can grep it afterwards (for
// secrets, for example).
//
// Processes are real: the binary is the one `make test` builds
// (SHOPSTREAM_TEST_BINARY); the broker is the real Kafka the Makefile
// starts, or run's own.
package pipelinetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/procfs"
)

// Process is one shopstream child process. Its standard output and error
// go to files in its directory (appended across restarts).
type Process struct {
	// Name names the process in file names and messages.
	Name string
	// Args are the command-line arguments after the binary.
	Args []string
	// Env is added to the test's environment.
	Env []string

	bin, dir string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	peakKB  int64 // the highest peak RSS of any incarnation
	starts  int
}

// StartProcess starts bin with args and env (added to the environment of
// the test) and stops it with SIGKILL when the test ends. Its output goes
// to dir/NAME.stdout and dir/NAME.stderr.
func StartProcess(t testing.TB, name, bin, dir string, args, env []string) *Process {
	t.Helper()
	p := &Process{Name: name, Args: args, Env: env, bin: bin, dir: dir}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s stderr (last 8 KiB):\n%s", name, tail(p.Stderr(), 8<<10))
		}
	})
	return p
}

func (p *Process) start() error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	open := func(ext string) (*os.File, error) {
		return os.OpenFile(filepath.Join(p.dir, p.Name+"."+ext), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	}
	stdout, err := open("stdout")
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := open("stderr")
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd := exec.Command(p.bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a SIGKILL of the group takes the
	// children along (run's warehouse), as a container's end would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited = cmd, exited
	p.starts++
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		if st := cmd.ProcessState; st != nil {
			if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
				p.peakKB = max(p.peakKB, ru.Maxrss)
			}
		}
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Pid returns the process id of the current incarnation.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Exited is closed when the current incarnation has exited.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Kill ends the process and its children with SIGKILL, like a crash, and
// waits until it has exited.
func (p *Process) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Stop sends SIGTERM and waits up to timeout for the process to exit; it
// returns how it exited, or an error when it did not in time (then it is
// killed).
func (p *Process) Stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.Name, err)
	}
	return p.Wait(timeout)
}

// Restart starts the process again (after Kill or Stop) with the same
// arguments, environment and output files.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	select {
	case <-p.Exited():
	default:
		t.Fatalf("restart %s: it is still running", p.Name)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
}

// Relaunch starts the process again after it exited, like Restart, but
// returns what went wrong instead of failing the test: for supervisors that
// run beside the test's goroutine.
func (p *Process) Relaunch() error {
	select {
	case <-p.Exited():
	default:
		return fmt.Errorf("relaunch %s: it is still running", p.Name)
	}
	return p.start()
}

// PeakRSS returns the highest resident set size of the process so far, in
// bytes: the kernel's high-water mark of the running incarnation, or of the
// exited ones. Children (run's warehouse) are not included.
func (p *Process) PeakRSS() int64 {
	p.mu.Lock()
	peak, cmd, exited := p.peakKB, p.cmd, p.exited
	p.mu.Unlock()
	select {
	case <-exited:
	default:
		if kb, err := procfs.StatusKB(cmd.Process.Pid, "VmHWM"); err == nil {
			peak = max(peak, kb)
		}
	}
	return peak << 10
}

// Stdout returns everything the process printed on standard output so far.
func (p *Process) Stdout() string { return p.read("stdout") }

// Stderr returns everything the process printed on standard error (its
// logs) so far.
func (p *Process) Stderr() string { return p.read("stderr") }

func (p *Process) read(ext string) string {
	b, _ := os.ReadFile(filepath.Join(p.dir, p.Name+"."+ext))
	return string(b)
}

// WaitForOutput waits until the process printed a line on standard output
// that contains substr, and returns that line. It fails when the process
// exits first or ctx ends.
func (p *Process) WaitForOutput(ctx context.Context, substr string) (string, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, l := range strings.Split(p.Stdout(), "\n") {
			if strings.Contains(l, substr) {
				return l, nil
			}
		}
		select {
		case <-p.Exited():
			return "", fmt.Errorf("%s exited before printing %q; stderr ends:\n%s", p.Name, substr, tail(p.Stderr(), 4<<10))
		case <-ctx.Done():
			return "", fmt.Errorf("%s did not print %q: %w", p.Name, substr, ctx.Err())
		case <-tick.C:
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// CPUTime returns the CPU time (user and system) the process and every
// process below it have used so far, read from /proc: what the pipeline
// cost, run's warehouse child included.
func (p *Process) CPUTime() time.Duration {
	var cpu time.Duration
	for _, c := range procfs.Tree(p.Pid()) {
		cpu += c
	}
	return cpu
}

// Wait waits up to timeout for the process to exit on its own and returns
// how it exited (an *exec.ExitError for a non-zero status).
func (p *Process) Wait(timeout time.Duration) error {
	select {
	case <-p.Exited():
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waitErr
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s still running after %s", p.Name, timeout)
	}
}

// Command runs `shopstream args...` to its end (at most timeout) with env
// and returns its standard output, standard error and how it exited.
func Command(t testing.TB, bin, dir string, timeout time.Duration, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	name := strings.ReplaceAll(strings.Join(args, "-"), "/", "_")
	p := StartProcess(t, name, bin, dir, args, env)
	err = p.Wait(timeout)
	return p.Stdout(), p.Stderr(), err
}
