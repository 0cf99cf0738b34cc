//go:build integration

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/gateway/notify"
)

// The windows the test sets on grade 2 data: the policy's days, to the
// second.
const findingWindow = 6 * time.Second

// The spike rule the test sets: periods of 4 s; a spike is 3 or more
// requests above mean + 1 sd of the periods before, once 2 are known.
const (
	spikePeriod = 4 * time.Second
	spikeBurst  = 6
)

var testSpike = struct {
	PeriodHours float64 `json:"periodHours"`
	Min         int64   `json:"min"`
	Sigmas      float64 `json:"sigmas"`
	Periods     int     `json:"periods"`
	History     int     `json:"history"`
}{spikePeriod.Hours(), 3, 1, 6, 2}

// webhook is a test receiver: it checks every post's HMAC and keeps the
// deliveries it took, in order.
type webhook struct {
	mu     sync.Mutex
	secret []byte
	got    []notify.Payload
	bad    []string
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := notify.Verify(h.secret, r.Header.Get(notify.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		h.bad = append(h.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.Delivery != r.Header.Get(notify.HeaderDelivery) {
		h.bad = append(h.bad, "payload "+string(body))
	}
	h.got = append(h.got, p)
}

func (h *webhook) deliveries() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.got {
		out = append(out, p.Delivery)
	}
	return out
}

type finding struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	State          string `json:"state"`
	Department     string `json:"department"`
	DeliveryID     string `json:"deliveryId"`
	RequestID      string `json:"requestId"`
	CorrectionID   string `json:"correctionId"`
	Records        int64  `json:"records"`
	ChangedAtBlock uint64 `json:"changedAtBlock"`
	Evidence       []struct {
		TxID  string `json:"txId"`
		Block uint64 `json:"blockNumber"`
		Type  string `json:"type"`
	} `json:"evidence"`
	ClosedBy *struct {
		TxID string `json:"txId"`
		Type string `json:"type"`
	} `json:"closedBy"`
}

// TestEarlyWarningFindings drives every finding through the real network
// (but use after the end, which the contract refuses, as the test checks;
// a coalition writes one in network/attack's
// TestWatchCatchesACoalitionsUseAfterTheEnd) under windows of a few seconds and a
// spike rule of 4-second periods, set by a policy proposal that a majority
// of admins approve: each appears on every
// department's indexer with the same content, closes when the missing
// transaction arrives, and reaches Dept2's webhook, signed, once per change.
func TestEarlyWarningFindings(t *testing.T) {
	restore := shortenWindows(t)
	t.Cleanup(restore)
	hook := startWebhook(t, "Dept2MSP")

	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	id := uniqueID("watch")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	req := newRequest(id)
	req["validUntil"] = time.Now().UTC().Add(40 * time.Second).Format(time.RFC3339)
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", req).json(t, &rq)
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	var dl struct {
		Delivery delivery `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(id), "records": 10, "bytes": 100, "channel": "api"}).json(t, &dl)

	// More records used than delivered: open at once.
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 1, "records": 25})
	over := awaitFinding(t, auditor, "overuse", "Dept2MSP", func(f finding) bool { return f.RequestID == rq.Request.ID }, "open")
	if over.Records != 15 {
		t.Errorf("overuse records = %d, want 15", over.Records)
	}

	// No receipt within the window: open once a later block's time passes
	// it; closed by the receipt.
	time.Sleep(findingWindow)
	tick(t)
	overdue := awaitFinding(t, auditor, "receipt-overdue", "Dept2MSP", func(f finding) bool { return f.DeliveryID == dl.Delivery.ID }, "open")
	if len(overdue.Evidence) == 0 || overdue.Evidence[0].Type != "delivery.recorded" {
		t.Errorf("receipt-overdue evidence = %+v", overdue.Evidence)
	}
	sameEverywhere(t, overdue.ID)
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/receipt", map[string]any{"sha256": sha(id)})
	closed := awaitFinding(t, auditor, "receipt-overdue", "Dept2MSP", func(f finding) bool { return f.DeliveryID == dl.Delivery.ID }, "closed")
	if closed.ClosedBy == nil || closed.ClosedBy.Type != "delivery.received" {
		t.Errorf("closed by %+v, want the receipt", closed.ClosedBy)
	}

	// The overuse closes with the delivery that covers it.
	var dl2 struct {
		Delivery delivery `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(id + "2"), "records": 20, "bytes": 200, "channel": "api"}).json(t, &dl2)
	awaitFinding(t, auditor, "overuse", "Dept2MSP", func(f finding) bool { return f.ID == over.ID }, "closed")
	sameEverywhere(t, over.ID)

	// The second delivery is disputed (its hash differs) and corrected: a
	// dispute and a correction left unanswered beyond the window, then one
	// resolution answers both.
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl2.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl2.Delivery.ID+"/receipt", map[string]any{"sha256": sha("not what was sent")})
	var cr struct {
		Correction struct {
			ID string `json:"id"`
		} `json:"correction"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/corrections", map[string]any{"deliveryId": dl2.Delivery.ID, "description": "district codes wrong"}).json(t, &cr)
	time.Sleep(findingWindow)
	tick(t)
	awaitFinding(t, auditor, "dispute-open", "Dept1MSP", func(f finding) bool { return f.DeliveryID == dl2.Delivery.ID }, "open")
	awaitFinding(t, auditor, "correction-overdue", "Dept1MSP", func(f finding) bool { return f.CorrectionID == cr.Correction.ID }, "open")
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/corrections/"+cr.Correction.ID, http.StatusOK) })
	owner.must(http.StatusOK, http.MethodPost, "/v1/corrections/"+cr.Correction.ID+"/resolve", map[string]any{"resolution": "fixed in v2"})
	awaitFinding(t, auditor, "correction-overdue", "Dept1MSP", func(f finding) bool { return f.CorrectionID == cr.Correction.ID }, "closed")
	disp := awaitFinding(t, auditor, "dispute-open", "Dept1MSP", func(f finding) bool { return f.DeliveryID == dl2.Delivery.ID }, "closed")
	if disp.ClosedBy == nil || disp.ClosedBy.Type != "correction.resolved" {
		t.Errorf("dispute closed by %+v, want the resolution", disp.ClosedBy)
	}
	sameEverywhere(t, disp.ID)
	sameEverywhere(t, "correction-overdue/"+cr.Correction.ID)

	// The approval ends (validUntil); the copies are due for destruction a
	// window later.
	time.Sleep(time.Until(rq.Request.ValidUntil) + findingWindow)
	tick(t)
	nd := awaitFinding(t, auditor, "copy-not-destroyed", "Dept2MSP", func(f finding) bool { return f.DeliveryID == dl.Delivery.ID }, "open")
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/destruction", map[string]any{"method": "secure erase"})
	awaitFinding(t, auditor, "copy-not-destroyed", "Dept2MSP", func(f finding) bool { return f.ID == nd.ID }, "closed")
	sameEverywhere(t, nd.ID)

	// A grade 3 delivery carrying a field its request did not name: open
	// at once, the owner's; closed when the requester destroys the copy.
	wideFields(t, auditor)

	// Spikes of Dept3's requests and used records against its own (short)
	// history, under the policy's spike rule of spikePeriod periods.
	requestSpike(t, id, auditor)

	// Use after the end cannot be written honestly: the contract refuses it
	// (the attack suite has a coalition write one, and every indexer open
	// the finding).
	consumer.must(http.StatusConflict, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 1, "records": 1})

	// The webhook: each of Dept2's findings above, signed, once per change;
	// none of another department's.
	if hook == nil {
		return
	}
	want := []string{over.ID, overdue.ID, nd.ID}
	eventually(t, 20*time.Second, func() error {
		got := hook.deliveries()
		for _, id := range want {
			if !slices.ContainsFunc(got, func(d string) bool { return strings.HasPrefix(d, id+"@closed@") }) {
				return fmt.Errorf("the webhook has no closed %s yet: %v", id, got)
			}
		}
		return nil
	})
	got := hook.deliveries()
	seen := map[string]bool{}
	for _, d := range got {
		if seen[d] {
			t.Errorf("delivery %s posted twice: %v", d, got)
		}
		seen[d] = true
	}
	hook.mu.Lock()
	for _, p := range hook.got {
		if p.Department != "Dept2MSP" {
			t.Errorf("Dept2's webhook got a post for %s", p.Department)
		}
		var f finding
		if json.Unmarshal(p.Finding, &f) != nil || f.Department != "Dept2MSP" {
			t.Errorf("Dept2's webhook got a finding of another department: %s", p.Finding)
		}
	}
	if len(hook.bad) > 0 {
		t.Errorf("bad posts: %v", hook.bad)
	}
	hook.mu.Unlock()
}

// wideFields drives fields-outside-request: Dept1 delivers, for a request
// of Dept2's that named one field of a grade 3 dataset, two fields.
func wideFields(t *testing.T, auditor *person) {
	t.Helper()
	owner, approver := shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept1MSP", "approver")
	consumer := shared.as(t, "Dept2MSP", "operator")
	id := uniqueID("wide")
	ds := newDataset(id, "conditional")
	ds["grade"] = 3
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", ds)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	req := newRequest(id)
	req["fields"] = []string{"householdId"}
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", req).json(t, &rq)
	path := "/v1/requests/" + rq.Request.ID
	eventually(t, 10*time.Second, func() error { return statusIs(approver, path, http.StatusOK) })
	approver.must(http.StatusOK, http.MethodPost, path+"/approve", map[string]any{"reason": "legal basis checked"})
	// A field that is not the dataset's is refused; one the request did
	// not name is recorded as delivered.
	owner.must(http.StatusBadRequest, http.MethodPost, path+"/deliveries",
		map[string]any{"sha256": sha(id), "records": 3, "bytes": 30, "channel": "api", "fields": []string{"householdId", "income"}})
	var dl struct {
		Delivery struct {
			ID     string   `json:"id"`
			Fields []string `json:"fields"`
		} `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, path+"/deliveries",
		map[string]any{"sha256": sha(id), "records": 3, "bytes": 30, "channel": "api", "fields": []string{"householdId", "members"}}).json(t, &dl)
	if !slices.Equal(dl.Delivery.Fields, []string{"householdId", "members"}) {
		t.Errorf("delivery fields %v", dl.Delivery.Fields)
	}
	f := awaitFinding(t, auditor, "fields-outside-request", "Dept1MSP", func(f finding) bool { return f.DeliveryID == dl.Delivery.ID }, "open")
	if f.RequestID != rq.Request.ID || f.Records != 3 || len(f.Evidence) != 2 || f.Evidence[1].Type != "delivery.recorded" {
		t.Errorf("fields-outside-request %+v", f)
	}
	sameEverywhere(t, f.ID)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/destruction", map[string]any{"method": "secure erase"})
	closed := awaitFinding(t, auditor, "fields-outside-request", "Dept1MSP", func(x finding) bool { return x.ID == f.ID }, "closed")
	if closed.ClosedBy == nil || closed.ClosedBy.Type != "delivery.destroyed" {
		t.Errorf("closed by %+v, want the destruction", closed.ClosedBy)
	}
}

// requestSpike drives request-spike and usage-spike: Dept3 creates one
// request and uses one record under it (a delivery received covers it),
// waits more than the rule's history, then creates spikeBurst requests at
// once, within one period or two, so that one period holds at least the
// minimum, and uses 500 records.
func requestSpike(t *testing.T, datasetID string, auditor *person) {
	t.Helper()
	op := shared.as(t, "Dept3MSP", "operator")
	var rq struct {
		Request     request `json:"request"`
		BlockNumber uint64  `json:"blockNumber"`
	}
	op.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(datasetID)).json(t, &rq)
	owner := shared.as(t, "Dept1MSP", "operator")
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	var dl struct {
		Delivery delivery `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(rq.Request.ID), "records": 1000, "bytes": 100, "channel": "api"}).json(t, &dl)
	eventually(t, 10*time.Second, func() error { return statusIs(op, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	op.must(http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.Delivery.ID+"/receipt", map[string]any{"sha256": sha(rq.Request.ID)})
	op.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 1, "records": 1})
	time.Sleep(time.Duration(testSpike.History+1) * spikePeriod)
	var wg sync.WaitGroup
	for i := range spikeBurst + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == spikeBurst {
				if r := op.do(http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 1, "records": 500}); r.status != http.StatusCreated {
					t.Errorf("burst use: %d %s", r.status, r.body)
				}
				return
			}
			if r := op.do(http.MethodPost, "/v1/requests", newRequest(datasetID)); r.status != http.StatusCreated {
				t.Errorf("burst request: %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	for _, kind := range []string{"request-spike", "usage-spike"} {
		// Spikes never close: one of an earlier run on this ledger is older.
		f := awaitFinding(t, auditor, kind, "Dept3MSP", func(f finding) bool { return f.ChangedAtBlock > rq.BlockNumber }, "open")
		want := map[string]string{"request-spike": "request.created", "usage-spike": "usage.recorded"}[kind]
		if f.Records < testSpike.Min || len(f.Evidence) != 1 || f.Evidence[0].Type != want {
			t.Errorf("%s %+v", kind, f)
		}
		sameEverywhere(t, f.ID)
	}
}

// tick writes one transaction, so that a block with a later time moves
// the ledger's clock past the windows.
func tick(t *testing.T) {
	t.Helper()
	shared.as(t, "Dept3MSP", "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("tick"), "unconditional"))
}

// awaitFinding waits until the auditor sees one finding of kind about dept
// that match selects, in state, and returns it.
func awaitFinding(t *testing.T, auditor *person, kind, dept string, match func(finding) bool, state string) finding {
	t.Helper()
	var out finding
	eventually(t, 30*time.Second, func() error {
		var page struct {
			Items []finding `json:"items"`
		}
		r := auditor.do(http.MethodGet, "/v1/audit/findings?kind="+kind+"&department="+dept+"&limit=1000", nil)
		if r.status != http.StatusOK {
			return fmt.Errorf("findings: %d %s", r.status, r.body)
		}
		r.json(t, &page)
		for _, f := range page.Items {
			if match(f) {
				if f.State != state {
					return fmt.Errorf("%s is %s, not %s yet", f.ID, f.State, state)
				}
				out = f
				return nil
			}
		}
		return fmt.Errorf("no %s finding about %s yet", kind, dept)
	})
	return out
}

// sameEverywhere checks that every department's indexer, asked directly,
// holds finding id with the same content once it has the same height.
func sameEverywhere(t *testing.T, id string) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		var first []byte
		for _, d := range shared.eps.Departments {
			status, body := indexerGet(t, d.MSPID, "auditor", "/v1/audit/findings?limit=1000")
			if status != http.StatusOK {
				return fmt.Errorf("%s: %d %s", d.MSPID, status, body)
			}
			var page struct {
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return err
			}
			var mine []byte
			for _, it := range page.Items {
				var f finding
				if json.Unmarshal(it, &f) == nil && f.ID == id {
					mine = it
				}
			}
			if mine == nil {
				return fmt.Errorf("%s has no finding %s yet", d.MSPID, id)
			}
			if first == nil {
				first = mine
			} else if !bytes.Equal(first, mine) {
				return fmt.Errorf("%s holds %s as %s, another indexer as %s", d.MSPID, id, mine, first)
			}
		}
		return nil
	})
}

// shortenWindows sets grade 2's destroy, receipt and answer windows to
// findingWindow by a proposal that admins approve until it applies, and
// returns what puts the policy's rules back the same way.
func shortenWindows(t *testing.T) func() {
	t.Helper()
	var pol map[string]json.RawMessage
	shared.as(t, "Dept1MSP", "admin").must(http.StatusOK, http.MethodGet, "/v1/policy", nil).json(t, &pol)
	var grades []map[string]any
	if err := json.Unmarshal(pol["grades"], &grades); err != nil || len(grades) != 4 {
		t.Skipf("the policy has no grade rules to shorten: %s", pol["grades"])
	}
	original := slices.Clone(grades)
	for i := range original {
		c := map[string]any{}
		for k, v := range grades[i] {
			c[k] = v
		}
		original[i] = c
	}
	days := findingWindow.Seconds() / 86400
	grades[1]["destroyWithinDays"], grades[1]["receiptWithinDays"], grades[1]["answerWithinDays"] = days, days, days
	spike := json.RawMessage(pol["spike"])
	if len(spike) == 0 {
		spike = json.RawMessage(`{"periodHours":24,"min":10,"sigmas":3,"periods":28,"history":7}`)
	}
	propose(t, pol, grades, testSpike)
	return func() { propose(t, pol, original, spike) }
}

// propose proposes the policy's evaluators and auditors with grades, and
// has each department's admin approve until the policy applies it.
func propose(t *testing.T, pol map[string]json.RawMessage, grades []map[string]any, spike any) {
	t.Helper()
	var ev, au []string
	json.Unmarshal(pol["evaluators"], &ev)
	json.Unmarshal(pol["auditors"], &au)
	var pp struct {
		Proposal struct {
			ID string `json:"id"`
		} `json:"proposal"`
	}
	var cur struct {
		Version int `json:"version"`
	}
	admin := shared.as(t, "Dept1MSP", "admin")
	admin.must(http.StatusOK, http.MethodGet, "/v1/policy", nil).json(t, &cur)
	admin.must(http.StatusCreated, http.MethodPost, "/v1/policy/proposals", map[string]any{"evaluators": ev, "auditors": au, "grades": grades, "spike": spike}).json(t, &pp)
	for _, d := range shared.eps.Departments[1:] {
		var now struct {
			Version int `json:"version"`
		}
		admin.must(http.StatusOK, http.MethodGet, "/v1/policy", nil).json(t, &now)
		if now.Version > cur.Version {
			break
		}
		a := shared.as(t, d.MSPID, "admin")
		eventually(t, 10*time.Second, func() error {
			return statusIs(a, "/v1/policy/proposals/"+pp.Proposal.ID, http.StatusOK)
		})
		if r := a.do(http.MethodPost, "/v1/policy/proposals/"+pp.Proposal.ID+"/approve", nil); r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("approve as %s: %d %s", d.MSPID, r.status, r.body)
		}
	}
	eventually(t, 20*time.Second, func() error {
		var now struct {
			Version int `json:"version"`
		}
		shared.as(t, "Dept2MSP", "operator").must(http.StatusOK, http.MethodGet, "/v1/policy", nil).json(t, &now)
		if now.Version <= cur.Version {
			return fmt.Errorf("policy still at version %d", now.Version)
		}
		return nil
	})
}

// startWebhook points msp's gateway at a test receiver (its configuration
// file gains a webhook; the gateway restarts) and puts it back after; nil
// on a multi-host run.
func startWebhook(t *testing.T, msp string) *webhook {
	t.Helper()
	if multiHost(t) != nil {
		// Each gateway runs from its own bundle in its own namespace, which
		// cannot reach a receiver on this test's loopback.
		t.Log("multi-host run: the webhook part needs the gateway and the receiver on one host")
		return nil
	}
	run := os.Getenv("GOVSHARE_RUN")
	slug := strings.TrimSuffix(strings.ToLower(msp), "msp")
	cfgPath := filepath.Join(run, "config", "gateway-"+slug+".json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Skipf("no gateway configuration here (%v): the webhook needs the gateway on this host", err)
	}
	hook := &webhook{secret: []byte("test-secret-" + uniqueID("hmac"))}
	srv := httptest.NewServer(hook)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, hook.secret, 0o600); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["webhook"] = map[string]any{"url": srv.URL, "secretFile": secret, "stateFile": filepath.Join(dir, "state.json"), "interval": "500ms"}
	with, _ := json.MarshalIndent(cfg, "", "  ")
	restart := func(content []byte) {
		if err := os.WriteFile(cfgPath, content, 0o644); err != nil {
			t.Fatal(err)
		}
		consortiumCmd(t, "kill", "gateway-"+slug)
		consortiumCmd(t, "start", "gateway-"+slug)
		p := shared.as(t, msp, "operator")
		eventually(t, 30*time.Second, func() error { return statusIs(p, "/readyz", http.StatusOK) })
	}
	// A person signed in before the restart is still signed in after it
	// (the gateway's sessionsFile), and an ended session stays ended.
	op, _ := signInAs(t, msp, "operator", "")
	ended, _ := signInAs(t, msp, "operator", "")
	ended.must(http.StatusOK, http.MethodDelete, "/v1/sessions/current", nil)
	restart(with)
	op.must(http.StatusOK, http.MethodGet, "/v1/me", nil)
	if msg := errorMessage(t, ended.must(http.StatusUnauthorized, http.MethodGet, "/v1/me", nil)); !strings.Contains(msg, "the session was ended") {
		t.Errorf("an ended session after the restart: %q", msg)
	}
	t.Cleanup(func() {
		restart(raw)
		srv.Close()
	})
	return hook
}
