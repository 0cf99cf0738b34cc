//go:build faults

package faults

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// want503 fails t unless a is the API's "ledger unavailable" answer: 503,
// code unavailable, a Retry-After in seconds.
func want503(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.code() != string(domain.CodeUnavailable) {
		t.Errorf("%s: status %d %q, want 503 unavailable: %.300s", what, a.status, a.code(), a.body)
		return
	}
	if n, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || n <= 0 {
		t.Errorf("%s: 503 with Retry-After %q, want a number of seconds", what, a.header.Get("Retry-After"))
	}
}

// TestPeerKilled: Dept3's peer is SIGKILLed. Chaincode-level endorsement is
// a majority (3 of 4), and each record's key-level policy names its
// parties' peers, so:
//   - what still can be endorsed succeeds at once: Dept1 and Dept2 register
//     datasets (3 peers are left) and Dept1 updates its own dataset (only
//     Dept1's peer needed);
//   - what needs Dept3's peer is 503 and changes nothing: a write through
//     Dept3's gateway, and Dept1's approval of a request Dept3 made (its key
//     needs both parties' peers); no block is added on any live peer, the
//     request's history still holds its creation only;
//   - after the restart Dept3's peer catches up to the others' height and
//     holds what was written meanwhile, Dept3's indexer catches up to the
//     same mirror digest as every other department, and the two refused
//     writes, sent again, succeed once (201/200, not 409: they had left
//     nothing behind).
func TestPeerKilled(t *testing.T) {
	faultTest(t)
	const victim, victimMSP = "peer-dept3", "Dept3MSP"
	// How long the peer stays down: beyond gossip's alive expiration (25 s
	// in the sample core.yaml), so the others see it leave the channel.
	const outage = 30 * time.Second
	live := []string{"Dept1MSP", "Dept2MSP", "BureauMSP"}
	v := newLedgerView(t)
	op1, ap1 := shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept1MSP", "approver")
	op2, op3 := shared.as(t, "Dept2MSP", "operator"), shared.as(t, victimMSP, "operator")

	// Before the fault: Dept1's conditional dataset, requested by Dept3.
	ds := uniqueID("pk-ds")
	op1.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(ds, "conditional"))
	eventually(t, 20*time.Second, func() error {
		if _, derr := v.get(t, victimMSP, "Dataset", ds); derr != nil {
			return derr
		}
		return nil
	})
	rq := op3.write(t, http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(ds)).entity()
	if rq.Status != "pending" || rq.Requester != victimMSP || rq.Owner != "Dept1MSP" {
		t.Fatalf("request before the fault = %+v, want pending from %s to Dept1MSP", rq, victimMSP)
	}
	v.converged(t)

	control(t, 30*time.Second, "kill", victim)
	killedAt := time.Now()

	refusedID := uniqueID("pk-refused")
	t.Run("what needs the dead peer is 503 and changes nothing", func(t *testing.T) {
		before := v.settle(t, 20*time.Second, live...)
		a := op3.do(t, http.MethodPost, "/v1/datasets", newDataset(refusedID, "conditional"))
		want503(t, "a write through Dept3's gateway", a)
		t.Logf("write through Dept3's gateway: %d %q", a.status, a.message())
		a = ap1.do(t, http.MethodPost, "/v1/requests/"+rq.ID+"/approve", map[string]any{"reason": "legal basis checked"})
		want503(t, "approving a request whose requester is Dept3", a)
		t.Logf("approval needing Dept3's peer: %d %q", a.status, a.message())
		after := v.settle(t, 20*time.Second, live...)
		if after != before {
			t.Errorf("the live peers went from %d to %d blocks across two refused writes", before, after)
		}
		v.absent(t, "Dataset", refusedID, live...)
		if got := statuses(v.history(t, "BureauMSP", domain.KindRequest, rq.ID)); !slices.Equal(got, []string{"pending"}) {
			t.Errorf("history of request %s after a refused approval: %v, want [pending]", rq.ID, got)
		}
	})

	var accepted []string
	var outageLoad []outcome
	t.Run("what can still be endorsed succeeds", func(t *testing.T) {
		for _, p := range []caller{op1, op2} {
			id := uniqueID("pk-alive")
			p.write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
			accepted = append(accepted, id)
		}
		update := newDataset(ds, "conditional")
		delete(update, "id")
		update["title"] = "Updated while Dept3's peer was down"
		if got := op1.write(t, http.StatusOK, http.MethodPut, "/v1/datasets/"+ds, update).entity(); got.Version != 2 {
			t.Errorf("update of Dept1's own dataset: version %d, want 2", got.Version)
		}
		for _, m := range live {
			for _, id := range accepted {
				v.mustGet(t, m, "Dataset", id)
			}
		}
		// Keep writing while the peer stays down long enough for gossip to
		// declare it dead (its alive messages expire): the endorsement plans
		// change under the writers, and not one write may fail.
		l := startLoad(uniqueID("pk-load"), outage, op1, op2)
		t.Cleanup(func() { l.finish() })
		time.Sleep(outage - time.Since(killedAt))
		outs := l.finish()
		t.Logf("load while Dept3's peer was down: %d writes (%s)", len(outs), tally(outs))
		for _, o := range outs {
			switch o.status {
			case http.StatusCreated:
				accepted = append(accepted, o.id)
			case 0: // cut short by the end of the load
			default:
				t.Errorf("write %s by %s with Dept3's peer down %s: %d %q, want 201",
					o.id, o.by, o.start.Sub(killedAt).Round(time.Millisecond), o.status, o.message)
			}
		}
		outageLoad = outs
	})
	downFor := time.Since(killedAt)

	restart := time.Now()
	control(t, 2*time.Minute, "start", victim)
	started := time.Since(restart)
	h := v.settle(t, 60*time.Second)
	peerCaughtUp := time.Since(restart)
	// The two first writes of the outage (the rest are checked with the load).
	firsts := accepted[:min(2, len(accepted))]
	for _, id := range append([]string{ds}, firsts...) {
		v.mustGet(t, victimMSP, "Dataset", id)
	}
	if got := string(v.mustGet(t, victimMSP, "Dataset", ds)); !strings.Contains(got, `"version":2`) {
		t.Errorf("Dept3's peer after catching up holds %s, want version 2", got)
	}
	_, digest := v.converged(t)
	indexCaughtUp := time.Since(restart)
	// Everything acknowledged during the outage is on every peer, Dept3's
	// included, and in every mirror.
	checkLoad(t, v, outageLoad)
	for _, id := range firsts {
		op3.must(t, http.StatusOK, http.MethodGet, "/v1/datasets/"+id, nil)
	}

	// Sent again, the refused writes succeed, once.
	eventually(t, 90*time.Second, func() error {
		a := ap1.do(t, http.MethodPost, "/v1/requests/"+rq.ID+"/approve", map[string]any{"reason": "legal basis checked"})
		switch a.status {
		case http.StatusOK:
			var w written
			if a.decode(t, &w); w.entity().Status != "approved" {
				t.Errorf("the approval sent again answered %+v, want approved", w.entity())
			}
			return nil
		case http.StatusServiceUnavailable:
			return fmt.Errorf("approval still 503 after the restart: %s", a.message())
		}
		t.Fatalf("approval after the restart: %d %s", a.status, a.body)
		return nil
	})
	var gatewayBack time.Duration
	eventually(t, 2*time.Minute, func() error {
		a := op3.do(t, http.MethodPost, "/v1/datasets", newDataset(refusedID, "conditional"))
		switch a.status {
		case http.StatusCreated:
			gatewayBack = time.Since(restart)
			return nil
		case http.StatusServiceUnavailable:
			return fmt.Errorf("Dept3's gateway still 503 after its peer restarted: %s", a.message())
		}
		t.Fatalf("the refused write sent again: %d %s, want 201 (a 409 would mean the 503 left a trace)", a.status, a.body)
		return nil
	})
	if got := statuses(v.history(t, "BureauMSP", domain.KindRequest, rq.ID)); !slices.Equal(got, []string{"pending", "approved"}) {
		t.Errorf("history of request %s: %v, want exactly one transition [pending approved]", rq.ID, got)
	}
	h2, _ := v.converged(t)
	t.Logf("peer down %s, %d writes accepted meanwhile; restart took %s; its ledger caught up to %d blocks %s after the restart, its indexer (digest %s…) %s after; Dept3's gateway wrote again %s after",
		downFor.Round(time.Millisecond), len(accepted)+1, started.Round(time.Millisecond), h, peerCaughtUp.Round(time.Millisecond),
		digest[:16], indexCaughtUp.Round(time.Millisecond), gatewayBack.Round(time.Millisecond))
	t.Logf("after the retried writes every peer and mirror agree at %d blocks", h2)
}
