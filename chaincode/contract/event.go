package contract

import (
	"encoding/json"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// emit sets the transaction's one chaincode event. It is the last step of
// every state-changing transaction, after every check has passed and every
// write is done, so a rejected call never leaves an event behind.
func emit(stub shim.ChaincodeStubInterface, ev domain.Event) error {
	ev.Version = domain.EventVersion
	ev.Time = ev.Time.UTC()
	b, err := json.Marshal(ev)
	if err != nil {
		return internalErr("encode event", err)
	}
	if err := stub.SetEvent(string(ev.Type), b); err != nil {
		return internalErr("set event", err)
	}
	return nil
}

// The events of each kind, with the cross references every index needs.

func departmentEvent(t domain.EventType, now time.Time, a domain.Actor, d *domain.Department) domain.Event {
	return domain.Event{Type: t, Kind: domain.KindDepartment, ID: d.MSPID, Time: now, Actor: a, Department: d}
}

func datasetEvent(t domain.EventType, now time.Time, a domain.Actor, d *domain.Dataset) domain.Event {
	return domain.Event{
		Type: t, Kind: domain.KindDataset, ID: d.ID, Time: now, Actor: a, Status: string(d.Status),
		DatasetID: d.ID, Owner: d.Owner, Dataset: d,
	}
}

func requestEvent(t domain.EventType, now time.Time, a domain.Actor, r *domain.Request) domain.Event {
	return domain.Event{
		Type: t, Kind: domain.KindRequest, ID: r.ID, Time: now, Actor: a, Status: string(r.Status),
		DatasetID: r.DatasetID, RequestID: r.ID, Owner: r.Owner, Requester: r.Requester, Request: r,
	}
}

func deliveryEvent(t domain.EventType, now time.Time, a domain.Actor, d *domain.Delivery) domain.Event {
	return domain.Event{
		Type: t, Kind: domain.KindDelivery, ID: d.ID, Time: now, Actor: a, Status: string(d.Status),
		DatasetID: d.DatasetID, RequestID: d.RequestID, Owner: d.Owner, Requester: d.Requester, Delivery: d,
	}
}

func usageEvent(now time.Time, a domain.Actor, u *domain.Usage) domain.Event {
	return domain.Event{
		Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: u.ID, Time: now, Actor: a,
		DatasetID: u.DatasetID, RequestID: u.RequestID, Owner: u.Owner, Requester: u.Consumer, Usage: u,
	}
}

func contributionEvent(t domain.EventType, now time.Time, a domain.Actor, c *domain.Contribution) domain.Event {
	return domain.Event{
		Type: t, Kind: domain.KindContribution, ID: c.ID, Time: now, Actor: a, Status: string(c.Status),
		DatasetID: c.DatasetID, Owner: c.Owner, Requester: c.Contributor, Contribution: c,
	}
}

func correctionEvent(t domain.EventType, now time.Time, a domain.Actor, c *domain.Correction) domain.Event {
	return domain.Event{
		Type: t, Kind: domain.KindCorrection, ID: c.ID, Time: now, Actor: a, Status: string(c.Status),
		DatasetID: c.DatasetID, RequestID: c.RequestID, Owner: c.Owner, Requester: c.Requester, Correction: c,
	}
}

func snapshotEvent(now time.Time, a domain.Actor, s *domain.ScoreSnapshot) domain.Event {
	return domain.Event{
		Type: domain.EventScoreSnapshotPublished, Kind: domain.KindSnapshot, ID: s.Period, Time: now, Actor: a,
		Snapshot: s,
	}
}
