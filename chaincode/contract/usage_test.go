package contract

import (
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestRecordUsage(t *testing.T) {
	h := newHarness(t)
	r := h.approvedRequest() // no delivery needed: use through the owner's interface counts
	h.advance(time.Hour)
	var u domain.Usage
	out := h.submit(op2, &u, "RecordUsage", jsonOf(t, domain.UsageInput{RequestID: r.ID, Calls: 3, Records: 250}))
	if u.ID != "us-"+out.txID[:24] || u.RequestID != r.ID || u.DatasetID != r.DatasetID || u.Consumer != "Dept2MSP" ||
		u.Owner != "Dept1MSP" || u.Calls != 3 || u.Records != 250 || !u.At.Equal(h.now) || u.By.MSPID != "Dept2MSP" {
		t.Fatalf("usage %+v", u)
	}
	e := h.event(out, domain.EventUsageRecorded, domain.KindUsage, u.ID, op2)
	if e.Status != "" || e.RequestID != r.ID || e.DatasetID != r.DatasetID || e.Owner != "Dept1MSP" || e.Requester != "Dept2MSP" ||
		e.Usage == nil || *e.Usage != u {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindUsage, u.ID, "Dept1MSP", "Dept2MSP") // consumer and owner
	var got domain.Usage
	h.query(au3, &got, "GetUsage", u.ID)
	if got != u {
		t.Fatalf("GetUsage %+v, want %+v", got, u)
	}
	h.reject(au3, domain.CodeNotFound, "usage us-ghost does not exist", "GetUsage", "us-ghost")
	h.reject(au3, domain.CodeInvalid, "id is required", "GetUsage", "")
}

func TestRecordUsageRejects(t *testing.T) {
	tests := []struct {
		name, state, patch string
		as                 who
		code               domain.Code
		want               string
	}{
		{"owner's operator", "approved", `{}`, op1, domain.CodeForbidden, "only Dept2MSP may record usage under request"},
		{"third department", "approved", `{}`, op3, domain.CodeForbidden, "caller is from Dept3MSP"},
		{"requester's approver", "approved", `{}`, ap2, domain.CodeForbidden, "role operator is required to record usage; caller has role approver"},
		{"pending", "pending", `{}`, op2, domain.CodeConflict, "is pending, not approved"},
		{"rejected", "rejected", `{}`, op2, domain.CodeConflict, "is rejected, not approved"},
		{"revoked", "revoked", `{}`, op2, domain.CodeConflict, "is revoked, not approved"},
		{"expired", "expired", `{}`, op2, domain.CodeConflict, "is expired, not approved"},
		{"unknown request", "", `{}`, op2, domain.CodeNotFound, "request rq-ghost does not exist"},
		{"request ID missing", "approved", `{"requestId":""}`, op2, domain.CodeInvalid, "requestId is required"},
		{"calls zero", "approved", `{"calls":0}`, op2, domain.CodeInvalid, "calls must be positive"},
		{"records negative", "approved", `{"records":-5}`, op2, domain.CodeInvalid, "records must be between 0 and"},
		{"unknown field", "approved", `{"bytes":10}`, op2, domain.CodeInvalid, `unknown field "bytes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ids := requestStates(h)
			id, ok := ids[tt.state]
			if !ok {
				id = "rq-ghost"
			}
			in := domain.UsageInput{RequestID: id, Calls: 1, Records: 10}
			h.reject(tt.as, tt.code, tt.want, "RecordUsage", with(t, in, tt.patch))
		})
	}
}

func TestUsageCannotPrecedeItsApproval(t *testing.T) {
	usage := func(id string) string { return `{"requestId":"` + id + `","calls":1,"records":10}` }
	runBackwards(t, []backwardsCase{
		{"before the approval", func(h *harness) (who, string, string, []string) {
			p := h.pendingRequest()
			h.advance(time.Hour)
			h.submit(ap1, nil, "ApproveRequest", p.ID, `{}`)
			h.advance(-time.Minute)
			return op2, "request " + p.ID + " was approved at 2026-03-10T10:30:00.123456789Z; usage under it cannot be dated 2026-03-10T10:29:00.123456789Z",
				"RecordUsage", []string{usage(p.ID)}
		}},
		{"before an unconditional approval", func(h *harness) (who, string, string, []string) {
			h.registerDataset(op1, datasetInput("free", domain.ShareUnconditional))
			r := h.createRequest(op2, h.requestInput("free"))
			h.advance(-time.Nanosecond)
			return op2, "request " + r.ID + " was approved at 2026-03-10T09:30:00.123456789Z; usage under it cannot be dated 2026-03-10T09:30:00.123456788Z",
				"RecordUsage", []string{usage(r.ID)}
		}},
	})
	// Dated two weeks back while the peer's clock says now (the attack of
	// issue 11): the clock check refuses it before any rule is read.
	h := newHarness(t)
	a := h.approvedRequest()
	h.advance(-14 * 24 * time.Hour)
	h.peerOffset = 14 * 24 * time.Hour
	h.reject(op2, domain.CodeInvalid, "transaction timestamp 2026-02-24T09:30:00.123456789Z is 336h0m0s from this peer's clock (2026-03-10T09:30:00.123456789Z)",
		"RecordUsage", usage(a.ID))
}
