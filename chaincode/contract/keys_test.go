package contract

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// flow runs every state-changing transaction once, for a pair of
// departments: owner publishes and delivers, requester requests and uses.
// It returns the keys each transaction wrote.
func flow(h *harness, ownerMSP, requesterMSP, dsID string) map[string][]string {
	h.t.Helper()
	op := who{ownerMSP, "operator", "op"}
	ap := who{ownerMSP, "approver", "ap"}
	ad := who{ownerMSP, "admin", "ad"}
	rop := who{requesterMSP, "operator", "rop"}
	ev := who{requesterMSP, "evaluator", "ev"}
	writes := map[string][]string{}
	run := func(w who, v any, fn string, args ...string) outcome {
		out := h.submit(w, v, fn, args...)
		writes[fn] = append(writes[fn], slices.Sorted(maps.Keys(out.writes))...)
		return out
	}
	run(ad, nil, "SetDepartment", `{"name":"Dept","code":"D1","level":"county"}`)
	in := datasetInput(dsID, domain.ShareConditional)
	run(op, nil, "RegisterDataset", jsonOf(h.t, in))
	run(op, nil, "UpdateDataset", dsID, jsonOf(h.t, in))
	var r domain.Request
	run(rop, &r, "CreateRequest", jsonOf(h.t, h.requestInput(dsID)))
	run(ap, nil, "ApproveRequest", r.ID, `{}`)
	var d domain.Delivery
	run(op, &d, "RecordDelivery", r.ID, jsonOf(h.t, deliveryInput()))
	run(rop, nil, "RecordReceipt", d.ID, `{"sha256":"`+hashA+`"}`)
	run(rop, nil, "RateDelivery", d.ID, `{"timeliness":5,"accuracy":5,"completeness":5,"consistency":5}`)
	run(rop, nil, "RecordUsage", jsonOf(h.t, domain.UsageInput{RequestID: r.ID, Calls: 1, Records: 1}))
	run(rop, nil, "RecordContribution", jsonOf(h.t, domain.ContributionInput{DatasetID: dsID, Records: 1, Bytes: 1, SHA256: hashA}))
	var c domain.Correction
	run(rop, &c, "OpenCorrection", jsonOf(h.t, domain.CorrectionInput{DeliveryID: d.ID, Description: "x"}))
	run(op, nil, "ResolveCorrection", c.ID, `{"resolution":"y"}`)
	run(rop, nil, "RecordDestruction", d.ID, `{}`)
	run(ap, nil, "RevokeRequest", r.ID, `{"reason":"done"}`)
	run(op, nil, "RetireDataset", dsID, `{}`)
	doc := domain.Scores{
		Period: "2026-0" + dsID[len(dsID)-1:], AsOfBlock: 1, InputDigest: hashA,
		Items: []domain.ScoreItem{{MSPID: ownerMSP, Rank: 1, Score: 1}},
	}
	run(ev, nil, "PublishScores", jsonOf(h.t, doc))
	run(ad, nil, "AttestScores", jsonOf(h.t, domain.AttestationInput{
		Period: doc.Period, SnapshotDigest: doc.Digest(), InputDigest: doc.InputDigest, ScoresDigest: domain.ItemsDigest(doc.Items), Matched: true,
	}))
	return writes
}

func TestKeyLayout(t *testing.T) {
	h := newHarness(t)
	writes := flow(h, "Dept1MSP", "Dept2MSP", "ds1")
	for fn, keys := range writes {
		want := 1 // an update writes its record alone
		switch fn {
		case "CreateRequest", "RecordDelivery", "RecordUsage", "RecordContribution", "OpenCorrection":
			want = 3 // the new record and both parties' anchors
		case "RegisterDataset":
			want = 3 // the entry, its owner index and the owner's anchor
		case "PublishScores", "AttestScores":
			want = 2 // the snapshot (or attestation) and the signer's anchor
		}
		if len(keys) != want {
			t.Errorf("%s wrote %d keys %q, want %d", fn, len(keys), keys, want)
		}
	}
	s := &txStub{}
	kinds := []string{"department", "dataset", "request", "delivery", "usage", "contribution", "correction", "snapshot", "attestation"}
	kinds = append(kinds, string(domain.KindPolicy)) // the harness seeds the consortium policy (policy_test.go)
	for k := range h.ledger.state {
		objectType, attrs, err := s.SplitCompositeKey(k)
		if err != nil {
			t.Fatalf("state key %q is not a composite key", k)
		}
		switch {
		case objectType == datasetByOwner:
			if len(attrs) != 2 || attrs[0] != "Dept1MSP" || attrs[1] != "ds1" {
				t.Errorf("index key attributes %q", attrs)
			}
		case objectType == domain.AnchorType:
			if len(attrs) != 1 {
				t.Errorf("anchor key has attributes %q, want the MSP ID alone", attrs)
			}
		case slices.Contains(kinds, objectType):
			if len(attrs) != 1 {
				t.Errorf("%s key has attributes %q, want the ID alone", objectType, attrs)
			}
		default:
			t.Errorf("unexpected key type %q", objectType)
		}
	}
}

func TestNoSharedKeysBetweenUnrelatedDepartments(t *testing.T) {
	// Two pairs of departments doing the same things on different data must
	// never write the same key, or their transactions would conflict.
	h := newHarness(t)
	a := flow(h, "Dept1MSP", "Dept2MSP", "ds1")
	h.advance(time.Minute)
	b := flow(h, "Dept3MSP", "Dept4MSP", "ds2")
	seen := map[string]string{}
	for fn, keys := range a {
		for _, k := range keys {
			seen[k] = fn
		}
	}
	for fn, keys := range b {
		for _, k := range keys {
			if other, ok := seen[k]; ok {
				t.Errorf("%s of pair B and %s of pair A both wrote %q", fn, other, strings.ReplaceAll(k, "\x00", "·"))
			}
		}
	}
}

func TestEveryKeyHasItsOwnersPolicy(t *testing.T) {
	h := newHarness(t)
	flow(h, "Dept1MSP", "Dept2MSP", "ds1")
	s := &txStub{}
	for k := range h.ledger.state {
		objectType, attrs, _ := s.SplitCompositeKey(k)
		want := map[string][]string{
			"dataset": {"Dept1MSP"}, datasetByOwner: {"Dept1MSP"},
			"request": {"Dept1MSP", "Dept2MSP"}, "delivery": {"Dept1MSP", "Dept2MSP"}, "correction": {"Dept1MSP", "Dept2MSP"},
			"usage": {"Dept1MSP", "Dept2MSP"}, "contribution": {"Dept1MSP", "Dept2MSP"}, "snapshot": {"Dept2MSP"}, "attestation": {"Dept1MSP"},
		}[objectType]
		if objectType == "department" || objectType == domain.AnchorType {
			want = attrs // a department's own profile and anchor: its own peer
		}
		if objectType == string(domain.KindPolicy) {
			continue // a majority of the members' peers: TestInitPolicy
		}
		if got := h.endorsers(k); !slices.Equal(got, want) {
			t.Errorf("%s key endorsers %v, want %v", objectType, got, want)
		}
	}
}

func TestEntityKey(t *testing.T) {
	s := &txStub{}
	k, err := entityKey(s, domain.KindDataset, "households")
	if err != nil || k != "\x00dataset\x00households\x00" {
		t.Fatalf("entityKey = %q, %v", k, err)
	}
	if _, err := entityKey(s, domain.KindDataset, "bad\x00id"); err == nil {
		t.Fatal("an ID holding U+0000 formed a key")
	}
	k, err = datasetOwnerKey(s, "Dept1MSP", "households")
	if err != nil || k != "\x00dataset~owner\x00Dept1MSP\x00households\x00" {
		t.Fatalf("datasetOwnerKey = %q, %v", k, err)
	}
}

func TestPeerFailuresAreInternal(t *testing.T) {
	h := newHarness(t)
	h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
	h.getErr = errors.New("ledger is closing")
	h.reject(au3, domain.CodeInternal, "read dataset households: ledger is closing", "GetDataset", "households")
	h.reject(op2, domain.CodeInternal, "ledger is closing", "CreateRequest", jsonOf(t, h.requestInput("households")))
	h.getErr = nil
	h.putErr = errors.New("write set full")
	h.reject(op1, domain.CodeInternal, "write state: write set full", "RegisterDataset", jsonOf(t, datasetInput("", domain.ShareNone)))
	h.reject(op1, domain.CodeInternal, "write set full", "RetireDataset", "households", `{}`)
}

func TestDerivedIDCollisionIsAConflict(t *testing.T) {
	// A transaction ID is unique on a real channel; should two ever share a
	// prefix, the second entity must not overwrite the first.
	tests := []struct {
		fn    string
		first func(h *harness)
		again func(h *harness) (who, []string)
		want  string
	}{
		{"RegisterDataset", func(h *harness) { h.registerDataset(op1, datasetInput("", domain.ShareNone)) },
			func(h *harness) (who, []string) {
				return op2, []string{jsonOf(h.t, datasetInput("", domain.ShareNone))}
			}, "already exists"},
		{"CreateRequest", func(h *harness) { h.createRequest(op2, h.requestInput("households")) },
			func(h *harness) (who, []string) { return op3, []string{jsonOf(h.t, h.requestInput("households"))} }, "already exists"},
		{"RecordContribution", func(h *harness) {
			h.submit(op2, nil, "RecordContribution", jsonOf(h.t, domain.ContributionInput{DatasetID: "households", Records: 1, Bytes: 1, SHA256: hashA}))
		}, func(h *harness) (who, []string) {
			return op3, []string{jsonOf(h.t, domain.ContributionInput{DatasetID: "households", Records: 1, Bytes: 1, SHA256: hashA})}
		}, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.fn, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
			h.txID = strings.Repeat("c", 64)
			tt.first(h)
			w, args := tt.again(h)
			h.reject(w, domain.CodeConflict, tt.want, tt.fn, args...)
		})
	}
}
