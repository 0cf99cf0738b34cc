package contract

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func TestRecordDelivery(t *testing.T) {
	h := newHarness(t)
	r := h.approvedRequest()
	h.advance(time.Hour)
	var d domain.Delivery
	out := h.submit(op1, &d, "RecordDelivery", r.ID, jsonOf(t, deliveryInput()))
	if d.ID != "dl-"+out.txID[:24] || d.RequestID != r.ID || d.DatasetID != r.DatasetID || d.Owner != "Dept1MSP" ||
		d.Requester != "Dept2MSP" || d.SHA256 != hashA || d.Records != 120 || d.Bytes != 4096 || d.Channel != "sftp" ||
		d.Status != domain.DeliveryDelivered || !d.DeliveredAt.Equal(h.now) || d.DeliveredBy.MSPID != "Dept1MSP" ||
		d.ReceivedAt != nil || d.Feedback != nil || d.DestroyedAt != nil {
		t.Fatalf("delivery %+v", d)
	}
	e := h.event(out, domain.EventDeliveryRecorded, domain.KindDelivery, d.ID, op1)
	if e.Status != "delivered" || e.RequestID != r.ID || e.DatasetID != r.DatasetID || e.Owner != "Dept1MSP" ||
		e.Requester != "Dept2MSP" || e.Delivery == nil || e.Delivery.SHA256 != hashA {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindDelivery, d.ID, "Dept1MSP", "Dept2MSP")
	var got domain.Delivery
	h.query(au3, &got, "GetDelivery", d.ID)
	if got.ID != d.ID || got.Status != domain.DeliveryDelivered {
		t.Fatalf("GetDelivery %+v", got)
	}
	if d.Fields != nil {
		t.Fatalf("a delivery that named no fields records %v", d.Fields)
	}
	// The fields delivered are recorded as the owner says, one the request
	// did not name (population) included: it is what was handed over, and
	// the watch flags it (indexer/WATCH.md).
	var wide domain.Delivery
	h.submit(op1, &wide, "RecordDelivery", r.ID, with(t, deliveryInput(), `{"fields":["district","population"]}`))
	if !slices.Equal(wide.Fields, []string{"district", "population"}) || !slices.Equal(wide.FieldsOutside(r.Fields), []string{"population"}) {
		t.Fatalf("delivery fields %v, outside the request %v", wide.Fields, wide.FieldsOutside(r.Fields))
	}
	// Zero records is a legal delivery (an empty extract); bytes must be positive.
	h.submit(op1, &d, "RecordDelivery", r.ID, with(t, deliveryInput(), `{"records":0}`))
	h.reject(au3, domain.CodeNotFound, "delivery dl-ghost does not exist", "GetDelivery", "dl-ghost")
}

func TestRecordDeliveryRejects(t *testing.T) {
	valid := jsonOf(t, deliveryInput())
	tests := []struct {
		name, state, input string
		as                 who
		code               domain.Code
		want               string
	}{
		{"approver of owner", "approved", valid, ap1, domain.CodeForbidden, "role operator is required to record a delivery; caller has role approver"},
		{"requester's operator", "approved", valid, op2, domain.CodeForbidden, "only Dept1MSP may deliver for request"},
		{"third department", "approved", valid, op3, domain.CodeForbidden, "caller is from Dept3MSP"},
		{"pending", "pending", valid, op1, domain.CodeConflict, "is pending, not approved"},
		{"rejected", "rejected", valid, op1, domain.CodeConflict, "is rejected, not approved"},
		{"revoked", "revoked", valid, op1, domain.CodeConflict, "is revoked, not approved"},
		{"expired", "expired", valid, op1, domain.CodeConflict, "is expired, not approved"},
		{"unknown request", "", valid, op1, domain.CodeNotFound, "request rq-ghost does not exist"},
		{"bad request ID", "bad id", valid, op1, domain.CodeInvalid, `requestId "bad id" must be`},
		{"hash missing", "approved", with(t, deliveryInput(), `{"sha256":""}`), op1, domain.CodeInvalid, "sha256 must be a lowercase hex SHA-256"},
		{"hash uppercase", "approved", with(t, deliveryInput(), `{"sha256":"`+strings.ToUpper(hashA)+`"}`), op1, domain.CodeInvalid, "sha256 must be"},
		{"records negative", "approved", with(t, deliveryInput(), `{"records":-1}`), op1, domain.CodeInvalid, "records must be between 0 and"},
		{"bytes zero", "approved", with(t, deliveryInput(), `{"bytes":0}`), op1, domain.CodeInvalid, "bytes must be positive"},
		{"bytes too many", "approved", with(t, deliveryInput(), `{"bytes":1125899906842625}`), op1, domain.CodeInvalid, "bytes must be between 0 and"},
		{"channel missing", "approved", with(t, deliveryInput(), `{"channel":""}`), op1, domain.CodeInvalid, "channel is required"},
		{"unknown field", "approved", with(t, deliveryInput(), `{"data":"raw rows"}`), op1, domain.CodeInvalid, `unknown field "data"`},
		{"field not of the dataset", "approved", with(t, deliveryInput(), `{"fields":["district","income"]}`), op1, domain.CodeInvalid, `field "income" is not a field of dataset`},
		{"field twice", "approved", with(t, deliveryInput(), `{"fields":["district","district"]}`), op1, domain.CodeInvalid, `fields lists "district" twice`},
		{"field empty", "approved", with(t, deliveryInput(), `{"fields":[""]}`), op1, domain.CodeInvalid, `fields entry "" must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ids := requestStates(h)
			id, ok := ids[tt.state]
			if !ok {
				id = "rq-ghost"
				if tt.state != "" {
					id = tt.state
				}
			}
			h.reject(tt.as, tt.code, tt.want, "RecordDelivery", id, tt.input)
		})
	}
}

func TestRecordReceipt(t *testing.T) {
	tests := []struct {
		name string
		hash string
		want domain.DeliveryStatus
	}{
		{"same hash", hashA, domain.DeliveryReceived},
		{"different hash", hashB, domain.DeliveryDisputed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.delivered()
			h.advance(time.Minute)
			var got domain.Delivery
			out := h.submit(op2, &got, "RecordReceipt", d.ID, `{"sha256":"`+tt.hash+`"}`)
			if got.Status != tt.want || got.ReceiptSHA256 != tt.hash || got.SHA256 != hashA || got.ReceivedAt == nil ||
				!got.ReceivedAt.Equal(h.now) || got.ReceivedBy == nil || got.ReceivedBy.MSPID != "Dept2MSP" {
				t.Fatalf("receipt %+v", got)
			}
			e := h.event(out, domain.EventDeliveryReceived, domain.KindDelivery, d.ID, op2)
			if e.Status != string(tt.want) || e.Delivery == nil || e.Delivery.Status != tt.want {
				t.Errorf("event %+v", e)
			}
			h.wantEndorsers(domain.KindDelivery, d.ID, "Dept1MSP", "Dept2MSP")
			h.reject(op2, domain.CodeConflict, "is "+string(tt.want)+"; a receipt can only be recorded for a delivered delivery", "RecordReceipt", d.ID, `{"sha256":"`+hashA+`"}`)
		})
	}
}

func TestRateDelivery(t *testing.T) {
	for _, status := range []domain.DeliveryStatus{domain.DeliveryReceived, domain.DeliveryDisputed} {
		t.Run(string(status), func(t *testing.T) {
			h := newHarness(t)
			d := h.delivered()
			hash := hashA
			if status == domain.DeliveryDisputed {
				hash = hashB
			}
			h.submit(op2, nil, "RecordReceipt", d.ID, `{"sha256":"`+hash+`"}`)
			h.advance(time.Hour)
			var got domain.Delivery
			out := h.submit(op2, &got, "RateDelivery", d.ID, `{"timeliness":5,"accuracy":4,"completeness":3,"consistency":2,"comment":"late columns"}`)
			f := got.Feedback
			if f == nil || f.Timeliness != 5 || f.Accuracy != 4 || f.Completeness != 3 || f.Consistency != 2 || f.Comment != "late columns" ||
				!f.At.Equal(h.now) || f.By.MSPID != "Dept2MSP" || got.Status != status {
				t.Fatalf("rated %+v / %+v", got, f)
			}
			e := h.event(out, domain.EventDeliveryRated, domain.KindDelivery, d.ID, op2)
			if e.Delivery == nil || e.Delivery.Feedback == nil || e.Status != string(status) {
				t.Errorf("event %+v", e)
			}
			h.reject(op2, domain.CodeConflict, "delivery "+d.ID+" was already rated", "RateDelivery", d.ID, `{"timeliness":1,"accuracy":1,"completeness":1,"consistency":1}`)
		})
	}
}

func TestRateDeliveryRejects(t *testing.T) {
	valid := `{"timeliness":5,"accuracy":4,"completeness":3,"consistency":2}`
	tests := []struct {
		name, state, input string
		as                 who
		code               domain.Code
		want               string
	}{
		{"not yet received", "delivered", valid, op2, domain.CodeConflict, "is delivered; only a received or disputed delivery can be rated"},
		{"destroyed", "destroyed", valid, op2, domain.CodeConflict, "is destroyed; only a received or disputed"},
		{"owner", "received", valid, op1, domain.CodeForbidden, "only Dept2MSP may rate a delivery for delivery"},
		{"requester's approver", "received", valid, ap2, domain.CodeForbidden, "role operator is required to rate a delivery; caller has role approver"},
		{"unknown", "", valid, op2, domain.CodeNotFound, "delivery dl-ghost does not exist"},
		{"timeliness 0", "received", `{"timeliness":0,"accuracy":4,"completeness":3,"consistency":2}`, op2, domain.CodeInvalid, "timeliness must be an integer from 1 to 5, not 0"},
		{"accuracy 6", "received", `{"timeliness":5,"accuracy":6,"completeness":3,"consistency":2}`, op2, domain.CodeInvalid, "accuracy must be an integer from 1 to 5, not 6"},
		{"completeness missing", "received", `{"timeliness":5,"accuracy":4,"consistency":2}`, op2, domain.CodeInvalid, "completeness must be an integer from 1 to 5, not 0"},
		{"consistency -1", "received", `{"timeliness":5,"accuracy":4,"completeness":3,"consistency":-1}`, op2, domain.CodeInvalid, "consistency must be"},
		{"rating fraction", "received", `{"timeliness":4.5,"accuracy":4,"completeness":3,"consistency":2}`, op2, domain.CodeInvalid, "FeedbackInput JSON"},
		{"comment too long", "received", `{"timeliness":5,"accuracy":4,"completeness":3,"consistency":2,"comment":"` + strings.Repeat("c", 2001) + `"}`, op2, domain.CodeInvalid, "comment has 2001 characters"},
		{"unknown field", "received", `{"timeliness":5,"accuracy":4,"completeness":3,"consistency":2,"score":9}`, op2, domain.CodeInvalid, `unknown field "score"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			id := deliveryInState(h, tt.state)
			h.reject(tt.as, tt.code, tt.want, "RateDelivery", id, tt.input)
		})
	}
}

// deliveryInState returns a delivery in the named state, or an unknown ID.
func deliveryInState(h *harness, state string) string {
	switch state {
	case "delivered":
		return h.delivered().ID
	case "received":
		return h.received().ID
	case "destroyed":
		d := h.received()
		h.submit(op2, nil, "RecordDestruction", d.ID, `{}`)
		return d.ID
	}
	return "dl-ghost"
}

func TestRecordDestruction(t *testing.T) {
	tests := []struct {
		name, receipt string // receipt hash, "" for none
		method        string
	}{
		{"delivered", "", "secure erase"},
		{"received", hashA, ""},
		{"disputed", hashB, "shredded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.delivered()
			if tt.receipt != "" {
				h.submit(op2, nil, "RecordReceipt", d.ID, `{"sha256":"`+tt.receipt+`"}`)
			}
			h.advance(24 * time.Hour)
			var got domain.Delivery
			out := h.submit(op2, &got, "RecordDestruction", d.ID, jsonOf(t, domain.DestructionInput{Method: tt.method}))
			if got.Status != domain.DeliveryDestroyed || got.DestroyMethod != tt.method || got.DestroyedAt == nil ||
				!got.DestroyedAt.Equal(h.now) || got.DestroyedBy == nil || got.DestroyedBy.MSPID != "Dept2MSP" {
				t.Fatalf("destroyed %+v", got)
			}
			if (tt.receipt != "") != (got.ReceivedAt != nil) {
				t.Fatalf("receipt lost or invented: %+v", got)
			}
			e := h.event(out, domain.EventDeliveryDestroyed, domain.KindDelivery, d.ID, op2)
			if e.Status != "destroyed" || e.Delivery == nil {
				t.Errorf("event %+v", e)
			}
			h.reject(op2, domain.CodeConflict, "delivery "+d.ID+" is already destroyed", "RecordDestruction", d.ID, `{}`)
			h.reject(op2, domain.CodeConflict, "is destroyed; a receipt can only be recorded", "RecordReceipt", d.ID, `{"sha256":"`+hashA+`"}`)
		})
	}
}

func TestRecordDestructionRejects(t *testing.T) {
	tests := []struct {
		name, input string
		as          who
		code        domain.Code
		want        string
	}{
		{"owner holds no copy", `{}`, op1, domain.CodeForbidden, "only Dept2MSP may record a destruction for delivery"},
		{"auditor", `{}`, au3, domain.CodeForbidden, "role operator is required to record a destruction; caller has role auditor"},
		{"method too long", `{"method":"` + strings.Repeat("m", 201) + `"}`, op2, domain.CodeInvalid, "method has 201 characters"},
		{"unknown field", `{"when":"yesterday"}`, op2, domain.CodeInvalid, `unknown field "when"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.received()
			h.reject(tt.as, tt.code, tt.want, "RecordDestruction", d.ID, tt.input)
		})
	}
	h := newHarness(t)
	h.reject(op2, domain.CodeNotFound, "delivery dl-ghost does not exist", "RecordDestruction", "dl-ghost", `{}`)
	h.reject(op2, domain.CodeInvalid, "deliveryId is required", "RecordDestruction", "", `{}`)
}

func TestReceiptRejects(t *testing.T) {
	tests := []struct {
		name, input string
		as          who
		code        domain.Code
		want        string
	}{
		{"owner", `{"sha256":"` + hashA + `"}`, op1, domain.CodeForbidden, "only Dept2MSP may record a receipt for delivery"},
		{"third department", `{"sha256":"` + hashA + `"}`, op3, domain.CodeForbidden, "caller is from Dept3MSP"},
		{"requester's admin", `{"sha256":"` + hashA + `"}`, ad2, domain.CodeForbidden, "role operator is required to record a receipt; caller has role admin"},
		{"bad hash", `{"sha256":"xyz"}`, op2, domain.CodeInvalid, "sha256 must be a lowercase hex SHA-256"},
		{"no hash", `{}`, op2, domain.CodeInvalid, "sha256 must be"},
		{"unknown field", `{"sha256":"` + hashA + `","ok":true}`, op2, domain.CodeInvalid, `unknown field "ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.delivered()
			h.reject(tt.as, tt.code, tt.want, "RecordReceipt", d.ID, tt.input)
		})
	}
	h := newHarness(t)
	h.reject(op2, domain.CodeNotFound, "delivery dl-ghost does not exist", "RecordReceipt", "dl-ghost", `{"sha256":"`+hashA+`"}`)
}

func TestDeliveryStepsCannotRunBackwards(t *testing.T) {
	const rating = `{"timeliness":5,"accuracy":4,"completeness":4,"consistency":5}`
	runBackwards(t, []backwardsCase{
		{"delivery before the approval", func(h *harness) (who, string, string, []string) {
			p := h.pendingRequest()
			h.advance(time.Hour)
			h.submit(ap1, nil, "ApproveRequest", p.ID, `{}`)
			h.advance(-time.Minute)
			return op1, "request " + p.ID + " was approved at 2026-03-10T10:30:00.123456789Z; a delivery cannot be dated 2026-03-10T10:29:00.123456789Z",
				"RecordDelivery", []string{p.ID, jsonOf(h.t, deliveryInput())}
		}},
		{"delivery before an unconditional approval", func(h *harness) (who, string, string, []string) {
			h.registerDataset(op1, datasetInput("free", domain.ShareUnconditional))
			h.advance(time.Hour)
			r := h.createRequest(op2, h.requestInput("free"))
			h.advance(-time.Nanosecond)
			return op1, "request " + r.ID + " was approved at 2026-03-10T10:30:00.123456789Z; a delivery cannot be dated 2026-03-10T10:30:00.123456788Z",
				"RecordDelivery", []string{r.ID, jsonOf(h.t, deliveryInput())}
		}},
		{"receipt before the delivery", func(h *harness) (who, string, string, []string) {
			d := h.delivered()
			h.advance(-time.Nanosecond)
			return op2, "delivery " + d.ID + " was delivered at 2026-03-10T09:30:00.123456789Z; a receipt cannot be dated 2026-03-10T09:30:00.123456788Z",
				"RecordReceipt", []string{d.ID, `{"sha256":"` + hashA + `"}`}
		}},
		{"rating before the receipt", func(h *harness) (who, string, string, []string) {
			d := h.delivered()
			h.advance(time.Minute)
			h.submit(op2, nil, "RecordReceipt", d.ID, `{"sha256":"`+hashB+`"}`)
			h.advance(-30 * time.Second)
			return op2, "delivery " + d.ID + " was received at 2026-03-10T09:31:00.123456789Z; a rating cannot be dated 2026-03-10T09:30:30.123456789Z",
				"RateDelivery", []string{d.ID, rating}
		}},
		{"destruction before the delivery", func(h *harness) (who, string, string, []string) {
			d := h.delivered()
			h.advance(-time.Hour)
			return op2, "delivery " + d.ID + " was delivered at 2026-03-10T09:30:00.123456789Z; a destruction cannot be dated 2026-03-10T08:30:00.123456789Z",
				"RecordDestruction", []string{d.ID, `{}`}
		}},
		{"destruction before the rating", func(h *harness) (who, string, string, []string) {
			d := h.received()
			h.advance(time.Hour)
			h.submit(op2, nil, "RateDelivery", d.ID, rating)
			h.advance(-time.Minute)
			return op2, "delivery " + d.ID + " was rated at 2026-03-10T10:30:00.123456789Z; a destruction cannot be dated 2026-03-10T10:29:00.123456789Z",
				"RecordDestruction", []string{d.ID, `{"method":"shredded"}`}
		}},
	})
}

// TestDeliveryWindow: a delivery may be dated from the approval up to, not
// including, validUntil, and only while the dataset is active.
func TestDeliveryWindow(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration // from the approval
		retire bool
		code   domain.Code
		want   string // "" to succeed
	}{
		{"at the approval", 0, false, "", ""},
		{"just before validUntil", time.Hour - time.Nanosecond, false, "", ""},
		{"at validUntil", time.Hour, false, domain.CodeConflict, "is expired, not approved"},
		{"after validUntil", 2 * time.Hour, false, domain.CodeConflict, "is expired, not approved"},
		{"retired dataset", time.Minute, true, domain.CodeConflict, "dataset households is retired; nothing more can be delivered for it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.registerDataset(op1, datasetInput("households", domain.ShareConditional))
			in := h.requestInput("households")
			in.ValidUntil = h.now.Add(time.Hour)
			r := h.createRequest(op2, in)
			h.submit(ap1, nil, "ApproveRequest", r.ID, `{}`)
			if tt.retire {
				h.submit(op1, nil, "RetireDataset", "households", `{}`)
			}
			h.advance(tt.offset)
			if tt.want == "" {
				h.submit(op1, nil, "RecordDelivery", r.ID, jsonOf(t, deliveryInput()))
				return
			}
			h.reject(op1, tt.code, tt.want, "RecordDelivery", r.ID, jsonOf(t, deliveryInput()))
		})
	}
}
