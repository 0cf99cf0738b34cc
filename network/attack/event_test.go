//go:build integration

package attack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// TestMirrorFollowsTheWriteSet is hole 2 of issue 11: a coalition's
// transaction writes a legitimate record of its own department, but its
// chaincode event says Dept1's dataset was updated with a forged title.
// Today the indexers apply the event; after the fix they must take the
// entities from the write set, record the event as an anomaly, show the
// true title, and verify must answer verified:false naming the failed
// check.
func TestMirrorFollowsTheWriteSet(t *testing.T) {
	// Dept1's dataset, honestly registered.
	d1ID := uniqueID("victim")
	w := shared.as(t, victim, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(d1ID, "conditional"))
	shared.settle(t, w)
	var d1 domain.Dataset
	out, err := shared.ledgerRead(t, victim, "GetDataset", d1ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &d1); err != nil {
		t.Fatal(err)
	}
	trueTitle := d1.Title

	// The write set: Dept2 registers a dataset of its own. Dept2's peer
	// simulates the honest RegisterDataset for Dept2's operator, who signs
	// the transaction, so the write set is exactly what the contract writes
	// (entity, catalog index, anchors, key-level policies); only the event
	// will be rewritten, as modified chaincode on the coalition's peers would.
	client := shared.user(t, dept2, "operator1")
	now := time.Now().UTC()
	d2ID := uniqueID("cover")
	in := domain.DatasetInput{ID: d2ID, Title: "Marriage registrations", Description: "a legitimate record",
		Fields: []string{"registrationId"}, UpdateFrequency: "monthly", ShareType: domain.ShareConditional,
		OpenType: domain.OpenRestricted, Grade: 2, DerivedFrom: []string{}}
	prop := proposal(t, client, forge.Invocation{Function: "RegisterDataset", Args: []string{string(mustJSON(t, in))}, Timestamp: now})
	honest, err := shared.peer(t, dept2).Endorse(ctx(t), prop)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := forge.ParseResponse(honest)
	if err != nil {
		t.Fatal(err)
	}
	if sim.Status != 200 || sim.Event == nil || sim.Event.Name != string(domain.EventDatasetRegistered) {
		t.Fatalf("the honest simulation of %s's registration: %d %s, event %+v", dept2, sim.Status, sim.Message, sim.Event)
	}
	var d2 domain.Dataset
	if err := json.Unmarshal(sim.Payload, &d2); err != nil || d2.Owner != dept2 {
		t.Fatalf("the honest simulation answered %s (%v)", sim.Payload, err)
	}
	t.Logf("write set of the honest simulation: %s", describe(sim.RWSets))

	// The event: Dept1's dataset "updated" by Dept1's operator.
	forgedTitle := "FORGED " + trueTitle
	fake := d1
	fake.Title, fake.Version, fake.UpdatedAt, fake.UpdatedBy = forgedTitle, d1.Version+1, now, shared.user(t, victim, "operator1").Actor()
	ev := event(t, domain.Event{Type: domain.EventDatasetUpdated, Kind: domain.KindDataset, ID: d1ID, Time: now, Actor: fake.UpdatedBy,
		Status: string(fake.Status), DatasetID: d1ID, Owner: victim, Dataset: &fake})

	tx := shared.forged(t, prop, forge.Action{RWSets: sim.RWSets, Event: ev, Payload: sim.Payload, ChaincodeVersion: sim.ChaincodeVersion}, coalition...)
	st := shared.commit(t, dept2, tx)
	shared.indexed(t, st.Block)

	t.Run("the ledger keeps the true title", func(t *testing.T) {
		for _, m := range departments {
			out, err := shared.ledgerRead(t, m, "GetDataset", d1ID)
			if err != nil {
				t.Errorf("the peer of %s: %v", m, err)
				continue
			}
			var d domain.Dataset
			if err := json.Unmarshal(out, &d); err != nil || d.Title != trueTitle || d.Version != d1.Version {
				t.Errorf("the peer of %s holds %s as %s", m, d1ID, clip(out))
			}
		}
	})

	t.Run("no indexer shows the forged title", func(t *testing.T) {
		for _, m := range departments {
			var d domain.Dataset
			shared.as(t, m, "operator").must(http.StatusOK, http.MethodGet, "/v1/datasets/"+d1ID, nil).json(t, &d)
			if d.Title != trueTitle || d.Version != d1.Version {
				t.Errorf("ATTACK WENT THROUGH: the gateway of %s shows dataset %s as %q version %d (the ledger: %q version %d)",
					m, d1ID, d.Title, d.Version, trueTitle, d1.Version)
			}
		}
	})

	if st.Valid() {
		t.Run("the mirror holds what was written", func(t *testing.T) {
			for _, m := range departments {
				r := shared.as(t, m, "operator").do(http.MethodGet, "/v1/datasets/"+d2ID, nil)
				var d domain.Dataset
				if r.status != http.StatusOK || json.Unmarshal(r.body, &d) != nil || d.Owner != dept2 || d.Title != d2.Title {
					t.Errorf("the gateway of %s does not show %s, which transaction %s wrote: %d %s", m, d2ID, tx.TxID, r.status, clip(r.body))
				}
			}
		})
	}

	t.Run("verify names the failed check", func(t *testing.T) {
		var answers []map[string]any
		check := func(where string, r response) {
			t.Logf("verify %s at %s: %d %s", tx.TxID, where, r.status, summary(r))
			if !st.Valid() && r.status == http.StatusNotFound {
				return // refused at validation, so never indexed: nothing to verify
			}
			if r.status != http.StatusOK {
				t.Errorf("verify %s at %s: %d %s", tx.TxID, where, r.status, r.body)
				return
			}
			var v verifyAnswer
			r.json(t, &v)
			var raw map[string]any
			r.json(t, &raw)
			answers = append(answers, raw)
			if v.Verified {
				t.Errorf("ATTACK WENT THROUGH: verify %s at %s answers verified:true for an event that its write set contradicts", tx.TxID, where)
			} else if st.Valid() && len(v.failed()) == 0 {
				t.Errorf("verify %s at %s answers verified:false without naming a failed check: %s", tx.TxID, where, r.body)
			}
		}
		check("the gateway of "+auditor, shared.as(t, auditor, "auditor").do(http.MethodGet, "/v1/audit/verify/"+tx.TxID, nil))
		for _, m := range departments {
			check("the indexer of "+m, shared.indexer(t, m, "auditor", "/v1/audit/verify/"+tx.TxID))
		}
		if !st.Valid() {
			return
		}
		// Verify names the write-set check, and every indexer lists the
		// transaction among its anomalies, with the check it failed and the
		// event as it was received.
		for _, a := range answers {
			raw, _ := json.Marshal(a)
			var v verifyAnswer
			_ = json.Unmarshal(raw, &v)
			if !slices.ContainsFunc(v.failed(), func(f string) bool { return strings.HasPrefix(f, "event.writeSet:") }) {
				t.Errorf("verify %s fails %v, want event.writeSet among them", tx.TxID, v.failed())
			}
		}
		for _, m := range departments {
			a, ok := shared.anomaly(t, m, tx.TxID)
			if !ok {
				t.Errorf("the indexer of %s does not list %s among its anomalies", m, tx.TxID)
				continue
			}
			if a.Check == "" || a.Event == nil || a.Event["type"] != string(domain.EventDatasetUpdated) {
				t.Errorf("the indexer of %s lists %s as anomaly %+v, want the failed check and the forged event", m, tx.TxID, a)
			}
		}
	})

	t.Run("the audit trail does not present the forgery as applied", func(t *testing.T) {
		for _, m := range departments {
			for _, it := range shared.trace(t, m, "dataset", d1ID) {
				raw, _ := json.Marshal(it)
				if !strings.Contains(string(raw), forgedTitle) {
					continue
				}
				marked := false
				for _, v := range anomalyFields(it) {
					marked = marked || truthy(v)
				}
				if !marked {
					t.Errorf("ATTACK WENT THROUGH: the trace of %s on the indexer of %s shows the forged event (tx %v, type %v) as an applied change", d1ID, m, it["txId"], it["type"])
				}
			}
		}
	})
}

var anomalyName = regexp.MustCompile(`(?i)anomal`)

// describe lists the keys a read-write set reads and writes, separators shown.
func describe(sets []forge.RWSet) string {
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "[%s: reads", s.Namespace)
		for _, r := range s.Reads {
			fmt.Fprintf(&b, " %s@%v", printable(r.Key), r.Version)
		}
		b.WriteString("; writes")
		for _, w := range s.Writes {
			fmt.Fprintf(&b, " %s", printable(w.Key))
		}
		b.WriteString("; metadata")
		for _, m := range s.MetadataWrites {
			fmt.Fprintf(&b, " %s", printable(m.Key))
		}
		b.WriteString("]")
	}
	return b.String()
}

func printable(key string) string { return strings.ReplaceAll(key, "\x00", "|") }

// anomalyFields returns every value, at any depth of a decoded JSON
// document, under a key whose name speaks of an anomaly, and every string
// value that does (a "kind": "anomaly" marker).
func anomalyFields(v any) []any {
	var out []any
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); anomalyName.MatchString(k) || ok && anomalyName.MatchString(s) {
				out = append(out, e)
			}
			out = append(out, anomalyFields(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, anomalyFields(e)...)
		}
	}
	return out
}

// truthy reports whether a decoded JSON value says something: not null,
// false, 0, "" or empty.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// listedAnomaly is one item of an indexer's GET /v1/audit/anomalies.
type listedAnomaly struct {
	TxID  string         `json:"txId"`
	Check string         `json:"check"`
	Event map[string]any `json:"event"`
}

// anomaly finds txID among the anomalies msp's indexer lists, page by page.
func (c *consortium) anomaly(t *testing.T, msp, txID string) (listedAnomaly, bool) {
	t.Helper()
	cursor := ""
	for {
		path := "/v1/audit/anomalies?limit=1000"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := c.indexer(t, msp, "auditor", path)
		if r.status != http.StatusOK {
			t.Fatalf("anomalies on the indexer of %s: %d %s", msp, r.status, r.body)
		}
		var page struct {
			Items      []listedAnomaly `json:"items"`
			NextCursor string          `json:"nextCursor"`
		}
		r.json(t, &page)
		for _, a := range page.Items {
			if a.TxID == txID {
				return a, true
			}
		}
		if page.NextCursor == "" {
			return listedAnomaly{}, false
		}
		cursor = page.NextCursor
	}
}
