package contract

import (
	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// setEndorsers gives key a state-based endorsement policy that requires a
// peer of every department in orgs. The chaincode-level policy (typically a
// majority) applies only to a key's creation; after that, a record a
// department owns can change only with its own peer's endorsement, and a
// record two departments share (request, delivery, correction) only with
// both, so no coalition of other departments can rewrite it.
func setEndorsers(stub shim.ChaincodeStubInterface, key string, orgs ...string) error {
	if len(orgs) == 0 {
		return domain.Errorf(domain.CodeInternal, "no endorsing department given for a key")
	}
	ep, err := statebased.NewStateEP(nil)
	if err != nil {
		return internalErr("build endorsement policy", err)
	}
	// The policy is built from a sorted list inside statebased, so the
	// bytes are the same on every endorser whatever the order here.
	if err := ep.AddOrgs(statebased.RoleTypePeer, orgs...); err != nil {
		return internalErr("build endorsement policy", err)
	}
	policy, err := ep.Policy()
	if err != nil {
		return internalErr("encode endorsement policy", err)
	}
	if err := stub.SetStateValidationParameter(key, policy); err != nil {
		return internalErr("set endorsement policy", err)
	}
	return nil
}
