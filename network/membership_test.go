package network

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestOwnedBy(t *testing.T) {
	for _, c := range []struct {
		name, slug string
		want       bool
	}{
		{"peer-dept1", "dept1", true},
		{"chaincode-dept1-next", "dept1", true},
		{"ca-dept1", "dept1", true},
		{"peer-dept10", "dept1", false},
		{"gateway-bureau", "dept1", false},
		{"orderer1", "dept1", false},
	} {
		if got := ownedBy(c.name, c.slug); got != c.want {
			t.Errorf("ownedBy(%q, %q) = %v, want %v", c.name, c.slug, got, c.want)
		}
	}
}

func TestDone(t *testing.T) {
	p := &domain.Policy{Members: []string{"A"}, Suspended: []string{"B"}, Removed: []string{"C"}}
	for _, c := range []struct {
		a    domain.MemberAction
		msp  string
		want bool
	}{
		{domain.MemberAdmit, "A", true}, {domain.MemberAdmit, "D", false},
		{domain.MemberSuspend, "B", true}, {domain.MemberSuspend, "A", false},
		{domain.MemberRemove, "C", true}, {domain.MemberRemove, "B", false},
		{domain.MemberReinstate, "B", false},
	} {
		if got := done(p, domain.MemberChange{Action: c.a, MSPID: c.msp}); got != c.want {
			t.Errorf("done(%s %s) = %v, want %v", c.a, c.msp, got, c.want)
		}
	}
}

// A department in removed-departments.yaml leaves the topology after the
// ports are derived: the departments after it keep theirs.
func TestRemovedDepartmentsKeepTheOthersPorts(t *testing.T) {
	run := t.TempDir()
	topo := filepath.Join(run, "topology.yaml")
	if err := os.WriteFile(topo, []byte(`basePort: 20000
departments:
  - {mspId: Dept1MSP, name: One, code: D1, level: municipal}
  - {mspId: Dept2MSP, name: Two, code: D2, level: municipal}
  - {mspId: Dept3MSP, name: Three, code: D3, level: municipal}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, removedDepartmentsFile), []byte("- mspId: Dept2MSP\n  policyVersion: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Root: run, Run: run, Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	ds := n.Topology().Departments
	if len(ds) != 2 || ds[0].MSPID != "Dept1MSP" || ds[1].MSPID != "Dept3MSP" || ds[1].PeerPort != 20301 {
		t.Fatalf("departments %+v", ds)
	}

	// An added department that left, and the one added after it on the
	// same ports: only the second is in the topology.
	if err := os.WriteFile(filepath.Join(run, addedDepartmentsFile), []byte(`- {mspId: Join4MSP, name: Four, code: J4, level: municipal, peerPort: 20401}
- {mspId: Join5MSP, name: Five, code: J5, level: municipal, peerPort: 20401}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, removedDepartmentsFile), []byte("- mspId: Dept2MSP\n- mspId: Join4MSP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err = New(Options{Root: run, Run: run, Topology: topo}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range n.Topology().Departments {
		got = append(got, d.MSPID)
	}
	if want := []string{"Dept1MSP", "Dept3MSP", "Join5MSP"}; !slices.Equal(got, want) {
		t.Fatalf("departments %v, want %v", got, want)
	}
	// The next one added takes slot 5 (0-based), the ports of none of the
	// founding three nor of the two added before, the one that left included.
	added, err := n.AddedDepartments()
	if err != nil {
		t.Fatal(err)
	}
	next := Department{MSPID: "Join6MSP"}
	n.Topology().slotPorts(&next, n.nextSlot(added))
	if next.PeerPort != 20601 || next.GatewayPort != 20607 {
		t.Fatalf("the next department's ports: peer %d, gateway %d; want 20601 and 20607", next.PeerPort, next.GatewayPort)
	}
}
