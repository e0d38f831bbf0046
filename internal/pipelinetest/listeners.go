package pipelinetest

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/internal/procfs"
)

// Listener is a TCP socket in the LISTEN state.
type Listener struct {
	Pid  int
	Addr string // host:port as bound (0.0.0.0:p or [::]:p for every interface)
	IP   net.IP
}

// Listeners returns every TCP socket the process and the processes below
// it listen on, read from /proc: what the process exposes, whatever its
// configuration says.
func (p *Process) Listeners() ([]Listener, error) {
	tree := procfs.Tree(p.Pid())
	inodes := map[string]int{} // socket inode -> pid
	for pid := range tree {
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = pid
			}
		}
	}
	var out []Listener
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			if table == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			pid, ok := inodes[fields[9]]
			if !ok {
				continue
			}
			ip, port, err := parseProcAddr(fields[1])
			if err != nil {
				f.Close()
				return nil, err
			}
			out = append(out, Listener{Pid: pid, Addr: net.JoinHostPort(ip.String(), strconv.Itoa(port)), IP: ip})
		}
		f.Close()
	}
	return out, nil
}

// parseProcAddr parses /proc/net/tcp's "0100007F:1F90" (the address in host
// byte order, 32-bit words) into an IP and a port.
func parseProcAddr(s string) (net.IP, int, error) {
	h, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, fmt.Errorf("address %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, 0, fmt.Errorf("address %q", s)
	}
	ip := make(net.IP, len(b))
	for w := 0; w < len(b); w += 4 {
		for i := range 4 {
			ip[w+i] = b[w+3-i]
		}
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("address %q: %w", s, err)
	}
	return ip, int(port), nil
}
