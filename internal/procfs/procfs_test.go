package procfs

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestSelf reads the test's own process: its peak and current resident
// sets, its parent, some CPU time, and a child in its tree.
func TestSelf(t *testing.T) {
	pid := os.Getpid()
	hwm, err := StatusKB(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	rss, err := StatusKB(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || hwm <= 0 {
		t.Errorf("VmHWM %d kB, VmRSS %d kB", hwm, rss)
	}
	if _, err := StatusKB(pid, "NoSuchField"); err == nil {
		t.Error("a missing field read without an error")
	}
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
	}
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() || st.CPU <= 0 {
		t.Errorf("stat %+v, want parent %d and some CPU time", st, os.Getppid())
	}
	child := exec.Command("sleep", "10")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	tree := Tree(pid)
	if _, ok := tree[child.Process.Pid]; !ok || len(tree) < 2 {
		t.Errorf("tree %v lacks the child %d", tree, child.Process.Pid)
	}
	if tree[pid] < st.CPU {
		t.Errorf("tree CPU of the root %s, less than %s read before", tree[pid], st.CPU)
	}
}

// TestGone: a running process is not gone; one that exited is, as a
// zombie before it is reaped and after.
func TestGone(t *testing.T) {
	if Gone(os.Getpid()) {
		t.Fatal("the test's own process is gone")
	}
	child := exec.Command("true")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	pid := child.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); !Gone(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("an exited child (a zombie) is not gone")
		}
	}
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	if !Gone(pid) {
		t.Error("a reaped child is not gone")
	}
}
