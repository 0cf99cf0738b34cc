package forge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
)

// newTestSigner makes a self-signed identity with a fabric-ca role attribute.
func newTestSigner(t *testing.T, mspID, cn, role string) (*Signer, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	attrs, _ := json.Marshal(map[string]any{"attrs": map[string]string{"role": role}})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{mspID}, OrganizationalUnit: []string{"client"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}, Value: attrs}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})
	s, err := NewSigner(mspID, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return s, certPEM, keyPEM
}

func TestSignerSignsAsFabric(t *testing.T) {
	s, certPEM, keyPEM := newTestSigner(t, "Dept2MSP", "operator1", "operator")
	if s.Role() != domain.RoleOperator {
		t.Fatalf("role %q, want operator", s.Role())
	}
	if a := s.Actor(); a.MSPID != "Dept2MSP" || !strings.Contains(a.Subject, "CN=operator1") {
		t.Fatalf("actor %+v", a)
	}
	var id msp.SerializedIdentity
	if err := proto.Unmarshal(s.Serialized(), &id); err != nil || id.Mspid != "Dept2MSP" || !bytes.Equal(id.IdBytes, certPEM) {
		t.Fatalf("serialized identity %v %v", &id, err)
	}
	halfN := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	msg := []byte("a message")
	for i := 0; i < 64; i++ { // about half of raw ECDSA signatures have a high S
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		var es ecdsaSig
		if _, err := asn1.Unmarshal(sig, &es); err != nil {
			t.Fatal(err)
		}
		if es.S.Cmp(halfN) > 0 {
			t.Fatal("signature with a high S")
		}
		if err := Verify(s.Serialized(), msg, sig); err != nil {
			t.Fatal(err)
		}
		if err := Verify(s.Serialized(), []byte("another"), sig); err == nil {
			t.Fatal("a signature verified over another message")
		}
	}

	// The same identity from files, as an MSP folder holds it.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	if _, err := LoadSigner("Dept2MSP", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	other, _, otherKey := newTestSigner(t, "Dept2MSP", "x", "")
	if _, err := NewSigner("Dept2MSP", certPEM, otherKey); err == nil {
		t.Fatal("a key that does not match the certificate was accepted")
	}
	if other.Role() != "" {
		t.Fatalf("role %q, want none", other.Role())
	}
}

func TestProposalHeader(t *testing.T) {
	s, _, _ := newTestSigner(t, "Dept2MSP", "operator1", "operator")
	when := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	nonce := []byte("chosen nonce")
	p, err := NewProposal(s, Invocation{Function: "RecordUsage", Args: []string{`{"a":1}`}, Timestamp: when, Nonce: nonce,
		Transient: map[string][]byte{"secret": []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(s.Serialized(), p.Signed.ProposalBytes, p.Signed.Signature); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append(append([]byte{}, nonce...), s.Serialized()...))
	if p.TxID != hex.EncodeToString(sum[:]) {
		t.Fatalf("txID %s", p.TxID)
	}
	var prop peer.Proposal
	var hdr common.Header
	var ch common.ChannelHeader
	var sh common.SignatureHeader
	mustUnmarshal(t, p.Signed.ProposalBytes, &prop)
	mustUnmarshal(t, prop.Header, &hdr)
	mustUnmarshal(t, hdr.ChannelHeader, &ch)
	mustUnmarshal(t, hdr.SignatureHeader, &sh)
	if ch.TxId != p.TxID || ch.ChannelId != DefaultChannel || !ch.Timestamp.AsTime().Equal(when) ||
		ch.Type != int32(common.HeaderType_ENDORSER_TRANSACTION) {
		t.Fatalf("channel header %v", &ch)
	}
	if !bytes.Equal(sh.Nonce, nonce) || !bytes.Equal(sh.Creator, s.Serialized()) {
		t.Fatalf("signature header %v", &sh)
	}
	var ext peer.ChaincodeHeaderExtension
	mustUnmarshal(t, ch.Extension, &ext)
	if ext.ChaincodeId.GetName() != DefaultChaincode {
		t.Fatalf("extension %v", &ext)
	}
	var cpp peer.ChaincodeProposalPayload
	var cis peer.ChaincodeInvocationSpec
	mustUnmarshal(t, prop.Payload, &cpp)
	mustUnmarshal(t, cpp.Input, &cis)
	args := cis.ChaincodeSpec.Input.Args
	if len(args) != 2 || string(args[0]) != "RecordUsage" || string(args[1]) != `{"a":1}` || string(cpp.TransientMap["secret"]) != "x" {
		t.Fatalf("payload %v", &cis)
	}
	// The hash a peer computes (protoutil.GetProposalHash1): the transient
	// map does not count.
	cpp.TransientMap = nil
	forTx, _ := proto.Marshal(&cpp)
	if !bytes.Equal(p.Hash(), proposalHash(&hdr, forTx)) {
		t.Fatal("proposal hash differs from the peer's")
	}
}

func TestRWSetRoundTrip(t *testing.T) {
	ds := &domain.Dataset{ID: "ds-1", Owner: "Dept1MSP", Title: "Population register", Version: 1, Status: domain.DatasetActive,
		Fields: []string{"name"}, DerivedFrom: []string{}}
	key, err := domain.EntityKey(domain.KindDataset, ds.ID)
	if err != nil {
		t.Fatal(err)
	}
	ik, _ := domain.DatasetOwnerKey(ds.Owner, ds.ID)
	var s RWSet
	s.Read(key, nil)
	s.Read(ik, &Version{Block: 7, Tx: 2})
	if err := s.PutJSON(key, ds); err != nil {
		t.Fatal(err)
	}
	s.Put(ik, domain.IndexValue)
	s.Writes = append(s.Writes, Write{Key: "\x00gone\x00x\x00", Delete: true})
	if err := s.SetEndorsers(key, "Dept1MSP"); err != nil {
		t.Fatal(err)
	}
	b, err := MarshalRWSets(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRWSets(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || back[0].Namespace != DefaultChaincode {
		t.Fatalf("namespaces %+v", back)
	}
	got := back[0]
	if len(got.Reads) != 2 || len(got.Writes) != 3 || len(got.MetadataWrites) != 1 {
		t.Fatalf("rwset %+v", got)
	}
	reads := map[string]*Version{}
	for _, r := range got.Reads {
		reads[r.Key] = r.Version
	}
	if v, ok := reads[key]; !ok || v != nil {
		t.Fatalf("read of an absent key: %v", v)
	}
	if v := reads[ik]; v == nil || *v != (Version{7, 2}) {
		t.Fatalf("read version %v", v)
	}
	for i := 1; i < len(got.Writes); i++ {
		if got.Writes[i-1].Key > got.Writes[i].Key {
			t.Fatal("writes are not sorted by key")
		}
	}
	for _, w := range got.Writes {
		if w.Delete {
			continue
		}
		pw, err := domain.ParseWrite(w.Key, w.Value)
		if err != nil {
			t.Fatalf("write %q: %v", w.Key, err)
		}
		if d, ok := pw.Record.(*domain.Dataset); ok && d.Title != ds.Title {
			t.Fatalf("dataset came back as %+v", d)
		}
		if p := pw.Parties(); len(p) != 1 || p[0] != "Dept1MSP" {
			t.Fatalf("parties of %q: %v", w.Key, p)
		}
	}
	var env common.SignaturePolicyEnvelope
	mustUnmarshal(t, got.MetadataWrites[0].Entries[ValidationParameter], &env)
	var role msp.MSPRole
	if len(env.Identities) != 1 || env.Identities[0].PrincipalClassification != msp.MSPPrincipal_ROLE {
		t.Fatalf("policy %v", &env)
	}
	mustUnmarshal(t, env.Identities[0].Principal, &role)
	if role.MspIdentifier != "Dept1MSP" || role.Role != msp.MSPRole_PEER {
		t.Fatalf("policy principal %v", &role)
	}
}

// TestForgedTransactionValidates checks what the committing peer checks of
// the envelope, short of the MSP and policies: creator's signature, tx ID,
// proposal hash, endorsers' signatures, chaincode IDs.
func TestForgedTransactionValidates(t *testing.T) {
	client, _, _ := newTestSigner(t, "Dept2MSP", "operator1", "operator")
	peers := make([]*Signer, 3)
	for i, m := range []string{"Dept2MSP", "Dept3MSP", "BureauMSP"} {
		peers[i], _, _ = newTestSigner(t, m, "peer0", "")
	}
	p, err := NewProposal(client, Invocation{Function: "RegisterDataset", Args: []string{"{}"}, Transient: map[string][]byte{"k": []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	var s RWSet
	s.Put("\x00dataset\x00ds-9\x00", []byte(`{"id":"ds-9"}`))
	ev := &Event{Name: "dataset.updated", Payload: []byte(`{"v":1}`)}
	resps, err := Forge(p, Action{RWSets: []RWSet{s}, Event: ev, Payload: []byte("ok"), ChaincodeVersion: "3"}, peers...)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resps {
		if err := Verify(r.Endorsement.Endorser, append(append([]byte{}, r.Payload...), r.Endorsement.Endorser...), r.Endorsement.Signature); err != nil {
			t.Fatalf("endorsement %d: %v", i, err)
		}
		e, err := ParseResponse(r)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != 200 || string(e.Payload) != "ok" || e.ChaincodeVersion != "3" || e.Event == nil || e.Event.Name != ev.Name ||
			len(e.RWSets) != 1 || string(e.RWSets[0].Writes[0].Value) != `{"id":"ds-9"}` || !bytes.Equal(e.ProposalHash, p.Hash()) {
			t.Fatalf("parsed response %+v", e)
		}
	}
	tx, err := Assemble(p, resps...)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(client.Serialized(), tx.Envelope.Payload, tx.Envelope.Signature); err != nil {
		t.Fatalf("envelope: %v", err)
	}
	var pl common.Payload
	var ch common.ChannelHeader
	var sh common.SignatureHeader
	var ptx peer.Transaction
	mustUnmarshal(t, tx.Envelope.Payload, &pl)
	mustUnmarshal(t, pl.Header.ChannelHeader, &ch)
	mustUnmarshal(t, pl.Header.SignatureHeader, &sh)
	mustUnmarshal(t, pl.Data, &ptx)
	if ch.TxId != TxID(sh.Nonce, sh.Creator) || ch.TxId != tx.TxID {
		t.Fatal("transaction ID does not match nonce and creator")
	}
	if len(ptx.Actions) != 1 || !bytes.Equal(ptx.Actions[0].Header, pl.Header.SignatureHeader) {
		t.Fatal("action header differs from the transaction's signature header")
	}
	var actionPayload peer.ChaincodeActionPayload
	var prp peer.ProposalResponsePayload
	var ca peer.ChaincodeAction
	var cce peer.ChaincodeEvent
	mustUnmarshal(t, ptx.Actions[0].Payload, &actionPayload)
	mustUnmarshal(t, actionPayload.Action.ProposalResponsePayload, &prp)
	mustUnmarshal(t, prp.Extension, &ca)
	mustUnmarshal(t, ca.Events, &cce)
	// msgvalidation.validateEndorserTransaction: GetProposalHash2.
	if !bytes.Equal(prp.ProposalHash, proposalHash(pl.Header, actionPayload.ChaincodeProposalPayload)) {
		t.Fatal("proposal hash does not match")
	}
	var cpp peer.ChaincodeProposalPayload
	mustUnmarshal(t, actionPayload.ChaincodeProposalPayload, &cpp)
	if cpp.TransientMap != nil {
		t.Fatal("the transient map went into the transaction")
	}
	if len(actionPayload.Action.Endorsements) != 3 || ca.ChaincodeId.Name != DefaultChaincode || cce.ChaincodeId != DefaultChaincode || cce.TxId != tx.TxID {
		t.Fatalf("action %v / event %v", &ca, &cce)
	}

	// Refusals and disagreeing endorsers are reported, not dropped.
	other, _ := Forge(p, Action{Payload: []byte("else")}, peers[0])
	if _, err := Assemble(p, append(resps, other...)...); err == nil {
		t.Fatal("assembled endorsements of different results")
	}
	refusal := &peer.ProposalResponse{Response: &peer.Response{Status: 500, Message: "no"}}
	if _, err := Assemble(p, resps[0], refusal); err == nil || !strings.Contains(err.Error(), "no") {
		t.Fatalf("assembled a refusal: %v", err)
	}
}

func mustUnmarshal(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("unmarshal %T: %v", m, err)
	}
}
