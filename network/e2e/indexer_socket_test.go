//go:build integration

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govshare/ledger/gateway/indexclient"
	"github.com/govshare/ledger/network"
)

// nobody is the user a local attacker is played as.
const nobody = 65534

// forged is what a local process would send to read another department's
// data from an indexer: caller headers, no token.
var forged = map[string]string{"X-Caller-Msp": "BureauMSP", "X-Caller-Role": "auditor", "X-Caller-User": "intruder"}

// forgedPaths are routes with data, public and internal.
var forgedPaths = []string{"/v1/requests", "/v1/audit/export", "/internal/status", "/internal/digest"}

// TestIndexerSocketOnly: every department's indexer has no TCP listener
// (its old port refuses), its Unix socket is 0600 and the run's user's, and
// through every listener the indexer process has, another local user's
// request with forged caller headers gets no data.
func TestIndexerSocketOnly(t *testing.T) {
	topo := runTopology(t)
	runOwner := ownerOf(t, shared.run)
	for _, d := range topo.Departments {
		t.Run(d.MSPID, func(t *testing.T) {
			if c, err := net.DialTimeout("tcp", d.Addr(d.IndexerPort), time.Second); err == nil {
				c.Close()
				t.Errorf("something listens on the indexer's old port %s", d.Addr(d.IndexerPort))
			}
			ep := endpointOf(t, d.MSPID)
			sock := indexclient.SocketPath(ep.Indexer)
			if sock == "" {
				t.Fatalf("endpoints.json gives indexer %q, not a Unix socket", ep.Indexer)
			}
			fi, err := os.Stat(sock)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want a socket of mode 0600", sock, fi.Mode())
			}
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != runOwner {
				t.Errorf("%s is owned by uid %d, the run folder by %d", sock, uid, runOwner)
			}
			tcp, unix := listeners(t, indexerPID(t, d.Slug()))
			if len(unix) == 0 {
				t.Errorf("the indexer listens on no Unix socket")
			}
			for _, addr := range tcp {
				t.Errorf("the indexer listens on TCP %s", addr)
				for _, path := range forgedPaths {
					if status, n := forgedTCP(addr, path); status == http.StatusOK || n > 0 && status < 300 {
						t.Errorf("forged GET %s on TCP %s: status %d, %d bytes", path, addr, status, n)
					}
				}
			}
			for _, path := range unix {
				if os.Getuid() != 0 {
					t.Logf("not root: cannot play another user against %s (mode checked above)", path)
					continue
				}
				for _, route := range forgedPaths {
					if err := forgedUnixAs(nobody, path, route); err == nil {
						t.Errorf("uid %d reached %s on %s", nobody, route, path)
					} else if !strings.Contains(err.Error(), "permission denied") {
						t.Errorf("uid %d against %s: %v, want permission denied", nobody, path, err)
					}
				}
			}
			// The gateway still reaches it, over the socket.
			hc, base := indexerAt(t, d.MSPID)
			var st struct {
				Height uint64 `json:"height"`
			}
			if err := getJSON(hc, base+"/internal/status", &st); err != nil || st.Height == 0 {
				t.Errorf("indexer over its socket: height %d, %v", st.Height, err)
			}
		})
	}
}

func endpointOf(t *testing.T, msp string) network.EndpointDept {
	t.Helper()
	for _, d := range shared.eps.Departments {
		if d.MSPID == msp {
			return d
		}
	}
	t.Fatalf("no department %s in endpoints.json", msp)
	return network.EndpointDept{}
}

// runTopology loads the topology the consortium runs: the -topology of
// CONSORTIUM, else the one up.json names, else the repository's.
func runTopology(t *testing.T) *network.Topology {
	t.Helper()
	path := filepath.Join("..", "topology.yaml")
	var up struct {
		Topology string `json:"topology"`
	}
	if raw, err := os.ReadFile(filepath.Join(shared.run, "up.json")); err == nil && json.Unmarshal(raw, &up) == nil && up.Topology != "" {
		path = up.Topology
	}
	args := strings.Fields(os.Getenv("CONSORTIUM"))
	for i, a := range args {
		if (a == "-topology" || a == "--topology") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	topo, err := network.LoadTopology(path)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func ownerOf(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}

func indexerPID(t *testing.T, slug string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "pids", "indexer-"+slug+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		t.Fatalf("empty pid file of indexer-%s", slug)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// listeners lists the process's listening sockets, from its open file
// descriptors matched against /proc/<pid>/net: TCP addresses and Unix paths.
func listeners(t *testing.T, pid int) (tcp, unix []string) {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		for _, f := range procNet(t, pid, table) {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] {
				tcp = append(tcp, hexAddr(f[1]))
			}
		}
	}
	for _, f := range procNet(t, pid, "unix") {
		// Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 is listening.
		if len(f) < 7 || !inodes[f[6]] {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if flags&0x10000 != 0 && len(f) > 7 {
			unix = append(unix, f[7])
		}
	}
	return tcp, unix
}

func procNet(t *testing.T, pid int, table string) [][]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		rows = append(rows, strings.Fields(sc.Text()))
	}
	return rows
}

// hexAddr turns /proc/net/tcp's "0100007F:1F90" into 127.0.0.1:8080 (IPv4
// only; an IPv6 listener is reported as it is, which fails the test anyway).
func hexAddr(s string) string {
	host, port, ok := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if !ok || len(host) != 8 {
		return fmt.Sprintf("[%s]:%d", host, p)
	}
	ip, _ := strconv.ParseUint(host, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", byte(ip), byte(ip>>8), byte(ip>>16), byte(ip>>24), p)
}

func forgedTCP(addr, path string) (status, n int) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	for k, v := range forged {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, len(b)
}

// forgedUnixAs connects to the socket as uid (the thread's filesystem user,
// which is what connect(2) checks the socket file and its folders against;
// root loses its file capabilities with it) and, should that work, sends
// the forged request. It returns nil only if data came back.
func forgedUnixAs(uid int, sock, path string) error {
	done := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it ends with this goroutine, so
		// no other goroutine runs with the changed filesystem user.
		runtime.LockOSThread()
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(uid), 0, 0); e != 0 {
			done <- e
			return
		}
		syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0)
		if prev, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0); int(prev) != uid {
			done <- fmt.Errorf("could not become filesystem user %d", uid)
			return
		}
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer syscall.Close(fd)
		if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
			done <- fmt.Errorf("connect %s: %w", sock, err)
			return
		}
		var req strings.Builder
		fmt.Fprintf(&req, "GET %s HTTP/1.0\r\nHost: indexer\r\n", path)
		for k, v := range forged {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
		req.WriteString("\r\n")
		if _, err := syscall.Write(fd, []byte(req.String())); err != nil {
			done <- err
			return
		}
		buf := make([]byte, 64)
		n, _ := syscall.Read(fd, buf)
		if strings.HasPrefix(string(buf[:n]), "HTTP/1.0 200") || strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			done <- nil
			return
		}
		done <- fmt.Errorf("answered %q", buf[:n])
	}()
	return <-done
}
