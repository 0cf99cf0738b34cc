package contract

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

func init() {
	// The policy transactions, in TestMetadataListsEveryTransaction's lists.
	submitTxs = append(submitTxs, "ApprovePolicyProposal", "InitPolicy", "ProposePolicy")
	evaluateTxs = append(evaluateTxs, "GetPolicy", "GetPolicyProposal")
	slices.Sort(submitTxs)
	slices.Sort(evaluateTxs)
}

var (
	adBu = who{"BureauMSP", "admin", "adBu"}
	ad3  = who{"Dept3MSP", "admin", "ad3"}
	ad4  = who{"Dept4MSP", "admin", "ad4"}
	evBu = who{"BureauMSP", "evaluator", "evBu"}
	ev2  = who{"Dept2MSP", "evaluator", "ev2"}
	au2  = who{"Dept2MSP", "auditor", "au2"}
)

// seedPolicy writes the harness's default consortium policy: every test
// department a member, and every one's evaluators and auditors honoured,
// so the other tests' evaluators and auditors work as before. Policy tests
// replace it (setPolicy) or remove it (noPolicy).
func (l *fakeLedger) seedPolicy() {
	members := slices.Sorted(slices.Values(testDepartments))
	l.putPolicy(&domain.Policy{ID: domain.PolicyID, Members: members, Evaluators: members, Auditors: members, Version: 1})
}

func (l *fakeLedger) putPolicy(p *domain.Policy) {
	k, _ := domain.EntityKey(domain.KindPolicy, domain.PolicyID)
	b, _ := json.Marshal(p)
	l.state[k] = b
	stub := &txStub{ledger: l, sbeWrites: map[string][]byte{}}
	_ = setMajority(stub, k, p.Members)
	l.sbe[k] = stub.sbeWrites[k]
}

// setPolicy replaces the committed policy with one naming evaluators and auditors.
func (h *harness) setPolicy(evaluators, auditors []string) domain.Policy {
	h.t.Helper()
	p := domain.Policy{
		ID: domain.PolicyID, Members: slices.Sorted(slices.Values(testDepartments)),
		Evaluators: evaluators, Auditors: auditors, Version: 1, UpdatedAt: h.now.Add(-time.Hour),
	}
	if err := p.Validate(); err != nil {
		h.t.Fatal(err)
	}
	h.ledger.putPolicy(&p)
	return p
}

// noPolicy removes the policy, as on a ledger before genesis.
func (h *harness) noPolicy() {
	k := key(h.t, domain.KindPolicy, domain.PolicyID)
	delete(h.ledger.state, k)
	delete(h.ledger.sbe, k)
}

func policyInput(evaluators, auditors []string) domain.PolicyInput {
	return domain.PolicyInput{Members: slices.Clone(testDepartments), Evaluators: evaluators, Auditors: auditors}
}

// majorityOf decodes the key-level policy on key: it must be n out of one
// PEER principal per department; it returns n and the departments.
func (h *harness) majorityOf(key string) (int, []string) {
	h.t.Helper()
	var env common.SignaturePolicyEnvelope
	if err := proto.Unmarshal(h.ledger.sbe[key], &env); err != nil {
		h.t.Fatalf("decode policy: %v", err)
	}
	n := env.GetRule().GetNOutOf()
	if n == nil || len(n.GetRules()) != len(env.GetIdentities()) {
		h.t.Fatalf("policy rule %v is not an n-out-of over every principal", env.GetRule())
	}
	var orgs []string
	for i, id := range env.GetIdentities() {
		var role msp.MSPRole
		if err := proto.Unmarshal(id.GetPrincipal(), &role); err != nil {
			h.t.Fatal(err)
		}
		if id.GetPrincipalClassification() != msp.MSPPrincipal_ROLE || role.GetRole() != msp.MSPRole_PEER {
			h.t.Fatalf("principal %d is %v %v, want a PEER role", i, id.GetPrincipalClassification(), role.GetRole())
		}
		if got := n.GetRules()[i].GetSignedBy(); int(got) != i {
			h.t.Fatalf("rule %d signed by %d", i, got)
		}
		orgs = append(orgs, role.GetMspIdentifier())
	}
	return int(n.GetN()), orgs
}

func TestInitPolicy(t *testing.T) {
	h := newHarness(t)
	h.noPolicy()
	var p domain.Policy
	out := h.submit(ad1, &p, "InitPolicy", jsonOf(t, policyInput([]string{"BureauMSP"}, []string{"Dept3MSP", "BureauMSP"})))
	members := slices.Sorted(slices.Values(testDepartments))
	if p.ID != domain.PolicyID || !slices.Equal(p.Members, members) || !slices.Equal(p.Evaluators, []string{"BureauMSP"}) ||
		!slices.Equal(p.Auditors, []string{"BureauMSP", "Dept3MSP"}) || p.Version != 1 || !p.UpdatedAt.Equal(h.now) ||
		p.UpdatedBy.MSPID != "Dept1MSP" || p.ProposalID != "" || len(p.Approvals) != 0 {
		t.Fatalf("policy %+v", p)
	}
	e := h.event(out, domain.EventPolicySet, domain.KindPolicy, domain.PolicyID, ad1)
	if e.Policy == nil || e.Policy.Version != 1 {
		t.Errorf("event %+v", e)
	}
	// Every member's anchor is written, so the Gateway plans every
	// member's peer; the validation plugin requires all of them.
	pk := key(t, domain.KindPolicy, domain.PolicyID)
	want := []string{pk}
	for _, m := range testDepartments {
		a, _ := domain.AnchorKey(m)
		want = append(want, a)
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(out.writes)); !slices.Equal(got, want) {
		t.Errorf("InitPolicy wrote %q, want %q", got, want)
	}
	if got := (&p).Parties(); !slices.Equal(got, members) {
		t.Errorf("parties %v, want every member %v", got, members)
	}
	// From now on a majority of the members' peers governs the key.
	if n, orgs := h.majorityOf(pk); n != 3 || !slices.Equal(orgs, members) {
		t.Errorf("policy key endorsement: %d of %v, want 3 of %v", n, orgs, members)
	}
	if len(out.sbe) != 1 {
		t.Errorf("InitPolicy set %d key policies, want only the policy key's", len(out.sbe))
	}

	var got domain.Policy
	h.query(op2, &got, "GetPolicy")
	if a, b := jsonOf(t, got), jsonOf(t, p); a != b {
		t.Fatalf("GetPolicy %s, want %s", a, b)
	}
	h.reject(ad2, domain.CodeConflict, "the consortium policy is already set (version 1); only a proposal that a majority of the members' admins approve changes it",
		"InitPolicy", jsonOf(t, policyInput([]string{"Dept2MSP"}, nil)))
}

func TestInitPolicyRejects(t *testing.T) {
	valid := policyInput([]string{"BureauMSP"}, []string{"BureauMSP"})
	without := func(m string) domain.PolicyInput {
		in := valid
		in.Members = slices.DeleteFunc(slices.Clone(valid.Members), func(x string) bool { return x == m })
		return in
	}
	tests := []struct {
		name  string
		as    who
		input string
		code  domain.Code
		want  string
	}{
		{"not JSON", ad1, `{`, domain.CodeInvalid, "PolicyInput JSON"},
		{"unknown field", ad1, `{"members":["Dept1MSP"],"owners":[]}`, domain.CodeInvalid, "unknown field"},
		{"no members", ad1, `{"members":[],"evaluators":[],"auditors":[]}`, domain.CodeInvalid, "members must list every department"},
		{"member twice", ad1, jsonOf(t, domain.PolicyInput{Members: []string{"Dept1MSP", "Dept1MSP"}}), domain.CodeInvalid, "members lists Dept1MSP twice"},
		{"evaluator not a member", ad1, jsonOf(t, domain.PolicyInput{Members: valid.Members, Evaluators: []string{"RogueMSP"}}), domain.CodeInvalid, "evaluators names RogueMSP, which is not a member"},
		{"auditor twice", ad1, jsonOf(t, domain.PolicyInput{Members: valid.Members, Auditors: []string{"BureauMSP", "BureauMSP"}}), domain.CodeInvalid, "auditors lists BureauMSP twice"},
		{"operator", op1, jsonOf(t, valid), domain.CodeForbidden, "role admin is required to set the consortium policy; caller has role operator"},
		{"evaluator", evBu, jsonOf(t, valid), domain.CodeForbidden, "role admin is required to set the consortium policy; caller has role evaluator"},
		{"caller not a member", ad1, jsonOf(t, without("Dept1MSP")), domain.CodeForbidden, "Dept1MSP is not among the members"},
		{"a department on the ledger left out", ad1, jsonOf(t, without("Dept4MSP")), domain.CodeConflict, "department Dept4MSP has a profile on the ledger but is not among the members"},
		{"a member without a profile", ad1, jsonOf(t, domain.PolicyInput{Members: append(slices.Clone(valid.Members), "Dept9MSP")}), domain.CodeConflict, "department Dept9MSP has no profile on the ledger yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.noPolicy()
			h.reject(tt.as, tt.code, tt.want, "InitPolicy", tt.input)
		})
	}
}

func TestGetPolicyNotSet(t *testing.T) {
	h := newHarness(t)
	h.noPolicy()
	h.reject(op1, domain.CodeNotFound, "the consortium policy is not set on the ledger yet", "GetPolicy")
}

// TestRolesOnlyAsThePolicyGrants is hole 4 in the contract: a department's
// CA can write role=evaluator into any certificate, but the contract
// honours it only for a department the policy names.
func TestRolesOnlyAsThePolicyGrants(t *testing.T) {
	t.Run("evaluator of a department the policy names", func(t *testing.T) {
		h := newHarness(t)
		h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
		var s domain.ScoreSnapshot
		h.submit(evBu, &s, "PublishScores", jsonOf(t, scores()))
		if s.PublishedBy.MSPID != "BureauMSP" {
			t.Fatalf("snapshot %+v", s)
		}
	})
	t.Run("evaluator minted by another department", func(t *testing.T) {
		h := newHarness(t)
		h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
		h.reject(ev2, domain.CodeForbidden,
			"role evaluator is required to publish scores; the evaluator role of Dept2MSP is not honoured: the consortium policy (version 1) grants it to BureauMSP only",
			"PublishScores", jsonOf(t, scores()))
	})
	t.Run("an auditor is not an evaluator", func(t *testing.T) {
		h := newHarness(t)
		h.setPolicy([]string{"BureauMSP"}, []string{"Dept2MSP"})
		h.reject(au2, domain.CodeForbidden, "role evaluator is required to publish scores; caller has role auditor", "PublishScores", jsonOf(t, scores()))
	})
	t.Run("no evaluators at all", func(t *testing.T) {
		h := newHarness(t)
		h.setPolicy(nil, []string{"BureauMSP"})
		h.reject(evBu, domain.CodeForbidden, "the consortium policy (version 1) grants it to no department", "PublishScores", jsonOf(t, scores()))
	})
	t.Run("no policy yet", func(t *testing.T) {
		h := newHarness(t)
		h.noPolicy()
		h.reject(evBu, domain.CodeForbidden,
			"role evaluator is required to publish scores; the evaluator role of BureauMSP is not honoured: the consortium policy is not set on the ledger yet",
			"PublishScores", jsonOf(t, scores()))
	})
	t.Run("other roles do not read the policy", func(t *testing.T) {
		h := newHarness(t)
		h.noPolicy()
		h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
	})
}

func TestPolicyProposalApprovedByMajority(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	pk := key(t, domain.KindPolicy, domain.PolicyID)
	policyEP := h.ledger.sbe[pk]

	var pp domain.PolicyProposal
	out := h.submit(ad2, &pp, "ProposePolicy", `{"evaluators":["Dept2MSP","BureauMSP"],"auditors":["BureauMSP"]}`)
	if !strings.HasPrefix(pp.ID, "pp-") || pp.BaseVersion != 1 || !slices.Equal(pp.Evaluators, []string{"BureauMSP", "Dept2MSP"}) ||
		!slices.Equal(pp.Auditors, []string{"BureauMSP"}) || pp.ProposedBy.MSPID != "Dept2MSP" || !pp.ProposedAt.Equal(h.now) {
		t.Fatalf("proposal %+v", pp)
	}
	h.event(out, domain.EventPolicyProposed, domain.KindPolicyProposal, pp.ID, ad2)
	h.wantEndorsers(domain.KindPolicyProposal, pp.ID, "Dept2MSP")
	// A proposal changes nothing by itself.
	h.reject(ev2, domain.CodeForbidden, "grants it to BureauMSP only", "PublishScores", jsonOf(t, scores()))

	status := func() domain.PolicyProposalStatus {
		var st domain.PolicyProposalStatus
		h.query(op1, &st, "GetPolicyProposal", pp.ID)
		return st
	}
	if st := status(); st.Status != domain.ProposalOpen || len(st.Approvals) != 0 || st.Needed != 3 {
		t.Fatalf("status %+v", st)
	}

	approve := func(w who, applied bool) domain.PolicyApprovalResult {
		t.Helper()
		h.advance(time.Second)
		var res domain.PolicyApprovalResult
		out := h.submit(w, &res, "ApprovePolicyProposal", pp.ID)
		if res.Applied != applied || res.ProposalID != pp.ID || res.MSPID != w.msp || res.Needed != 3 {
			t.Fatalf("approval by %s: %+v", w.msp, res)
		}
		if !applied {
			id := domain.PolicyApprovalID(pp.ID, w.msp)
			e := h.event(out, domain.EventPolicyApproved, domain.KindPolicyApproval, id, w)
			if e.PolicyApproval == nil || e.PolicyApproval.MSPID != w.msp || e.PolicyApproval.ProposalID != pp.ID {
				t.Errorf("event %+v", e)
			}
			// Its own peer must endorse it: the key's policy and its anchor.
			h.wantEndorsers(domain.KindPolicyApproval, id, w.msp)
			a, _ := domain.AnchorKey(w.msp)
			if _, ok := out.writes[a]; !ok {
				t.Errorf("approval by %s did not write its anchor", w.msp)
			}
			if _, ok := out.writes[pk]; ok {
				t.Errorf("approval %d of 3 wrote the policy", len(res.Approvals))
			}
		}
		return res
	}

	// One approval: the policy is unchanged.
	if res := approve(ad1, false); !slices.Equal(res.Approvals, []string{"Dept1MSP"}) || res.Policy.Version != 1 {
		t.Fatalf("first approval %+v", res)
	}
	h.reject(ad1, domain.CodeConflict, "Dept1MSP has already approved proposal "+pp.ID+"; each department approves once", "ApprovePolicyProposal", pp.ID)
	if res := approve(ad2, false); !slices.Equal(res.Approvals, []string{"Dept1MSP", "Dept2MSP"}) {
		t.Fatalf("second approval %+v", res)
	}
	var p domain.Policy
	h.query(op1, &p, "GetPolicy")
	if p.Version != 1 || slices.Contains(p.Evaluators, "Dept2MSP") {
		t.Fatalf("policy after 2 of 5 approvals: %+v", p)
	}
	if st := status(); st.Status != domain.ProposalOpen || !slices.Equal(st.Approvals, []string{"Dept1MSP", "Dept2MSP"}) {
		t.Fatalf("status %+v", st)
	}

	// The third of five makes the majority: the same transaction writes
	// version 2, and only it.
	h.advance(time.Second)
	var res domain.PolicyApprovalResult
	out = h.submit(adBu, &res, "ApprovePolicyProposal", pp.ID)
	if !res.Applied || !slices.Equal(res.Approvals, []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}) {
		t.Fatalf("third approval %+v", res)
	}
	if got := slices.Collect(maps.Keys(out.writes)); !slices.Equal(got, []string{pk}) || len(out.sbe) != 0 {
		t.Fatalf("the applying approval wrote %q and %d key policies, want only the policy key", got, len(out.sbe))
	}
	e := h.event(out, domain.EventPolicyUpdated, domain.KindPolicy, domain.PolicyID, adBu)
	h.query(op1, &p, "GetPolicy")
	if p.Version != 2 || !slices.Equal(p.Evaluators, []string{"BureauMSP", "Dept2MSP"}) || !slices.Equal(p.Auditors, []string{"BureauMSP"}) ||
		p.ProposalID != pp.ID || !slices.Equal(p.Approvals, res.Approvals) || p.UpdatedBy.MSPID != "BureauMSP" || !p.UpdatedAt.Equal(h.now) ||
		!slices.Equal(p.Members, slices.Sorted(slices.Values(testDepartments))) {
		t.Fatalf("policy version 2: %+v", p)
	}
	if jsonOf(t, e.Policy) != jsonOf(t, p) || jsonOf(t, res.Policy) != jsonOf(t, p) {
		t.Errorf("event or answer differ from the stored policy")
	}
	if string(h.ledger.sbe[pk]) != string(policyEP) {
		t.Errorf("the policy key's endorsement policy changed")
	}
	// Dept2's evaluators count now.
	h.submit(ev2, nil, "PublishScores", jsonOf(t, scores()))

	if st := status(); st.Status != domain.ProposalApplied || st.AppliedVersion != 2 || !slices.Equal(st.Approvals, res.Approvals) {
		t.Fatalf("status %+v", st)
	}
	h.reject(ad4, domain.CodeConflict, "proposal "+pp.ID+" is already applied: it made policy version 2", "ApprovePolicyProposal", pp.ID)
}

func TestPolicyProposalGoesStale(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	var first, second domain.PolicyProposal
	h.submit(ad1, &first, "ProposePolicy", `{"evaluators":["BureauMSP","Dept1MSP"],"auditors":["BureauMSP"]}`)
	h.submit(ad2, &second, "ProposePolicy", `{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`)
	h.submit(ad1, nil, "ApprovePolicyProposal", second.ID)
	for _, w := range []who{ad1, ad2, ad3} {
		h.submit(w, nil, "ApprovePolicyProposal", first.ID)
	}
	h.reject(ad2, domain.CodeConflict, "proposal "+second.ID+" was made for policy version 1, and the policy is at version 2 now: it can no longer be approved; propose again",
		"ApprovePolicyProposal", second.ID)
	var st domain.PolicyProposalStatus
	h.query(op1, &st, "GetPolicyProposal", second.ID)
	if st.Status != domain.ProposalStale || !slices.Equal(st.Approvals, []string{"Dept1MSP"}) {
		t.Fatalf("second proposal %+v", st)
	}
	// An applied proposal stays applied once a later one is applied too.
	var third domain.PolicyProposal
	h.submit(ad3, &third, "ProposePolicy", `{"evaluators":["BureauMSP"],"auditors":["BureauMSP"]}`)
	for _, w := range []who{ad2, ad3, ad4} {
		h.submit(w, nil, "ApprovePolicyProposal", third.ID)
	}
	h.query(op1, &st, "GetPolicyProposal", first.ID)
	if st.Status != domain.ProposalApplied || st.AppliedVersion != 2 || !slices.Equal(st.Approvals, []string{"Dept1MSP", "Dept2MSP", "Dept3MSP"}) {
		t.Fatalf("first proposal %+v", st)
	}
	var p domain.Policy
	h.query(op1, &p, "GetPolicy")
	if p.Version != 3 || p.ProposalID != third.ID || !slices.Equal(p.Evaluators, []string{"BureauMSP"}) {
		t.Fatalf("policy %+v", p)
	}
}

func TestPolicyProposalRejects(t *testing.T) {
	rogue := who{"RogueMSP", "admin", "rogue"}
	tests := []struct {
		name  string
		as    who
		input string
		code  domain.Code
		want  string
	}{
		{"not JSON", ad1, `[]`, domain.CodeInvalid, "PolicyProposalInput JSON"},
		{"unknown field", ad1, `{"evaluators":[],"members":[]}`, domain.CodeInvalid, "unknown field"},
		{"evaluator twice", ad1, `{"evaluators":["Dept2MSP","Dept2MSP"]}`, domain.CodeInvalid, "evaluators lists Dept2MSP twice"},
		{"not an MSP ID", ad1, `{"auditors":["bad msp"]}`, domain.CodeInvalid, `auditors "bad msp" is not a valid MSP ID`},
		{"operator", op1, `{"evaluators":["Dept2MSP"]}`, domain.CodeForbidden, "role admin is required to propose a change of the consortium policy; caller has role operator"},
		{"admin of no member", rogue, `{"evaluators":["Dept2MSP"]}`, domain.CodeForbidden, "only an admin of a member department may propose a change of the consortium policy; RogueMSP is not among the members"},
		{"evaluator not a member", ad1, `{"evaluators":["RogueMSP"],"auditors":["BureauMSP"]}`, domain.CodeInvalid, "evaluators names RogueMSP, which is not a member"},
		{"no change", ad1, `{"evaluators":["BureauMSP"],"auditors":["BureauMSP"]}`, domain.CodeConflict, "the proposal changes nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
			h.reject(tt.as, tt.code, tt.want, "ProposePolicy", tt.input)
		})
	}
	t.Run("no policy", func(t *testing.T) {
		h := newHarness(t)
		h.noPolicy()
		h.reject(ad1, domain.CodeNotFound, "the consortium policy is not set", "ProposePolicy", `{"evaluators":["Dept2MSP"]}`)
	})
}

func TestApprovePolicyProposalRejects(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	var pp domain.PolicyProposal
	h.submit(ad2, &pp, "ProposePolicy", `{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`)
	h.reject(ad1, domain.CodeInvalid, "id is required", "ApprovePolicyProposal", "")
	h.reject(ad1, domain.CodeNotFound, "policyProposal pp-ghost does not exist", "ApprovePolicyProposal", "pp-ghost")
	h.reject(ap1, domain.CodeForbidden, "role admin is required to approve a change of the consortium policy; caller has role approver", "ApprovePolicyProposal", pp.ID)
	h.reject(who{"RogueMSP", "admin", "rogue"}, domain.CodeForbidden, "RogueMSP is not among the members", "ApprovePolicyProposal", pp.ID)
	// An approval cannot be dated before the proposal it approves.
	h.advance(-time.Minute)
	h.reject(ad1, domain.CodeConflict, "proposal "+pp.ID+" was made at", "ApprovePolicyProposal", pp.ID)
	h.reject(op1, domain.CodeNotFound, "policyProposal pp-ghost does not exist", "GetPolicyProposal", "pp-ghost")
}

func TestPolicyRecordsUnderTheirKeys(t *testing.T) {
	// What the validation plugin and the indexers read back from the write
	// sets: each record parses under its key, with its parties.
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	var pp domain.PolicyProposal
	h.submit(ad2, &pp, "ProposePolicy", `{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`)
	out := h.submit(ad1, nil, "ApprovePolicyProposal", pp.ID)
	for k, v := range out.writes {
		w, err := domain.ParseWrite(k, v)
		if err != nil {
			t.Fatalf("write %q: %v", domain.PrintableKey(k), err)
		}
		if w.Info.Kind() == domain.KindPolicyApproval && !slices.Equal(w.Parties(), []string{"Dept1MSP"}) {
			t.Errorf("approval parties %v", w.Parties())
		}
	}
}

func TestPolicyHistory(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	var pp domain.PolicyProposal
	h.submit(ad2, &pp, "ProposePolicy", `{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`)
	h.submit(ad1, nil, "ApprovePolicyProposal", pp.ID)
	var hist []HistoryEntry
	h.query(au3, &hist, "History", "policyProposal", pp.ID)
	h.query(au3, &hist, "History", "policyApproval", domain.PolicyApprovalID(pp.ID, "Dept1MSP"))
	if len(hist) != 1 {
		t.Fatalf("approval history %+v", hist)
	}
	h.reject(au3, domain.CodeInvalid, "must be <proposalId>.<mspId>", "History", "policyApproval", pp.ID)
}
