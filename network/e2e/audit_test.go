//go:build integration

package e2e

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

type verifyAnswer struct {
	Verified    bool   `json:"verified"`
	TxID        string `json:"txId"`
	BlockNumber uint64 `json:"blockNumber"`
	Checks      []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

// TestAuditTrail: an auditor follows a dataset through lineage, metering,
// the trace and its export, checks each event against the ledger itself,
// and checks the block hash chain.
func TestAuditTrail(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	parent := uniqueID("census")
	child := uniqueID("households")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(parent, "unconditional"))
	derived := newDataset(child, "unconditional")
	derived["derivedFrom"] = []string{parent}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", derived)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+child, http.StatusOK) })
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(child)).json(t, &rq)
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	var dl struct {
		TxID     string   `json:"txId"`
		Delivery delivery `json:"delivery"`
	}
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(child), "records": 40, "bytes": 4000, "channel": "sftp"}).json(t, &dl)
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/deliveries/"+dl.Delivery.ID, http.StatusOK) })
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 2, "records": 40})
	var usage struct {
		BlockNumber uint64 `json:"blockNumber"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/contributions", map[string]any{"datasetId": child, "records": 5, "bytes": 50, "sha256": sha("pool")}).json(t, &usage)
	eventually(t, 10*time.Second, func() error {
		var st struct {
			Height uint64 `json:"height"`
		}
		if err := getJSON(indexerClient(t, "BureauMSP"), indexerURL(t, "BureauMSP")+"/internal/status", &st); err != nil {
			return err
		}
		if st.Height <= usage.BlockNumber {
			return fmt.Errorf("bureau index at %d, want past %d", st.Height, usage.BlockNumber)
		}
		return nil
	})

	t.Run("lineage up and down", func(t *testing.T) {
		var lin struct {
			Upstream []struct {
				ID string `json:"id"`
			} `json:"upstream"`
			Downstream []struct {
				ID string `json:"id"`
			} `json:"downstream"`
		}
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/lineage/"+child, nil).json(t, &lin)
		if len(lin.Upstream) != 1 || lin.Upstream[0].ID != parent || len(lin.Downstream) != 0 {
			t.Fatalf("lineage of %s: %+v", child, lin)
		}
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/lineage/"+parent, nil).json(t, &lin)
		if len(lin.Downstream) != 1 || lin.Downstream[0].ID != child {
			t.Fatalf("lineage of %s: %+v", parent, lin)
		}
		owner.must(http.StatusForbidden, http.MethodGet, "/v1/audit/lineage/"+parent, nil)
	})

	t.Run("trace and export agree", func(t *testing.T) {
		var tr struct {
			Items []struct {
				TxID        string `json:"txId"`
				BlockNumber uint64 `json:"blockNumber"`
				Type        string `json:"type"`
				MSPID       string `json:"mspId"`
				Actor       string `json:"actor"`
			} `json:"items"`
		}
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/trace?dataset="+child, nil).json(t, &tr)
		var types []string
		for i, it := range tr.Items {
			types = append(types, it.Type)
			if it.TxID == "" || it.Actor == "" || (i > 0 && it.BlockNumber < tr.Items[i-1].BlockNumber) {
				t.Fatalf("trace item %d: %+v", i, it)
			}
		}
		want := "dataset.registered request.created delivery.recorded usage.recorded contribution.recorded"
		if strings.Join(types, " ") != want {
			t.Fatalf("trace of %s: %v, want %s", child, types, want)
		}
		r := auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/export?dataset="+child+"&format=csv", nil)
		if !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("export Content-Disposition %q", r.header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v", err)
		}
		if len(rows) != len(tr.Items)+1 {
			t.Fatalf("export has %d rows, want a header and %d events", len(rows), len(tr.Items))
		}
		for i, it := range tr.Items {
			if !strings.Contains(strings.Join(rows[i+1], ","), it.TxID) {
				t.Fatalf("export row %d lacks %s: %v", i+1, it.TxID, rows[i+1])
			}
		}
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/export?dataset="+child+"&format=json", nil)
	})

	t.Run("metering counts the use", func(t *testing.T) {
		from := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		var m struct {
			Items []struct {
				Department    string `json:"department"`
				Dataset       string `json:"dataset"`
				Calls         int64  `json:"calls"`
				Records       int64  `json:"records"`
				Bytes         int64  `json:"bytes"`
				Deliveries    int64  `json:"deliveries"`
				Contributions int64  `json:"contributions"`
			} `json:"items"`
		}
		q := url.Values{"dataset": {child}, "bucket": {"hour"}, "from": {from}, "to": {to}}
		owner.must(http.StatusOK, http.MethodGet, "/v1/metering?"+q.Encode(), nil).json(t, &m)
		var calls, deliveries, contributions int64
		for _, it := range m.Items {
			calls += it.Calls
			deliveries += it.Deliveries
			contributions += it.Contributions
		}
		if calls != 2 || deliveries != 1 || contributions != 1 {
			t.Fatalf("metering of %s: calls %d deliveries %d contributions %d: %+v", child, calls, deliveries, contributions, m.Items)
		}
		owner.must(http.StatusBadRequest, http.MethodGet, "/v1/metering?bucket=fortnight", nil)
	})

	t.Run("lists of shared records", func(t *testing.T) {
		for _, path := range []string{
			"/v1/deliveries?request=" + rq.Request.ID, "/v1/usage?request=" + rq.Request.ID,
			"/v1/contributions?dataset=" + child,
		} {
			var l struct {
				Items []json.RawMessage `json:"items"`
			}
			auditor.must(http.StatusOK, http.MethodGet, path, nil).json(t, &l)
			if len(l.Items) != 1 {
				t.Fatalf("%s: %d items, want 1", path, len(l.Items))
			}
		}
		// Dept3 is party to none of it.
		shared.as(t, "Dept3MSP", "operator").must(http.StatusForbidden, http.MethodGet, "/v1/deliveries/"+dl.Delivery.ID, nil)
	})

	t.Run("verify against the ledger", func(t *testing.T) {
		var v verifyAnswer
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/verify/"+dl.TxID, nil).json(t, &v)
		if !v.Verified || len(v.Checks) == 0 {
			t.Fatalf("verify %s: %+v", dl.TxID, v)
		}
		for _, c := range v.Checks {
			if !c.OK {
				t.Fatalf("check %s failed on a real transaction: %s", c.Name, c.Detail)
			}
		}
		auditor.must(http.StatusNotFound, http.MethodGet, "/v1/audit/verify/"+strings.Repeat("ab", 32), nil)
	})

	t.Run("hash chain", func(t *testing.T) {
		var ch struct {
			Verified bool `json:"verified"`
		}
		auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/chain?from=0", nil).json(t, &ch)
		if !ch.Verified {
			t.Fatal("the hash chain from genesis does not verify")
		}
		auditor.must(http.StatusBadRequest, http.MethodGet, "/v1/audit/chain?from=x", nil)
	})
}

// TestVerifyCatchesTamperedMirror: an entry of an indexer's mirror is
// rewritten behind its back (its Badger opened while it is stopped); the
// auditor's verification of that transaction against the ledger fails and
// names the check; a rebuild from the ledger repairs the mirror.
func TestVerifyCatchesTamperedMirror(t *testing.T) {
	owner := shared.as(t, "Dept1MSP", "operator")
	auditor := shared.as(t, "BureauMSP", "auditor")
	id := uniqueID("tamper")
	var w datasetWrite
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "conditional")).json(t, &w)
	eventually(t, 10*time.Second, func() error { return statusIs(auditor, "/v1/audit/verify/"+w.TxID, http.StatusOK) })
	var v verifyAnswer
	auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/verify/"+w.TxID, nil).json(t, &v)
	if !v.Verified {
		t.Fatalf("verify before tampering: %+v", v)
	}

	const ix = "indexer-bureau"
	consortiumCmd(t, "stop", ix)
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(shared.run, "data", ix)).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	key := append([]byte("ent/dataset\x00\x01"), id...)
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return fmt.Errorf("mirror entry %q: %w", key, err)
		}
		val, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		forged := strings.Replace(string(val), w.Dataset.Title, "A title nobody wrote", 1)
		if forged == string(val) {
			return fmt.Errorf("title %q not in the mirror entry %s", w.Dataset.Title, val)
		}
		return txn.Set(key, []byte(forged))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	consortiumCmd(t, "start", ix)

	auditor.must(http.StatusOK, http.MethodGet, "/v1/audit/verify/"+w.TxID, nil).json(t, &v)
	if v.Verified {
		t.Fatalf("verification passed on a tampered mirror: %+v", v)
	}
	var failed []string
	for _, c := range v.Checks {
		if !c.OK {
			failed = append(failed, c.Name)
		}
	}
	// The mirror's bytes differ from what the transaction wrote, and from
	// what the peer holds now: exactly those two checks fail.
	if strings.Join(failed, ",") != "event.entity,state.peer" {
		t.Fatalf("failed checks %v, want exactly event.entity and state.peer", failed)
	}

	// Repair: the mirror is rebuilt from the ledger and agrees again.
	spec := readProcSpec(t, ix)
	consortiumCmd(t, "stop", ix)
	if out, err := execOut(spec.Bin, "rebuild", "-config", spec.Args[len(spec.Args)-1]); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	consortiumCmd(t, "start", ix)
	eventually(t, 30*time.Second, func() error {
		var v verifyAnswer
		r := auditor.do(http.MethodGet, "/v1/audit/verify/"+w.TxID, nil)
		if r.status != http.StatusOK {
			return fmt.Errorf("verify after rebuild: %d %s", r.status, r.body)
		}
		r.json(t, &v)
		if !v.Verified {
			return fmt.Errorf("verify after rebuild: %+v", v)
		}
		return nil
	})
}
