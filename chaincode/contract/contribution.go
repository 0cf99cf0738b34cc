package contract

import (
	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// RecordContribution records data the caller's department added to an
// active dataset serving as a collection or pool (归集): records, bytes and
// the content's SHA-256. Any department's operator may contribute; the
// contributor is always the caller's department.
func (c *Contract) RecordContribution(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.ContributionInput
	if err := decodeInput("ContributionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "record a contribution")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Dataset
	if _, err := mustGetEntity(stub, domain.KindDataset, in.DatasetID, &d); err != nil {
		return "", err
	}
	if d.Status != domain.DatasetActive {
		return "", domain.Errorf(domain.CodeConflict, "dataset %s is %s; contributions go only to an active dataset", d.ID, d.Status)
	}
	if d.Owner == a.MSPID {
		return "", domain.Errorf(domain.CodeForbidden, "dataset %s is %s's own; a department does not contribute to its own pool", d.ID, d.Owner)
	}
	if err := notBefore(now, d.CreatedAt, "dataset "+d.ID+" was registered", "a contribution to it"); err != nil {
		return "", err
	}
	id, err := derivedID("cb-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, found, err := exists(stub, domain.KindContribution, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "contribution %s already exists", id)
	}
	ct := &domain.Contribution{
		ID: id, DatasetID: d.ID, Contributor: a.MSPID, Owner: d.Owner,
		Records: in.Records, Bytes: in.Bytes, SHA256: in.SHA256, At: now, By: a,
		Status: domain.ContributionPending,
	}
	// Contributor and pool owner both endorse it (its parties), and both
	// must endorse every later change: the owner's decision included.
	if err := putEntity(stub, key, ct); err != nil {
		return "", err
	}
	if err := emit(stub, contributionEvent(domain.EventContributionAdded, now, a, ct)); err != nil {
		return "", err
	}
	return result(ct)
}

// AcceptContribution accepts a pending contribution to the caller's pool;
// only the pool owner's approver may. From then on it counts in the
// contributor's score.
func (c *Contract) AcceptContribution(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decideContribution(ctx, id, input, false, domain.ContributionAccepted, domain.EventContributionAccepted)
}

// RejectContribution rejects a pending contribution, with a reason; only the
// pool owner's approver may. The rejected claim stays on the ledger.
func (c *Contract) RejectContribution(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decideContribution(ctx, id, input, true, domain.ContributionRejected, domain.EventContributionRejected)
}

func (c *Contract) decideContribution(ctx contractapi.TransactionContextInterface, id, input string, reasonRequired bool, to domain.ContributionStatus, ev domain.EventType) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var in domain.DecisionInput
	if err := decodeInput("DecisionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(reasonRequired); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	verb := map[domain.ContributionStatus]string{domain.ContributionAccepted: "accept", domain.ContributionRejected: "reject"}[to]
	a, err := authorize(ctx, domain.RoleApprover, verb+" a contribution")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var ct domain.Contribution
	key, err := mustGetEntity(stub, domain.KindContribution, id, &ct)
	if err != nil {
		return "", err
	}
	if err := requireDepartment(a, ct.Owner, verb+" contribution "+id+" (to pool "+ct.DatasetID+")"); err != nil {
		return "", err
	}
	if ct.Status != domain.ContributionPending && ct.Status != "" {
		return "", domain.Errorf(domain.CodeConflict, "contribution %s is %s; only a pending contribution can be decided", id, ct.Status)
	}
	if err := notBefore(now, ct.At, "contribution "+id+" was recorded", "its decision"); err != nil {
		return "", err
	}
	ct.Status, ct.Reason, ct.DecidedAt, ct.DecidedBy = to, in.Reason, &now, &a
	if err := updateEntity(stub, key, &ct); err != nil {
		return "", err
	}
	if err := emit(stub, contributionEvent(ev, now, a, &ct)); err != nil {
		return "", err
	}
	return result(ct)
}

// GetContribution returns one contribution.
func (c *Contract) GetContribution(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Contribution](ctx, domain.KindContribution, id)
}
