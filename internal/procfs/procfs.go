// Package procfs reads what the tests and benchmarks measure of a process
// from Linux's /proc: its peak and current memory, its CPU time and the
// processes below it.
package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// StatusKB reads a "Name:   N kB" line of /proc/pid/status (VmHWM, VmRSS,
// ...). A process that has exited (a zombie) has no such lines left: that
// is an error.
func StatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if ok && name == field {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, field)
}

// Stat is what /proc/pid/stat says of a process.
type Stat struct {
	// State is the process's state: R running, S sleeping, Z zombie, ...
	State byte
	// PPID is the parent's process id.
	PPID int
	// CPU is the CPU time the process has used, user and system.
	CPU time.Duration
}

// ReadStat reads /proc/pid/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	// Fields after the command name (which may hold spaces), from field 3
	// (state) on: ppid is field 4, utime 14, stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	// The kernel counts in clock ticks of 1/100 s (USER_HZ) on Linux.
	return Stat{State: f[0][0], PPID: ppid, CPU: time.Duration(ut+st) * 10 * time.Millisecond}, nil
}

// Gone reports whether process pid has ended: it does not exist, or it is
// a zombie its parent has not reaped yet.
func Gone(pid int) bool {
	st, err := ReadStat(pid)
	return err != nil || st.State == 'Z'
}

// Tree returns the process root and every process below it, each with the
// CPU time it has used.
func Tree(root int) map[int]time.Duration {
	parent := map[int]int{}
	cpu := map[int]time.Duration{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil {
			continue
		}
		parent[pid], cpu[pid] = st.PPID, st.CPU
	}
	tree := map[int]time.Duration{root: cpu[root]}
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if _, in := tree[pid]; !in {
				if _, up := tree[pp]; up {
					tree[pid], changed = cpu[pid], true
				}
			}
		}
	}
	return tree
}
