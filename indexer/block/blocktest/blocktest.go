// Package blocktest builds real Fabric blocks for tests: envelopes signed by
// generated X.509 identities, endorser transactions carrying chaincode
// events, config transactions, validation filters and a hash chain that
// links each header to the one before, exactly as a peer would deliver them.
package blocktest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
)

// Identity is a signer: an MSP ID and a self-signed certificate.
type Identity struct {
	MSPID   string
	CertPEM []byte
	Subject string // the certificate subject as crypto/x509 prints it
	Key     *ecdsa.PrivateKey
}

// NewIdentity makes an identity with a fresh P-256 key and a certificate
// whose subject is CN=cn, OU=client, O=mspID.
func NewIdentity(mspID, cn string) Identity {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("blocktest: generate key: %v", err))
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, OrganizationalUnit: []string{"client"}, Organization: []string{mspID}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(fmt.Sprintf("blocktest: create certificate: %v", err))
	}
	cert, _ := x509.ParseCertificate(der)
	return Identity{
		MSPID:   mspID,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Subject: cert.Subject.String(),
		Key:     key,
	}
}

// Tx describes one transaction to put in a block.
type Tx struct {
	ID        string // defaults to a unique ID
	Signer    Identity
	Time      time.Time // defaults to the chain's clock, advancing a second per tx
	Config    bool      // a CONFIG transaction instead of an endorser transaction
	Chaincode string    // defaults to "ledger"
	// Event is marshalled as the event payload, named by its type, unless
	// RawEvent is set, which is used as is with EventName.
	Event     *domain.Event
	RawEvent  []byte
	EventName string
	NoEvent   bool
	Code      peer.TxValidationCode // VALID unless set
}

// Chain makes consecutive blocks of one channel.
type Chain struct {
	Channel string
	Clock   time.Time
	next    uint64
	prev    []byte
	seq     int
	// NoGenesisFilter leaves the transactions filter out of block 0, as
	// configtxgen writes it.
	NoGenesisFilter bool
}

// NewChain starts a chain for channel; its first block is number 0.
func NewChain(channel string) *Chain {
	return &Chain{Channel: channel, Clock: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Next is the number the next block will have.
func (c *Chain) Next() uint64 { return c.next }

// Genesis makes block 0: one config transaction.
func (c *Chain) Genesis(admin Identity) *common.Block {
	if c.next != 0 {
		panic("blocktest: genesis must be the first block")
	}
	return c.Block(Tx{Signer: admin, Config: true})
}

// Block makes the next block holding txs.
func (c *Chain) Block(txs ...Tx) *common.Block {
	data := make([][]byte, len(txs))
	filter := make([]byte, len(txs))
	for i, tx := range txs {
		data[i] = c.envelope(tx)
		filter[i] = byte(tx.Code)
	}
	b := &common.Block{
		Header:   &common.BlockHeader{Number: c.next, PreviousHash: c.prev},
		Data:     &common.BlockData{Data: data},
		Metadata: &common.BlockMetadata{Metadata: make([][]byte, len(common.BlockMetadataIndex_name))},
	}
	b.Header.DataHash = block.DataHash(b.Data)
	if !(c.next == 0 && c.NoGenesisFilter) {
		b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	}
	hash, err := block.HeaderHash(b.Header)
	if err != nil {
		panic(err)
	}
	c.prev = hash
	c.next++
	return b
}

func (c *Chain) envelope(tx Tx) []byte {
	c.seq++
	if tx.ID == "" && !tx.Config {
		tx.ID = fmt.Sprintf("tx%06d", c.seq)
	}
	if tx.Time.IsZero() {
		c.Clock = c.Clock.Add(time.Second)
		tx.Time = c.Clock
	}
	if tx.Chaincode == "" {
		tx.Chaincode = "ledger"
	}
	if tx.Event != nil && tx.Event.Time.IsZero() {
		e := *tx.Event
		e.Time = tx.Time
		tx.Event = &e
	}
	typ := common.HeaderType_ENDORSER_TRANSACTION
	if tx.Config {
		typ = common.HeaderType_CONFIG
	}
	creator := mustMarshal(&msp.SerializedIdentity{Mspid: tx.Signer.MSPID, IdBytes: tx.Signer.CertPEM})
	header := &common.Header{
		ChannelHeader: mustMarshal(&common.ChannelHeader{
			Type:      int32(typ),
			ChannelId: c.Channel,
			TxId:      tx.ID,
			Timestamp: timestamppb.New(tx.Time),
		}),
		SignatureHeader: mustMarshal(&common.SignatureHeader{Creator: creator, Nonce: []byte(fmt.Sprint(c.seq))}),
	}
	var data []byte
	if tx.Config {
		data = mustMarshal(&common.ConfigEnvelope{Config: &common.Config{Sequence: uint64(c.seq)}})
	} else {
		data = endorserData(tx)
	}
	payload := mustMarshal(&common.Payload{Header: header, Data: data})
	var sig []byte
	if tx.Signer.Key != nil {
		digest := sha256.Sum256(payload)
		var err error
		if sig, err = ecdsa.SignASN1(rand.Reader, tx.Signer.Key, digest[:]); err != nil {
			panic(fmt.Sprintf("blocktest: sign: %v", err))
		}
	}
	return mustMarshal(&common.Envelope{Payload: payload, Signature: sig})
}

func endorserData(tx Tx) []byte {
	var events []byte
	if !tx.NoEvent {
		payload, name := tx.RawEvent, tx.EventName
		if payload == nil && tx.Event != nil {
			var err error
			if payload, err = json.Marshal(tx.Event); err != nil {
				panic(err)
			}
			if name == "" {
				name = string(tx.Event.Type)
			}
		}
		if payload != nil {
			events = mustMarshal(&peer.ChaincodeEvent{ChaincodeId: tx.Chaincode, TxId: tx.ID, EventName: name, Payload: payload})
		}
	}
	action := mustMarshal(&peer.ChaincodeAction{
		Results:     []byte("rwset"),
		Events:      events,
		Response:    &peer.Response{Status: 200, Payload: []byte("{}")},
		ChaincodeId: &peer.ChaincodeID{Name: tx.Chaincode, Version: "1"},
	})
	prp := mustMarshal(&peer.ProposalResponsePayload{ProposalHash: []byte("proposal-hash"), Extension: action})
	ap := mustMarshal(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: []byte("input"),
		Action: &peer.ChaincodeEndorsedAction{
			ProposalResponsePayload: prp,
			Endorsements:            []*peer.Endorsement{{Endorser: []byte("endorser"), Signature: []byte("sig")}},
		},
	})
	return mustMarshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Header: []byte("sh"), Payload: ap}}})
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("blocktest: marshal %T: %v", m, err))
	}
	return b
}

// Actor is the domain actor of an identity acting in role.
func (id Identity) Actor(role domain.Role) domain.Actor {
	return domain.Actor{MSPID: id.MSPID, Subject: id.Subject, Role: role}
}

// DatasetEvent is the event of a dataset transaction; the time is filled in
// from the transaction when the block is made.
func DatasetEvent(typ domain.EventType, by domain.Actor, d domain.Dataset) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: typ, Kind: domain.KindDataset, ID: d.ID,
		Actor: by, Status: string(d.Status), DatasetID: d.ID, Owner: d.Owner, Dataset: &d}
}

// RequestEvent is the event of a request transaction.
func RequestEvent(typ domain.EventType, by domain.Actor, r domain.Request) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: typ, Kind: domain.KindRequest, ID: r.ID,
		Actor: by, Status: string(r.Status), DatasetID: r.DatasetID, RequestID: r.ID,
		Owner: r.Owner, Requester: r.Requester, Request: &r}
}

// DeliveryEvent is the event of a delivery transaction.
func DeliveryEvent(typ domain.EventType, by domain.Actor, d domain.Delivery) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: typ, Kind: domain.KindDelivery, ID: d.ID,
		Actor: by, Status: string(d.Status), DatasetID: d.DatasetID, RequestID: d.RequestID,
		Owner: d.Owner, Requester: d.Requester, Delivery: &d}
}

// UsageEvent is the event of a usage transaction.
func UsageEvent(by domain.Actor, u domain.Usage) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: u.ID,
		Actor: by, DatasetID: u.DatasetID, RequestID: u.RequestID, Owner: u.Owner, Requester: u.Consumer, Usage: &u}
}

// ContributionEvent is the event of a contribution transaction.
func ContributionEvent(by domain.Actor, c domain.Contribution) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: domain.EventContributionAdded, Kind: domain.KindContribution, ID: c.ID,
		Actor: by, DatasetID: c.DatasetID, Owner: c.Owner, Requester: c.Contributor, Contribution: &c}
}

// CorrectionEvent is the event of a correction transaction.
func CorrectionEvent(typ domain.EventType, by domain.Actor, c domain.Correction) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: typ, Kind: domain.KindCorrection, ID: c.ID,
		Actor: by, Status: string(c.Status), DatasetID: c.DatasetID, RequestID: c.RequestID,
		Owner: c.Owner, Requester: c.Requester, Correction: &c}
}

// DepartmentEvent is the event of a department profile transaction.
func DepartmentEvent(by domain.Actor, d domain.Department) *domain.Event {
	return &domain.Event{Version: domain.EventVersion, Type: domain.EventDepartmentUpdated, Kind: domain.KindDepartment, ID: d.MSPID,
		Actor: by, Department: &d}
}
