package contract

import (
	"slices"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// RecordDelivery records what the owner handed over for an approved,
// unexpired request: the content's SHA-256 and counts, never the data. Only
// the owner's operator may.
func (c *Contract) RecordDelivery(ctx contractapi.TransactionContextInterface, requestID, input string) (string, error) {
	if err := domain.CheckID("requestId", requestID); err != nil {
		return "", err
	}
	var in domain.DeliveryInput
	if err := decodeInput("DeliveryInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, "record a delivery")
	if err != nil {
		return "", err
	}
	var r domain.Request
	stub := ctx.GetStub()
	if _, err := mustGetEntity(stub, domain.KindRequest, requestID, &r); err != nil {
		return "", err
	}
	if err := requireDepartment(a, r.Owner, "deliver for request "+requestID+" (the owner of dataset "+r.DatasetID+")"); err != nil {
		return "", err
	}
	if s := r.StatusAt(now); s != domain.RequestApproved {
		return "", domain.Errorf(domain.CodeConflict, "request %s is %s, not approved", requestID, s)
	}
	// A date after validUntil is refused above, as expired.
	if err := notBefore(now, approvedAt(&r), "request "+requestID+" was approved", "a delivery"); err != nil {
		return "", err
	}
	ds, err := activeDataset(stub, r.DatasetID, "nothing more can be delivered for it")
	if err != nil {
		return "", err
	}
	if len(in.Fields) > 0 {
		// Each must be one of the dataset's; one the request did not name
		// is recorded as delivered, for the watch to flag.
		if _, err := requestedFields(*ds, in.Fields); err != nil {
			return "", err
		}
	}
	if err := checkDeliveryGrade(stub, &r, in.Records); err != nil {
		return "", err
	}
	id, err := derivedID("dl-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, found, err := exists(stub, domain.KindDelivery, id)
	if err != nil {
		return "", err
	}
	if found {
		return "", domain.Errorf(domain.CodeConflict, "delivery %s already exists", id)
	}
	d := &domain.Delivery{
		ID: id, RequestID: r.ID, DatasetID: r.DatasetID, Owner: r.Owner, Requester: r.Requester,
		SHA256: in.SHA256, Records: in.Records, Bytes: in.Bytes, Channel: in.Channel, Fields: slices.Clone(in.Fields),
		Status: domain.DeliveryDelivered, DeliveredAt: now, DeliveredBy: a,
	}
	if err := putEntity(stub, key, d); err != nil {
		return "", err
	}
	if err := emit(stub, deliveryEvent(domain.EventDeliveryRecorded, now, a, d)); err != nil {
		return "", err
	}
	return result(d)
}

// RecordReceipt records the hash the requester computed over what it
// received: the same hash marks the delivery received, a different one
// disputed. Only the requester's operator may, once, on a delivered delivery.
func (c *Contract) RecordReceipt(ctx contractapi.TransactionContextInterface, deliveryID, input string) (string, error) {
	return applyRequesterStep(ctx, deliveryID, input, requesterStep[domain.ReceiptInput]{
		what: "ReceiptInput", action: "record a receipt", noun: "a receipt", event: domain.EventDeliveryReceived,
		apply: func(d *domain.Delivery, in domain.ReceiptInput, now time.Time, a domain.Actor) error {
			if d.Status != domain.DeliveryDelivered {
				return domain.Errorf(domain.CodeConflict, "delivery %s is %s; a receipt can only be recorded for a delivered delivery", d.ID, d.Status)
			}
			d.Status = domain.DeliveryReceived
			if in.SHA256 != d.SHA256 {
				d.Status = domain.DeliveryDisputed
			}
			d.ReceiptSHA256, d.ReceivedAt, d.ReceivedBy = in.SHA256, &now, &a
			return nil
		},
	})
}

// RateDelivery records the requester's quality rating of a delivery it
// received (or disputed), once per delivery. Only the requester's operator
// may.
func (c *Contract) RateDelivery(ctx contractapi.TransactionContextInterface, deliveryID, input string) (string, error) {
	return applyRequesterStep(ctx, deliveryID, input, requesterStep[domain.FeedbackInput]{
		what: "FeedbackInput", action: "rate a delivery", noun: "a rating", event: domain.EventDeliveryRated,
		apply: func(d *domain.Delivery, in domain.FeedbackInput, now time.Time, a domain.Actor) error {
			if d.Feedback != nil {
				return domain.Errorf(domain.CodeConflict, "delivery %s was already rated", d.ID)
			}
			if d.Status != domain.DeliveryReceived && d.Status != domain.DeliveryDisputed {
				return domain.Errorf(domain.CodeConflict, "delivery %s is %s; only a received or disputed delivery can be rated", d.ID, d.Status)
			}
			d.Feedback = &domain.Feedback{
				Timeliness: in.Timeliness, Accuracy: in.Accuracy, Completeness: in.Completeness,
				Consistency: in.Consistency, Comment: in.Comment, At: now, By: a,
			}
			return nil
		},
	})
}

// RecordDestruction records that the holder of the copy, the requester,
// destroyed it. Only the requester's operator may, once.
func (c *Contract) RecordDestruction(ctx contractapi.TransactionContextInterface, deliveryID, input string) (string, error) {
	return applyRequesterStep(ctx, deliveryID, input, requesterStep[domain.DestructionInput]{
		what: "DestructionInput", action: "record a destruction", noun: "a destruction", event: domain.EventDeliveryDestroyed,
		apply: func(d *domain.Delivery, in domain.DestructionInput, now time.Time, a domain.Actor) error {
			switch d.Status {
			case domain.DeliveryDelivered, domain.DeliveryReceived, domain.DeliveryDisputed:
			default:
				return domain.Errorf(domain.CodeConflict, "delivery %s is already %s", d.ID, d.Status)
			}
			d.Status, d.DestroyedAt, d.DestroyedBy, d.DestroyMethod = domain.DeliveryDestroyed, &now, &a, in.Method
			return nil
		},
	})
}

// lastStep is the latest step recorded on a delivery and when: each
// requester step must be dated no earlier.
func lastStep(d *domain.Delivery) (string, time.Time) {
	step, at := "delivered", d.DeliveredAt
	if d.ReceivedAt != nil && d.ReceivedAt.After(at) {
		step, at = "received", *d.ReceivedAt
	}
	if d.Feedback != nil && d.Feedback.At.After(at) {
		step, at = "rated", d.Feedback.At
	}
	if d.DestroyedAt != nil && d.DestroyedAt.After(at) {
		step, at = "destroyed", *d.DestroyedAt
	}
	return step, at
}

// GetDelivery returns one delivery.
func (c *Contract) GetDelivery(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	return readEntity[domain.Delivery](ctx, domain.KindDelivery, id)
}

// requesterStep is one of the requester's operator's transitions of a
// delivery, taking an input of type T.
type requesterStep[T interface{ Validate() error }] struct {
	what   string // the input type's name, for errors
	action string // completes "role operator is required to ..."
	noun   string // "a receipt", for messages
	event  domain.EventType
	apply  func(d *domain.Delivery, in T, now time.Time, a domain.Actor) error
}

// applyRequesterStep runs a requester step in the order every transaction
// keeps: input, caller, read, rule, write, event.
func applyRequesterStep[T interface{ Validate() error }](ctx contractapi.TransactionContextInterface, deliveryID, input string, st requesterStep[T]) (string, error) {
	if err := domain.CheckID("deliveryId", deliveryID); err != nil {
		return "", err
	}
	var in T
	if err := decodeInput(st.what, input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleOperator, st.action)
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var d domain.Delivery
	key, err := mustGetEntity(stub, domain.KindDelivery, deliveryID, &d)
	if err != nil {
		return "", err
	}
	if err := requireDepartment(a, d.Requester, st.action+" for delivery "+deliveryID+" (its requester)"); err != nil {
		return "", err
	}
	prior, priorAt := lastStep(&d)
	if err := st.apply(&d, in, now, a); err != nil {
		return "", err
	}
	// After the state rules, whose messages say more; the write comes later.
	if err := notBefore(now, priorAt, "delivery "+deliveryID+" was "+prior, st.noun); err != nil {
		return "", err
	}
	if err := updateEntity(stub, key, &d); err != nil {
		return "", err
	}
	if err := emit(stub, deliveryEvent(st.event, now, a, &d)); err != nil {
		return "", err
	}
	return result(d)
}
