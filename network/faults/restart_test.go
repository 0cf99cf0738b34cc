//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// kept is one record the whole-consortium restart must keep: its ledger
// kind and ID, its REST path and the people who may read it.
type kept struct {
	kind    string // suffix of its Get transaction
	id      string
	path    string
	readers []caller
}

// keptState is what a record looks like on every peer and in every
// reader's index.
type keptState struct {
	ledger map[string][]byte // by MSP ID of the peer
	index  map[string][]byte // by MSP ID of the reader's gateway
}

func (k kept) read(t *testing.T, v *ledgerView) keptState {
	t.Helper()
	s := keptState{ledger: map[string][]byte{}, index: map[string][]byte{}}
	for msp := range v.nets {
		s.ledger[msp] = v.mustGet(t, msp, k.kind, k.id)
	}
	for _, r := range k.readers {
		s.index[r.msp] = r.must(t, http.StatusOK, http.MethodGet, k.path, nil).body
	}
	return s
}

// TestConsortiumStopStart: every process of the consortium is stopped
// (`consortium stop`: SIGTERM, state kept) and started again
// (`consortium start`). After it: every peer holds exactly the blocks it
// had; records of every kind written before (a dataset, a request approved
// by its owner, a delivery received, a usage) read the same from every
// peer and from every reader's index as before the stop, and each index
// agrees with the ledger; each indexer resumed from its checkpoint (its
// log's "indexer started" height is the ledger height, not 0) and its
// mirror digest is the one it had before the stop; and the consortium
// takes writes again, applied by every mirror.
func TestConsortiumStopStart(t *testing.T) {
	faultTest(t)
	v := newLedgerView(t)
	op1, ap1 := shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept1MSP", "approver")
	op2, op3 := shared.as(t, "Dept2MSP", "operator"), shared.as(t, "Dept3MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")

	ds := uniqueID("restart-ds")
	op1.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(ds, "conditional"))
	ds3 := uniqueID("restart-ds3")
	op3.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(ds3, "unconditional"))
	eventually(t, 20*time.Second, func() error {
		if _, derr := v.get(t, "Dept2MSP", "Dataset", ds); derr != nil {
			return derr
		}
		return nil
	})
	rq := op2.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(ds)).entity()
	v.settle(t, 20*time.Second)
	ap1.write(t, http.StatusOK, http.MethodPost, "/v1/requests/"+rq.ID+"/approve", map[string]any{"reason": "legal basis checked"})
	v.settle(t, 20*time.Second)
	dl := op1.write(t, http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.ID+"/deliveries",
		map[string]any{"sha256": sha("restart rows"), "records": 12, "bytes": 1200, "channel": "sftp"}).entity()
	v.settle(t, 20*time.Second)
	op2.write(t, http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.ID+"/receipt", map[string]any{"sha256": sha("restart rows")})
	us := op2.write(t, http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.ID, "calls": 3, "records": 6}).entity()

	parties := []caller{op1, op2, auditor}
	var everyone []caller
	for _, d := range shared.eps.Departments {
		everyone = append(everyone, shared.as(t, d.MSPID, "operator"))
	}
	records := []kept{
		{"Dataset", ds, "/v1/datasets/" + ds, everyone},
		{"Dataset", ds3, "/v1/datasets/" + ds3, everyone},
		{"Request", rq.ID, "/v1/requests/" + rq.ID, parties},
		{"Delivery", dl.ID, "/v1/deliveries/" + dl.ID, parties},
		{"Usage", us.ID, "/v1/usage/" + us.ID, parties},
	}
	h0, digest0 := v.converged(t)
	before := make([]keptState, len(records))
	for i, k := range records {
		before[i] = k.read(t, v)
		// Before anything happens: every peer and every index agree.
		for msp, got := range before[i].ledger {
			if !sameJSON(got, before[i].ledger["BureauMSP"]) {
				t.Fatalf("%s %s differs between the peers of %s and BureauMSP before the stop", k.kind, k.id, msp)
			}
		}
		for msp, got := range before[i].index {
			if !sameJSON(got, before[i].ledger["BureauMSP"]) {
				t.Errorf("%s %s in the index of %s differs from the ledger:\nindex  %s\nledger %s", k.kind, k.id, msp, got, before[i].ledger["BureauMSP"])
			}
		}
	}
	marks := map[string]int64{}
	for _, d := range shared.eps.Departments {
		name := indexerName(d.MSPID)
		marks[name] = logMark(t, name)
	}

	stopAt := time.Now()
	control(t, 2*time.Minute, "stop")
	stopped := time.Since(stopAt)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := shared.control(ctx, "status")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(string(out), " running ") {
		t.Fatalf("processes still running after `consortium stop`:\n%s", out)
	}

	startAt := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer scancel()
	if out, err := shared.control(sctx, "start"); err != nil {
		diagnosis := orderingDiagnosis(t)
		if diagnosis == "" {
			t.Fatalf("%v\n%s", err, out)
		}
		// A known cause: report it, then do what an operator would (start
		// the stuck orderers again) and check the rest of the restart.
		t.Errorf("%v%s\n%s", err, diagnosis, out)
		unstick(sctx, t)
		if out, err := shared.control(sctx, "start"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	started := time.Since(startAt)
	if err := allReady(context.Background(), 90*time.Second); err != nil {
		t.Fatalf("after the start: %v%s", err, orderingDiagnosis(t))
	}
	if err := waitOrderingWhole(orderers(t), 20*time.Second); err != nil {
		t.Errorf("after the start the ordering service is not whole: %v%s", err, orderingDiagnosis(t))
		unstick(sctx, t)
	}
	ready := time.Since(startAt)

	if h := v.settle(t, 30*time.Second); h != h0 {
		t.Fatalf("the peers hold %d blocks after the restart, %d before", h, h0)
	}
	for _, d := range shared.eps.Departments {
		name := indexerName(d.MSPID)
		from, relayout := startedHeights(t, name, marks[name])
		if len(from) != 1 || from[0] != h0 {
			t.Errorf("%s started from heights %v, want once from its checkpoint at %d (not a replay from 0)%s", name, from, h0, relayoutNote(relayout))
		}
		if m := mirrorAt(t, d.MSPID, h0, 60*time.Second); m.Digest != digest0 {
			t.Errorf("mirror of %s after the restart: %s, before: %s (height %d)%s", d.MSPID, m.Digest, digest0, h0, relayoutNote(relayout))
		}
	}
	for i, k := range records {
		after := k.read(t, v)
		for msp, was := range before[i].ledger {
			if !sameJSON(was, after.ledger[msp]) {
				t.Errorf("%s %s on the peer of %s changed across the restart:\nbefore %s\nafter  %s", k.kind, k.id, msp, was, after.ledger[msp])
			}
		}
		for msp, was := range before[i].index {
			if !sameJSON(was, after.index[msp]) {
				t.Errorf("%s %s in the index of %s changed across the restart:\nbefore %s\nafter  %s", k.kind, k.id, msp, was, after.index[msp])
			}
		}
	}

	// The consortium takes writes again and every mirror applies them.
	op2.write(t, http.StatusOK, http.MethodPost, "/v1/deliveries/"+dl.ID+"/feedback",
		map[string]any{"timeliness": 5, "accuracy": 4, "completeness": 4, "consistency": 5, "comment": "after a restart"})
	if got := statuses(v.history(t, "BureauMSP", domain.KindDelivery, dl.ID)); !slices.Equal(got, []string{"delivered", "received", "received"}) {
		t.Errorf("history of delivery %s: %v, want delivered, received, received (rated)", dl.ID, got)
	}
	h1, _ := v.converged(t)
	if h1 != h0+1 {
		t.Errorf("one write after the restart took the ledger from %d to %d blocks", h0, h1)
	}
	t.Logf("stop took %s, start %s, every gateway ready %s after the start; %d blocks and the mirror digest %s… kept; every indexer resumed at %d",
		stopped.Round(time.Millisecond), started.Round(time.Millisecond), ready.Round(time.Millisecond), h0, digest0[:16], h0)
}

// indexerName is the process name of a department's indexer.
func indexerName(msp string) string {
	return "indexer-" + strings.TrimSuffix(strings.ToLower(msp), "msp")
}

// unstick restarts the orderers stuck at start until the ordering service
// is whole, so that a test can go on checking what follows a fault once
// it has reported the stuck start.
func unstick(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := reviveOrdering(ctx, t); err != nil {
		t.Fatal(err)
	}
}

// orderingDiagnosis says which orderers are stuck at start, if any.
func orderingDiagnosis(t *testing.T) string {
	t.Helper()
	nodes := orderers(t)
	var b strings.Builder
	for _, o := range nodes {
		if ok, why := stuckAtStart(t, o, len(nodes)); ok {
			fmt.Fprintf(&b, "\n%s", why)
		}
	}
	return b.String()
}
