package network

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
// The registrar's password reaches the server in its configuration file
// (0600), never its command line, and leaves that file once the server has
// stored it (bcrypt-hashed in its database); the client gets it in its
// environment.
func (n *Net) startCA(ctx context.Context, c *orgCA) error {
	if err := os.MkdirAll(c.home, 0o700); err != nil {
		return err
	}
	c.password = randomHex(16)
	if err := n.recordSecret(Secret{Kind: "registrar", Org: c.org, Name: registrar, Value: c.password}); err != nil {
		return err
	}
	if err := writeCAConfig(c.home, c.password); err != nil {
		return err
	}
	p, err := n.procs.start(procSpec{Name: "ca-" + c.org, Bin: n.bin("fabric-ca-server"), Order: 0, Ready: "tcp:" + fmt.Sprintf("%s:%d", c.host, c.port), Args: []string{
		"start",
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
	// The server writes its root certificate in place: until the file
	// parses, it may be there but empty or cut short.
	pool := x509.NewCertPool()
	for {
		if pem, err := os.ReadFile(c.rootCert()); err == nil && pool.AppendCertsFromPEM(pem) {
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
	if err := waitHTTP(wctx, p, c.url()+"/cainfo", &tls.Config{RootCAs: pool}); err != nil {
		return err
	}
	// The server creates its database (password hashes, certificates) 0644.
	if err := os.Chmod(filepath.Join(c.home, "fabric-ca-server.db"), 0o600); err != nil {
		return err
	}
	c.admin = filepath.Join(filepath.Dir(c.home), registrar)
	if _, err := n.caClient(ctx, c, c.enrollEnv(registrar, c.password), "enroll",
		"--home", c.admin, "--mspdir", "msp"); err != nil {
		return err
	}
	// The server holds the registrar now; its configuration no longer needs the password.
	return writeCAConfig(c.home, "")
}

const registrar = "registrar"

// enrollEnv passes an enrollment URL with its credentials to fabric-ca-client
// in its environment (FABRIC_CA_CLIENT_URL, read by the client's viper with
// the FABRIC_CA_CLIENT prefix; the client writes its configuration file with
// the URL's scheme and host only).
func (c *orgCA) enrollEnv(user, secret string) secretEnv {
	return secretEnv{env: []string{fmt.Sprintf("FABRIC_CA_CLIENT_URL=https://%s:%s@%s:%d", user, secret, c.host, c.port)}, secrets: []string{secret}}
}

// secretEnv is environment for one fabric-ca-client run and the secrets in
// it, masked in its log.
type secretEnv struct {
	env     []string
	secrets []string
}

func (n *Net) caClient(ctx context.Context, c *orgCA, se secretEnv, args ...string) ([]byte, error) {
	args = append(args, "--tls.certfiles", c.rootCert(), "--caname", c.name)
	env := append(os.Environ(), se.env...)
	return n.procs.runCmdSecret(ctx, "ca-client-"+c.org, env, se.secrets, n.bin("fabric-ca-client"), args...)
}

// writeCAConfig writes fabric-ca-server-config.yaml (mode 0600): fabric-ca's
// defaults, with the registrar as bootstrap identity when password is set
// (the first start) and without any once the server has it. A file present
// at start means the server never writes its default, which would copy a
// -b password into it.
func writeCAConfig(home, password string) error {
	ids := "  identities: []\n"
	if password != "" {
		ids = fmt.Sprintf(caBootstrapIdentity, registrar, password)
	}
	path := filepath.Join(home, "fabric-ca-server-config.yaml")
	if err := writeFileAtomic(path, []byte(strings.Replace(caServerConfig, "<<<IDENTITIES>>>\n", ids, 1)), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}

// caBootstrapIdentity is the registrar: every registrar right, one enrollment.
const caBootstrapIdentity = `  identities:
    - name: %s
      pass: %s
      type: client
      affiliation: ""
      maxenrollments: 1
      attrs:
        hf.Registrar.Roles: "*"
        hf.Registrar.DelegateRoles: "*"
        hf.Revoker: true
        hf.IntermediateCA: true
        hf.GenCRL: true
        hf.Registrar.Attributes: "*"
        hf.AffiliationMgr: true
`

// caServerConfig is fabric-ca-server v1.5's default configuration; port,
// address, names, hosts, TLS and operations come from the command line.
const caServerConfig = `version: 1.5.21
port: 7054
debug: false
crlsizelimit: 512000
tls:
  enabled: false
  clientauth:
    type: noclientcert
ca:
  reenrollIgnoreCertExpiry: false
crl:
  # Fabric's MSP does not read a CRL's nextUpdate; a year keeps the list
  # in the channel configuration within its stated life.
  expiry: 8760h
registry:
  maxenrollments: -1
<<<IDENTITIES>>>
db:
  type: sqlite3
  datasource: fabric-ca-server.db
  tls:
    enabled: false
ldap:
  enabled: false
affiliations:
  org1:
    - department1
    - department2
  org2:
    - department1
signing:
  default:
    usage:
      - digital signature
    expiry: 8760h
  profiles:
    ca:
      usage:
        - cert sign
        - crl sign
      expiry: 43800h
      caconstraint:
        isca: true
        maxpathlen: 0
    tls:
      usage:
        - signing
        - key encipherment
        - server auth
        - client auth
        - key agreement
      expiry: 8760h
csr:
  cn: fabric-ca-server
  keyrequest:
    algo: ecdsa
    size: 256
  names:
    - C: US
      ST: "North Carolina"
      L:
      O: Hyperledger
      OU: Fabric
  hosts:
    - localhost
  ca:
    expiry: 131400h
    pathlength: 1
idemix:
  rhpoolsize: 1000
  nonceexpiration: 15s
  noncesweepinterval: 15m
  curve: amcl.Fp256bn
bccsp:
  default: SW
  sw:
    hash: SHA2
    security: 256
    filekeystore:
      keystore: msp/keystore
cfg:
  identities:
    passwordattempts: 10
`

// enrollment asks for one identity.
type enrollment struct {
	user  string
	typ   string // client, peer, orderer, admin
	role  domain.Role
	dir   string // where msp/ (and tls/ if tls) go
	tls   bool   // also enroll a TLS certificate for 127.0.0.1/localhost
	hosts []string
	// caAttrs are fabric-ca attributes of the identity that stay at the CA
	// (not in the certificate), such as the rights to revoke.
	caAttrs []string
}

// departmentAdminCAAttrs let a department's admin revoke the department's
// people and generate its CRL at the CA. hf.Registrar.Roles bounds whom
// they may revoke; it also lets them register identities, but without
// hf.Registrar.Attributes none with a role, and the chaincode lets an
// identity without a role do nothing.
var departmentAdminCAAttrs = []string{"hf.Revoker=true", "hf.GenCRL=true", `"hf.Registrar.Roles=client,admin"`}

// enroll registers and enrolls one identity and lays out its MSP folder the
// way Fabric reads it. The enrollment secret is random, given to the
// client in its environment, and good for one enrollment: a node's TLS
// certificate is a re-enrollment with its new enrollment certificate.
func (n *Net) enroll(ctx context.Context, c *orgCA, e enrollment) error {
	secret := randomHex(16)
	if err := n.recordSecret(Secret{Kind: "enrollment", Org: c.org, Name: e.user, Value: secret}); err != nil {
		return err
	}
	// FABRIC_CA_CLIENT_ID_SECRET is --id.secret (viper maps "." to "_").
	reg := []string{"register", "--home", c.admin, "--mspdir", "msp", "-u", c.url(),
		"--id.name", e.user, "--id.type", e.typ, "--id.maxenrollments", "1"}
	var attrs []string
	if e.role != "" {
		attrs = append(attrs, domain.RoleAttribute+"="+string(e.role)+":ecert")
	}
	if attrs = append(attrs, e.caAttrs...); len(attrs) > 0 {
		reg = append(reg, "--id.attrs", strings.Join(attrs, ","))
	}
	regEnv := secretEnv{env: []string{"FABRIC_CA_CLIENT_ID_SECRET=" + secret}, secrets: []string{secret}}
	if _, err := n.caClient(ctx, c, regEnv, reg...); err != nil {
		return err
	}
	names := "C=CN,O=" + c.mspID
	if _, err := n.caClient(ctx, c, c.enrollEnv(e.user, secret), "enroll", "--home", e.dir, "--mspdir", "msp", "--csr.names", names); err != nil {
		return err
	}
	if e.tls {
		if err := n.reenrollTLS(ctx, c, e, names); err != nil {
			return err
		}
	}
	return normalizeMSP(filepath.Join(e.dir, "msp"), c.rootCert())
}

// reenrollTLS gets a TLS certificate (new key, tls profile, the node's
// hosts) by re-enrolling with the enrollment certificate just issued:
// a copy of msp/ becomes tls/, and its old key goes once the new one is in.
func (n *Net) reenrollTLS(ctx context.Context, c *orgCA, e enrollment, names string) error {
	msp, tls := filepath.Join(e.dir, "msp"), filepath.Join(e.dir, "tls")
	for _, sub := range []string{"signcerts", "keystore"} {
		entries, err := os.ReadDir(filepath.Join(msp, sub))
		if err != nil {
			return err
		}
		for _, f := range entries {
			if err := copyFile(filepath.Join(msp, sub, f.Name()), filepath.Join(tls, sub, f.Name()), 0o600); err != nil {
				return err
			}
		}
	}
	oldKeys, err := os.ReadDir(filepath.Join(tls, "keystore"))
	if err != nil {
		return err
	}
	hosts := strings.Join(append([]string{"localhost", "127.0.0.1"}, e.hosts...), ",")
	if _, err := n.caClient(ctx, c, secretEnv{}, "reenroll", "-u", c.url(), "--home", e.dir, "--mspdir", "tls",
		"--enrollment.profile", "tls", "--csr.hosts", hosts, "--csr.names", names); err != nil {
		return err
	}
	for _, k := range oldKeys {
		if err := os.Remove(filepath.Join(tls, "keystore", k.Name())); err != nil {
			return err
		}
	}
	return normalizeTLS(tls, c.rootCert())
}

// Secret is one secret the consortium generated, as secrets.json (mode
// 0600) lists them so that a test can look for each one where it must not be.
type Secret struct {
	Kind  string `json:"kind"` // registrar, enrollment or password
	Org   string `json:"org"`  // the organization's folder name
	Name  string `json:"name"` // the identity at its CA
	Value string `json:"value"`
}

// SecretPassword is the Kind of a person's initial gateway password.
const SecretPassword = "password"

// SecretsFile is the run folder's list of generated secrets.
const SecretsFile = "secrets.json"

var secretsMu sync.Mutex

// recordSecret adds s to the run's secrets.json before it is used.
func (n *Net) recordSecret(s Secret) error {
	secretsMu.Lock()
	defer secretsMu.Unlock()
	list, err := ReadSecrets(n.opts.Run)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeJSON(n.path(SecretsFile), append(list, s), 0o600)
}

// ReadSecrets reads the run's secrets.json.
func ReadSecrets(run string) ([]Secret, error) {
	raw, err := os.ReadFile(filepath.Join(run, SecretsFile))
	if err != nil {
		return nil, err
	}
	var list []Secret
	return list, json.Unmarshal(raw, &list)
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
