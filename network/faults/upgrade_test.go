//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// TestUpgradeUnderLoad upgrades the chaincode twice (`consortium
// upgrade-chaincode`: a new package on every peer, approved by every
// department, committed, the servers switched) while two writers in each
// department keep writing: no write fails, every acknowledged write is on every peer and in
// every mirror, every peer holds the new definition and the mirrors agree;
// the upgraded servers come back after a restart, and every department
// writes through them.
func TestUpgradeUnderLoad(t *testing.T) {
	faultTest(t)
	v := newLedgerView(t)
	net := openNet(t)
	before, err := net.ChaincodeRecord()
	if err != nil {
		t.Fatal(err)
	}

	retriedBefore := gatewayRetries(t)
	var writers []caller
	for range 2 {
		for _, msp := range []string{"Dept1MSP", "Dept2MSP", "Dept3MSP", "BureauMSP"} {
			writers = append(writers, shared.as(t, msp, "operator"))
		}
	}
	l := startLoad(uniqueID("upgrade"), 3*time.Minute, writers...)
	t.Cleanup(func() { l.finish() })
	time.Sleep(2 * time.Second) // writes in flight before the first upgrade
	for range 2 {
		start := time.Now()
		control(t, 2*time.Minute, "upgrade-chaincode")
		t.Logf("upgraded in %s", time.Since(start).Round(time.Millisecond))
		time.Sleep(2 * time.Second)
	}
	outs := l.finish()
	t.Logf("load: %d writes (%s); the gateways endorsed %d again (read conflicts, definition changes)", len(outs), tally(outs), gatewayRetries(t)-retriedBefore)
	if len(outs) < 20 {
		t.Errorf("only %d writes during the upgrades: the load did not run", len(outs))
	}
	// No status but 201 is allowed: an upgrade must not fail a write.
	checkLoad(t, v, outs)

	after, err := net.ChaincodeRecord()
	if err != nil {
		t.Fatal(err)
	}
	if after.Sequence != before.Sequence+2 {
		t.Fatalf("record at sequence %d after two upgrades from %d", after.Sequence, before.Sequence)
	}
	statuses, err := net.ChaincodeStatuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		if s.Sequence != after.Sequence || s.Version != after.Version {
			t.Errorf("%s's peer holds sequence %d version %s, want %d %s", s.MSPID, s.Sequence, s.Version, after.Sequence, after.Version)
		}
	}
	for msp, s := range after.Servers {
		if s.PackageID == before.Servers[msp].PackageID {
			t.Errorf("%s still serves package %s", msp, s.PackageID)
		}
		if s.Address != before.Servers[msp].Address {
			t.Errorf("%s's server at %s after two upgrades, want back at %s", msp, s.Address, before.Servers[msp].Address)
		}
	}

	// The recorded server is the new one: stopped and started, it serves.
	control(t, time.Minute, "stop", "chaincode-dept1")
	control(t, 2*time.Minute, "start")
	if err := allReady(context.Background(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, d := range shared.eps.Departments {
		shared.as(t, d.MSPID, "operator").write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("upgraded-"+d.MSPID), "unconditional"))
	}
	v.converged(t)
}

// gatewayRetries is the sum over the gateways of the writes they endorsed
// again (gateway_fabric_retries_total).
func gatewayRetries(t *testing.T) int {
	t.Helper()
	sum := 0
	for _, d := range shared.eps.Departments {
		a := caller{msp: d.MSPID, gateway: d.Gateway}.do(t, http.MethodGet, "/metrics", nil)
		for _, line := range strings.Split(string(a.body), "\n") {
			if strings.HasPrefix(line, "gateway_fabric_retries_total{") {
				var n float64
				if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &n); err == nil {
					sum += int(n)
				}
			}
		}
	}
	return sum
}

// openNet opens the consortium under test as the consortium tool does,
// with the binaries and configuration its command names.
func openNet(t *testing.T) *network.Net {
	t.Helper()
	var up struct {
		Topology string `json:"topology"`
	}
	raw, err := os.ReadFile(filepath.Join(shared.run, "up.json"))
	if err != nil || json.Unmarshal(raw, &up) != nil {
		t.Fatalf("the run folder's up.json: %v", err)
	}
	root, _ := filepath.Abs("../..")
	o := network.Options{Root: root, Run: shared.run, Topology: up.Topology}
	for i := 1; i+1 < len(shared.cmd); i++ {
		switch shared.cmd[i] {
		case "-fabric-bin":
			o.FabricBin = shared.cmd[i+1]
		case "-project-bin":
			o.ProjectBin = shared.cmd[i+1]
		case "-fabric-cfg":
			o.FabricCfg = shared.cmd[i+1]
		}
	}
	net, err := network.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return net
}
