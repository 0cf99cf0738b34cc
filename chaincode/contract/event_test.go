package contract

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// TestEventPayload pins the whole payload of one event, byte for byte: it is
// the contract with the indexer, and the example in EVENTS.md.
func TestEventPayload(t *testing.T) {
	h := newHarness(t)
	h.now = time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)
	in := datasetInput("households-2026", domain.ShareConditional)
	in.DerivedFrom = nil
	out := h.submit(op1, nil, "RegisterDataset", jsonOf(t, in))
	want := `{"v":1,"type":"dataset.registered","kind":"dataset","id":"households-2026","time":"2026-03-10T09:30:00Z",` +
		`"actor":{"mspId":"Dept1MSP","subject":"CN=op1,OU=client,O=Dept1MSP","role":"operator"},"status":"active",` +
		`"datasetId":"households-2026","owner":"Dept1MSP",` +
		`"dataset":{"id":"households-2026","owner":"Dept1MSP","title":"Registered households","description":"Households by district",` +
		`"fields":["district","households","population"],"schemaHash":"` + hashA + `","updateFrequency":"monthly",` +
		`"shareType":"conditional","openType":"restricted","grade":2,"version":1,"status":"active","derivedFrom":[],` +
		`"createdAt":"2026-03-10T09:30:00Z","updatedAt":"2026-03-10T09:30:00Z",` +
		`"createdBy":{"mspId":"Dept1MSP","subject":"CN=op1,OU=client,O=Dept1MSP","role":"operator"},` +
		`"updatedBy":{"mspId":"Dept1MSP","subject":"CN=op1,OU=client,O=Dept1MSP","role":"operator"}}}`
	if out.events[0].name != "dataset.registered" {
		t.Errorf("event name %q", out.events[0].name)
	}
	if got := string(out.events[0].payload); got != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
	// The result of the transaction is the entity the event carries.
	e, err := domain.DecodeEvent(out.events[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := json.Marshal(e.Dataset)
	if !bytes.Equal(ds, []byte(out.payload)) {
		t.Fatalf("event entity %s differs from the result %s", ds, out.payload)
	}
}

func TestEmitStampsVersionAndUTC(t *testing.T) {
	s := &txStub{}
	local := time.Date(2026, 3, 10, 17, 30, 0, 0, time.FixedZone("CST", 8*3600))
	ev := departmentEvent(domain.EventDepartmentUpdated, local, domain.Actor{MSPID: "Dept1MSP"}, &domain.Department{MSPID: "Dept1MSP"})
	if err := emit(s, ev); err != nil {
		t.Fatal(err)
	}
	if len(s.events) != 1 || s.events[0].name != "department.updated" {
		t.Fatalf("events %+v", s.events)
	}
	got, err := domain.DecodeEvent(s.events[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != domain.EventVersion || got.Time.Location() != time.UTC || !got.Time.Equal(local) {
		t.Fatalf("event %+v", got)
	}
	if !bytes.Contains(s.events[0].payload, []byte(`"time":"2026-03-10T09:30:00Z"`)) {
		t.Fatalf("time not written in UTC: %s", s.events[0].payload)
	}
}

// TestEveryTransactionEmitsItsEventType checks the name of the one event of
// each state-changing transaction.
func TestEveryTransactionEmitsItsEventType(t *testing.T) {
	h := newHarness(t)
	d := h.registerDataset(op1, datasetInput("pool", domain.ShareUnconditional))
	r := h.createRequest(op2, h.requestInput(d.ID))
	p := h.pendingRequest()
	q := h.pendingRequest()
	var dl domain.Delivery
	var c domain.Correction
	steps := []struct {
		as   who
		fn   string
		args []string
		v    any
		want domain.EventType
	}{
		{ad1, "SetDepartment", []string{`{"name":"A","code":"A","level":"county"}`}, nil, domain.EventDepartmentUpdated},
		{op1, "RegisterDataset", []string{jsonOf(t, datasetInput("x", domain.ShareNone))}, nil, domain.EventDatasetRegistered},
		{op1, "UpdateDataset", []string{"x", jsonOf(t, datasetInput("", domain.ShareNone))}, nil, domain.EventDatasetUpdated},
		{op1, "RetireDataset", []string{"x", `{}`}, nil, domain.EventDatasetRetired},
		{op2, "CreateRequest", []string{jsonOf(t, h.requestInput(d.ID))}, nil, domain.EventRequestCreated},
		{ap1, "ApproveRequest", []string{p.ID, `{}`}, nil, domain.EventRequestApproved},
		{ap1, "RejectRequest", []string{q.ID, `{"reason":"no"}`}, nil, domain.EventRequestRejected},
		{op1, "RecordDelivery", []string{r.ID, jsonOf(t, deliveryInput())}, &dl, domain.EventDeliveryRecorded},
		{op2, "RecordReceipt", nil, nil, domain.EventDeliveryReceived},
		{op2, "RateDelivery", nil, nil, domain.EventDeliveryRated},
		{op2, "OpenCorrection", nil, &c, domain.EventCorrectionOpened},
		{op1, "ResolveCorrection", nil, nil, domain.EventCorrectionResolved},
		{op2, "RecordDestruction", nil, nil, domain.EventDeliveryDestroyed},
		{op2, "RecordUsage", []string{jsonOf(t, domain.UsageInput{RequestID: r.ID, Calls: 1})}, nil, domain.EventUsageRecorded},
		{op3, "RecordContribution", []string{jsonOf(t, domain.ContributionInput{DatasetID: d.ID, Records: 1, Bytes: 1, SHA256: hashA})}, nil, domain.EventContributionAdded},
		{ap1, "RevokeRequest", []string{r.ID, `{"reason":"done"}`}, nil, domain.EventRequestRevoked},
		{ev3, "PublishScores", []string{jsonOf(t, scores())}, nil, domain.EventScoreSnapshotPublished},
	}
	for _, st := range steps {
		args := st.args
		switch st.fn { // arguments that depend on earlier steps
		case "RecordReceipt":
			args = []string{dl.ID, `{"sha256":"` + hashA + `"}`}
		case "RateDelivery":
			args = []string{dl.ID, `{"timeliness":3,"accuracy":3,"completeness":3,"consistency":3}`}
		case "OpenCorrection":
			args = []string{jsonOf(t, domain.CorrectionInput{DeliveryID: dl.ID, Description: "x"})}
		case "ResolveCorrection":
			args = []string{c.ID, `{"resolution":"y"}`}
		case "RecordDestruction":
			args = []string{dl.ID, `{}`}
		}
		out := h.submit(st.as, st.v, st.fn, args...)
		if out.events[0].name != string(st.want) {
			t.Errorf("%s emitted %q, want %q", st.fn, out.events[0].name, st.want)
		}
	}
}
