package network

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const fakeTopology = `channel: datashare
basePort: 21000
ordering:
  orderers: 2
departments:
  - mspId: Dept1MSP
    name: Public Security Bureau
    code: PSB
    level: municipal
  - mspId: Dept2MSP
    name: Civil Affairs Bureau
    code: CAB
    level: municipal
    host: 127.0.0.2
`

// fakeRun is a run folder laid out as `up` lays it out, with real keys and
// certificates but no process behind it.
type fakeRun struct {
	n     *Net
	keys  map[string][][]byte // organization folder -> DER of every private key written
	ecs   map[string]*ecdsa.PrivateKey
	paths map[string][]byte // path under the run folder -> the key material written there
}

func newFakeRun(t *testing.T) *fakeRun {
	t.Helper()
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(topo, []byte(fakeTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Root: dir, Run: filepath.Join(dir, "run"), Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRun{n: n, keys: map[string][][]byte{}, ecs: map[string]*ecdsa.PrivateKey{}, paths: map[string][]byte{}}
	f.org(t, ordererOrg, func() {
		for _, o := range n.topo.Ordering.Nodes {
			f.node(t, ordererOrg, n.ordererDir(o), true)
		}
		f.node(t, ordererOrg, n.orgDir(ordererOrg, "users", "admin"), false)
	})
	for _, d := range n.topo.Departments {
		f.org(t, d.Slug(), func() {
			f.node(t, d.Slug(), n.peerDir(d), true)
			for _, p := range n.people(d) {
				f.node(t, d.Slug(), n.userDir(d, p.User), false)
			}
			f.node(t, d.Slug(), n.userDir(d, IndexerUser), false)
			f.node(t, d.Slug(), n.orgDir(d.Slug(), GatewayUser), true)
			pkg, err := ccaasPackage("ledger_1", d.Addr(d.ChaincodePort))
			if err != nil {
				t.Fatal(err)
			}
			f.write(t, n.path("chaincode", d.Slug()+".tar.gz"), pkg, 0o644)
		})
	}
	block := make([]byte, 2048)
	rand.Read(block)
	f.write(t, n.path("channel", "datashare.block"), block, 0o644)
	f.write(t, n.path("channel", "configtx.yaml"), []byte("MSPDir: "+n.orgDir("dept2", "msp")+"\n"), 0o644)
	f.write(t, n.path("config", "peer", "core.yaml"), []byte("peer:\n  fileSystemPath: "+n.path("data")+"\n"), 0o644)
	if err := n.writeServiceConfigs(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeRun) write(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// key writes a new PKCS#8 key at path and remembers it as org's.
func (f *fakeRun) key(t *testing.T, org, path string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	f.keys[org] = append(f.keys[org], der)
	f.ecs[path] = k
	f.paths[path] = der
	return k
}

func certPEM(t *testing.T, k *ecdsa.PrivateKey, cn string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// org writes an organization's CA home, registrar and MSP, then its nodes.
func (f *fakeRun) org(t *testing.T, org string, nodes func()) {
	t.Helper()
	n := f.n
	ca := f.key(t, org, n.orgDir(org, "ca", "server", "msp", "keystore", "0a1b_sk"))
	root := certPEM(t, ca, "ca-"+org)
	f.write(t, n.orgDir(org, "ca", "server", "ca-cert.pem"), root, 0o644)
	idemix := make([]byte, 32)
	rand.Read(idemix)
	f.write(t, n.orgDir(org, "ca", "server", "msp", "keystore", "IssuerSecretKey"), idemix, 0o644)
	f.keys[org] = append(f.keys[org], idemix)
	f.paths[n.orgDir(org, "ca", "server", "msp", "keystore", "IssuerSecretKey")] = idemix
	db := append([]byte("SQLite format 3\x00"), []byte(n.opts.Run)...)
	f.write(t, n.orgDir(org, "ca", "server", "fabric-ca-server.db"), db, 0o600)
	f.write(t, n.orgDir(org, "ca", "server", "fabric-ca-server-config.yaml"), []byte("port: 7054\n"), 0o600)
	f.key(t, org, n.orgDir(org, "ca", "registrar", "msp", "keystore", "9f_sk"))
	if err := orgMSP(n.orgDir(org, "msp"), n.orgDir(org, "ca", "server", "ca-cert.pem")); err != nil {
		t.Fatal(err)
	}
	if err := n.recordSecret(Secret{Kind: "registrar", Org: org, Name: registrar, Value: randomHex(16)}); err != nil {
		t.Fatal(err)
	}
	nodes()
}

// node writes an enrolled identity: msp/ and, for a node, tls/ as
// normalizeTLS lays it out.
func (f *fakeRun) node(t *testing.T, org, dir string, tls bool) {
	t.Helper()
	k := f.key(t, org, filepath.Join(dir, "msp", "keystore", "key.pem"))
	f.write(t, filepath.Join(dir, "msp", "signcerts", "cert.pem"), certPEM(t, k, filepath.Base(dir)), 0o644)
	f.write(t, filepath.Join(dir, "fabric-ca-client-config.yaml"), []byte("mspdir: "+filepath.Join(dir, "msp")+"\n"), 0o755)
	if err := orgMSP(filepath.Join(dir, "msp"), f.n.orgDir(org, "ca", "server", "ca-cert.pem")); err != nil {
		t.Fatal(err)
	}
	if err := f.n.recordSecret(Secret{Kind: "enrollment", Org: org, Name: filepath.Base(dir), Value: randomHex(16)}); err != nil {
		t.Fatal(err)
	}
	if !tls {
		return
	}
	tk := f.key(t, org, filepath.Join(dir, "tls", "keystore", "key.pem"))
	raw, _ := os.ReadFile(filepath.Join(dir, "tls", "keystore", "key.pem"))
	f.write(t, filepath.Join(dir, "tls", "server.key"), raw, 0o600)
	f.write(t, filepath.Join(dir, "tls", "server.crt"), certPEM(t, tk, "tls-"+filepath.Base(dir)), 0o644)
	root, _ := os.ReadFile(f.n.orgDir(org, "ca", "server", "ca-cert.pem"))
	f.write(t, filepath.Join(dir, "tls", "ca.crt"), root, 0o644)
}

// foreign reports the organizations other than own whose keys raw holds.
func (f *fakeRun) foreign(raw []byte, own string) []string {
	var out []string
	blocks := privateBlocks(raw)
	for org, ders := range f.keys {
		if org == own {
			continue
		}
		for _, der := range ders {
			hit := bytes.Contains(raw, der)
			for _, b := range blocks {
				hit = hit || bytes.Equal(b, der)
			}
			if hit {
				out = append(out, org)
			}
		}
	}
	return out
}

// TestBundleEveryDepartment writes each department's bundle and checks it
// on its own terms, apart from AuditBundle: no other organization's key, its
// own peer keys and the genesis block, hashes as listed, configuration
// pointing into the bundle, only its own people's credentials.
func TestBundleEveryDepartment(t *testing.T) {
	f := newFakeRun(t)
	n := f.n
	secrets, err := ReadSecrets(n.opts.Run)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range n.topo.Departments {
		t.Run(d.MSPID, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle-"+d.Slug())
			m, err := n.Bundle(d.MSPID, out, BundleOptions{})
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]string{}
			for _, bf := range m.Files {
				listed[bf.Path] = bf.SHA256
			}
			files := 0
			err = filepath.WalkDir(out, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				raw, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				files++
				rel, _ := filepath.Rel(out, p)
				rel = filepath.ToSlash(rel)
				for _, org := range f.foreign(raw, d.Slug()) {
					t.Errorf("%s holds a private key of %s", rel, org)
				}
				for _, s := range secrets {
					own := s.Kind == SecretPassword && s.Org == d.Slug() && rel == "passwords.json"
					if !own && bytes.Contains(raw, []byte(s.Value)) {
						t.Errorf("%s holds the %s secret of %s/%s", rel, s.Kind, s.Org, s.Name)
					}
				}
				if bytes.Contains(raw, []byte(n.opts.Run+"/")) && isText(raw) {
					t.Errorf("%s still names the run folder", rel)
				}
				if rel == BundleManifestFile {
					return nil
				}
				sum := sha256.Sum256(raw)
				if want, ok := listed[rel]; !ok || want != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: SHA-256 %x, manifest %q", rel, sum, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if files != len(m.Files)+1 {
				t.Errorf("%d files in the bundle, %d in the manifest", files, len(m.Files))
			}
			for _, rel := range []string{"orgs/" + d.Slug() + "/peer0/msp/keystore/key.pem", "orgs/" + d.Slug() + "/peer0/tls/server.key",
				"channel/datashare.block", "orgs/" + d.Slug() + "/ca/server/msp/keystore/IssuerSecretKey"} {
				want, _ := os.ReadFile(filepath.Join(n.opts.Run, rel))
				got, err := os.ReadFile(filepath.Join(out, rel))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s missing from the bundle or not the run's (%v)", rel, err)
				}
			}
			for _, rel := range []string{"secrets.json", "channel/configtx.yaml", "endpoints.json"} {
				if _, err := os.Stat(filepath.Join(out, rel)); err == nil {
					t.Errorf("%s is in the bundle", rel)
				}
			}
			for _, bf := range m.Files {
				if strings.Contains(bf.Path, "/keystore/") && (!bf.Private || bf.Mode != "0600") {
					t.Errorf("%s has mode %s", bf.Path, bf.Mode)
				}
			}
			// The database is binary: copied as it is, never rewritten.
			db := "orgs/" + d.Slug() + "/ca/server/fabric-ca-server.db"
			if got, _ := os.ReadFile(filepath.Join(out, db)); !bytes.Contains(got, []byte(n.opts.Run)) {
				t.Errorf("%s was rewritten", db)
			}
			var ix indexerConfig
			raw, _ := os.ReadFile(filepath.Join(out, "config", "indexer-"+d.Slug()+".json"))
			if err := json.Unmarshal(raw, &ix); err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(out, "orgs", d.Slug(), "users", IndexerUser, "msp", "keystore", "key.pem"); ix.Identity.KeyPath != want {
				t.Errorf("indexer key path %s, want %s", ix.Identity.KeyPath, want)
			}
			var creds []Credential
			raw, _ = os.ReadFile(filepath.Join(out, "credentials.json"))
			if err := json.Unmarshal(raw, &creds); err != nil || len(creds) == 0 {
				t.Fatalf("credentials: %v (%d)", err, len(creds))
			}
			for _, c := range creds {
				if c.MSPID != d.MSPID {
					t.Errorf("credentials.json holds a token of %s/%s", c.MSPID, c.User)
				}
			}
			if len(m.Peers) != len(n.topo.Departments)-1 || len(m.Orderers) != len(n.topo.Ordering.Nodes) {
				t.Errorf("manifest lists %d peers and %d orderers", len(m.Peers), len(m.Orderers))
			}
			if m.Peer.Address != d.Addr(d.PeerPort) || !strings.HasPrefix(m.Chaincode.PackageID, "ledger_1:") {
				t.Errorf("manifest peer %s, chaincode %s", m.Peer.Address, m.Chaincode.PackageID)
			}
			a, err := AuditBundle(n.opts.Run, out)
			if err != nil || a.Err() != nil {
				t.Fatalf("audit: %v %v", err, a.Err())
			}
		})
	}
}

// TestBundleRefuses: a run folder in which a department's own folder holds
// another organization's key or secret yields no bundle, however the key is
// encoded, and what was written is removed; an unknown department or a
// used folder is refused.
func TestBundleRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, f *fakeRun) // into dept1's folder
		want  string
	}{
		{"foreign key copied", func(t *testing.T, f *fakeRun) {
			raw, _ := os.ReadFile(f.n.orgDir("dept2", "peer0", "tls", "server.key"))
			f.write(t, f.n.orgDir("dept1", "users", "admin", "msp", "keystore", "stray.pem"), raw, 0o600)
		}, "holds the private key of dept2"},
		{"foreign key re-encoded as SEC 1", func(t *testing.T, f *fakeRun) {
			der, err := x509.MarshalECPrivateKey(f.ecs[f.n.orgDir("orderer", "orderers", "orderer1", "msp", "keystore", "key.pem")])
			if err != nil {
				t.Fatal(err)
			}
			f.write(t, f.n.orgDir("dept1", "peer0", "msp", "keystore", "old.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
		}, "holds the private key of orderer"},
		{"foreign Idemix key", func(t *testing.T, f *fakeRun) {
			raw, _ := os.ReadFile(f.n.orgDir("dept2", "ca", "server", "msp", "keystore", "IssuerSecretKey"))
			f.write(t, f.n.orgDir("dept1", "ca", "server", "msp", "keystore", "IssuerSecretKey.bak"), raw, 0o600)
		}, "holds the key material of dept2"},
		{"foreign secret", func(t *testing.T, f *fakeRun) {
			list, _ := ReadSecrets(f.n.opts.Run)
			for _, s := range list {
				if s.Org == "dept2" {
					f.write(t, f.n.orgDir("dept1", "users", "admin", "fabric-ca-client-config.yaml"), []byte("secret: "+s.Value+"\n"), 0o600)
					return
				}
			}
		}, "secret of dept2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRun(t)
			tc.plant(t, f)
			out := filepath.Join(t.TempDir(), "b")
			_, err := f.n.Bundle("Dept1MSP", out, BundleOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bundle: %v, want an error saying %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the refused bundle is still there: %v", err)
			}
		})
	}
	f := newFakeRun(t)
	if _, err := f.n.Bundle("NopeMSP", t.TempDir(), BundleOptions{}); err == nil || !strings.Contains(err.Error(), "Dept1MSP, Dept2MSP") {
		t.Errorf("unknown department: %v", err)
	}
	used := t.TempDir()
	f.write(t, filepath.Join(used, "x"), []byte("x"), 0o644)
	if _, err := f.n.Bundle("Dept1MSP", used, BundleOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("used folder: %v", err)
	}
}

// TestAuditBundleTampered: a changed, added or removed file, a key that
// the run folder does not hold, and a configured path that names no file
// are reported.
func TestAuditBundleTampered(t *testing.T) {
	f := newFakeRun(t)
	out := filepath.Join(t.TempDir(), "b")
	if _, err := f.n.Bundle("Dept2MSP", out, BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	f.write(t, filepath.Join(out, "topology.yaml"), []byte("channel: other\n"), 0o644)
	f.write(t, filepath.Join(out, "extra.txt"), []byte("hello"), 0o644)
	if err := os.Remove(filepath.Join(out, "orgs", "dept2", "users", "operator1", "msp", "signcerts", "cert.pem")); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.write(t, filepath.Join(out, "orgs", "dept2", "users", "admin", "note.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if err := os.Remove(filepath.Join(out, "orgs", "dept2", "peer0", "tls", "server.key")); err != nil {
		t.Fatal(err)
	}
	a, err := AuditBundle(f.n.opts.Run, out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(a.Problems, "\n")
	for _, want := range []string{"topology.yaml: SHA-256", "extra.txt is not in the manifest",
		"orgs/dept2/peer0/tls/server.key is in the manifest but not in the bundle", "the peer's TLS key missing",
		"orgs/dept2/users/admin/note.pem holds a private key that is not in the run folder",
		"config/gateway-dept2-identities.json names " + filepath.Join(out, "orgs/dept2/users/operator1/msp/signcerts/cert.pem") + ", which the bundle lacks"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit problems lack %q:\n%s", want, got)
		}
	}
}

// TestRelocateBundle: a bundle moved to another folder names that folder
// in its configuration once relocated, and still passes its audit.
func TestRelocateBundle(t *testing.T) {
	f := newFakeRun(t)
	first := filepath.Join(t.TempDir(), "b")
	if _, err := f.n.Bundle("Dept1MSP", first, BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(first, moved); err != nil {
		t.Fatal(err)
	}
	m, err := RelocateBundle(moved)
	if err != nil {
		t.Fatal(err)
	}
	if m.Root != moved {
		t.Errorf("root %s, want %s", m.Root, moved)
	}
	var gw gatewayConfig
	raw, _ := os.ReadFile(filepath.Join(moved, "config", "gateway-dept1.json"))
	if err := json.Unmarshal(raw, &gw); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(moved, "config", "gateway-dept1-identities.json"); gw.Identities != want {
		t.Errorf("identities %s, want %s", gw.Identities, want)
	}
	if _, err := os.Stat(gw.Peer.TLSCACert); err != nil {
		t.Errorf("peer TLS CA of the relocated gateway: %v", err)
	}
	a, err := AuditBundle(f.n.opts.Run, moved)
	if err != nil || a.Err() != nil {
		t.Fatalf("audit after relocation: %v %v", err, a.Err())
	}
}

func TestRewriteRoot(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"/r/run/orgs/x"`, `"/b/orgs/x"`},
		{`unix:/r/run/sock/a.sock`, `unix:/b/sock/a.sock`},
		{`/r/run`, `/b`},
		{`/r/run-old/orgs`, `/r/run-old/orgs`},
		{`/r/runner /r/run/x`, `/r/runner /b/x`},
	} {
		if got := string(rewriteRoot([]byte(tc.in), "/r/run", "/b")); got != tc.want {
			t.Errorf("rewriteRoot(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestUpDepartmentRefuses: up-department starts nothing from a folder that
// is not a bundle, from a moved bundle not yet relocated, or from a bundle
// without its peer's ledger; a bundle written with the ledger carries it.
func TestUpDepartmentRefuses(t *testing.T) {
	f := newFakeRun(t)
	ledger := f.n.path("data", "peer-dept1", "ledgersData", "chains", "index", "000001.log")
	f.write(t, ledger, append([]byte{0, 1, 2}, []byte(f.n.opts.Run)...), 0o644)
	bare := filepath.Join(t.TempDir(), "bare")
	if _, err := f.n.Bundle("Dept1MSP", bare, BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(t.TempDir(), "full")
	m, err := f.n.Bundle("Dept1MSP", full, BundleOptions{WithLedger: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(m.Files, func(bf BundleFile) bool { return bf.Path == "data/peer-dept1/ledgersData/chains/index/000001.log" }) {
		t.Errorf("the ledger is not in the bundle written with it")
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(full, moved); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, run, want string }{
		{"not a bundle", f.n.opts.Run, "is not a bundle"},
		{"no ledger", bare, "carries no ledger"},
		{"moved", moved, "relocate-bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo := filepath.Join(tc.run, "topology.yaml")
			if tc.run == f.n.opts.Run {
				topo = f.n.opts.Topology
			}
			n, err := New(Options{Root: t.TempDir(), Run: tc.run, Topology: topo})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.UpDepartment(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("up-department: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOrdererBundle writes each orderer's bundle and checks that it holds
// the orderer's own keys and no other key of the run folder (not its
// organization's CA, registrar or admin, not the other orderers'), the
// public MSPs, the genesis block, and with WithLedger its ledger.
func TestOrdererBundle(t *testing.T) {
	f := newFakeRun(t)
	n := f.n
	for _, o := range n.topo.Ordering.Nodes {
		t.Run(o.Name, func(t *testing.T) {
			f.write(t, n.path("data", o.Name, "ledger", "chains", "datashare", "blockfile_000000"), []byte("blocks of "+o.Name), 0o644)
			out := filepath.Join(t.TempDir(), o.Name)
			m, err := n.OrdererBundle(o.Name, out, BundleOptions{WithLedger: true})
			if err != nil {
				t.Fatal(err)
			}
			if m.Orderer != o.Name || m.Department != "OrdererMSP" || m.Slug != ordererOrg || len(m.Orderers) != len(n.topo.Ordering.Nodes) {
				t.Errorf("manifest: orderer %q, department %q, slug %q, %d orderers", m.Orderer, m.Department, m.Slug, len(m.Orderers))
			}
			own := n.ordererDir(o) + string(filepath.Separator)
			err = filepath.WalkDir(out, func(p string, e fs.DirEntry, err error) error {
				if err != nil || e.IsDir() {
					return err
				}
				raw, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(out, p)
				for path, der := range f.paths {
					if !strings.HasPrefix(path, own) && bytes.Contains(raw, der) {
						t.Errorf("%s holds the key of %s", rel, path)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, rel := range []string{"orgs/orderer/orderers/" + o.Name + "/msp/keystore/key.pem", "orgs/orderer/orderers/" + o.Name + "/tls/server.key",
				"channel/datashare.block", "data/" + o.Name + "/ledger/chains/datashare/blockfile_000000", "orgs/orderer/msp/cacerts/ca.pem",
				"orgs/dept2/msp/cacerts/ca.pem", "topology.yaml"} {
				want, _ := os.ReadFile(filepath.Join(n.opts.Run, rel))
				if rel == "topology.yaml" {
					want, _ = os.ReadFile(n.opts.Topology)
				}
				if got, err := os.ReadFile(filepath.Join(out, rel)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s missing from the bundle or not the run's (%v)", rel, err)
				}
			}
			for _, rel := range []string{"orgs/orderer/ca", "orgs/orderer/users", "secrets.json", "credentials.json", "config"} {
				if _, err := os.Stat(filepath.Join(out, rel)); err == nil {
					t.Errorf("%s is in the bundle", rel)
				}
			}
			moved := out + "-moved"
			if err := os.Rename(out, moved); err != nil {
				t.Fatal(err)
			}
			if _, err := RelocateBundle(moved); err != nil {
				t.Fatal(err)
			}
			if a, err := AuditBundle(n.opts.Run, moved); err != nil || a.Err() != nil {
				t.Fatalf("audit of the relocated bundle: %v %v", err, a.Err())
			}
		})
	}
	if _, err := n.OrdererBundle("orderer9", t.TempDir(), BundleOptions{}); err == nil || !strings.Contains(err.Error(), "orderer1, orderer2") {
		t.Errorf("unknown orderer: %v", err)
	}
}

// TestOrdererBundleRefuses: an orderer's bundle holding a key of its own
// organization that is not its own (another orderer's, the CA's) is refused
// and removed.
func TestOrdererBundleRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, from, want string
	}{
		{"another orderer's key", "orderers/orderer2/tls/server.key", "holds the private key of orderer (orgs/orderer/orderers/orderer2/"},
		{"the CA's key", "ca/server/msp/keystore/0a1b_sk", "holds the private key of orderer (orgs/orderer/ca/server/"},
		{"the CA's Idemix key", "ca/server/msp/keystore/IssuerSecretKey", "holds the key material of orderer (orgs/orderer/ca/server/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRun(t)
			raw, err := os.ReadFile(f.n.orgDir(ordererOrg, filepath.FromSlash(tc.from)))
			if err != nil {
				t.Fatal(err)
			}
			f.write(t, f.n.orgDir(ordererOrg, "orderers", "orderer1", "msp", "keystore", "stray"), raw, 0o600)
			out := filepath.Join(t.TempDir(), "b")
			if _, err := f.n.OrdererBundle("orderer1", out, BundleOptions{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bundle: %v, want an error saying %q", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the refused bundle is still there: %v", err)
			}
		})
	}
}

// TestUpNodeRefusesTheOtherKind: an orderer's bundle does not start as a
// department, nor a department's as an orderer; a running orderer's ledger
// is not bundled.
func TestUpNodeRefusesTheOtherKind(t *testing.T) {
	f := newFakeRun(t)
	ob := filepath.Join(t.TempDir(), "orderer1")
	if _, err := f.n.OrdererBundle("orderer1", ob, BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "dept1")
	if _, err := f.n.Bundle("Dept1MSP", db, BundleOptions{}); err != nil {
		t.Fatal(err)
	}
	open := func(dir string) *Net {
		n, err := New(Options{Root: t.TempDir(), Run: dir, Topology: filepath.Join(dir, "topology.yaml")})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := open(ob).UpDepartment(context.Background()); err == nil || !strings.Contains(err.Error(), "up-orderer") {
		t.Errorf("up-department on an orderer's bundle: %v", err)
	}
	if err := open(db).UpOrderer(context.Background()); err == nil || !strings.Contains(err.Error(), "up-department") {
		t.Errorf("up-orderer on a department's bundle: %v", err)
	}
	run, err := New(Options{Root: t.TempDir(), Run: f.n.opts.Run, Topology: f.n.opts.Topology})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.UpOrderer(context.Background()); err == nil || !strings.Contains(err.Error(), "is not a bundle") {
		t.Errorf("up-orderer on a run folder: %v", err)
	}
	// A recorded, live orderer: this test process stands in for it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, f.n.path("pids", "orderer2.pid"), []byte(fmt.Sprintf("%d %s\n", os.Getpid(), self)), 0o600)
	f.write(t, f.n.path("data", "orderer2", "ledger", "x"), []byte("x"), 0o644)
	if _, err := f.n.OrdererBundle("orderer2", filepath.Join(t.TempDir(), "o2"), BundleOptions{WithLedger: true}); err == nil || !strings.Contains(err.Error(), "orderer2 is running") {
		t.Errorf("bundle of a running orderer with its ledger: %v", err)
	}
}
