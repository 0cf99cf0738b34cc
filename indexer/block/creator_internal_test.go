package block

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// certPEM makes a self-signed certificate for cn in org.
func certPEM(t *testing.T, org, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCreatorCache(t *testing.T) {
	serialized := func(mspID string, cert []byte) []byte {
		raw, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: cert})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	ids := []struct {
		msp, subject string
		cert         []byte
	}{
		{"Dept1MSP", "CN=op1,O=Dept1MSP", certPEM(t, "Dept1MSP", "op1")},
		{"Dept2MSP", "CN=op2,O=Dept2MSP", certPEM(t, "Dept2MSP", "op2")},
	}
	for range 3 {
		for _, id := range ids {
			c, err := decodeCreator(serialized(id.msp, id.cert))
			if err != nil || c != (Creator{MSPID: id.msp, Subject: id.subject}) {
				t.Fatalf("creator %+v (%v), want %s %q", c, err, id.msp, id.subject)
			}
		}
	}
	if _, err := decodeCreator([]byte("not a protobuf \xff\xff")); err == nil {
		t.Fatal("garbage decoded")
	}
	// Past the bound, signers are still decoded, just not remembered.
	for i := 0; len(creators.m) < maxCreators; i++ {
		if _, err := decodeCreator(serialized(fmt.Sprintf("Fill%dMSP", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := decodeCreator(serialized("Dept9MSP", ids[1].cert))
	if err != nil || c != (Creator{MSPID: "Dept9MSP", Subject: ids[1].subject}) || len(creators.m) != maxCreators {
		t.Fatalf("creator past the bound %+v (%v), cache %d", c, err, len(creators.m))
	}
}
