//go:build integration

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// indexerGet asks a department's indexer directly, as the gateway does for
// a caller of the given role.
func indexerGet(t *testing.T, msp, role, path string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, indexerURL(t, msp)+path, nil)
	req.Header.Set("X-Caller-Msp", msp)
	req.Header.Set("X-Caller-Role", role)
	req.Header.Set("X-Caller-User", "e2e")
	resp, err := indexerClient(t, msp).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

type scoresDoc struct {
	Period      string `json:"period"`
	AsOfBlock   uint64 `json:"asOfBlock"`
	InputDigest string `json:"inputDigest"`
	ModelDigest string `json:"modelDigest"`
	Items       []struct {
		MSPID     string             `json:"mspId"`
		Rank      int                `json:"rank"`
		Score     float64            `json:"score"`
		Breakdown map[string]float64 `json:"breakdown"`
	} `json:"items"`
}

// TestScoresAreReproducible: every department's indexer computes the same
// score document, byte for byte, for the same period and ledger height,
// from its own mirror; the evaluator sees it through the gateway, ranked
// with a breakdown; other roles may not.
func TestScoresAreReproducible(t *testing.T) {
	// Some activity this month, so scores have something to rank.
	owner := shared.as(t, "Dept1MSP", "operator")
	consumer := shared.as(t, "Dept2MSP", "operator")
	id := uniqueID("score")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/datasets/"+id, http.StatusOK) })
	var rq struct {
		Request request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(id)).json(t, &rq)
	eventually(t, 10*time.Second, func() error { return statusIs(owner, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	owner.must(http.StatusCreated, http.MethodPost, "/v1/requests/"+rq.Request.ID+"/deliveries",
		map[string]any{"sha256": sha(id), "records": 500, "bytes": 9000, "channel": "api"})
	eventually(t, 10*time.Second, func() error { return statusIs(consumer, "/v1/requests/"+rq.Request.ID, http.StatusOK) })
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/usage", map[string]any{"requestId": rq.Request.ID, "calls": 7, "records": 300})

	period := time.Now().UTC().Format("2006-01")
	height := settledHeight(t)
	asOf := height - 1
	var first []byte
	for _, d := range shared.eps.Departments {
		digestAt(t, d.MSPID, height)
		code, body := indexerGet(t, d.MSPID, "evaluator", fmt.Sprintf("/v1/scores?period=%s&asOfBlock=%d", period, asOf))
		if code != http.StatusOK {
			t.Fatalf("scores at %s: %d %s", d.MSPID, code, body)
		}
		if first == nil {
			first = body
			continue
		}
		if !bytes.Equal(body, first) {
			t.Fatalf("scores differ between departments' indexers:\n%s\n%s", first, body)
		}
	}
	var doc scoresDoc
	if err := json.Unmarshal(first, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Period != period || doc.AsOfBlock != asOf || len(doc.InputDigest) != 64 || len(doc.Items) != len(shared.eps.Departments) {
		t.Fatalf("score document %+v", doc)
	}
	for i, it := range doc.Items {
		if it.Rank != i+1 || len(it.Breakdown) == 0 {
			t.Fatalf("item %d: %+v", i, it)
		}
	}

	ev := shared.as(t, "BureauMSP", "evaluator")
	var viaGateway scoresDoc
	ev.must(http.StatusOK, http.MethodGet, fmt.Sprintf("/v1/scores?period=%s&asOfBlock=%d", period, asOf), nil).json(t, &viaGateway)
	if viaGateway.InputDigest != doc.InputDigest {
		t.Fatalf("gateway scores digest %s, indexer %s", viaGateway.InputDigest, doc.InputDigest)
	}
	ev.must(http.StatusOK, http.MethodGet, fmt.Sprintf("/v1/scores/Dept1MSP?period=%s", period), nil)
	shared.as(t, "Dept1MSP", "operator").must(http.StatusForbidden, http.MethodGet, "/v1/scores?period="+period, nil)
	ev.must(http.StatusBadRequest, http.MethodGet, "/v1/scores?period=2026-13", nil)
}

// snapshotPeriod is the period the e2e tests publish: three months ago, so
// that it is over (the current month cannot be published) and is not one of
// those the attack tests publish on the same ledger (the two before).
func snapshotPeriod() string {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()-3, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

// awaitAttested waits until every department's gateway has attested the
// snapshot of period, so that no attestation is still to be written when a
// later test needs the ledger quiet.
func awaitAttested(t *testing.T, ev *person, period string) {
	t.Helper()
	eventually(t, 90*time.Second, func() error {
		var a struct {
			Attestations []json.RawMessage `json:"attestations"`
			Summary      string            `json:"summary"`
		}
		ev.must(http.StatusOK, http.MethodGet, "/v1/scores/snapshots/"+period, nil).json(t, &a)
		if len(a.Attestations) != len(shared.eps.Departments) {
			return fmt.Errorf("%d of %d departments attested %s: %s", len(a.Attestations), len(shared.eps.Departments), period, a.Summary)
		}
		return nil
	})
}

// TestPublishSnapshot: an evaluator publishes a past period's scores on the
// ledger; the published document is what any department's indexer
// recomputes at the same height; a period is published once, only once it
// is over, and the ledger's copy can be read back with every department's
// attestation.
func TestPublishSnapshot(t *testing.T) {
	ev := shared.as(t, "BureauMSP", "evaluator")
	period := snapshotPeriod()
	type snapshot struct {
		scoresDoc
		PublishedBy struct {
			MSPID string `json:"mspId"`
			Role  string `json:"role"`
		} `json:"publishedBy"`
	}
	var snap snapshot
	r := ev.do(http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": period})
	switch r.status {
	case http.StatusCreated:
		var w struct {
			TxID     string   `json:"txId"`
			Snapshot snapshot `json:"snapshot"`
		}
		r.json(t, &w)
		if w.TxID == "" {
			t.Fatalf("publish answered no txId: %s", r.body)
		}
		snap = w.Snapshot
	case http.StatusConflict:
		// Published by an earlier run on this ledger: the rest still holds.
		t.Logf("period %s was already published on this ledger", period)
	default:
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	var onLedger struct {
		snapshot
		Attestations []struct {
			MSPID   string `json:"mspId"`
			Matched bool   `json:"matched"`
		} `json:"attestations"`
		Official bool   `json:"official"`
		Summary  string `json:"summary"`
	}
	// Every department's gateway attests it within seconds.
	awaitAttested(t, ev, period)
	ev.must(http.StatusOK, http.MethodGet, "/v1/scores/snapshots/"+period, nil).json(t, &onLedger)
	if !onLedger.Official {
		t.Fatalf("the honest snapshot of %s is not official: %s", period, onLedger.Summary)
	}
	if snap.Period != "" && (onLedger.InputDigest != snap.InputDigest || onLedger.AsOfBlock != snap.AsOfBlock) {
		t.Fatalf("ledger copy %+v differs from the published answer %+v", onLedger, snap)
	}
	if onLedger.Period != period || onLedger.PublishedBy.MSPID != "BureauMSP" || onLedger.PublishedBy.Role != "evaluator" {
		t.Fatalf("snapshot on the ledger %+v", onLedger)
	}
	for _, d := range shared.eps.Departments {
		code, body := indexerGet(t, d.MSPID, "auditor", fmt.Sprintf("/v1/scores?period=%s&asOfBlock=%d", period, onLedger.AsOfBlock))
		if code != http.StatusOK {
			t.Fatalf("recompute at %s: %d %s", d.MSPID, code, body)
		}
		var again scoresDoc
		if err := json.Unmarshal(body, &again); err != nil {
			t.Fatal(err)
		}
		if again.InputDigest != onLedger.InputDigest || again.ModelDigest != onLedger.ModelDigest || len(again.Items) != len(onLedger.Items) {
			t.Fatalf("recomputed at %s %+v, published %+v", d.MSPID, again, onLedger.snapshot.scoresDoc)
		}
		for i := range again.Items {
			if again.Items[i].MSPID != onLedger.Items[i].MSPID || again.Items[i].Score != onLedger.Items[i].Score || again.Items[i].Rank != onLedger.Items[i].Rank {
				t.Fatalf("item %d at %s: recomputed %+v, published %+v", i, d.MSPID, again.Items[i], onLedger.Items[i])
			}
		}
	}
	ev.must(http.StatusConflict, http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": period})
	shared.as(t, "BureauMSP", "auditor").must(http.StatusForbidden, http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": period})
	ev.must(http.StatusBadRequest, http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": "last month"})
	// The current month is not over: it cannot be published (or frozen).
	ev.must(http.StatusConflict, http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": time.Now().UTC().Format("2006-01")})
}
