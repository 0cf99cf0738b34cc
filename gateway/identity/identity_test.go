package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// writeCredentials writes a certificate (with a fabric-ca role attribute
// when role is not empty) and its PKCS #8 key, and returns their paths.
func writeCredentials(t testing.TB, dir, name, role string, keyMode os.FileMode) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if role != "" {
		v, _ := json.Marshal(map[string]map[string]string{"attrs": {"role": role, "hf.EnrollmentID": name}})
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: fabricCAAttrsOID, Value: v})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPath = filepath.Join(dir, name+"-cert.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath = filepath.Join(dir, name+"_sk")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), keyMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyPath, keyMode); err != nil { // umask may have narrowed it
		t.Fatal(err)
	}
	return certPath, keyPath
}

func tokenHash(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	aliceCert, aliceKey := writeCredentials(t, dir, "alice", "operator", 0o600)
	bobCert, bobKey := writeCredentials(t, dir, "bob", "", 0o600)
	_, openKey := writeCredentials(t, dir, "carol", "operator", 0o644)

	// fabric-ca-client layout: msp/keystore/<ski>_sk
	keystore := filepath.Join(dir, "keystore")
	if err := os.Mkdir(keystore, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bobKey, filepath.Join(keystore, "abc123_sk")); err != nil {
		t.Fatal(err)
	}
	twoKeys := filepath.Join(dir, "two")
	if err := os.Mkdir(twoKeys, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a_sk", "b_sk"} {
		if err := os.WriteFile(filepath.Join(twoKeys, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	alice := Entry{User: "alice", Role: "operator", TokenSHA256: tokenHash("tok-alice"), CertPath: aliceCert, KeyPath: aliceKey}
	bob := Entry{User: "bob", Role: "auditor", TokenSHA256: tokenHash("tok-bob"), CertPath: bobCert, KeyPath: keystore}
	with := func(e Entry, f func(*Entry)) Entry { f(&e); return e }

	tests := []struct {
		name    string
		entries []Entry
		wantErr string
	}{
		{"file key and keystore folder", []Entry{alice, bob}, ""},
		{"key readable by others", []Entry{with(alice, func(e *Entry) { e.KeyPath = openKey })}, "group or others may read it"},
		{"folder with two keys", []Entry{with(alice, func(e *Entry) { e.KeyPath = twoKeys })}, "holds 2 *_sk files"},
		{"key of another certificate", []Entry{with(alice, func(e *Entry) { e.KeyPath = keystore })}, "does not belong to certificate"},
		{"unknown role", []Entry{with(alice, func(e *Entry) { e.Role = "boss" })}, `role "boss"`},
		{"role differs from certificate", []Entry{with(alice, func(e *Entry) { e.Role = "admin" })}, "differs from the certificate's role attribute"},
		{"token hash not hex", []Entry{with(alice, func(e *Entry) { e.TokenSHA256 = "tok-alice" })}, "tokenSha256 must be 64"},
		{"token hash upper case", []Entry{with(alice, func(e *Entry) { e.TokenSHA256 = strings.ToUpper(e.TokenSHA256) })}, "tokenSha256 must be 64"},
		{"user twice", []Entry{alice, with(bob, func(e *Entry) { e.User = "alice" })}, "listed twice"},
		{"token twice", []Entry{alice, with(bob, func(e *Entry) { e.TokenSHA256 = alice.TokenSHA256 })}, "same token"},
		{"missing certificate", []Entry{with(alice, func(e *Entry) { e.CertPath = filepath.Join(dir, "none.pem") })}, "read certificate"},
		{"empty", nil, "no person"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := json.Marshal(tt.entries)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "identities.json")
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			d, err := Load(path, "Dept1MSP")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := len(d.People()); got != len(tt.entries) {
				t.Fatalf("%d people, want %d", got, len(tt.entries))
			}
		})
	}
}

func TestLoadRejectsUnknownField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "identities.json")
	if err := os.WriteFile(path, []byte(`[{"user":"a","token":"plain"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, "Dept1MSP"); err == nil || !strings.Contains(err.Error(), `unknown field "token"`) {
		t.Fatalf("Load error = %v, want unknown field", err)
	}
}

func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	aCert, aKey := writeCredentials(t, dir, "alice", "operator", 0o600)
	bCert, bKey := writeCredentials(t, dir, "bob", "approver", 0o400)
	d, err := New("Dept1MSP", []Entry{
		{User: "alice", Role: "operator", TokenSHA256: tokenHash("tok-alice"), CertPath: aCert, KeyPath: aKey},
		{User: "bob", Role: "approver", TokenSHA256: tokenHash("tok-bob"), CertPath: bCert, KeyPath: bKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		token    string
		wantUser string
		wantRole domain.Role
	}{
		{"tok-alice", "alice", domain.RoleOperator},
		{"tok-bob", "bob", domain.RoleApprover},
		{"tok-carol", "", ""},
		{"", "", ""},
		{tokenHash("tok-alice"), "", ""}, // the stored hash is not a token
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			p, ok := d.Authenticate(tt.token)
			if tt.wantUser == "" {
				if ok {
					t.Fatalf("Authenticate(%q) = %s, want no one", tt.token, p.User)
				}
				return
			}
			if !ok || p.User != tt.wantUser || p.Role != tt.wantRole || p.MSPID != "Dept1MSP" {
				t.Fatalf("Authenticate(%q) = %+v, %v", tt.token, p, ok)
			}
			if p.ID.MspID() != "Dept1MSP" || !strings.Contains(string(p.ID.Credentials()), "BEGIN CERTIFICATE") {
				t.Fatalf("identity not set: %q", p.ID.MspID())
			}
			sig, err := p.Sign(make([]byte, 32))
			if err != nil || len(sig) == 0 {
				t.Fatalf("Sign: %v", err)
			}
		})
	}
}
