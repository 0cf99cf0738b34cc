//go:build integration

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

type request struct {
	ID         string    `json:"id"`
	DatasetID  string    `json:"datasetId"`
	Requester  string    `json:"requester"`
	Owner      string    `json:"owner"`
	Status     string    `json:"status"`
	ValidUntil time.Time `json:"validUntil"`
}

type delivery struct {
	ID        string `json:"id"`
	RequestID string `json:"requestId"`
	SHA256    string `json:"sha256"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
	Status    string `json:"status"`
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func newRequest(datasetID string) map[string]any {
	return map[string]any{
		"datasetId": datasetID, "purpose": "verify benefit eligibility", "legalBasis": "Social Assistance Regulation art. 12",
		"fields": []string{"householdId", "members"}, "validUntil": time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}
}

// TestUnconditionalPath: unconditional data is approved at once, delivered,
// received with a matching hash, used and rated, then destroyed.
func TestUnconditionalPath(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	id := uniqueID("open")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))

	var rq struct {
		Request request `json:"request"`
	}
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	if rq.Request.Status != "approved" || rq.Request.Owner != "Dept1MSP" || rq.Request.Requester != "Dept2MSP" {
		t.Fatalf("request = %+v, want approved at once", rq.Request)
	}

	content := "household rows " + id
	var dl struct {
		Delivery delivery `json:"delivery"`
	}
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(content), "records": 120, "bytes": 4096, "channel": "sftp"}).json(t, &dl)
	if dl.Delivery.Status != "delivered" || dl.Delivery.Records != 120 {
		t.Fatalf("delivery = %+v", dl.Delivery)
	}
	var rc struct {
		Delivery delivery `json:"delivery"`
	}
	// The delivery was written through the owner's gateway: wait until the
	// consumer's department has it before acting on it there.
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/receipt", map[string]any{"sha256": sha(content)}).json(t, &rc)
	if rc.Delivery.Status != "received" {
		t.Fatalf("receipt with the same hash: status %s, want received", rc.Delivery.Status)
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 3, "records": 60})
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/feedback",
		map[string]any{"timeliness": 5, "accuracy": 4, "completeness": 4, "consistency": 5, "comment": "complete"})
	// Feedback is once per delivery.
	if c := consumer.must(http.StatusConflict, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/feedback",
		map[string]any{"timeliness": 1, "accuracy": 1, "completeness": 1, "consistency": 1}).errorCode(t); c != "conflict" {
		t.Errorf("second feedback: code %s", c)
	}
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/destruction", map[string]any{"method": "secure erase"}).json(t, &rc)
	if rc.Delivery.Status != "destroyed" {
		t.Fatalf("after destruction: %s", rc.Delivery.Status)
	}
}

// TestConditionalPath: conditional data waits for the owner's approver; a
// rejection needs a reason; an approved request can be delivered and
// revoked; a revoked request cannot be delivered.
func TestConditionalPath(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	approver := shared.as(t, "Dept1MSP", "approver")
	consumer := shared.as(t, "Dept3MSP", "operator")
	id := uniqueID("cond")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })

	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	if rq.Request.Status != "pending" {
		t.Fatalf("conditional request status %s, want pending", rq.Request.Status)
	}
	path := "/v1/requests/" + rq.Request.ID
	eventually(t, 10*time.Second, func() error { return statusIs(approver, path, http.StatusOK) })
	// Delivery before approval is refused.
	owner.must(http.StatusConflict, http.MethodPost, path+"/deliveries", map[string]any{"sha256": sha("x"), "records": 1, "bytes": 1, "channel": "sftp"})
	// The requester cannot approve its own request.
	shared.as(t, "Dept3MSP", "approver").must(http.StatusForbidden, http.MethodPost, path+"/approve", map[string]any{"reason": "self"})
	approver.must(http.StatusOK, http.MethodPost, path+"/approve", map[string]any{"reason": "legal basis checked"}).json(t, &rq)
	if rq.Request.Status != "approved" {
		t.Fatalf("after approve: %s", rq.Request.Status)
	}
	owner.must(http.StatusCreated, http.MethodPost, path+"/deliveries", map[string]any{"sha256": sha("rows"), "records": 10, "bytes": 100, "channel": "api"})
	approver.must(http.StatusOK, http.MethodPost, path+"/revoke", map[string]any{"reason": "purpose fulfilled"}).json(t, &rq)
	if rq.Request.Status != "revoked" {
		t.Fatalf("after revoke: %s", rq.Request.Status)
	}
	owner.must(http.StatusConflict, http.MethodPost, path+"/deliveries", map[string]any{"sha256": sha("rows"), "records": 10, "bytes": 100, "channel": "api"})

	// A second request, rejected: a reason is required.
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	path = "/v1/requests/" + rq.Request.ID
	eventually(t, 10*time.Second, func() error { return statusIs(approver, path, http.StatusOK) })
	approver.must(http.StatusBadRequest, http.MethodPost, path+"/reject", map[string]any{"reason": ""})
	approver.must(http.StatusOK, http.MethodPost, path+"/reject", map[string]any{"reason": "no legal basis for grade 2 data"}).json(t, &rq)
	if rq.Request.Status != "rejected" {
		t.Fatalf("after reject: %s", rq.Request.Status)
	}
	approver.must(http.StatusConflict, http.MethodPost, path+"/approve", map[string]any{"reason": "changed my mind"})
}

// TestDisputedReceipt: a receipt whose hash differs from the delivered one
// marks the delivery disputed.
func TestDisputedReceipt(t *testing.T) {
	owner := shared.as(t, "Dept2MSP", "operator")
	consumer := shared.as(t, "BureauMSP", "operator")
	id := uniqueID("disp")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	var dl struct {
		Delivery delivery `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha("what was sent"), "records": 5, "bytes": 50, "channel": "sftp"}).json(t, &dl)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/receipt", map[string]any{"sha256": sha("what arrived")}).json(t, &dl)
	if dl.Delivery.Status != "disputed" {
		t.Fatalf("receipt with another hash: status %s, want disputed", dl.Delivery.Status)
	}
}

// TestApprovalRace: two approvals of the same pending request at once:
// exactly one wins, the other gets a conflict, and the request is approved once.
func TestApprovalRace(t *testing.T) {
	owner := shared.as(t, "Dept3MSP", "operator")
	approver := shared.as(t, "Dept3MSP", "approver")
	consumer := shared.as(t, "Dept1MSP", "operator")
	id := uniqueID("race")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	path := "/v1/requests/" + rq.Request.ID
	eventually(t, 10*time.Second, func() error { return statusIs(approver, path, http.StatusOK) })

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = approver.do(http.MethodPost, path+"/approve", map[string]any{"reason": "race"}).status
		}(i)
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	if ok != 1 || conflict != 1 {
		t.Fatalf("statuses %v: want one 200 and one 409", statuses)
	}
	var got request
	approver.must(http.StatusOK, http.MethodGet, path+"?source=ledger", nil).json(t, &got)
	if got.Status != "approved" {
		t.Fatalf("request after the race: %s", got.Status)
	}
}

func statusIs(p *person, path string, want int) error {
	r := p.do(http.MethodGet, path, nil)
	if r.status != want {
		return &statusError{path: path, got: r.status, body: string(r.body)}
	}
	return nil
}

type statusError struct {
	path string
	got  int
	body string
}

func (e *statusError) Error() string {
	return e.path + ": status " + http.StatusText(e.got) + ": " + e.body
}

// TestMinBlockAcrossGateways: the consumer's receipt goes to its own
// gateway right after the owner's delivery committed through another one;
// with X-Min-Block set to the delivery's block, it is served only once the
// consumer's department has that block, and succeeds at the first try.
func TestMinBlockAcrossGateways(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept3MSP", "operator")
	id := uniqueID("minblock")
	var ds struct {
		BlockNumber uint64 `json:"blockNumber"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional")).json(t, &ds)
	var rq struct {
		BlockNumber uint64  `json:"blockNumber"`
		Request     request `json:"request"`
	}
	r := consumer.send(http.MethodPost, "/v1/requests", consumer.minBlock(ds.BlockNumber), newRequest(id))
	if r.status != http.StatusCreated {
		t.Fatalf("request after the dataset's block: %d %s", r.status, r.body)
	}
	r.json(t, &rq)
	var dl struct {
		BlockNumber uint64   `json:"blockNumber"`
		Delivery    delivery `json:"delivery"`
	}
	r = owner.send(http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries", owner.minBlock(rq.BlockNumber),
		map[string]any{"sha256": sha(id), "records": 3, "bytes": 30, "channel": "sftp"})
	if r.status != http.StatusCreated {
		t.Fatalf("delivery after the request's block: %d %s", r.status, r.body)
	}
	r.json(t, &dl)
	r = consumer.send(http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/receipt", consumer.minBlock(dl.BlockNumber),
		map[string]any{"sha256": sha(id)})
	if r.status != http.StatusOK {
		t.Fatalf("receipt after the delivery's block: %d %s", r.status, r.body)
	}
	if r := consumer.send(http.MethodGet, "/v1/datasets", map[string]string{"X-Min-Block": "x", "Authorization": "Bearer " + consumer.token}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("X-Min-Block x: %d", r.status)
	}
}

// minBlock is the headers of a call made after block n: the person's token
// and X-Min-Block.
func (p *person) minBlock(n uint64) map[string]string {
	return map[string]string{"Authorization": "Bearer " + p.token, "X-Min-Block": fmt.Sprint(n)}
}
