//go:build integration

package e2e

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// runKey is a private key of the run folder and the organization whose
// folder holds it.
type runKey struct {
	org, path string
	der       []byte // a PEM block's DER, or a non-PEM keystore file's bytes
	pub       []byte // PKIX public key, when the key parses
}

// runPrivateKeys collects every private key under the run folder's orgs/:
// PEM blocks whose type ends in PRIVATE KEY, and the bytes of keystore files
// that are not PEM (the CA's Idemix issuer key).
func runPrivateKeys(t *testing.T) []runKey {
	t.Helper()
	orgs := filepath.Join(shared.run, "orgs")
	var keys []runKey
	err := filepath.WalkDir(orgs, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(orgs, p)
		org, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		blocks := pemPrivate(raw)
		for _, b := range blocks {
			keys = append(keys, runKey{org: org, path: rel, der: b, pub: pkix(b)})
		}
		if len(blocks) == 0 && filepath.Base(filepath.Dir(p)) == "keystore" {
			keys = append(keys, runKey{org: org, path: rel, der: raw})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func pemPrivate(raw []byte) [][]byte {
	var out [][]byte
	for {
		b, rest := pem.Decode(raw)
		if b == nil {
			return out
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			out = append(out, b.Bytes)
		}
		raw = rest
	}
}

func pkix(der []byte) []byte {
	var pub crypto.PublicKey
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			pub = s.Public()
		}
	} else if k, err := x509.ParseECPrivateKey(der); err == nil {
		pub = &k.PublicKey
	}
	if pub == nil {
		return nil
	}
	raw, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	return raw
}

// TestBundleEveryDepartment writes every department's bundle with the
// consortium command, as `make bundle` does, and checks each one against the
// run folder: no file holds another organization's private key (by bytes or
// public key) or any secret of secrets.json, and its own keys are 0600; the
// department's own peer keys and the genesis block are there, byte for byte;
// every file is in the manifest with its SHA-256; the chaincode ID is the one
// its server runs with; the peer's TLS certificate names the topology's host.
// AuditBundle, which the command runs, must agree, also once the bundle is
// moved and relocated.
func TestBundleEveryDepartment(t *testing.T) {
	skipOnMultiHost(t, "bundles are written from the one run folder holding every organization's keys, which no host holds (each host runs from its own bundle, audited when it was written)")
	keys := runPrivateKeys(t)
	if len(keys) < 4*len(shared.eps.Departments) {
		t.Fatalf("only %d private keys in the run folder", len(keys))
	}
	secrets, err := network.ReadSecrets(shared.run)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Topology string `json:"topology"`
	}
	raw, err := os.ReadFile(filepath.Join(shared.run, "up.json"))
	if err != nil || json.Unmarshal(raw, &up) != nil {
		t.Fatalf("up.json: %v", err)
	}
	topo, err := network.LoadTopology(up.Topology)
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	for _, d := range topo.Departments {
		t.Run(d.MSPID, func(t *testing.T) {
			out := filepath.Join(base, d.Slug())
			consortiumCmd(t, "bundle", "-dept", d.MSPID, "-out", out)
			m, err := network.ReadBundleManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			if m.Department != d.MSPID || m.Slug != d.Slug() {
				t.Fatalf("manifest of %s/%s", m.Department, m.Slug)
			}
			listed := map[string]string{}
			for _, f := range m.Files {
				listed[f.Path] = f.SHA256
			}
			own, files := 0, 0
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
				blocks := pemPrivate(raw)
				if fi, err := e.Info(); err == nil && len(blocks) > 0 && fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s holds a private key with mode %v", rel, fi.Mode().Perm())
				}
				for _, k := range keys {
					hit := bytes.Contains(raw, k.der)
					for _, b := range blocks {
						hit = hit || bytes.Equal(b, k.der) || k.pub != nil && bytes.Equal(pkix(b), k.pub)
					}
					if !hit {
						continue
					}
					if k.org != d.Slug() {
						t.Errorf("%s holds the private key of %s (%s)", rel, k.org, k.path)
					} else {
						own++
					}
				}
				for _, s := range secrets {
					own := s.Kind == network.SecretPassword && s.Org == d.Slug() && rel == "passwords.json"
					if !own && bytes.Contains(raw, []byte(s.Value)) {
						t.Errorf("%s holds the %s secret of %s/%s", rel, s.Kind, s.Org, s.Name)
					}
				}
				if rel == network.BundleManifestFile {
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
				t.Errorf("%d files in the bundle, %d in its manifest", files, len(m.Files))
			}
			peer := filepath.Join("orgs", d.Slug(), "peer0")
			for _, rel := range []string{filepath.Join(peer, "msp", "keystore", "key.pem"), filepath.Join(peer, "tls", "server.key"),
				filepath.Join("channel", m.Channel+".block")} {
				want, err := os.ReadFile(filepath.Join(shared.run, rel))
				if err != nil {
					t.Fatal(err)
				}
				if got, err := os.ReadFile(filepath.Join(out, rel)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s missing from the bundle or not the run's: %v", rel, err)
				}
			}
			if own == 0 {
				t.Errorf("no private key of %s in its own bundle", d.Slug())
			}
			spec, err := os.ReadFile(filepath.Join(shared.run, "pids", "chaincode-"+d.Slug()+".spec.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(spec, []byte("CHAINCODE_ID="+m.Chaincode.PackageID+`"`)) {
				t.Errorf("bundle's chaincode ID %s is not the one its server runs with", m.Chaincode.PackageID)
			}
			crt, err := os.ReadFile(filepath.Join(out, peer, "tls", "server.crt"))
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(crt)
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if ip := net.ParseIP(d.Host); ip != nil && !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				t.Errorf("peer TLS certificate's addresses %v lack the topology's host %s", cert.IPAddresses, d.Host)
			}
			a, err := network.AuditBundle(shared.run, out)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Err(); err != nil {
				t.Error(err)
			}
			// Unpacked elsewhere and relocated, it still passes.
			moved := filepath.Join(base, d.Slug()+"-moved")
			if err := os.Rename(out, moved); err != nil {
				t.Fatal(err)
			}
			consortiumCmd(t, "relocate-bundle", moved)
			if a, err := network.AuditBundle(shared.run, moved); err != nil || a.Err() != nil {
				t.Errorf("relocated bundle: %v %v", err, a.Err())
			}
			t.Logf("%s: %d files, %d of its own private keys, audited %d files", d.MSPID, len(m.Files), own, a.Files)
		})
	}
}

// TestBundleUpDepartment moves a department onto its bundle: it stops the
// department's processes, writes its bundle with its peer's ledger, starts
// it from the bundle alone (`up-department` with the bundle as run folder),
// and writes through its gateway a record that needs its own peer's
// endorsement, which another department then reads. The department is
// brought back from the run folder afterwards, even when the test fails.
func TestBundleUpDepartment(t *testing.T) {
	skipOnMultiHost(t, "it moves a department from the run folder onto its bundle; here every department runs from its bundle already")
	const msp = "Dept3MSP"
	base := strings.Fields(os.Getenv("CONSORTIUM"))
	if len(base) == 0 {
		t.Fatal("CONSORTIUM is not set; run the integration tests through scripts/integration.sh")
	}
	slug := strings.TrimSuffix(strings.ToLower(msp), "msp")
	procs := []string{"gateway-" + slug, "indexer-" + slug, "chaincode-" + slug, "peer-" + slug, "ca-" + slug}
	dir := filepath.Join(t.TempDir(), slug)
	// The same command on the bundle: its own run folder and topology.
	bundleCmd := []string{base[0]}
	for i := 1; i < len(base); i++ {
		if base[i] == "-run" || base[i] == "-topology" {
			i++
			continue
		}
		bundleCmd = append(bundleCmd, base[i])
	}
	bundleCmd = append(bundleCmd, "-run", dir)
	consortiumCmd(t, append([]string{"stop"}, procs...)...)
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "pids")); err == nil {
			if out, err := exec.Command(bundleCmd[0], append(bundleCmd[1:], "stop")...).CombinedOutput(); err != nil {
				t.Errorf("stop the bundle's processes: %v\n%s", err, out)
			}
		}
		consortiumCmd(t, append([]string{"start"}, procs...)...)
		waitEndorsable(t)
	})
	consortiumCmd(t, "bundle", "-dept", msp, "-out", dir, "-with-ledger")
	a, err := network.AuditBundle(shared.run, dir)
	if err != nil || a.Err() != nil {
		t.Fatalf("audit of the bundle with its ledger: %v %v", err, a.Err())
	}
	start := time.Now()
	if out, err := exec.Command(bundleCmd[0], append(bundleCmd[1:], "up-department")...).CombinedOutput(); err != nil {
		t.Fatalf("up-department: %v\n%s", err, out)
	}
	t.Logf("%s up from its bundle in %.1fs", msp, time.Since(start).Seconds())
	for _, p := range procs {
		if _, err := os.Stat(filepath.Join(dir, "pids", p+".pid")); err != nil {
			t.Errorf("%s is not recorded in the bundle: %v", p, err)
		}
	}
	// A new dataset of Dept3 needs Dept3's peer's endorsement (the
	// creation rule), so this commits only if the bundle's peer endorses.
	id := uniqueID("bundle-up")
	op := shared.as(t, msp, "operator")
	op.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional"))
	op.must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id, nil)
	other := shared.as(t, "Dept1MSP", "operator")
	eventually(t, 15*time.Second, func() error {
		if r := other.do(http.MethodGet, "/v1/datasets/"+id, nil); r.status != http.StatusOK {
			return fmt.Errorf("Dept1MSP reads %s: status %d: %s", id, r.status, r.body)
		}
		return nil
	})
}

// waitEndorsable waits, after a department's peer was replaced, until the
// gateways plan endorsements across departments again (gossip has taken the
// restarted peer back in), so that the tests after this one find a whole
// consortium: Dept3 registers a dataset (its own peer and a majority), and
// Dept2 requests Dept1's open data (both parties' peers and a majority).
func waitEndorsable(t *testing.T) {
	t.Helper()
	open := uniqueID("endorsable")
	eventually(t, 90*time.Second, func() error {
		if r := shared.as(t, "Dept1MSP", "operator").do(http.MethodPost, "/v1/datasets", newDataset(open, "unconditional")); r.status != http.StatusCreated && r.status != http.StatusConflict {
			return fmt.Errorf("Dept1MSP registers %s: %d %s", open, r.status, r.body)
		}
		return nil
	})
	eventually(t, 90*time.Second, func() error {
		if r := shared.as(t, "Dept3MSP", "operator").do(http.MethodPost, "/v1/datasets", newDataset(uniqueID("endorsable"), "conditional")); r.status != http.StatusCreated {
			return fmt.Errorf("Dept3MSP registers a dataset: %d %s", r.status, r.body)
		}
		if r := shared.as(t, "Dept2MSP", "operator").do(http.MethodPost, "/v1/requests", newRequest(open)); r.status != http.StatusCreated {
			return fmt.Errorf("Dept2MSP requests %s: %d %s", open, r.status, r.body)
		}
		return nil
	})
}
