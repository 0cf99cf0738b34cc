package domain

import (
	"slices"
	"strings"
	"testing"
)

func fourMembers() *Policy {
	return &Policy{ID: PolicyID, Members: []string{"BureauMSP", "Dept1MSP", "Dept2MSP", "Dept3MSP"},
		Evaluators: []string{"BureauMSP", "Dept3MSP"}, Auditors: []string{"BureauMSP"}, Version: 4}
}

// successor is prev after change c, as the contract writes it, approved by approvals.
func successor(t *testing.T, prev *Policy, c MemberChange, approvals ...string) *Policy {
	t.Helper()
	next, err := prev.AfterChange(c)
	if err != nil {
		t.Fatalf("%s %s: %v", c.Action, c.MSPID, err)
	}
	next.Version, next.Change, next.Approvals = prev.Version+1, &c, approvals
	return next
}

func TestMembershipChanges(t *testing.T) {
	p := fourMembers()
	suspend := MemberChange{Action: MemberSuspend, MSPID: "Dept3MSP"}
	pp := &PolicyProposal{Member: &suspend}
	if v := p.Voters(pp); !slices.Equal(v, []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}) || p.Needed(pp) != 2 {
		t.Fatalf("voters on suspending Dept3: %v, needed %d", v, p.Needed(pp))
	}
	if p.Needed(&PolicyProposal{}) != 3 || len(p.Members) != 4 {
		t.Fatal("an evaluator proposal is voted by every member")
	}
	s := successor(t, p, suspend, "BureauMSP", "Dept1MSP")
	if !slices.Equal(s.Members, []string{"BureauMSP", "Dept1MSP", "Dept2MSP"}) || !slices.Equal(s.Suspended, []string{"Dept3MSP"}) ||
		!slices.Equal(s.Evaluators, []string{"BureauMSP"}) {
		t.Fatalf("after suspension: %+v", s)
	}
	if err := s.CheckSuccessor(p); err != nil {
		t.Fatal(err)
	}
	if got := WriteRefusal(s, "Dept3MSP"); !strings.Contains(got, "Dept3MSP is suspended") || WriteRefusal(s, "Dept1MSP") != "" || WriteRefusal(nil, "Dept3MSP") != "" {
		t.Fatalf("write refusal %q", got)
	}
	// The suspended department no longer votes: a removal needs 2 of the 3 members.
	remove := MemberChange{Action: MemberRemove, MSPID: "Dept3MSP"}
	r := successor(t, s, remove, "Dept1MSP", "Dept2MSP")
	if err := r.CheckSuccessor(s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Removed, []string{"Dept3MSP"}) || len(r.Suspended) != 0 || PartyRefusal(r, "Dept3MSP") == "" || !strings.Contains(WriteRefusal(r, "Dept3MSP"), "has left") {
		t.Fatalf("after removal: %+v", r)
	}
	// Admitted again (a department that joins the channel anew).
	back := successor(t, r, MemberChange{Action: MemberAdmit, MSPID: "Dept3MSP"}, "BureauMSP", "Dept1MSP")
	if err := back.CheckSuccessor(r); err != nil || len(back.Removed) != 0 || !back.Member("Dept3MSP") {
		t.Fatalf("admitted again: %+v %v", back, err)
	}
	reinstated := successor(t, s, MemberChange{Action: MemberReinstate, MSPID: "Dept3MSP"}, "BureauMSP", "Dept1MSP")
	if err := reinstated.CheckSuccessor(s); err != nil || !slices.Equal(reinstated.Members, p.Members) || len(reinstated.Suspended) != 0 {
		t.Fatalf("reinstated: %+v %v", reinstated, err)
	}

	for _, c := range []struct {
		name string
		p    *Policy
		c    MemberChange
		want string
	}{
		{"admit a member", p, MemberChange{MemberAdmit, "Dept1MSP"}, "already a member"},
		{"admit a suspended one", s, MemberChange{MemberAdmit, "Dept3MSP"}, "reinstate it instead"},
		{"suspend a suspended one", s, suspend, "only a member can be suspended; Dept3MSP is suspended"},
		{"suspend a stranger", p, MemberChange{MemberSuspend, "Dept9MSP"}, "Dept9MSP is not a member"},
		{"reinstate a member", p, MemberChange{MemberReinstate, "Dept1MSP"}, "only a suspended department"},
		{"remove a removed one", r, remove, "Dept3MSP is removed"},
		{"remove the last", &Policy{ID: PolicyID, Members: []string{"Dept1MSP"}, Version: 1}, MemberChange{MemberRemove, "Dept1MSP"}, "without a member"},
		{"no such action", p, MemberChange{"expel", "Dept1MSP"}, "must be one of"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.p.CheckChange(c.c); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
}

// The successor rule, which the peers' validation plugin applies to every
// write of the policy key whoever endorsed it.
func TestMembershipSuccessorRule(t *testing.T) {
	p := fourMembers()
	suspend := MemberChange{Action: MemberSuspend, MSPID: "Dept3MSP"}
	for _, c := range []struct {
		name string
		edit func(n *Policy)
		want string
	}{
		{"members dropped with no change named", func(n *Policy) { n.Change = nil }, "but by a membership change a majority approved"},
		{"too few approvals", func(n *Policy) { n.Approvals = []string{"Dept1MSP"} }, "has 1 approvals, a majority of [BureauMSP Dept1MSP Dept2MSP] is 2"},
		{"the suspended one approves itself", func(n *Policy) { n.Approvals = []string{"Dept1MSP", "Dept3MSP"} }, "lists the approval of Dept3MSP, which does not vote on it"},
		{"two departments at once", func(n *Policy) {
			n.Members, n.Suspended = []string{"BureauMSP", "Dept1MSP"}, []string{"Dept2MSP", "Dept3MSP"}
		}, "must list members [BureauMSP Dept1MSP Dept2MSP]"},
		{"the change names another", func(n *Policy) { n.Change = &MemberChange{MemberSuspend, "Dept2MSP"} }, "must list members [BureauMSP Dept1MSP Dept3MSP]"},
		{"keeps its evaluator role", func(n *Policy) { n.Evaluators = []string{"BureauMSP", "Dept3MSP"} }, "which is not a member"},
		{"slips in a spike rule", func(n *Policy) {
			n.Spike = &SpikeRule{PeriodHours: 700, Min: 1000000, Sigmas: 100, Periods: 1, History: 1}
		}, "must list members [BureauMSP Dept1MSP Dept2MSP]"},
		{"a change that changes nothing", func(n *Policy) {
			n.Members, n.Suspended, n.Evaluators = p.Members, nil, p.Evaluators
		}, "but its membership is that of version 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := successor(t, p, suspend, "BureauMSP", "Dept1MSP")
			c.edit(n)
			if err := n.CheckSuccessor(p); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
}

func TestMemberProposalInput(t *testing.T) {
	ok := PolicyProposalInput{Member: &MemberChange{MemberSuspend, "Dept3MSP"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := ok.CheckAgainst(fourMembers()); err != nil {
		t.Fatal(err)
	}
	both := PolicyProposalInput{Evaluators: []string{"Dept1MSP"}, Member: &MemberChange{MemberSuspend, "Dept3MSP"}}
	if err := both.Validate(); ErrorCode(err) != CodeInvalid {
		t.Fatalf("both kinds: %v", err)
	}
	if err := (PolicyProposalInput{Member: &MemberChange{MemberSuspend, "not an msp!"}}).Validate(); ErrorCode(err) != CodeInvalid {
		t.Fatalf("bad MSP ID: %v", err)
	}
}
