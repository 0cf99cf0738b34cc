package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventVersion is the version of the chaincode event payload. It changes
// only when a field changes meaning or goes away; new fields keep it.
const EventVersion = 1

// EventType names what happened. It is also the Fabric chaincode event name.
type EventType string

// The event types: one per state-changing transaction.
const (
	EventDepartmentUpdated      EventType = "department.updated"
	EventDatasetRegistered      EventType = "dataset.registered"
	EventDatasetUpdated         EventType = "dataset.updated"
	EventDatasetRetired         EventType = "dataset.retired"
	EventRequestCreated         EventType = "request.created" // status pending, or approved for unconditional data
	EventRequestApproved        EventType = "request.approved"
	EventRequestRejected        EventType = "request.rejected"
	EventRequestRevoked         EventType = "request.revoked"
	EventRequestCoApproved      EventType = "request.coApproved" // a bureau's co-approval, where the grade rule requires it; still pending
	EventDeliveryRecorded       EventType = "delivery.recorded"
	EventDeliveryReceived       EventType = "delivery.received" // status received or disputed
	EventDeliveryRated          EventType = "delivery.rated"
	EventDeliveryDestroyed      EventType = "delivery.destroyed"
	EventUsageRecorded          EventType = "usage.recorded"
	EventContributionAdded      EventType = "contribution.recorded" // status pending
	EventContributionAccepted   EventType = "contribution.accepted" // by the pool's owner: it counts from now
	EventContributionRejected   EventType = "contribution.rejected"
	EventCorrectionOpened       EventType = "correction.opened"
	EventCorrectionResolved     EventType = "correction.resolved"
	EventScoreSnapshotPublished EventType = "score.published"
)

// Kind names the kind of entity an event is about.
type Kind string

// The entity kinds.
const (
	KindDepartment   Kind = "department"
	KindDataset      Kind = "dataset"
	KindRequest      Kind = "request"
	KindDelivery     Kind = "delivery"
	KindUsage        Kind = "usage"
	KindContribution Kind = "contribution"
	KindCorrection   Kind = "correction"
	KindSnapshot     Kind = "snapshot"
)

// Event is the payload of the one chaincode event each state-changing
// transaction emits. It carries the entity's whole new state, so the indexer
// never has to query the ledger back. The transaction ID, block number and
// validation code come from the block that holds it, not from here.
type Event struct {
	Version int       `json:"v"`
	Type    EventType `json:"type"`
	Kind    Kind      `json:"kind"`
	ID      string    `json:"id"`               // the entity's ID (the MSP ID for a department, the period for a snapshot)
	Time    time.Time `json:"time"`             // the transaction timestamp
	Actor   Actor     `json:"actor"`            // who signed the transaction
	Status  string    `json:"status,omitempty"` // the entity's new status, where it has one

	// Cross references, so every index can be built from the event alone.
	DatasetID string `json:"datasetId,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Owner     string `json:"owner,omitempty"`     // owner department of the dataset involved
	Requester string `json:"requester,omitempty"` // consuming or contributing department

	// Exactly one of these holds the entity's new state.
	Department     *Department       `json:"department,omitempty"`
	Dataset        *Dataset          `json:"dataset,omitempty"`
	Request        *Request          `json:"request,omitempty"`
	Delivery       *Delivery         `json:"delivery,omitempty"`
	Usage          *Usage            `json:"usage,omitempty"`
	Contribution   *Contribution     `json:"contribution,omitempty"`
	Correction     *Correction       `json:"correction,omitempty"`
	Snapshot       *ScoreSnapshot    `json:"snapshot,omitempty"`
	Attestation    *ScoreAttestation `json:"attestation,omitempty"`
	Policy         *Policy           `json:"policy,omitempty"`
	PolicyProposal *PolicyProposal   `json:"policyProposal,omitempty"`
	PolicyApproval *PolicyApproval   `json:"policyApproval,omitempty"`
}

// DecodeEvent parses an event payload and checks that this code understands its version.
func DecodeEvent(payload []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if e.Version < 1 || e.Version > EventVersion {
		return nil, fmt.Errorf("event version %d is not supported (this build reads up to %d)", e.Version, EventVersion)
	}
	if e.Type == "" || e.Kind == "" || e.ID == "" {
		return nil, fmt.Errorf("event lacks type, kind or id")
	}
	return &e, nil
}

// Entity is the new state the event carries, as its kind says, or nil for
// an unknown kind.
func (e *Event) Entity() any {
	switch e.Kind {
	case KindDepartment:
		return e.Department
	case KindDataset:
		return e.Dataset
	case KindRequest:
		return e.Request
	case KindDelivery:
		return e.Delivery
	case KindUsage:
		return e.Usage
	case KindContribution:
		return e.Contribution
	case KindCorrection:
		return e.Correction
	case KindSnapshot:
		return e.Snapshot
	case KindAttestation:
		return e.Attestation
	case KindPolicy:
		return e.Policy
	case KindPolicyProposal:
		return e.PolicyProposal
	case KindPolicyApproval:
		return e.PolicyApproval
	}
	return nil
}
