package people

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/fabricca"
	"github.com/govshare/ledger/gateway/identity"
)

// testCA issues the people's certificates and signs CRLs of what it revoked.
type testCA struct {
	t    *testing.T
	key  *ecdsa.PrivateKey
	cert *x509.Certificate

	mu      sync.Mutex
	serials map[string]*big.Int // by user
	revoked []*big.Int
	fail    error
}

func newTestCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca-dept1"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{1, 2, 3},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{t: t, key: key, cert: cert, serials: map[string]*big.Int{}}
}

// person writes user's certificate and key under dir and returns the entry.
func (c *testCA) person(dir, user string, role domain.Role, serial int64) identity.Entry {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: user},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	c.serials[user] = big.NewInt(serial)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath := filepath.Join(dir, user+".pem"), filepath.Join(dir, user+"_sk")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	return identity.Entry{User: user, Role: string(role), TokenSHA256: strings.Repeat(string("0123456789abcdef"[serial%16]), 64),
		CertPath: certPath, KeyPath: keyPath}
}

func (c *testCA) Revoke(ctx context.Context, s fabricca.Signer, name, reason string) ([]fabricca.RevokedCert, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return nil, c.fail
	}
	if !strings.Contains(string(s.CertPEM), "CERTIFICATE") || s.Sign == nil {
		return nil, errors.New("no signer")
	}
	sn := c.serials[name]
	for _, r := range c.revoked {
		if r.Cmp(sn) == 0 {
			return nil, nil
		}
	}
	c.revoked = append(c.revoked, sn)
	return []fabricca.RevokedCert{{Serial: sn.Text(16)}}, nil
}

func (c *testCA) CRL(ctx context.Context, s fabricca.Signer) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var entries []x509.RevocationListEntry
	for _, r := range c.revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r, RevocationTime: time.Now()})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(int64(len(entries) + 1)),
		RevokedCertificateEntries: entries, ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, c.cert, c.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}

// testChannel is the channel configuration and an ordering service that
// applies an update the way configtx does for one value: versions checked,
// the value replaced.
type testChannel struct {
	mu      sync.Mutex
	cfg     *common.Config
	updates int
}

func newTestChannel(t *testing.T) *testChannel {
	inner, _ := proto.Marshal(&msp.FabricMSPConfig{Name: "Dept1MSP"})
	v, _ := proto.Marshal(&msp.MSPConfig{Config: inner})
	cfg := &common.Config{ChannelGroup: &common.ConfigGroup{Version: 3, Groups: map[string]*common.ConfigGroup{
		"Application": {Version: 1, Groups: map[string]*common.ConfigGroup{
			"Dept1MSP": {Version: 0, Values: map[string]*common.ConfigValue{"MSP": {Version: 0, ModPolicy: "Admins", Value: v}}},
		}}}}}
	return &testChannel{cfg: cfg}
}

func (c *testChannel) ChannelConfig(ctx context.Context, p *identity.Person) (*common.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return proto.Clone(c.cfg).(*common.Config), nil
}

func (c *testChannel) broadcast(ctx context.Context, env *common.Envelope) error {
	var payload common.Payload
	if err := proto.Unmarshal(env.Payload, &payload); err != nil {
		return err
	}
	var cue common.ConfigUpdateEnvelope
	if err := proto.Unmarshal(payload.Data, &cue); err != nil {
		return err
	}
	if len(cue.Signatures) != 1 || len(env.Signature) == 0 {
		return errors.New("unsigned")
	}
	var u common.ConfigUpdate
	if err := proto.Unmarshal(cue.ConfigUpdate, &u); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.cfg.ChannelGroup.Groups["Application"].Groups["Dept1MSP"].Values["MSP"]
	w := u.WriteSet.Groups["Application"].Groups["Dept1MSP"].Values["MSP"]
	r := u.ReadSet.Groups["Application"].Groups["Dept1MSP"]
	switch {
	case u.ChannelId != "datashare":
		return errors.New("wrong channel")
	case u.ReadSet.Version != c.cfg.ChannelGroup.Version || r.Version != 0 || len(r.Values) != 0:
		return errors.New("read set does not pin the versions")
	case w.Version != cur.Version+1 || w.ModPolicy != "Admins":
		return errors.New("write set version or mod policy")
	case len(u.WriteSet.Groups["Application"].Groups["Dept1MSP"].Values) != 1:
		return errors.New("write set changes more than the MSP")
	}
	cur.Version, cur.Value = w.Version, w.Value
	c.updates++
	return nil
}

func setup(t *testing.T) (*Revoker, *testCA, *testChannel, *identity.Directory, string) {
	dir := t.TempDir()
	ca := newTestCA(t)
	entries := []identity.Entry{ca.person(dir, "admin", domain.RoleAdmin, 10), ca.person(dir, "operator2", domain.RoleOperator, 11)}
	raw, _ := json.Marshal(entries)
	path := filepath.Join(dir, "identities.json")
	os.WriteFile(path, raw, 0o600)
	d, err := identity.Load(path, "Dept1MSP")
	if err != nil {
		t.Fatal(err)
	}
	ch := newTestChannel(t)
	r := &Revoker{MSPID: "Dept1MSP", Channel: "datashare", Ledger: ch, CA: ca, Broadcast: ch.broadcast,
		Directory: d, Sessions: identity.NewSessions(d, identity.SessionOptions{}), Settle: 2 * time.Second}
	return r, ca, ch, d, path
}

func TestRevokeGoesToTheCAAndTheChannelOnce(t *testing.T) {
	r, ca, ch, d, path := setup(t)
	admin := d.Person("admin")
	if _, err := r.Revoke(context.Background(), admin, "admin", ""); !isCode(err, domain.CodeConflict) {
		t.Errorf("self-revocation: %v, want conflict", err)
	}
	if _, err := r.Revoke(context.Background(), admin, "ghost", ""); !isCode(err, domain.CodeNotFound) {
		t.Errorf("unknown person: %v, want not_found", err)
	}
	// The CA fails: the gateway has stopped acting for the person already,
	// and a retry completes the revocation.
	ca.fail = errors.New("connection refused")
	if _, err := r.Revoke(context.Background(), admin, "operator2", "keycompromise"); !isCode(err, domain.CodeUnavailable) {
		t.Fatalf("CA down: %v, want unavailable", err)
	}
	if d.Person("operator2").RevokedAt() == nil {
		t.Fatal("after a failed CA call the person is still served")
	}
	ca.fail = nil
	out, err := r.Revoke(context.Background(), admin, "operator2", "keycompromise")
	if err != nil {
		t.Fatal(err)
	}
	if out.Serial != "b" || !out.ChannelUpdated || len(out.CRLSerials) != 1 || out.CRLSerials[0] != "b" || ch.updates != 1 {
		t.Fatalf("revocation %+v, %d updates", out, ch.updates)
	}
	again, err := r.Revoke(context.Background(), admin, "operator2", "")
	if err != nil || again.ChannelUpdated || ch.updates != 1 || !again.RevokedAt.Equal(out.RevokedAt) {
		t.Fatalf("second revocation %+v (%v), %d updates: want no new update, same time", again, err, ch.updates)
	}
	// The flag outlives a restart.
	d2, err := identity.Load(path, "Dept1MSP")
	if err != nil {
		t.Fatal(err)
	}
	if at := d2.Person("operator2").RevokedAt(); at == nil || !at.Equal(out.RevokedAt) {
		t.Errorf("after reload, revokedAt %v, want %v", at, out.RevokedAt)
	}
	if d2.Person("admin").RevokedAt() != nil {
		t.Error("the admin is revoked after reload")
	}
}

func TestRevokeRefusedByTheOrderer(t *testing.T) {
	r, _, _, d, _ := setup(t)
	r.Broadcast = func(ctx context.Context, env *common.Envelope) error {
		return errors.New("dial tcp: connection refused")
	}
	if _, err := r.Revoke(context.Background(), d.Person("admin"), "operator2", ""); !isCode(err, domain.CodeUnavailable) {
		t.Errorf("orderers down: %v, want unavailable", err)
	}
}

func isCode(err error, c domain.Code) bool {
	var de *domain.Error
	return errors.As(err, &de) && de.Code == c
}
