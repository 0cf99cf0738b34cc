package contract

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

var (
	op4 = who{"Dept4MSP", "operator", "op4"}
	ad5 = who{"Dept5MSP", "admin", "ad5"}
	op5 = who{"Dept5MSP", "operator", "op5"}
)

// propose records w's membership proposal and returns it.
func (h *harness) proposeMember(w who, action domain.MemberAction, msp string) domain.PolicyProposal {
	h.t.Helper()
	var pp domain.PolicyProposal
	h.submit(w, &pp, "ProposePolicy", jsonOf(h.t, domain.PolicyProposalInput{Member: &domain.MemberChange{Action: action, MSPID: msp}}))
	return pp
}

// approveAll approves pp as each of ws in turn; the last must apply it.
func (h *harness) approveAll(pp domain.PolicyProposal, needed int, ws ...who) domain.Policy {
	h.t.Helper()
	var res domain.PolicyApprovalResult
	for i, w := range ws {
		h.advance(time.Second)
		res = domain.PolicyApprovalResult{}
		h.submit(w, &res, "ApprovePolicyProposal", pp.ID)
		if res.Needed != needed || res.Applied != (i == len(ws)-1) {
			h.t.Fatalf("approval %d of %s by %s: %+v", i+1, pp.ID, w.msp, res)
		}
	}
	return res.Policy
}

func TestMembershipAdmitSuspendRemove(t *testing.T) {
	h := newHarness(t)
	pk := key(t, domain.KindPolicy, domain.PolicyID)

	// A department on the channel but not a member writes (it joined with
	// add-department), but cannot vote.
	h.submit(ad5, nil, "SetDepartment", `{"name":"Natural Resources Bureau","code":"NRB","level":"municipal"}`)
	h.registerDataset(op5, datasetInput("joined-data", domain.ShareUnconditional))
	h.reject(ad5, domain.CodeForbidden, "only an admin of a member department may propose", "ProposePolicy",
		`{"member":{"action":"admit","mspId":"Dept5MSP"}}`)
	h.reject(ad1, domain.CodeConflict, "department Dept6MSP has no profile on the ledger yet", "ProposePolicy",
		`{"member":{"action":"admit","mspId":"Dept6MSP"}}`)
	h.reject(ad1, domain.CodeInvalid, "not both", "ProposePolicy",
		`{"evaluators":["Dept1MSP"],"member":{"action":"admit","mspId":"Dept5MSP"}}`)

	// Admitted by 3 of the 5 members; the policy key's endorsement policy
	// becomes a majority of the 6.
	admit := h.proposeMember(ad1, domain.MemberAdmit, "Dept5MSP")
	p := h.approveAll(admit, 3, ad1, ad2, ad3)
	if p.Version != 2 || !p.Member("Dept5MSP") || p.Change == nil || p.Change.Action != domain.MemberAdmit || len(p.Members) != 6 {
		t.Fatalf("after admission: %+v", p)
	}
	if n, orgs := h.majorityOf(pk); n != 4 || len(orgs) != 6 {
		t.Fatalf("policy key endorsed by %d of %v, want 4 of 6", n, orgs)
	}

	// Suspending Dept4: it does not vote, so 3 of the other 5.
	suspend := h.proposeMember(ad2, domain.MemberSuspend, "Dept4MSP")
	var st domain.PolicyProposalStatus
	h.query(op1, &st, "GetPolicyProposal", suspend.ID)
	if st.Needed != 3 || st.Status != domain.ProposalOpen {
		t.Fatalf("status %+v", st)
	}
	h.reject(ad4, domain.CodeForbidden, "a department does not vote on its own suspension or removal", "ApprovePolicyProposal", suspend.ID)
	d4 := h.registerDataset(op4, datasetInput("dept4-data", domain.ShareUnconditional))
	p = h.approveAll(suspend, 3, ad2, ad5, adBu)
	if !slices.Equal(p.Suspended, []string{"Dept4MSP"}) || p.Member("Dept4MSP") || slices.Contains(p.Evaluators, "Dept4MSP") || slices.Contains(p.Auditors, "Dept4MSP") {
		t.Fatalf("after suspension: %+v", p)
	}
	if n, orgs := h.majorityOf(pk); n != 3 || len(orgs) != 5 || slices.Contains(orgs, "Dept4MSP") {
		t.Fatalf("policy key endorsed by %d of %v, want 3 of the 5 members", n, orgs)
	}

	// Every write of its people is refused, naming the rule; reads work.
	h.advance(time.Second)
	h.reject(op4, domain.CodeForbidden, "department Dept4MSP is suspended from the consortium (policy version 3): its people can read and trace, but not write",
		"RegisterDataset", jsonOf(t, datasetInput("after-suspension", domain.ShareUnconditional)))
	h.reject(ad4, domain.CodeForbidden, "Dept4MSP is suspended", "SetDepartment", `{"name":"x","code":"x","level":"municipal"}`)
	h.reject(op4, domain.CodeForbidden, "Dept4MSP is suspended", "CreateRequest", jsonOf(t, h.requestInput("joined-data")))
	var got domain.Dataset
	h.query(op4, &got, "GetDataset", d4.ID)
	h.query(op4, nil, "History", string(domain.KindDataset), d4.ID)
	// No new record may name it: Dept1 cannot request its data.
	h.reject(op1, domain.CodeForbidden, "department Dept4MSP is suspended from the consortium (policy version 3): no new record may name it",
		"CreateRequest", jsonOf(t, h.requestInput(d4.ID)))
	// The others write, and the suspended department still counts in
	// nothing: another proposal's majority is of the 5 members.
	h.registerDataset(op1, datasetInput("", domain.ShareUnconditional))
	other := h.proposeMember(ad1, domain.MemberSuspend, "Dept5MSP")
	h.query(op1, &st, "GetPolicyProposal", other.ID)
	if st.Needed != 3 {
		t.Fatalf("suspending one of 5 members needs %d, want 3 of the other 4", st.Needed)
	}

	// Removed: its profile leaves the list, stays readable.
	remove := h.proposeMember(ad3, domain.MemberRemove, "Dept4MSP")
	p = h.approveAll(remove, 3, ad1, ad3, ad5)
	if !slices.Equal(p.Removed, []string{"Dept4MSP"}) || len(p.Suspended) != 0 || len(p.Members) != 5 {
		t.Fatalf("after removal: %+v", p)
	}
	h.reject(op4, domain.CodeForbidden, "department Dept4MSP has left the consortium", "RegisterDataset", jsonOf(t, datasetInput("after-removal", domain.ShareUnconditional)))
	var list []domain.Department
	h.query(op1, &list, "ListDepartments")
	var listed []string
	for _, d := range list {
		listed = append(listed, d.MSPID)
	}
	if want := []string{"BureauMSP", "Dept1MSP", "Dept2MSP", "Dept3MSP", "Dept5MSP"}; !slices.Equal(listed, want) {
		t.Fatalf("ListDepartments %v, want %v", listed, want)
	}
	var d domain.Department
	h.query(op1, &d, "GetDepartment", "Dept4MSP")
	h.query(op1, &got, "GetDataset", d4.ID)
	// The stale proposal made for version 3 cannot be approved.
	h.reject(ad2, domain.CodeConflict, "was made for policy version 3", "ApprovePolicyProposal", other.ID)
}

// A forged policy write that drops a member without its approvals is the
// successor rule's business (domain, run by the validation plugin); here:
// the contract itself never writes one, whatever the proposal.
func TestMembershipProposalRejects(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		in   string
		code domain.Code
		want string
	}{
		{`{"member":{"action":"admit","mspId":"Dept1MSP"}}`, domain.CodeConflict, "already a member"},
		{`{"member":{"action":"reinstate","mspId":"Dept1MSP"}}`, domain.CodeConflict, "only a suspended department can be reinstated"},
		{`{"member":{"action":"expel","mspId":"Dept1MSP"}}`, domain.CodeInvalid, "must be one of"},
		{`{"member":{"action":"remove","mspId":"Dept9MSP"}}`, domain.CodeConflict, "Dept9MSP is not a member"},
	} {
		h.reject(ad1, c.code, c.want, "ProposePolicy", c.in)
	}
	// A department may propose its own removal (leaving), but not vote on it.
	leave := h.proposeMember(ad4, domain.MemberRemove, "Dept4MSP")
	h.reject(ad4, domain.CodeForbidden, "does not vote on proposal "+leave.ID+" to remove it", "ApprovePolicyProposal", leave.ID)
	p := h.approveAll(leave, 3, ad1, ad2, ad3)
	raw, _ := json.Marshal(p)
	if !p.IsRemoved("Dept4MSP") || !slices.Equal(p.Approvals, []string{"Dept1MSP", "Dept2MSP", "Dept3MSP"}) {
		t.Fatalf("after leaving: %s", raw)
	}
}
