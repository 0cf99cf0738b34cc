package network

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// CertStatus is one certificate of the run folder: whose it is, what for,
// until when, and the process that loads it (restarted when it is renewed).
type CertStatus struct {
	Org      string    `json:"org"`      // the organization's folder name
	Identity string    `json:"identity"` // peer0, orderer1, admin, operator1, ...
	Use      string    `json:"use"`      // enrollment or tls
	Path     string    `json:"path"`
	NotAfter time.Time `json:"notAfter"`
	Process  string    `json:"process,omitempty"` // "" when only command-line tools use it
}

// Certificates lists every node's and person's certificate in the run
// folder, earliest expiry first (the CAs' own roots, good for 15 years,
// are not listed).
func (n *Net) Certificates() ([]CertStatus, error) {
	var out []CertStatus
	add := func(org, identity, dir, process string) error {
		for use, file := range map[string]string{"enrollment": filepath.Join(dir, "msp", "signcerts", "cert.pem"), "tls": filepath.Join(dir, "tls", "server.crt")} {
			raw, err := os.ReadFile(file)
			if os.IsNotExist(err) {
				continue
			} else if err != nil {
				return err
			}
			b, _ := pem.Decode(raw)
			if b == nil {
				return fmt.Errorf("%s holds no PEM certificate", file)
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			out = append(out, CertStatus{Org: org, Identity: identity, Use: use, Path: file, NotAfter: c.NotAfter.UTC(), Process: process})
		}
		return nil
	}
	for _, o := range n.topo.Ordering.Nodes {
		if err := add(ordererOrg, o.Name, n.ordererDir(o), o.Name); err != nil {
			return nil, err
		}
	}
	if err := add(ordererOrg, "admin", n.orgDir(ordererOrg, "users", "admin"), ""); err != nil {
		return nil, err
	}
	for _, d := range n.topo.Departments {
		s := d.Slug()
		if err := add(s, "peer0", n.peerDir(d), "peer-"+s); err != nil {
			return nil, err
		}
		for _, p := range n.people(d) {
			if err := add(s, p.User, n.userDir(d, p.User), "gateway-"+s); err != nil {
				return nil, err
			}
		}
		if err := add(s, IndexerUser, n.userDir(d, IndexerUser), "indexer-"+s); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotAfter.Before(out[j].NotAfter) })
	return out, nil
}

// identityDir is the identity's folder: the one holding msp/ and tls/.
func (c CertStatus) identityDir() string {
	if c.Use == "tls" {
		return filepath.Dir(filepath.Dir(c.Path)) // <dir>/tls/server.crt
	}
	return filepath.Dir(filepath.Dir(filepath.Dir(c.Path))) // <dir>/msp/signcerts/cert.pem
}

// Renewal is what Renew did.
type Renewal struct {
	Renewed   []CertStatus `json:"renewed"`   // as they are now
	Restarted []string     `json:"restarted"` // the processes, in order
}

// Renew re-enrolls every node and person certificate that expires within
// window (from now) at its organization's CA, signed with the current
// certificate (a re-enrollment: a new key and certificate, the enrollment
// secret is not needed again), then restarts the processes that load them,
// one at a time: orderers one after another with a Raft leader in between,
// each peer waiting for gossip before the next, then indexers and gateways
// (a gateway restart ends its sessions; long-lived tokens keep working).
// Writes in flight through a restarting process fail and can be retried; no
// acknowledged write is lost.
func (n *Net) Renew(ctx context.Context, window time.Duration) (*Renewal, error) {
	n.start = time.Now()
	certs, err := n.Certificates()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(window)
	type target struct {
		org, identity, dir, process string
		tls                         bool
		hosts                       []string
	}
	var due []target
	seen := map[string]int{}
	for _, c := range certs {
		if !c.NotAfter.Before(deadline) {
			continue
		}
		dir := c.identityDir()
		if i, ok := seen[dir]; ok {
			due[i].tls = due[i].tls || c.Use == "tls"
			continue
		}
		seen[dir] = len(due)
		due = append(due, target{org: c.Org, identity: c.Identity, dir: dir, process: c.Process, tls: c.Use == "tls"})
	}
	out := &Renewal{}
	if len(due) == 0 {
		n.stepf("no certificate expires before %s", deadline.UTC().Format(time.RFC3339))
		return out, nil
	}
	cas := n.orgCAs()
	restart := map[string]bool{}
	for i := range due {
		t := &due[i]
		c, ok := cas[t.org]
		if !ok {
			return out, fmt.Errorf("no CA known for organization %s", t.org)
		}
		// A node's TLS certificate is renewed with its enrollment one: both
		// come from the enrollment, and the TLS one from the new enrollment certificate.
		if _, err := os.Stat(filepath.Join(t.dir, "tls", "server.crt")); err == nil {
			t.tls = true
			t.hosts = n.hostsOf(t.org, t.identity)
		}
		if err := n.step(fmt.Sprintf("re-enroll %s/%s", t.org, t.identity), func() error { return n.reenroll(ctx, c, t.dir, t.tls, t.hosts) }); err != nil {
			return out, err
		}
		if t.process != "" {
			restart[t.process] = true
		}
	}
	// Restart in start order, one process at a time.
	specs, err := n.specs()
	if err != nil {
		return out, err
	}
	for _, s := range specs {
		if !restart[s.Name] {
			continue
		}
		if err := n.step("restart "+s.Name, func() error {
			if err := n.Stop(s.Name); err != nil {
				return err
			}
			if err := n.Start(ctx, s.Name); err != nil {
				return err
			}
			if strings.HasPrefix(s.Name, "orderer") {
				return n.waitLeader(ctx)
			}
			return nil
		}); err != nil {
			return out, err
		}
		out.Restarted = append(out.Restarted, s.Name)
	}
	after, err := n.Certificates()
	if err != nil {
		return out, err
	}
	for _, c := range after {
		if _, ok := seen[c.identityDir()]; ok {
			out.Renewed = append(out.Renewed, c)
		}
	}
	n.stepf("renewed %d certificates of %d identities, restarted %d processes in %.1fs", len(out.Renewed), len(due), len(out.Restarted), time.Since(n.start).Seconds())
	return out, nil
}

// reenroll renews the enrollment certificate of the identity in dir (a new
// key, the old one removed once the new one is in) and, when tls, its TLS
// certificate from the new enrollment.
func (n *Net) reenroll(ctx context.Context, c *orgCA, dir string, tls bool, hosts []string) error {
	keystore := filepath.Join(dir, "msp", "keystore")
	old, err := os.ReadDir(keystore)
	if err != nil {
		return err
	}
	names := "C=CN,O=" + c.mspID
	if _, err := n.caClient(ctx, c, secretEnv{}, "reenroll", "-u", c.url(), "--home", dir, "--mspdir", "msp", "--csr.names", names); err != nil {
		return err
	}
	for _, k := range old {
		if err := os.Remove(filepath.Join(keystore, k.Name())); err != nil {
			return err
		}
	}
	if err := renameKey(keystore, "key.pem"); err != nil {
		return err
	}
	if !tls {
		return nil
	}
	return n.renewTLS(ctx, c, dir, hosts, names)
}

// renewTLS renews the TLS certificate in dir/tls with the same key: Raft
// orderers recognise each other, and themselves among the channel's
// consenters, by their TLS certificates' public keys, so a certificate with
// the same key needs no channel configuration update. The current TLS
// certificate signs the request.
func (n *Net) renewTLS(ctx context.Context, c *orgCA, dir string, hosts []string, names string) error {
	tlsDir := filepath.Join(dir, "tls")
	h := strings.Join(append([]string{"localhost", "127.0.0.1"}, hosts...), ",")
	if _, err := n.caClient(ctx, c, secretEnv{}, "reenroll", "-u", c.url(), "--home", dir, "--mspdir", "tls",
		"--enrollment.profile", "tls", "--csr.keyrequest.reusekey", "--csr.hosts", h, "--csr.names", names); err != nil {
		return err
	}
	// The client may store the reused key again under its SKI name.
	extra, err := filepath.Glob(filepath.Join(tlsDir, "keystore", "*_sk"))
	if err != nil {
		return err
	}
	for _, f := range extra {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return copyFile(filepath.Join(tlsDir, "signcerts", "cert.pem"), filepath.Join(tlsDir, "server.crt"), 0o644)
}

// orgCAs are the organizations' CAs, by folder name, as identities starts them.
func (n *Net) orgCAs() map[string]*orgCA {
	out := map[string]*orgCA{ordererOrg: {org: ordererOrg, mspID: n.topo.Ordering.MSPID, name: "ca-" + ordererOrg, host: n.topo.Host,
		port: n.topo.Ordering.CAPort, opsPort: n.topo.Ordering.CAOpsPort, home: n.orgDir(ordererOrg, "ca", "server")}}
	for _, d := range n.topo.Departments {
		out[d.Slug()] = &orgCA{org: d.Slug(), mspID: d.MSPID, name: "ca-" + d.Slug(), host: d.Host,
			port: d.CAPort, opsPort: d.CAOpsPort, home: n.orgDir(d.Slug(), "ca", "server")}
	}
	for _, c := range out {
		c.admin = filepath.Join(filepath.Dir(c.home), registrar)
	}
	return out
}

// hostsOf is the host a node's TLS certificate names.
func (n *Net) hostsOf(org, identity string) []string {
	if org == ordererOrg {
		for _, o := range n.topo.Ordering.Nodes {
			if o.Name == identity {
				return []string{o.Host}
			}
		}
	}
	for _, d := range n.topo.Departments {
		if d.Slug() == org {
			return []string{d.Host}
		}
	}
	return nil
}
