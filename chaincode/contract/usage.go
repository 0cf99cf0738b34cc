package contract

import (
	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// RecordUsage meters one use of shared data by the requester: calls and
// records under a request that is approved and unexpired now. Only the
// requester's operator may. A delivery need not be recorded first: data can
// be used through an interface the owner runs, without a copy.
func (c *Contract) RecordUsage(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.UsageInput
	if err := decodeInput("UsageInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "record usage")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var r domain.Request
	if _, err := mustGetEntity(stub, domain.KindRequest, in.RequestID, &r); err != nil {
		return "", err
	}
	if err := requireDepartment(a, r.Requester, "record usage under request "+r.ID+" (its requester)"); err != nil {
		return "", err
	}
	// Usage after expiry or revocation is refused here, as expired or revoked.
	if s := r.StatusAt(now); s != domain.RequestApproved {
		return "", domain.Errorf(domain.CodeConflict, "request %s is %s, not approved", r.ID, s)
	}
	if err := notBefore(now, approvedAt(&r), "request "+r.ID+" was approved", "usage under it"); err != nil {
		return "", err
	}
	id, err := derivedID("us-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, found, err := exists(stub, domain.KindUsage, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "usage %s already exists", id)
	}
	u := &domain.Usage{
		ID: id, RequestID: r.ID, DatasetID: r.DatasetID, Consumer: r.Requester, Owner: r.Owner,
		Calls: in.Calls, Records: in.Records, At: now, By: a,
	}
	// The consumer alone owns its meter readings; they are never changed.
	if err := putEntity(stub, key, u); err != nil {
		return "", err
	}
	if err := emit(stub, usageEvent(now, a, u)); err != nil {
		return "", err
	}
	return result(u)
}

// GetUsage returns one usage record.
func (c *Contract) GetUsage(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Usage](ctx, domain.KindUsage, id)
}
