package forge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The consortium's channel and chaincode (network/topology.yaml).
const (
	DefaultChannel   = "datashare"
	DefaultChaincode = "ledger"
)

// Invocation is what a proposal asks: one transaction function of the
// chaincode, with the header fields an honest client would not choose.
type Invocation struct {
	Channel   string // DefaultChannel when empty
	Chaincode string // DefaultChaincode when empty
	Function  string // e.g. "RegisterDataset"; the contract is the default one
	Args      []string
	Transient map[string][]byte
	Timestamp time.Time // the transaction timestamp the chaincode reads; now when zero
	Nonce     []byte    // 24 random bytes when nil
}

// Proposal is a signed proposal and what a transaction built from it needs.
type Proposal struct {
	TxID      string
	Channel   string
	Chaincode string
	Timestamp time.Time
	Creator   *Signer
	Signed    *peer.SignedProposal

	header       *common.Header
	payloadForTx []byte // the ChaincodeProposalPayload without its transient map
	hash         []byte
}

// NewProposal builds and signs a proposal as creator. The transaction ID
// is Fabric's: hex SHA-256 of nonce and serialized creator.
func NewProposal(creator *Signer, inv Invocation) (*Proposal, error) {
	if creator == nil {
		return nil, errors.New("forge: a proposal needs a creator")
	}
	if inv.Function == "" {
		return nil, errors.New("forge: a proposal needs a function")
	}
	if inv.Channel == "" {
		inv.Channel = DefaultChannel
	}
	if inv.Chaincode == "" {
		inv.Chaincode = DefaultChaincode
	}
	if inv.Timestamp.IsZero() {
		inv.Timestamp = time.Now()
	}
	if inv.Nonce == nil {
		inv.Nonce = make([]byte, 24)
		if _, err := rand.Read(inv.Nonce); err != nil {
			return nil, fmt.Errorf("forge: nonce: %w", err)
		}
	}
	creatorBytes := creator.Serialized()
	txID := TxID(inv.Nonce, creatorBytes)

	ext, err := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: inv.Chaincode}})
	if err != nil {
		return nil, err
	}
	chdr, err := proto.Marshal(&common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: inv.Channel,
		TxId:      txID,
		Timestamp: timestamppb.New(inv.Timestamp),
		Extension: ext,
	})
	if err != nil {
		return nil, err
	}
	shdr, err := proto.Marshal(&common.SignatureHeader{Creator: creatorBytes, Nonce: inv.Nonce})
	if err != nil {
		return nil, err
	}
	header := &common.Header{ChannelHeader: chdr, SignatureHeader: shdr}

	args := make([][]byte, 0, 1+len(inv.Args))
	args = append(args, []byte(inv.Function))
	for _, a := range inv.Args {
		args = append(args, []byte(a))
	}
	input, err := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type:        peer.ChaincodeSpec_GOLANG,
		ChaincodeId: &peer.ChaincodeID{Name: inv.Chaincode},
		Input:       &peer.ChaincodeInput{Args: args},
	}})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: input, TransientMap: inv.Transient})
	if err != nil {
		return nil, err
	}
	// What goes into the transaction, and into the proposal hash, is the
	// payload without the transient map (protoutil.GetBytesProposalPayloadForTx).
	payloadForTx, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: input})
	if err != nil {
		return nil, err
	}
	hdrBytes, err := proto.Marshal(header)
	if err != nil {
		return nil, err
	}
	propBytes, err := proto.Marshal(&peer.Proposal{Header: hdrBytes, Payload: payload})
	if err != nil {
		return nil, err
	}
	sig, err := creator.Sign(propBytes)
	if err != nil {
		return nil, err
	}
	return &Proposal{
		TxID: txID, Channel: inv.Channel, Chaincode: inv.Chaincode, Timestamp: inv.Timestamp, Creator: creator,
		Signed: &peer.SignedProposal{ProposalBytes: propBytes, Signature: sig},
		header: header, payloadForTx: payloadForTx, hash: proposalHash(header, payloadForTx),
	}, nil
}

// TxID is Fabric's transaction ID of a nonce and a serialized creator.
func TxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// Hash is the proposal hash that every endorsement of it names
// (protoutil.GetProposalHash1/2): SHA-256 of the channel header, the
// signature header and the payload without its transient map.
func (p *Proposal) Hash() []byte { return append([]byte(nil), p.hash...) }

func proposalHash(h *common.Header, payloadForTx []byte) []byte {
	d := sha256.New()
	d.Write(h.ChannelHeader)
	d.Write(h.SignatureHeader)
	d.Write(payloadForTx)
	return d.Sum(nil)
}
