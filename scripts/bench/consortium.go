package main

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/network"
)

// Consortium is what the benchmark knows of a running consortium: read from
// its run folder (endpoints.json, credentials.json, orgs/, pids/).
type Consortium struct {
	Run       string
	Channel   string
	Chaincode string
	Depts     []Dept
}

// GatewayClient is an HTTP client of the gateways that trusts the run's
// tls-ca.pem and keeps up to conns idle connections to each.
func (c *Consortium) GatewayClient(timeout time.Duration, conns int) *http.Client {
	hc, err := network.GatewayClient(c.Run, timeout)
	if err != nil {
		// LoadConsortium read the run folder; a tls-ca.pem that does not
		// parse is a broken run folder.
		panic(err)
	}
	tr := hc.Transport.(*http.Transport)
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = 4*conns, conns, time.Minute
	return hc
}

// Dept is one department: where its peer, gateway and indexer listen, and
// its people's tokens.
type Dept struct {
	MSPID   string
	Slug    string // folder and process name: the MSP ID lowercased, without "msp"
	Peer    string // host:port
	Gateway string // http://host:port
	Indexer string // base URL of the indexer's routes, to call with IndexerHC
	// IndexerHC reaches the indexer over its Unix socket (the only way in).
	IndexerHC *http.Client
	// Users maps a role to the enrolment name and bearer token of the
	// first person of that role.
	Users map[domain.Role]Credential
}

// Credential is one person of a department.
type Credential struct {
	User  string
	Token string
}

// LoadConsortium reads the run folder of a consortium that is up.
func LoadConsortium(run string) (*Consortium, error) {
	if _, err := network.GatewayClient(run, 0); err != nil { // the gateways' TLS roots
		return nil, err
	}
	eps, err := network.ReadEndpoints(run)
	if err != nil {
		return nil, fmt.Errorf("read endpoints of %s (is the consortium up?): %w", run, err)
	}
	raw, err := os.ReadFile(filepath.Join(run, "credentials.json"))
	if err != nil {
		return nil, fmt.Errorf("read credentials: %w", err)
	}
	var creds []network.Credential
	if err := json.Unmarshal(raw, &creds); err != nil {
		return nil, fmt.Errorf("parse credentials: %w", err)
	}
	c := &Consortium{Run: run, Channel: eps.Channel, Chaincode: eps.Chaincode}
	for _, e := range eps.Departments {
		hc, base, err := network.IndexerClient(e.Indexer, time.Minute)
		if err != nil {
			return nil, fmt.Errorf("indexer of %s: %w", e.MSPID, err)
		}
		d := Dept{MSPID: e.MSPID, Slug: strings.TrimSuffix(strings.ToLower(e.MSPID), "msp"),
			Peer: e.Peer, Gateway: e.Gateway, Indexer: base, IndexerHC: hc, Users: map[domain.Role]Credential{}}
		for _, cr := range creds {
			r := domain.Role(cr.Role)
			if _, seen := d.Users[r]; cr.MSPID == d.MSPID && !seen {
				d.Users[r] = Credential{User: cr.User, Token: cr.Token}
			}
		}
		c.Depts = append(c.Depts, d)
	}
	if len(c.Depts) < 2 {
		return nil, fmt.Errorf("the consortium of %s has %d departments; the mix needs at least 2", run, len(c.Depts))
	}
	return c, nil
}

// Dept returns the department of msp.
func (c *Consortium) Dept(msp string) (*Dept, error) {
	for i := range c.Depts {
		if c.Depts[i].MSPID == msp {
			return &c.Depts[i], nil
		}
	}
	return nil, fmt.Errorf("no department %s", msp)
}

// userDir is where a person's MSP folder (signcerts, keystore) lives.
func (c *Consortium) userDir(d *Dept, user string) string {
	return filepath.Join(c.Run, "orgs", d.Slug, "users", user, "msp")
}

// identityOf loads a person's certificate and signing key.
func (c *Consortium) identityOf(d *Dept, user string) (*identity.X509Identity, identity.Sign, error) {
	dir := c.userDir(d, user)
	return source.LoadIdentity(d.MSPID, filepath.Join(dir, "signcerts", "cert.pem"), filepath.Join(dir, "keystore", "key.pem"))
}

// dialPeer opens a gRPC connection to a department's peer, trusting its TLS CA.
func (c *Consortium) dialPeer(d *Dept) (*grpc.ClientConn, error) {
	pem, err := os.ReadFile(filepath.Join(c.Run, "orgs", d.Slug, "peer0", "tls", "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("peer TLS CA of %s: %w", d.MSPID, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("peer TLS CA of %s holds no certificate", d.MSPID)
	}
	return grpc.NewClient("dns:///"+d.Peer, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
}

// Proc is a process the consortium recorded in pids/.
type Proc struct {
	Name string
	PID  int
	Bin  string
}

// procs lists the recorded processes whose name starts with one of prefixes.
func (c *Consortium) procs(prefixes ...string) ([]Proc, error) {
	entries, err := os.ReadDir(filepath.Join(c.Run, "pids"))
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".pid")
		if !ok || !hasAnyPrefix(name, prefixes) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(c.Run, "pids", e.Name()))
		if err != nil {
			return nil, err
		}
		f := strings.Fields(string(raw))
		if len(f) < 2 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		out = append(out, Proc{Name: name, PID: pid, Bin: f[1]})
	}
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// procMem is a process's memory from /proc/<pid>/status, in KiB.
type procMem struct {
	HWM  int64 // VmHWM: peak resident set since the process started
	RSS  int64 // VmRSS: resident now
	Anon int64 // RssAnon: of which anonymous (the Go heap, stacks)
	File int64 // RssFile: of which file pages mapped (Badger's tables)
}

// readMem reads a live process's memory. It checks that pid still runs
// bin, so that a PID reused by another program is never read as ours.
func readMem(pid int, bin string) (procMem, error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("process %d is not running: %w", pid, err)
	}
	if bin != "" && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) != filepath.Base(bin) {
		return procMem{}, fmt.Errorf("process %d runs %s, not %s", pid, exe, bin)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	defer f.Close()
	return parseStatusMem(bufio.NewScanner(f))
}

// parseStatusMem reads the memory lines of /proc/<pid>/status.
func parseStatusMem(sc *bufio.Scanner) (procMem, error) {
	var m procMem
	fields := map[string]*int64{"VmHWM": &m.HWM, "VmRSS": &m.RSS, "RssAnon": &m.Anon, "RssFile": &m.File}
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		p, want := fields[k]
		if !ok || !want {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return procMem{}, fmt.Errorf("%s has no value", k)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return procMem{}, fmt.Errorf("parse %s: %w", k, err)
		}
		*p = n
	}
	if err := sc.Err(); err != nil {
		return procMem{}, err
	}
	if m.HWM == 0 {
		return procMem{}, fmt.Errorf("no VmHWM in the status")
	}
	return m, nil
}
