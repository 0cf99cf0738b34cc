//go:build integration

package e2e

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// world is a set of records in every state the error tests need, owned by
// Dept1MSP and requested by Dept2MSP. It is built once per test binary, with
// fresh IDs, through the REST gateways as the right people.
type world struct {
	dsConditional, dsOpen, dsNotShared, dsRetired string
	dsChild                                       string // derived from dsConditional
	rqPending, rqApproved, rqRejected, rqRevoked  string
	dlDelivered, dlReceived, dlDestroyed          string
	crOpen, crResolved                            string
	// rqExpiring is approved at once and expires a few seconds after it is made.
	rqExpiring string
	expiresAt  time.Time
}

var (
	worldOnce sync.Once
	theWorld  *world
)

// fixtures returns the shared world, building it on first use.
func fixtures(t *testing.T) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld = buildWorld(t) })
	if theWorld == nil {
		t.Fatal("the shared fixtures could not be built (see the first test that asked for them)")
	}
	return theWorld
}

func buildWorld(t *testing.T) *world {
	t.Helper()
	v := newLedgerView(t)
	owner := shared.as(t, "Dept1MSP", "operator")
	approver := shared.as(t, "Dept1MSP", "approver")
	consumer := shared.as(t, "Dept2MSP", "operator")
	w := &world{
		dsConditional: uniqueID("w-cond"), dsOpen: uniqueID("w-open"),
		dsNotShared: uniqueID("w-none"), dsRetired: uniqueID("w-retired"),
	}
	for id, share := range map[string]string{w.dsConditional: "conditional", w.dsOpen: "unconditional", w.dsNotShared: "none", w.dsRetired: "conditional"} {
		owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, share))
	}
	owner.must(http.StatusOK, http.MethodPost, "/v1/datasets/"+w.dsRetired+"/retire", map[string]any{"reason": "superseded"})
	w.dsChild = uniqueID("w-child")
	child := newDataset(w.dsChild, "conditional")
	child["derivedFrom"] = []string{w.dsConditional}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", child)
	v.settle()

	// Expiry is judged by the clock: the request must be made before its
	// validUntil passes, and the tests that need it expired wait for that.
	w.expiresAt = time.Now().UTC().Add(4 * time.Second).Truncate(time.Second)
	expiring := newRequest(w.dsOpen)
	expiring["validUntil"] = w.expiresAt.Format(time.RFC3339)
	var out struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", expiring).json(t, &out)
	if out.Request.Status != "approved" {
		t.Fatalf("request of unconditional data: %s, want approved", out.Request.Status)
	}
	w.rqExpiring = out.Request.ID

	w.rqPending = createRequest(t, consumer, w.dsConditional).ID
	w.rqRejected = createRequest(t, consumer, w.dsConditional).ID
	w.rqApproved = createRequest(t, consumer, w.dsOpen).ID
	w.rqRevoked = createRequest(t, consumer, w.dsOpen).ID
	v.settle()
	approver.must(http.StatusOK, http.MethodPost, "/v1/requests/"+w.rqRejected+"/reject", map[string]any{"reason": "no legal basis"})
	approver.must(http.StatusOK, http.MethodPost, "/v1/requests/"+w.rqRevoked+"/revoke", map[string]any{"reason": "purpose fulfilled"})

	w.dlDelivered = deliver(t, owner, w.rqApproved, "delivered rows").ID
	w.dlReceived = deliver(t, owner, w.rqApproved, "received rows").ID
	w.dlDestroyed = deliver(t, owner, w.rqApproved, "destroyed rows").ID
	v.settle()
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+w.dlReceived+"/receipt", map[string]any{"sha256": sha("received rows")})
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+w.dlDestroyed+"/destruction", map[string]any{"method": "secure erase"})

	w.crOpen = openCorrection(t, consumer, w.dlReceived, "district codes are shifted by one").ID
	w.crResolved = openCorrection(t, consumer, w.dlReceived, "two households are duplicated").ID
	v.settle()
	owner.must(http.StatusOK, http.MethodPost, "/v1/corrections/"+w.crResolved+"/resolve", map[string]any{"resolution": "duplicates removed in version 2"})
	v.indexed()
	return w
}

type correction struct {
	ID          string `json:"id"`
	DeliveryID  string `json:"deliveryId"`
	RequestID   string `json:"requestId"`
	DatasetID   string `json:"datasetId"`
	Requester   string `json:"requester"`
	Owner       string `json:"owner"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Resolution  string `json:"resolution"`
}

// createRequest asks for datasetID as p and returns the new request.
func createRequest(t *testing.T, p *person, datasetID string) request {
	t.Helper()
	var out struct {
		Request request `json:"request"`
	}
	p.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(datasetID)).json(t, &out)
	if out.Request.ID == "" {
		t.Fatalf("request answer without an ID")
	}
	return out.Request
}

// deliver records a delivery of content for requestID as p.
func deliver(t *testing.T, p *person, requestID, content string) delivery {
	t.Helper()
	var out struct {
		Delivery delivery `json:"delivery"`
	}
	p.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+requestID+"/deliveries",
		map[string]any{"sha256": sha(content), "records": 10, "bytes": 1000, "channel": "sftp"}).json(t, &out)
	if out.Delivery.ID == "" {
		t.Fatalf("delivery answer without an ID")
	}
	return out.Delivery
}

// openCorrection opens a correction on deliveryID as p.
func openCorrection(t *testing.T, p *person, deliveryID, description string) correction {
	t.Helper()
	var out struct {
		Correction correction `json:"correction"`
	}
	p.must(http.StatusCreated, http.MethodPost, "/v1/corrections", map[string]any{"deliveryId": deliveryID, "description": description}).json(t, &out)
	if out.Correction.ID == "" {
		t.Fatalf("correction answer without an ID")
	}
	return out.Correction
}
