package domain

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestPolicyInputValidate(t *testing.T) {
	members := []string{"Dept2MSP", "BureauMSP", "Dept1MSP"}
	tests := []struct {
		name string
		in   PolicyInput
		want string
	}{
		{"valid, any order", PolicyInput{Members: members, Evaluators: []string{"BureauMSP"}, Auditors: []string{"Dept1MSP", "BureauMSP"}}, ""},
		{"no members", PolicyInput{}, "members must list every department"},
		{"a member twice", PolicyInput{Members: []string{"Dept1MSP", "Dept1MSP"}}, "members lists Dept1MSP twice"},
		{"a bad MSP ID", PolicyInput{Members: []string{"Dept 1"}}, `members "Dept 1" is not a valid MSP ID`},
		{"an evaluator outside", PolicyInput{Members: members, Evaluators: []string{"RogueMSP"}}, "evaluators names RogueMSP, which is not a member"},
		{"an auditor twice", PolicyInput{Members: members, Auditors: []string{"BureauMSP", "BureauMSP"}}, "auditors lists BureauMSP twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || ErrorCode(err) != CodeInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want [invalid] %q", err, tt.want)
			}
		})
	}
	n := PolicyInput{Members: members}.Normalized()
	if !slices.Equal(n.Members, []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}) || n.Evaluators == nil || n.Auditors == nil {
		t.Fatalf("Normalized = %+v", n)
	}
}

func TestPolicyRoles(t *testing.T) {
	p := &Policy{ID: PolicyID, Members: []string{"BureauMSP", "Dept1MSP", "Dept2MSP", "Dept3MSP"}, Evaluators: []string{"BureauMSP"}, Auditors: []string{"BureauMSP", "Dept3MSP"}, Version: 4}
	if p.Majority() != 3 || (&Policy{Members: []string{"a", "b", "c", "d", "e"}}).Majority() != 3 || (&Policy{Members: []string{"a"}}).Majority() != 1 {
		t.Fatal("majority is more than half")
	}
	for _, c := range []struct {
		msp  string
		role Role
		want string
	}{
		{"BureauMSP", RoleEvaluator, ""},
		{"Dept3MSP", RoleAuditor, ""},
		{"Dept2MSP", RoleOperator, ""},
		{"Dept2MSP", RoleAdmin, ""},
		{"Dept2MSP", RoleEvaluator, "the evaluator role of Dept2MSP is not honoured: the consortium policy (version 4) grants it to BureauMSP only"},
		{"Dept1MSP", RoleAuditor, "the auditor role of Dept1MSP is not honoured: the consortium policy (version 4) grants it to BureauMSP, Dept3MSP only"},
	} {
		if got := RoleRefusal(p, c.msp, c.role); got != c.want {
			t.Errorf("RoleRefusal(%s, %s) = %q, want %q", c.msp, c.role, got, c.want)
		}
		if p.Honours(c.msp, c.role) != (c.want == "") {
			t.Errorf("Honours(%s, %s) disagrees with RoleRefusal", c.msp, c.role)
		}
	}
	if got := RoleRefusal(nil, "BureauMSP", RoleAuditor); !strings.Contains(got, "the consortium policy is not set") {
		t.Errorf("no policy: %q", got)
	}
	if RoleRefusal(nil, "Dept1MSP", RoleOperator) != "" {
		t.Error("no policy refuses an operator")
	}
}

func TestPolicySuccessor(t *testing.T) {
	prev := &Policy{ID: PolicyID, Members: []string{"Dept1MSP", "Dept2MSP"}, Evaluators: []string{"Dept1MSP"}, Version: 1}
	next := *prev
	next.Version, next.Evaluators = 2, []string{"Dept2MSP"}
	if err := next.CheckSuccessor(prev); err != nil {
		t.Fatal(err)
	}
	bad := next
	bad.Members = []string{"Dept2MSP"}
	bad.Evaluators = []string{"Dept2MSP"}
	if err := bad.CheckSuccessor(prev); err == nil || !strings.Contains(err.Error(), "members are [Dept1MSP Dept2MSP] (suspended [], removed []) and cannot become [Dept2MSP]") {
		t.Fatalf("members changed: %v", err)
	}
	bad = next
	bad.Version = 3
	if err := bad.CheckSuccessor(prev); err == nil || !strings.Contains(err.Error(), "can only become version 2, not 3") {
		t.Fatalf("version skipped: %v", err)
	}
	bad = next
	bad.ID = "other"
	if err := bad.CheckSuccessor(prev); err == nil {
		t.Fatal("another ID accepted")
	}
}

func TestPolicyProposalInput(t *testing.T) {
	p := &Policy{ID: PolicyID, Members: []string{"BureauMSP", "Dept1MSP"}, Evaluators: []string{"BureauMSP"}, Auditors: []string{"BureauMSP"}, Version: 1}
	in := PolicyProposalInput{Evaluators: []string{"Dept1MSP", "BureauMSP"}, Auditors: []string{"BureauMSP"}}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := in.CheckAgainst(p); err != nil {
		t.Fatal(err)
	}
	same := PolicyProposalInput{Evaluators: []string{"BureauMSP"}, Auditors: []string{"BureauMSP"}}
	if err := same.CheckAgainst(p); ErrorCode(err) != CodeConflict {
		t.Fatalf("no change: %v", err)
	}
	outside := PolicyProposalInput{Evaluators: []string{"RogueMSP"}}
	if err := outside.CheckAgainst(p); ErrorCode(err) != CodeInvalid {
		t.Fatalf("outsider: %v", err)
	}
	if err := (PolicyProposalInput{Auditors: []string{"X", "X"}}).Validate(); err == nil {
		t.Fatal("repeat accepted")
	}
}

func TestPolicyRecordsParse(t *testing.T) {
	records := []Record{
		&Policy{ID: PolicyID, Members: []string{"Dept2MSP", "Dept1MSP"}, Version: 1},
		&PolicyProposal{ID: "pp-1", ProposedBy: Actor{MSPID: "Dept2MSP"}},
		&PolicyApproval{ID: PolicyApprovalID("pp-1", "Dept1MSP"), ProposalID: "pp-1", MSPID: "Dept1MSP", ApprovedBy: Actor{MSPID: "Dept1MSP"}},
	}
	wantParties := [][]string{{"Dept1MSP", "Dept2MSP"}, {"Dept2MSP"}, {"Dept1MSP"}}
	for i, kind := range []Kind{KindPolicy, KindPolicyProposal, KindPolicyApproval} {
		if !kind.Valid() {
			t.Fatalf("%s is not a kind", kind)
		}
		k, err := EntityKey(kind, records[i].RecordID())
		if err != nil {
			t.Fatal(err)
		}
		v, _ := json.Marshal(records[i])
		w, err := ParseWrite(k, v)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if !slices.Equal(w.Parties(), wantParties[i]) {
			t.Errorf("%s parties %v, want %v", kind, w.Parties(), wantParties[i])
		}
		e := Event{Kind: kind, Policy: records[0].(*Policy), PolicyProposal: records[1].(*PolicyProposal), PolicyApproval: records[2].(*PolicyApproval)}
		if e.Entity() != any(records[i]) {
			t.Errorf("event entity of %s", kind)
		}
	}
	if PolicyApprovalID("pp-1", "Dept1MSP") != "pp-1.Dept1MSP" {
		t.Error("approval ID")
	}
}
