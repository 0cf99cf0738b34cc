package contract

import (
	"encoding/json"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
)

// testDepartments have a profile (and an anchor) on the fake ledger from the
// start, as every department of a consortium does once it is up: a record
// can only name a department that has one.
var testDepartments = []string{"Dept1MSP", "Dept2MSP", "Dept3MSP", "Dept4MSP", "BureauMSP"}

// seedProfiles writes the profiles and anchors of testDepartments straight
// into the committed state.
func (l *fakeLedger) seedProfiles() {
	for _, m := range testDepartments {
		k, _ := domain.EntityKey(domain.KindDepartment, m)
		b, _ := json.Marshal(domain.Department{MSPID: m, Name: m, Code: m, Level: domain.LevelMunicipal})
		l.state[k] = b
		a, _ := domain.AnchorKey(m)
		l.state[a] = domain.IndexValue
		ep, _ := statebased.NewStateEP(nil)
		_ = ep.AddOrgs(statebased.RoleTypePeer, m)
		policy, _ := ep.Policy()
		l.sbe[k], l.sbe[a] = policy, policy
	}
	l.seedPolicy() // policy_test.go
}
