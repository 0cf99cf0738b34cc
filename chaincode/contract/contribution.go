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
	}
	// The contributor alone owns its claim of what it contributed.
	if err := putEntity(stub, key, ct, ct.Contributor); err != nil {
		return "", err
	}
	if err := emit(stub, contributionEvent(now, a, ct)); err != nil {
		return "", err
	}
	return result(ct)
}

// GetContribution returns one contribution.
func (c *Contract) GetContribution(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Contribution](ctx, domain.KindContribution, id)
}
