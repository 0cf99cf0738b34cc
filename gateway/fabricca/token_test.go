package fabricca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
)

// TestTokenVerifiesAsFabricCA checks a token the way fabric-ca's
// util.VerifyToken does: the certificate and signature from the token, the
// digest over method, URI, body and the token's own certificate part.
func TestTokenVerifiesAsFabricCA(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "admin"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	sign, err := fabid.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"operator2"}`)
	tok, err := token(Signer{CertPEM: certPEM, Sign: sign}, "POST", "/api/v1/revoke", body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 2 {
		t.Fatalf("token has %d parts, want 2", len(parts))
	}
	rawCert, _ := base64.StdEncoding.DecodeString(parts[0])
	blk, _ := pem.Decode(rawCert)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(parts[1])
	b64 := base64.StdEncoding.EncodeToString
	digest := sha256.Sum256([]byte("POST." + b64([]byte("/api/v1/revoke")) + "." + b64(body) + "." + parts[0]))
	if !ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the token's signature does not verify")
	}
	other := sha256.Sum256([]byte("POST." + b64([]byte("/api/v1/gencrl")) + "." + b64(body) + "." + parts[0]))
	if ecdsa.VerifyASN1(cert.PublicKey.(*ecdsa.PublicKey), other[:], sig) {
		t.Fatal("the token's signature verifies for another URI")
	}
}
