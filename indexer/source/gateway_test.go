package source_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/source"
)

func TestLoadIdentity(t *testing.T) {
	id := blocktest.NewIdentity("Dept1MSP", "indexer")
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert := write("signcerts/cert.pem", id.CertPEM)
	keyFile := write("key.pem", keyPEM)
	write("keystore/abc123_sk", keyPEM)
	write("two/a_sk", keyPEM)
	write("two/b_sk", keyPEM)
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cert    string
		key     string
		wantErr string
	}{
		{"key file", cert, keyFile, ""},
		{"fabric-ca keystore directory", cert, filepath.Join(dir, "keystore"), ""},
		{"directory with two keys", cert, filepath.Join(dir, "two"), "2 *_sk files"},
		{"directory with no key", cert, filepath.Join(dir, "empty"), "0 *_sk files"},
		{"missing certificate", filepath.Join(dir, "nope.pem"), keyFile, "read certificate"},
		{"certificate is not PEM", keyFile, keyFile, "parse certificate"},
		{"key is not a key", cert, cert, "parse private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sign, err := source.LoadIdentity("Dept1MSP", tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.MspID() != "Dept1MSP" || sign == nil {
				t.Fatalf("identity %q, signer %v", got.MspID(), sign != nil)
			}
			if _, err := sign(make([]byte, 32)); err != nil {
				t.Fatalf("sign: %v", err)
			}
		})
	}
}

func TestDialChecksTLSCA(t *testing.T) {
	id := blocktest.NewIdentity("Dept1MSP", "indexer")
	der, _ := x509.MarshalPKCS8PrivateKey(id.Key)
	dir := t.TempDir()
	cert, key, notPEM := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.txt")
	os.WriteFile(cert, id.CertPEM, 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cfg := source.Config{MSPID: "Dept1MSP", Channel: "datashare", Endpoint: "127.0.0.1:1", CertPath: cert, KeyPath: key}

	cfg.TLSCACert = notPEM
	if _, err := source.Dial(cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("Dial with a non-PEM CA: %v", err)
	}
	// gRPC dials lazily: a valid configuration opens without a peer.
	cfg.TLSCACert = cert
	g, err := source.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}
