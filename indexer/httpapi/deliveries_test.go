package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
)

// addFlows adds, in one block: delivery dl1 (Dept1 -> Dept2, for r1),
// dl2 (Dept2 -> Dept3, for r2, disputed), correction cr1 on dl1, usage us1
// (Dept3 uses ds2 of Dept2) and contribution cb1 (Dept1 into Dept2's ds2).
func (f *fixture) addFlows(t *testing.T) {
	t.Helper()
	op2, op3 := blocktest.NewIdentity("Dept2MSP", "op2"), blocktest.NewIdentity("Dept3MSP", "op3")
	a1, a2, a3 := f.op1.Actor(domain.RoleOperator), op2.Actor(domain.RoleOperator), op3.Actor(domain.RoleOperator)
	hash := strings.Repeat("a", 64)
	dl1 := domain.Delivery{ID: "dl1", RequestID: "r1", DatasetID: "ds1", Owner: "Dept1MSP", Requester: "Dept2MSP",
		SHA256: hash, Records: 10, Bytes: 100, Channel: "sftp", Status: domain.DeliveryDelivered}
	dl2 := domain.Delivery{ID: "dl2", RequestID: "r2", DatasetID: "ds2", Owner: "Dept2MSP", Requester: "Dept3MSP",
		SHA256: hash, Records: 5, Bytes: 50, Channel: "sftp", Status: domain.DeliveryDisputed}
	cr1 := domain.Correction{ID: "cr1", DeliveryID: "dl1", RequestID: "r1", DatasetID: "ds1", Requester: "Dept2MSP",
		Owner: "Dept1MSP", Description: "wrong codes", Status: domain.CorrectionOpen}
	us1 := domain.Usage{ID: "us1", RequestID: "r2", DatasetID: "ds2", Consumer: "Dept3MSP", Owner: "Dept2MSP", Calls: 1, Records: 3}
	cb1 := domain.Contribution{ID: "cb1", DatasetID: "ds2", Contributor: "Dept1MSP", Owner: "Dept2MSP", Records: 7, Bytes: 70, SHA256: hash}
	f.apply(t, f.chain.Block(
		blocktest.Tx{Signer: f.op1, Event: blocktest.DeliveryEvent(domain.EventDeliveryRecorded, a1, dl1)},
		blocktest.Tx{Signer: op2, Event: blocktest.DeliveryEvent(domain.EventDeliveryReceived, a2, dl2)},
		blocktest.Tx{Signer: op2, Event: blocktest.CorrectionEvent(domain.EventCorrectionOpened, a2, cr1)},
		blocktest.Tx{Signer: op3, Event: blocktest.UsageEvent(a3, us1)},
		blocktest.Tx{Signer: f.op1, Event: blocktest.ContributionEvent(a1, cb1)},
	))
}

func TestPartyEntities(t *testing.T) {
	f := newFixture(t)
	f.addFlows(t)
	lists := []struct {
		name, path, msp, role string
		code                  int
		want                  []string
	}{
		{"owner sees its delivery", "/v1/deliveries", "Dept1MSP", "operator", 200, []string{"dl1"}},
		{"party on both sides", "/v1/deliveries", "Dept2MSP", "operator", 200, []string{"dl1", "dl2"}},
		{"auditor sees all", "/v1/deliveries", "BureauMSP", "auditor", 200, []string{"dl1", "dl2"}},
		{"by request", "/v1/deliveries?request=r2", "BureauMSP", "auditor", 200, []string{"dl2"}},
		{"by status", "/v1/deliveries?status=disputed", "Dept2MSP", "operator", 200, []string{"dl2"}},
		{"status filter keeps the party rule", "/v1/deliveries?status=disputed", "Dept1MSP", "operator", 200, []string{}},
		{"bad status", "/v1/deliveries?status=lost", "Dept1MSP", "operator", 400, nil},
		{"bad request id", "/v1/deliveries?request=a%20b", "Dept1MSP", "operator", 400, nil},
		{"no caller", "/v1/deliveries", "", "", 401, nil},
		{"corrections of a party", "/v1/corrections", "Dept1MSP", "operator", 200, []string{"cr1"}},
		{"corrections of a non-party", "/v1/corrections", "Dept3MSP", "operator", 200, []string{}},
		{"corrections by delivery and status", "/v1/corrections?delivery=dl1&status=open", "BureauMSP", "auditor", 200, []string{"cr1"}},
		{"resolved corrections", "/v1/corrections?status=resolved", "BureauMSP", "auditor", 200, []string{}},
		{"bad correction status", "/v1/corrections?status=closed", "BureauMSP", "auditor", 400, nil},
		{"usage for the consumer", "/v1/usage", "Dept3MSP", "operator", 200, []string{"us1"}},
		{"usage for the owner by request", "/v1/usage?request=r2", "Dept2MSP", "operator", 200, []string{"us1"}},
		{"usage for others", "/v1/usage", "Dept1MSP", "operator", 200, []string{}},
		{"contributions for the contributor", "/v1/contributions", "Dept1MSP", "operator", 200, []string{"cb1"}},
		{"contributions by dataset and contributor", "/v1/contributions?dataset=ds2&contributor=Dept1MSP", "BureauMSP", "auditor", 200, []string{"cb1"}},
		{"contributions by another contributor", "/v1/contributions?contributor=Dept2MSP", "BureauMSP", "auditor", 200, []string{}},
		{"contributions for others", "/v1/contributions", "Dept3MSP", "operator", 200, []string{}},
		{"bad contributor", "/v1/contributions?contributor=a%2Fb", "BureauMSP", "auditor", 400, nil},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			var body listBody
			code := f.get(t, tt.path, tt.msp, tt.role, &body)
			if code != tt.code {
				t.Fatalf("status %d, want %d", code, tt.code)
			}
			if tt.want != nil && !slices.Equal(body.ids("id"), tt.want) {
				t.Fatalf("items %v, want %v", body.ids("id"), tt.want)
			}
		})
	}
	ones := []struct {
		path, msp, role string
		code            int
	}{
		{"/v1/deliveries/dl1", "Dept2MSP", "operator", 200},
		{"/v1/deliveries/dl1", "Dept3MSP", "operator", 403},
		{"/v1/deliveries/dl1", "BureauMSP", "auditor", 200},
		{"/v1/deliveries/dl9", "BureauMSP", "auditor", 404},
		{"/v1/deliveries/dl1", "", "", 401},
		{"/v1/corrections/cr1", "Dept1MSP", "operator", 200},
		{"/v1/corrections/cr1", "Dept3MSP", "operator", 403},
		{"/v1/usage/us1", "Dept2MSP", "operator", 200},
		{"/v1/usage/us1", "Dept1MSP", "approver", 403},
		{"/v1/contributions/cb1", "Dept2MSP", "operator", 200},
		{"/v1/contributions/cb1", "Dept3MSP", "operator", 403},
		{"/v1/contributions/bad%20id", "Dept3MSP", "operator", 400},
	}
	for _, tt := range ones {
		t.Run("get "+tt.path+" as "+tt.msp, func(t *testing.T) {
			var body map[string]any
			if code := f.get(t, tt.path, tt.msp, tt.role, &body); code != tt.code {
				t.Fatalf("status %d, want %d (%v)", code, tt.code, body)
			}
			if tt.code == 200 && body["id"] == nil {
				t.Fatalf("body %v", body)
			}
		})
	}
}
