package score

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// events is a small ledger of events, one per block, numbered from 1.
type events struct{ list []Input }

func (l *events) add(when string, e *domain.Event) {
	e.Version = domain.EventVersion
	e.Time = ts(when)
	raw, _ := json.Marshal(e)
	sum := sha256.Sum256(raw)
	n := len(l.list) + 1
	l.list = append(l.list, Input{TxID: fmt.Sprintf("tx%02d", n), Block: uint64(n), Time: ts(when), PayloadSHA256: hex.EncodeToString(sum[:]), Event: e})
}

const (
	A = "Dept1MSP"
	B = "Dept2MSP"
	C = "Dept3MSP"
)

func ds(id, owner string, share domain.ShareType, open domain.OpenType) *domain.Event {
	d := domain.Dataset{ID: id, Owner: owner, ShareType: share, OpenType: open, Status: domain.DatasetActive, Version: 1}
	return &domain.Event{Type: domain.EventDatasetRegistered, Kind: domain.KindDataset, ID: id, DatasetID: id, Owner: owner, Dataset: &d}
}

func rq(typ domain.EventType, id, dsID, requester, owner string, st domain.RequestStatus, created string) *domain.Event {
	r := domain.Request{ID: id, DatasetID: dsID, Requester: requester, Owner: owner, Status: st, CreatedAt: ts(created), ValidUntil: ts("2027-01-01T00:00:00Z")}
	return &domain.Event{Type: typ, Kind: domain.KindRequest, ID: id, DatasetID: dsID, RequestID: id, Owner: owner, Requester: requester, Request: &r}
}

func dl(typ domain.EventType, id, rqID, dsID, owner, requester string, records int64, st domain.DeliveryStatus, fb *domain.Feedback) *domain.Event {
	d := domain.Delivery{ID: id, RequestID: rqID, DatasetID: dsID, Owner: owner, Requester: requester, Records: records, Bytes: records * 10, Status: st, Feedback: fb}
	return &domain.Event{Type: typ, Kind: domain.KindDelivery, ID: id, DatasetID: dsID, RequestID: rqID, Owner: owner, Requester: requester, Delivery: &d}
}

func usage(id, rqID, dsID, consumer, owner string, records int64) *domain.Event {
	u := domain.Usage{ID: id, RequestID: rqID, DatasetID: dsID, Consumer: consumer, Owner: owner, Calls: 1, Records: records}
	return &domain.Event{Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: id, DatasetID: dsID, RequestID: rqID, Owner: owner, Requester: consumer, Usage: &u}
}

func contribution(id, dsID, contributor, owner string, records int64) *domain.Event {
	c := domain.Contribution{ID: id, DatasetID: dsID, Contributor: contributor, Owner: owner, Records: records, Bytes: 1, Status: domain.ContributionAccepted}
	return &domain.Event{Type: domain.EventContributionAccepted, Kind: domain.KindContribution, ID: id, DatasetID: dsID, Owner: owner, Requester: contributor, Status: "accepted", Contribution: &c}
}

func correction(typ domain.EventType, id, dlID, requester, owner string, st domain.CorrectionStatus, opened string) *domain.Event {
	c := domain.Correction{ID: id, DeliveryID: dlID, Requester: requester, Owner: owner, Status: st, OpenedAt: ts(opened)}
	return &domain.Event{Type: typ, Kind: domain.KindCorrection, ID: id, Owner: owner, Requester: requester, Correction: &c}
}

func profile(msp string) *domain.Event {
	return &domain.Event{Type: domain.EventDepartmentUpdated, Kind: domain.KindDepartment, ID: msp, Department: &domain.Department{MSPID: msp}}
}

// consortium is the ledger SCORING.md works through by hand (period 2026-03).
func consortium() *events {
	l := &events{}
	l.add("2026-02-15T00:00:00Z", ds("dsA1", A, domain.ShareUnconditional, domain.OpenOpen))
	l.add("2026-02-15T00:00:00Z", ds("dsA2", A, domain.ShareConditional, domain.OpenRestricted))
	l.add("2026-02-15T00:00:00Z", ds("dsB1", B, domain.ShareConditional, domain.OpenClosed))
	l.add("2026-02-16T00:00:00Z", profile(C))
	l.add("2026-03-01T00:00:00Z", rq(domain.EventRequestCreated, "r1", "dsA2", B, A, domain.RequestPending, "2026-03-01T00:00:00Z"))
	l.add("2026-03-02T00:00:00Z", rq(domain.EventRequestApproved, "r1", "dsA2", B, A, domain.RequestApproved, "2026-03-01T00:00:00Z"))
	l.add("2026-03-03T00:00:00Z", rq(domain.EventRequestCreated, "r2", "dsB1", A, B, domain.RequestPending, "2026-03-03T00:00:00Z"))
	l.add("2026-03-03T12:00:00Z", rq(domain.EventRequestRejected, "r2", "dsB1", A, B, domain.RequestRejected, "2026-03-03T00:00:00Z"))
	l.add("2026-03-02T01:00:00Z", dl(domain.EventDeliveryRecorded, "dl1", "r1", "dsA2", A, B, 100, domain.DeliveryDelivered, nil))
	l.add("2026-03-02T02:00:00Z", dl(domain.EventDeliveryReceived, "dl1", "r1", "dsA2", A, B, 100, domain.DeliveryReceived, nil))
	l.add("2026-03-02T03:00:00Z", dl(domain.EventDeliveryRated, "dl1", "r1", "dsA2", A, B, 100, domain.DeliveryReceived,
		&domain.Feedback{Timeliness: 5, Accuracy: 4, Completeness: 4, Consistency: 3}))
	l.add("2026-03-05T00:00:00Z", usage("us1", "r1", "dsA2", B, A, 50))
	l.add("2026-03-06T00:00:00Z", contribution("cb1", "dsB1", C, B, 30))
	l.add("2026-03-07T00:00:00Z", correction(domain.EventCorrectionOpened, "cr1", "dl1", B, A, domain.CorrectionOpen, "2026-03-07T00:00:00Z"))
	l.add("2026-03-08T00:00:00Z", correction(domain.EventCorrectionResolved, "cr1", "dl1", B, A, domain.CorrectionResolved, "2026-03-07T00:00:00Z"))
	// After the period: must not count.
	l.add("2026-04-02T00:00:00Z", dl(domain.EventDeliveryRecorded, "dl2", "r1", "dsA2", A, B, 1000, domain.DeliveryDelivered, nil))
	l.add("2026-04-02T00:00:00Z", contribution("cb2", "dsA1", B, A, 1000))
	return l
}

func compute(t *testing.T, l *events, period string, asOf uint64) domain.Scores {
	t.Helper()
	b, err := NewBuilder(Default(), period, asOf)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range l.list {
		if err := b.Add(in); err != nil {
			t.Fatal(err)
		}
	}
	return b.Scores()
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1.5e-6 }

func TestHandComputedConsortium(t *testing.T) {
	doc := compute(t, consortium(), "2026-03", 1000)
	if doc.Period != "2026-03" || doc.AsOfBlock != 1000 || len(doc.InputDigest) != 64 || doc.ModelDigest != Default().Digest() {
		t.Fatalf("header %+v", doc)
	}
	if err := doc.Validate(); err != nil {
		t.Fatalf("the document does not validate for publishing: %v", err)
	}
	// Worked by hand in SCORING.md.
	x := 0.05 / (1 - 0.85*2.85/3) // PageRank of B and C; A has 1.85x
	want := map[string]map[string]float64{
		A: {"supply": 100, "supply.norm": 1, "contribution": 0, "breadth": 1, "breadth.norm": 1,
			"useRate": 0.5, "useRate.norm": 1, "useRate.activeDatasets": 2, "quality": 0.75, "quality.norm": 1, "quality.ratings": 1,
			"disputes": 0, "disputes.norm": 1, "disputes.receipts": 1,
			"responsiveness": 0.5, "responsiveness.norm": 0.75, "responsiveness.requestHours": 24, "responsiveness.correctionHours": 24,
			"openness": 0.75, "openness.norm": 1, "influence": 1.85 * x, "influence.norm": 1},
		B: {"supply": 0, "supply.norm": 0, "breadth": 0, "useRate": 0, "useRate.activeDatasets": 1, "quality": 0.5, "quality.norm": 2.0 / 3,
			"disputes.norm": 0.5, "disputes.receipts": 0, "responsiveness": 2.0 / 3, "responsiveness.norm": 1, "responsiveness.requestHours": 12,
			"openness": 0.25, "openness.norm": 1.0 / 3, "influence": x, "influence.norm": 1 / 1.85},
		C: {"contribution": 4.954196, // log2(1+30)
			"contribution.norm": 1, "quality.norm": 2.0 / 3, "disputes.norm": 0.5, "responsiveness": 0.5,
			"responsiveness.norm": 0.75, "openness": 0, "useRate.activeDatasets": 0, "influence.norm": 1 / 1.85},
	}
	scores := map[string]float64{A: 87.5, B: 100 * (0.225 + 0.15/1.85), C: 100 * (0.1 + 0.2/3 + 0.025 + 0.075 + 0.15/1.85)}
	order := []string{A, C, B}
	if len(doc.Items) != 3 {
		t.Fatalf("items %+v", doc.Items)
	}
	for i, it := range doc.Items {
		if it.MSPID != order[i] || it.Rank != i+1 {
			t.Fatalf("item %d = %s rank %d, want %s", i, it.MSPID, it.Rank, order[i])
		}
		if !near(it.Score, scores[it.MSPID]) {
			t.Errorf("%s score %v, want %v", it.MSPID, it.Score, scores[it.MSPID])
		}
		for k, v := range want[it.MSPID] {
			got, ok := it.Breakdown[k]
			if !ok || !near(got, v) {
				t.Errorf("%s %s = %v (present %v), want %v", it.MSPID, k, got, ok, v)
			}
		}
		for k, v := range it.Breakdown {
			if v != Round(v) {
				t.Errorf("%s %s = %v is not rounded", it.MSPID, k, v)
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	// Map iteration order is random in Go: many runs over fresh builders
	// must all give the same bytes.
	first, err := json.Marshal(compute(t, consortium(), "2026-03", 1000))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		again, _ := json.Marshal(compute(t, consortium(), "2026-03", 1000))
		if string(again) != string(first) {
			t.Fatalf("run %d differs:\n%s\n%s", i, first, again)
		}
	}
	// Calling Scores twice gives the same document.
	b, _ := NewBuilder(Default(), "2026-03", 1000)
	for _, in := range consortium().list {
		b.Add(in)
	}
	x, _ := json.Marshal(b.Scores())
	y, _ := json.Marshal(b.Scores())
	if string(x) != string(y) || string(x) != string(first) {
		t.Fatal("Scores is not repeatable")
	}
	if err := b.Add(consortium().list[0]); err == nil {
		t.Fatal("Add after Scores accepted")
	}
}

// TestSnapshotMatchesAFreshBuilder brings one open builder forward event
// by event, as the indexer's cache does, and checks that its snapshot as of
// every block is byte for byte the document of a builder made for that
// block and fed the whole ledger.
func TestSnapshotMatchesAFreshBuilder(t *testing.T) {
	l := consortium()
	// The pending request r3 stays open at the end: waiting hours count.
	l.add("2026-03-20T00:00:00Z", rq(domain.EventRequestCreated, "r3", "dsB1", A, B, domain.RequestPending, "2026-03-20T00:00:00Z"))
	for _, period := range []string{"2026-02", "2026-03", "2026-04"} {
		t.Run(period, func(t *testing.T) {
			open, err := NewBuilder(Default(), period, math.MaxUint64)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range l.list {
				if err := open.Add(in); err != nil {
					t.Fatal(err)
				}
				got, err := open.Snapshot(in.Block)
				if err != nil {
					t.Fatal(err)
				}
				gotJSON, _ := json.Marshal(got)
				want, _ := json.Marshal(compute(t, l, period, in.Block))
				if string(gotJSON) != string(want) {
					t.Fatalf("as of block %d:\nsnapshot %s\nfresh    %s", in.Block, gotJSON, want)
				}
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		b, _ := NewBuilder(Default(), "2026-03", 10)
		for _, in := range l.list[:5] {
			b.Add(in)
		}
		if _, err := b.Snapshot(4); err == nil {
			t.Error("snapshot before the last event added accepted")
		}
		if _, err := b.Snapshot(11); err == nil {
			t.Error("snapshot beyond the builder's asOfBlock accepted")
		}
		if _, err := b.Snapshot(5); err != nil {
			t.Errorf("snapshot at the last block: %v", err)
		}
		b.Scores()
		if _, err := b.Snapshot(5); err == nil {
			t.Error("snapshot after Scores accepted")
		}
	})
}

func TestCutOffs(t *testing.T) {
	l := consortium()
	full := compute(t, l, "2026-03", 1000)
	// As of block 12 (after us1), the contribution (13) and the correction
	// (14, 15) are not yet on the ledger: C contributed nothing and A's
	// correction counts for nobody.
	early := compute(t, l, "2026-03", 12)
	if early.InputDigest == full.InputDigest || early.AsOfBlock != 12 {
		t.Fatal("the digest does not depend on asOfBlock")
	}
	byID := func(d domain.Scores) map[string]domain.ScoreItem {
		m := map[string]domain.ScoreItem{}
		for _, it := range d.Items {
			m[it.MSPID] = it
		}
		return m
	}
	e := byID(early)
	if e[C].Breakdown["contribution"] != 0 || e[A].Breakdown["responsiveness.corrections"] != 0 {
		t.Fatalf("events after asOfBlock were read: %+v", e)
	}
	// As of block 14 the correction is open at the period's end: it counts
	// with the hours it waited (2026-03-07 to 2026-04-01 = 600h).
	mid := byID(compute(t, l, "2026-03", 14))
	if mid[A].Breakdown["responsiveness.correctionHours"] != 600 || mid[A].Breakdown["responsiveness.corrections"] != 1 {
		t.Fatalf("open correction at the end: %v", mid[A].Breakdown)
	}
	// The events after the period (blocks 16, 17) change neither scores nor digest.
	if got := compute(t, l, "2026-03", 15); got.InputDigest != full.InputDigest || got.Items[0].Score != full.Items[0].Score {
		t.Fatal("events after the period changed the document")
	}
	// April sees them, and the catalog from before.
	apr := byID(compute(t, l, "2026-04", 1000))
	if apr[A].Breakdown["supply"] != 1000 || apr[B].Breakdown["contribution"] != ContributionWeight(1000) || apr[A].Breakdown["useRate.activeDatasets"] != 2 {
		t.Fatalf("april: %v / %v", apr[A].Breakdown, apr[B].Breakdown)
	}
	// A period before anything happened lists nobody.
	if early := compute(t, l, "2026-01", 1000); len(early.Items) != 0 {
		t.Fatalf("january: %+v", early.Items)
	}
	if _, err := NewBuilder(Default(), "2026-13", 1); err == nil {
		t.Fatal("bad period accepted")
	}
}

func TestPendingRequestCountsItsWait(t *testing.T) {
	l := &events{}
	l.add("2026-02-10T00:00:00Z", ds("d", A, domain.ShareConditional, domain.OpenClosed))
	// Pending since before the period, never decided: waits till the end (March has 744h; +17 days).
	l.add("2026-02-12T00:00:00Z", rq(domain.EventRequestCreated, "r1", "d", B, A, domain.RequestPending, "2026-02-12T00:00:00Z"))
	// Expired before the period: no longer counts.
	old := rq(domain.EventRequestCreated, "r2", "d", B, A, domain.RequestPending, "2026-01-01T00:00:00Z")
	old.Request.ValidUntil = ts("2026-02-01T00:00:00Z")
	l.add("2026-01-01T00:00:00Z", old)
	doc := compute(t, l, "2026-03", 100)
	a := doc.Items[0]
	if a.MSPID != A || a.Breakdown["responsiveness.requests"] != 1 || a.Breakdown["responsiveness.requestHours"] != (17+31)*24 {
		t.Fatalf("breakdown %v", a.Breakdown)
	}
}

func TestOrderIsChecked(t *testing.T) {
	b, _ := NewBuilder(Default(), "2026-03", 100)
	l := consortium().list
	if err := b.Add(l[3]); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(l[1]); err == nil || !strings.Contains(err.Error(), "ledger order") {
		t.Fatalf("out of order: %v", err)
	}
}

func TestModel(t *testing.T) {
	def := Default()
	if len(def.Digest()) != 64 {
		t.Fatal("no digest")
	}
	// The same model written otherwise has the same digest; an indicator
	// left out weighs zero, as if written.
	same := `{"pageRank":{"tolerance":1e-12,"maxIterations":100,"damping":0.85},"neutral":0.5,"version":1,
		"openTypeWeights":{"closed":0,"restricted":0.5,"open":1},"shareTypeWeights":{"none":0,"conditional":0.5,"unconditional":1},
		"weights":{"influence":0.15,"openness":0.1,"responsiveness":0.1,"disputes":0.05,"quality":0.1,"useRate":0.1,"breadth":0.1,"contribution":0.1,"supply":0.2}}`
	m, err := ParseModel([]byte(same))
	if err != nil || m.Digest() != def.Digest() {
		t.Fatalf("reordered model: %v, digest equal %v", err, m != nil && m.Digest() == def.Digest())
	}
	zero := strings.Replace(same, `"supply":0.2`, `"supply":0.2,"x":0`, 1)
	if _, err := ParseModel([]byte(zero)); err == nil {
		t.Fatal("unknown indicator accepted")
	}
	a, _ := ParseModel([]byte(strings.Replace(same, `"contribution":0.1,`, ``, 1)))
	b, _ := ParseModel([]byte(strings.Replace(same, `"contribution":0.1,`, `"contribution":0,`, 1)))
	if a == nil || b == nil || a.Digest() != b.Digest() || a.Digest() == def.Digest() {
		t.Fatal("a left-out weight is not the same as zero")
	}
	bad := map[string]string{
		"unknown field":   strings.Replace(same, `"version":1`, `"version":1,"extra":1`, 1),
		"version":         strings.Replace(same, `"version":1`, `"version":2`, 1),
		"negative weight": strings.Replace(same, `"supply":0.2`, `"supply":-1`, 1),
		"all zero":        `{"version":1,"weights":{},"shareTypeWeights":{"none":0,"conditional":0.5,"unconditional":1},"openTypeWeights":{"closed":0,"restricted":0.5,"open":1},"neutral":0.5,"pageRank":{"damping":0.85,"maxIterations":100,"tolerance":0}}`,
		"share type":      strings.Replace(same, `"none":0,`, ``, 1),
		"open type":       strings.Replace(same, `"open":1`, `"open":2`, 1),
		"neutral":         strings.Replace(same, `"neutral":0.5`, `"neutral":2`, 1),
		"damping":         strings.Replace(same, `"damping":0.85`, `"damping":1`, 1),
		"iterations":      strings.Replace(same, `"maxIterations":100`, `"maxIterations":0`, 1),
		"trailing":        same + `{}`,
		"not json":        `weights: 1`,
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseModel([]byte(text)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// Weights change scores, and the digest says so.
	heavy, _ := ParseModel([]byte(strings.Replace(same, `"contribution":0.1`, `"contribution":5`, 1)))
	b2, _ := NewBuilder(heavy, "2026-03", 1000)
	for _, in := range consortium().list {
		b2.Add(in)
	}
	doc := b2.Scores()
	if doc.Items[0].MSPID != C || doc.ModelDigest == def.Digest() {
		t.Fatalf("with contribution weighing most, C should lead: %+v", doc.Items)
	}
}

func TestContributionsCountOnlyAcceptedAndDamped(t *testing.T) {
	l := &events{}
	l.add("2026-02-15T00:00:00Z", ds("pool", A, domain.ShareConditional, domain.OpenRestricted))
	l.add("2026-02-16T00:00:00Z", profile(B))
	l.add("2026-02-16T00:00:00Z", profile(C))
	// B declares 2^50 records once; C makes six ordinary contributions of 1,000.
	huge := contribution("cb-huge", "pool", B, A, 1<<50)
	l.add("2026-03-01T00:00:00Z", huge)
	for i := range 6 {
		l.add("2026-03-02T00:00:00Z", contribution(fmt.Sprintf("cb-%d", i), "pool", C, A, 1000))
	}
	// Recorded but not accepted (pending) and rejected claims count for nothing.
	pending := contribution("cb-pending", "pool", C, A, 1<<40)
	pending.Type, pending.Status, pending.Contribution.Status = domain.EventContributionAdded, "pending", domain.ContributionPending
	l.add("2026-03-03T00:00:00Z", pending)
	rejected := contribution("cb-rejected", "pool", B, A, 1<<40)
	rejected.Type, rejected.Status, rejected.Contribution.Status = domain.EventContributionRejected, "rejected", domain.ContributionRejected
	l.add("2026-03-03T00:00:00Z", rejected)
	got := map[string]domain.ScoreItem{}
	for _, it := range compute(t, l, "2026-03", 1000).Items {
		got[it.MSPID] = it
	}
	if b := got[B].Breakdown["contribution"]; b != 50 {
		t.Errorf("one declaration of 2^50 records weighs %v, want 50", b)
	}
	if c := got[C].Breakdown["contribution"]; c != Round(6*ContributionWeight(1000)) {
		t.Errorf("six contributions of 1,000 weigh %v, want %v", c, 6*ContributionWeight(1000))
	}
	if got[B].Breakdown["contribution.norm"] >= 1 {
		t.Errorf("the single huge declaration leads the indicator: %v", got[B].Breakdown)
	}
}
