package contract

import (
	"reflect"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// caller identifies who signed the transaction: the department is the MSP
// that issued the certificate, the role is the certificate's "role"
// attribute, set by the department's CA, so only the department can grant it.
func caller(ctx contractapi.TransactionContextInterface) (domain.Actor, error) {
	ci := ctx.GetClientIdentity()
	if isNil(ci) {
		// contract-api drops cid's error and leaves a nil identity; ask
		// again so the caller learns why the identity was refused.
		_, err := cid.New(ctx.GetStub())
		if err == nil {
			return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "the transaction carries no identity")
		}
		return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "the transaction's identity cannot be read: %v", err)
	}
	msp, err := ci.GetMSPID()
	if err != nil {
		return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "read the caller's MSP ID: %v", err)
	}
	if msp == "" {
		return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "the caller's identity names no MSP")
	}
	role, _, err := ci.GetAttributeValue(domain.RoleAttribute)
	if err != nil {
		return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "read the caller's role attribute: %v", err)
	}
	a := domain.Actor{MSPID: msp, Role: domain.Role(role)}
	cert, err := ci.GetX509Certificate()
	if err != nil {
		return domain.Actor{}, domain.Errorf(domain.CodeUnauthorized, "read the caller's certificate: %v", err)
	}
	if cert != nil {
		a.Subject = cert.Subject.String()
	}
	return a, nil
}

// authorize returns the caller if it holds role; action completes the
// sentence "role X is required to ...". The evaluator and auditor roles
// (domain.PolicyRoles) count only for the departments the consortium
// policy on the ledger grants them to: any department's CA can write any
// role into a certificate, so for these two the certificate alone proves
// nothing.
func authorize(ctx contractapi.TransactionContextInterface, role domain.Role, action string) (domain.Actor, error) {
	a, err := caller(ctx)
	if err != nil {
		return domain.Actor{}, err
	}
	if a.Role != role {
		return domain.Actor{}, domain.Errorf(domain.CodeForbidden, "role %s is required to %s; caller has %s", role, action, describeRole(a.Role))
	}
	if role.Governed() {
		_, p, err := readPolicy(ctx.GetStub())
		if err != nil {
			return domain.Actor{}, err
		}
		if why := domain.RoleRefusal(p, a.MSPID, role); why != "" {
			return domain.Actor{}, domain.Errorf(domain.CodeForbidden, "role %s is required to %s; %s", role, action, why)
		}
	}
	return a, nil
}

// requireDepartment checks that the caller acts for the department that the
// rule names: a department acts only on its own things.
func requireDepartment(a domain.Actor, dept, action string) error {
	if a.MSPID != dept {
		return domain.Errorf(domain.CodeForbidden, "only %s may %s; caller is from %s", dept, action, a.MSPID)
	}
	return nil
}

func describeRole(r domain.Role) string {
	if r == "" {
		return "no role attribute"
	}
	return "role " + string(r)
}

// isNil sees through an interface holding a nil pointer, which is what
// contract-api stores when cid cannot parse the creator.
func isNil(ci cid.ClientIdentity) bool {
	if ci == nil {
		return true
	}
	v := reflect.ValueOf(ci)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
