package contract

import (
	"fmt"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// autoApprovalReason is recorded on requests for unconditionally shared
// data, which no approver decides.
const autoApprovalReason = "approved at once: the dataset is shared unconditionally"

// CreateRequest asks for another department's active, shared dataset.
// Unconditionally shared data is approved at once; conditionally shared data
// waits for the owner's approver. The request names only fields the dataset
// has; no fields means all of them, recorded explicitly.
func (c *Contract) CreateRequest(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.RequestInput
	if err := decodeInput("RequestInput", input, &in); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	if err := in.Validate(now); err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "request a dataset")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Dataset
	if _, err := mustGetEntity(stub, domain.KindDataset, in.DatasetID, &d); err != nil {
		return "", err
	}
	if d.Owner == a.MSPID {
		return "", domain.Errorf(domain.CodeInvalid, "dataset %s belongs to %s; a department cannot request its own data", d.ID, d.Owner)
	}
	if d.Status != domain.DatasetActive {
		return "", domain.Errorf(domain.CodeConflict, "dataset %s is %s; only an active dataset can be requested", d.ID, d.Status)
	}
	if d.ShareType == domain.ShareNone {
		return "", domain.Errorf(domain.CodeForbidden, "dataset %s is not shared", d.ID)
	}
	if err := notBefore(now, d.UpdatedAt, fmt.Sprintf("dataset %s version %d was published", d.ID, d.Version), "a request for it"); err != nil {
		return "", err
	}
	coApprovers, err := checkRequestGrade(stub, d, in, a.MSPID, now)
	if err != nil {
		return "", err
	}
	fields, err := requestedFields(d, in.Fields)
	if err != nil {
		return "", err
	}
	id, err := derivedID("rq-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, found, err := exists(stub, domain.KindRequest, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "request %s already exists", id)
	}
	r := &domain.Request{
		ID: id, DatasetID: d.ID, DatasetVersion: d.Version, Requester: a.MSPID, Owner: d.Owner,
		Fields: fields, Purpose: in.Purpose, LegalBasis: in.LegalBasis, ValidUntil: in.ValidUntil.UTC(),
		Status: domain.RequestPending, CreatedAt: now, CreatedBy: a, CoApprovers: coApprovers,
	}
	if d.ShareType == domain.ShareUnconditional {
		decided := now
		r.Status, r.DecidedAt, r.Reason = domain.RequestApproved, &decided, autoApprovalReason
	}
	if err := putEntity(stub, key, r); err != nil {
		return "", err
	}
	if err := emit(stub, requestEvent(domain.EventRequestCreated, now, a, r)); err != nil {
		return "", err
	}
	return result(r)
}

// ApproveRequest approves a pending request; only the owner's approver may,
// and only before the request's period has ended. The reason is optional.
func (c *Contract) ApproveRequest(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decide(ctx, id, input, decision{
		action: "approve", noun: "an approval", required: false, activeDataset: true, event: domain.EventRequestApproved,
		apply: func(stub shim.ChaincodeStubInterface, r *domain.Request, now time.Time, a domain.Actor, reason string) error {
			if r.Status != domain.RequestPending {
				return domain.Errorf(domain.CodeConflict, "request %s is %s; only a pending request can be approved", r.ID, r.Status)
			}
			if !now.Before(r.ValidUntil) {
				return domain.Errorf(domain.CodeConflict, "request %s expired at %s; it can no longer be approved", r.ID, r.ValidUntil.Format(time.RFC3339))
			}
			if err := checkApprovalGrade(stub, r, a, now); err != nil {
				return err
			}
			r.Status, r.DecidedAt, r.DecidedBy, r.Reason = domain.RequestApproved, &now, &a, reason
			return nil
		},
	})
}

// RejectRequest rejects a pending request with a reason; only the owner's
// approver may.
func (c *Contract) RejectRequest(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decide(ctx, id, input, decision{
		action: "reject", noun: "a rejection", required: true, event: domain.EventRequestRejected,
		apply: func(stub shim.ChaincodeStubInterface, r *domain.Request, now time.Time, a domain.Actor, reason string) error {
			if r.Status != domain.RequestPending {
				return domain.Errorf(domain.CodeConflict, "request %s is %s; only a pending request can be rejected", r.ID, r.Status)
			}
			r.Status, r.DecidedAt, r.DecidedBy, r.Reason = domain.RequestRejected, &now, &a, reason
			return nil
		},
	})
}

// RevokeRequest withdraws an approval that has not expired, with a reason;
// only the owner's approver may.
func (c *Contract) RevokeRequest(ctx contractapi.TransactionContextInterface, id, input string) (string, error) {
	return c.decide(ctx, id, input, decision{
		action: "revoke", noun: "a revocation", required: true, event: domain.EventRequestRevoked,
		apply: func(stub shim.ChaincodeStubInterface, r *domain.Request, now time.Time, a domain.Actor, reason string) error {
			if s := r.StatusAt(now); s != domain.RequestApproved {
				return domain.Errorf(domain.CodeConflict, "request %s is %s; only an approved, unexpired request can be revoked", r.ID, s)
			}
			if err := notBefore(now, approvedAt(r), "request "+r.ID+" was approved", "a revocation"); err != nil {
				return err
			}
			r.Status, r.RevokedAt, r.RevokedBy, r.Reason = domain.RequestRevoked, &now, &a, reason
			return nil
		},
	})
}

// GetRequest returns one request. An approved request past its validUntil
// is reported as expired, judged at the query's transaction time; the
// stored record keeps "approved", since expiry is never written.
func (c *Contract) GetRequest(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	var r domain.Request
	if _, err := mustGetEntity(ctx.GetStub(), domain.KindRequest, id, &r); err != nil {
		return "", err
	}
	r.Status = r.StatusAt(now)
	return result(r)
}

// decision is one of an approver's transitions of a request: the owner's
// approver's, or, for a co-approval, a bureau's (caller).
type decision struct {
	action        string // approve, reject, revoke
	noun          string // "an approval", for messages
	required      bool   // whether a reason is required
	activeDataset bool   // whether the dataset must still be active
	event         domain.EventType
	// caller checks who may decide; nil: the owner's approver only.
	caller func(stub shim.ChaincodeStubInterface, a domain.Actor, r *domain.Request) error
	// anchor: the transaction writes the caller's department's anchor, so
	// its own peer endorses it though the request does not name it.
	anchor bool
	apply  func(stub shim.ChaincodeStubInterface, r *domain.Request, now time.Time, a domain.Actor, reason string) error
}

func (c *Contract) decide(ctx contractapi.TransactionContextInterface, id, input string, dc decision) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	var in domain.DecisionInput
	if err := decodeInput("DecisionInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(dc.required); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleApprover, dc.action+" a request")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var r domain.Request
	key, err := mustGetEntity(stub, domain.KindRequest, id, &r)
	if err != nil {
		return "", err
	}
	if dc.caller != nil {
		err = dc.caller(stub, a, &r)
	} else {
		err = requireDepartment(a, r.Owner, dc.action+" request "+id+" (the owner of dataset "+r.DatasetID+")")
	}
	if err != nil {
		return "", err
	}
	if err := notBefore(now, r.CreatedAt, "request "+id+" was created", dc.noun); err != nil {
		return "", err
	}
	if dc.activeDataset {
		if err := requireActiveDataset(stub, r.DatasetID, "a request for it can no longer be approved"); err != nil {
			return "", err
		}
	}
	if err := dc.apply(stub, &r, now, a, in.Reason); err != nil {
		return "", err
	}
	if err := updateEntity(stub, key, &r); err != nil {
		return "", err
	}
	if dc.anchor {
		if err := writeAnchors(stub, []string{a.MSPID}); err != nil {
			return "", err
		}
	}
	if err := emit(stub, requestEvent(dc.event, now, a, &r)); err != nil {
		return "", err
	}
	return result(r)
}

// approvedAt is when an approved request was approved. Every approval
// records DecidedAt; a record without one is dated by its creation, the
// earliest an approval can have been.
func approvedAt(r *domain.Request) time.Time {
	if r.DecidedAt != nil {
		return *r.DecidedAt
	}
	return r.CreatedAt
}

// requireActiveDataset reads the dataset a request is for and refuses a
// retired one: what then must not happen completes the message.
func requireActiveDataset(stub shim.ChaincodeStubInterface, id, then string) error {
	_, err := activeDataset(stub, id, then)
	return err
}

// activeDataset reads a dataset that must be active; then says what its
// being retired forbids.
func activeDataset(stub shim.ChaincodeStubInterface, id, then string) (*domain.Dataset, error) {
	var d domain.Dataset
	if _, err := mustGetEntity(stub, domain.KindDataset, id, &d); err != nil {
		return nil, err
	}
	if d.Status != domain.DatasetActive {
		return nil, domain.Errorf(domain.CodeConflict, "dataset %s is %s; %s", d.ID, d.Status, then)
	}
	return &d, nil
}

// requestedFields checks that every requested field is one of the dataset's;
// none requested means all of them.
func requestedFields(d domain.Dataset, fields []string) ([]string, error) {
	if len(fields) == 0 {
		return append([]string{}, d.Fields...), nil
	}
	has := make(map[string]bool, len(d.Fields))
	for _, f := range d.Fields {
		has[f] = true
	}
	for _, f := range fields {
		if !has[f] {
			return nil, domain.Errorf(domain.CodeInvalid, "field %q is not a field of dataset %s", f, d.ID)
		}
	}
	return append([]string{}, fields...), nil
}
