package contract

import (
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestContributionNeedsTheOwnersAcceptance(t *testing.T) {
	h := newHarness(t)
	pool := h.registerDataset(op1, datasetInput("pool", domain.ShareConditional))
	in := jsonOf(t, domain.ContributionInput{DatasetID: pool.ID, Records: 40, Bytes: 900, SHA256: hashB})

	// No department contributes to its own pool.
	h.reject(op1, domain.CodeForbidden, "does not contribute to its own pool", "RecordContribution", in)

	var c domain.Contribution
	h.submit(op2, &c, "RecordContribution", in)
	if c.Status != domain.ContributionPending {
		t.Fatalf("new contribution is %q, want pending", c.Status)
	}
	// Only the pool owner's approver decides; not the contributor, not an operator.
	h.reject(ap2, domain.CodeForbidden, "", "AcceptContribution", c.ID, `{}`)
	h.reject(op1, domain.CodeForbidden, "", "AcceptContribution", c.ID, `{}`)
	h.reject(ap1, domain.CodeInvalid, "reason", "RejectContribution", c.ID, `{}`)

	h.advance(time.Hour)
	var got domain.Contribution
	out := h.submit(ap1, &got, "AcceptContribution", c.ID, `{"reason":"records checked"}`)
	if got.Status != domain.ContributionAccepted || got.DecidedAt == nil || !got.DecidedAt.Equal(h.now) ||
		got.DecidedBy == nil || got.DecidedBy.MSPID != "Dept1MSP" || got.Reason != "records checked" {
		t.Fatalf("accepted contribution %+v", got)
	}
	e := h.event(out, domain.EventContributionAccepted, domain.KindContribution, c.ID, ap1)
	if e.Status != "accepted" || e.Requester != "Dept2MSP" || e.Owner != "Dept1MSP" {
		t.Errorf("event %+v", e)
	}
	// Decided once.
	h.reject(ap1, domain.CodeConflict, "only a pending contribution", "RejectContribution", c.ID, `{"reason":"no"}`)

	var r domain.Contribution
	h.submit(op3, &r, "RecordContribution", in)
	h.submit(ap1, &r, "RejectContribution", r.ID, `{"reason":"hash does not match our intake"}`)
	if r.Status != domain.ContributionRejected {
		t.Fatalf("rejected contribution %+v", r)
	}
	h.reject(ap1, domain.CodeConflict, "only a pending contribution", "AcceptContribution", r.ID, `{}`)
	h.reject(ap1, domain.CodeNotFound, "does not exist", "AcceptContribution", "cb-ghost", `{}`)
}
