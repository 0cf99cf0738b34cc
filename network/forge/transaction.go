package forge

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Transaction is a signed transaction envelope, ready for ordering.
type Transaction struct {
	TxID     string
	Channel  string
	Envelope *common.Envelope
	Creator  *Signer
}

// Assemble builds the transaction of a proposal from its endorsements (honest,
// forged or both) and signs the envelope as the proposal's creator, as
// protoutil.CreateSignedTx does. Every response must be a success over the
// same response payload: a peer that refused, or that simulated something
// else, is reported rather than dropped.
func Assemble(p *Proposal, responses ...*peer.ProposalResponse) (*Transaction, error) {
	if len(responses) == 0 {
		return nil, errors.New("forge: no proposal responses")
	}
	var endorsements []*peer.Endorsement
	for i, r := range responses {
		if s := r.GetResponse().GetStatus(); s < 200 || s >= 400 {
			return nil, fmt.Errorf("forge: response %d is status %d: %s", i, s, r.GetResponse().GetMessage())
		}
		if r.Endorsement == nil {
			return nil, fmt.Errorf("forge: response %d carries no endorsement", i)
		}
		if !bytes.Equal(r.Payload, responses[0].Payload) {
			return nil, fmt.Errorf("forge: response %d differs from response 0 (the peers simulated different results)", i)
		}
		endorsements = append(endorsements, r.Endorsement)
	}
	actionPayload, err := proto.Marshal(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: p.payloadForTx,
		Action:                   &peer.ChaincodeEndorsedAction{ProposalResponsePayload: responses[0].Payload, Endorsements: endorsements},
	})
	if err != nil {
		return nil, err
	}
	tx, err := proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Header: p.header.SignatureHeader, Payload: actionPayload}}})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&common.Payload{Header: p.header, Data: tx})
	if err != nil {
		return nil, err
	}
	sig, err := p.Creator.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &Transaction{TxID: p.TxID, Channel: p.Channel, Creator: p.Creator,
		Envelope: &common.Envelope{Payload: payload, Signature: sig}}, nil
}
