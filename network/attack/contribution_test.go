//go:build integration

package attack

import (
	"encoding/json"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// TestContributionsCountOnlyOnceTheOwnerAccepts is hole 6 of issue 11: a
// department declared contributions to its own pool, or 2^50 records to
// another's, and won the contribution indicator. Now a contribution counts
// only once the pool's owner accepts it (a second transaction its approver
// signs and its peer endorses), never for the pool's own department, and
// log-damped: one declaration of 2^50 records weighs 50.
func TestContributionsCountOnlyOnceTheOwnerAccepts(t *testing.T) {
	period := time.Now().UTC().Format("2006-01")
	pool := uniqueID("pool")
	shared.settle(t, shared.as(t, victim, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(pool, "conditional")))
	before := contributionIndicator(t, period, dept2)

	// The pool's own department cannot contribute to it.
	shared.as(t, victim, "operator").must(http.StatusForbidden, http.MethodPost, "/v1/contributions",
		map[string]any{"datasetId": pool, "records": 1, "bytes": 1, "sha256": sha("own pool")})

	// Dept2 declares 2^50 records: recorded, pending, counting nothing.
	w := shared.as(t, dept2, "operator").must(http.StatusCreated, http.MethodPost, "/v1/contributions",
		map[string]any{"datasetId": pool, "records": int64(1) << 50, "bytes": int64(1) << 50, "sha256": sha("a petabyte, they say")})
	shared.settle(t, w)
	var rec struct {
		Contribution domain.Contribution `json:"contribution"`
	}
	w.json(t, &rec)
	c := rec.Contribution
	if c.Status != domain.ContributionPending {
		t.Fatalf("new contribution %+v, want pending", c)
	}
	sameEverywhere(t, period, dept2, before, "a pending declaration")

	// The coalition (the contributor among it) forges the owner's acceptance
	// with its own peers: the record's key policy names Dept1's peer too.
	prop, action := forgedAcceptance(t, c)
	tx := shared.forged(t, prop, action, coalition...)
	st := shared.commit(t, dept2, tx)
	expectPolicyFailure(t, st, "the coalition's acceptance of contribution "+c.ID+" in "+victim+"'s name")
	shared.indexed(t, st.Block)
	for _, m := range departments {
		out, err := shared.ledgerRead(t, m, "GetContribution", c.ID)
		if err != nil {
			t.Fatalf("the peer of %s: %v", m, err)
		}
		var got domain.Contribution
		if err := json.Unmarshal(out, &got); err != nil || got.Status != domain.ContributionPending {
			t.Errorf("the peer of %s holds %s (%v), want it pending", m, out, err)
		}
		r := shared.indexer(t, m, "auditor", "/v1/contributions/"+c.ID)
		var ix domain.Contribution
		r.json(t, &ix)
		if r.status != http.StatusOK || ix.Status != domain.ContributionPending {
			t.Errorf("the indexer of %s shows %s: %d %s", m, c.ID, r.status, r.body)
		}
	}
	shared.notInTrace(t, "dataset", pool, tx.TxID)
	sameEverywhere(t, period, dept2, before, "a forged acceptance")

	// The contributor cannot accept its own claim; the owner's approver can.
	shared.as(t, dept2, "approver").must(http.StatusForbidden, http.MethodPost, "/v1/contributions/"+c.ID+"/accept", map[string]any{})
	a := shared.as(t, victim, "approver").must(http.StatusOK, http.MethodPost, "/v1/contributions/"+c.ID+"/accept", map[string]any{"reason": "intake checked"})
	shared.settle(t, a)
	sameEverywhere(t, period, dept2, before+50, "the accepted declaration of 2^50 records (log2(1+2^50) = 50)")
}

// contributionIndicator is dept's raw contribution indicator of period on
// the victim's indexer.
func contributionIndicator(t *testing.T, period, dept string) float64 {
	t.Helper()
	return indicatorAt(t, victim, period, dept)
}

func indicatorAt(t *testing.T, msp, period, dept string) float64 {
	t.Helper()
	r := shared.indexer(t, msp, "evaluator", "/v1/scores?period="+period)
	if r.status != http.StatusOK {
		t.Fatalf("scores on the indexer of %s: %d %s", msp, r.status, r.body)
	}
	var doc domain.Scores
	r.json(t, &doc)
	for _, it := range doc.Items {
		if it.MSPID == dept {
			return it.Breakdown["contribution"]
		}
	}
	return 0
}

// sameEverywhere checks that every indexer gives dept the contribution
// indicator want.
func sameEverywhere(t *testing.T, period, dept string, want float64, after string) {
	t.Helper()
	for _, m := range departments {
		if got := indicatorAt(t, m, period, dept); math.Abs(got-want) > 1e-5 {
			t.Errorf("after %s, the indexer of %s scores %s's contribution %v, want %v", after, m, dept, got, want)
		}
	}
}

// forgedAcceptance is the coalition's AcceptContribution, "decided" by
// Dept1's approver, endorsed by the coalition's peers only.
func forgedAcceptance(t *testing.T, c domain.Contribution) (*forge.Proposal, forge.Action) {
	t.Helper()
	client := shared.user(t, dept2, "operator1")
	now := time.Now().UTC()
	approver := shared.user(t, victim, "approver1").Actor()
	c.Status, c.Reason, c.DecidedAt, c.DecidedBy = domain.ContributionAccepted, "accepted", &now, &approver
	key := entityKey(t, domain.KindContribution, c.ID)
	var ws forge.RWSet
	ws.Put(key, mustJSON(t, c))
	prop := proposal(t, client, forge.Invocation{Function: "AcceptContribution", Args: []string{c.ID, "{}"}, Timestamp: now})
	return prop, forge.Action{
		RWSets: []forge.RWSet{ws},
		Event: event(t, domain.Event{Type: domain.EventContributionAccepted, Kind: domain.KindContribution, ID: c.ID, Time: now, Actor: approver,
			Status: string(c.Status), DatasetID: c.DatasetID, Owner: c.Owner, Requester: c.Contributor, Contribution: &c}),
		Payload: mustJSON(t, c),
	}
}
