// Package block turns a Fabric block, as the peer delivers it, into the plain
// facts the indexer mirrors: the block's place in the hash chain and, for
// each transaction, its ID, type, time, signer, validation code, what it
// wrote in the ledger chaincode's namespace and the event that chaincode set.
// It is the only indexer package that knows Fabric's protobuf messages; what
// it returns is plain Go. It judges nothing: whether the event agrees with
// the writes is package writeset's question.
package block

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
)

// Block is a decoded block.
type Block struct {
	Number       uint64
	Hash         []byte // header hash: what the next block names as PreviousHash
	PreviousHash []byte
	DataHash     []byte // as the header states it
	// ComputedDataHash is the hash of the data the block carries; Decode
	// refuses a block where it differs from DataHash, Inspect reports it.
	ComputedDataHash []byte
	ChannelID        string
	// Time is the latest transaction timestamp in the block: blocks carry no
	// time of their own.
	Time   time.Time
	Config bool // the block holds a channel configuration transaction
	Txs    []Tx
}

// Creator is who signed a transaction.
type Creator struct {
	MSPID   string
	Subject string // certificate subject DN, as crypto/x509 prints it
}

// Tx is one transaction of a block.
type Tx struct {
	Index          int
	ID             string
	Type           string // channel header type: ENDORSER_TRANSACTION, CONFIG, ...
	Timestamp      time.Time
	Creator        Creator
	ValidationCode int32
	Validation     string // VALID, MVCC_READ_CONFLICT, ...
	Chaincode      string // the chaincode an endorser transaction invoked
	EventName      string
	EventPayload   []byte // the ledger chaincode's event payload exactly as in the block; nil when it set none
	// Event is the decoded payload of an event set by the ledger chaincode;
	// nil for other chaincodes, for transactions that set none, and when
	// the payload does not decode (EventErr says why).
	Event *domain.Event
	// EventErr says why an event the ledger chaincode set could not be read:
	// not JSON, a version this build does not know, a name that is not its
	// type. Empty when there is no event or it decoded.
	EventErr string
	// Writes is the key-value write set of the ledger chaincode's namespace,
	// in the block's order (Fabric sorts it by key), whichever chaincode
	// the transaction invoked: what it did to the ledger's state. Read for
	// every transaction whose write set parses; only a VALID one's counts.
	Writes []Write
	// WritesErr says why the transaction's write set could not be read. A
	// peer validates nothing it cannot read, so on a VALID transaction it
	// means a block no peer committed as such.
	WritesErr string
	// Applied says that the mirror takes this transaction: it is VALID and
	// it wrote in the ledger chaincode's namespace or that chaincode set an
	// event (the store applies the writes and judges the event).
	Applied bool
}

// Write is one key-value write of a write set.
type Write struct {
	Key    string
	Value  []byte // nil for a delete
	Delete bool
}

// Valid reports whether the committing peer marked the transaction VALID.
func (t Tx) Valid() bool { return t.ValidationCode == int32(peer.TxValidationCode_VALID) }

// Decoder decodes blocks for one chaincode's events.
type Decoder struct {
	Chaincode string // the chaincode whose events are decoded and applied: "ledger"
}

// Decode decodes b. It fails on a block that does not hold together (a data
// hash that does not match, an envelope that does not parse, a transaction
// with no validation code, a VALID endorser transaction with no chaincode
// action). An event it cannot read, or a write set, is reported in the
// transaction (EventErr, WritesErr), not refused: the mirror takes the
// ledger's state from the write set, and records the rest as an anomaly
// rather than stopping for it.
func (d Decoder) Decode(b *common.Block) (*Block, error) { return d.decode(b, true) }

// Inspect decodes b for an audit: like Decode, but a data hash that does
// not match the header is reported in ComputedDataHash instead of failing,
// since finding such a block is what the audit is for.
func (d Decoder) Inspect(b *common.Block) (*Block, error) { return d.decode(b, false) }

func (d Decoder) decode(b *common.Block, strict bool) (*Block, error) {
	if b.GetHeader() == nil {
		return nil, fmt.Errorf("block has no header")
	}
	num := b.GetHeader().GetNumber()
	if strict {
		if err := CheckDataHash(b); err != nil {
			return nil, err
		}
	}
	hash, err := HeaderHash(b.GetHeader())
	if err != nil {
		return nil, err
	}
	out := &Block{
		Number:           num,
		Hash:             hash,
		PreviousHash:     b.GetHeader().GetPreviousHash(),
		DataHash:         b.GetHeader().GetDataHash(),
		ComputedDataHash: DataHash(b.GetData()),
	}
	var filter []byte
	if md := b.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, raw := range b.GetData().GetData() {
		tx, err := d.decodeTx(i, raw, filter)
		if err != nil {
			return nil, fmt.Errorf("block %d tx %d: %w", num, i, err)
		}
		if i == 0 {
			out.ChannelID = tx.channel
		}
		if tx.Type == common.HeaderType_CONFIG.String() {
			out.Config = true
		}
		if tx.Timestamp.After(out.Time) {
			out.Time = tx.Timestamp
		}
		out.Txs = append(out.Txs, tx.Tx)
	}
	return out, nil
}

type decodedTx struct {
	Tx
	channel string
}

func (d Decoder) decodeTx(i int, raw, filter []byte) (decodedTx, error) {
	var out decodedTx
	out.Index = i
	env := &common.Envelope{}
	if err := proto.Unmarshal(raw, env); err != nil {
		return out, fmt.Errorf("envelope: %w", err)
	}
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return out, fmt.Errorf("payload: %w", err)
	}
	ch := &common.ChannelHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), ch); err != nil {
		return out, fmt.Errorf("channel header: %w", err)
	}
	out.channel = ch.GetChannelId()
	out.ID = ch.GetTxId()
	out.Type = common.HeaderType(ch.GetType()).String()
	if ts := ch.GetTimestamp(); ts != nil {
		out.Timestamp = ts.AsTime().UTC()
	}
	sh := &common.SignatureHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), sh); err != nil {
		return out, fmt.Errorf("signature header: %w", err)
	}
	if len(sh.GetCreator()) > 0 {
		c, err := decodeCreator(sh.GetCreator())
		if err != nil {
			return out, err
		}
		out.Creator = c
	}

	switch {
	case i < len(filter):
		out.ValidationCode = int32(filter[i])
	case ch.GetType() == int32(common.HeaderType_CONFIG):
		// A channel's genesis block may come without a filter; a config
		// transaction on the ledger is valid by construction.
		out.ValidationCode = int32(peer.TxValidationCode_VALID)
	default:
		return out, fmt.Errorf("no validation code for %s transaction %s", out.Type, out.ID)
	}
	out.Validation = peer.TxValidationCode(out.ValidationCode).String()

	if ch.GetType() != int32(common.HeaderType_ENDORSER_TRANSACTION) {
		return out, nil
	}
	act, err := chaincodeAction(payload.GetData())
	if err != nil {
		if !out.Valid() {
			// An invalid transaction may be malformed; it changes nothing.
			return out, nil
		}
		return out, err
	}
	out.Chaincode = act.GetChaincodeId().GetName()
	if out.Writes, err = writes(act.GetResults(), d.Chaincode); err != nil {
		out.Writes, out.WritesErr = nil, err.Error()
	}
	if err := d.event(&out.Tx, act); err != nil {
		out.EventErr = err.Error()
	}
	out.Applied = out.Valid() && (len(out.Writes) > 0 || out.WritesErr != "" || out.EventPayload != nil)
	return out, nil
}

// event reads the event the ledger chaincode set, if it set one: the
// chaincode the transaction invoked is the only one whose event Fabric keeps.
func (d Decoder) event(out *Tx, act *peer.ChaincodeAction) error {
	if len(act.GetEvents()) == 0 || out.Chaincode != d.Chaincode {
		return nil
	}
	ev := &peer.ChaincodeEvent{}
	if err := proto.Unmarshal(act.GetEvents(), ev); err != nil {
		if !out.Valid() {
			return nil
		}
		out.EventPayload = []byte{}
		return fmt.Errorf("chaincode event: %w", err)
	}
	if ev.GetChaincodeId() != d.Chaincode {
		return nil
	}
	out.EventName = ev.GetEventName()
	out.EventPayload = ev.GetPayload()
	if out.EventPayload == nil {
		out.EventPayload = []byte{} // an event was set, even if empty
	}
	e, err := domain.DecodeEvent(ev.GetPayload())
	if err != nil {
		return err
	}
	if string(e.Type) != out.EventName {
		return fmt.Errorf("event name %q differs from payload type %q", out.EventName, e.Type)
	}
	out.Event = e
	return nil
}

// writes reads the key-value writes of namespace ns from a transaction's
// read-write set (peer.ChaincodeAction.Results). Reads, range queries,
// metadata (key-level endorsement policies) and private data are left out:
// they change no entity.
func writes(results []byte, ns string) ([]Write, error) {
	if len(results) == 0 {
		return nil, nil
	}
	txrw := &rwset.TxReadWriteSet{}
	if err := proto.Unmarshal(results, txrw); err != nil {
		return nil, fmt.Errorf("read-write set: %w", err)
	}
	var out []Write
	for _, nsrw := range txrw.GetNsRwset() {
		if nsrw.GetNamespace() != ns {
			continue
		}
		kv := &kvrwset.KVRWSet{}
		if err := proto.Unmarshal(nsrw.GetRwset(), kv); err != nil {
			return nil, fmt.Errorf("read-write set of namespace %s: %w", ns, err)
		}
		for _, w := range kv.GetWrites() {
			wr := Write{Key: w.GetKey(), Delete: w.GetIsDelete()}
			if !wr.Delete {
				wr.Value = w.GetValue()
				if wr.Value == nil {
					wr.Value = []byte{}
				}
			}
			out = append(out, wr)
		}
	}
	return out, nil
}

// creators remembers the signers already decoded: a consortium has a few
// dozen people, each signing thousands of transactions, and parsing the
// certificate was a sixth of an indexer's work per transaction.
var creators = creatorCache{m: map[string]Creator{}}

// maxCreators bounds the cache: beyond it, new signers are decoded every
// time (a ledger with that many people has other costs).
const maxCreators = 4096

type creatorCache struct {
	mu sync.RWMutex
	m  map[string]Creator
}

// decodeCreator reads the MSP ID and the certificate subject of a signer.
func decodeCreator(raw []byte) (Creator, error) {
	creators.mu.RLock()
	c, ok := creators.m[string(raw)]
	creators.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := parseCreator(raw)
	if err != nil {
		return c, err
	}
	creators.mu.Lock()
	if len(creators.m) < maxCreators {
		creators.m[string(raw)] = c
	}
	creators.mu.Unlock()
	return c, nil
}

// parseCreator decodes a serialized identity.
func parseCreator(raw []byte) (Creator, error) {
	id := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(raw, id); err != nil {
		return Creator{}, fmt.Errorf("creator: %w", err)
	}
	c := Creator{MSPID: id.GetMspid()}
	// Identities that are not X.509 (idemix) have no subject; the MSP ID
	// still names the department.
	if p, _ := pem.Decode(id.GetIdBytes()); p != nil {
		if cert, err := x509.ParseCertificate(p.Bytes); err == nil {
			c.Subject = cert.Subject.String()
		}
	}
	return c, nil
}

// chaincodeAction walks an endorser transaction down to the chaincode
// action its endorsers signed: the invoked chaincode, its read-write set and
// its event. Fabric puts exactly one action in a transaction; only the first
// is read.
func chaincodeAction(data []byte) (*peer.ChaincodeAction, error) {
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(data, tx); err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	if len(tx.GetActions()) == 0 {
		return nil, fmt.Errorf("transaction has no action")
	}
	ap := &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), ap); err != nil {
		return nil, fmt.Errorf("chaincode action payload: %w", err)
	}
	prp := &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(ap.GetAction().GetProposalResponsePayload(), prp); err != nil {
		return nil, fmt.Errorf("proposal response payload: %w", err)
	}
	act := &peer.ChaincodeAction{}
	if err := proto.Unmarshal(prp.GetExtension(), act); err != nil {
		return nil, fmt.Errorf("chaincode action: %w", err)
	}
	return act, nil
}
