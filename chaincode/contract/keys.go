package contract

import (
	"encoding/json"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// The world state holds one composite key per entity, ("<kind>", id), where
// kind is the domain.Kind; plus one index key per dataset,
// ("dataset~owner", owner, id), so a department's catalog is a prefix scan.
// There are no counters and no shared keys: two departments acting on
// different things never write the same key, so their transactions never
// conflict.
const datasetByOwner = "dataset~owner"

// indexValue is what an index key stores: the shim treats an empty value as a
// delete, so it holds one zero byte.
var indexValue = []byte{0}

// entityKey is the state key of one entity.
func entityKey(stub shim.ChaincodeStubInterface, kind domain.Kind, id string) (string, error) {
	k, err := stub.CreateCompositeKey(string(kind), []string{id})
	if err != nil {
		return "", domain.Errorf(domain.CodeInvalid, "%s ID %q cannot form a key: %v", kind, id, err)
	}
	return k, nil
}

// datasetOwnerKey is the index key that lists dataset id under its owner.
func datasetOwnerKey(stub shim.ChaincodeStubInterface, owner, id string) (string, error) {
	k, err := stub.CreateCompositeKey(datasetByOwner, []string{owner, id})
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

// putEntity writes a new entity under key and sets the key's endorsement
// policy to the departments that own it, so no other set of peers can
// rewrite it.
func putEntity(stub shim.ChaincodeStubInterface, key string, v any, owners ...string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return internalErr("encode state", err)
	}
	if err := stub.PutState(key, b); err != nil {
		return internalErr("write state", err)
	}
	return setEndorsers(stub, key, owners...)
}
