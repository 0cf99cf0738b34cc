package contract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestCreateRequest(t *testing.T) {
	tests := []struct {
		name       string
		share      domain.ShareType
		fields     []string
		wantStatus domain.RequestStatus
		wantFields []string
	}{
		{"conditional waits", domain.ShareConditional, []string{"households", "district"}, domain.RequestPending, []string{"households", "district"}},
		{"unconditional is approved at once", domain.ShareUnconditional, []string{"district"}, domain.RequestApproved, []string{"district"}},
		{"no fields means all", domain.ShareConditional, nil, domain.RequestPending, []string{"district", "households", "population"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.registerDataset(op1, datasetInput("households", tt.share))
			h.advance(time.Minute)
			in := h.requestInput(d.ID)
			in.Fields = tt.fields
			var r domain.Request
			out := h.submit(op2, &r, "CreateRequest", jsonOf(t, in))
			if r.ID != "rq-"+out.txID[:24] || r.DatasetID != d.ID || r.DatasetVersion != 1 || r.Requester != "Dept2MSP" ||
				r.Owner != "Dept1MSP" || r.Status != tt.wantStatus || !slices.Equal(r.Fields, tt.wantFields) ||
				!r.ValidUntil.Equal(in.ValidUntil) || !r.CreatedAt.Equal(h.now) || r.Purpose != in.Purpose || r.LegalBasis != in.LegalBasis {
				t.Fatalf("request %+v", r)
			}
			if tt.wantStatus == domain.RequestApproved {
				if r.DecidedAt == nil || !r.DecidedAt.Equal(h.now) || r.DecidedBy != nil || r.Reason != autoApprovalReason {
					t.Fatalf("automatic approval recorded as %v by %v (%q)", r.DecidedAt, r.DecidedBy, r.Reason)
				}
			} else if r.DecidedAt != nil || r.DecidedBy != nil {
				t.Fatalf("pending request has a decision")
			}
			e := h.event(out, domain.EventRequestCreated, domain.KindRequest, r.ID, op2)
			if e.Status != string(tt.wantStatus) || e.RequestID != r.ID || e.DatasetID != d.ID || e.Owner != "Dept1MSP" ||
				e.Requester != "Dept2MSP" || e.Request == nil || e.Request.ID != r.ID {
				t.Errorf("event %+v", e)
			}
			h.wantEndorsers(domain.KindRequest, r.ID, "Dept1MSP", "Dept2MSP")
			var got domain.Request
			h.query(au3, &got, "GetRequest", r.ID)
			if got.ID != r.ID || got.Status != tt.wantStatus {
				t.Fatalf("GetRequest %+v", got)
			}
		})
	}
}

func TestCreateRequestRejects(t *testing.T) {
	tests := []struct {
		name  string
		as    who
		patch string
		code  domain.Code
		want  string
	}{
		{"approver", ap2, `{}`, domain.CodeForbidden, "role operator is required to request a dataset; caller has role approver"},
		{"own dataset", op1, `{}`, domain.CodeInvalid, "dataset open belongs to Dept1MSP; a department cannot request its own data"},
		{"not shared", op2, `{"datasetId":"private"}`, domain.CodeForbidden, "dataset private is not shared"},
		{"retired", op2, `{"datasetId":"old"}`, domain.CodeConflict, "dataset old is retired; only an active dataset can be requested"},
		{"unknown dataset", op2, `{"datasetId":"ghost"}`, domain.CodeNotFound, "dataset ghost does not exist"},
		{"field not in dataset", op2, `{"fields":["district","income"]}`, domain.CodeInvalid, `field "income" is not a field of dataset open`},
		{"dataset ID missing", op2, `{"datasetId":""}`, domain.CodeInvalid, "datasetId is required"},
		{"dataset ID malformed", op2, `{"datasetId":"a/b"}`, domain.CodeInvalid, `datasetId "a/b" must be`},
		{"purpose missing", op2, `{"purpose":""}`, domain.CodeInvalid, "purpose is required"},
		{"purpose too long", op2, `{"purpose":"` + strings.Repeat("p", 2001) + `"}`, domain.CodeInvalid, "purpose has 2001 characters"},
		{"legal basis missing", op2, `{"legalBasis":" "}`, domain.CodeForbidden, "grade 2 data is requested only with a legal basis under the default rules (consortium policy version 1 has no grade rules), and legalBasis is empty (policy rule legalBasisRequired)"},
		{"duplicate field", op2, `{"fields":["district","district"]}`, domain.CodeInvalid, `fields lists "district" twice`},
		{"valid until missing", op2, `{"validUntil":"0001-01-01T00:00:00Z"}`, domain.CodeInvalid, "validUntil is required"},
		{"valid until now", op2, `{"validUntil":"2026-03-10T09:30:00.123456789Z"}`, domain.CodeInvalid, "validUntil 2026-03-10T09:30:00Z is not in the future"},
		{"valid until past", op2, `{"validUntil":"2026-01-01T00:00:00Z"}`, domain.CodeInvalid, "is not in the future"},
		{"valid until too far", op2, `{"validUntil":"2036-01-01T00:00:00Z"}`, domain.CodeInvalid, "validUntil is more than 5 years ahead"},
		{"valid until not a time", op2, `{"validUntil":"tomorrow"}`, domain.CodeInvalid, "RequestInput JSON"},
		{"unknown field", op2, `{"requester":"Dept3MSP"}`, domain.CodeInvalid, `unknown field "requester"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("open", domain.ShareConditional))
			h.registerDataset(op1, datasetInput("private", domain.ShareNone))
			h.registerDataset(op1, datasetInput("old", domain.ShareUnconditional))
			h.submit(op1, nil, "RetireDataset", "old", `{}`)
			h.reject(tt.as, tt.code, tt.want, "CreateRequest", with(t, h.requestInput("open"), tt.patch))
		})
	}
}

func TestRequestDecisions(t *testing.T) {
	tests := []struct {
		name       string
		fn, input  string
		wantStatus domain.RequestStatus
		event      domain.EventType
		reason     string
	}{
		{"approve with reason", "ApproveRequest", `{"reason":"lawful purpose"}`, domain.RequestApproved, domain.EventRequestApproved, "lawful purpose"},
		{"approve without reason", "ApproveRequest", `{}`, domain.RequestApproved, domain.EventRequestApproved, ""},
		{"reject", "RejectRequest", `{"reason":"no legal basis"}`, domain.RequestRejected, domain.EventRequestRejected, "no legal basis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.pendingRequest()
			h.advance(time.Hour)
			var r domain.Request
			out := h.submit(ap1, &r, tt.fn, p.ID, tt.input)
			wantBy := domain.Actor{MSPID: "Dept1MSP", Subject: ap1.subject(), Role: domain.RoleApprover}
			if r.Status != tt.wantStatus || r.Reason != tt.reason || r.DecidedAt == nil || !r.DecidedAt.Equal(h.now) ||
				r.DecidedBy == nil || *r.DecidedBy != wantBy || !r.CreatedAt.Equal(p.CreatedAt) {
				t.Fatalf("decided %+v", r)
			}
			e := h.event(out, tt.event, domain.KindRequest, p.ID, ap1)
			if e.Status != string(tt.wantStatus) || e.Request == nil || e.Request.Status != tt.wantStatus || e.Requester != "Dept2MSP" {
				t.Errorf("event %+v", e)
			}
			h.wantEndorsers(domain.KindRequest, p.ID, "Dept1MSP", "Dept2MSP")
		})
	}
}

func TestRevokeRequest(t *testing.T) {
	h := newHarness(t)
	a := h.approvedRequest()
	h.advance(time.Hour)
	var r domain.Request
	out := h.submit(ap1, &r, "RevokeRequest", a.ID, `{"reason":"purpose ended"}`)
	if r.Status != domain.RequestRevoked || r.Reason != "purpose ended" || r.RevokedAt == nil || !r.RevokedAt.Equal(h.now) ||
		r.RevokedBy == nil || r.RevokedBy.MSPID != "Dept1MSP" || r.DecidedAt == nil {
		t.Fatalf("revoked %+v", r)
	}
	e := h.event(out, domain.EventRequestRevoked, domain.KindRequest, a.ID, ap1)
	if e.Status != "revoked" {
		t.Errorf("event status %q", e.Status)
	}
	// Unconditional approvals can be revoked too.
	h.registerDataset(op1, datasetInput("free", domain.ShareUnconditional))
	u := h.createRequest(op2, h.requestInput("free"))
	h.submit(ap1, &r, "RevokeRequest", u.ID, `{"reason":"data withdrawn"}`)
	if r.Status != domain.RequestRevoked {
		t.Fatalf("revoked %+v", r)
	}
}

// requestStates builds one request in each state for the rejection tests.
func requestStates(h *harness) map[string]string {
	ids := map[string]string{}
	ids["pending"] = h.pendingRequest().ID
	ids["approved"] = h.approvedRequest().ID
	rj := h.pendingRequest()
	h.submit(ap1, nil, "RejectRequest", rj.ID, `{"reason":"no"}`)
	ids["rejected"] = rj.ID
	rv := h.approvedRequest()
	h.submit(ap1, nil, "RevokeRequest", rv.ID, `{"reason":"no"}`)
	ids["revoked"] = rv.ID
	// Expiring ones: valid for one hour from now, then the clock moves on.
	short := h.requestInput(h.registerDataset(op1, datasetInput("", domain.ShareConditional)).ID)
	short.ValidUntil = h.now.Add(time.Hour)
	ex := h.createRequest(op2, short)
	h.submit(ap1, nil, "ApproveRequest", ex.ID, `{}`)
	ids["expired"] = ex.ID
	ids["pending past its period"] = h.createRequest(op2, short).ID
	h.advance(time.Hour) // now == validUntil: expired
	return ids
}

func TestRequestDecisionRejects(t *testing.T) {
	tests := []struct {
		name, fn, state, input string
		as                     who
		code                   domain.Code
		want                   string
	}{
		{"approve as operator", "ApproveRequest", "pending", `{}`, op1, domain.CodeForbidden, "role approver is required to approve a request; caller has role operator"},
		{"approve as requester's approver", "ApproveRequest", "pending", `{}`, ap2, domain.CodeForbidden, "only Dept1MSP may approve request"},
		{"approve twice", "ApproveRequest", "approved", `{}`, ap1, domain.CodeConflict, "is approved; only a pending request can be approved"},
		{"approve rejected", "ApproveRequest", "rejected", `{}`, ap1, domain.CodeConflict, "is rejected; only a pending request"},
		{"approve after its period", "ApproveRequest", "pending past its period", `{}`, ap1, domain.CodeConflict, "expired at 2026-03-10T"},
		{"approve unknown", "ApproveRequest", "", `{}`, ap1, domain.CodeNotFound, "request rq-ghost does not exist"},
		{"approve bad JSON", "ApproveRequest", "pending", `{"reason":1}`, ap1, domain.CodeInvalid, "DecisionInput JSON"},
		{"reject without reason", "RejectRequest", "pending", `{"reason":""}`, ap1, domain.CodeInvalid, "reason is required"},
		{"reject with empty input", "RejectRequest", "pending", `{}`, ap1, domain.CodeInvalid, "reason is required"},
		{"reject as operator", "RejectRequest", "pending", `{"reason":"x"}`, op1, domain.CodeForbidden, "role approver is required to reject a request"},
		{"reject by a third department", "RejectRequest", "pending", `{"reason":"x"}`, who{"Dept3MSP", "approver", "ap3"}, domain.CodeForbidden, "only Dept1MSP may reject request"},
		{"reject approved", "RejectRequest", "approved", `{"reason":"x"}`, ap1, domain.CodeConflict, "is approved; only a pending request can be rejected"},
		{"reject revoked", "RejectRequest", "revoked", `{"reason":"x"}`, ap1, domain.CodeConflict, "is revoked"},
		{"revoke without reason", "RevokeRequest", "approved", `{}`, ap1, domain.CodeInvalid, "reason is required"},
		{"revoke pending", "RevokeRequest", "pending", `{"reason":"x"}`, ap1, domain.CodeConflict, "is pending; only an approved, unexpired request can be revoked"},
		{"revoke rejected", "RevokeRequest", "rejected", `{"reason":"x"}`, ap1, domain.CodeConflict, "is rejected"},
		{"revoke twice", "RevokeRequest", "revoked", `{"reason":"x"}`, ap1, domain.CodeConflict, "is revoked"},
		{"revoke expired", "RevokeRequest", "expired", `{"reason":"x"}`, ap1, domain.CodeConflict, "is expired"},
		{"revoke as requester", "RevokeRequest", "approved", `{"reason":"x"}`, ap2, domain.CodeForbidden, "only Dept1MSP may revoke request"},
		{"revoke as evaluator", "RevokeRequest", "approved", `{"reason":"x"}`, ev3, domain.CodeForbidden, "role approver is required to revoke a request; caller has role evaluator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ids := requestStates(h)
			id, ok := ids[tt.state]
			if !ok {
				id = "rq-ghost"
			}
			h.reject(tt.as, tt.code, tt.want, tt.fn, id, tt.input)
		})
	}
}

func TestGetRequestReportsExpiry(t *testing.T) {
	h := newHarness(t)
	a := h.approvedRequest()
	var r domain.Request
	h.advance(a.ValidUntil.Sub(h.now) - time.Nanosecond)
	h.query(au3, &r, "GetRequest", a.ID)
	if r.Status != domain.RequestApproved {
		t.Fatalf("just before validUntil: %s", r.Status)
	}
	h.advance(time.Nanosecond)
	h.query(au3, &r, "GetRequest", a.ID)
	if r.Status != domain.RequestExpired {
		t.Fatalf("at validUntil: %s", r.Status)
	}
	// Expiry is never written: the stored record still says approved.
	var hist []HistoryEntry
	h.query(au3, &hist, "History", "request", a.ID)
	if !strings.Contains(string(hist[len(hist)-1].Value), `"status":"approved"`) {
		t.Fatalf("stored %s", hist[len(hist)-1].Value)
	}
	h.reject(au3, domain.CodeNotFound, "request rq-ghost does not exist", "GetRequest", "rq-ghost")
	h.reject(au3, domain.CodeInvalid, "id", "GetRequest", "rq ghost")
}

func TestRequestStepsCannotRunBackwards(t *testing.T) {
	runBackwards(t, []backwardsCase{
		{"approval before the request", func(h *harness) (who, string, string, []string) {
			p := h.pendingRequest()
			h.advance(-time.Nanosecond)
			return ap1, "request " + p.ID + " was created at 2026-03-10T09:30:00.123456789Z; an approval cannot be dated 2026-03-10T09:30:00.123456788Z",
				"ApproveRequest", []string{p.ID, `{}`}
		}},
		{"rejection before the request", func(h *harness) (who, string, string, []string) {
			p := h.pendingRequest()
			h.advance(-time.Minute)
			return ap1, "request " + p.ID + " was created at 2026-03-10T09:30:00.123456789Z; a rejection cannot be dated 2026-03-10T09:29:00.123456789Z",
				"RejectRequest", []string{p.ID, `{"reason":"no"}`}
		}},
		{"revocation before the approval", func(h *harness) (who, string, string, []string) {
			p := h.pendingRequest()
			h.advance(time.Hour)
			h.submit(ap1, nil, "ApproveRequest", p.ID, `{}`)
			h.advance(-30 * time.Minute)
			return ap1, "request " + p.ID + " was approved at 2026-03-10T10:30:00.123456789Z; a revocation cannot be dated 2026-03-10T10:00:00.123456789Z",
				"RevokeRequest", []string{p.ID, `{"reason":"ended"}`}
		}},
		{"revocation before the request", func(h *harness) (who, string, string, []string) {
			a := h.approvedRequest()
			h.advance(-time.Second)
			return ap1, "request " + a.ID + " was created at 2026-03-10T09:30:00.123456789Z; a revocation cannot be dated",
				"RevokeRequest", []string{a.ID, `{"reason":"ended"}`}
		}},
		{"request before the dataset's version", func(h *harness) (who, string, string, []string) {
			h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
			h.advance(time.Hour)
			h.submit(op1, nil, "UpdateDataset", "households", jsonOf(h.t, datasetInput("households", domain.ShareConditional)))
			h.advance(-30 * time.Minute)
			return op2, "dataset households version 2 was published at 2026-03-10T10:30:00.123456789Z; a request for it cannot be dated 2026-03-10T10:00:00.123456789Z",
				"CreateRequest", []string{jsonOf(h.t, h.requestInput("households"))}
		}},
	})
	// The same instant is not backwards: an unconditional request is
	// approved as it is created, and an approver may decide at once.
	h := newHarness(t)
	p := h.pendingRequest()
	h.submit(ap1, nil, "RejectRequest", p.ID, `{"reason":"no legal basis"}`)
}

// TestRetiredDatasetStopsApproval: once the owner retires a dataset, its
// pending requests can no longer be approved (nor new ones made:
// TestCreateRequestRejects), but the owner can still reject them and revoke
// what it approved.
func TestRetiredDatasetStopsApproval(t *testing.T) {
	tests := []struct {
		name, fn, state, input string
		want                   string // "" to succeed
	}{
		{"approve", "ApproveRequest", "pending", `{"reason":"ok"}`, "dataset households is retired; a request for it can no longer be approved"},
		{"approve without a reason", "ApproveRequest", "pending", `{}`, "dataset households is retired; a request for it can no longer be approved"},
		{"reject", "RejectRequest", "pending", `{"reason":"dataset retired"}`, ""},
		{"revoke", "RevokeRequest", "approved", `{"reason":"dataset retired"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
			r := h.createRequest(op2, h.requestInput("households"))
			if tt.state == "approved" {
				h.submit(ap1, nil, "ApproveRequest", r.ID, `{}`)
			}
			h.advance(time.Minute)
			h.submit(op1, nil, "RetireDataset", "households", `{"reason":"superseded"}`)
			h.advance(time.Minute)
			if tt.want == "" {
				h.submit(ap1, nil, tt.fn, r.ID, tt.input)
				return
			}
			h.reject(ap1, domain.CodeConflict, tt.want, tt.fn, r.ID, tt.input)
		})
	}
}
