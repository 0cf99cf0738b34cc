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
		{"a member dropped", without, "members are [BureauMSP Dept1MSP Dept2MSP Dept3MSP] and cannot become [BureauMSP Dept2MSP Dept3MSP]"},
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
