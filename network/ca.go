package network

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// orgCA is one organization's fabric-ca: it issues both the enrollment
// certificates (with the role attribute) and the TLS certificates of the
// organization, so the organization's MSP trusts one root for both.
type orgCA struct {
	org      string // folder name of the organization
	mspID    string
	name     string
	host     string
	port     int
	opsPort  int
	home     string // server home
	admin    string // registrar's client home
	password string
}

func (c *orgCA) url() string      { return fmt.Sprintf("https://%s:%d", c.host, c.port) }
func (c *orgCA) rootCert() string { return filepath.Join(c.home, "ca-cert.pem") }

// startCA starts the organization's CA server and enrolls its registrar.
func (n *Net) startCA(ctx context.Context, c *orgCA) error {
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		return err
	}
	c.password = randomHex(16)
	p, err := n.procs.start(procSpec{Name: "ca-" + c.org, Bin: n.bin("fabric-ca-server"), Order: 0, Ready: "tcp:" + fmt.Sprintf("%s:%d", c.host, c.port), Args: []string{
		"start", "-b", "registrar:" + c.password,
		"--home", c.home,
		"--port", fmt.Sprint(c.port),
		"--address", c.host,
		"--ca.name", c.name,
		"--csr.cn", c.name,
		"--csr.hosts", "localhost,127.0.0.1," + c.host,
		"--tls.enabled",
		"--operations.listenaddress", fmt.Sprintf("%s:%d", c.host, c.opsPort),
		"--metrics.provider", "prometheus",
	}, Dir: c.home})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err := os.Stat(c.rootCert()); err == nil {
			break
		}
		if err := alive(p); err != nil {
			return err
		}
		select {
		case <-wctx.Done():
			return logErr(p, fmt.Errorf("CA %s wrote no root certificate", c.name))
		case <-time.After(50 * time.Millisecond):
		}
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(c.rootCert())
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(pem)
	if err := waitHTTP(wctx, p, c.url()+"/cainfo", &tls.Config{RootCAs: pool}); err != nil {
		return err
	}
	c.admin = filepath.Join(filepath.Dir(c.home), "registrar")
	_, err = n.caClient(ctx, c, "enroll",
		"-u", fmt.Sprintf("https://registrar:%s@%s:%d", c.password, c.host, c.port),
		"--home", c.admin, "--mspdir", "msp")
	return err
}

func (n *Net) caClient(ctx context.Context, c *orgCA, args ...string) ([]byte, error) {
	args = append(args, "--tls.certfiles", c.rootCert(), "--caname", c.name)
	return n.procs.runCmd(ctx, "ca-client-"+c.org, os.Environ(), n.bin("fabric-ca-client"), args...)
}

// enrollment asks for one identity.
type enrollment struct {
	user  string
	typ   string // client, peer, orderer, admin
	role  domain.Role
	dir   string // where msp/ (and tls/ if tls) go
	tls   bool   // also enroll a TLS certificate for 127.0.0.1/localhost
	hosts []string
}

// enroll registers and enrolls one identity and lays out its MSP folder the
// way Fabric reads it.
func (n *Net) enroll(ctx context.Context, c *orgCA, e enrollment) error {
	secret := randomHex(16)
	reg := []string{"register", "--home", c.admin, "--mspdir", "msp", "-u", c.url(),
		"--id.name", e.user, "--id.secret", secret, "--id.type", e.typ}
	if e.role != "" {
		reg = append(reg, "--id.attrs", domain.RoleAttribute+"="+string(e.role)+":ecert")
	}
	if _, err := n.caClient(ctx, c, reg...); err != nil {
		return err
	}
	enrollURL := fmt.Sprintf("https://%s:%s@%s:%d", e.user, secret, c.host, c.port)
	names := "C=CN,O=" + c.mspID
	if _, err := n.caClient(ctx, c, "enroll", "-u", enrollURL, "--home", e.dir, "--mspdir", "msp", "--csr.names", names); err != nil {
		return err
	}
	if err := normalizeMSP(filepath.Join(e.dir, "msp"), c.rootCert()); err != nil {
		return err
	}
	if e.tls {
		hosts := strings.Join(append([]string{"localhost", "127.0.0.1"}, e.hosts...), ",")
		if _, err := n.caClient(ctx, c, "enroll", "-u", enrollURL, "--home", e.dir, "--mspdir", "tls",
			"--enrollment.profile", "tls", "--csr.hosts", hosts, "--csr.names", names); err != nil {
			return err
		}
		if err := normalizeTLS(filepath.Join(e.dir, "tls"), c.rootCert()); err != nil {
			return err
		}
	}
	return nil
}

// nodeOUs makes the MSP classify identities by the OU fabric-ca writes from
// the registered type, so "admin" certificates are MSP admins.
const nodeOUs = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
`

// orgMSP writes the organization's verifying MSP (no keys), as configtxgen
// and the channel configuration need it.
func orgMSP(dir, rootCert string) error {
	for _, sub := range []string{"cacerts", "tlscacerts"} {
		if err := copyFile(rootCert, filepath.Join(dir, sub, "ca.pem"), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(nodeOUs), 0o644)
}

// normalizeMSP gives an enrolled MSP fixed file names: cacerts/ca.pem,
// tlscacerts/ca.pem, signcerts/cert.pem, keystore/key.pem (mode 0600), and
// the NodeOUs config.
func normalizeMSP(dir, rootCert string) error {
	if err := os.RemoveAll(filepath.Join(dir, "cacerts")); err != nil {
		return err
	}
	if err := orgMSP(dir, rootCert); err != nil {
		return err
	}
	return renameKey(filepath.Join(dir, "keystore"), "key.pem")
}

// normalizeTLS lays a TLS enrollment out as server.crt, server.key and ca.crt.
func normalizeTLS(dir, rootCert string) error {
	if err := renameKey(filepath.Join(dir, "keystore"), "key.pem"); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(dir, "signcerts", "cert.pem"), filepath.Join(dir, "server.crt"), 0o644); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(dir, "keystore", "key.pem"), filepath.Join(dir, "server.key"), 0o600); err != nil {
		return err
	}
	return copyFile(rootCert, filepath.Join(dir, "ca.crt"), 0o644)
}

func renameKey(keystore, name string) error {
	entries, err := os.ReadDir(keystore)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_sk") {
			dst := filepath.Join(keystore, name)
			if err := os.Rename(filepath.Join(keystore, e.Name()), dst); err != nil {
				return err
			}
			return os.Chmod(dst, 0o600)
		}
	}
	return fmt.Errorf("no private key in %s", keystore)
}

func copyFile(src, dst string, mode os.FileMode) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, raw, mode)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
