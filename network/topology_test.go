package network

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/chaincode/domain"
)

func loadTopologyText(t *testing.T, text string) (*Topology, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadTopology(p)
}

const twoDepts = `departments:
  - {mspId: Dept1MSP, name: Public Security Bureau, code: PSB, level: municipal%s}
  - {mspId: Dept2MSP, name: Civil Affairs Bureau, code: CAB, level: municipal%s}
`

// TestTopologyHosts: every node has a host, the top-level one unless it sets
// its own, and addresses and port checks follow it; the repository's
// topology keeps everything on 127.0.0.1.
func TestTopologyHosts(t *testing.T) {
	repo, err := LoadTopology("topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range repo.Departments {
		if d.Host != "127.0.0.1" {
			t.Errorf("%s on %s, want 127.0.0.1", d.MSPID, d.Host)
		}
	}
	for _, o := range repo.Ordering.Nodes {
		if o.Host != "127.0.0.1" {
			t.Errorf("%s on %s, want 127.0.0.1", o.Name, o.Host)
		}
	}
	for _, tc := range []struct {
		name, text string
		want       []string // department hosts, then orderer hosts
		err        string
	}{
		{"default", "host: 198.18.0.1\n" + strings.Replace(twoDepts, "%s", "", 2), []string{"198.18.0.1", "198.18.0.1", "198.18.0.1", "198.18.0.1", "198.18.0.1"}, ""},
		{"per node", "ordering:\n  nodes: [{host: 198.18.1.1}, {}, {host: 198.18.1.3}]\n" +
			strings.Replace(strings.Replace(twoDepts, "%s", ", host: 198.18.0.11", 1), "%s", "", 1),
			[]string{"198.18.0.11", "127.0.0.1", "198.18.1.1", "127.0.0.1", "198.18.1.3"}, ""},
		{"same ports on two hosts", strings.Replace(strings.Replace(twoDepts, "%s", ", host: 198.18.0.11, peerPort: 9051", 1), "%s", ", host: 198.18.0.12, peerPort: 9051", 1),
			[]string{"198.18.0.11", "198.18.0.12", "127.0.0.1", "127.0.0.1", "127.0.0.1"}, ""},
		{"same port on one host", strings.Replace(strings.Replace(twoDepts, "%s", ", peerPort: 9051", 1), "%s", ", peerPort: 9051", 1), nil, "both listen on 127.0.0.1:9051"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := loadTopologyText(t, tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range topo.Departments {
				got = append(got, d.Host)
				if a := d.Addr(d.PeerPort); !strings.HasPrefix(a, d.Host+":") {
					t.Errorf("peer address %s not on %s", a, d.Host)
				}
			}
			for _, o := range topo.Ordering.Nodes {
				got = append(got, o.Host)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("hosts %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTopologyPolicy: the policy section is read into the genesis policy's
// bureaus and grade rules, checked by the ledger's own rules at load, and
// survives a round trip through YAML (network/multihost writes topologies).
func TestTopologyPolicy(t *testing.T) {
	repo, err := LoadTopology("topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(repo.Policy.Bureaus, ",") != "BureauMSP" || len(repo.Policy.Grades) != 4 {
		t.Fatalf("policy %+v", repo.Policy)
	}
	g3, g4 := repo.Policy.Grades[2], repo.Policy.Grades[3]
	if g3.Grade != 3 || slices.Contains(g3.ShareTypes, domain.ShareUnconditional) || !g3.LegalBasisRequired || g3.MaxApprovalDays != 365 ||
		g4.Grade != 4 || !g4.BureauApproval || g4.DestroyWithinDays != 7 || g4.MaxDeliveryRecords != 10000 {
		t.Fatalf("grade rules %+v", repo.Policy.Grades)
	}
	raw, err := yaml.Marshal(repo)
	if err != nil {
		t.Fatal(err)
	}
	back, err := loadTopologyText(t, string(raw))
	if err != nil {
		t.Fatalf("the marshalled topology does not load: %v", err)
	}
	if !reflect.DeepEqual(back.Policy, repo.Policy) {
		t.Fatalf("round trip %+v, want %+v", back.Policy, repo.Policy)
	}

	depts := strings.Replace(strings.Replace(twoDepts, "%s", "", 1), "%s", ", roles: [admin, operator]", 1)
	rule := func(g int, extra string) string {
		return fmt.Sprintf("    - {grade: %d, shareTypes: [conditional, none]%s}\n", g, extra)
	}
	rules := "  grades:\n" + rule(1, "") + rule(2, "") + rule(3, "") + rule(4, ", bureauApproval: true")
	for _, tc := range []struct{ name, policy, err string }{
		{"none", "", ""},
		{"a bureau with approvers", "policy:\n  bureaus: [Dept1MSP]\n" + rules, ""},
		{"grade 4 without a bureau", "policy:\n" + rules, "policy: grades[4].bureauApproval needs a bureau's co-approval, and the policy names no bureaus"},
		{"a bureau outside", "policy:\n  bureaus: [Dept9MSP]\n", "policy: bureaus names Dept9MSP, which is not a member"},
		{"a bureau without approvers", "policy:\n  bureaus: [Dept2MSP]\n", "policy: bureau Dept2MSP has no approver role"},
		{"three grades", "policy:\n  bureaus: [Dept1MSP]\n  grades:\n" + rule(1, "") + rule(2, "") + rule(3, ""), "policy: grades lists 3 rules"},
		{"an unknown share type", "policy:\n  grades:\n    - {grade: 1, shareTypes: [public]}\n" + rule(2, "") + rule(3, "") + rule(4, ""), `"public" must be one of`},
		{"a misspelt rule", "policy:\n  grades:\n    - {grade: 1, shareTypes: [none], maxApprovalDay: 3}\n", "field maxApprovalDay not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := loadTopologyText(t, depts+tc.policy)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.policy == "" && (topo.Policy.Bureaus != nil || topo.Policy.Grades != nil) {
				t.Fatalf("policy %+v without a section", topo.Policy)
			}
		})
	}
}
