package contract

import (
	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// OpenCorrection reports an error in delivered data, opened by the
// delivery's requester for the owner to resolve. Only the requester's
// operator may. A delivery may have several corrections.
func (c *Contract) OpenCorrection(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.CorrectionInput
	if err := decodeInput("CorrectionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "open a correction")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Delivery
	if _, err := mustGetEntity(stub, domain.KindDelivery, in.DeliveryID, &d); err != nil {
		return "", err
	}
	if err := requireDepartment(a, d.Requester, "open a correction of delivery "+d.ID+" (its requester)"); err != nil {
		return "", err
	}
	if err := notBefore(now, d.DeliveredAt, "delivery "+d.ID+" was delivered", "a correction of it"); err != nil {
		return "", err
	}
	id, err := derivedID("cr-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, found, err := exists(stub, domain.KindCorrection, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "correction %s already exists", id)
	}
	co := &domain.Correction{
		ID: id, DeliveryID: d.ID, RequestID: d.RequestID, DatasetID: d.DatasetID,
		Requester: d.Requester, Owner: d.Owner, Description: in.Description,
		Status: domain.CorrectionOpen, OpenedAt: now, OpenedBy: a,
	}
	if err := putEntity(stub, key, co); err != nil {
		return "", err
	}
	if err := emit(stub, correctionEvent(domain.EventCorrectionOpened, now, a, co)); err != nil {
		return "", err
	}
	return result(co)
}

// ResolveCorrection closes an open correction with the owner's account of
// what was fixed. Only the owner's operator may.
func (c *Contract) ResolveCorrection(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var in domain.ResolutionInput
	if err := decodeInput("ResolutionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "resolve a correction")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var co domain.Correction
	key, err := mustGetEntity(stub, domain.KindCorrection, id, &co)
	if err != nil {
		return "", err
	}
	if err := requireDepartment(a, co.Owner, "resolve correction "+id+" (the owner of dataset "+co.DatasetID+")"); err != nil {
		return "", err
	}
	if co.Status != domain.CorrectionOpen {
		return "", domain.Errorf(domain.CodeConflict, "correction %s is already %s", id, co.Status)
	}
	if err := notBefore(now, co.OpenedAt, "correction "+id+" was opened", "its resolution"); err != nil {
		return "", err
	}
	co.Status, co.Resolution, co.ResolvedAt, co.ResolvedBy = domain.CorrectionResolved, in.Resolution, &now, &a
	if err := updateEntity(stub, key, &co); err != nil {
		return "", err
	}
	if err := emit(stub, correctionEvent(domain.EventCorrectionResolved, now, a, &co)); err != nil {
		return "", err
	}
	return result(co)
}

// GetCorrection returns one correction.
func (c *Contract) GetCorrection(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Correction](ctx, domain.KindCorrection, id)
}
