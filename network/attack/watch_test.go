//go:build integration

package attack

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// TestWatchCatchesACoalitionsUseAfterTheEnd: the contract refuses usage
// once a request's approval has ended, but a usage record names only its
// consumer and the data's owner, so those two, running their own chaincode
// on their own peers, can write one (the trust model: a coalition of a
// record's parties can write what the rules forbid on records that name
// only them). What they cannot do is hide it: every department's indexer
// opens the same use-after-end finding from the ledger alone, naming the
// consumer, its person and the transaction.
//
// The record's parties are Dept2 (owner) and Dept3 (consumer); with the
// Bureau they are the majority that the chaincode-level policy asks of a
// new key (the coalition of this suite: a record naming only its members
// needs no other department's peer). Dept3's honest
// peer simulates the use while the approval is in force, under a proposal
// whose nonce the coalition keeps; after the end it signs a proposal with
// the same nonce (so the same transaction ID and usage ID) dated after the
// end, and both peers "endorse" the simulated writes with the time moved
// to that date, as modified chaincode would.
func TestWatchCatchesACoalitionsUseAfterTheEnd(t *testing.T) {
	owner, consumer := dept2, dept3
	dsID := uniqueID("after-end")
	shared.settle(t, shared.as(t, owner, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(dsID, "unconditional")))
	req := newRequest(dsID)
	until := time.Now().UTC().Add(8 * time.Second).Truncate(time.Second)
	req["validUntil"] = until.Format(time.RFC3339)
	var rq struct {
		Request domain.Request `json:"request"`
	}
	w := shared.as(t, consumer, "operator").must(http.StatusCreated, http.MethodPost, "/v1/requests", req)
	w.json(t, &rq)
	if rq.Request.Status != domain.RequestApproved {
		t.Fatalf("request %s is %s, want approved", rq.Request.ID, rq.Request.Status)
	}
	shared.settle(t, w)

	client := shared.user(t, consumer, "operator1")
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	args := []string{string(mustJSON(t, domain.UsageInput{RequestID: rq.Request.ID, Calls: 1, Records: 42}))}
	t1 := time.Now().UTC()
	early := proposal(t, client, forge.Invocation{Function: "RecordUsage", Args: args, Timestamp: t1, Nonce: nonce})
	honest, err := shared.peer(t, consumer).Endorse(ctx(t), early)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := forge.ParseResponse(honest)
	if err != nil {
		t.Fatal(err)
	}
	if sim.Status != 200 || sim.Event == nil {
		t.Fatalf("the honest simulation of the use in force: %d %s", sim.Status, sim.Message)
	}

	// After the end, the contract refuses the use on every honest peer.
	time.Sleep(time.Until(until) + 2*time.Second)
	t2 := time.Now().UTC()
	for _, m := range departments {
		refused, err := shared.peer(t, m).Endorse(ctx(t), proposal(t, client, forge.Invocation{Function: "RecordUsage", Args: args, Timestamp: t2}))
		if err == nil && refused.GetResponse().GetStatus() == 200 {
			t.Fatalf("the honest peer of %s endorsed a use after the end", m)
		}
	}

	late := proposal(t, client, forge.Invocation{Function: "RecordUsage", Args: args, Timestamp: t2, Nonce: nonce})
	if late.TxID != early.TxID {
		t.Fatalf("same nonce, different transaction IDs: %s, %s", early.TxID, late.TxID)
	}
	from, to := []byte(t1.Format(time.RFC3339Nano)), []byte(t2.Format(time.RFC3339Nano))
	if !bytes.Contains(sim.Payload, from) {
		t.Fatalf("the simulated usage %s does not hold its time %s", sim.Payload, from)
	}
	t.Logf("simulated write set: %s", describe(sim.RWSets))
	rw := make([]forge.RWSet, len(sim.RWSets))
	for i, s := range sim.RWSets {
		rw[i] = s
		rw[i].Writes = make([]forge.Write, len(s.Writes))
		for j, x := range s.Writes {
			x.Value = bytes.ReplaceAll(x.Value, from, to)
			rw[i].Writes[j] = x
		}
	}
	ev := &forge.Event{Name: sim.Event.Name, Payload: bytes.ReplaceAll(sim.Event.Payload, from, to)}
	tx := shared.forged(t, late, forge.Action{RWSets: rw, Event: ev, Payload: bytes.ReplaceAll(sim.Payload, from, to), ChaincodeVersion: sim.ChaincodeVersion}, coalition...)
	st := shared.commit(t, consumer, tx)
	if !st.Valid() {
		t.Fatalf("the coalition's use after the end was refused at validation (%s): the watch has nothing to catch; the trust model says a record's parties can write it", st.Code)
	}
	shared.indexed(t, st.Block)
	var u domain.Usage
	if err := json.Unmarshal(sim.Payload, &u); err != nil || u.ID == "" {
		t.Fatalf("usage answer %s: %v", sim.Payload, err)
	}

	id := "use-after-end/" + u.ID
	var first []byte
	for _, m := range departments {
		r := shared.indexer(t, m, "auditor", "/v1/audit/findings?kind=use-after-end&limit=1000")
		if r.status != http.StatusOK {
			t.Fatalf("findings at %s: %d %s", m, r.status, r.body)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		r.json(t, &page)
		var mine []byte
		for _, it := range page.Items {
			var f struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(it, &f) == nil && f.ID == id {
				mine = it
			}
		}
		if mine == nil {
			t.Errorf("ATTACK UNSEEN: the indexer of %s has no finding %s", m, id)
			continue
		}
		if first == nil {
			first = mine
			var f struct {
				State      string        `json:"state"`
				Department string        `json:"department"`
				Person     *domain.Actor `json:"person"`
				RequestID  string        `json:"requestId"`
				Records    int64         `json:"records"`
				Evidence   []struct {
					TxID string `json:"txId"`
				} `json:"evidence"`
			}
			json.Unmarshal(mine, &f)
			last := ""
			if len(f.Evidence) > 0 {
				last = f.Evidence[len(f.Evidence)-1].TxID
			}
			if f.State != "open" || f.Department != consumer || f.Person == nil || f.Person.MSPID != consumer ||
				f.RequestID != rq.Request.ID || f.Records != 42 || last != tx.TxID {
				t.Errorf("finding %s", mine)
			}
		} else if !bytes.Equal(first, mine) {
			t.Errorf("the indexer of %s holds %s, another %s", m, mine, first)
		}
	}
	t.Logf("%s", fmt.Sprint(string(first)))
}
