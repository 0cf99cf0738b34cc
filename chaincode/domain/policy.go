package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The consortium policy: which departments may hold the evaluator and
// auditor roles. A department's own CA issues the role attribute, so any
// department could make itself an evaluator or an auditor; the chaincode
// and the gateways honour those two roles only for the departments the
// policy on the ledger names. The policy is created once, at genesis, with
// every member's peer endorsing (its Parties are its Members), and changes
// only when a majority of the members' admins approve a proposal, each
// approval its own signed transaction; the policy key's endorsement policy
// is then a majority of the members' peers.
const (
	KindPolicy         Kind = "policy"
	KindPolicyProposal Kind = "policyProposal"
	KindPolicyApproval Kind = "policyApproval"

	EventPolicySet      EventType = "policy.set"              // InitPolicy: the genesis policy
	EventPolicyUpdated  EventType = "policy.updated"          // the approval that made a majority applied a proposal
	EventPolicyProposed EventType = "policyProposal.created"  // ProposePolicy
	EventPolicyApproved EventType = "policyApproval.recorded" // an approval short of the majority
)

// PolicyID is the ID of the one consortium policy record.
const PolicyID = "consortium"

// MaxPolicyMembers bounds the consortium's size as the policy lists it.
const MaxPolicyMembers = 100

// PolicyRoles are the roles the policy governs; every other role is the
// department's own business.
var PolicyRoles = []Role{RoleEvaluator, RoleAuditor}

// Governed reports whether r is a role the consortium policy grants.
func (r Role) Governed() bool { return slices.Contains(PolicyRoles, r) }

// Policy is the consortium policy record, stored under PolicyID.
type Policy struct {
	ID         string    `json:"id"`
	Members    []string  `json:"members"`             // the voting members, sorted (membership.go)
	Suspended  []string  `json:"suspended,omitempty"` // suspended departments: read, never write nor vote; sorted
	Removed    []string  `json:"removed,omitempty"`   // departments that left the consortium, sorted
	Evaluators []string  `json:"evaluators"`          // departments whose evaluators are honoured, sorted
	Auditors   []string  `json:"auditors"`            // departments whose auditors are honoured, sorted
	Version    int       `json:"version"`             // 1 at genesis, +1 per applied proposal
	UpdatedAt  time.Time `json:"updatedAt"`
	UpdatedBy  Actor     `json:"updatedBy"`            // the admin who set it, or whose approval made the majority
	ProposalID string    `json:"proposalId,omitempty"` // the proposal this version applied; empty at genesis
	Approvals  []string  `json:"approvals,omitempty"`  // the departments whose admins approved that proposal, sorted
	// Bureaus are the data-administration bureau departments, whose
	// approvers co-approve requests where a grade rule says so; Grades the
	// grade rules (grade.go), none on a policy set before they existed.
	Bureaus []string    `json:"bureaus,omitempty"`
	Grades  []GradeRule `json:"grades,omitempty"`
	// Spike is the watch's spike rule (spike.go); nil: DefaultSpikeRule.
	Spike *SpikeRule `json:"spike,omitempty"`
	// Change is the membership change this version applied; nil when it
	// changed the evaluators and auditors (or is the genesis).
	Change *MemberChange `json:"change,omitempty"`
}

// Majority is how many members' approvals change the policy, and how many
// members' peers its key-level endorsement policy requires: more than half.
func (p *Policy) Majority() int { return len(p.Members)/2 + 1 }

// Member reports whether msp is a member of the consortium.
func (p *Policy) Member(msp string) bool { return slices.Contains(p.Members, msp) }

// Holders lists the departments granted a governed role; nil for any other role.
func (p *Policy) Holders(r Role) []string {
	switch r {
	case RoleEvaluator:
		return p.Evaluators
	case RoleAuditor:
		return p.Auditors
	}
	return nil
}

// Honours reports whether the policy grants role r to department msp.
// Roles the policy does not govern are always honoured.
func (p *Policy) Honours(msp string, r Role) bool {
	if !r.Governed() {
		return true
	}
	return p != nil && slices.Contains(p.Holders(r), msp)
}

// RoleRefusal says why a governed role of msp is not honoured under p (nil:
// no policy on the ledger yet), in words shared by the chaincode and the
// gateways; "" when it is honoured.
func RoleRefusal(p *Policy, msp string, r Role) string {
	if !r.Governed() {
		return ""
	}
	if p == nil {
		return fmt.Sprintf("the %s role of %s is not honoured: the consortium policy is not set on the ledger yet", r, msp)
	}
	if p.Honours(msp, r) {
		return ""
	}
	holders := "no department"
	if h := p.Holders(r); len(h) > 0 {
		holders = strings.Join(h, ", ") + " only"
	}
	return fmt.Sprintf("the %s role of %s is not honoured: the consortium policy (version %d) grants it to %s", r, msp, p.Version, holders)
}

// Validate checks a stored or proposed policy's form: members, and
// evaluators and auditors among them, each sorted without repeats.
func (p *Policy) Validate() error {
	if p.ID != PolicyID {
		return Errorf(CodeInvalid, "the consortium policy's id is %q, not %q", truncate(p.ID, 40), PolicyID)
	}
	if err := checkMembers(p.Members); err != nil {
		return err
	}
	if err := checkList("suspended", p.Suspended); err != nil {
		return err
	}
	if err := checkList("removed", p.Removed); err != nil {
		return err
	}
	for _, m := range p.Suspended {
		if p.Member(m) || p.IsRemoved(m) {
			return Errorf(CodeInvalid, "%s is listed as suspended and as a member or removed", m)
		}
	}
	for _, m := range p.Removed {
		if p.Member(m) {
			return Errorf(CodeInvalid, "%s is listed as removed and as a member", m)
		}
	}
	if p.Change != nil {
		if err := p.Change.Validate(); err != nil {
			return err
		}
	}
	if err := checkHolders("evaluators", p.Evaluators, p.Members); err != nil {
		return err
	}
	if err := checkHolders("auditors", p.Auditors, p.Members); err != nil {
		return err
	}
	if err := checkHolders("bureaus", p.Bureaus, p.Members); err != nil {
		return err
	}
	if err := checkGrades(p.Grades, len(p.Bureaus) > 0); err != nil {
		return err
	}
	if err := checkSpike(p.Spike); err != nil {
		return err
	}
	if p.Version < 1 {
		return Errorf(CodeInvalid, "policy version %d must be 1 or more", p.Version)
	}
	return nil
}

// CheckSuccessor holds an update of the stored policy to the rule a
// majority cannot break: the version goes up by one, and the membership
// stays the same unless the new version applies one membership change
// that a majority of its voters approved, the department concerned not
// voting (checkMembershipSuccessor). The peers' validation plugin applies
// it to every write of the policy key, so even a majority of peers
// endorsing a forged write set cannot rewind the policy, drop two
// departments at once, or remove one without the approvals of a majority
// of the others.
func (p *Policy) CheckSuccessor(prev *Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if !sameMembership(p, prev) {
		if err := p.checkMembershipSuccessor(prev); err != nil {
			return err
		}
	} else if p.Change != nil {
		return Errorf(CodeForbidden, "the consortium policy names the change %s %s but its membership is that of version %d", p.Change.Action, p.Change.MSPID, prev.Version)
	}
	if p.Version != prev.Version+1 {
		return Errorf(CodeForbidden, "the consortium policy at version %d can only become version %d, not %d", prev.Version, prev.Version+1, p.Version)
	}
	return nil
}

// CheckUpdate holds a write that changes an existing record (prev, its
// committed value) to the rules that bind every update of its kind,
// whoever endorsed it. Only the consortium policy has such a rule
// (Policy.CheckSuccessor): its key-level endorsement policy is a majority
// of peers, where every other record's names its owners. Called by the
// peers' validation plugin.
func CheckUpdate(w *Written, prev []byte) error {
	next, ok := w.Record.(*Policy)
	if !ok {
		return nil
	}
	var old Policy
	if err := json.Unmarshal(prev, &old); err != nil {
		return fmt.Errorf("the committed consortium policy does not decode: %w", err)
	}
	return next.CheckSuccessor(&old)
}

// PolicyInput is the argument of InitPolicy: the genesis policy.
type PolicyInput struct {
	Members    []string    `json:"members"`
	Evaluators []string    `json:"evaluators"`
	Auditors   []string    `json:"auditors"`
	Bureaus    []string    `json:"bureaus,omitempty"`
	Grades     []GradeRule `json:"grades,omitempty"` // none: the legacy rules (LegacyGradeRules)
	Spike      *SpikeRule  `json:"spike,omitempty"`  // none: DefaultSpikeRule
}

// Validate checks the genesis policy; the lists may come in any order.
func (in PolicyInput) Validate() error {
	n := in.Normalized()
	if err := checkMembers(n.Members); err != nil {
		return err
	}
	if err := checkHolders("evaluators", n.Evaluators, n.Members); err != nil {
		return err
	}
	if err := checkHolders("auditors", n.Auditors, n.Members); err != nil {
		return err
	}
	if err := checkHolders("bureaus", n.Bureaus, n.Members); err != nil {
		return err
	}
	if err := checkSpike(n.Spike); err != nil {
		return err
	}
	return checkGrades(n.Grades, len(n.Bureaus) > 0)
}

// Normalized returns the input with each list sorted (repeats kept, for
// Validate to refuse).
func (in PolicyInput) Normalized() PolicyInput {
	return PolicyInput{Members: sortedCopy(in.Members), Evaluators: sortedCopy(in.Evaluators), Auditors: sortedCopy(in.Auditors),
		Bureaus: sortedCopy(in.Bureaus), Grades: normalizedGrades(in.Grades), Spike: cloneSpike(in.Spike)}
}

// PolicyProposalInput is the argument of ProposePolicy: the evaluators and
// auditors the policy should name instead of its current ones, or, with
// Member, one membership change (and then no evaluators or auditors).
type PolicyProposalInput struct {
	Evaluators []string      `json:"evaluators"`
	Auditors   []string      `json:"auditors"`
	Member     *MemberChange `json:"member,omitempty"`
	// Bureaus and Grades, when given, replace the policy's (grades: all
	// four rules); left out, the policy keeps its own (grade.go).
	Bureaus *[]string   `json:"bureaus,omitempty"`
	Grades  []GradeRule `json:"grades,omitempty"`
	// Spike, when given, replaces the policy's spike rule.
	Spike *SpikeRule `json:"spike,omitempty"`
}

// Validate checks the proposal's form; ProposePolicy then holds it to the
// current members (CheckAgainst).
func (in PolicyProposalInput) Validate() error {
	if in.Member != nil {
		if len(in.Evaluators) > 0 || len(in.Auditors) > 0 || in.Bureaus != nil || len(in.Grades) > 0 || in.Spike != nil {
			return Errorf(CodeInvalid, "a proposal changes the membership (member) or the evaluators, auditors, bureaus, grade rules and spike rule, not both")
		}
		return in.Member.Validate()
	}
	for _, l := range []struct {
		field string
		msps  []string
	}{{"evaluators", in.Evaluators}, {"auditors", in.Auditors}} {
		if err := checkList(l.field, sortedCopy(l.msps)); err != nil {
			return err
		}
	}
	if err := checkSpike(in.Spike); err != nil {
		return err
	}
	return in.checkGradesForm()
}

// Normalized returns the input with both lists sorted, never nil.
func (in PolicyProposalInput) Normalized() PolicyProposalInput {
	n := PolicyProposalInput{Evaluators: sortedCopy(in.Evaluators), Auditors: sortedCopy(in.Auditors), Grades: normalizedGrades(in.Grades), Member: in.Member,
		Spike: cloneSpike(in.Spike)}
	if in.Bureaus != nil {
		b := sortedCopy(*in.Bureaus)
		n.Bureaus = &b
	}
	return n
}

// CheckAgainst holds a proposal to the current policy: it names members
// only, and it changes something; a membership change applies to it.
func (in PolicyProposalInput) CheckAgainst(p *Policy) error {
	if in.Member != nil {
		return p.CheckChange(*in.Member)
	}
	n := in.Normalized()
	if err := checkHolders("evaluators", n.Evaluators, p.Members); err != nil {
		return err
	}
	if err := checkHolders("auditors", n.Auditors, p.Members); err != nil {
		return err
	}
	gradesChanged, err := n.checkGradesAgainst(p)
	if err != nil {
		return err
	}
	spikeChanged := n.Spike != nil && !sameSpike(n.Spike, p.Spike)
	if slices.Equal(n.Evaluators, p.Evaluators) && slices.Equal(n.Auditors, p.Auditors) && !gradesChanged && !spikeChanged {
		return Errorf(CodeConflict, "the proposal changes nothing: policy version %d already names evaluators %v and auditors %v, and the same bureaus, grade rules and spike rule", p.Version, p.Evaluators, p.Auditors)
	}
	return nil
}

// PolicyProposal is an admin's proposal to change the evaluators and
// auditors of the policy at BaseVersion, or (Member) its membership. It
// never changes: it is applied
// when a majority approves it while the policy is still at BaseVersion,
// and stale once another proposal has been applied.
type PolicyProposal struct {
	ID          string    `json:"id"` // "pp-" + 24 characters of the transaction ID
	Evaluators  []string  `json:"evaluators"`
	Auditors    []string  `json:"auditors"`
	BaseVersion int       `json:"baseVersion"`
	ProposedAt  time.Time `json:"proposedAt"`
	ProposedBy  Actor     `json:"proposedBy"`
	// The bureaus and grade rules the policy will have: the proposal's,
	// or the base version's own where it left them out.
	Bureaus []string    `json:"bureaus"`
	Grades  []GradeRule `json:"grades"`
	// Spike is the spike rule the policy will have: the proposal's, or the
	// base version's own (nil: the default).
	Spike *SpikeRule `json:"spike,omitempty"`
	// Member is the membership change proposed; nil for a change of the
	// evaluators and auditors.
	Member *MemberChange `json:"member,omitempty"`
}

// PolicyApproval is one member department's approval of a proposal, signed
// by its admin and endorsed by its own peer; one per department and
// proposal. The approval that makes the majority is not stored as one:
// that transaction writes the new policy version instead, which lists
// every approving department.
type PolicyApproval struct {
	ID         string    `json:"id"` // PolicyApprovalID(proposalId, mspId)
	ProposalID string    `json:"proposalId"`
	MSPID      string    `json:"mspId"`
	ApprovedAt time.Time `json:"approvedAt"`
	ApprovedBy Actor     `json:"approvedBy"`
}

// PolicyApprovalID is the ID of a department's approval of a proposal.
func PolicyApprovalID(proposalID, mspID string) string { return proposalID + "." + mspID }

// The states of a proposal, as GetPolicyProposal reports them.
const (
	ProposalOpen    = "open"    // the policy is still at its base version
	ProposalApplied = "applied" // a majority approved it: it made a policy version
	ProposalStale   = "stale"   // another proposal was applied first; propose again
)

// PolicyProposalStatus is a proposal with where it stands.
type PolicyProposalStatus struct {
	Proposal  PolicyProposal `json:"proposal"`
	Status    string         `json:"status"`
	Approvals []string       `json:"approvals"` // member departments that approved, sorted
	Needed    int            `json:"needed"`    // the majority of the current voters (Policy.Needed)
	// AppliedVersion is the policy version the proposal made, once applied.
	AppliedVersion int `json:"appliedVersion,omitempty"`
}

// PolicyApprovalResult is what ApprovePolicyProposal answers: the approval
// counted, and the policy, changed when this approval made the majority.
type PolicyApprovalResult struct {
	ProposalID string   `json:"proposalId"`
	MSPID      string   `json:"mspId"`     // the approving department
	Approvals  []string `json:"approvals"` // every approving department so far, sorted
	Needed     int      `json:"needed"`
	Applied    bool     `json:"applied"`
	Policy     Policy   `json:"policy"` // the policy after this transaction
}

func (p *Policy) RecordID() string          { return p.ID }
func (p *Policy) Parties() []string         { return MSPSet(p.Members...) }
func (p *PolicyProposal) RecordID() string  { return p.ID }
func (p *PolicyProposal) Parties() []string { return MSPSet(p.ProposedBy.MSPID) }
func (a *PolicyApproval) RecordID() string  { return a.ID }

// Parties of an approval: the approving department, and the signer's if a
// forged record names another, so an approval exists only with the peer of
// every department it names.
func (a *PolicyApproval) Parties() []string { return MSPSet(a.MSPID, a.ApprovedBy.MSPID) }

func checkMembers(members []string) error {
	if len(members) == 0 {
		return Errorf(CodeInvalid, "members must list every department of the consortium")
	}
	if len(members) > MaxPolicyMembers {
		return Errorf(CodeInvalid, "members lists %d departments, more than %d", len(members), MaxPolicyMembers)
	}
	return checkList("members", members)
}

// checkHolders checks a role's departments: valid, without repeats, members.
func checkHolders(field string, msps, members []string) error {
	if err := checkList(field, msps); err != nil {
		return err
	}
	for _, m := range msps {
		if !slices.Contains(members, m) {
			return Errorf(CodeInvalid, "%s names %s, which is not a member of the consortium %v", field, m, members)
		}
	}
	return nil
}

// checkList checks a sorted list of MSP IDs.
func checkList(field string, msps []string) error {
	if len(msps) > MaxPolicyMembers {
		return Errorf(CodeInvalid, "%s lists %d departments, more than %d", field, len(msps), MaxPolicyMembers)
	}
	for i, m := range msps {
		if err := CheckMSPID(field, m); err != nil {
			return err
		}
		if i > 0 && msps[i-1] == m {
			return Errorf(CodeInvalid, "%s lists %s twice", field, m)
		}
		if i > 0 && msps[i-1] > m {
			return Errorf(CodeInvalid, "%s must be sorted: %s comes after %s", field, m, msps[i-1])
		}
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}
