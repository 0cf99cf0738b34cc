//go:build integration

package attack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// TestCoalitionCannotCreateInVictimsName is hole 1 of issue 11: three
// departments endorse, with their own peers' keys, a transaction whose write
// set creates a record that names Dept1 as its owner, without Dept1's peer.
// A key's creation falls under the chaincode-level policy (a majority), and
// key-level endorsement only exists once the key does, so before the fix it
// commits. It must be ENDORSEMENT_POLICY_FAILURE, and nothing of it may show
// on any peer, any indexer or in the audit trail. A control proves the
// forgery is refused for the missing endorsement and nothing else: the same
// transaction with Dept1's peer among the endorsers commits VALID.
func TestCoalitionCannotCreateInVictimsName(t *testing.T) {
	t.Run("dataset owned and created by Dept1", func(t *testing.T) {
		id, prop, action := forgedDataset(t)
		tx := shared.forged(t, prop, action, coalition...)
		st := shared.commit(t, dept2, tx)
		expectPolicyFailure(t, st, "the coalition's creation of dataset "+id+" owned by "+victim)
		shared.indexed(t, st.Block)

		shared.absentOnEveryPeer(t, domain.KindDataset, "GetDataset", id)
		for _, m := range departments {
			if r := shared.as(t, m, "operator").do(http.MethodGet, "/v1/datasets/"+id, nil); r.status != http.StatusNotFound {
				t.Errorf("the gateway of %s shows the forged dataset %s: %d %s", m, id, r.status, r.body)
			}
			if items := shared.trace(t, m, "dataset", id); len(items) != 0 {
				t.Errorf("the audit trail of %s's indexer shows the forged dataset %s: %v", m, id, items)
			}
		}
		if r := shared.as(t, auditor, "auditor").do(http.MethodGet, "/v1/audit/trace?dataset="+id, nil); r.status != http.StatusOK || strings.Contains(string(r.body), tx.TxID) {
			t.Errorf("the auditor's trace of %s through the gateway: %d %s", id, r.status, r.body)
		}
		logVerify(t, tx.TxID)

		t.Run("control: with Dept1's peer it commits", func(t *testing.T) {
			id, prop, action := forgedDataset(t)
			st := shared.commit(t, dept2, shared.forged(t, prop, action, append([]string{victim}, coalition...)...))
			if !st.Valid() {
				t.Errorf("the same write set endorsed by %s's peer too committed %s: the forgery above was refused for another reason than the missing endorsement", victim, st.Code)
			}
			if _, err := shared.ledgerRead(t, victim, "GetDataset", id); err != nil {
				t.Errorf("control dataset %s: %v", id, err)
			}
		})
	})

	t.Run("request approved in Dept1's name", func(t *testing.T) {
		// Dept1's own, conditionally shared dataset: a request for it waits
		// for Dept1's approver, whom the coalition impersonates.
		dsID := uniqueID("cond")
		shared.settle(t, shared.as(t, victim, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(dsID, "conditional")))

		id, prop, action := forgedRequest(t, dsID)
		tx := shared.forged(t, prop, action, coalition...)
		// Straight to the ordering service this time: the peers' gateways
		// are not in the way of an attacker.
		st := shared.broadcast(t, dept2, tx)
		expectPolicyFailure(t, st, "the coalition's request "+id+" approved in "+victim+"'s name")
		shared.indexed(t, st.Block)

		shared.absentOnEveryPeer(t, domain.KindRequest, "GetRequest", id)
		for _, m := range departments {
			if r := shared.indexer(t, m, "auditor", "/v1/requests/"+id); r.status != http.StatusNotFound {
				t.Errorf("the indexer of %s shows the forged request %s: %d %s", m, id, r.status, r.body)
			}
			if items := shared.trace(t, m, "request", id); len(items) != 0 {
				t.Errorf("the audit trail of %s's indexer shows the forged request %s: %v", m, id, items)
			}
		}
		for _, m := range []string{victim, dept2} { // the parties named
			if r := shared.as(t, m, "operator").do(http.MethodGet, "/v1/requests/"+id, nil); r.status != http.StatusNotFound {
				t.Errorf("the gateway of %s shows the forged request %s: %d %s", m, id, r.status, r.body)
			}
		}
		// What the forged approval would be for: metering use of Dept1's data.
		if r := shared.as(t, dept2, "operator").do(http.MethodPost, "/v1/usage", map[string]any{"requestId": id, "calls": 1, "records": 10}); r.status == http.StatusCreated {
			t.Errorf("ATTACK WENT THROUGH: %s recorded usage under the forged approval %s: %s", dept2, id, r.body)
		}
		logVerify(t, tx.TxID)

		t.Run("control: with Dept1's peer it commits", func(t *testing.T) {
			id, prop, action := forgedRequest(t, dsID)
			st := shared.broadcast(t, dept2, shared.forged(t, prop, action, append([]string{victim}, coalition...)...))
			if !st.Valid() {
				t.Errorf("the same write set endorsed by %s's peer too committed %s: the forgery above was refused for another reason than the missing endorsement", victim, st.Code)
			}
			if _, err := shared.ledgerRead(t, victim, "GetRequest", id); err != nil {
				t.Errorf("control request %s: %v", id, err)
			}
		})
	})

	t.Run("Dept1 still registers its own dataset", func(t *testing.T) {
		id := uniqueID("honest")
		w := shared.as(t, victim, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional"))
		shared.settle(t, w)
		for _, m := range departments {
			var d domain.Dataset
			shared.as(t, m, "operator").must(http.StatusOK, http.MethodGet, "/v1/datasets/"+id, nil).json(t, &d)
			if d.Owner != victim {
				t.Errorf("the gateway of %s shows %s owned by %s", m, id, d.Owner)
			}
			out, err := shared.ledgerRead(t, m, "GetDataset", id)
			if err != nil {
				t.Errorf("the peer of %s: %v", m, err)
				continue
			}
			var l domain.Dataset
			if err := json.Unmarshal(out, &l); err != nil || l.Owner != victim || l.CreatedBy.MSPID != victim {
				t.Errorf("the peer of %s holds %s: %s (%v)", m, id, out, err)
			}
		}
	})
}

// forgedDataset is the coalition's proposal and action creating a new
// dataset owned by Dept1 and "created by" Dept1's operator, signed by
// Dept2's operator. The write set is the one RegisterDataset produces, each
// new key read as absent as a creation must be, without the owner's anchor
// (whose key-level policy names Dept1's peer): an attacker leaves out what
// would fail for another reason.
func forgedDataset(t *testing.T) (string, *forge.Proposal, forge.Action) {
	t.Helper()
	client := shared.user(t, dept2, "operator1")
	victimOp := shared.user(t, victim, "operator1").Actor() // only the public certificate is used
	id := uniqueID("forged-ds")
	now := time.Now().UTC()
	in := domain.DatasetInput{ID: id, Title: "Resident register (forged by a coalition)", Description: "Dept1 signed nothing",
		Fields: []string{"residentId", "address"}, UpdateFrequency: "daily", ShareType: domain.ShareUnconditional,
		OpenType: domain.OpenOpen, Grade: 1, DerivedFrom: []string{}}
	ds := &domain.Dataset{ID: id, Owner: victim, Title: in.Title, Description: in.Description, Fields: in.Fields,
		UpdateFrequency: in.UpdateFrequency, ShareType: in.ShareType, OpenType: in.OpenType, Grade: in.Grade,
		Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: victimOp, UpdatedBy: victimOp}
	key := entityKey(t, domain.KindDataset, id)
	ik, err := domain.DatasetOwnerKey(victim, id)
	if err != nil {
		t.Fatal(err)
	}
	var ws forge.RWSet
	ws.Read(key, nil)
	ws.Read(ik, nil)
	ws.Put(key, mustJSON(t, ds))
	ws.Put(ik, domain.IndexValue)
	mustSetEndorsers(t, &ws, key, victim)
	mustSetEndorsers(t, &ws, ik, victim)
	prop := proposal(t, client, forge.Invocation{Function: "RegisterDataset", Args: []string{string(mustJSON(t, in))}, Timestamp: now})
	return id, prop, forge.Action{
		RWSets: []forge.RWSet{ws},
		Event: event(t, domain.Event{Type: domain.EventDatasetRegistered, Kind: domain.KindDataset, ID: id, Time: now, Actor: victimOp,
			Status: string(ds.Status), DatasetID: id, Owner: victim, Dataset: ds}),
		Payload: mustJSON(t, ds),
	}
}

// forgedRequest is the coalition's proposal and action creating a request
// by Dept2 for Dept1's dataset dsID, already approved "by" Dept1's approver.
func forgedRequest(t *testing.T, dsID string) (string, *forge.Proposal, forge.Action) {
	t.Helper()
	client := shared.user(t, dept2, "operator1")
	now := time.Now().UTC()
	in := domain.RequestInput{DatasetID: dsID, Purpose: "verify benefit eligibility", LegalBasis: "none, in truth",
		Fields: []string{"householdId"}, ValidUntil: now.Add(30 * 24 * time.Hour).Truncate(time.Second)}
	prop := proposal(t, client, forge.Invocation{Function: "CreateRequest", Args: []string{string(mustJSON(t, in))}, Timestamp: now})
	id := "rq-" + prop.TxID[:24] // as the contract derives it
	approver := shared.user(t, victim, "approver1").Actor()
	rq := &domain.Request{ID: id, DatasetID: dsID, DatasetVersion: 1, Requester: dept2, Owner: victim,
		Fields: in.Fields, Purpose: in.Purpose, LegalBasis: in.LegalBasis, ValidUntil: in.ValidUntil,
		Status: domain.RequestApproved, Reason: "approved", CreatedAt: now, CreatedBy: client.Actor(),
		DecidedAt: &now, DecidedBy: &approver}
	key := entityKey(t, domain.KindRequest, id)
	var ws forge.RWSet
	ws.Read(key, nil)
	ws.Put(key, mustJSON(t, rq))
	mustSetEndorsers(t, &ws, key, victim, dept2)
	return id, prop, forge.Action{
		RWSets: []forge.RWSet{ws},
		Event: event(t, domain.Event{Type: domain.EventRequestCreated, Kind: domain.KindRequest, ID: id, Time: now, Actor: client.Actor(),
			Status: string(rq.Status), DatasetID: dsID, RequestID: id, Owner: victim, Requester: dept2, Request: rq}),
		Payload: mustJSON(t, rq),
	}
}

// expectPolicyFailure reports a forged transaction that the peers did not
// refuse as ENDORSEMENT_POLICY_FAILURE.
func expectPolicyFailure(t *testing.T, st forge.Status, what string) {
	t.Helper()
	if st.Code != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
		t.Errorf("ATTACK WENT THROUGH: %s committed %s in block %d, want ENDORSEMENT_POLICY_FAILURE", what, st.Code, st.Block)
	}
}

func mustSetEndorsers(t *testing.T, s *forge.RWSet, key string, orgs ...string) {
	t.Helper()
	if err := s.SetEndorsers(key, orgs...); err != nil {
		t.Fatal(err)
	}
}

// logVerify prints what the audit says of a transaction, for the record.
func logVerify(t *testing.T, txID string) {
	t.Helper()
	r := shared.as(t, auditor, "auditor").do(http.MethodGet, "/v1/audit/verify/"+txID, nil)
	t.Logf("verify %s: %d %s", txID, r.status, summary(r))
}
