package contract

import (
	"bytes"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"

	"github.com/govshare/ledger/chaincode/domain"
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

// TestUpdatesKeepEndorsementPolicy: only a record's creation sets its
// key-level policy. An update that set it again would make the later of two
// racing updates in one block fail validation with
// ENDORSEMENT_POLICY_FAILURE instead of MVCC_READ_CONFLICT, and callers
// would see an outage where they lost a race.
func TestUpdatesKeepEndorsementPolicy(t *testing.T) {
	tests := []struct {
		name string
		run  func(h *harness) outcome
	}{
		{"SetDepartment again", func(h *harness) outcome {
			in := `{"name":"Public Security","code":"PSB","level":"municipal"}`
			h.submit(ad1, nil, "SetDepartment", in)
			return h.submit(ad1, nil, "SetDepartment", `{"name":"Public Security Bureau","code":"PSB","level":"municipal"}`)
		}},
		{"UpdateDataset", func(h *harness) outcome {
			d := h.registerDataset(op1, datasetInput("", domain.ShareConditional))
			return h.submit(op1, nil, "UpdateDataset", d.ID, jsonOf(h.t, datasetInput("", domain.ShareUnconditional)))
		}},
		{"RetireDataset", func(h *harness) outcome {
			d := h.registerDataset(op1, datasetInput("", domain.ShareConditional))
			return h.submit(op1, nil, "RetireDataset", d.ID, `{}`)
		}},
		{"ApproveRequest", func(h *harness) outcome {
			return h.submit(ap1, nil, "ApproveRequest", h.pendingRequest().ID, `{}`)
		}},
		{"RejectRequest", func(h *harness) outcome {
			return h.submit(ap1, nil, "RejectRequest", h.pendingRequest().ID, `{"reason":"no"}`)
		}},
		{"RevokeRequest", func(h *harness) outcome {
			return h.submit(ap1, nil, "RevokeRequest", h.approvedRequest().ID, `{"reason":"done"}`)
		}},
		{"RecordReceipt", func(h *harness) outcome {
			return h.submit(op2, nil, "RecordReceipt", h.delivered().ID, `{"sha256":"`+hashA+`"}`)
		}},
		{"RateDelivery", func(h *harness) outcome {
			return h.submit(op2, nil, "RateDelivery", h.received().ID, `{"timeliness":5,"accuracy":5,"completeness":5,"consistency":5}`)
		}},
		{"RecordDestruction", func(h *harness) outcome {
			return h.submit(op2, nil, "RecordDestruction", h.received().ID, `{}`)
		}},
		{"ResolveCorrection", func(h *harness) outcome {
			var c domain.Correction
			h.submit(op2, &c, "OpenCorrection", jsonOf(h.t, domain.CorrectionInput{DeliveryID: h.delivered().ID, Description: "wrong codes"}))
			return h.submit(op1, nil, "ResolveCorrection", c.ID, `{"resolution":"fixed"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			out := tt.run(h)
			if out.err != nil {
				t.Fatalf("update failed: %v", out.err)
			}
			if len(out.sbe) != 0 {
				t.Fatalf("update rewrote the endorsement policy of %d keys", len(out.sbe))
			}
		})
	}
}
