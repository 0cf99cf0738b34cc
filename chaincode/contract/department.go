package contract

import (
	"encoding/json"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// SetDepartment sets the caller's own department profile. Only the
// department's admin may, and only for the department of its certificate:
// the profile is keyed by the caller's MSP ID, so no other is reachable.
func (c *Contract) SetDepartment(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.DepartmentInput
	if err := decodeInput("DepartmentInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleAdmin, "set a department profile")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	key, err := entityKey(stub, domain.KindDepartment, a.MSPID)
	if err != nil {
		return "", err
	}
	prev, err := stub.GetState(key)
	if err != nil {
		return "", internalErr("read department "+a.MSPID, err)
	}
	d := &domain.Department{MSPID: a.MSPID, Name: in.Name, Code: in.Code, Level: in.Level, UpdatedAt: now, UpdatedBy: a}
	write := func() error {
		if err := putEntity(stub, key, d); err != nil {
			return err
		}
		return createAnchor(stub, a.MSPID)
	}
	if len(prev) > 0 {
		write = func() error { return updateEntity(stub, key, d) }
	}
	if err := write(); err != nil {
		return "", err
	}
	if err := emit(stub, departmentEvent(domain.EventDepartmentUpdated, now, a, d)); err != nil {
		return "", err
	}
	return result(d)
}

// GetDepartment returns one department's profile.
func (c *Contract) GetDepartment(ctx contractapi.TransactionContextInterface, mspID string) (string, error) {
	if err := domain.CheckMSPID("mspId", mspID); err != nil {
		return "", err
	}
	var d domain.Department
	if _, err := mustGetEntity(ctx.GetStub(), domain.KindDepartment, mspID, &d); err != nil {
		return "", err
	}
	return result(d)
}

// ListDepartments returns the profile of every department of the
// consortium, ordered by MSP ID (the order of the composite keys): not
// those the consortium policy lists as removed, whose profiles stay on the
// ledger (GetDepartment, History) with the rest of their records.
func (c *Contract) ListDepartments(ctx contractapi.TransactionContextInterface) (string, error) {
	_, p, err := readPolicy(ctx.GetStub())
	if err != nil {
		return "", err
	}
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(string(domain.KindDepartment), nil)
	if err != nil {
		return "", internalErr("list departments", err)
	}
	defer it.Close()
	out := []domain.Department{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return "", internalErr("list departments", err)
		}
		var d domain.Department
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			return "", internalErr("decode department", err)
		}
		if p != nil && p.IsRemoved(d.MSPID) {
			continue
		}
		out = append(out, d)
	}
	return result(out)
}
