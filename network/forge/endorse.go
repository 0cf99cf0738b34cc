package forge

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Event is a chaincode event: its name and payload.
type Event struct {
	Name    string
	Payload []byte
}

// Action is what an endorser claims the chaincode did with a proposal.
type Action struct {
	RWSets []RWSet // usually one, of the chaincode's namespace
	Event  *Event  // nil for none
	// Status, Message and Payload are the chaincode's answer; Status 0 means 200.
	Status  int32
	Message string
	Payload []byte
	// ChaincodeVersion is the definition's version the endorser names
	// (validation only requires it to be non-empty); "1" when empty.
	ChaincodeVersion string
}

// Forge returns, for each endorser, the proposal response that modified
// chaincode on that peer would send: the action's read-write set, event and
// answer, for this proposal, signed with the peer's key exactly as the
// default endorsement plugin signs (over the response payload followed by
// the endorser's serialized identity).
func Forge(p *Proposal, a Action, endorsers ...*Signer) ([]*peer.ProposalResponse, error) {
	if len(endorsers) == 0 {
		return nil, errors.New("forge: no endorsers")
	}
	if a.Status == 0 {
		a.Status = 200
	}
	if a.ChaincodeVersion == "" {
		a.ChaincodeVersion = "1"
	}
	results, err := MarshalRWSets(a.RWSets...)
	if err != nil {
		return nil, err
	}
	var events []byte
	if a.Event != nil {
		events, err = proto.Marshal(&peer.ChaincodeEvent{
			ChaincodeId: p.Chaincode, TxId: p.TxID, EventName: a.Event.Name, Payload: a.Event.Payload,
		})
		if err != nil {
			return nil, err
		}
	}
	resp := &peer.Response{Status: a.Status, Message: a.Message, Payload: a.Payload}
	ext, err := proto.Marshal(&peer.ChaincodeAction{
		Results: results, Events: events, Response: resp,
		ChaincodeId: &peer.ChaincodeID{Name: p.Chaincode, Version: a.ChaincodeVersion},
	})
	if err != nil {
		return nil, err
	}
	prp, err := proto.Marshal(&peer.ProposalResponsePayload{ProposalHash: p.Hash(), Extension: ext})
	if err != nil {
		return nil, err
	}
	out := make([]*peer.ProposalResponse, 0, len(endorsers))
	for _, e := range endorsers {
		id := e.Serialized()
		sig, err := e.Sign(append(append([]byte(nil), prp...), id...))
		if err != nil {
			return nil, err
		}
		out = append(out, &peer.ProposalResponse{
			Version: 1, Response: resp, Payload: prp,
			Endorsement: &peer.Endorsement{Endorser: id, Signature: sig},
		})
	}
	return out, nil
}

// Endorsed is a proposal response taken apart.
type Endorsed struct {
	Status           int32
	Message          string
	Payload          []byte // the chaincode's answer
	RWSets           []RWSet
	Event            *Event
	ChaincodeVersion string
	ProposalHash     []byte
}

// ParseResponse takes a proposal response apart: the chaincode's answer
// and, when the peer endorsed, the read-write set and event it signed.
func ParseResponse(r *peer.ProposalResponse) (*Endorsed, error) {
	if r == nil {
		return nil, errors.New("forge: nil proposal response")
	}
	e := &Endorsed{Status: r.GetResponse().GetStatus(), Message: r.GetResponse().GetMessage(), Payload: r.GetResponse().GetPayload()}
	if len(r.Payload) == 0 {
		return e, nil
	}
	var prp peer.ProposalResponsePayload
	if err := proto.Unmarshal(r.Payload, &prp); err != nil {
		return nil, fmt.Errorf("forge: proposal response payload: %w", err)
	}
	e.ProposalHash = prp.ProposalHash
	var ca peer.ChaincodeAction
	if err := proto.Unmarshal(prp.Extension, &ca); err != nil {
		return nil, fmt.Errorf("forge: chaincode action: %w", err)
	}
	e.ChaincodeVersion = ca.GetChaincodeId().GetVersion()
	if len(ca.Results) > 0 {
		sets, err := ParseRWSets(ca.Results)
		if err != nil {
			return nil, err
		}
		e.RWSets = sets
	}
	if len(ca.Events) > 0 {
		var ev peer.ChaincodeEvent
		if err := proto.Unmarshal(ca.Events, &ev); err != nil {
			return nil, fmt.Errorf("forge: chaincode event: %w", err)
		}
		if ev.EventName != "" || len(ev.Payload) > 0 {
			e.Event = &Event{Name: ev.EventName, Payload: ev.Payload}
		}
	}
	return e, nil
}
