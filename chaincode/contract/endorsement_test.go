package contract

import (
	"bytes"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
)

func TestSetEndorsers(t *testing.T) {
	tests := []struct {
		name string
		orgs []string
		want []string
	}{
		{"one department", []string{"Dept1MSP"}, []string{"Dept1MSP"}},
		{"two, any order", []string{"Dept2MSP", "Dept1MSP"}, []string{"Dept1MSP", "Dept2MSP"}},
		{"duplicates collapse", []string{"Dept1MSP", "Dept1MSP"}, []string{"Dept1MSP"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s := &txStub{ledger: h.ledger, writes: map[string][]byte{}, sbeWrites: map[string][]byte{}}
			if err := setEndorsers(s, "k", tt.orgs...); err != nil {
				t.Fatal(err)
			}
			s.commit()
			if got := h.endorsers("k"); !slices.Equal(got, tt.want) {
				t.Fatalf("endorsers %v, want %v", got, tt.want)
			}
			// The same bytes as statebased builds from the sorted list, so
			// every endorser writes an identical policy.
			ep, _ := statebased.NewStateEP(nil)
			if err := ep.AddOrgs(statebased.RoleTypePeer, tt.want...); err != nil {
				t.Fatal(err)
			}
			want, _ := ep.Policy()
			if !bytes.Equal(h.ledger.sbe["k"], want) {
				t.Fatal("policy bytes differ from statebased's for the same departments")
			}
		})
	}
}

func TestSetEndorsersNeedsADepartment(t *testing.T) {
	s := &txStub{writes: map[string][]byte{}, sbeWrites: map[string][]byte{}}
	if err := setEndorsers(s, "k"); err == nil || len(s.sbeWrites) != 0 {
		t.Fatalf("no departments: err %v, policies %d", err, len(s.sbeWrites))
	}
}
