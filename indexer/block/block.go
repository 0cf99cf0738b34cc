// Package block turns a Fabric block, as the peer delivers it, into the plain
// facts the indexer mirrors: the block's place in the hash chain and, for
// each transaction, its ID, type, time, signer, validation code and the
// ledger chaincode's event. It is the only indexer package that knows
// Fabric's protobuf messages; what it returns is plain Go.
package block

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
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
	EventPayload   []byte
	// Event is the decoded payload of an event set by the ledger chaincode;
	// nil for other chaincodes, for transactions that set none, and for
	// invalid transactions whose payload does not decode.
	Event *domain.Event
	// Applied says that the mirror takes this transaction: it is VALID, it
	// invoked the ledger chaincode and that chaincode set an event.
	Applied bool
}

// Valid reports whether the committing peer marked the transaction VALID.
func (t Tx) Valid() bool { return t.ValidationCode == int32(peer.TxValidationCode_VALID) }

// Decoder decodes blocks for one chaincode's events.
type Decoder struct {
	Chaincode string // the chaincode whose events are decoded and applied: "ledger"
}

// Decode decodes b. It fails on a block that does not hold together (a data
// hash that does not match, an envelope that does not parse, a transaction
// with no validation code) and on a VALID ledger transaction whose event this
// build cannot read: skipping it would make the mirror disagree with the
// ledger, so the caller must stop instead.
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
	cc, ev, err := chaincodeAction(payload.GetData())
	if err != nil {
		if !out.Valid() {
			// An invalid transaction may be malformed; it changes nothing.
			return out, nil
		}
		return out, err
	}
	out.Chaincode = cc
	if ev == nil || cc != d.Chaincode || ev.GetChaincodeId() != d.Chaincode {
		return out, nil
	}
	out.EventName = ev.GetEventName()
	out.EventPayload = ev.GetPayload()
	e, err := domain.DecodeEvent(ev.GetPayload())
	if err != nil {
		if !out.Valid() {
			return out, nil
		}
		return out, fmt.Errorf("transaction %s: %w", out.ID, err)
	}
	if string(e.Type) != out.EventName {
		if !out.Valid() {
			return out, nil
		}
		return out, fmt.Errorf("transaction %s: event name %q differs from payload type %q", out.ID, out.EventName, e.Type)
	}
	out.Event = e
	out.Applied = out.Valid()
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

// chaincodeAction walks an endorser transaction down to the invoked
// chaincode's name and the event it set (nil when it set none). Fabric puts
// exactly one action in a transaction; only the first is read.
func chaincodeAction(data []byte) (string, *peer.ChaincodeEvent, error) {
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(data, tx); err != nil {
		return "", nil, fmt.Errorf("transaction: %w", err)
	}
	if len(tx.GetActions()) == 0 {
		return "", nil, fmt.Errorf("transaction has no action")
	}
	ap := &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), ap); err != nil {
		return "", nil, fmt.Errorf("chaincode action payload: %w", err)
	}
	prp := &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(ap.GetAction().GetProposalResponsePayload(), prp); err != nil {
		return "", nil, fmt.Errorf("proposal response payload: %w", err)
	}
	act := &peer.ChaincodeAction{}
	if err := proto.Unmarshal(prp.GetExtension(), act); err != nil {
		return "", nil, fmt.Errorf("chaincode action: %w", err)
	}
	name := act.GetChaincodeId().GetName()
	if len(act.GetEvents()) == 0 {
		return name, nil, nil
	}
	ev := &peer.ChaincodeEvent{}
	if err := proto.Unmarshal(act.GetEvents(), ev); err != nil {
		return "", nil, fmt.Errorf("chaincode event: %w", err)
	}
	return name, ev, nil
}
