package contract

import (
	"slices"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// Valid inputs and the common steps that tests build on.

const (
	hashA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func datasetInput(id string, share domain.ShareType) domain.DatasetInput {
	return domain.DatasetInput{
		ID: id, Title: "Registered households", Description: "Households by district",
		Fields: []string{"district", "households", "population"}, SchemaHash: hashA,
		UpdateFrequency: "monthly", ShareType: share, OpenType: domain.OpenRestricted, Grade: 2,
		DerivedFrom: []string{},
	}
}

func (h *harness) registerDataset(w who, in domain.DatasetInput) domain.Dataset {
	h.t.Helper()
	var d domain.Dataset
	h.submit(w, &d, "RegisterDataset", jsonOf(h.t, in))
	return d
}

func (h *harness) requestInput(datasetID string) domain.RequestInput {
	return domain.RequestInput{
		DatasetID: datasetID, Purpose: "social assistance eligibility", LegalBasis: "Regulation 12",
		Fields: []string{"district", "households"}, ValidUntil: h.now.Add(30 * 24 * time.Hour),
	}
}

func (h *harness) createRequest(w who, in domain.RequestInput) domain.Request {
	h.t.Helper()
	var r domain.Request
	h.submit(w, &r, "CreateRequest", jsonOf(h.t, in))
	return r
}

// pendingRequest is Dept2's request for Dept1's conditionally shared dataset.
func (h *harness) pendingRequest() domain.Request {
	h.t.Helper()
	d := h.registerDataset(op1, datasetInput("", domain.ShareConditional))
	return h.createRequest(op2, h.requestInput(d.ID))
}

// approvedRequest is that request, approved by Dept1's approver.
func (h *harness) approvedRequest() domain.Request {
	h.t.Helper()
	r := h.pendingRequest()
	var out domain.Request
	h.submit(ap1, &out, "ApproveRequest", r.ID, `{"reason":"lawful purpose"}`)
	return out
}

func deliveryInput() domain.DeliveryInput {
	return domain.DeliveryInput{SHA256: hashA, Records: 120, Bytes: 4096, Channel: "sftp"}
}

// delivered is a delivery by Dept1 under an approved request of Dept2.
func (h *harness) delivered() domain.Delivery {
	h.t.Helper()
	r := h.approvedRequest()
	var d domain.Delivery
	h.submit(op1, &d, "RecordDelivery", r.ID, jsonOf(h.t, deliveryInput()))
	return d
}

// received is a delivery whose receipt matched.
func (h *harness) received() domain.Delivery {
	h.t.Helper()
	d := h.delivered()
	var out domain.Delivery
	h.submit(op2, &out, "RecordReceipt", d.ID, `{"sha256":"`+hashA+`"}`)
	return out
}

// endorsers decodes the key-level policy set on key and checks its form: a
// signature from a PEER of each department, all of them required. It
// returns the departments, sorted.
func (h *harness) endorsers(key string) []string {
	h.t.Helper()
	policy, ok := h.ledger.sbe[key]
	if !ok {
		h.t.Fatalf("no endorsement policy on key %q", strings.ReplaceAll(key, "\x00", "·"))
	}
	var env common.SignaturePolicyEnvelope
	if err := proto.Unmarshal(policy, &env); err != nil {
		h.t.Fatalf("decode policy: %v", err)
	}
	n := env.GetRule().GetNOutOf()
	if n == nil || int(n.GetN()) != len(env.GetIdentities()) || len(n.GetRules()) != len(env.GetIdentities()) {
		h.t.Fatalf("policy rule %v does not require every principal", env.GetRule())
	}
	var orgs []string
	for _, id := range env.GetIdentities() {
		if id.GetPrincipalClassification() != msp.MSPPrincipal_ROLE {
			h.t.Fatalf("principal classification %v, want ROLE", id.GetPrincipalClassification())
		}
		var role msp.MSPRole
		if err := proto.Unmarshal(id.GetPrincipal(), &role); err != nil {
			h.t.Fatal(err)
		}
		if role.GetRole() != msp.MSPRole_PEER {
			h.t.Fatalf("principal %s role %v, want PEER", role.GetMspIdentifier(), role.GetRole())
		}
		orgs = append(orgs, role.GetMspIdentifier())
	}
	slices.Sort(orgs)
	return orgs
}

// wantEndorsers checks the policy on the entity's key.
func (h *harness) wantEndorsers(kind domain.Kind, id string, want ...string) {
	h.t.Helper()
	got := h.endorsers(key(h.t, kind, id))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Errorf("%s %s endorsers %v, want %v", kind, id, got, want)
	}
}
