// Command plugin is the govshare validation plugin, built with
// -buildmode=plugin from the same module (and so the same dependency
// versions) as the peer that loads it. The peer's core.yaml names it under
// handlers.validators, and the ledger chaincode's definition names that
// entry as its validation plugin, so every department's peer applies
// validation.Judge to every ledger transaction after Fabric's own checks.
package main

import (
	"errors"
	"fmt"

	"github.com/govshare/ledger/chaincode/validation"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	fvalidation "github.com/hyperledger/fabric/core/handlers/validation/api"
	vp "github.com/hyperledger/fabric/core/handlers/validation/api/policies"
	vs "github.com/hyperledger/fabric/core/handlers/validation/api/state"
	"github.com/hyperledger/fabric/core/handlers/validation/builtin"
	"github.com/hyperledger/fabric/core/ledger/kvledger/txmgmt/rwsetutil"
	"github.com/hyperledger/fabric/protoutil"
)

// NewPluginFactory is the symbol the peer looks up in the shared object.
func NewPluginFactory() fvalidation.PluginFactory { return factory{} }

type factory struct{}

func (factory) New() fvalidation.Plugin {
	return &plugin{fabric: new(builtin.DefaultValidationFactory).New()}
}

// plugin runs Fabric's default validation, then the creation rule.
type plugin struct {
	fabric   fvalidation.Plugin
	policies vp.PolicyEvaluator
	state    vs.StateFetcher
}

func (p *plugin) Init(deps ...fvalidation.Dependency) error {
	for _, d := range deps {
		if pe, ok := d.(vp.PolicyEvaluator); ok {
			p.policies = pe
		}
		if sf, ok := d.(vs.StateFetcher); ok {
			p.state = sf
		}
	}
	if p.policies == nil || p.state == nil {
		return errors.New("govshare validation: the peer passed no policy evaluator or state fetcher")
	}
	return p.fabric.Init(deps...)
}

// Validate is called once per transaction action of the ledger namespace.
// Fabric's own validation goes first and always runs: it tracks key-level
// policy changes across the block and must see every transaction.
func (p *plugin) Validate(block *common.Block, namespace string, txPosition, actionPosition int, contextData ...fvalidation.ContextDatum) error {
	if err := p.fabric.Validate(block, namespace, txPosition, actionPosition, contextData...); err != nil {
		return err
	}
	return p.judge(block, namespace, txPosition, actionPosition)
}

func (p *plugin) judge(block *common.Block, namespace string, txPosition, actionPosition int) error {
	act, err := endorsedAction(block, txPosition, actionPosition)
	if err != nil {
		return err
	}
	prp, err := protoutil.UnmarshalProposalResponsePayload(act.GetProposalResponsePayload())
	if err != nil {
		return fmt.Errorf("govshare validation: proposal response payload: %w", err)
	}
	cca, err := protoutil.UnmarshalChaincodeAction(prp.GetExtension())
	if err != nil {
		return fmt.Errorf("govshare validation: chaincode action: %w", err)
	}
	txrw := &rwsetutil.TxRwSet{}
	if err := txrw.FromProtoBytes(cca.GetResults()); err != nil {
		return fmt.Errorf("govshare validation: read-write set: %w", err)
	}
	for _, ns := range txrw.NsRwSets {
		if ns.NameSpace != namespace {
			continue
		}
		parties, err := validation.Judge(ns.KvRwSet, func(keys []string) ([][]byte, error) {
			st, err := p.state.FetchState()
			if err != nil {
				return nil, &fvalidation.ExecutionFailureError{Reason: "govshare validation: state: " + err.Error()}
			}
			defer st.Done()
			vals, err := st.GetStateMultipleKeys(namespace, keys)
			if err != nil {
				return nil, &fvalidation.ExecutionFailureError{Reason: "govshare validation: state: " + err.Error()}
			}
			return vals, nil
		})
		if err != nil {
			var ef *fvalidation.ExecutionFailureError
			if errors.As(err, &ef) {
				return ef
			}
			return fmt.Errorf("govshare validation: %w", err)
		}
		if len(parties) == 0 {
			continue
		}
		policy, err := validation.PeersOf(parties)
		if err != nil {
			return &fvalidation.ExecutionFailureError{Reason: "govshare validation: policy: " + err.Error()}
		}
		signed := make([]*protoutil.SignedData, 0, len(act.GetEndorsements()))
		for _, e := range act.GetEndorsements() {
			signed = append(signed, &protoutil.SignedData{
				Data:      append(append([]byte{}, act.GetProposalResponsePayload()...), e.GetEndorser()...),
				Identity:  e.GetEndorser(),
				Signature: e.GetSignature(),
			})
		}
		if err := p.policies.Evaluate(policy, signed); err != nil {
			return fmt.Errorf("govshare validation: the transaction creates records naming %v, whose peers did not all endorse it: %w", parties, err)
		}
	}
	return nil
}

// endorsedAction digs the endorsed action out of a block's transaction; by
// the time a plugin runs, Fabric has checked the envelope's structure.
func endorsedAction(block *common.Block, txPosition, actionPosition int) (*peer.ChaincodeEndorsedAction, error) {
	env, err := protoutil.GetEnvelopeFromBlock(block.GetData().GetData()[txPosition])
	if err != nil {
		return nil, fmt.Errorf("govshare validation: envelope: %w", err)
	}
	payl, err := protoutil.UnmarshalPayload(env.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("govshare validation: payload: %w", err)
	}
	tx, err := protoutil.UnmarshalTransaction(payl.GetData())
	if err != nil {
		return nil, fmt.Errorf("govshare validation: transaction: %w", err)
	}
	if actionPosition >= len(tx.GetActions()) {
		return nil, fmt.Errorf("govshare validation: no action %d", actionPosition)
	}
	cap, err := protoutil.UnmarshalChaincodeActionPayload(tx.GetActions()[actionPosition].GetPayload())
	if err != nil {
		return nil, fmt.Errorf("govshare validation: action payload: %w", err)
	}
	if cap.GetAction() == nil {
		return nil, errors.New("govshare validation: the action has no endorsed action")
	}
	return cap.GetAction(), nil
}

func main() {}
