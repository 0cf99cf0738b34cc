package domain

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Membership of the consortium, as the consortium policy records it. A
// department is in one of four standings:
//
//   - a member (Policy.Members): it writes, and its admin votes on policy
//     proposals;
//   - on the channel only (in none of the lists): a department that joined
//     the channel (consortium add-department) and is not admitted yet; it
//     writes, but does not vote;
//   - suspended (Policy.Suspended): still on the channel, its people read
//     and trace, but every write they sign is refused, it does not vote, and
//     no new record may name it;
//   - removed (Policy.Removed): it left the consortium (and, once the
//     channel update has been made, the channel); its records stay on the
//     ledger, readable and traceable, nobody may write in its name or create
//     a record naming it.
//
// A membership change is a policy proposal (PolicyProposalInput.Member)
// applied, like every other, once a majority of the voters' admins approve
// it. The voters are the members; on the suspension or removal of a member,
// the members but that one: a department does not vote on its own
// suspension or removal (it may propose its own removal: leaving).

// MemberAction is the kind of a membership change.
type MemberAction string

const (
	MemberAdmit     MemberAction = "admit"     // a department not a member (or removed) becomes a member
	MemberSuspend   MemberAction = "suspend"   // a member is suspended: it can read, not write nor vote
	MemberReinstate MemberAction = "reinstate" // a suspended department becomes a member again
	MemberRemove    MemberAction = "remove"    // a member or a suspended department leaves the consortium
)

// MemberActions lists the actions, for error messages and documentation.
var MemberActions = []MemberAction{MemberAdmit, MemberSuspend, MemberReinstate, MemberRemove}

// MemberChange is one change of the consortium's membership.
type MemberChange struct {
	Action MemberAction `json:"action"`
	MSPID  string       `json:"mspId"`
}

// Validate checks the change's form.
func (c MemberChange) Validate() error {
	if !slices.Contains(MemberActions, c.Action) {
		return Errorf(CodeInvalid, "member.action %q must be one of %v", truncate(string(c.Action), 40), MemberActions).WithDetail("field", "member.action")
	}
	return CheckMSPID("member.mspId", c.MSPID)
}

// Excludes reports whether the change takes its department out of the
// voters: a suspension or a removal.
func (c MemberChange) Excludes() bool { return c.Action == MemberSuspend || c.Action == MemberRemove }

// IsSuspended reports whether msp is suspended.
func (p *Policy) IsSuspended(msp string) bool { return slices.Contains(p.Suspended, msp) }

// IsRemoved reports whether msp has left the consortium.
func (p *Policy) IsRemoved(msp string) bool { return slices.Contains(p.Removed, msp) }

// WriteRefusal says why the people of department msp may not write under
// policy p (nil: no policy on the ledger yet), in words shared by the
// chaincode and the gateways; "" when they may.
func WriteRefusal(p *Policy, msp string) string {
	return refusal(p, msp, "its people can read and trace, but not write", "its records stay readable, and nobody writes in its name")
}

// PartyRefusal says why no new record may name department msp under p; ""
// when one may.
func PartyRefusal(p *Policy, msp string) string {
	return refusal(p, msp, "no new record may name it", "no new record may name it")
}

func refusal(p *Policy, msp, suspended, removed string) string {
	switch {
	case p == nil:
		return ""
	case p.IsSuspended(msp):
		return fmt.Sprintf("department %s is suspended from the consortium (policy version %d): %s", msp, p.Version, suspended)
	case p.IsRemoved(msp):
		return fmt.Sprintf("department %s has left the consortium (policy version %d): %s", msp, p.Version, removed)
	}
	return ""
}

// Voters are the departments whose admins vote on proposal pp under p:
// the members, less the department a suspension or removal is about.
func (p *Policy) Voters(pp *PolicyProposal) []string {
	if pp == nil || pp.Member == nil || !pp.Member.Excludes() {
		return p.Members
	}
	return slices.DeleteFunc(slices.Clone(p.Members), func(m string) bool { return m == pp.Member.MSPID })
}

// Needed is how many voters' approvals apply proposal pp: more than half.
func (p *Policy) Needed(pp *PolicyProposal) int { return len(p.Voters(pp))/2 + 1 }

// CheckChange holds a membership change to the policy it would change.
func (p *Policy) CheckChange(c MemberChange) error {
	_, err := p.AfterChange(c)
	return err
}

// AfterChange is the policy's lists after change c (not its version nor its
// signatures): the department moves between members, suspended and
// removed, and a department that stops being a member stops being an
// evaluator or an auditor (a reinstated or admitted one gets those roles
// back only by a proposal naming it).
func (p *Policy) AfterChange(c MemberChange) (*Policy, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := c.MSPID
	member, suspended := p.Member(m), p.IsSuspended(m)
	next := &Policy{ID: p.ID, Members: slices.Clone(p.Members), Suspended: slices.Clone(p.Suspended), Removed: slices.Clone(p.Removed),
		Evaluators: slices.Clone(p.Evaluators), Auditors: slices.Clone(p.Auditors), Bureaus: slices.Clone(p.Bureaus), Grades: slices.Clone(p.Grades),
		Spike: cloneSpike(p.Spike)}
	drop := func(l []string) []string { return slices.DeleteFunc(l, func(x string) bool { return x == m }) }
	add := func(l []string) []string { return sortedCopy(append(l, m)) }
	switch c.Action {
	case MemberAdmit:
		if member {
			return nil, Errorf(CodeConflict, "%s is already a member of the consortium (policy version %d)", m, p.Version)
		}
		if suspended {
			return nil, Errorf(CodeConflict, "%s is a suspended member of the consortium (policy version %d): reinstate it instead", m, p.Version)
		}
		next.Removed, next.Members = drop(next.Removed), add(next.Members)
	case MemberSuspend:
		if !member {
			return nil, Errorf(CodeConflict, "only a member can be suspended; %s is %s", m, p.standing(m))
		}
		next.Members, next.Suspended = drop(next.Members), add(next.Suspended)
	case MemberReinstate:
		if !suspended {
			return nil, Errorf(CodeConflict, "only a suspended department can be reinstated; %s is %s", m, p.standing(m))
		}
		next.Suspended, next.Members = drop(next.Suspended), add(next.Members)
	case MemberRemove:
		if !member && !suspended {
			return nil, Errorf(CodeConflict, "only a member or a suspended department can be removed; %s is %s", m, p.standing(m))
		}
		next.Members, next.Suspended, next.Removed = drop(next.Members), drop(next.Suspended), add(next.Removed)
	}
	if len(next.Members) == 0 {
		return nil, Errorf(CodeConflict, "the change would leave the consortium without a member: %s is its last", m)
	}
	if len(next.Members)+len(next.Suspended) > MaxPolicyMembers {
		return nil, Errorf(CodeInvalid, "the consortium would have more than %d departments", MaxPolicyMembers)
	}
	next.Evaluators = slices.DeleteFunc(next.Evaluators, func(x string) bool { return !next.Member(x) })
	next.Auditors = slices.DeleteFunc(next.Auditors, func(x string) bool { return !next.Member(x) })
	next.Bureaus = slices.DeleteFunc(next.Bureaus, func(x string) bool { return !next.Member(x) })
	if err := checkGrades(next.Grades, len(next.Bureaus) > 0); err != nil {
		return nil, Errorf(CodeConflict, "%s is the consortium's last bureau, and a grade rule needs a bureau's co-approval: change the grade rules first (%v)", m, err)
	}
	return next, nil
}

// standing names where msp stands under p, for error messages.
func (p *Policy) standing(msp string) string {
	switch {
	case p.Member(msp):
		return "a member"
	case p.IsSuspended(msp):
		return "suspended"
	case p.IsRemoved(msp):
		return "removed"
	}
	return "not a member"
}

// sameMembership reports whether two policies list the same members,
// suspended and removed departments.
func sameMembership(a, b *Policy) bool {
	return slices.Equal(a.Members, b.Members) && slices.Equal(a.Suspended, b.Suspended) && slices.Equal(a.Removed, b.Removed)
}

// checkMembershipSuccessor holds a successor p of prev that changes the
// membership to the rule any endorsing majority must keep: it names the
// one change it applies (Change), its lists are exactly prev's after that
// change, and the departments it says approved are voters of that change,
// as many as a majority of them, the department concerned not among them.
func (p *Policy) checkMembershipSuccessor(prev *Policy) error {
	if p.Change == nil {
		return Errorf(CodeForbidden, "the consortium policy's members are %v (suspended %v, removed %v) and cannot become %v (suspended %v, removed %v) but by a membership change a majority approved",
			prev.Members, prev.Suspended, prev.Removed, p.Members, p.Suspended, p.Removed)
	}
	want, err := prev.AfterChange(*p.Change)
	if err != nil {
		return Errorf(CodeForbidden, "the consortium policy's change %s %s does not apply to version %d: %v", p.Change.Action, p.Change.MSPID, prev.Version, err)
	}
	if !sameMembership(p, want) || !slices.Equal(p.Evaluators, want.Evaluators) || !slices.Equal(p.Auditors, want.Auditors) ||
		!slices.Equal(p.Bureaus, want.Bureaus) || !slices.EqualFunc(p.Grades, want.Grades, GradeRule.equal) || !sameSpike(p.Spike, want.Spike) {
		return Errorf(CodeForbidden, "the consortium policy after %s %s must list members %v, suspended %v, removed %v, evaluators %v, auditors %v",
			p.Change.Action, p.Change.MSPID, want.Members, want.Suspended, want.Removed, want.Evaluators, want.Auditors)
	}
	voters := prev.Voters(&PolicyProposal{Member: p.Change})
	for _, a := range p.Approvals {
		if !slices.Contains(voters, a) {
			return Errorf(CodeForbidden, "the consortium policy's change %s %s lists the approval of %s, which does not vote on it (voters %v)", p.Change.Action, p.Change.MSPID, a, voters)
		}
	}
	if need := len(voters)/2 + 1; len(p.Approvals) < need {
		return Errorf(CodeForbidden, "the consortium policy's change %s %s has %d approvals, a majority of %v is %d", p.Change.Action, p.Change.MSPID, len(p.Approvals), voters, need)
	}
	return nil
}

// MembershipEvidence lists the keys whose committed values prove the
// approvals of the membership change a write of the policy key applies:
// its proposal, and the approval record of every department it says
// approved but the one whose approval applied it (that transaction writes
// the policy instead of an approval record). nil for any other write. The
// peers' validation plugin reads them (CheckMembershipEvidence), so that
// no set of endorsing peers, the department concerned's among them, can
// list approvals that its departments' admins never signed.
func MembershipEvidence(w *Written) ([]string, error) {
	p, ok := w.Record.(*Policy)
	if !ok || p.Change == nil {
		return nil, nil
	}
	if err := CheckID("proposalId", p.ProposalID); err != nil {
		return nil, fmt.Errorf("the consortium policy's change %s %s names no proposal: %w", p.Change.Action, p.Change.MSPID, err)
	}
	pk, err := EntityKey(KindPolicyProposal, p.ProposalID)
	if err != nil {
		return nil, err
	}
	keys := []string{pk}
	for _, a := range p.Approvals {
		if a == p.UpdatedBy.MSPID {
			continue
		}
		k, err := EntityKey(KindPolicyApproval, PolicyApprovalID(p.ProposalID, a))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// CheckMembershipEvidence checks the committed values of the keys
// MembershipEvidence listed: the proposal proposes this change to the
// previous version, and every other approval is on the ledger. The
// applying department is among the approvals.
func CheckMembershipEvidence(w *Written, values [][]byte) error {
	p, ok := w.Record.(*Policy)
	if !ok || p.Change == nil {
		return nil
	}
	if !slices.Contains(p.Approvals, p.UpdatedBy.MSPID) {
		return Errorf(CodeForbidden, "the consortium policy's change %s %s was applied by %s, which is not among its approvals %v", p.Change.Action, p.Change.MSPID, p.UpdatedBy.MSPID, p.Approvals)
	}
	if len(values) == 0 || values[0] == nil {
		return Errorf(CodeForbidden, "the consortium policy's change %s %s names proposal %s, which is not on the ledger", p.Change.Action, p.Change.MSPID, p.ProposalID)
	}
	var pp PolicyProposal
	if err := json.Unmarshal(values[0], &pp); err != nil {
		return fmt.Errorf("proposal %s does not decode: %w", p.ProposalID, err)
	}
	if pp.Member == nil || *pp.Member != *p.Change || pp.BaseVersion != p.Version-1 {
		return Errorf(CodeForbidden, "the consortium policy's change %s %s at version %d is not what proposal %s proposed", p.Change.Action, p.Change.MSPID, p.Version, p.ProposalID)
	}
	i := 1
	for _, a := range p.Approvals {
		if a == p.UpdatedBy.MSPID {
			continue
		}
		if i >= len(values) || values[i] == nil {
			return Errorf(CodeForbidden, "the consortium policy's change %s %s lists the approval of %s, which is not on the ledger", p.Change.Action, p.Change.MSPID, a)
		}
		i++
	}
	return nil
}
