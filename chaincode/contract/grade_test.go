package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func init() {
	submitTxs = append(submitTxs, "CoApproveRequest")
	slices.Sort(submitTxs)
}

var (
	apBu  = who{"BureauMSP", "approver", "apBu"}
	apBu2 = who{"BureauMSP", "approver", "apBu2"}
	opBu  = who{"BureauMSP", "operator", "opBu"}
)

// testGrades are the grade rules of network/topology.yaml.
func testGrades() []domain.GradeRule {
	all := []domain.ShareType{domain.ShareUnconditional, domain.ShareConditional, domain.ShareNone}
	guarded := []domain.ShareType{domain.ShareConditional, domain.ShareNone}
	return []domain.GradeRule{
		{Grade: 1, ShareTypes: all},
		{Grade: 2, ShareTypes: all, LegalBasisRequired: true, MaxApprovalDays: 730, DestroyWithinDays: 90, MaxDeliveryRecords: 1000000},
		{Grade: 3, ShareTypes: guarded, LegalBasisRequired: true, MaxApprovalDays: 365, DestroyWithinDays: 30, MaxDeliveryRecords: 100000},
		{Grade: 4, ShareTypes: guarded, LegalBasisRequired: true, MaxApprovalDays: 90, BureauApproval: true, DestroyWithinDays: 7, MaxDeliveryRecords: 10000},
	}
}

// setGradePolicy replaces the committed policy with one that has grade
// rules and BureauMSP as its bureau.
func (h *harness) setGradePolicy(grades []domain.GradeRule) domain.Policy {
	h.t.Helper()
	members := slices.Sorted(slices.Values(testDepartments))
	p := domain.Policy{
		ID: domain.PolicyID, Members: members, Evaluators: members, Auditors: members,
		Bureaus: []string{"BureauMSP"}, Grades: grades, Version: 1, UpdatedAt: h.now.Add(-time.Hour),
	}
	if err := p.Validate(); err != nil {
		h.t.Fatal(err)
	}
	h.ledger.putPolicy(&p)
	return p
}

// denied runs a call that a grade rule must refuse, changing nothing, and
// checks that the denial names the grade and the rule, in its message and
// its details (recovered from the text that crossed the boundary).
func (h *harness) denied(w who, grade int, rule, want, fn string, args ...string) {
	h.t.Helper()
	out := h.reject(w, domain.CodeForbidden, want, fn, args...)
	msg := out.err.Message
	if !strings.HasPrefix(msg, "grade "+string(rune('0'+grade))+" data ") || !strings.HasSuffix(msg, "(policy rule "+rule+")") {
		h.t.Errorf("%s denial %q does not name grade %d and rule %s", fn, msg, grade, rule)
	}
	if out.err.Details["rule"] != rule || out.err.Details["grade"] != string(rune('0'+grade)) {
		h.t.Errorf("%s denial details %v, want rule %s and grade %d", fn, out.err.Details, rule, grade)
	}
}

func gradedInput(id string, grade int, share domain.ShareType) domain.DatasetInput {
	in := datasetInput(id, share)
	in.Grade = grade
	return in
}

func TestGradeShareTypes(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	for _, c := range []struct {
		grade int
		share domain.ShareType
		want  string // "" allowed
	}{
		{1, domain.ShareUnconditional, ""},
		{2, domain.ShareUnconditional, ""},
		{3, domain.ShareUnconditional, "grade 3 data cannot be shared unconditionally: under the consortium policy (version 1) its share type is one of conditional, none"},
		{3, domain.ShareConditional, ""},
		{4, domain.ShareUnconditional, "grade 4 data cannot be shared unconditionally"},
		{4, domain.ShareNone, ""},
	} {
		in := gradedInput("", c.grade, c.share)
		if c.want == "" {
			if d := h.registerDataset(op1, in); d.Grade != c.grade || d.ShareType != c.share {
				t.Errorf("registered %+v", d)
			}
			continue
		}
		h.denied(op1, c.grade, domain.RuleShareTypes, c.want, "RegisterDataset", jsonOf(t, in))
	}

	// An update is held to the rule too: neither a new share type nor a
	// new grade may break it.
	d := h.registerDataset(op1, gradedInput("census", 2, domain.ShareUnconditional))
	h.denied(op1, 3, domain.RuleShareTypes, "cannot be shared unconditionally", "UpdateDataset", d.ID, jsonOf(t, gradedInput("", 3, domain.ShareUnconditional)))
	var up domain.Dataset
	h.submit(op1, &up, "UpdateDataset", d.ID, jsonOf(t, gradedInput("", 3, domain.ShareConditional)))
	if up.Grade != 3 || up.ShareType != domain.ShareConditional || up.Version != 2 {
		t.Fatalf("updated %+v", up)
	}
}

func TestGradeLegalBasis(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	public := h.registerDataset(op1, gradedInput("", 1, domain.ShareConditional))
	graded := h.registerDataset(op1, gradedInput("", 2, domain.ShareConditional))

	in := h.requestInput(public.ID)
	in.LegalBasis = ""
	if r := h.createRequest(op2, in); r.LegalBasis != "" || r.Status != domain.RequestPending {
		t.Fatalf("grade 1 request without a legal basis: %+v", r)
	}
	in.DatasetID = graded.ID
	h.denied(op2, 2, domain.RuleLegalBasisRequired, "grade 2 data is requested only with a legal basis under the consortium policy (version 1), and legalBasis is empty", "CreateRequest", jsonOf(t, in))
	in.LegalBasis = "  "
	h.denied(op2, 2, domain.RuleLegalBasisRequired, "legalBasis is empty", "CreateRequest", jsonOf(t, in))
	in.LegalBasis = "Regulation 12"
	h.createRequest(op2, in)
}

func TestGradeApprovalPeriod(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	d := h.registerDataset(op1, gradedInput("", 3, domain.ShareConditional))
	in := h.requestInput(d.ID)
	in.ValidUntil = h.now.Add(400 * 24 * time.Hour)
	r := h.createRequest(op2, in)
	h.denied(ap1, 3, domain.RuleMaxApprovalDays, "grade 3 data is approved for at most 365 days under the consortium policy (version 1): the request runs until "+in.ValidUntil.Format(time.RFC3339), "ApproveRequest", r.ID, `{}`)
	// The period runs from the approval: 40 days later the same request fits.
	h.advance(40 * 24 * time.Hour)
	var out domain.Request
	h.submit(ap1, &out, "ApproveRequest", r.ID, `{}`)
	if out.Status != domain.RequestApproved {
		t.Fatalf("approved %+v", out)
	}

	// Unconditionally shared data is approved at once: its request is held
	// to the period when it is created.
	open := h.registerDataset(op1, gradedInput("", 2, domain.ShareUnconditional))
	in = h.requestInput(open.ID)
	in.ValidUntil = h.now.Add(731 * 24 * time.Hour)
	h.denied(op2, 2, domain.RuleMaxApprovalDays, "grade 2 data is approved for at most 730 days", "CreateRequest", jsonOf(t, in))
	in.ValidUntil = h.now.Add(730 * 24 * time.Hour)
	if r := h.createRequest(op2, in); r.Status != domain.RequestApproved {
		t.Fatalf("request %+v", r)
	}
}

func TestGradeBureauCoApproval(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	d := h.registerDataset(op1, gradedInput("", 4, domain.ShareConditional))
	in := h.requestInput(d.ID)
	r := h.createRequest(op2, in)
	// The bureau is to co-approve it, so its people may read it
	// (domain.Readers; a third department may not: domain's read tests).
	if !slices.Equal(r.CoApprovers, []string{"BureauMSP"}) {
		t.Fatalf("coApprovers %v", r.CoApprovers)
	}
	var seen domain.Request
	h.query(apBu, &seen, "GetRequest", r.ID)
	if seen.ID != r.ID {
		t.Fatalf("the bureau reads %+v", seen)
	}
	if low := h.createRequest(op2, h.requestInput(h.registerDataset(op1, gradedInput("", 3, domain.ShareConditional)).ID)); low.CoApprovers != nil {
		t.Fatalf("a grade 3 request names co-approvers %v", low.CoApprovers)
	}

	// The owner's approver cannot approve before the bureau.
	h.denied(ap1, 4, domain.RuleBureauApproval, "grade 4 data is approved only after an approver of the data-administration bureau (BureauMSP) has co-approved the request under the consortium policy (version 1), and request "+r.ID+" has no co-approval yet", "ApproveRequest", r.ID, `{}`)
	// Only a bureau's approver co-approves.
	h.reject(ap2, domain.CodeForbidden, "Dept2MSP is not one of the consortium policy's bureaus (BureauMSP)", "CoApproveRequest", r.ID, `{}`)
	h.reject(ap1, domain.CodeForbidden, "Dept1MSP is not one of the consortium policy's bureaus", "CoApproveRequest", r.ID, `{}`)
	h.reject(opBu, domain.CodeForbidden, "role approver is required to co-approve a request", "CoApproveRequest", r.ID, `{}`)

	h.advance(time.Minute)
	var co domain.Request
	out := h.submit(apBu, &co, "CoApproveRequest", r.ID, `{"reason":"purpose within the data-sharing catalogue"}`)
	if co.Status != domain.RequestPending || co.CoApprovedBy == nil || co.CoApprovedBy.MSPID != "BureauMSP" || !co.CoApprovedAt.Equal(h.now) ||
		co.CoApprovalReason != "purpose within the data-sharing catalogue" || co.DecidedBy != nil {
		t.Fatalf("co-approved %+v", co)
	}
	e := h.event(out, domain.EventRequestCoApproved, domain.KindRequest, r.ID, apBu)
	if e.Request == nil || e.Request.CoApprovedBy == nil || e.Status != string(domain.RequestPending) {
		t.Errorf("event %+v", e)
	}
	// The bureau's own peer endorses it: the transaction writes its anchor;
	// the request keeps its parties' endorsement policy.
	if a, _ := domain.AnchorKey("BureauMSP"); out.writes[a] == nil {
		t.Error("the co-approval did not write the bureau's anchor")
	}
	h.wantEndorsers(domain.KindRequest, r.ID, "Dept1MSP", "Dept2MSP")
	h.reject(apBu2, domain.CodeConflict, "request "+r.ID+" was already co-approved by "+apBu.subject(), "CoApproveRequest", r.ID, `{}`)

	h.advance(time.Minute)
	var ok domain.Request
	h.submit(ap1, &ok, "ApproveRequest", r.ID, `{"reason":"lawful purpose"}`)
	if ok.Status != domain.RequestApproved || ok.DecidedBy.MSPID != "Dept1MSP" || ok.CoApprovedBy.Subject != apBu.subject() {
		t.Fatalf("approved %+v", ok)
	}
	h.reject(apBu, domain.CodeConflict, "only a pending request can be co-approved", "CoApproveRequest", r.ID, `{}`)

	// Two people: where the bureau owns the data, the co-approver cannot
	// approve it as the owner too; another of its approvers can.
	own := h.registerDataset(opBu, gradedInput("", 4, domain.ShareConditional))
	rb := h.createRequest(op2, h.requestInput(own.ID))
	h.submit(apBu, nil, "CoApproveRequest", rb.ID, `{}`)
	h.denied(apBu, 4, domain.RuleBureauApproval, "grade 4 data needs two approvers under the consortium policy (version 1): "+apBu.subject()+" co-approved request "+rb.ID, "ApproveRequest", rb.ID, `{}`)
	h.submit(apBu2, nil, "ApproveRequest", rb.ID, `{}`)

	// The bureau never co-approves its own request, nor one whose grade
	// needs none.
	rOwn := h.createRequest(opBu, h.requestInput(d.ID))
	h.reject(apBu, domain.CodeForbidden, "BureauMSP requested "+rOwn.ID+" itself", "CoApproveRequest", rOwn.ID, `{}`)
	low := h.registerDataset(op1, gradedInput("", 3, domain.ShareConditional))
	rLow := h.createRequest(op2, h.requestInput(low.ID))
	h.reject(apBu, domain.CodeConflict, "is grade 3, whose requests need no bureau co-approval", "CoApproveRequest", rLow.ID, `{}`)
	h.submit(ap1, nil, "ApproveRequest", rLow.ID, `{}`)
}

func TestGradeDeliveryRecords(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	d := h.registerDataset(op1, gradedInput("", 3, domain.ShareConditional))
	r := h.createRequest(op2, h.requestInput(d.ID))
	h.submit(ap1, nil, "ApproveRequest", r.ID, `{}`)
	in := deliveryInput()
	in.Records = 100001
	h.denied(op1, 3, domain.RuleMaxDeliveryRecords, "grade 3 data is delivered at most 100000 records at a time under the consortium policy (version 1), and this delivery holds 100001", "RecordDelivery", r.ID, jsonOf(t, in))
	in.Records = 100000
	var dl domain.Delivery
	h.submit(op1, &dl, "RecordDelivery", r.ID, jsonOf(t, in))
	if dl.Records != 100000 {
		t.Fatalf("delivery %+v", dl)
	}
}

// TestGradeLegacyRules: a ledger whose policy has no grade rules, or has
// no policy at all, behaves as before the rules: every share type for
// every grade, a legal basis on every request, no period or size limit.
func TestGradeLegacyRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(h *harness)
		by    string
	}{
		{"a policy without grade rules", func(h *harness) {}, "the default rules (consortium policy version 1 has no grade rules)"},
		{"no policy", func(h *harness) { h.noPolicy() }, "the default rules (no consortium policy on the ledger yet)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.setup(h)
			core := h.registerDataset(op1, gradedInput("", 4, domain.ShareUnconditional))
			in := h.requestInput(core.ID)
			in.ValidUntil = h.now.Add(4 * 365 * 24 * time.Hour)
			r := h.createRequest(op2, in)
			if r.Status != domain.RequestApproved {
				t.Fatalf("request %+v", r)
			}
			big := deliveryInput()
			big.Records = 1 << 40
			h.submit(op1, nil, "RecordDelivery", r.ID, jsonOf(t, big))
			in.LegalBasis = ""
			h.denied(op2, 4, domain.RuleLegalBasisRequired, "grade 4 data is requested only with a legal basis under "+c.by, "CreateRequest", jsonOf(t, in))
			// Nor is there a bureau to co-approve.
			cond := h.registerDataset(op1, gradedInput("", 4, domain.ShareConditional))
			rc := h.createRequest(op2, h.requestInput(cond.ID))
			h.reject(apBu, domain.CodeForbidden, "BureauMSP is not one of the consortium policy's bureaus (none)", "CoApproveRequest", rc.ID, `{}`)
			h.submit(ap1, nil, "ApproveRequest", rc.ID, `{}`)
		})
	}
}

func TestInitPolicyWithGrades(t *testing.T) {
	h := newHarness(t)
	h.noPolicy()
	in := policyInput([]string{"BureauMSP"}, []string{"BureauMSP"})
	in.Bureaus = []string{"BureauMSP"}
	in.Grades = testGrades()
	slices.Reverse(in.Grades) // any order: the policy keeps them by grade
	in.Grades[0].ShareTypes = []domain.ShareType{domain.ShareNone, domain.ShareConditional}

	bad := in
	bad.Bureaus = nil
	h.reject(ad1, domain.CodeInvalid, "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus", "InitPolicy", jsonOf(t, bad))
	bad = in
	bad.Grades = in.Grades[1:]
	h.reject(ad1, domain.CodeInvalid, "grades lists 3 rules; it must list one for each grade 1 to 4, or none", "InitPolicy", jsonOf(t, bad))
	bad = in
	bad.Bureaus = []string{"RogueMSP"}
	h.reject(ad1, domain.CodeInvalid, "bureaus names RogueMSP, which is not a member", "InitPolicy", jsonOf(t, bad))

	var p domain.Policy
	h.submit(ad1, &p, "InitPolicy", jsonOf(t, in))
	var got domain.Policy
	h.query(op1, &got, "GetPolicy")
	if !slices.Equal(got.Bureaus, []string{"BureauMSP"}) || jsonOf(t, got.Grades) != jsonOf(t, testGrades()) || jsonOf(t, p) != jsonOf(t, got) {
		t.Fatalf("policy %+v", got)
	}
	h.reject(op1, domain.CodeForbidden, "grade 3 data cannot be shared unconditionally", "RegisterDataset", jsonOf(t, gradedInput("", 3, domain.ShareUnconditional)))
}

// TestGradeRulesByProposal: a majority's proposal sets grade rules on a
// ledger that had none; a later proposal that leaves them out keeps them;
// one that changes them changes what the contract allows.
func TestGradeRulesByProposal(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	h.registerDataset(op1, gradedInput("", 3, domain.ShareUnconditional)) // legacy rules: allowed

	apply := func(body string, version int) domain.Policy {
		t.Helper()
		p := h.applyProposal(body)
		if p.Version != version {
			t.Fatalf("proposal %s made version %d, want %d", body, p.Version, version)
		}
		return p
	}

	rules := jsonOf(t, testGrades())
	h.reject(ad1, domain.CodeInvalid, "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus", "ProposePolicy",
		`{"evaluators":["BureauMSP"],"auditors":["BureauMSP"],"grades":`+rules+`}`)
	p := apply(`{"evaluators":["BureauMSP"],"auditors":["BureauMSP"],"bureaus":["BureauMSP"],"grades":`+rules+`}`, 2)
	if !slices.Equal(p.Bureaus, []string{"BureauMSP"}) || jsonOf(t, p.Grades) != rules {
		t.Fatalf("policy version 2: %+v", p)
	}
	h.denied(op1, 3, domain.RuleShareTypes, "grade 3 data cannot be shared unconditionally: under the consortium policy (version 2)", "RegisterDataset", jsonOf(t, gradedInput("", 3, domain.ShareUnconditional)))

	// The same rules again change nothing.
	h.reject(ad2, domain.CodeConflict, "the proposal changes nothing", "ProposePolicy", `{"evaluators":["BureauMSP"],"auditors":["BureauMSP"],"grades":`+rules+`}`)
	// Left out, they stay.
	p = apply(`{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`, 3)
	if jsonOf(t, p.Grades) != rules || !slices.Equal(p.Bureaus, []string{"BureauMSP"}) {
		t.Fatalf("policy version 3 lost its grade rules: %+v", p)
	}
	// Changed, they rule from the applying block on.
	grades := testGrades()
	grades[2].ShareTypes = []domain.ShareType{domain.ShareUnconditional, domain.ShareConditional, domain.ShareNone}
	changed, _ := json.Marshal(grades)
	p = apply(`{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"],"grades":`+string(changed)+`}`, 4)
	if p.Grades[2].ShareTypes[0] != domain.ShareUnconditional {
		t.Fatalf("policy version 4: %+v", p.Grades[2])
	}
	h.registerDataset(op1, gradedInput("", 3, domain.ShareUnconditional))
	// Dropping the bureaus while grade 4 needs one is refused.
	h.reject(ad1, domain.CodeInvalid, "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus", "ProposePolicy",
		`{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"],"bureaus":[]}`)
}

// TestCoApproveRefusesLateOrRetired: a co-approval, like an approval, is
// refused once the request has expired or its dataset is retired.
func TestCoApproveRefusesLateOrRetired(t *testing.T) {
	h := newHarness(t)
	h.setGradePolicy(testGrades())
	d := h.registerDataset(op1, gradedInput("", 4, domain.ShareConditional))
	in := h.requestInput(d.ID)
	in.ValidUntil = h.now.Add(time.Hour)
	late := h.createRequest(op2, in)
	r := h.createRequest(op2, h.requestInput(d.ID))
	h.advance(2 * time.Hour)
	h.reject(apBu, domain.CodeConflict, "request "+late.ID+" expired at", "CoApproveRequest", late.ID, `{}`)
	h.submit(op1, nil, "RetireDataset", d.ID, `{}`)
	h.reject(apBu, domain.CodeConflict, "dataset "+d.ID+" is retired", "CoApproveRequest", r.ID, `{}`)
	h.reject(apBu, domain.CodeInvalid, "id", "CoApproveRequest", "bad id", `{}`)
}

// TestSpikeRuleByProposal: the watch's spike rule is part of the policy,
// set by a majority's proposal, kept by later proposals that leave it out
// and by membership changes, and refused when out of its bounds.
func TestSpikeRuleByProposal(t *testing.T) {
	h := newHarness(t)
	h.setPolicy([]string{"BureauMSP"}, []string{"BureauMSP"})
	var p domain.Policy
	h.query(au3, &p, "GetPolicy")
	if p.Spike != nil || p.SpikeOf() != domain.DefaultSpikeRule() {
		t.Fatalf("genesis spike rule %+v", p.Spike)
	}
	apply := h.applyProposal
	base := `"evaluators":["BureauMSP"],"auditors":["BureauMSP"]`
	for _, bad := range []struct{ spike, want string }{
		{`{"periodHours":0,"min":5,"sigmas":2,"periods":6,"history":3}`, "spike.periodHours must be from 1 second"},
		{`{"periodHours":1,"min":0,"sigmas":2,"periods":6,"history":3}`, "spike.min must be from 1"},
		{`{"periodHours":1,"min":5,"sigmas":0,"periods":6,"history":3}`, "spike.sigmas must be above 0"},
		{`{"periodHours":1,"min":5,"sigmas":2,"periods":400,"history":3}`, "spike.periods must be from 1 to 366"},
		{`{"periodHours":1,"min":5,"sigmas":2,"periods":6,"history":7}`, "spike.history must be from 1 to spike.periods (6)"},
	} {
		h.reject(ad1, domain.CodeInvalid, bad.want, "ProposePolicy", `{`+base+`,"spike":`+bad.spike+`}`)
	}
	h.reject(ad1, domain.CodeInvalid, "not both", "ProposePolicy", `{"member":{"action":"suspend","mspId":"Dept3MSP"},"spike":{"periodHours":1,"min":5,"sigmas":2,"periods":6,"history":3}}`)
	want := domain.SpikeRule{PeriodHours: 0.001, Min: 4, Sigmas: 2, Periods: 6, History: 3}
	p = apply(`{` + base + `,"spike":` + jsonOf(t, want) + `}`)
	if p.Spike == nil || *p.Spike != want || p.SpikeOf().Period() != 4*time.Second {
		t.Fatalf("spike after the proposal: %+v", p.Spike)
	}
	h.reject(ad2, domain.CodeConflict, "the proposal changes nothing", "ProposePolicy", `{`+base+`,"spike":`+jsonOf(t, want)+`}`)
	p = apply(`{"evaluators":["BureauMSP","Dept2MSP"],"auditors":["BureauMSP"]}`)
	if p.Spike == nil || *p.Spike != want {
		t.Fatalf("a proposal that left the spike rule out changed it: %+v", p.Spike)
	}
	p = h.approveAll(h.proposeMember(ad1, domain.MemberSuspend, "Dept3MSP"), 3, ad1, ad2, adBu)
	if p.Spike == nil || *p.Spike != want {
		t.Fatalf("a membership change dropped the spike rule: %+v", p.Spike)
	}
}

// applyProposal has ad1 propose body and ad1, ad2 and adBu (a majority of
// the five members) approve it, and answers the policy it applied.
func (h *harness) applyProposal(body string) domain.Policy {
	h.t.Helper()
	var pp domain.PolicyProposal
	h.advance(time.Second)
	h.submit(ad1, &pp, "ProposePolicy", body)
	var res domain.PolicyApprovalResult
	for _, w := range []who{ad1, ad2, adBu} {
		h.advance(time.Second)
		h.submit(w, &res, "ApprovePolicyProposal", pp.ID)
	}
	if !res.Applied {
		h.t.Fatalf("proposal %s not applied: %+v", body, res)
	}
	return res.Policy
}
