//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPeerFromSnapshot gives a department a second peer joined from a
// snapshot of its ledger (`consortium peer-from-snapshot`) while two
// departments keep writing, and moves the department's indexer (on a copy
// of its mirror) and gateway onto it: the new peer catches up with the
// channel from the blocks after the snapshot, the department writes and
// reads through it (a dataset registered before the snapshot too), no
// acknowledged write is lost and every mirror's digest agrees. The
// department is moved back and the second peer removed afterwards.
func TestPeerFromSnapshot(t *testing.T) {
	faultTest(t)
	const msp = "Dept2MSP"
	v := newLedgerView(t)
	net := openNet(t)
	op := shared.as(t, msp, "operator")
	old := op.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("before-snapshot"), "unconditional"))

	l := startLoad(uniqueID("snapshot"), 3*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept3MSP", "operator"))
	t.Cleanup(func() { l.finish() })
	t.Cleanup(func() {
		// Back on the first peer, the second removed: the next test (and
		// the next run) find the department as it was.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := shared.control(ctx, "use-peer", "-dept", msp, "peer0"); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
		if out, err := shared.control(ctx, "remove-peer", "-dept", msp); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	})
	start := time.Now()
	control(t, 3*time.Minute, "peer-from-snapshot", "-dept", msp)
	t.Logf("second peer joined from a snapshot and in use in %s", time.Since(start).Round(time.Millisecond))

	var gw struct {
		Peer struct {
			Endpoint string `json:"endpoint"`
		} `json:"peer"`
	}
	raw, err := os.ReadFile(filepath.Join(shared.run, "config", "gateway-dept2.json"))
	if err != nil || json.Unmarshal(raw, &gw) != nil {
		t.Fatalf("gateway configuration: %v", err)
	}
	d := net.Topology().Departments[1]
	if gw.Peer.Endpoint != d.Addr(d.Peer1Port) {
		t.Fatalf("%s's gateway uses %s, want its second peer %s", msp, gw.Peer.Endpoint, d.Addr(d.Peer1Port))
	}
	if err := allReady(context.Background(), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// Through the new peer: a new write, and the state from the snapshot.
	op.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("after-snapshot"), "unconditional"))
	op.must(t, http.StatusOK, http.MethodGet, "/v1/datasets/"+old.entity().ID+"?source=ledger", nil)
	time.Sleep(time.Second)
	outs := l.finish()
	t.Logf("load: %d writes (%s)", len(outs), tally(outs))
	checkLoad(t, v, outs)

	h, _ := v.converged(t)
	p0, p1, err := net.PeerHeights(context.Background(), msp)
	if err != nil {
		t.Fatal(err)
	}
	if p1 < h || p0 < h {
		t.Errorf("%s's peers at heights %d and %d, the channel at %d", msp, p0, p1, h)
	}
}
