package domain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func validGrades() []GradeRule {
	all := []ShareType{ShareUnconditional, ShareConditional, ShareNone}
	return []GradeRule{
		{Grade: 1, ShareTypes: all},
		{Grade: 2, ShareTypes: all, LegalBasisRequired: true, MaxApprovalDays: 730},
		{Grade: 3, ShareTypes: []ShareType{ShareConditional, ShareNone}, LegalBasisRequired: true, MaxApprovalDays: 365, DestroyWithinDays: 30, MaxDeliveryRecords: 100000},
		{Grade: 4, ShareTypes: []ShareType{ShareConditional, ShareNone}, LegalBasisRequired: true, MaxApprovalDays: 90, BureauApproval: true, DestroyWithinDays: 7, MaxDeliveryRecords: 10000},
	}
}

func TestGradeRulesValidate(t *testing.T) {
	members := []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}
	edit := func(f func(g []GradeRule)) []GradeRule { g := validGrades(); f(g); return g }
	tests := []struct {
		name    string
		bureaus []string
		grades  []GradeRule
		want    string
	}{
		{"valid", []string{"BureauMSP"}, validGrades(), ""},
		{"none: the legacy rules", nil, nil, ""},
		{"three rules", []string{"BureauMSP"}, validGrades()[:3], "grades lists 3 rules; it must list one for each grade 1 to 4, or none"},
		{"a grade twice", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[1].Grade = 1 }), "grades must list grades 1 to 4 once each, in order: rule 2 is for grade 1"},
		{"grade 5", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[3].Grade = 5 }), "rule 4 is for grade 5"},
		{"no share type", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[0].ShareTypes = nil }), "grades[1].shareTypes must allow at least one share type"},
		{"an unknown share type", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[0].ShareTypes = []ShareType{"open"} }), `grades[1].shareTypes: "open" must be one of`},
		{"a share type twice", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[0].ShareTypes = []ShareType{ShareNone, ShareNone} }), "grades[1].shareTypes lists none twice"},
		{"negative period", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[2].MaxApprovalDays = -1 }), "grades[3].maxApprovalDays must be from 0 (no limit) to 1830, not -1"},
		{"period beyond a request's", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[2].MaxApprovalDays = 1831 }), "grades[3].maxApprovalDays must be from 0"},
		{"negative destruction", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[3].DestroyWithinDays = -7 }), "grades[4].destroyWithinDays must be from 0 (not required)"},
		{"negative records", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[3].MaxDeliveryRecords = -1 }), "grades[4].maxDeliveryRecords must be from 0 (no limit)"},
		{"bureau approval without a bureau", nil, validGrades(), "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus"},
		{"bureau approval of unconditional data", []string{"BureauMSP"}, edit(func(g []GradeRule) { g[3].ShareTypes = []ShareType{ShareUnconditional, ShareConditional} }),
			"grades[4].bureauApproval needs a bureau's co-approval, which unconditionally shared data never gets"},
		{"a bureau outside", []string{"RogueMSP"}, validGrades(), "bureaus names RogueMSP, which is not a member"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := PolicyInput{Members: members, Bureaus: tt.bureaus, Grades: tt.grades}
			p := &Policy{ID: PolicyID, Members: members, Bureaus: tt.bureaus, Grades: normalizedGrades(tt.grades), Version: 1}
			for what, err := range map[string]error{"PolicyInput.Validate": in.Validate(), "Policy.Validate": p.Validate()} {
				if tt.want == "" {
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					continue
				}
				if err == nil || ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s = %v, want [invalid] %q", what, err, tt.want)
				}
			}
		})
	}
}

func TestGradeRulesNormalized(t *testing.T) {
	g := validGrades()
	slices.Reverse(g)
	g[0].ShareTypes = []ShareType{ShareNone, ShareConditional} // grade 4's, out of order
	n := PolicyInput{Members: []string{"BureauMSP"}, Bureaus: []string{"BureauMSP"}, Grades: g}.Normalized()
	for i, r := range n.Grades {
		if r.Grade != i+1 {
			t.Fatalf("normalized grades %+v", n.Grades)
		}
	}
	if !slices.Equal(n.Grades[3].ShareTypes, []ShareType{ShareConditional, ShareNone}) {
		t.Fatalf("share types %v", n.Grades[3].ShareTypes)
	}
	if g[0].ShareTypes[0] != ShareNone {
		t.Fatal("Normalized changed its input")
	}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestGradeRuleOf(t *testing.T) {
	var none *Policy
	legacy := &Policy{ID: PolicyID, Members: []string{"Dept1MSP"}, Version: 3}
	graded := &Policy{ID: PolicyID, Members: []string{"BureauMSP"}, Bureaus: []string{"BureauMSP"}, Grades: validGrades(), Version: 5}
	for _, p := range []*Policy{none, legacy} {
		for g := GradePublic; g <= GradeCore; g++ {
			r := p.GradeRule(g)
			if r.Grade != g || !slices.Equal(r.ShareTypes, shareTypeOrder) || !r.LegalBasisRequired || r.MaxApprovalDays != 0 || r.BureauApproval || r.MaxDeliveryRecords != 0 || r.DestroyWithinDays != 0 {
				t.Fatalf("legacy rule for grade %d: %+v", g, r)
			}
		}
	}
	if r := graded.GradeRule(4); !r.BureauApproval || r.MaxDeliveryRecords != 10000 {
		t.Fatalf("grade 4 rule %+v", r)
	}
	if !graded.Bureau("BureauMSP") || graded.Bureau("Dept1MSP") || none.Bureau("BureauMSP") {
		t.Fatal("Bureau")
	}
	// What each denial says, and whose rule it cites.
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		err  error
		want string
	}{
		{graded.GradeRule(3).CheckShareType(ShareUnconditional), "grade 3 data cannot be shared unconditionally: under the consortium policy (version 5) its share type is one of conditional, none (policy rule shareTypes)"},
		{graded.GradeRule(2).CheckLegalBasis(" "), "grade 2 data is requested only with a legal basis under the consortium policy (version 5), and legalBasis is empty (policy rule legalBasisRequired)"},
		{legacy.GradeRule(1).CheckLegalBasis(""), "grade 1 data is requested only with a legal basis under the default rules (consortium policy version 3 has no grade rules)"},
		{none.GradeRule(1).CheckLegalBasis(""), "under the default rules (no consortium policy on the ledger yet)"},
		{graded.GradeRule(4).CheckApprovalPeriod(now, now.Add(91*24*time.Hour)), "grade 4 data is approved for at most 90 days under the consortium policy (version 5): the request runs until 2026-05-31T00:00:00Z, 91.0 days after this approval; a request valid until 2026-05-30T00:00:00Z at the latest can be (policy rule maxApprovalDays)"},
		{graded.GradeRule(4).CheckDeliveryRecords(10001), "grade 4 data is delivered at most 10000 records at a time under the consortium policy (version 5), and this delivery holds 10001; the rest takes a fresh request and approval (policy rule maxDeliveryRecords)"},
		{graded.GradeRule(4).CheckCoApproval(&Request{ID: "rq-1"}, Actor{MSPID: "Dept1MSP", Subject: "CN=a"}, graded.Bureaus), "grade 4 data is approved only after an approver of the data-administration bureau (BureauMSP) has co-approved the request"},
		{graded.GradeRule(4).CheckCoApproval(&Request{ID: "rq-1", CoApprovedBy: &Actor{MSPID: "BureauMSP", Subject: "CN=b"}}, Actor{MSPID: "BureauMSP", Subject: "CN=b"}, graded.Bureaus), "grade 4 data needs two approvers under the consortium policy (version 5): CN=b co-approved request rq-1"},
	} {
		if c.err == nil || ErrorCode(c.err) != CodeForbidden || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("denial %v, want [forbidden] %q", c.err, c.want)
		}
	}
	for _, err := range []error{
		graded.GradeRule(3).CheckShareType(ShareConditional),
		graded.GradeRule(1).CheckLegalBasis(""),
		graded.GradeRule(4).CheckApprovalPeriod(now, now.Add(90*24*time.Hour)),
		graded.GradeRule(1).CheckApprovalPeriod(now, now.Add(1800*24*time.Hour)),
		graded.GradeRule(4).CheckDeliveryRecords(10000),
		graded.GradeRule(2).CheckDeliveryRecords(1 << 50),
		graded.GradeRule(3).CheckCoApproval(&Request{ID: "rq-1"}, Actor{}, nil),
		graded.GradeRule(4).CheckCoApproval(&Request{ID: "rq-1", CoApprovedBy: &Actor{MSPID: "BureauMSP", Subject: "CN=b"}}, Actor{MSPID: "Dept1MSP", Subject: "CN=a"}, nil),
	} {
		if err != nil {
			t.Errorf("allowed transition refused: %v", err)
		}
	}
}

// TestGradeDenialCrossesTheBoundary: the chaincode's error text carries no
// details; ParseError finds the rule and the grade in the message again.
func TestGradeDenialCrossesTheBoundary(t *testing.T) {
	d := GradeDenial(3, RuleShareTypes, "cannot be shared unconditionally")
	if d.Message != "grade 3 data cannot be shared unconditionally (policy rule shareTypes)" || d.Details["rule"] != "shareTypes" || d.Details["grade"] != "3" {
		t.Fatalf("denial %+v", d)
	}
	back := ParseError("chaincode response 500, " + d.Error())
	if back == nil || back.Code != CodeForbidden || back.Message != d.Message || back.Details["rule"] != "shareTypes" || back.Details["grade"] != "3" {
		t.Fatalf("parsed %+v", back)
	}
	// Another forbidden message, or another code, has no such details.
	for _, text := range []string{"[forbidden] only Dept1MSP may approve", "[invalid] grade 3 data cannot be shared (policy rule shareTypes)"} {
		if e := ParseError(text); e == nil || e.Details != nil {
			t.Errorf("ParseError(%q) = %+v", text, e)
		}
	}
}

func TestGradeProposal(t *testing.T) {
	p := &Policy{ID: PolicyID, Members: []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}, Evaluators: []string{"BureauMSP"}, Auditors: []string{"BureauMSP"}, Version: 2}
	same := PolicyProposalInput{Evaluators: p.Evaluators, Auditors: p.Auditors}
	if err := same.CheckAgainst(p); ErrorCode(err) != CodeConflict {
		t.Fatalf("a proposal that changes nothing: %v", err)
	}
	bureaus := []string{"BureauMSP"}
	set := PolicyProposalInput{Evaluators: p.Evaluators, Auditors: p.Auditors, Bureaus: &bureaus, Grades: validGrades()}
	if err := set.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := set.CheckAgainst(p); err != nil {
		t.Fatal(err)
	}
	b, g := set.Normalized().ProposedGrades(p)
	if !slices.Equal(b, bureaus) || len(g) != 4 {
		t.Fatalf("proposed %v %v", b, g)
	}
	// Grade 4 needs a bureau: without one the proposal is refused, by
	// Validate when it says so itself, by CheckAgainst when the policy has none.
	noBureau := []string{}
	if err := (PolicyProposalInput{Bureaus: &noBureau, Grades: validGrades()}).Validate(); err == nil || !strings.Contains(err.Error(), "names no bureaus") {
		t.Fatalf("Validate = %v", err)
	}
	gradesOnly := PolicyProposalInput{Evaluators: p.Evaluators, Auditors: p.Auditors, Grades: validGrades()}
	if err := gradesOnly.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := gradesOnly.CheckAgainst(p); err == nil || !strings.Contains(err.Error(), "names no bureaus") {
		t.Fatalf("CheckAgainst = %v", err)
	}
	outsider := []string{"RogueMSP"}
	if err := (PolicyProposalInput{Bureaus: &outsider}).CheckAgainst(p); err == nil || !strings.Contains(err.Error(), "bureaus names RogueMSP") {
		t.Fatalf("CheckAgainst = %v", err)
	}

	// Applied to a policy that has them, a proposal leaving them out keeps them.
	p.Bureaus, p.Grades = bureaus, validGrades()
	pp := PolicyProposal{Evaluators: []string{"Dept1MSP"}}
	if b, g := pp.ProposedGrades(p); !slices.Equal(b, bureaus) || len(g) != 4 {
		t.Fatalf("a proposal without grade rules dropped them: %v %v", b, g)
	}
	b, g = PolicyProposalInput{Evaluators: []string{"Dept1MSP"}}.ProposedGrades(p)
	if !slices.Equal(b, bureaus) || len(g) != 4 {
		t.Fatalf("resolved %v %v", b, g)
	}
	// Successor: grade rules may change, a broken rule may not be written.
	next := *p
	next.Version = 3
	next.Grades = validGrades()
	next.Grades[3].BureauApproval = false
	if err := next.CheckSuccessor(p); err != nil {
		t.Fatal(err)
	}
	next.Bureaus = nil
	next.Grades[3].BureauApproval = true
	if err := next.CheckSuccessor(p); err == nil || !strings.Contains(err.Error(), "names no bureaus") {
		t.Fatalf("CheckSuccessor = %v", err)
	}
}

func TestDestroyDeadline(t *testing.T) {
	until := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	revoked := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rule := GradeRule{Grade: 3, DestroyWithinDays: 30}
	for _, c := range []struct {
		name string
		rule GradeRule
		req  Request
		want time.Time // zero: no deadline
	}{
		{"approved: from validUntil", rule, Request{Status: RequestApproved, ValidUntil: until}, until.AddDate(0, 0, 30)},
		{"revoked: from the revocation", rule, Request{Status: RequestRevoked, ValidUntil: until, RevokedAt: &revoked}, revoked.AddDate(0, 0, 30)},
		{"never approved", rule, Request{Status: RequestRejected, ValidUntil: until}, time.Time{}},
		{"pending", rule, Request{Status: RequestPending, ValidUntil: until}, time.Time{}},
		{"not required", GradeRule{Grade: 1}, Request{Status: RequestApproved, ValidUntil: until}, time.Time{}},
	} {
		got, ok := c.rule.DestroyDeadline(c.req)
		if ok != !c.want.IsZero() || !got.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.name, got, ok, c.want)
		}
	}
}
