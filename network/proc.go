package network

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/govshare/ledger/gateway/indexclient"
)

// Proc is a process the consortium started: its name, PID and log file.
type Proc struct {
	Name string
	PID  int
	Log  string
	Bin  string

	done chan struct{}
	err  error
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// LogError is a failure explained by the tail of a process's log.
type LogError struct {
	Log string
	Err error
}

func (e *LogError) Error() string { return e.Err.Error() }
func (e *LogError) Unwrap() error { return e.Err }

// Tail returns the last n lines of the log.
func (e *LogError) Tail(n int) string { return tailFile(e.Log, n) }

// procs starts and tracks processes under one run folder.
type procs struct {
	pidDir string
	logDir string

	mu      sync.Mutex
	started map[string]*Proc
}

func newProcs(run string) *procs {
	return &procs{
		pidDir:  filepath.Join(run, "pids"),
		logDir:  filepath.Join(run, "logs"),
		started: map[string]*Proc{},
	}
}

// procSpec is how to launch one long-running process; it is kept beside
// the PID so that the process can be started again later (after a fault,
// or when the whole consortium is stopped and started).
type procSpec struct {
	Name  string   `json:"name"`
	Bin   string   `json:"bin"`
	Args  []string `json:"args,omitempty"`
	Env   []string `json:"env,omitempty"` // added to the caller's environment
	Dir   string   `json:"dir"`
	Order int      `json:"order"` // start order: CAs, orderers, peers, chaincode, indexers, gateways
	// Ready is "tcp:<addr>", an http:// URL answering 200 when ready, or
	// "unix:<socket>" whose GET /healthz answers 200.
	Ready string `json:"ready"`
}

// start launches a process in its own process group, detached from the
// caller's terminal, with output appended to logs/<name>.log, and records
// its PID and spec.
func (ps *procs) start(spec procSpec) (*Proc, error) {
	if err := os.MkdirAll(ps.pidDir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(ps.logDir, spec.Name+".log")
	f, err := ps.openLog(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(spec.Bin, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Proc{Name: spec.Name, PID: cmd.Process.Pid, Log: logPath, Bin: spec.Bin, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	rawSpec, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(ps.pidDir, spec.Name+".spec.json"), rawSpec, 0o600); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	pidLine := fmt.Sprintf("%d %s\n", p.PID, spec.Bin)
	if err := writeFileAtomic(filepath.Join(ps.pidDir, spec.Name+".pid"), []byte(pidLine), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	ps.mu.Lock()
	ps.started[spec.Name] = p
	ps.mu.Unlock()
	return p, nil
}

// readSpec reads the recorded spec of a process.
func readSpec(run, name string) (procSpec, error) {
	var spec procSpec
	raw, err := os.ReadFile(filepath.Join(run, "pids", name+".spec.json"))
	if err != nil {
		return spec, err
	}
	return spec, json.Unmarshal(raw, &spec)
}

// openLog opens a log for appending, readable by the consortium's user
// only (logs show identities, hosts and what failed), in a 0700 folder.
func (ps *procs) openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(ps.logDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// A log from before logs were private keeps its old mode otherwise.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// runCmd runs a short command to completion; its output goes to logs/<log>.log
// and a failure carries that log.
func (ps *procs) runCmd(ctx context.Context, log string, env []string, bin string, args ...string) ([]byte, error) {
	return ps.runCmdSecret(ctx, log, env, nil, bin, args...)
}

// runCmdSecret is runCmd for a command that is given secrets (in its
// environment: never put one in args, /proc/<pid>/cmdline is world-readable).
// Each secret is masked wherever the log would show it: the command line,
// the environment entries that carry it (logged, masked, so that the log
// still says what was passed) and the command's output.
func (ps *procs) runCmdSecret(ctx context.Context, log string, env, secrets []string, bin string, args ...string) ([]byte, error) {
	logPath := filepath.Join(ps.logDir, log+".log")
	f, err := ps.openLog(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mask := masker(secrets)
	line := filepath.Base(bin) + " " + strings.Join(args, " ")
	for _, kv := range env {
		if mask(kv) != kv {
			line = mask(kv) + " " + line
		}
	}
	fmt.Fprintf(f, "$ %s\n", mask(line))
	// Output is logged once the command ends, masked: short commands only.
	var out bytes.Buffer
	combined := &lockedBuffer{}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdout = io.MultiWriter(combined, &out)
	cmd.Stderr = combined
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	_, _ = io.WriteString(f, mask(combined.String()))
	if runErr != nil {
		return out.Bytes(), &LogError{Log: logPath, Err: fmt.Errorf("%s %s: %w", filepath.Base(bin), firstArgs(args), runErr)}
	}
	return out.Bytes(), nil
}

// masker replaces every non-empty secret with "***".
func masker(secrets []string) func(string) string {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "***")
		}
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// lockedBuffer collects a command's stdout and stderr, written from two
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func firstArgs(args []string) string {
	var kept []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		kept = append(kept, a)
	}
	return strings.Join(kept, " ")
}

// Recorded is a PID file's content.
type Recorded struct {
	Name  string
	PID   int
	Bin   string
	Alive bool
}

// recorded lists the processes recorded in the PID folder, sorted by name.
func recorded(run string) ([]Recorded, error) {
	dir := filepath.Join(run, "pids")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Recorded
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pid") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		fields := strings.Fields(string(raw))
		if len(fields) < 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		r := Recorded{Name: strings.TrimSuffix(e.Name(), ".pid"), PID: pid, Bin: fields[1]}
		r.Alive = isOurs(pid, r.Bin)
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// isOurs reports whether pid is alive and still runs bin, so that a PID the
// kernel reused for another program is never signalled.
func isOurs(pid int, bin string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe == bin {
		return true
	}
	// A binary rebuilt in place shows under the same path; compare names as a fallback.
	return filepath.Base(exe) == filepath.Base(bin)
}

// stopRecorded stops the recorded processes named (all when names is
// empty), latest-started kind first: SIGTERM to each process group, then
// SIGKILL after grace. It returns the names it had to kill.
func stopRecorded(run string, grace time.Duration, names ...string) (killed []string, err error) {
	recs, err := recorded(run)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var alive []Recorded
	for _, r := range recs {
		if len(want) > 0 && !want[r.Name] {
			continue
		}
		if r.Alive {
			signalGroup(r.PID, syscall.SIGTERM)
			alive = append(alive, r)
		}
	}
	deadline := time.Now().Add(grace)
	for _, r := range alive {
		for isOurs(r.PID, r.Bin) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if isOurs(r.PID, r.Bin) {
			signalGroup(r.PID, syscall.SIGKILL)
			killed = append(killed, r.Name)
		}
	}
	for _, r := range alive {
		for i := 0; i < 100 && (isOurs(r.PID, r.Bin) || exiting(r.PID)); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if isOurs(r.PID, r.Bin) || exiting(r.PID) {
			return killed, fmt.Errorf("%s (pid %d) did not stop", r.Name, r.PID)
		}
	}
	return killed, nil
}

// exiting reports whether pid is part way through its exit: the kernel has
// released its memory (so /proc/<pid>/exe no longer reads and isOurs is
// false) but not yet its files, whose locks (Badger's directory lock) it
// still holds until it is a zombie or gone. A PID reused by another
// program reads its exe and is not exiting.
func exiting(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false // gone
	}
	// The state follows the command's closing parenthesis.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		if st := stat[i+2]; st == 'Z' || st == 'X' {
			return false
		}
	}
	_, err = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err != nil
}

// signalGroup signals a process and the group it leads.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
	_ = syscall.Kill(pid, sig)
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 {
				n, _ := strconv.ParseInt(fields[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// waitTCP waits until addr accepts connections or p exits.
func waitTCP(ctx context.Context, p *Proc, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if err := alive(p); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return logErr(p, fmt.Errorf("%s did not listen on %s: %w", p.Name, addr, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitHTTP waits until url answers 200, or p exits. A "unix:<socket>" url
// asks GET /healthz over that socket.
func waitHTTP(ctx context.Context, p *Proc, url string, tlsConf *tls.Config) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf}}
	if indexclient.SocketPath(url) != "" {
		uc, base, err := indexclient.HTTPClient(url, 2*time.Second)
		if err != nil {
			return err
		}
		hc, url = uc, base+"/healthz"
	}
	defer hc.CloseIdleConnections()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if p != nil {
			if err := alive(p); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("%s not ready (last answer: %s): %w", url, last, ctx.Err())
			if p != nil {
				return logErr(p, err)
			}
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func alive(p *Proc) error {
	if exited, err := p.Exited(); exited {
		return logErr(p, fmt.Errorf("%s exited: %v", p.Name, err))
	}
	return nil
}

func logErr(p *Proc, err error) error { return &LogError{Log: p.Log, Err: err} }

// portFree reports whether nothing listens on addr.
func portFree(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func tailFile(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
