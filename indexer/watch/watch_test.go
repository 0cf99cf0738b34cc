package watch

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ledger drives a watch block by block and keeps the last state of every
// finding the sink got.
type ledger struct {
	t     *testing.T
	w     *Watch
	block uint64
	tx    int
	got   map[string]Finding
	order []string // finding IDs in the order the sink got them
}

func newLedger(t *testing.T, r Rules) *ledger {
	l := &ledger{t: t, got: map[string]Finding{}}
	w, err := New(r, l.sink)
	if err != nil {
		t.Fatal(err)
	}
	l.w = w
	return l
}

func (l *ledger) sink(f Finding) error {
	if f.State != StateOpen && f.State != StateClosed || !f.Kind.Valid() || f.ID == "" || f.Department == "" || f.Detail == "" || len(f.Evidence) == 0 || f.Period == "" {
		l.t.Fatalf("the sink got an incomplete finding: %+v", f)
	}
	l.got[f.ID] = f
	l.order = append(l.order, f.ID)
	return nil
}

// at adds one block holding event e at time t and ends it.
func (l *ledger) at(t time.Time, e domain.Event) {
	l.t.Helper()
	l.tx++
	e.Version, e.Time = 1, t
	if e.Actor.MSPID == "" {
		e.Actor = domain.Actor{MSPID: "Dept1MSP", Subject: "op1", Role: domain.RoleOperator}
	}
	if err := l.w.Add(Input{TxID: fmt.Sprintf("tx%d", l.tx), Block: l.block, Time: t, Event: &e}); err != nil {
		l.t.Fatal(err)
	}
	l.end(t)
}

// end ends the current block at time t and starts the next.
func (l *ledger) end(t time.Time) {
	l.t.Helper()
	if err := l.w.EndBlock(l.block, t); err != nil {
		l.t.Fatal(err)
	}
	l.block++
}

func (l *ledger) state(id string) State {
	f, ok := l.got[id]
	if !ok {
		return ""
	}
	return f.State
}

func dataset(id string, grade int) domain.Event {
	return domain.Event{Type: domain.EventDatasetRegistered, Kind: domain.KindDataset, ID: id,
		Dataset: &domain.Dataset{ID: id, Owner: "Dept1MSP", Grade: grade, Status: domain.DatasetActive}}
}

func approved(id, ds string, until time.Time) domain.Event {
	return domain.Event{Type: domain.EventRequestCreated, Kind: domain.KindRequest, ID: id, Actor: domain.Actor{MSPID: "Dept2MSP", Subject: "op2", Role: domain.RoleOperator},
		Request: &domain.Request{ID: id, DatasetID: ds, Requester: "Dept2MSP", Owner: "Dept1MSP", ValidUntil: until, Status: domain.RequestApproved}}
}

func revoked(id, ds string, until time.Time) domain.Event {
	e := approved(id, ds, until)
	e.Type, e.Request.Status = domain.EventRequestRevoked, domain.RequestRevoked
	e.Actor = domain.Actor{MSPID: "Dept1MSP", Subject: "ap1", Role: domain.RoleApprover}
	return e
}

func delivered(id, req, ds string, records int64) domain.Event {
	return domain.Event{Type: domain.EventDeliveryRecorded, Kind: domain.KindDelivery, ID: id,
		Delivery: &domain.Delivery{ID: id, RequestID: req, DatasetID: ds, Owner: "Dept1MSP", Requester: "Dept2MSP", Records: records, Status: domain.DeliveryDelivered}}
}

func received(id, req string, disputed bool) domain.Event {
	st := domain.DeliveryReceived
	if disputed {
		st = domain.DeliveryDisputed
	}
	return domain.Event{Type: domain.EventDeliveryReceived, Kind: domain.KindDelivery, ID: id, Actor: domain.Actor{MSPID: "Dept2MSP", Subject: "op2", Role: domain.RoleOperator},
		Delivery: &domain.Delivery{ID: id, RequestID: req, Status: st}}
}

func destroyed(id, req string) domain.Event {
	return domain.Event{Type: domain.EventDeliveryDestroyed, Kind: domain.KindDelivery, ID: id, Actor: domain.Actor{MSPID: "Dept2MSP", Subject: "op2", Role: domain.RoleOperator},
		Delivery: &domain.Delivery{ID: id, RequestID: req, Status: domain.DeliveryDestroyed}}
}

func used(id, req, ds string, records int64) domain.Event {
	return domain.Event{Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: id, Actor: domain.Actor{MSPID: "Dept2MSP", Subject: "op2", Role: domain.RoleOperator},
		Usage: &domain.Usage{ID: id, RequestID: req, DatasetID: ds, Consumer: "Dept2MSP", Owner: "Dept1MSP", Records: records, Calls: 1}}
}

func corrected(id, delivery, req, ds string, st domain.CorrectionStatus) domain.Event {
	t := domain.EventCorrectionOpened
	if st == domain.CorrectionResolved {
		t = domain.EventCorrectionResolved
	}
	return domain.Event{Type: t, Kind: domain.KindCorrection, ID: id,
		Correction: &domain.Correction{ID: id, DeliveryID: delivery, RequestID: req, DatasetID: ds, Requester: "Dept2MSP", Owner: "Dept1MSP", Status: st}}
}

func TestReceiptOverdueOpensAtTheLedgersTimeAndClosesOnReceipt(t *testing.T) {
	l := newLedger(t, DefaultRules())
	l.at(t0, dataset("ds", 2))
	l.at(t0, approved("r", "ds", t0.Add(60*day)))
	l.at(t0.Add(time.Hour), delivered("d", "r", "ds", 100))
	id := "receipt-overdue/d"
	// A block just before the window ends opens nothing, however late the
	// wall clock is: only the ledger's time counts.
	l.end(t0.Add(time.Hour + 7*day - time.Second))
	if l.state(id) != "" {
		t.Fatalf("finding before its due time: %+v", l.got[id])
	}
	l.end(t0.Add(time.Hour + 7*day))
	f := l.got[id]
	if f.State != StateOpen || f.Department != "Dept2MSP" || f.Person != nil || f.Records != 100 || f.Due == nil || !f.Due.Equal(t0.Add(time.Hour+7*day)) || f.Period != "2026-03" {
		t.Fatalf("open finding = %+v", f)
	}
	if len(f.Evidence) != 1 || f.Evidence[0].Type != domain.EventDeliveryRecorded {
		t.Fatalf("evidence = %+v", f.Evidence)
	}
	l.at(t0.Add(8*day), received("d", "r", false))
	if f := l.got[id]; f.State != StateClosed || f.ClosedBy == nil || f.ClosedBy.Type != domain.EventDeliveryReceived {
		t.Fatalf("after the receipt = %+v", f)
	}
	// A receipt in time opens nothing.
	l.at(t0.Add(9*day), delivered("d2", "r", "ds", 5))
	l.at(t0.Add(10*day), received("d2", "r", false))
	l.end(t0.Add(30 * day))
	if l.state("receipt-overdue/d2") != "" {
		t.Fatal("a receipt in time opened a finding")
	}
}

func TestCopyNotDestroyedFollowsTheGradeAndTheRevocation(t *testing.T) {
	l := newLedger(t, DefaultRules()) // grade 4: 7 days, grade 3: 30 days, grades 1-2: none
	l.at(t0, dataset("core", 4))
	l.at(t0, dataset("open", 1))
	l.at(t0, approved("r4", "core", t0.Add(20*day)))
	l.at(t0, approved("r1", "open", t0.Add(20*day)))
	l.at(t0.Add(time.Hour), delivered("d4", "r4", "core", 10))
	l.at(t0.Add(time.Hour), delivered("d1", "r1", "open", 10))
	l.at(t0.Add(2*time.Hour), received("d4", "r4", false))
	l.at(t0.Add(2*time.Hour), received("d1", "r1", false))
	// Revoked on day 5: the copy is due for destruction on day 12, not 27.
	l.at(t0.Add(5*day), revoked("r4", "core", t0.Add(20*day)))
	l.end(t0.Add(12*day - time.Second))
	if l.state("copy-not-destroyed/d4") != "" {
		t.Fatal("opened before the window after the revocation ended")
	}
	l.end(t0.Add(12 * day))
	f := l.got["copy-not-destroyed/d4"]
	if f.State != StateOpen || f.Grade != 4 || f.Department != "Dept2MSP" || f.Person == nil || f.Person.Subject != "op2" {
		t.Fatalf("finding = %+v", f)
	}
	types := []domain.EventType{}
	for _, e := range f.Evidence {
		types = append(types, e.Type)
	}
	if !slices.Equal(types, []domain.EventType{domain.EventRequestCreated, domain.EventRequestRevoked, domain.EventDeliveryRecorded, domain.EventDeliveryReceived}) {
		t.Fatalf("evidence types = %v", types)
	}
	l.at(t0.Add(13*day), destroyed("d4", "r4"))
	if f := l.got["copy-not-destroyed/d4"]; f.State != StateClosed || f.ClosedBy.Type != domain.EventDeliveryDestroyed {
		t.Fatalf("after destruction = %+v", f)
	}
	l.end(t0.Add(100 * day))
	if l.state("copy-not-destroyed/d1") != "" {
		t.Fatal("grade 1 needs no destruction")
	}
	// Everything settled: the watch forgot the requests and deliveries.
	if n := len(l.w.st.Requests.m) + len(l.w.st.Deliveries.m); n != 0 {
		t.Fatalf("watch still holds %d requests and deliveries: %+v %+v", n, l.w.st.Requests, l.w.st.Deliveries)
	}
}

func TestUsageAfterTheEndAndOveruse(t *testing.T) {
	l := newLedger(t, DefaultRules())
	l.at(t0, dataset("ds", 3))
	l.at(t0, approved("r", "ds", t0.Add(10*day)))
	l.at(t0.Add(time.Hour), delivered("d", "r", "ds", 100))
	l.at(t0.Add(2*time.Hour), used("u1", "r", "ds", 80))
	l.at(t0.Add(3*time.Hour), used("u2", "r", "ds", 50))
	var over Finding
	for _, f := range l.got {
		if f.Kind == KindOveruse {
			over = f
		}
	}
	if over.State != StateOpen || over.Records != 30 || over.Person.Subject != "op2" {
		t.Fatalf("overuse = %+v", over)
	}
	l.at(t0.Add(4*time.Hour), used("u3", "r", "ds", 10))
	if f := l.got[over.ID]; f.Records != 40 || len(f.Evidence) != 3 || f.OpenedAt != over.OpenedAt {
		t.Fatalf("overuse after a further use = %+v", f)
	}
	l.at(t0.Add(4*time.Hour+time.Minute), used("u4", "r", "ds", 5))
	if f := l.got[over.ID]; f.Records != 45 || len(f.Evidence) != 3 || f.Evidence[1].TxID != over.Evidence[1].TxID || f.Evidence[2].TxID == l.got[over.ID].Evidence[1].TxID {
		t.Fatalf("overuse after more uses keeps the approval, the first use past and the latest: %+v", f)
	}
	l.at(t0.Add(5*time.Hour), delivered("d2", "r", "ds", 45))
	if f := l.got[over.ID]; f.State != StateClosed || f.ClosedBy.Type != domain.EventDeliveryRecorded {
		t.Fatalf("overuse after the covering delivery = %+v", f)
	}
	l.at(t0.Add(10*day), used("late", "r", "ds", 1))
	f := l.got["use-after-end/late"]
	if f.State != StateOpen || f.Grade != 3 || f.Department != "Dept2MSP" || len(f.Evidence) != 2 {
		t.Fatalf("use after the end = %+v", f)
	}
	l.at(t0.Add(11*day), used("unknown", "nope", "ds", 1))
	if l.state("use-after-end/unknown") != StateOpen {
		t.Fatal("use under an unknown request is not a finding")
	}
}

// A grade 3 or 4 delivery that carried a field its request did not name
// is a finding of its owner, closed by the copy's destruction; a grade 2
// one, or one within the request's fields, or one that named none, is not.
func TestFieldsOutsideTheRequest(t *testing.T) {
	l := newLedger(t, DefaultRules())
	l.at(t0, dataset("ds3", 3))
	l.at(t0, dataset("ds2", 2))
	for _, id := range []string{"r3", "r2"} {
		e := approved(id, "ds"+id[1:], t0.Add(10*day))
		e.Request.Fields = []string{"district", "households"}
		l.at(t0, e)
	}
	wide := func(id, req string, fields ...string) domain.Event {
		e := delivered(id, req, "ds"+req[1:], 5)
		e.Delivery.Fields = fields
		e.Actor = domain.Actor{MSPID: "Dept1MSP", Subject: "op1", Role: domain.RoleOperator}
		return e
	}
	l.at(t0.Add(time.Hour), wide("d1", "r3", "district", "income", "population"))
	l.at(t0.Add(time.Hour), wide("d2", "r3", "households"))
	l.at(t0.Add(time.Hour), wide("d3", "r3"))
	l.at(t0.Add(time.Hour), wide("d4", "r2", "income"))
	f := l.got["fields-outside-request/d1"]
	if f.State != StateOpen || f.Department != "Dept1MSP" || f.Person.Subject != "op1" || f.Grade != 3 || f.DeliveryID != "d1" ||
		f.Records != 5 || len(f.Evidence) != 2 || !strings.Contains(f.Detail, "income, population") {
		t.Fatalf("fields outside = %+v", f)
	}
	if len(l.got) != 1 {
		t.Fatalf("findings %v, want only d1's", l.order)
	}
	l.at(t0.Add(2*time.Hour), destroyed("d1", "r3"))
	if f := l.got["fields-outside-request/d1"]; f.State != StateClosed || f.ClosedBy.Type != domain.EventDeliveryDestroyed {
		t.Fatalf("after the destruction = %+v", f)
	}
}

func TestDisputeAndCorrectionWindows(t *testing.T) {
	r := DefaultRules()
	r.AnswerWithin[2] = 3 * day
	l := newLedger(t, r)
	l.at(t0, dataset("ds", 2))
	l.at(t0, approved("r", "ds", t0.Add(90*day)))
	l.at(t0, delivered("d", "r", "ds", 10))
	l.at(t0.Add(time.Hour), received("d", "r", true))
	l.at(t0.Add(2*time.Hour), corrected("c", "d", "r", "ds", domain.CorrectionOpen))
	l.end(t0.Add(time.Hour + 3*day))
	if f := l.got["dispute-open/d"]; f.State != StateOpen || f.Department != "Dept1MSP" {
		t.Fatalf("dispute = %+v", f)
	}
	l.end(t0.Add(2*time.Hour + 3*day))
	if f := l.got["correction-overdue/c"]; f.State != StateOpen || f.Department != "Dept1MSP" || f.CorrectionID != "c" {
		t.Fatalf("correction = %+v", f)
	}
	l.at(t0.Add(6*day), corrected("c", "d", "r", "ds", domain.CorrectionResolved))
	if l.state("dispute-open/d") != StateClosed || l.state("correction-overdue/c") != StateClosed {
		t.Fatalf("after the resolution: %+v", l.got)
	}
	// A second dispute settled by a matching delivery of the same request.
	l.at(t0.Add(7*day), delivered("d2", "r", "ds", 10))
	l.at(t0.Add(7*day), received("d2", "r", true))
	l.end(t0.Add(10*day + time.Second))
	l.at(t0.Add(11*day), delivered("d3", "r", "ds", 10))
	l.at(t0.Add(11*day), received("d3", "r", false))
	if f := l.got["dispute-open/d2"]; f.State != StateClosed || f.ClosedBy.Type != domain.EventDeliveryReceived {
		t.Fatalf("second dispute = %+v", f)
	}
}

func TestSpikeAgainstTheDepartmentsOwnHistory(t *testing.T) {
	l := newLedger(t, DefaultRules())
	l.at(t0, dataset("ds", 1))
	n := 0
	req := func(at time.Time) {
		n++
		e := approved(fmt.Sprintf("q%d", n), "ds", at.Add(day))
		l.at(at, e)
	}
	// Two requests a day for 10 days, then 9 (under the minimum of 10),
	// then 12 on one day.
	for d := range 10 {
		req(t0.Add(time.Duration(d) * day))
		req(t0.Add(time.Duration(d)*day + time.Hour))
	}
	for i := range 9 {
		req(t0.Add(10*day + time.Duration(i)*time.Minute))
	}
	for _, f := range l.got {
		if f.Kind == KindRequestSpike {
			t.Fatalf("spike below the minimum: %+v", f)
		}
	}
	for i := range 12 {
		req(t0.Add(11*day + time.Duration(i)*time.Minute))
	}
	f := l.got["request-spike/Dept2MSP/2026-03-12"]
	if f.State != StateOpen || f.Records != 10 {
		t.Fatalf("spike = %+v (all: %v)", f, l.order)
	}
	if c := slices.Index(l.order, f.ID); slices.Index(l.order[c+1:], f.ID) >= 0 {
		t.Fatal("the same spike reported twice")
	}
}

// randomLedger is a ledger of requests, deliveries, receipts, usage,
// corrections and destructions in a random order, times moving forward
// by up to a day.
func randomLedger(seed uint64) ([]domain.Event, []time.Time) {
	rng := rand.New(rand.NewPCG(seed, 7))
	var events []domain.Event
	var times []time.Time
	now := t0
	add := func(e domain.Event) {
		now = now.Add(time.Duration(rng.IntN(int(day/time.Minute))) * time.Minute)
		events, times = append(events, e), append(times, now)
	}
	for g := 1; g <= 4; g++ {
		add(dataset(fmt.Sprintf("ds%d", g), g))
	}
	var reqs, dels []string
	delReq := map[string]string{}
	for i := range 150 {
		switch k := rng.IntN(8); {
		case k == 0 || len(reqs) == 0:
			id := fmt.Sprintf("r%d", i)
			ds := fmt.Sprintf("ds%d", 1+rng.IntN(4))
			e := approved(id, ds, now.Add(time.Duration(1+rng.IntN(10))*day))
			e.Request.Fields = []string{"a"}
			add(e)
			reqs = append(reqs, id+"|"+ds)
		case k == 1:
			q := reqs[rng.IntN(len(reqs))]
			add(revoked(q[:len(q)-4], q[len(q)-3:], now.Add(day)))
		case k == 2 || k == 3 || len(dels) == 0:
			q := reqs[rng.IntN(len(reqs))]
			id := fmt.Sprintf("d%d", i)
			e := delivered(id, q[:len(q)-4], q[len(q)-3:], int64(1+rng.IntN(50)))
			if rng.IntN(3) == 0 {
				e.Delivery.Fields = []string{"a", "b"}[:1+rng.IntN(2)]
			}
			add(e)
			dels = append(dels, id)
			delReq[id] = q
		case k == 4:
			d := dels[rng.IntN(len(dels))]
			add(received(d, delReq[d][:len(delReq[d])-4], rng.IntN(3) == 0))
		case k == 5:
			q := reqs[rng.IntN(len(reqs))]
			add(used(fmt.Sprintf("u%d", i), q[:len(q)-4], q[len(q)-3:], int64(1+rng.IntN(40))))
		case k == 6:
			d := dels[rng.IntN(len(dels))]
			q := delReq[d]
			st := domain.CorrectionOpen
			if rng.IntN(2) == 0 {
				st = domain.CorrectionResolved
			}
			add(corrected(fmt.Sprintf("c%d", rng.IntN(20)), d, q[:len(q)-4], q[len(q)-3:], st))
		default:
			d := dels[rng.IntN(len(dels))]
			add(destroyed(d, delReq[d][:len(delReq[d])-4]))
		}
	}
	return events, times
}

// TestPolicyWindowsApplyFromTheirPlaceInTheLedger: a policy event with
// grade rules changes the windows from its position on: a deadline still
// pending moves, one already passed stays.
func TestPolicyWindowsApplyFromTheirPlaceInTheLedger(t *testing.T) {
	l := newLedger(t, DefaultRules())
	l.at(t0, dataset("ds", 2))
	l.at(t0, approved("r", "ds", t0.Add(90*day)))
	l.at(t0, delivered("d1", "r", "ds", 10))
	grades := domain.LegacyGradeRules()
	for i := range grades {
		grades[i].ReceiptWithinDays = 0.5
	}
	l.at(t0.Add(time.Hour), domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID,
		Policy: &domain.Policy{ID: domain.PolicyID, Members: []string{"Dept1MSP", "Dept2MSP"}, Version: 2, Grades: grades}})
	l.end(t0.Add(12 * time.Hour))
	if l.state("receipt-overdue/d1") != StateOpen {
		t.Fatalf("the half-day window of the policy did not apply to the pending receipt: %+v", l.got)
	}
	grades[1].ReceiptWithinDays = 0 // grade 2 no longer watched for receipts
	l.at(t0.Add(13*time.Hour), domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID,
		Policy: &domain.Policy{ID: domain.PolicyID, Members: []string{"Dept1MSP", "Dept2MSP"}, Version: 3, Grades: grades}})
	l.at(t0.Add(14*time.Hour), delivered("d2", "r", "ds", 10))
	l.end(t0.Add(60 * day))
	if l.state("receipt-overdue/d2") != "" || l.state("receipt-overdue/d1") != StateOpen {
		t.Fatalf("after receipts stopped being watched: %+v", l.got)
	}
}

// The spike rule is the policy's: a policy event with a rule of 4-second
// periods makes the watch count in those from its place in the ledger on.
func TestSpikeRuleFromThePolicy(t *testing.T) {
	l := newLedger(t, DefaultRules())
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	l.at(base, domain.Event{Type: domain.EventPolicySet, Kind: domain.KindPolicy, ID: domain.PolicyID,
		Policy: &domain.Policy{ID: domain.PolicyID, Version: 2, Spike: &domain.SpikeRule{PeriodHours: 4.0 / 3600, Min: 4, Sigmas: 2, Periods: 6, History: 3}}})
	if r := l.w.st.Rules; r.SpikePeriod != 4*time.Second || r.SpikeMin != 4 || r.SpikeDays != 6 {
		t.Fatalf("rules after the policy: %+v", r)
	}
	n := 0
	create := func(at time.Time) {
		n++
		id := fmt.Sprintf("q%d", n)
		l.at(at, domain.Event{Type: domain.EventRequestCreated, Kind: domain.KindRequest, ID: id, Actor: domain.Actor{MSPID: "Dept2MSP", Subject: "op2", Role: domain.RoleOperator},
			Request: &domain.Request{ID: id, DatasetID: "ds", Requester: "Dept2MSP", Owner: "Dept1MSP", Status: domain.RequestPending}})
	}
	for p := range 4 { // one request in each of four periods
		create(base.Add(time.Duration(4*p) * time.Second))
	}
	for range 5 { // then five in the fifth
		create(base.Add(16*time.Second + time.Second))
	}
	id := "request-spike/Dept2MSP/2026-05-01T00:00:16Z"
	f, ok := l.got[id]
	if !ok || f.State != StateOpen || f.Records != 4 || !strings.Contains(f.Detail, "in the 4s from 2026-05-01T00:00:16Z") ||
		!strings.Contains(f.Detail, "over the 4 periods before") {
		t.Fatalf("spike %+v (findings %v)", f, l.order)
	}
}

// mapEntries stands in for the mirror's entries.
type mapEntries map[string][]byte

func (m mapEntries) Get(k string, fn func([]byte) error) (bool, error) {
	v, ok := m[k]
	if !ok {
		return false, nil
	}
	return true, fn(v)
}

func (m mapEntries) Scan(prefix, from string, fn func(string, []byte) (bool, error)) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !strings.HasPrefix(k, prefix) || k < from {
			continue
		}
		if more, err := fn(k, m[k]); err != nil || !more {
			return err
		}
	}
	return nil
}

// flushInto applies what w's Flush hands over to m.
func flushInto(t *testing.T, w *Watch, m mapEntries) {
	t.Helper()
	err := w.Flush(func(k string, v []byte) error { m[k] = slices.Clone(v); return nil }, func(k string) error {
		if _, ok := m[k]; !ok {
			t.Fatalf("delete of %s, which the mirror does not hold", k)
		}
		delete(m, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEntriesAreTheState feeds random ledgers to a watch whose whole state
// is in memory (the reference) and to one over a map standing in for the
// mirror's entries, which drops its cache after every block and is opened
// again from the entries every few blocks. After every block the entries
// are what the reference's Flush wrote (no change is missed, nothing gone
// is left behind), and at the end both have handed over the same findings
// in the same order.
func TestEntriesAreTheState(t *testing.T) {
	defer func(n int) { cacheEntries = n }(cacheEntries)
	cacheEntries = 0
	for seed := range uint64(20) {
		events, times := randomLedger(seed)
		// Two policies change the windows on the way: every pending
		// deadline is worked out again.
		rng := rand.New(rand.NewPCG(seed, 11))
		for n, at := range []int{len(events) / 3, 2 * len(events) / 3} {
			grades := domain.LegacyGradeRules()
			for i := range grades {
				grades[i].ReceiptWithinDays = float64(rng.IntN(4)) / 2
				grades[i].DestroyWithinDays = float64(rng.IntN(4))
			}
			p := domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID,
				Policy: &domain.Policy{ID: domain.PolicyID, Members: []string{"Dept1MSP", "Dept2MSP"}, Version: 2 + n, Grades: grades}}
			events, times = slices.Insert(events, at, p), slices.Insert(times, at, times[at])
		}
		r := DefaultRules()
		r.ReceiptWithin, r.AnswerWithin = [5]time.Duration{0, 2 * day, 2 * day, day, day}, [5]time.Duration{0, 3 * day, 3 * day, 4 * day, 4 * day}
		a := newLedger(t, r)
		b := newLedger(t, r)
		ref, mirror := mapEntries{}, mapEntries{}
		var err error
		if b.w, err = Open(r, b.sink, mirror); err != nil {
			t.Fatal(err)
		}
		check := func(i int, what string) {
			t.Helper()
			flushInto(t, a.w, ref)
			flushInto(t, b.w, mirror)
			if !maps.EqualFunc(ref, mirror, slices.Equal) {
				want, _ := json.Marshal(ref)
				got, _ := json.Marshal(mirror)
				t.Fatalf("seed %d, event %d (%s): the mirror's entries are not the state:\n got %s\nwant %s", seed, i, what, got, want)
			}
		}
		for i, e := range events {
			a.at(times[i], e)
			b.at(times[i], e)
			check(i, string(e.Type))
			if i%5 == 4 {
				if b.w, err = Open(DefaultRules(), b.sink, mirror); err != nil {
					t.Fatal(err)
				}
			}
		}
		a.end(times[len(times)-1].Add(60 * day))
		b.end(times[len(times)-1].Add(60 * day))
		check(len(events), "the end")
		if !slices.Equal(a.order, b.order) || !reflect.DeepEqual(a.got, b.got) {
			t.Fatalf("seed %d: findings differ:\n%v\n%v", seed, a.order, b.order)
		}
		if len(a.got) == 0 {
			t.Fatalf("seed %d: a random ledger gave no finding", seed)
		}
		if _, err := b.w.Save(); err == nil {
			t.Error("Save of a watch over entries succeeded")
		}
	}
}
