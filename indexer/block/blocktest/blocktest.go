// Package blocktest builds real Fabric blocks for tests: envelopes signed by
// generated X.509 identities, endorser transactions carrying a read-write
// set and a chaincode event, config transactions, validation filters and a
// hash chain that links each header to the one before, exactly as a peer
// would deliver them.
//
// By default a transaction writes what the contract writes for its event
// (ContractWrites): the entity the event carries, the parties' anchors and,
// for a new dataset, the owner index. A test that plays a forger gives
// Writes and Event separately, so that they disagree.
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
	"sort"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
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
	// Writes is the write set of the transaction's namespace. Nil means
	// ContractWrites(Event), what the contract writes along with that
	// event; NoWrites means none at all.
	Writes   []Write
	NoWrites bool
	// Namespace is the namespace Writes go to; Chaincode's by default. A
	// transaction of another chaincode that writes the ledger's namespace
	// (a chaincode-to-chaincode call) sets it to "ledger".
	Namespace string
	// RawResults, when set, is used as the chaincode action's read-write
	// set bytes as they are, instead of the one made from Writes.
	RawResults []byte
}

// Write is one key-value write of a write set; Value is ignored for a delete.
type Write struct {
	Key    string
	Value  []byte
	Delete bool
}

// Version is one committed change of a key, as a peer's history database
// keeps it.
type Version struct {
	TxID   string
	Value  []byte // nil for a delete
	Delete bool
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
	// history holds, per key of the "ledger" namespace, the writes of the
	// VALID transactions made so far, in ledger order: a peer's world state.
	history map[string][]Version
}

// History is every committed change of a key of the "ledger" namespace, in
// ledger order, as a peer's history database would return it: a test's
// stand-in for the peer's world state.
func (c *Chain) History(key string) []Version {
	return append([]Version(nil), c.history[key]...)
}

// State is the value the peer's world state holds at key, nil if none.
func (c *Chain) State(key string) []byte {
	h := c.history[key]
	if len(h) == 0 || h[len(h)-1].Delete {
		return nil
	}
	return h[len(h)-1].Value
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
	if tx.Namespace == "" {
		tx.Namespace = tx.Chaincode
	}
	if tx.Writes == nil && !tx.NoWrites && !tx.Config {
		tx.Writes = ContractWrites(tx.Event)
	}
	if tx.NoWrites {
		tx.Writes = nil
	}
	if !tx.Config && tx.Code == peer.TxValidationCode_VALID && tx.Namespace == "ledger" && tx.RawResults == nil {
		if c.history == nil {
			c.history = map[string][]Version{}
		}
		for _, w := range tx.Writes {
			v := Version{TxID: tx.ID, Delete: w.Delete}
			if !w.Delete {
				v.Value = append([]byte{}, w.Value...)
			}
			c.history[w.Key] = append(c.history[w.Key], v)
		}
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
	results := tx.RawResults
	if results == nil {
		results = readWriteSet(tx.Namespace, tx.Writes)
	}
	action := mustMarshal(&peer.ChaincodeAction{
		Results:     results,
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

// readWriteSet is the read-write set of a transaction that wrote writes in
// namespace ns, as the peer's simulator records it.
func readWriteSet(ns string, writes []Write) []byte {
	kv := &kvrwset.KVRWSet{}
	for _, w := range writes {
		kw := &kvrwset.KVWrite{Key: w.Key, IsDelete: w.Delete}
		if !w.Delete {
			kw.Value = w.Value
		}
		kv.Writes = append(kv.Writes, kw)
	}
	return mustMarshal(&rwset.TxReadWriteSet{
		DataModel: rwset.TxReadWriteSet_KV,
		NsRwset:   []*rwset.NsReadWriteSet{{Namespace: ns, Rwset: mustMarshal(kv)}},
	})
}

// EntityWrite is the write of an entity as the contract makes it: its JSON
// under its composite key. It panics on an ID no key can hold.
func EntityWrite(kind domain.Kind, id string, v any) Write {
	key, err := domain.EntityKey(kind, id)
	if err != nil {
		panic(fmt.Sprintf("blocktest: %v", err))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("blocktest: encode %s %s: %v", kind, id, err))
	}
	return Write{Key: key, Value: b}
}

// AnchorWrite is the write of a department's anchor key.
func AnchorWrite(mspID string) Write {
	key, err := domain.AnchorKey(mspID)
	if err != nil {
		panic(fmt.Sprintf("blocktest: %v", err))
	}
	return Write{Key: key, Value: domain.IndexValue}
}

// ContractWrites is the write set the contract makes along with event e:
// the entity e carries, under its key; on a creation, the anchors of its
// parties (a department's profile creates its own); for a new dataset,
// the owner index. Sorted by key, as Fabric's simulator sorts them. Nil
// for a nil event or one that carries no entity.
func ContractWrites(e *domain.Event) []Write {
	if e == nil {
		return nil
	}
	v := e.Entity()
	rec, ok := v.(domain.Record)
	if !ok || rec == nil {
		return nil
	}
	if b, _ := json.Marshal(v); string(b) == "null" {
		return nil
	}
	out := []Write{EntityWrite(e.Kind, e.ID, v)}
	switch e.Type {
	case domain.EventDatasetRegistered, domain.EventRequestCreated, domain.EventDeliveryRecorded, domain.EventUsageRecorded,
		domain.EventContributionAdded, domain.EventCorrectionOpened, domain.EventScoreSnapshotPublished, domain.EventDepartmentUpdated:
		for _, p := range rec.Parties() {
			out = append(out, AnchorWrite(p))
		}
	}
	if d, ok := v.(*domain.Dataset); ok && e.Type == domain.EventDatasetRegistered {
		key, err := domain.DatasetOwnerKey(d.Owner, d.ID)
		if err != nil {
			panic(fmt.Sprintf("blocktest: %v", err))
		}
		out = append(out, Write{Key: key, Value: domain.IndexValue})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
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
