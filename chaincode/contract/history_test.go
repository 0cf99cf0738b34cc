package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestHistory(t *testing.T) {
	h := newHarness(t)
	start := h.now
	reg := h.submit(op1, nil, "RegisterDataset", jsonOf(t, datasetInput("households", domain.ShareConditional)))
	h.advance(time.Hour)
	upd := h.submit(op1, nil, "UpdateDataset", "households", jsonOf(t, datasetInput("", domain.ShareUnconditional)))
	h.advance(time.Hour)
	ret := h.submit(op1, nil, "RetireDataset", "households", `{"reason":"superseded"}`)

	var hist []HistoryEntry
	h.query(au3, &hist, "History", "dataset", "households")
	if len(hist) != 3 {
		t.Fatalf("history has %d entries, want 3", len(hist))
	}
	wantTx := []string{reg.txID, upd.txID, ret.txID}
	wantTime := []time.Time{start, start.Add(time.Hour), start.Add(2 * time.Hour)}
	wantVersion := []int{1, 2, 2}
	wantStatus := []domain.DatasetStatus{domain.DatasetActive, domain.DatasetActive, domain.DatasetRetired}
	for i, e := range hist {
		var d domain.Dataset
		if err := json.Unmarshal(e.Value, &d); err != nil {
			t.Fatalf("entry %d value %s: %v", i, e.Value, err)
		}
		if e.TxID != wantTx[i] || !e.Timestamp.Equal(wantTime[i]) || e.IsDelete || d.Version != wantVersion[i] || d.Status != wantStatus[i] {
			t.Errorf("entry %d: %s %v delete=%v version %d %s", i, e.TxID, e.Timestamp, e.IsDelete, d.Version, d.Status)
		}
	}

	// Departments are keyed by MSP ID, snapshots by period.
	h.submit(ad1, nil, "SetDepartment", `{"name":"A","code":"A","level":"county"}`)
	h.query(au3, &hist, "History", "department", "Dept1MSP")
	if len(hist) != 1 {
		t.Fatalf("department history %+v", hist)
	}
	h.submit(ev3, nil, "PublishScores", jsonOf(t, scores()))
	h.query(au3, &hist, "History", "snapshot", "2026-02")
	if len(hist) != 1 {
		t.Fatalf("snapshot history %+v", hist)
	}
}

func TestHistoryRejects(t *testing.T) {
	tests := []struct {
		name, kind, id string
		code           domain.Code
		want           string
	}{
		{"unknown kind", "person", "x", domain.CodeInvalid, `kind "person" must be one of`},
		{"index is not a kind", "dataset~owner", "x", domain.CodeInvalid, "must be one of"},
		{"bad ID", "dataset", "a b", domain.CodeInvalid, `id "a b" must be`},
		{"bad MSP ID", "department", "a b", domain.CodeInvalid, "is not a valid MSP ID"},
		{"bad period", "snapshot", "2026", domain.CodeInvalid, `period "2026" must be YYYY-MM`},
		{"unknown dataset", "dataset", "ghost", domain.CodeNotFound, "dataset ghost does not exist"},
		{"unknown request", "request", "rq-ghost", domain.CodeNotFound, "request rq-ghost does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reject(au3, tt.code, tt.want, "History", tt.kind, tt.id)
		})
	}
}
