//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// TestDepartmentJoins adds a department to the running consortium
// (`consortium add-department`: its CA and identities, a channel
// configuration update signed by a majority of the members' admins, its
// peer joined from the genesis block, the chaincode definition approved,
// its indexer and gateway) while two departments keep writing. Afterwards
// no acknowledged write is lost; every gateway lists the new department;
// it registers a dataset through its own gateway that every peer and every
// mirror holds, its mirror (a replay of the whole ledger) has the same
// digest as the others, and it has a score. The rest of the suite runs
// with it.
func TestDepartmentJoins(t *testing.T) {
	faultTest(t)
	v := newLedgerView(t)
	net := openNet(t)
	// A department that joined and left in an earlier run keeps its MSP ID.
	added, err := net.AddedDepartments()
	if err != nil {
		t.Fatal(err)
	}
	k := len(net.Topology().Departments) + 1
	for slices.ContainsFunc(added, func(d network.Department) bool { return d.MSPID == fmt.Sprintf("Join%dMSP", k) }) {
		k++
	}
	msp := fmt.Sprintf("Join%dMSP", k)
	entry := filepath.Join(t.TempDir(), "department.yaml")
	yaml := fmt.Sprintf("mspId: %s\nname: Natural Resources Bureau %d\ncode: NRB%d\nlevel: municipal\nroles: [admin, operator, approver]\n", msp, k, k)
	if err := os.WriteFile(entry, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	l := startLoad(uniqueID("join"), 4*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept3MSP", "operator"))
	t.Cleanup(func() { l.finish() })
	start := time.Now()
	control(t, 4*time.Minute, "add-department", "-entry", entry)
	t.Logf("%s joined in %s", msp, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	outs := l.finish()
	t.Logf("load: %d writes (%s)", len(outs), tally(outs))
	checkLoad(t, v, outs, http.StatusServiceUnavailable)

	// The suite's view of the consortium now has the new department.
	reloadConsortium(t)
	v = newLedgerView(t)

	for _, d := range shared.eps.Departments {
		a := shared.as(t, d.MSPID, "operator").must(t, http.StatusOK, http.MethodGet, "/v1/departments", nil)
		var list struct {
			Items []struct {
				MSPID string `json:"mspId"`
			} `json:"items"`
		}
		a.decode(t, &list)
		if !slices.ContainsFunc(list.Items, func(i struct {
			MSPID string `json:"mspId"`
		}) bool {
			return i.MSPID == msp
		}) {
			t.Errorf("%s's gateway does not list %s: %s", d.MSPID, msp, a.body)
		}
	}
	w := shared.as(t, msp, "operator").write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("joined"), "unconditional"))
	for m := range v.nets {
		v.mustGet(t, m, "Dataset", w.entity().ID)
	}
	v.converged(t)

	period := time.Now().UTC().Format("2006-01")
	a := shared.as(t, "BureauMSP", "evaluator").must(t, http.StatusOK, http.MethodGet, "/v1/scores?period="+period, nil)
	var scores struct {
		Items []struct {
			MSPID string `json:"mspId"`
		} `json:"items"`
	}
	a.decode(t, &scores)
	found := false
	for _, it := range scores.Items {
		found = found || it.MSPID == msp
	}
	if !found {
		t.Errorf("the scores of %s do not rank %s: %s", period, msp, a.body)
	}
}

// reloadConsortium reads the suite's view of the consortium again from the
// run folder (endpoints, credentials, tls-ca.pem, which add-department and
// remove-department change) and waits until every gateway is ready.
func reloadConsortium(t *testing.T) {
	t.Helper()
	eps, err := network.ReadEndpoints(shared.run)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(shared.run, "credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds []network.Credential
	if err := json.Unmarshal(raw, &creds); err != nil {
		t.Fatal(err)
	}
	shared.eps, shared.creds = eps, creds
	if httpClient, err = network.GatewayClient(shared.run, 45*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := allReady(context.Background(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
}
