package validation

import (
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

var members = []string{"BureauMSP", "Dept1MSP", "Dept2MSP", "Dept3MSP"}

func consortiumPolicy(version int, evaluators ...string) *domain.Policy {
	return &domain.Policy{ID: domain.PolicyID, Members: members, Evaluators: evaluators, Auditors: []string{"BureauMSP"}, Version: version}
}

func stateOf(m map[string][]byte) Committed {
	return func(keys []string) ([][]byte, error) {
		out := make([][]byte, len(keys))
		for i, k := range keys {
			out[i] = m[k]
		}
		return out, nil
	}
}

// TestCoalitionCannotCreateThePolicy: the consortium policy names every
// member as a party, so its creation needs every member's peer. Three of
// four departments endorsing a genesis policy that makes one of them an
// evaluator, with their own anchors only, still owe the fourth's peer: the
// plugin's all-of policy over the parties is 4 of 4.
func TestCoalitionCannotCreateThePolicy(t *testing.T) {
	pk := key(t, domain.KindPolicy, domain.PolicyID)
	var reads []*kvrwset.KVRead
	writes := []*kvrwset.KVWrite{{Key: pk, Value: value(t, consortiumPolicy(1, "Dept2MSP"))}}
	reads = append(reads, &kvrwset.KVRead{Key: pk})
	for _, m := range []string{"BureauMSP", "Dept2MSP", "Dept3MSP"} {
		a, _ := domain.AnchorKey(m)
		writes = append(writes, &kvrwset.KVWrite{Key: a, Value: domain.IndexValue})
	}
	anchors := map[string][]byte{}
	for _, m := range members {
		a, _ := domain.AnchorKey(m)
		anchors[a] = domain.IndexValue
	}
	parties, err := Judge(&kvrwset.KVRWSet{Reads: reads, Writes: writes}, stateOf(anchors))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parties, members) {
		t.Fatalf("parties %v, want every member %v", parties, members)
	}
	raw, err := PeersOf(parties)
	if err != nil {
		t.Fatal(err)
	}
	var ap peer.ApplicationPolicy
	if err := proto.Unmarshal(raw, &ap); err != nil {
		t.Fatal(err)
	}
	if n := ap.GetSignaturePolicy().GetRule().GetNOutOf().GetN(); n != int32(len(members)) {
		t.Fatalf("the plugin requires %d peers, want all %d members'", n, len(members))
	}
}

// TestPolicyUpdateRule: once the policy exists, a majority of peers
// governs its key, and the plugin still refuses an update that drops a
// member or does not go up one version, whoever endorsed it.
func TestPolicyUpdateRule(t *testing.T) {
	pk := key(t, domain.KindPolicy, domain.PolicyID)
	committed := stateOf(map[string][]byte{pk: value(t, consortiumPolicy(1, "BureauMSP"))})
	without := consortiumPolicy(2, "Dept2MSP")
	without.Members = []string{"BureauMSP", "Dept2MSP", "Dept3MSP"}
	all := []domain.ShareType{domain.ShareUnconditional, domain.ShareConditional, domain.ShareNone}
	grades := []domain.GradeRule{{Grade: 1, ShareTypes: all}, {Grade: 2, ShareTypes: all}, {Grade: 3, ShareTypes: all},
		{Grade: 4, ShareTypes: []domain.ShareType{domain.ShareConditional}, BureauApproval: true}}
	graded := consortiumPolicy(2, "BureauMSP")
	graded.Bureaus, graded.Grades = []string{"BureauMSP"}, grades
	noBureau := consortiumPolicy(2, "BureauMSP")
	noBureau.Grades = grades
	threeGrades := consortiumPolicy(2, "BureauMSP")
	threeGrades.Grades = grades[:3]
	tests := []struct {
		name string
		next *domain.Policy
		err  string
	}{
		{"the next version", consortiumPolicy(2, "BureauMSP", "Dept2MSP"), ""},
		{"a member dropped", without, "members are [BureauMSP Dept1MSP Dept2MSP Dept3MSP] (suspended [], removed []) and cannot become [BureauMSP Dept2MSP Dept3MSP]"},
		{"a version skipped", consortiumPolicy(5, "Dept2MSP"), "at version 1 can only become version 2, not 5"},
		{"rewound", consortiumPolicy(1, "Dept2MSP"), "can only become version 2, not 1"},
		{"an evaluator outside the consortium", consortiumPolicy(2, "RogueMSP"), "evaluators names RogueMSP, which is not a member"},
		// Grade rules may change by a majority, but never into a form the
		// contract could not apply.
		{"grade rules set", graded, ""},
		{"a grade rule needing a bureau the policy lacks", noBureau, "grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus"},
		{"grade rules for three grades", threeGrades, "grades lists 3 rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parties, err := Judge(&kvrwset.KVRWSet{
				Reads:  []*kvrwset.KVRead{{Key: pk, Version: &kvrwset.Version{BlockNum: 9}}},
				Writes: []*kvrwset.KVWrite{{Key: pk, Value: value(t, tt.next)}},
			}, committed)
			if tt.err == "" {
				if err != nil || len(parties) != 0 {
					t.Fatalf("Judge = %v, %v; want an update that the key's own policy governs", parties, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Judge = %v, %v; want an error with %q", parties, err, tt.err)
			}
		})
	}
}

// TestForgedApprovalNeedsItsDepartment: an approval record names the
// approving department, and the signer's department if a forger wrote
// another, so no coalition counts a department's approval without its peer.
func TestForgedApprovalNeedsItsDepartment(t *testing.T) {
	id := domain.PolicyApprovalID("pp-1", "Dept1MSP")
	k := key(t, domain.KindPolicyApproval, id)
	ap := domain.PolicyApproval{ID: id, ProposalID: "pp-1", MSPID: "Dept1MSP", ApprovedBy: domain.Actor{MSPID: "Dept2MSP"}}
	parties, err := Judge(&kvrwset.KVRWSet{
		Reads:  []*kvrwset.KVRead{{Key: k}},
		Writes: []*kvrwset.KVWrite{{Key: k, Value: value(t, ap)}},
	}, stateOf(map[string][]byte{}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(parties, []string{"Dept1MSP", "Dept2MSP"}) {
		t.Fatalf("parties %v, want Dept1MSP and Dept2MSP", parties)
	}
}

// TestMembershipChangeNeedsItsApprovals: a write of the policy that
// suspends a member is valid only as the change its proposal proposed,
// with a majority of the other members' approvals each on the ledger; so
// the suspended department's peer and one accomplice, a majority of
// endorsing peers of a small consortium, cannot list an approval that a
// department's admin never signed.
func TestMembershipChangeNeedsItsApprovals(t *testing.T) {
	pk := key(t, domain.KindPolicy, domain.PolicyID)
	prev := consortiumPolicy(3, "BureauMSP")
	change := domain.MemberChange{Action: domain.MemberSuspend, MSPID: "Dept3MSP"}
	next, err := prev.AfterChange(change)
	if err != nil {
		t.Fatal(err)
	}
	next.Version, next.Change, next.ProposalID = 4, &change, "pp-1"
	next.Approvals, next.UpdatedBy = []string{"Dept1MSP", "Dept2MSP"}, domain.Actor{MSPID: "Dept2MSP"}
	proposal := domain.PolicyProposal{ID: "pp-1", BaseVersion: 3, Member: &change, Evaluators: []string{}, Auditors: []string{}}
	ppKey := key(t, domain.KindPolicyProposal, "pp-1")
	apKey := key(t, domain.KindPolicyApproval, domain.PolicyApprovalID("pp-1", "Dept1MSP"))
	other := change
	other.MSPID = "Dept1MSP"
	otherProposal := proposal
	otherProposal.Member = &other
	judge := func(state map[string][]byte, p *domain.Policy) error {
		state[pk] = value(t, prev)
		_, err := Judge(&kvrwset.KVRWSet{
			Reads:  []*kvrwset.KVRead{{Key: pk, Version: &kvrwset.Version{BlockNum: 9}}},
			Writes: []*kvrwset.KVWrite{{Key: pk, Value: value(t, p)}},
		}, stateOf(state))
		return err
	}
	if err := judge(map[string][]byte{ppKey: value(t, proposal), apKey: value(t, "approval")}, next); err != nil {
		t.Fatalf("the applied suspension: %v", err)
	}
	for _, c := range []struct {
		name  string
		state map[string][]byte
		want  string
	}{
		{"no proposal on the ledger", map[string][]byte{apKey: value(t, "approval")}, "names proposal pp-1, which is not on the ledger"},
		{"an approval never made", map[string][]byte{ppKey: value(t, proposal)}, "lists the approval of Dept1MSP, which is not on the ledger"},
		{"the proposal was for another change", map[string][]byte{ppKey: value(t, otherProposal), apKey: value(t, "approval")}, "is not what proposal pp-1 proposed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := judge(c.state, next); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Judge: %v, want %q", err, c.want)
			}
		})
	}
	self := *next
	self.Approvals, self.UpdatedBy = []string{"Dept2MSP", "Dept3MSP"}, domain.Actor{MSPID: "Dept3MSP"}
	if err := judge(map[string][]byte{ppKey: value(t, proposal)}, &self); err == nil || !strings.Contains(err.Error(), "does not vote on it") {
		t.Fatalf("the suspended department's own approval: %v", err)
	}
	applier := *next
	applier.UpdatedBy = domain.Actor{MSPID: "BureauMSP"}
	if err := judge(map[string][]byte{ppKey: value(t, proposal), apKey: value(t, "approval")}, &applier); err == nil || !strings.Contains(err.Error(), "not among its approvals") {
		t.Fatalf("applied by a non-approver: %v", err)
	}
}
