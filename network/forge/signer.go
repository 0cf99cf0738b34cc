package forge

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
)

// Signer is one identity of an MSP, with its private key: a person (client
// certificate) or a peer (peer certificate, for endorsements).
type Signer struct {
	MSPID   string
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// LoadSigner reads a certificate and its private key (PEM files, as an MSP
// folder's signcerts/ and keystore/ hold them).
func LoadSigner(mspID, certFile, keyFile string) (*Signer, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("forge: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("forge: %w", err)
	}
	s, err := NewSigner(mspID, certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("forge: %s: %w", certFile, err)
	}
	return s, nil
}

// NewSigner makes a signer from PEM bytes. The key must be ECDSA and match
// the certificate.
func NewSigner(mspID string, certPEM, keyPEM []byte) (*Signer, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("private key is not PEM")
	}
	var key *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is %T, not ECDSA", k)
		}
		key = ek
	} else if key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("private key does not match the certificate")
	}
	return &Signer{MSPID: mspID, Cert: cert, CertPEM: certPEM, key: key}, nil
}

// Serialized is the identity as Fabric carries it (creator, endorser): the
// msp.SerializedIdentity of the MSP ID and the PEM certificate.
func (s *Signer) Serialized() []byte {
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: s.MSPID, IdBytes: s.CertPEM})
	if err != nil {
		panic(err) // two byte fields always marshal
	}
	return b
}

// Sign signs msg as Fabric's MSP does: ECDSA over its SHA-256, S in the
// lower half of the curve order (peers reject a high S), DER encoded.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("forge: sign: %w", err)
	}
	n := s.key.Curve.Params().N
	if sv.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sv = new(big.Int).Sub(n, sv)
	}
	return asn1.Marshal(ecdsaSig{R: r, S: sv})
}

type ecdsaSig struct{ R, S *big.Int }

// Subject is the certificate's subject as the chaincode names the signer
// (cid's certificate, Subject.String()).
func (s *Signer) Subject() string { return s.Cert.Subject.String() }

// Role is the certificate's "role" attribute, as fabric-ca issued it; "" if none.
func (s *Signer) Role() domain.Role {
	for _, ext := range s.Cert.Extensions {
		if !ext.Id.Equal(attrOID) {
			continue
		}
		var v struct {
			Attrs map[string]string `json:"attrs"`
		}
		if json.Unmarshal(ext.Value, &v) == nil {
			return domain.Role(v.Attrs[domain.RoleAttribute])
		}
	}
	return ""
}

// attrOID is the extension in which fabric-ca puts enrollment attributes.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Actor is the signer as the ledger's records name a person.
func (s *Signer) Actor() domain.Actor {
	return domain.Actor{MSPID: s.MSPID, Subject: s.Subject(), Role: s.Role()}
}

// Verify checks sig over msg against a serialized identity, as a peer
// would (including the low-S rule). It says nothing of whether the MSP
// trusts the certificate.
func Verify(serializedIdentity, msg, sig []byte) error {
	var id msp.SerializedIdentity
	if err := proto.Unmarshal(serializedIdentity, &id); err != nil {
		return fmt.Errorf("forge: identity: %w", err)
	}
	cb, _ := pem.Decode(id.IdBytes)
	if cb == nil {
		return errors.New("forge: identity holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return fmt.Errorf("forge: identity: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("forge: identity key is %T, not ECDSA", cert.PublicKey)
	}
	var es ecdsaSig
	if rest, err := asn1.Unmarshal(sig, &es); err != nil || len(rest) > 0 {
		return errors.New("forge: signature is not DER")
	}
	if es.S.Cmp(new(big.Int).Rsh(pub.Curve.Params().N, 1)) > 0 {
		return errors.New("forge: signature has a high S")
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.Verify(pub, digest[:], es.R, es.S) {
		return errors.New("forge: signature does not verify")
	}
	return nil
}
