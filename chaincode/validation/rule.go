// Package validation is the peers' half of the ledger's trust rule: a
// Fabric validation plugin (built beside the peer, from this module, so
// both share every dependency at the same version) that every department's
// peer runs on the ledger chaincode's transactions, after Fabric's own
// checks (chaincode-level and key-level endorsement policies).
//
// Fabric's key-level endorsement protects a record once it exists; its
// creation falls under the chaincode-level policy (a majority), so a
// coalition of departments could create a record in another's name. The
// rule here closes that: a transaction that creates a record naming a
// department as owner or party is valid only if that department's peer
// endorsed it. The departments a record names are domain.Record.Parties,
// the same rule the contract uses to set key-level policies; the key
// layout is domain's. A transaction that fails it is committed as
// ENDORSEMENT_POLICY_FAILURE on every honest peer and changes no state.
package validation

import (
	"fmt"
	"sort"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Committed reads the committed values of keys of the contract's
// namespace (nil for a key that does not exist), as the block's validation
// sees them: the state before this block.
type Committed func(keys []string) ([][]byte, error)

// Judge checks the contract namespace's read-write set of one transaction
// and returns the departments whose peers must have endorsed it: the
// parties of every record it creates. It refuses, with the reason:
//   - a write to a key the contract never forms, or a value that is not the
//     record its key names (domain.ParseWrite);
//   - a delete (the contract never deletes: records stay on the ledger);
//   - a creation without a read of the key at no version, so that two
//     creations of one key in one block cannot both be valid (Fabric's MVCC
//     check invalidates the second);
//   - an update that breaks its kind's update rule (domain.CheckUpdate):
//     the consortium policy goes up one version at a time, and changes its
//     membership only by one change that a majority of its voters approved,
//     each approval on the ledger (domain.MembershipEvidence), whichever
//     majority of peers endorsed it.
func Judge(rw *kvrwset.KVRWSet, committed Committed) ([]string, error) {
	if rw == nil {
		return nil, nil
	}
	var keys []string
	written := make([]*domain.Written, 0, len(rw.Writes))
	for _, w := range rw.Writes {
		if w.IsDelete {
			return nil, fmt.Errorf("the transaction deletes key %q: ledger records are never deleted", domain.PrintableKey(w.Key))
		}
		rec, err := domain.ParseWrite(w.Key, w.Value)
		if err != nil {
			return nil, fmt.Errorf("the transaction writes what the contract never writes: %w", err)
		}
		written = append(written, rec)
		keys = append(keys, w.Key)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	values, err := committed(keys)
	if err != nil {
		return nil, err
	}
	if len(values) != len(keys) {
		return nil, fmt.Errorf("state returned %d values for %d keys", len(values), len(keys))
	}
	readAbsent := map[string]bool{}
	for _, r := range rw.Reads {
		if r.Version == nil {
			readAbsent[r.Key] = true
		}
	}
	need := map[string]bool{}
	for i, w := range written {
		if values[i] != nil {
			// An update: the key's own endorsement policy governs it, and
			// the consortium policy's successor rule binds even a majority.
			if err := domain.CheckUpdate(w, values[i]); err != nil {
				return nil, fmt.Errorf("the transaction updates key %q against its rule: %w", domain.PrintableKey(w.Key), err)
			}
			if err := checkEvidence(w, committed); err != nil {
				return nil, fmt.Errorf("the transaction updates key %q against its rule: %w", domain.PrintableKey(w.Key), err)
			}
			continue
		}
		if !readAbsent[w.Key] {
			return nil, fmt.Errorf("the transaction creates key %q without reading it as absent", domain.PrintableKey(w.Key))
		}
		for _, p := range w.Parties() {
			need[p] = true
		}
	}
	out := make([]string, 0, len(need))
	for p := range need {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// checkEvidence reads what proves a membership change's approvals
// (domain.MembershipEvidence) and checks it.
func checkEvidence(w *domain.Written, committed Committed) error {
	keys, err := domain.MembershipEvidence(w)
	if err != nil || len(keys) == 0 {
		return err
	}
	values, err := committed(keys)
	if err != nil {
		return err
	}
	return domain.CheckMembershipEvidence(w, values)
}

// PeersOf is the signature policy "a peer of every one of orgs", as an
// ApplicationPolicy, the form the peer's policy evaluator takes.
func PeersOf(orgs []string) ([]byte, error) {
	rules := make([]*common.SignaturePolicy, len(orgs))
	ids := make([]*msp.MSPPrincipal, len(orgs))
	for i, org := range orgs {
		role, err := proto.Marshal(&msp.MSPRole{MspIdentifier: org, Role: msp.MSPRole_PEER})
		if err != nil {
			return nil, err
		}
		ids[i] = &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: role}
		rules[i] = &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(i)}}
	}
	env := &common.SignaturePolicyEnvelope{
		Version: 0,
		Rule: &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{
			NOutOf: &common.SignaturePolicy_NOutOf{N: int32(len(orgs)), Rules: rules},
		}},
		Identities: ids,
	}
	return proto.Marshal(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_SignaturePolicy{SignaturePolicy: env}})
}
