package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestCorrectionLifecycle(t *testing.T) {
	h := newHarness(t)
	d := h.received()
	h.advance(time.Hour)
	var c domain.Correction
	out := h.submit(op2, &c, "OpenCorrection", jsonOf(t, domain.CorrectionInput{DeliveryID: d.ID, Description: "district codes off by one"}))
	if c.ID != "cr-"+out.txID[:24] || c.DeliveryID != d.ID || c.RequestID != d.RequestID || c.DatasetID != d.DatasetID ||
		c.Requester != "Dept2MSP" || c.Owner != "Dept1MSP" || c.Status != domain.CorrectionOpen || c.Description != "district codes off by one" ||
		!c.OpenedAt.Equal(h.now) || c.OpenedBy.MSPID != "Dept2MSP" || c.ResolvedAt != nil || c.ResolvedBy != nil {
		t.Fatalf("opened %+v", c)
	}
	e := h.event(out, domain.EventCorrectionOpened, domain.KindCorrection, c.ID, op2)
	if e.Status != "open" || e.DatasetID != d.DatasetID || e.RequestID != d.RequestID || e.Owner != "Dept1MSP" ||
		e.Requester != "Dept2MSP" || e.Correction == nil || e.Correction.ID != c.ID {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindCorrection, c.ID, "Dept1MSP", "Dept2MSP")

	h.advance(2 * time.Hour)
	var r domain.Correction
	out = h.submit(op1, &r, "ResolveCorrection", c.ID, `{"resolution":"codes remapped, v2 delivered"}`)
	if r.Status != domain.CorrectionResolved || r.Resolution != "codes remapped, v2 delivered" || r.ResolvedAt == nil ||
		!r.ResolvedAt.Equal(h.now) || r.ResolvedBy == nil || r.ResolvedBy.MSPID != "Dept1MSP" || !r.OpenedAt.Equal(c.OpenedAt) {
		t.Fatalf("resolved %+v", r)
	}
	e = h.event(out, domain.EventCorrectionResolved, domain.KindCorrection, c.ID, op1)
	if e.Status != "resolved" || e.Correction == nil || e.Correction.Status != domain.CorrectionResolved {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindCorrection, c.ID, "Dept1MSP", "Dept2MSP")
	var got domain.Correction
	h.query(au3, &got, "GetCorrection", c.ID)
	if got.Status != domain.CorrectionResolved {
		t.Fatalf("GetCorrection %+v", got)
	}
	h.reject(op1, domain.CodeConflict, "correction "+c.ID+" is already resolved", "ResolveCorrection", c.ID, `{"resolution":"again"}`)
	h.reject(au3, domain.CodeNotFound, "correction cr-ghost does not exist", "GetCorrection", "cr-ghost")
}

func TestOpenCorrectionRejects(t *testing.T) {
	tests := []struct {
		name, patch string
		as          who
		code        domain.Code
		want        string
	}{
		{"owner", `{}`, op1, domain.CodeForbidden, "only Dept2MSP may open a correction of delivery"},
		{"third department", `{}`, op3, domain.CodeForbidden, "caller is from Dept3MSP"},
		{"requester's approver", `{}`, ap2, domain.CodeForbidden, "role operator is required to open a correction; caller has role approver"},
		{"unknown delivery", `{"deliveryId":"dl-ghost"}`, op2, domain.CodeNotFound, "delivery dl-ghost does not exist"},
		{"delivery ID missing", `{"deliveryId":""}`, op2, domain.CodeInvalid, "deliveryId is required"},
		{"description missing", `{"description":""}`, op2, domain.CodeInvalid, "description is required"},
		{"description too long", `{"description":"` + strings.Repeat("d", 2001) + `"}`, op2, domain.CodeInvalid, "description has 2001 characters"},
		{"unknown field", `{"status":"resolved"}`, op2, domain.CodeInvalid, `unknown field "status"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.received()
			in := domain.CorrectionInput{DeliveryID: d.ID, Description: "wrong totals"}
			h.reject(tt.as, tt.code, tt.want, "OpenCorrection", with(t, in, tt.patch))
		})
	}
}

func TestResolveCorrectionRejects(t *testing.T) {
	tests := []struct {
		name, id, input string
		as              who
		code            domain.Code
		want            string
	}{
		{"requester", "", `{"resolution":"done"}`, op2, domain.CodeForbidden, "only Dept1MSP may resolve correction"},
		{"owner's approver", "", `{"resolution":"done"}`, ap1, domain.CodeForbidden, "role operator is required to resolve a correction; caller has role approver"},
		{"resolution missing", "", `{"resolution":""}`, op1, domain.CodeInvalid, "resolution is required"},
		{"resolution too long", "", `{"resolution":"` + strings.Repeat("r", 2001) + `"}`, op1, domain.CodeInvalid, "resolution has 2001 characters"},
		{"unknown field", "", `{"resolution":"done","by":"x"}`, op1, domain.CodeInvalid, `unknown field "by"`},
		{"unknown correction", "cr-ghost", `{"resolution":"done"}`, op1, domain.CodeNotFound, "correction cr-ghost does not exist"},
		{"bad ID", "cr ghost", `{"resolution":"done"}`, op1, domain.CodeInvalid, `id "cr ghost" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.received()
			var c domain.Correction
			h.submit(op2, &c, "OpenCorrection", jsonOf(t, domain.CorrectionInput{DeliveryID: d.ID, Description: "wrong totals"}))
			id := tt.id
			if id == "" {
				id = c.ID
			}
			h.reject(tt.as, tt.code, tt.want, "ResolveCorrection", id, tt.input)
		})
	}
}

func TestCorrectionStepsCannotRunBackwards(t *testing.T) {
	runBackwards(t, []backwardsCase{
		{"opened before the delivery", func(h *harness) (who, string, string, []string) {
			d := h.delivered()
			h.advance(-time.Minute)
			return op2, "delivery " + d.ID + " was delivered at 2026-03-10T09:30:00.123456789Z; a correction of it cannot be dated 2026-03-10T09:29:00.123456789Z",
				"OpenCorrection", []string{jsonOf(h.t, domain.CorrectionInput{DeliveryID: d.ID, Description: "wrong totals"})}
		}},
		{"resolved before it was opened", func(h *harness) (who, string, string, []string) {
			d := h.received()
			h.advance(time.Hour)
			var c domain.Correction
			h.submit(op2, &c, "OpenCorrection", jsonOf(h.t, domain.CorrectionInput{DeliveryID: d.ID, Description: "wrong totals"}))
			h.advance(-30 * time.Minute)
			return op1, "correction " + c.ID + " was opened at 2026-03-10T10:30:00.123456789Z; its resolution cannot be dated 2026-03-10T10:00:00.123456789Z",
				"ResolveCorrection", []string{c.ID, `{"resolution":"fixed"}`}
		}},
	})
}
