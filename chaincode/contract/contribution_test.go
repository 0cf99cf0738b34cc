package contract

import (
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestRecordContribution(t *testing.T) {
	tests := []struct {
		name string
		as   who
	}{
		{"another department", op3},
		{"a second department", op2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			pool := h.registerDataset(op1, datasetInput("pool", domain.ShareConditional))
			var c domain.Contribution
			out := h.submit(tt.as, &c, "RecordContribution", jsonOf(t, domain.ContributionInput{DatasetID: pool.ID, Records: 40, Bytes: 900, SHA256: hashB}))
			if c.ID != "cb-"+out.txID[:24] || c.DatasetID != "pool" || c.Contributor != tt.as.msp || c.Owner != "Dept1MSP" ||
				c.Records != 40 || c.Bytes != 900 || c.SHA256 != hashB || !c.At.Equal(h.now) || c.By.MSPID != tt.as.msp {
				t.Fatalf("contribution %+v", c)
			}
			e := h.event(out, domain.EventContributionAdded, domain.KindContribution, c.ID, tt.as)
			if e.DatasetID != "pool" || e.Owner != "Dept1MSP" || e.Requester != tt.as.msp || e.Contribution == nil || *e.Contribution != c {
				t.Errorf("event %+v", e)
			}
			h.wantEndorsers(domain.KindContribution, c.ID, union([]string{"Dept1MSP"}, []string{tt.as.msp})...) // contributor and pool owner
			var got domain.Contribution
			h.query(au3, &got, "GetContribution", c.ID)
			if got != c {
				t.Fatalf("GetContribution %+v", got)
			}
		})
	}
	h := newHarness(t)
	h.reject(au3, domain.CodeNotFound, "contribution cb-ghost does not exist", "GetContribution", "cb-ghost")
}

func TestRecordContributionRejects(t *testing.T) {
	valid := domain.ContributionInput{DatasetID: "pool", Records: 1, Bytes: 1, SHA256: hashA}
	tests := []struct {
		name, patch string
		as          who
		code        domain.Code
		want        string
	}{
		{"evaluator", `{}`, ev3, domain.CodeForbidden, "role operator is required to record a contribution; caller has role evaluator"},
		{"retired pool", `{"datasetId":"closed"}`, op3, domain.CodeConflict, "dataset closed is retired; contributions go only to an active dataset"},
		{"unknown pool", `{"datasetId":"ghost"}`, op3, domain.CodeNotFound, "dataset ghost does not exist"},
		{"dataset ID missing", `{"datasetId":""}`, op3, domain.CodeInvalid, "datasetId is required"},
		{"records zero", `{"records":0}`, op3, domain.CodeInvalid, "records must be positive"},
		{"bytes zero", `{"bytes":0}`, op3, domain.CodeInvalid, "bytes must be positive"},
		{"bad hash", `{"sha256":"12"}`, op3, domain.CodeInvalid, "sha256 must be a lowercase hex SHA-256"},
		{"contributor forged", `{"contributor":"Dept1MSP"}`, op3, domain.CodeInvalid, `unknown field "contributor"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("pool", domain.ShareConditional))
			h.registerDataset(op1, datasetInput("closed", domain.ShareConditional))
			h.submit(op1, nil, "RetireDataset", "closed", `{}`)
			h.reject(tt.as, tt.code, tt.want, "RecordContribution", with(t, valid, tt.patch))
		})
	}
}

func TestContributionCannotPrecedeItsPool(t *testing.T) {
	runBackwards(t, []backwardsCase{
		{"before the pool was registered", func(h *harness) (who, string, string, []string) {
			h.registerDataset(op1, datasetInput("pool", domain.ShareConditional))
			h.advance(-time.Minute)
			return op3, "dataset pool was registered at 2026-03-10T09:30:00.123456789Z; a contribution to it cannot be dated 2026-03-10T09:29:00.123456789Z",
				"RecordContribution", []string{jsonOf(h.t, domain.ContributionInput{DatasetID: "pool", Records: 1, Bytes: 1, SHA256: hashA})}
		}},
	})
}
