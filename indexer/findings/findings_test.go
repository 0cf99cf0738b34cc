package findings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/indexer/watch"
)

var dec = block.Decoder{Chaincode: "ledger"}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// chain is a ledger of real blocks: Dept1 owns the data, Dept2 asks for it.
type chain struct {
	t          *testing.T
	c          *blocktest.Chain
	op1, appr1 blocktest.Identity
	op2        blocktest.Identity
	blocks     []*block.Block
}

func newChain(t *testing.T) *chain {
	c := &chain{t: t, c: blocktest.NewChain("datashare"), op1: blocktest.NewIdentity("Dept1MSP", "op1"),
		appr1: blocktest.NewIdentity("Dept1MSP", "appr1"), op2: blocktest.NewIdentity("Dept2MSP", "op2")}
	c.add(c.c.Genesis(blocktest.NewIdentity("OrdererMSP", "orderer")))
	return c
}

func (c *chain) add(raw *common.Block) {
	c.t.Helper()
	b, err := dec.Decode(raw)
	if err != nil {
		c.t.Fatal(err)
	}
	c.blocks = append(c.blocks, b)
}

// at adds a block of one transaction signed by who at time at.
func (c *chain) at(at time.Time, who blocktest.Identity, e *domain.Event) {
	c.add(c.c.Block(blocktest.Tx{Signer: who, Time: at, Event: e}))
}

// story is a ledger in which a grade 4 copy is not destroyed in time (and
// is later), a receipt is late (and arrives), and more records are used
// than delivered: under the default rules.
func story(t *testing.T) *chain {
	c := newChain(t)
	ds := domain.Dataset{ID: "core", Owner: "Dept1MSP", Title: "Core", Fields: []string{"a"}, UpdateFrequency: "daily",
		ShareType: domain.ShareConditional, OpenType: domain.OpenRestricted, Grade: 4, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
	c.at(t0, c.op1, blocktest.DatasetEvent(domain.EventDatasetRegistered, c.op1.Actor(domain.RoleOperator), ds))
	r := domain.Request{ID: "r1", DatasetID: "core", DatasetVersion: 1, Requester: "Dept2MSP", Owner: "Dept1MSP", Fields: []string{"a"},
		Purpose: "p", LegalBasis: "law", ValidUntil: t0.Add(10 * day), Status: domain.RequestPending, CreatedAt: t0}
	c.at(t0.Add(time.Minute), c.op2, blocktest.RequestEvent(domain.EventRequestCreated, c.op2.Actor(domain.RoleOperator), r))
	decided, by := t0.Add(time.Hour), c.appr1.Actor(domain.RoleApprover)
	r.Status, r.DecidedAt, r.DecidedBy = domain.RequestApproved, &decided, &by
	c.at(decided, c.appr1, blocktest.RequestEvent(domain.EventRequestApproved, by, r))
	d := domain.Delivery{ID: "d1", RequestID: "r1", DatasetID: "core", Owner: "Dept1MSP", Requester: "Dept2MSP", SHA256: "aa", Records: 100,
		Bytes: 10, Channel: "sftp", Status: domain.DeliveryDelivered, DeliveredAt: t0.Add(2 * time.Hour), DeliveredBy: c.op1.Actor(domain.RoleOperator)}
	c.at(d.DeliveredAt, c.op1, blocktest.DeliveryEvent(domain.EventDeliveryRecorded, d.DeliveredBy, d))
	u := domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "core", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 1, Records: 150,
		At: t0.Add(3 * time.Hour), By: c.op2.Actor(domain.RoleOperator)}
	c.at(u.At, c.op2, blocktest.UsageEvent(u.By, u))
	// Blocks of other business move the ledger's clock past the receipt
	// window (7 days) and the destroy window (10 + 7 days).
	for i := range 40 {
		at := t0.Add(time.Duration(i+1) * 12 * time.Hour)
		p := domain.Department{MSPID: "Dept1MSP", Name: "Dept 1", Code: "D1", Level: "municipal", UpdatedAt: at}
		c.at(at, c.op1, &domain.Event{Version: 1, Type: domain.EventDepartmentUpdated, Kind: domain.KindDepartment, ID: "Dept1MSP",
			Time: at, Actor: c.op1.Actor(domain.RoleAdmin), Department: &p})
	}
	rec, recBy := t0.Add(21*day), c.op2.Actor(domain.RoleOperator)
	d.Status, d.ReceiptSHA256, d.ReceivedAt, d.ReceivedBy = domain.DeliveryReceived, "aa", &rec, &recBy
	c.at(rec, c.op2, blocktest.DeliveryEvent(domain.EventDeliveryReceived, recBy, d))
	gone := t0.Add(22 * day)
	d.Status, d.DestroyedAt, d.DestroyedBy, d.DestroyMethod = domain.DeliveryDestroyed, &gone, &recBy, "shred"
	c.at(gone, c.op2, blocktest.DeliveryEvent(domain.EventDeliveryDestroyed, recBy, d))
	return c
}

type mirror struct {
	st *store.Store
	f  *findings.Service
}

func open(t *testing.T, dir string) mirror {
	t.Helper()
	st, err := store.Open(dir, store.Options{Channel: "datashare"})
	if err != nil {
		t.Fatal(err)
	}
	scores.Attach(st, nil)
	return mirror{st: st, f: findings.Attach(st, nil)}
}

func (m mirror) apply(t *testing.T, bs []*block.Block) {
	t.Helper()
	for _, b := range bs {
		if err := m.st.ApplyBlock(context.Background(), b); err != nil {
			t.Fatalf("block %d: %v", b.Number, err)
		}
	}
}

func all(t *testing.T, m mirror, f findings.Filter) []watch.Finding {
	t.Helper()
	var out []watch.Finding
	cursor := ""
	for {
		items, next, err := m.f.List(context.Background(), f, 1, cursor)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, items...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func TestFindingsFollowTheLedgerAndSurviveARestart(t *testing.T) {
	c := story(t)
	one := open(t, t.TempDir())
	one.apply(t, c.blocks)
	got := all(t, one, findings.Filter{})
	kinds := map[watch.Kind]watch.Finding{}
	for _, f := range got {
		kinds[f.Kind] = f
	}
	if len(got) != 3 || kinds[watch.KindOveruse].State != watch.StateOpen ||
		kinds[watch.KindReceiptOverdue].State != watch.StateClosed || kinds[watch.KindNotDestroyed].State != watch.StateClosed {
		t.Fatalf("findings = %+v", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].ChangedAtBlock > got[i].ChangedAtBlock {
			t.Fatalf("not in the order of changes: %+v", got)
		}
	}
	if nd := kinds[watch.KindNotDestroyed]; nd.ClosedBy == nil || nd.ClosedBy.Type != domain.EventDeliveryDestroyed || nd.Due == nil ||
		!nd.Due.Equal(t0.Add(17*day)) || nd.Department != "Dept2MSP" {
		t.Fatalf("copy not destroyed = %+v", nd)
	}
	open2 := all(t, one, findings.Filter{State: watch.StateOpen, Department: "Dept2MSP"})
	if len(open2) != 1 || open2[0].Kind != watch.KindOveruse {
		t.Fatalf("open findings of Dept2 = %+v", open2)
	}
	if n := all(t, one, findings.Filter{ChangedFrom: got[len(got)-1].ChangedAtBlock + 1}); len(n) != 0 {
		t.Fatalf("changed after the last change: %+v", n)
	}
	counts, err := one.f.OpenCounts(context.Background())
	if err != nil || len(counts) != 1 || counts[0] != (findings.OpenCount{Kind: watch.KindOveruse, Department: "Dept2MSP", Open: 1}) {
		t.Fatalf("open counts = %+v, %v", counts, err)
	}

	// The same ledger applied with a restart every 7 blocks, each time
	// from the mirror alone: the same findings, the same digest.
	dir := t.TempDir()
	for from := 0; from < len(c.blocks); from += 7 {
		m := open(t, dir)
		m.apply(t, c.blocks[from:min(from+7, len(c.blocks))])
		if err := m.st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	again := open(t, dir)
	defer again.st.Close()
	a, _ := json.Marshal(all(t, again, findings.Filter{}))
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		t.Fatalf("after restarts: %s\nwant %s", a, b)
	}
	d1, err1 := one.st.Digest(context.Background())
	d2, err2 := again.st.Digest(context.Background())
	if err1 != nil || err2 != nil || !bytes.Equal(d1, d2) {
		t.Fatalf("digests differ (%v, %v)", err1, err2)
	}
	one.st.Close()
}

func TestParseFilterRefusesBadValues(t *testing.T) {
	for _, q := range []map[string]string{{"kind": "nope"}, {"state": "maybe"}, {"period": "2026-13"}, {"changedFrom": "-1"}, {"changedFrom": "01"}} {
		if _, err := findings.ParseFilter(func(k string) string { return q[k] }); domain.ErrorCode(err) != domain.CodeInvalid {
			t.Errorf("%v: %v", q, err)
		}
	}
}
