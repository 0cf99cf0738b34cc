package contract

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// The consortium policy (domain/policy.go) decides which departments' evaluators and
// auditors the contract honours. Who signs what:
//
//   - InitPolicy, once, by an admin of a member: the record names every member as a
//     party, so the transaction writes every member's anchor (the Gateway plans all their
//     peers) and the validation plugin refuses it unless every member's peer endorsed it.
//     Its key-level endorsement policy is then a majority of the members' peers.
//   - ProposePolicy, by an admin of a member: a proposal record naming the proposer.
//   - ApprovePolicyProposal, by an admin of each approving member, one transaction each:
//     an approval record naming that department (its own peer must endorse it), until the
//     approval that makes the majority, which instead writes the new policy version; that
//     write falls under the policy key's majority endorsement policy.

// InitPolicy sets the genesis consortium policy: every department on the
// ledger as a member, and the departments whose evaluators and auditors are
// honoured. It is refused once a policy exists: from then on only an
// approved proposal changes it.
func (c *Contract) InitPolicy(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.PolicyInput
	if err := decodeInput("PolicyInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	in = in.Normalized()
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleAdmin, "set the consortium policy")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	key, prev, err := readPolicy(stub)
	if err != nil {
		return "", err
	}
	if prev != nil {
		return "", domain.Errorf(domain.CodeConflict, "the consortium policy is already set (version %d); only a proposal that a majority of the members' admins approve changes it", prev.Version)
	}
	if !slices.Contains(in.Members, a.MSPID) {
		return "", domain.Errorf(domain.CodeForbidden, "only an admin of a member department may set the consortium policy; %s is not among the members %v", a.MSPID, in.Members)
	}
	onLedger, err := departmentsOnLedger(stub)
	if err != nil {
		return "", err
	}
	for _, d := range onLedger {
		if !slices.Contains(in.Members, d) {
			return "", domain.Errorf(domain.CodeConflict, "department %s has a profile on the ledger but is not among the members %v: the consortium policy lists every department", d, in.Members)
		}
	}
	for _, m := range in.Members {
		if !slices.Contains(onLedger, m) {
			return "", domain.Errorf(domain.CodeConflict, "department %s has no profile on the ledger yet; its admin sets it first (PUT /v1/departments/me)", m)
		}
	}
	p := &domain.Policy{
		ID: domain.PolicyID, Members: in.Members, Evaluators: in.Evaluators, Auditors: in.Auditors,
		Bureaus: in.Bureaus, Grades: in.Grades, Spike: in.Spike, Version: 1, UpdatedAt: now, UpdatedBy: a,
	}
	// putEntity checks that every member has a profile, writes every
	// member's anchor (so the Gateway plans every member's peer, which the
	// validation plugin requires) and sets a policy of all of them; the
	// key's policy from then on is a majority.
	if err := putEntity(stub, key, p); err != nil {
		return "", err
	}
	if err := setMajority(stub, key, p.Members); err != nil {
		return "", err
	}
	if err := emit(stub, policyEvent(domain.EventPolicySet, a, p)); err != nil {
		return "", err
	}
	return result(p)
}

// GetPolicy returns the consortium policy.
func (c *Contract) GetPolicy(ctx contractapi.TransactionContextInterface) (string, error) {
	_, p, err := readPolicy(ctx.GetStub())
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", errPolicyNotSet()
	}
	return result(p)
}

// ProposePolicy records an admin's proposal to name other evaluators and
// auditors. It changes nothing until a majority of the members' admins
// approve it (ApprovePolicyProposal).
func (c *Contract) ProposePolicy(ctx contractapi.TransactionContextInterface, input string) (string, error) {
	var in domain.PolicyProposalInput
	if err := decodeInput("PolicyProposalInput", input, &in); err != nil {
		return "", err
	}
	if err := in.Validate(); err != nil {
		return "", err
	}
	in = in.Normalized()
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleAdmin, "propose a change of the consortium policy")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	_, p, err := memberPolicy(stub, a, "propose a change of the consortium policy")
	if err != nil {
		return "", err
	}
	if err := in.CheckAgainst(p); err != nil {
		return "", err
	}
	if in.Member != nil && in.Member.Action == domain.MemberAdmit {
		// A member writes, and is a party of records: its profile (and
		// anchor) must be on the ledger, as for the genesis members.
		if _, ok, err := exists(stub, domain.KindDepartment, in.Member.MSPID); err != nil {
			return "", err
		} else if !ok {
			return "", domain.Errorf(domain.CodeConflict, "department %s has no profile on the ledger yet; its admin sets it first (PUT /v1/departments/me)", in.Member.MSPID)
		}
	}
	if err := notBefore(now, p.UpdatedAt, fmt.Sprintf("policy version %d was set", p.Version), "a proposal to change it"); err != nil {
		return "", err
	}
	id, err := derivedID("pp-", stub.GetTxID())
	if err != nil {
		return "", err
	}
	key, err := entityKey(stub, domain.KindPolicyProposal, id)
	if err != nil {
		return "", err
	}
	pp := &domain.PolicyProposal{
		ID: id, Evaluators: in.Evaluators, Auditors: in.Auditors, BaseVersion: p.Version, ProposedAt: now, ProposedBy: a, Member: in.Member,
	}
	pp.Bureaus, pp.Grades = in.ProposedGrades(p)
	pp.Spike = in.ProposedSpike(p)
	if err := putEntity(stub, key, pp); err != nil {
		return "", err
	}
	if err := emit(stub, proposalEvent(a, pp)); err != nil {
		return "", err
	}
	return result(pp)
}

// GetPolicyProposal returns a proposal with where it stands: open, applied
// (with the policy version it made) or stale, and who approved it.
func (c *Contract) GetPolicyProposal(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	var pp domain.PolicyProposal
	if _, err := mustGetEntity(stub, domain.KindPolicyProposal, id, &pp); err != nil {
		return "", err
	}
	key, p, err := readPolicy(stub)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", errPolicyNotSet()
	}
	st := domain.PolicyProposalStatus{Proposal: pp, Needed: p.Needed(&pp)}
	switch {
	case p.ProposalID == id:
		st.Status, st.Approvals, st.AppliedVersion = domain.ProposalApplied, p.Approvals, p.Version
	case pp.BaseVersion == p.Version:
		st.Status = domain.ProposalOpen
		if st.Approvals, err = approvals(stub, id, p.Voters(&pp)); err != nil {
			return "", err
		}
	default:
		// Applied and since superseded, or stale: the policy's history says.
		applied, err := appliedBy(stub, key, id)
		if err != nil {
			return "", err
		}
		st.Status = domain.ProposalStale
		if applied != nil {
			st.Status, st.Approvals, st.AppliedVersion = domain.ProposalApplied, applied.Approvals, applied.Version
		} else if st.Approvals, err = approvals(stub, id, p.Voters(&pp)); err != nil {
			return "", err
		}
	}
	if st.Approvals == nil {
		st.Approvals = []string{}
	}
	return result(st)
}

// ApprovePolicyProposal records the approval of the caller's department,
// signed by its admin. When the approvals, this one included, reach a
// majority of the members, the same transaction writes the new policy
// version instead of an approval record, so the policy key's majority
// endorsement policy governs that write. A department approves a proposal
// once; a proposal made for an older policy version cannot be approved.
func (c *Contract) ApprovePolicyProposal(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	if err := domain.CheckID("id", id); err != nil {
		return "", err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	a, err := authorize(ctx, domain.RoleAdmin, "approve a change of the consortium policy")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	policyKey, p, err := memberPolicy(stub, a, "approve a change of the consortium policy")
	if err != nil {
		return "", err
	}
	var pp domain.PolicyProposal
	if _, err := mustGetEntity(stub, domain.KindPolicyProposal, id, &pp); err != nil {
		return "", err
	}
	if p.ProposalID == id {
		return "", domain.Errorf(domain.CodeConflict, "proposal %s is already applied: it made policy version %d", id, p.Version)
	}
	if pp.BaseVersion != p.Version {
		return "", domain.Errorf(domain.CodeConflict, "proposal %s was made for policy version %d, and the policy is at version %d now: it can no longer be approved; propose again", id, pp.BaseVersion, p.Version)
	}
	if err := notBefore(now, pp.ProposedAt, "proposal "+id+" was made", "its approval"); err != nil {
		return "", err
	}
	voters := p.Voters(&pp)
	if !slices.Contains(voters, a.MSPID) {
		return "", domain.Errorf(domain.CodeForbidden, "%s does not vote on proposal %s to %s it: a department does not vote on its own suspension or removal; the voters are %v",
			a.MSPID, id, pp.Member.Action, voters)
	}
	// One point read per voter, this department's included: exactly the
	// keys the count depends on, so two approvals racing in one block
	// conflict (MVCC) instead of both counting short of the majority.
	approved, err := approvals(stub, id, voters)
	if err != nil {
		return "", err
	}
	if slices.Contains(approved, a.MSPID) {
		return "", domain.Errorf(domain.CodeConflict, "%s has already approved proposal %s; each department approves once", a.MSPID, id)
	}
	approved = union(approved, []string{a.MSPID})
	res := domain.PolicyApprovalResult{ProposalID: id, MSPID: a.MSPID, Approvals: approved, Needed: p.Needed(&pp)}
	if len(approved) < res.Needed {
		key, err := entityKey(stub, domain.KindPolicyApproval, domain.PolicyApprovalID(id, a.MSPID))
		if err != nil {
			return "", err
		}
		ap := &domain.PolicyApproval{ID: domain.PolicyApprovalID(id, a.MSPID), ProposalID: id, MSPID: a.MSPID, ApprovedAt: now, ApprovedBy: a}
		if err := putEntity(stub, key, ap); err != nil {
			return "", err
		}
		if err := emit(stub, approvalEvent(a, ap)); err != nil {
			return "", err
		}
		res.Policy = *p
		return result(res)
	}
	next := &domain.Policy{
		ID: domain.PolicyID, Members: p.Members, Suspended: p.Suspended, Removed: p.Removed, Evaluators: pp.Evaluators, Auditors: pp.Auditors,
	}
	next.Bureaus, next.Grades = pp.ProposedGrades(p)
	next.Spike = pp.Spike
	if pp.Member != nil {
		if next, err = p.AfterChange(*pp.Member); err != nil {
			return "", err
		}
		next.Change = pp.Member
	}
	next.Version, next.UpdatedAt, next.UpdatedBy, next.ProposalID, next.Approvals = p.Version+1, now, a, id, approved
	if err := next.CheckSuccessor(p); err != nil {
		return "", err
	}
	if err := updateEntity(stub, policyKey, next); err != nil {
		return "", err
	}
	if pp.Member != nil {
		// The policy key's endorsement policy follows the members: a
		// majority of the peers of the members it now lists. This write
		// itself is still judged by the committed one.
		if err := setMajority(stub, policyKey, next.Members); err != nil {
			return "", err
		}
	}
	if err := emit(stub, policyEvent(domain.EventPolicyUpdated, a, next)); err != nil {
		return "", err
	}
	res.Applied, res.Policy = true, *next
	return result(res)
}

// checkPolicyApprovalID checks an approval's ID, "<proposalId>.<mspId>".
func checkPolicyApprovalID(id string) error {
	proposal, msp, ok := strings.Cut(id, ".")
	if !ok {
		return domain.Errorf(domain.CodeInvalid, "id %q must be <proposalId>.<mspId>", id)
	}
	if err := domain.CheckID("id", proposal); err != nil {
		return err
	}
	return domain.CheckMSPID("id", msp)
}

// readPolicy reads the consortium policy: nil when none is set.
func readPolicy(stub shim.ChaincodeStubInterface) (string, *domain.Policy, error) {
	var p domain.Policy
	key, ok, err := getEntity(stub, domain.KindPolicy, domain.PolicyID, &p)
	if err != nil || !ok {
		return key, nil, err
	}
	return key, &p, nil
}

// checkStanding refuses every write signed by a person of a suspended or
// removed department (domain.WriteRefusal). It runs before every
// state-changing transaction (Contract.beforeTransaction); reads are never
// refused, so the department's people still read and trace its records.
// The policy key is in every write's read set, so a write endorsed before
// a suspension and ordered after it fails its MVCC check.
func checkStanding(ctx contractapi.TransactionContextInterface) error {
	a, err := caller(ctx)
	if err != nil {
		return err
	}
	_, p, err := readPolicy(ctx.GetStub())
	if err != nil {
		return err
	}
	if why := domain.WriteRefusal(p, a.MSPID); why != "" {
		return domain.Errorf(domain.CodeForbidden, "%s", why)
	}
	return nil
}

// memberPolicy reads the policy that the caller's department must be a
// member of to do action.
func memberPolicy(stub shim.ChaincodeStubInterface, a domain.Actor, action string) (string, *domain.Policy, error) {
	key, p, err := readPolicy(stub)
	if err != nil {
		return "", nil, err
	}
	if p == nil {
		return "", nil, errPolicyNotSet()
	}
	if !p.Member(a.MSPID) {
		return "", nil, domain.Errorf(domain.CodeForbidden, "only an admin of a member department may %s; %s is not among the members %v of the consortium policy", action, a.MSPID, p.Members)
	}
	return key, p, nil
}

func errPolicyNotSet() *domain.Error {
	return domain.Errorf(domain.CodeNotFound, "the consortium policy is not set on the ledger yet (InitPolicy, at genesis)")
}

// approvals lists the members whose approval of proposal id is on the
// ledger, sorted, by reading each member's approval key.
func approvals(stub shim.ChaincodeStubInterface, id string, members []string) ([]string, error) {
	out := []string{}
	for _, m := range members {
		_, ok, err := exists(stub, domain.KindPolicyApproval, domain.PolicyApprovalID(id, m))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// appliedBy finds, in the policy key's history, the version that proposal
// id made; nil if none did.
func appliedBy(stub shim.ChaincodeStubInterface, key, id string) (*domain.Policy, error) {
	it, err := stub.GetHistoryForKey(key)
	if err != nil {
		return nil, internalErr("read the history of the consortium policy", err)
	}
	defer it.Close()
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return nil, internalErr("read the history of the consortium policy", err)
		}
		var p domain.Policy
		if m.GetIsDelete() || json.Unmarshal(m.GetValue(), &p) != nil {
			continue
		}
		if p.ProposalID == id {
			return &p, nil
		}
	}
	return nil, nil
}

// departmentsOnLedger lists the MSP IDs of every department profile. A
// range read: a profile created in the same block makes the transaction
// fail its phantom check rather than leave that department out.
func departmentsOnLedger(stub shim.ChaincodeStubInterface) ([]string, error) {
	it, err := stub.GetStateByPartialCompositeKey(string(domain.KindDepartment), nil)
	if err != nil {
		return nil, internalErr("list departments", err)
	}
	defer it.Close()
	var out []string
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, internalErr("list departments", err)
		}
		info, err := domain.ParseKey(kv.Key)
		if err != nil {
			return nil, internalErr("list departments", err)
		}
		out = append(out, info.Attrs[0])
	}
	return out, nil
}

// setMajority gives key a key-level endorsement policy of more than half of
// orgs' peers: NOutOf(len/2+1) over one PEER principal per department,
// sorted, so every endorser builds the same bytes. statebased only builds
// all-of policies, so the envelope is built here.
func setMajority(stub shim.ChaincodeStubInterface, key string, orgs []string) error {
	orgs = union(orgs, nil)
	if len(orgs) == 0 {
		return domain.Errorf(domain.CodeInternal, "no endorsing department given for a majority policy")
	}
	ids := make([]*msp.MSPPrincipal, len(orgs))
	rules := make([]*common.SignaturePolicy, len(orgs))
	for i, org := range orgs {
		role, err := proto.Marshal(&msp.MSPRole{MspIdentifier: org, Role: msp.MSPRole_PEER})
		if err != nil {
			return internalErr("build endorsement policy", err)
		}
		ids[i] = &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: role}
		rules[i] = &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(i)}}
	}
	env := &common.SignaturePolicyEnvelope{
		Version: 0,
		Rule: &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{
			NOutOf: &common.SignaturePolicy_NOutOf{N: int32(len(orgs)/2 + 1), Rules: rules},
		}},
		Identities: ids,
	}
	policy, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return internalErr("encode endorsement policy", err)
	}
	if err := stub.SetStateValidationParameter(key, policy); err != nil {
		return internalErr("set endorsement policy", err)
	}
	return nil
}

func policyEvent(t domain.EventType, a domain.Actor, p *domain.Policy) domain.Event {
	return domain.Event{Type: t, Kind: domain.KindPolicy, ID: p.ID, Time: p.UpdatedAt, Actor: a, Policy: p}
}

func proposalEvent(a domain.Actor, pp *domain.PolicyProposal) domain.Event {
	return domain.Event{Type: domain.EventPolicyProposed, Kind: domain.KindPolicyProposal, ID: pp.ID, Time: pp.ProposedAt, Actor: a, PolicyProposal: pp}
}

func approvalEvent(a domain.Actor, ap *domain.PolicyApproval) domain.Event {
	return domain.Event{Type: domain.EventPolicyApproved, Kind: domain.KindPolicyApproval, ID: ap.ID, Time: ap.ApprovedAt, Actor: a, PolicyApproval: ap}
}
