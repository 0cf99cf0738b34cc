package contract

import (
	"encoding/json"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// The key layout is domain's (chaincode/domain/keys.go), shared with the
// peers' validation plugin and the indexers.
const datasetByOwner = domain.IndexDatasetByOwner

// indexValue is what an index or anchor key stores.
var indexValue = domain.IndexValue

// entityKey is the state key of one entity.
func entityKey(_ shim.ChaincodeStubInterface, kind domain.Kind, id string) (string, error) {
	k, err := domain.EntityKey(kind, id)
	if err != nil {
		return "", domain.Errorf(domain.CodeInvalid, "%s ID %q cannot form a key: %v", kind, id, err)
	}
	return k, nil
}

// datasetOwnerKey is the index key that lists dataset id under its owner.
func datasetOwnerKey(_ shim.ChaincodeStubInterface, owner, id string) (string, error) {
	k, err := domain.DatasetOwnerKey(owner, id)
	if err != nil {
		return "", domain.Errorf(domain.CodeInvalid, "dataset index key for %q/%q: %v", owner, id, err)
	}
	return k, nil
}

// getEntity reads the entity of kind with id into v. It reports whether the
// entity exists; a missing entity is not an error here, so that callers can
// choose between not_found and a uniqueness check.
func getEntity(stub shim.ChaincodeStubInterface, kind domain.Kind, id string, v any) (string, bool, error) {
	key, err := entityKey(stub, kind, id)
	if err != nil {
		return "", false, err
	}
	b, err := stub.GetState(key)
	if err != nil {
		return "", false, internalErr("read "+string(kind)+" "+id, err)
	}
	if len(b) == 0 {
		return key, false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return "", false, internalErr("decode "+string(kind)+" "+id, err)
	}
	return key, true, nil
}

// mustGetEntity reads an entity that the transaction needs: [not_found] if
// there is none.
func mustGetEntity(stub shim.ChaincodeStubInterface, kind domain.Kind, id string, v any) (string, error) {
	key, ok, err := getEntity(stub, kind, id, v)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", domain.Errorf(domain.CodeNotFound, "%s %s does not exist", kind, id)
	}
	return key, nil
}

// exists reports whether an entity of kind with id is on the ledger.
func exists(stub shim.ChaincodeStubInterface, kind domain.Kind, id string) (string, bool, error) {
	key, err := entityKey(stub, kind, id)
	if err != nil {
		return "", false, err
	}
	b, err := stub.GetState(key)
	if err != nil {
		return "", false, internalErr("read "+string(kind)+" "+id, err)
	}
	return key, len(b) > 0, nil
}

// updateEntity rewrites an existing entity. Its endorsement policy, set
// when it was created, stays as it is: rewriting the policy on every update
// would make the later of two racing updates in one block fail validation
// as ENDORSEMENT_POLICY_FAILURE (Fabric refuses a transaction whose key's
// policy an earlier transaction of the block changed) instead of losing
// cleanly on MVCC_READ_CONFLICT, which the gateway reports as a conflict.
func updateEntity(stub shim.ChaincodeStubInterface, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return internalErr("encode state", err)
	}
	if err := stub.PutState(key, b); err != nil {
		return internalErr("write state", err)
	}
	return nil
}

// putEntity writes a new entity under key. Its key-level endorsement
// policy becomes the peers of its parties (domain.Record.Parties, the one
// definition of who a record names), so no other set of peers can rewrite
// it. Every party must have a profile on the ledger, and the transaction
// writes each party's anchor (domain.AnchorKey), so that Fabric's Gateway
// plans every party's peer among the endorsers; the peers' validation plugin
// refuses the creation unless all of them endorsed it.
func putEntity(stub shim.ChaincodeStubInterface, key string, r domain.Record) error {
	prev, err := stub.GetState(key) // a creation reads its key as absent: see chaincode/validation
	if err != nil {
		return internalErr("read state", err)
	}
	if len(prev) > 0 {
		return domain.Errorf(domain.CodeConflict, "key %q already exists", domain.PrintableKey(key))
	}
	parties := r.Parties()
	if err := checkParties(stub, parties); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return internalErr("encode state", err)
	}
	if err := stub.PutState(key, b); err != nil {
		return internalErr("write state", err)
	}
	if _, isDepartment := r.(*domain.Department); !isDepartment {
		if err := writeAnchors(stub, parties); err != nil {
			return err
		}
	}
	return setEndorsers(stub, key, parties...)
}

// checkParties refuses a new record naming a suspended or removed
// department (domain.PartyRefusal): suspension freezes a department's part
// in the consortium, and a removed one's peer can no longer endorse.
func checkParties(stub shim.ChaincodeStubInterface, parties []string) error {
	_, pol, err := readPolicy(stub)
	if err != nil || pol == nil {
		return err
	}
	for _, p := range parties {
		if why := domain.PartyRefusal(pol, p); why != "" {
			return domain.Errorf(domain.CodeForbidden, "%s", why)
		}
	}
	return nil
}

// writeAnchors blind-writes the anchor of every party, after checking that
// the party has a profile (and so an anchor) on the ledger. Anchors are
// never read here: a read would make every two transactions naming the same
// department in one block conflict.
func writeAnchors(stub shim.ChaincodeStubInterface, parties []string) error {
	for _, p := range parties {
		dk, err := entityKey(stub, domain.KindDepartment, p)
		if err != nil {
			return err
		}
		b, err := stub.GetState(dk)
		if err != nil {
			return internalErr("read department "+p, err)
		}
		if len(b) == 0 {
			return domain.Errorf(domain.CodeConflict, "department %s has no profile on the ledger yet; its admin sets it first (PUT /v1/departments/me)", p)
		}
		ak, err := domain.AnchorKey(p)
		if err != nil {
			return domain.Errorf(domain.CodeInvalid, "anchor of %q: %v", p, err)
		}
		if err := stub.PutState(ak, indexValue); err != nil {
			return internalErr("write anchor", err)
		}
	}
	return nil
}

// createAnchor creates a department's anchor with its profile: read as
// absent (a creation, see chaincode/validation) and endorsed by the
// department's own peer from then on.
func createAnchor(stub shim.ChaincodeStubInterface, mspID string) error {
	ak, err := domain.AnchorKey(mspID)
	if err != nil {
		return domain.Errorf(domain.CodeInvalid, "anchor of %q: %v", mspID, err)
	}
	prev, err := stub.GetState(ak)
	if err != nil {
		return internalErr("read anchor", err)
	}
	if len(prev) > 0 {
		return nil
	}
	if err := stub.PutState(ak, indexValue); err != nil {
		return internalErr("write anchor", err)
	}
	return setEndorsers(stub, ak, mspID)
}

// union returns the members of both lists, sorted, without repeats.
func union(a, b []string) []string {
	return domain.MSPSet(append(append([]string{}, a...), b...)...)
}
