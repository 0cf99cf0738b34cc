//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network"
)

// TestDepartmentLeaves suspends, then removes, the department that
// TestDepartmentJoins added (it adds one itself when run alone), while
// Dept1 and Dept3 keep writing:
//
//   - suspended (`consortium suspend-department`: a policy proposal that a
//     majority of the other members' admins approve), its writes are
//     refused, through its REST gateway and through a raw fabric-gateway
//     client signed by its own operator's key (the rule is the chaincode's),
//     while its reads and the others' writes go on, and the scores of the
//     period leave it out but as of a block before the suspension keep it;
//   - removed (`consortium remove-department`: the policy records the
//     removal, then a channel update signed by a majority of the other
//     organizations' admins), its processes are stopped; every remaining
//     peer holds the same ledger and every remaining mirror the same digest,
//     no acknowledged write is lost, GET /v1/departments leaves it out,
//     nobody can create a record naming it, its identity can no longer
//     reach the channel, and its earlier records stay on the ledger,
//     readable, traceable and verifiable.
func TestDepartmentLeaves(t *testing.T) {
	faultTest(t)
	msp := joinedDepartment(t)
	t.Logf("%s leaves", msp)
	d := shared.dept(t, msp)
	op := shared.as(t, msp, "operator")
	evaluator := shared.as(t, "BureauMSP", "evaluator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	period := time.Now().UTC().Format("2006-01")

	var pol domain.Policy
	op.must(t, http.StatusOK, http.MethodGet, "/v1/policy", nil).decode(t, &pol)
	if !pol.Member(msp) {
		t.Fatalf("%s is not a member of the consortium policy after add-department: %+v", msp, pol)
	}

	// Its records before it leaves: a dataset, and Dept1's request for it.
	before := op.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("leaving"), "unconditional"))
	req := shared.as(t, "Dept1MSP", "operator")
	rq := req.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(before.entity().ID))
	v := newLedgerView(t)
	waitIndexed(t, rq.BlockNumber+1, 30*time.Second)
	preSuspension := rq.BlockNumber
	if !ranks(t, evaluator, period, preSuspension, msp) {
		t.Fatalf("the scores of %s as of block %d do not rank %s before it is suspended", period, preSuspension, msp)
	}

	l := startLoad(uniqueID("leave"), 5*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept3MSP", "operator"))
	t.Cleanup(func() { l.finish() })
	start := time.Now()
	control(t, 2*time.Minute, "suspend-department", "-dept", msp)
	suspendTook := time.Since(start)
	t.Logf("%s suspended in %s", msp, suspendTook.Round(time.Millisecond))
	suspendedAt := time.Now()

	// Its writes are refused, by REST...
	refusedID := uniqueID("suspended")
	eventually(t, 20*time.Second, func() error {
		a, err := op.call(context.Background(), http.MethodPost, "/v1/datasets", newDataset(refusedID, "unconditional"))
		if err != nil {
			return err
		}
		if a.status != http.StatusForbidden || a.code() != string(domain.CodeForbidden) || !strings.Contains(a.message(), msp+" is suspended from the consortium") {
			return fmt.Errorf("a write of the suspended %s answered %d %s", msp, a.status, a.body)
		}
		return nil
	})
	// ... and by its own operator's key through the Fabric Gateway, at its
	// own peer and at Dept1's: every endorser's chaincode refuses it.
	for _, at := range []string{msp, "Dept1MSP"} {
		raw := fabricVia(t, msp, op.user, at, shared.dept(t, at).Peer)
		body, _ := json.Marshal(newDataset(refusedID+"-raw", "unconditional"))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := raw.GetContract(shared.eps.Chaincode).SubmitWithContext(ctx, "RegisterDataset", client.WithArguments(string(body)))
		cancel()
		derr := chaincodeError(err)
		if err == nil || derr == nil || derr.Code != domain.CodeForbidden || !strings.Contains(derr.Message, "is suspended from the consortium") {
			t.Fatalf("a raw submit signed by %s's operator at %s: %v, want the chaincode's forbidden", msp, at, err)
		}
	}
	v.absent(t, "Dataset", refusedID, "Dept1MSP", "BureauMSP", msp)
	v.absent(t, "Dataset", refusedID+"-raw", "Dept1MSP", "BureauMSP", msp)
	// No new record may name it.
	a := req.do(t, http.MethodPost, "/v1/requests", newRequest(before.entity().ID))
	if a.status != http.StatusForbidden || !strings.Contains(a.message(), "no new record may name it") {
		t.Errorf("Dept1's request for the suspended %s's dataset answered %d %s", msp, a.status, a.body)
	}
	// Its reads go on.
	op.must(t, http.StatusOK, http.MethodGet, "/v1/datasets/"+before.entity().ID, nil)
	op.must(t, http.StatusOK, http.MethodGet, "/v1/policy", nil).decode(t, &pol)
	if !pol.IsSuspended(msp) || pol.Member(msp) {
		t.Fatalf("policy after the suspension: %+v", pol)
	}
	v.mustGet(t, msp, "Dataset", before.entity().ID)

	// The others write meanwhile; then it is removed.
	eventually(t, 30*time.Second, func() error {
		for _, o := range l.snapshot() {
			if o.status == http.StatusCreated && o.start.After(suspendedAt) {
				return nil
			}
		}
		return fmt.Errorf("no write of Dept1 or Dept3 acknowledged since the suspension")
	})
	start = time.Now()
	control(t, 3*time.Minute, "remove-department", "-dept", msp)
	removeTook := time.Since(start)
	t.Logf("%s removed in %s", msp, removeTook.Round(time.Millisecond))
	time.Sleep(time.Second)
	outs := l.finish()
	t.Logf("load: %d writes (%s)", len(outs), tally(outs))

	// The suite's view of the consortium without it.
	reloadConsortium(t)
	if slices.ContainsFunc(shared.eps.Departments, func(e network.EndpointDept) bool { return e.MSPID == msp }) {
		t.Fatalf("endpoints.json still lists %s", msp)
	}
	v = newLedgerView(t)
	checkLoad(t, v, outs, http.StatusServiceUnavailable, http.StatusConflict)
	v.converged(t)

	// Its processes are stopped, and `consortium start` does not expect them.
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(d.Peer, "dns:///"), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s's peer still listens at %s", msp, d.Peer)
	}
	recs, _ := filepath.Glob(filepath.Join(shared.run, "pids", "*-"+strings.TrimSuffix(strings.ToLower(msp), "msp")+"*"))
	if len(recs) > 0 {
		t.Errorf("pids/ still records %v", recs)
	}
	control(t, time.Minute, "start")

	for _, e := range shared.eps.Departments {
		var list struct {
			Items []struct {
				MSPID string `json:"mspId"`
			} `json:"items"`
		}
		shared.as(t, e.MSPID, "operator").must(t, http.StatusOK, http.MethodGet, "/v1/departments", nil).decode(t, &list)
		for _, it := range list.Items {
			if it.MSPID == msp {
				t.Errorf("%s's gateway still lists %s", e.MSPID, msp)
			}
		}
		if len(list.Items) != len(shared.eps.Departments) {
			t.Errorf("%s's gateway lists %d departments, want %d", e.MSPID, len(list.Items), len(shared.eps.Departments))
		}
	}
	h, err := v.height(context.Background(), "BureauMSP")
	if err != nil {
		t.Fatal(err)
	}
	if ranks(t, evaluator, period, h-1, msp) {
		t.Errorf("the scores of %s still rank %s after its removal", period, msp)
	}
	if !ranks(t, evaluator, period, preSuspension, msp) {
		t.Errorf("the scores of %s as of block %d, before the suspension, no longer rank %s", period, preSuspension, msp)
	}

	// Its records stay: on every remaining peer, in the trace, verifiable.
	for m := range v.nets {
		v.mustGet(t, m, "Dataset", before.entity().ID)
		v.mustGet(t, m, "Department", msp)
	}
	var trace struct {
		Items []struct {
			TxID  string `json:"txId"`
			Type  string `json:"type"`
			MSPID string `json:"mspId"`
		} `json:"items"`
	}
	auditor.must(t, http.StatusOK, http.MethodGet, "/v1/audit/trace?dataset="+before.entity().ID, nil).decode(t, &trace)
	if len(trace.Items) < 2 || trace.Items[0].Type != string(domain.EventDatasetRegistered) || trace.Items[0].MSPID != msp || trace.Items[0].TxID != before.TxID {
		t.Fatalf("the trace of %s's dataset: %+v", msp, trace.Items)
	}
	var verified struct {
		Verified bool `json:"verified"`
	}
	auditor.must(t, http.StatusOK, http.MethodGet, "/v1/audit/verify/"+before.TxID, nil).decode(t, &verified)
	if !verified.Verified {
		t.Errorf("the registration of %s's dataset does not verify against the ledger", msp)
	}
	auditor.must(t, http.StatusOK, http.MethodGet, "/v1/audit/trace?department="+msp, nil).decode(t, &trace)
	if len(trace.Items) == 0 {
		t.Errorf("the trace of department %s is empty", msp)
	}
	a = req.do(t, http.MethodPost, "/v1/requests", newRequest(before.entity().ID))
	if a.status != http.StatusForbidden || !strings.Contains(a.message(), msp+" has left the consortium") {
		t.Errorf("Dept1's request for the removed %s's dataset answered %d %s", msp, a.status, a.body)
	}
	// Its identity no longer reaches the channel: Dept1's peer refuses it
	// before any chaincode runs.
	raw := fabricVia(t, msp, op.user, "Dept1MSP", shared.dept(t, "Dept1MSP").Peer)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := raw.GetContract(shared.eps.Chaincode).EvaluateWithContext(ctx, "GetPolicy"); err == nil {
		t.Errorf("%s's operator still evaluates on the channel through Dept1's peer", msp)
	} else {
		t.Logf("%s's operator through Dept1's peer: %v", msp, err)
	}
	t.Logf("suspension %s, removal %s", suspendTook.Round(time.Millisecond), removeTook.Round(time.Millisecond))
}

// joinedDepartment is a department added after `make up` and still in the
// consortium (TestDepartmentJoins's); it adds one when there is none.
func joinedDepartment(t *testing.T) string {
	t.Helper()
	var added []struct {
		MSPID string `yaml:"mspId"`
	}
	if raw, err := os.ReadFile(filepath.Join(shared.run, "added-departments.yaml")); err == nil {
		if err := yaml.Unmarshal(raw, &added); err != nil {
			t.Fatal(err)
		}
	}
	for i := len(added) - 1; i >= 0; i-- {
		for _, e := range shared.eps.Departments {
			if e.MSPID == added[i].MSPID {
				return e.MSPID
			}
		}
	}
	n := len(shared.eps.Departments) + 1
	msp := fmt.Sprintf("Leave%dMSP", n)
	entry := filepath.Join(t.TempDir(), "department.yaml")
	if err := os.WriteFile(entry, []byte(fmt.Sprintf("mspId: %s\nname: Leaving Bureau %d\ncode: LB%d\nlevel: municipal\nroles: [admin, operator, approver]\n", msp, n, n)), 0o644); err != nil {
		t.Fatal(err)
	}
	control(t, 4*time.Minute, "add-department", "-entry", entry)
	reloadConsortium(t)
	return msp
}

// ranks reports whether the scores of period as of block asOf rank msp.
func ranks(t *testing.T, evaluator caller, period string, asOf uint64, msp string) bool {
	t.Helper()
	var scores struct {
		AsOfBlock uint64 `json:"asOfBlock"`
		Items     []struct {
			MSPID string `json:"mspId"`
		} `json:"items"`
	}
	evaluator.must(t, http.StatusOK, http.MethodGet, fmt.Sprintf("/v1/scores?period=%s&asOfBlock=%d", period, asOf), nil).decode(t, &scores)
	return slices.ContainsFunc(scores.Items, func(i struct {
		MSPID string `json:"mspId"`
	}) bool {
		return i.MSPID == msp
	})
}
