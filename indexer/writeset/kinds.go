package writeset

import (
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
)

// eventTypes are the event types of each kind, as chaincode/EVENTS.md lists
// them. A type not listed here is taken for its kind when it starts with
// the kind's name and a dot (a type added to the contract later); a listed
// type is only ever its own kind's.
var eventTypes = map[domain.EventType]domain.Kind{
	domain.EventDepartmentUpdated:      domain.KindDepartment,
	domain.EventDatasetRegistered:      domain.KindDataset,
	domain.EventDatasetUpdated:         domain.KindDataset,
	domain.EventDatasetRetired:         domain.KindDataset,
	domain.EventRequestCreated:         domain.KindRequest,
	domain.EventRequestApproved:        domain.KindRequest,
	domain.EventRequestRejected:        domain.KindRequest,
	domain.EventRequestRevoked:         domain.KindRequest,
	domain.EventRequestCoApproved:      domain.KindRequest,
	domain.EventDeliveryRecorded:       domain.KindDelivery,
	domain.EventDeliveryReceived:       domain.KindDelivery,
	domain.EventDeliveryRated:          domain.KindDelivery,
	domain.EventDeliveryDestroyed:      domain.KindDelivery,
	domain.EventUsageRecorded:          domain.KindUsage,
	domain.EventContributionAdded:      domain.KindContribution,
	domain.EventContributionAccepted:   domain.KindContribution,
	domain.EventContributionRejected:   domain.KindContribution,
	domain.EventCorrectionOpened:       domain.KindCorrection,
	domain.EventCorrectionResolved:     domain.KindCorrection,
	domain.EventScoreSnapshotPublished: domain.KindSnapshot,
}

// typeOf reports whether an event of type t can be about an entity of kind k.
func typeOf(k domain.Kind, t domain.EventType) bool {
	if kind, ok := eventTypes[t]; ok {
		return kind == k
	}
	return strings.HasPrefix(string(t), string(k)+".")
}

// RefsOf are the cross references of an entity, as the contract's event
// of it states them (chaincode/contract/event.go); ok is false for a kind
// this build does not know, whose references it cannot check.
func RefsOf(r domain.Record) (refs Refs, ok bool) {
	switch v := r.(type) {
	case *domain.Department, *domain.ScoreSnapshot, *domain.ScoreAttestation, *domain.Policy, *domain.PolicyProposal, *domain.PolicyApproval:
		return Refs{}, true
	case *domain.Dataset:
		return Refs{Status: string(v.Status), DatasetID: v.ID, Owner: v.Owner}, true
	case *domain.Request:
		return Refs{Status: string(v.Status), DatasetID: v.DatasetID, RequestID: v.ID, Owner: v.Owner, Requester: v.Requester}, true
	case *domain.Delivery:
		return Refs{Status: string(v.Status), DatasetID: v.DatasetID, RequestID: v.RequestID, Owner: v.Owner, Requester: v.Requester}, true
	case *domain.Usage:
		return Refs{DatasetID: v.DatasetID, RequestID: v.RequestID, Owner: v.Owner, Requester: v.Consumer}, true
	case *domain.Contribution:
		return Refs{Status: string(v.Status), DatasetID: v.DatasetID, Owner: v.Owner, Requester: v.Contributor}, true
	case *domain.Correction:
		return Refs{Status: string(v.Status), DatasetID: v.DatasetID, RequestID: v.RequestID, Owner: v.Owner, Requester: v.Requester}, true
	}
	return Refs{}, false
}
