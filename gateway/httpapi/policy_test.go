package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// staticPolicy is a PolicyReader that answers a fixed policy (nil: none
// set) and counts its reads.
type staticPolicy struct {
	mu     sync.Mutex
	policy *domain.Policy
	err    error
	reads  int
}

func (s *staticPolicy) Policy(context.Context, *identity.Person) (*domain.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.policy, s.err
}

// grantingDept1 is the other tests' policy: the test department's
// evaluators and auditors count.
var grantingDept1 = &staticPolicy{policy: &domain.Policy{
	ID: domain.PolicyID, Members: []string{"Dept1MSP", "Dept2MSP"}, Evaluators: []string{"Dept1MSP"}, Auditors: []string{"Dept1MSP"}, Version: 1,
}}

// newPolicyFixture is newFixture with another policy source.
func newPolicyFixture(t *testing.T, policy PolicyReader) *fixture {
	t.Helper()
	f := newFixture(t)
	r, err := NewRouter(Options{Ledger: f.ledger, Index: f.index, Auth: testPeople, Policy: policy, Logger: f.logger()})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	return f
}

func TestPolicyRoutes(t *testing.T) {
	f := newFixture(t)
	f.ledger.evals = map[string][]byte{
		"GetPolicy":         []byte(`{"id":"consortium","version":1}`),
		"GetPolicyProposal": []byte(`{"status":"open"}`),
	}
	for _, role := range domain.Roles {
		rec := f.do(t, "GET", "/v1/policy", string(role), "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"version":1`) {
			t.Fatalf("GET /v1/policy as %s: %d %s", role, rec.Code, rec.Body)
		}
	}
	if c := f.ledger.last(t); c.kind != "evaluate" || c.tx != "GetPolicy" || len(c.args) != 0 {
		t.Fatalf("call %+v", c)
	}
	rec := f.do(t, "GET", "/v1/policy/proposals/pp-1", "operator", "")
	if c := f.ledger.last(t); rec.Code != 200 || c.tx != "GetPolicyProposal" || c.args[0] != "pp-1" {
		t.Fatalf("GET proposal: %d %s %+v", rec.Code, rec.Body, c)
	}
	if rec := f.do(t, "GET", "/v1/policy/proposals/bad%20id", "operator", ""); rec.Code != 400 {
		t.Fatalf("bad id: %d", rec.Code)
	}

	writes := []struct {
		path, body, tx, entity string
		status                 int
		args                   []string
	}{
		{"/v1/policy", `{"members":["Dept2MSP","Dept1MSP"],"evaluators":["Dept1MSP"],"auditors":[]}`, "InitPolicy", "policy", 201,
			[]string{`{"members":["Dept2MSP","Dept1MSP"],"evaluators":["Dept1MSP"],"auditors":[]}`}},
		{"/v1/policy/proposals", `{"evaluators":["Dept2MSP"],"auditors":["Dept1MSP"]}`, "ProposePolicy", "proposal", 201,
			[]string{`{"evaluators":["Dept2MSP"],"auditors":["Dept1MSP"]}`}},
		// The grade rules and bureaus pass through as sent.
		{"/v1/policy", `{"members":["Dept1MSP","BureauMSP"],"evaluators":[],"auditors":[],"bureaus":["BureauMSP"],"grades":[{"grade":1,"shareTypes":["unconditional","conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":2,"shareTypes":["conditional"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":3,"shareTypes":["conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":5000},{"grade":4,"shareTypes":["none"],"legalBasisRequired":true,"maxApprovalDays":90,"bureauApproval":true,"destroyWithinDays":7,"maxDeliveryRecords":100}]}`, "InitPolicy", "policy", 201,
			[]string{`{"members":["Dept1MSP","BureauMSP"],"evaluators":[],"auditors":[],"bureaus":["BureauMSP"],"grades":[{"grade":1,"shareTypes":["unconditional","conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":2,"shareTypes":["conditional"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":3,"shareTypes":["conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":5000},{"grade":4,"shareTypes":["none"],"legalBasisRequired":true,"maxApprovalDays":90,"bureauApproval":true,"destroyWithinDays":7,"maxDeliveryRecords":100}]}`}},
		{"/v1/policy/proposals", `{"evaluators":[],"auditors":[],"bureaus":["BureauMSP"],"grades":[{"grade":1,"shareTypes":["unconditional","conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":2,"shareTypes":["conditional"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":3,"shareTypes":["conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":5000},{"grade":4,"shareTypes":["none"],"legalBasisRequired":true,"maxApprovalDays":90,"bureauApproval":true,"destroyWithinDays":7,"maxDeliveryRecords":100}]}`, "ProposePolicy", "proposal", 201,
			[]string{`{"evaluators":[],"auditors":[],"bureaus":["BureauMSP"],"grades":[{"grade":1,"shareTypes":["unconditional","conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":2,"shareTypes":["conditional"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":3,"shareTypes":["conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":5000},{"grade":4,"shareTypes":["none"],"legalBasisRequired":true,"maxApprovalDays":90,"bureauApproval":true,"destroyWithinDays":7,"maxDeliveryRecords":100}]}`}},
		{"/v1/policy/proposals/pp-1/approve", "", "ApprovePolicyProposal", "approval", 200, []string{"pp-1"}},
		{"/v1/policy/proposals/pp-1/approve", "{}", "ApprovePolicyProposal", "approval", 200, []string{"pp-1"}},
	}
	for _, w := range writes {
		t.Run(w.path, func(t *testing.T) {
			f := newFixture(t)
			rec := f.do(t, "POST", w.path, "admin", w.body)
			if rec.Code != w.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, w.status, rec.Body)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got[w.entity] == nil || got["txId"] == nil {
				t.Fatalf("answer %s", rec.Body)
			}
			c := f.ledger.last(t)
			if c.kind != "submit" || c.tx != w.tx || strings.Join(c.args, "|") != strings.Join(w.args, "|") || c.user != "admin-user" {
				t.Fatalf("call %+v, want %s%q", c, w.tx, w.args)
			}
			for _, role := range domain.Roles {
				if role == domain.RoleAdmin {
					continue
				}
				f := newFixture(t)
				if rec := f.do(t, "POST", w.path, string(role), w.body); rec.Code != 403 || len(f.ledger.calls) != 0 {
					t.Fatalf("as %s: %d, %d ledger calls", role, rec.Code, len(f.ledger.calls))
				}
			}
		})
	}
	for _, bad := range []struct{ path, body, want string }{
		{"/v1/policy", `{"members":[]}`, "members must list every department"},
		{"/v1/policy", `{"members":["Dept1MSP"],"evaluators":["RogueMSP"]}`, "evaluators names RogueMSP"},
		{"/v1/policy/proposals", `{"evaluators":["X","X"]}`, "evaluators lists X twice"},
		{"/v1/policy/proposals", `{"members":["X"]}`, `unknown field "members"`},
		{"/v1/policy/proposals/pp-1/approve", `{"reason":"x"}`, `unknown field "reason"`},
		{"/v1/policy", `{"members":["Dept1MSP"],"grades":[{"grade":1,"shareTypes":["none"]}]}`, "grades lists 1 rules"},
		{"/v1/policy", `{"members":["Dept1MSP"],"grades":[{"grade":1,"shareTypes":["none"],"maxApprovalDay":3}]}`, `unknown field "maxApprovalDay"`},
		{"/v1/policy/proposals", `{"bureaus":["BureauMSP"],"grades":[{"grade":1,"shareTypes":["open"]},{"grade":2,"shareTypes":["none"]},{"grade":3,"shareTypes":["none"]},{"grade":4,"shareTypes":["none"]}]}`, `grades[1].shareTypes: "open" must be one of`},
		{"/v1/policy/proposals", `{"bureaus":[],"grades":[{"grade":1,"shareTypes":["unconditional","conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":2,"shareTypes":["conditional"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":0},{"grade":3,"shareTypes":["conditional","none"],"legalBasisRequired":false,"maxApprovalDays":0,"bureauApproval":false,"destroyWithinDays":0,"maxDeliveryRecords":5000},{"grade":4,"shareTypes":["none"],"legalBasisRequired":true,"maxApprovalDays":90,"bureauApproval":true,"destroyWithinDays":7,"maxDeliveryRecords":100}]}`, "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus"},
	} {
		f := newFixture(t)
		rec := f.do(t, "POST", bad.path, "admin", bad.body)
		if rec.Code != 400 || !strings.Contains(errorOf(t, rec).Message, bad.want) || len(f.ledger.calls) != 0 {
			t.Fatalf("POST %s %s: %d %s", bad.path, bad.body, rec.Code, rec.Body)
		}
	}
}

// TestRolesAsThePolicyGrants is hole 4 at the gateway: a certificate's
// evaluator or auditor role counts only for a department the policy names,
// so the REST answers match the chaincode's.
func TestRolesAsThePolicyGrants(t *testing.T) {
	others := &domain.Policy{ID: domain.PolicyID, Members: []string{"BureauMSP", "Dept1MSP"}, Evaluators: []string{"BureauMSP"}, Auditors: []string{"BureauMSP"}, Version: 3}
	tests := []struct {
		name   string
		policy *staticPolicy
		token  string
		method string
		path   string
		body   string
		want   string
	}{
		{"evaluator publishes", &staticPolicy{policy: others}, "evaluator", "POST", "/v1/scores/snapshots", `{"period":"2025-12"}`,
			"POST /v1/scores/snapshots needs role evaluator; the evaluator role of Dept1MSP is not honoured: the consortium policy (version 3) grants it to BureauMSP only"},
		{"evaluator reads scores", &staticPolicy{policy: others}, "evaluator", "GET", "/v1/scores", "", "the evaluator role of Dept1MSP is not honoured"},
		{"auditor traces", &staticPolicy{policy: others}, "auditor", "GET", "/v1/audit/trace?dataset=x", "", "the auditor role of Dept1MSP is not honoured"},
		{"no policy yet", &staticPolicy{}, "auditor", "GET", "/v1/audit/trace?dataset=x", "", "the consortium policy is not set on the ledger yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newPolicyFixture(t, tt.policy)
			rec := f.do(t, tt.method, tt.path, tt.token, tt.body)
			if rec.Code != 403 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if e := errorOf(t, rec); !strings.Contains(e.Message, tt.want) || e.Details["policy"] == "" {
				t.Fatalf("error %+v, want %q", e, tt.want)
			}
			if len(f.ledger.calls) != 0 || len(f.index.gets) != 0 {
				t.Fatalf("a refused call reached the ledger or the index: %v %v", f.ledger.calls, f.index.gets)
			}
		})
	}

	t.Run("what the indexer and /me are told", func(t *testing.T) {
		f := newPolicyFixture(t, &staticPolicy{policy: others})
		f.index.getBody = `{"items":[]}`
		// A request readable by its parties only: the unhonoured auditor
		// of Dept1 reaches the index as a department member, not an auditor.
		f.do(t, "GET", "/v1/requests?owner=Dept1MSP", "auditor", "")
		if len(f.index.gets) != 1 || f.index.gets[0].header.Get("X-Caller-Role") != "" {
			t.Fatalf("forwarded %+v", f.index.gets)
		}
		rec := f.do(t, "GET", "/v1/me", "evaluator", "")
		var me Me
		if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.Role != "" || me.MSPID != "Dept1MSP" {
			t.Fatalf("/v1/me %s", rec.Body)
		}
	})
	t.Run("honoured roles and other roles", func(t *testing.T) {
		granted := &staticPolicy{policy: &domain.Policy{ID: domain.PolicyID, Members: []string{"Dept1MSP"}, Evaluators: []string{"Dept1MSP"}, Auditors: []string{"Dept1MSP"}, Version: 1}}
		f := newPolicyFixture(t, granted)
		f.index.getBody = `{"items":[]}`
		if rec := f.do(t, "GET", "/v1/audit/trace?dataset=x", "auditor", ""); rec.Code != 200 {
			t.Fatalf("honoured auditor: %d %s", rec.Code, rec.Body)
		}
		if f.index.gets[0].header.Get("X-Caller-Role") != "auditor" {
			t.Fatalf("forwarded role %q", f.index.gets[0].header.Get("X-Caller-Role"))
		}
		reads := granted.reads
		f.do(t, "GET", "/v1/datasets", "operator", "")
		if granted.reads != reads {
			t.Fatal("an operator's request read the policy")
		}
	})
	t.Run("policy unreadable", func(t *testing.T) {
		f := newPolicyFixture(t, &staticPolicy{err: domain.Errorf(domain.CodeUnavailable, "peer down")})
		if rec := f.do(t, "GET", "/v1/scores", "evaluator", ""); rec.Code != 503 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

func TestLedgerPolicyCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ledger := &fakeLedger{evals: map[string][]byte{"GetPolicy": []byte(`{"id":"consortium","members":["Dept1MSP"],"evaluators":["Dept1MSP"],"auditors":[],"version":2}`)}}
	lp := &ledgerPolicy{ledger: ledger, ttl: 5 * time.Second, now: func() time.Time { return now }}
	p := testPeople["evaluator"]
	for i := 0; i < 3; i++ {
		pol, err := lp.Policy(context.Background(), p)
		if err != nil || pol.Version != 2 || !pol.Honours("Dept1MSP", domain.RoleEvaluator) {
			t.Fatalf("Policy = %+v, %v", pol, err)
		}
	}
	if len(ledger.calls) != 1 {
		t.Fatalf("%d reads within the TTL, want 1", len(ledger.calls))
	}
	now = now.Add(6 * time.Second)
	_, _ = lp.Policy(context.Background(), p)
	lp.Invalidate()
	_, _ = lp.Policy(context.Background(), p)
	if len(ledger.calls) != 3 {
		t.Fatalf("%d reads, want one more after the TTL and one after Invalidate", len(ledger.calls))
	}
	// None set: nil, no error.
	ledger.err = domain.Errorf(domain.CodeNotFound, "the consortium policy is not set")
	lp.Invalidate()
	if pol, err := lp.Policy(context.Background(), p); pol != nil || err != nil {
		t.Fatalf("not set: %+v, %v", pol, err)
	}
	// The peer unreachable: the last policy read serves a while, not past
	// staleTTL, and never one dropped by a write.
	ledger.err = nil
	lp.Invalidate()
	if pol, err := lp.Policy(context.Background(), p); err != nil || pol == nil {
		t.Fatalf("read again: %+v, %v", pol, err)
	}
	ledger.err = domain.Errorf(domain.CodeUnavailable, "peer down")
	now = now.Add(time.Minute)
	if pol, err := lp.Policy(context.Background(), p); err != nil || pol == nil || pol.Version != 2 {
		t.Fatalf("stale while the peer is down: %+v, %v", pol, err)
	}
	now = now.Add(staleTTL)
	if _, err := lp.Policy(context.Background(), p); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("past staleTTL: %v", err)
	}
	now = now.Add(-staleTTL)
	lp.Invalidate()
	if _, err := lp.Policy(context.Background(), p); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("after Invalidate: %v", err)
	}
	ledger.err = domain.Errorf(domain.CodeForbidden, "no")
	lp.read = false
	if _, err := lp.Policy(context.Background(), p); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("another error: %v", err)
	}
}

// TestPolicyWriteDropsTheCache: after an approval through this gateway,
// the next evaluator request reads the policy from the ledger again.
func TestPolicyWriteDropsTheCache(t *testing.T) {
	ledger := &fakeLedger{txID: "tx-1", block: 7, evals: map[string][]byte{"GetPolicy": []byte(`{"id":"consortium","members":["Dept1MSP"],"evaluators":["Dept1MSP"],"auditors":["Dept1MSP"],"version":1}`)}}
	index := &fakeIndex{status: indexclient.Status{Height: 8}, getBody: `{"items":[]}`}
	r, err := NewRouter(Options{Ledger: ledger, Index: index, Auth: testPeople, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{router: r, ledger: ledger, index: index}
	count := func() int {
		n := 0
		for _, c := range ledger.calls {
			if c.tx == "GetPolicy" {
				n++
			}
		}
		return n
	}
	f.do(t, "GET", "/v1/scores", "evaluator", "")
	f.do(t, "GET", "/v1/scores", "evaluator", "")
	if count() != 1 {
		t.Fatalf("%d policy reads, want 1", count())
	}
	if rec := f.do(t, "POST", "/v1/policy/proposals/pp-1/approve", "admin", ""); rec.Code != http.StatusOK {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	f.do(t, "GET", "/v1/scores", "evaluator", "")
	if count() != 2 {
		t.Fatalf("%d policy reads, want 2", count())
	}
}

// TestGradeDenialAnswer: a grade rule's denial from the chaincode answers
// 403 with the rule and the grade as details, for every transition it
// bears on; the co-approval route reaches its transaction.
func TestGradeDenialAnswer(t *testing.T) {
	for _, c := range []struct{ method, path, role, body, rule string }{
		{"POST", "/v1/datasets", "operator", `{"title":"Households","fields":["id"],"updateFrequency":"monthly","shareType":"unconditional","openType":"restricted","grade":3}`, domain.RuleShareTypes},
		{"POST", "/v1/requests", "operator", `{"datasetId":"ds-1","purpose":"benefits","validUntil":"2026-06-30T00:00:00Z"}`, domain.RuleLegalBasisRequired},
		{"POST", "/v1/requests/rq-1/approve", "approver", `{}`, domain.RuleMaxApprovalDays},
		{"POST", "/v1/requests/rq-1/approve", "approver", `{}`, domain.RuleBureauApproval},
		{"POST", "/v1/requests/rq-1/deliveries", "operator", `{"sha256":"` + hash + `","records":10,"bytes":100,"channel":"sftp"}`, domain.RuleMaxDeliveryRecords},
	} {
		f := newFixture(t)
		f.ledger.err = domain.GradeDenial(3, c.rule, "is refused by this rule")
		rec := f.do(t, c.method, c.path, c.role, c.body)
		e := errorOf(t, rec)
		if rec.Code != 403 || e.Code != domain.CodeForbidden || e.Details["rule"] != c.rule || e.Details["grade"] != "3" ||
			e.Message != "grade 3 data is refused by this rule (policy rule "+c.rule+")" {
			t.Errorf("%s %s: %d %+v", c.method, c.path, rec.Code, e)
		}
	}
	f := newFixture(t)
	if rec := f.do(t, "POST", "/v1/requests/rq-1/coapprove", "approver", ""); rec.Code != 200 {
		t.Fatalf("co-approval without a body: %d %s", rec.Code, rec.Body)
	}
	if c := f.ledger.last(t); c.tx != "CoApproveRequest" || c.args[0] != "rq-1" {
		t.Fatalf("call %+v", c)
	}
	if rec := f.do(t, "POST", "/v1/requests/rq-1/coapprove", "operator", ""); rec.Code != 403 {
		t.Fatalf("co-approval by an operator: %d", rec.Code)
	}
}
