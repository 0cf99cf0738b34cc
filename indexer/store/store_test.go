package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/indexer/writeset"
)

var dec = block.Decoder{Chaincode: "ledger"}

// ledger is a test consortium: two departments' operators, an approver and
// a chain of real blocks.
type ledger struct {
	t        *testing.T
	chain    *blocktest.Chain
	op1, op2 blocktest.Identity
	appr1    blocktest.Identity
	blocks   []*block.Block
}

func newLedger(t *testing.T) *ledger {
	t.Helper()
	l := &ledger{
		t:     t,
		chain: blocktest.NewChain("datashare"),
		op1:   blocktest.NewIdentity("Dept1MSP", "op1"),
		op2:   blocktest.NewIdentity("Dept2MSP", "op2"),
		appr1: blocktest.NewIdentity("Dept1MSP", "approver1"),
	}
	l.add(l.chain.Genesis(blocktest.NewIdentity("OrdererMSP", "orderer")))
	return l
}

func (l *ledger) add(raw *common.Block) *block.Block {
	l.t.Helper()
	b, err := dec.Decode(raw)
	if err != nil {
		l.t.Fatal(err)
	}
	l.blocks = append(l.blocks, b)
	return b
}

func (l *ledger) block(txs ...blocktest.Tx) *block.Block { return l.add(l.chain.Block(txs...)) }

func dataset(id, owner string, share domain.ShareType, grade int) domain.Dataset {
	return domain.Dataset{ID: id, Owner: owner, Title: "Title " + id, Fields: []string{"a", "b"},
		UpdateFrequency: "daily", ShareType: share, OpenType: domain.OpenRestricted, Grade: grade,
		Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
}

func request(id, ds, requester, owner string, st domain.RequestStatus, until time.Time) domain.Request {
	return domain.Request{ID: id, DatasetID: ds, DatasetVersion: 1, Requester: requester, Owner: owner,
		Fields: []string{"a"}, Purpose: "p", LegalBasis: "law", ValidUntil: until, Status: st}
}

// standard builds the ledger most tests read:
// block 1: ds1 (Dept1, conditional, 2), ds2 (Dept2, unconditional, 3), and an MVCC-invalid ds9
// block 2: ds1 v2 now unconditional; request r1 (Dept2 asks Dept1 for ds1, pending)
// block 3: r1 approved by Dept1's approver; ds3 (Dept1, none, 1); r2 (Dept1 asks ds2, approved, already expired)
func standard(t *testing.T) *ledger {
	l := newLedger(t)
	a1, a2 := l.op1.Actor(domain.RoleOperator), l.op2.Actor(domain.RoleOperator)
	l.block(
		blocktest.Tx{ID: "t-ds1", Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, dataset("ds1", "Dept1MSP", domain.ShareConditional, 2))},
		blocktest.Tx{ID: "t-ds2", Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a2, dataset("ds2", "Dept2MSP", domain.ShareUnconditional, 3))},
		blocktest.Tx{ID: "t-ds9", Signer: l.op1, Code: peer.TxValidationCode_MVCC_READ_CONFLICT, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, dataset("ds9", "Dept1MSP", domain.ShareNone, 4))},
	)
	v2 := dataset("ds1", "Dept1MSP", domain.ShareUnconditional, 2)
	v2.Version = 2
	future := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l.block(
		blocktest.Tx{ID: "t-ds1v2", Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a1, v2)},
		blocktest.Tx{ID: "t-r1", Signer: l.op2, Event: blocktest.RequestEvent(domain.EventRequestCreated, a2, request("r1", "ds1", "Dept2MSP", "Dept1MSP", domain.RequestPending, future))},
	)
	l.block(
		blocktest.Tx{ID: "t-r1a", Signer: l.appr1, Event: blocktest.RequestEvent(domain.EventRequestApproved, l.appr1.Actor(domain.RoleApprover), request("r1", "ds1", "Dept2MSP", "Dept1MSP", domain.RequestApproved, future))},
		blocktest.Tx{ID: "t-ds3", Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, dataset("ds3", "Dept1MSP", domain.ShareNone, 1))},
		blocktest.Tx{ID: "t-r2", Signer: l.op1, Event: blocktest.RequestEvent(domain.EventRequestCreated, a1, request("r2", "ds2", "Dept1MSP", "Dept2MSP", domain.RequestApproved, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)))},
	)
	return l
}

func open(t *testing.T, dir string, opt store.Options) *store.Store {
	t.Helper()
	if opt.Channel == "" {
		opt.Channel = "datashare"
	}
	s, err := store.Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	attach(s)
	t.Cleanup(func() { s.Close() })
	return s
}

// services are the scores services of the stores the tests opened: every
// mirror is built with its score aggregates, as the indexer builds it.
var services sync.Map

// attach makes s's scores service (package scores) its block hook.
func attach(s *store.Store) *store.Store {
	services.Store(s, scores.Attach(s, nil))
	return s
}

// scoresOf is the scores service of a store that open or attach made.
func scoresOf(s *store.Store) *scores.Service {
	v, ok := services.Load(s)
	if !ok {
		panic("store opened without its scores service")
	}
	return v.(*scores.Service)
}

func applyAll(t *testing.T, s *store.Store, blocks []*block.Block) {
	t.Helper()
	for _, b := range blocks {
		if err := s.ApplyBlock(context.Background(), b); err != nil {
			t.Fatalf("apply block %d: %v", b.Number, err)
		}
	}
}

func digest(t *testing.T, s *store.Store) []byte {
	t.Helper()
	d, err := s.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, x := range items {
		out = append(out, id(x))
	}
	return out
}

func datasetID(d store.Entity[domain.Dataset]) string { return d.Value.ID }

func TestApplyAndStatus(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	if st := s.Status(); st.Height != 0 || st.GenesisHash != "" || st.Channel != "datashare" {
		t.Fatalf("empty status = %+v", st)
	}
	applyAll(t, s, l.blocks)
	st := s.Status()
	last := l.blocks[len(l.blocks)-1]
	if st.Height != 4 || st.GenesisHash != fmt.Sprintf("%x", l.blocks[0].Hash) || st.LastBlockHash != fmt.Sprintf("%x", last.Hash) || !st.LastBlockTime.Equal(last.Time) {
		t.Fatalf("status = %+v", st)
	}
	rec, err := s.Block(context.Background(), 2)
	if err != nil || rec.Hash != fmt.Sprintf("%x", l.blocks[2].Hash) || rec.PreviousHash != fmt.Sprintf("%x", l.blocks[1].Hash) || rec.TxCount != 2 {
		t.Fatalf("block 2 = %+v, %v", rec, err)
	}
	txs, err := s.Transactions(context.Background(), "t-ds9")
	if err != nil || len(txs) != 1 || txs[0].Validation != "MVCC_READ_CONFLICT" || txs[0].Applied || txs[0].BlockNumber != 1 || txs[0].TxIndex != 2 {
		t.Fatalf("invalid tx record = %+v, %v", txs, err)
	}
	if _, err := s.GetDataset(context.Background(), "ds9"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("dataset of an invalid tx: err %v, want not_found", err)
	}

	// Reopening reads the checkpoint back.
	dir := t.TempDir()
	s2, err := store.Open(dir, store.Options{Channel: "datashare"})
	if err != nil {
		t.Fatal(err)
	}
	attach(s2)
	applyAll(t, s2, l.blocks[:3])
	before := digest(t, s2)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, dir, store.Options{})
	if s3.Height() != 3 || !bytes.Equal(digest(t, s3), before) {
		t.Fatalf("after reopen: height %d, digest changed %v", s3.Height(), !bytes.Equal(digest(t, s3), before))
	}
	applyAll(t, s3, l.blocks[3:])
	if !bytes.Equal(digest(t, s3), digest(t, s)) {
		t.Fatal("a mirror built in two runs differs from one built in one")
	}
}

func TestApplyOrderAndLedgerChecks(t *testing.T) {
	l := standard(t)
	other := newLedger(t) // another channel instance: another genesis
	other.block(blocktest.Tx{Signer: other.op1, NoEvent: true})
	wrongChannel := blocktest.NewChain("elsewhere")
	wc, err := dec.Decode(wrongChannel.Genesis(l.op1))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		applied int // blocks of l applied first
		b       *block.Block
		want    error
	}{
		{"replay of an applied block is a no-op", 3, l.blocks[1], nil},
		{"replay of genesis is a no-op", 3, l.blocks[0], nil},
		{"gap", 2, l.blocks[3], store.ErrGap},
		{"first block must be genesis", 0, l.blocks[1], store.ErrGap},
		{"another ledger's next block", 1, other.blocks[1], store.ErrForeignLedger},
		{"another ledger's genesis", 2, other.blocks[0], store.ErrForeignLedger},
		{"another channel", 0, wc, store.ErrForeignLedger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, t.TempDir(), store.Options{})
			applyAll(t, s, l.blocks[:tt.applied])
			before := digest(t, s)
			err := s.ApplyBlock(context.Background(), tt.b)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ApplyBlock error = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(digest(t, s), before) || s.Height() != uint64(tt.applied) {
				t.Fatal("a refused or repeated block changed the mirror")
			}
		})
	}
}

func TestSplitApplyMatchesSingleTransaction(t *testing.T) {
	// Blocks too big for one Badger transaction of a small memtable are
	// applied in parts; the mirror must come out the same.
	l := newLedger(t)
	var txs []blocktest.Tx
	fields := make([]string, 150)
	for i := range fields {
		fields[i] = fmt.Sprintf("field-with-a-long-name-%03d", i)
	}
	for i := range 40 {
		d := dataset(fmt.Sprintf("big%02d", i), "Dept1MSP", domain.ShareConditional, 2)
		d.Description = strings.Repeat("x", 2000)
		d.Fields = fields
		txs = append(txs, blocktest.Tx{Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, l.op1.Actor(domain.RoleOperator), d)})
	}
	l.block(txs...)
	l.block(txs[0]) // the same event again: an entity overwritten by itself

	small := open(t, t.TempDir(), store.Options{MemTableSize: 1 << 20})
	normal := open(t, t.TempDir(), store.Options{})
	applyAll(t, small, l.blocks)
	applyAll(t, normal, l.blocks)
	if !bytes.Equal(digest(t, small), digest(t, normal)) {
		t.Fatal("split apply differs from single-transaction apply")
	}
	items, _, err := small.ListDatasets(context.Background(), store.DatasetFilter{Owner: "Dept1MSP"}, store.Page{Limit: 1000})
	if err != nil || len(items) != 40 {
		t.Fatalf("listed %d datasets, %v", len(items), err)
	}
}

func TestDigestIsDeterministic(t *testing.T) {
	l := standard(t)
	a := open(t, t.TempDir(), store.Options{})
	b := open(t, t.TempDir(), store.Options{})
	applyAll(t, a, l.blocks)
	applyAll(t, b, l.blocks[:2])
	if bytes.Equal(digest(t, a), digest(t, b)) {
		t.Fatal("mirrors at different heights have the same digest")
	}
	applyAll(t, b, l.blocks) // the first two are no-ops
	if !bytes.Equal(digest(t, a), digest(t, b)) {
		t.Fatal("mirrors of the same ledger differ")
	}
}

func TestReset(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	empty := digest(t, s)
	applyAll(t, s, l.blocks)
	full := digest(t, s)
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Height != 0 || st.GenesisHash != "" || !bytes.Equal(digest(t, s), empty) {
		t.Fatalf("after reset: status %+v", st)
	}
	if _, err := s.GetDataset(context.Background(), "ds1"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("after reset GetDataset err = %v", err)
	}
	applyAll(t, s, l.blocks)
	if !bytes.Equal(digest(t, s), full) {
		t.Fatal("a rebuilt mirror differs from the first")
	}
}

func TestWaitFor(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks[:2])
	ctx := context.Background()
	if err := s.WaitFor(ctx, 1); err != nil {
		t.Fatalf("wait for an applied block: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		done <- s.WaitFor(ctx, 3)
	}()
	applyAll(t, s, l.blocks[2:3])
	select {
	case err := <-done:
		t.Fatalf("wait for block 3 returned %v after block 2", err)
	case <-time.After(50 * time.Millisecond):
	}
	applyAll(t, s, l.blocks[3:])
	if err := <-done; err != nil {
		t.Fatalf("wait for block 3: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.WaitFor(short, 99); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait for a future block: %v", err)
	}
}

func TestDatasets(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	ctx := context.Background()
	d, err := s.GetDataset(ctx, "ds1")
	if err != nil || d.Value.Version != 2 || d.Value.ShareType != domain.ShareUnconditional {
		t.Fatalf("ds1 = %+v, %v", d, err)
	}
	tests := []struct {
		name string
		f    store.DatasetFilter
		want []string
	}{
		{"all", store.DatasetFilter{}, []string{"ds1", "ds2", "ds3"}},
		{"owner", store.DatasetFilter{Owner: "Dept1MSP"}, []string{"ds1", "ds3"}},
		{"share type moved with the update", store.DatasetFilter{ShareType: domain.ShareConditional}, []string{}},
		{"share type", store.DatasetFilter{ShareType: domain.ShareUnconditional}, []string{"ds1", "ds2"}},
		{"grade", store.DatasetFilter{Grade: 2}, []string{"ds1"}},
		{"owner and grade", store.DatasetFilter{Owner: "Dept1MSP", Grade: 1}, []string{"ds3"}},
		{"owner and share type", store.DatasetFilter{Owner: "Dept2MSP", ShareType: domain.ShareNone}, []string{}},
		{"unknown owner", store.DatasetFilter{Owner: "Nobody"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, next, err := s.ListDatasets(ctx, tt.f, store.Page{})
			if err != nil || next != "" || !slices.Equal(ids(items, datasetID), tt.want) {
				t.Fatalf("ListDatasets = %v next %q err %v, want %v", ids(items, datasetID), next, err, tt.want)
			}
			// Walking one at a time gives the same list and ends with no cursor.
			var walked []string
			page := store.Page{Limit: 1}
			for range 10 {
				items, next, err := s.ListDatasets(ctx, tt.f, page)
				if err != nil {
					t.Fatal(err)
				}
				walked = append(walked, ids(items, datasetID)...)
				if next == "" {
					break
				}
				page.Cursor = next
			}
			if !slices.Equal(append([]string{}, walked...), tt.want) {
				t.Fatalf("paged walk = %v, want %v", walked, tt.want)
			}
		})
	}
	if _, _, err := s.ListDatasets(ctx, store.DatasetFilter{}, store.Page{Cursor: "!!"}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("bad cursor err = %v", err)
	}
}

func TestRequestsAndDeliveries(t *testing.T) {
	l := standard(t)
	del := domain.Delivery{ID: "d1", RequestID: "r1", DatasetID: "ds1", Owner: "Dept1MSP", Requester: "Dept2MSP",
		SHA256: strings.Repeat("a", 64), Records: 10, Bytes: 100, Channel: "sftp", Status: domain.DeliveryDelivered}
	l.block(blocktest.Tx{ID: "t-d1", Signer: l.op1, Event: blocktest.DeliveryEvent(domain.EventDeliveryRecorded, l.op1.Actor(domain.RoleOperator), del)})
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := s.GetRequest(ctx, "r2", now)
	if err != nil || r.Value.Status != domain.RequestExpired {
		t.Fatalf("r2 = %+v, %v; want expired", r, err)
	}
	var answered domain.Request
	if err := json.Unmarshal(r.JSON, &answered); err != nil || answered.Status != domain.RequestExpired {
		t.Fatalf("r2 answers %s (%v); want its status expired", r.JSON, err)
	}
	reqID := func(r store.Entity[domain.Request]) string {
		var v domain.Request
		if err := json.Unmarshal(r.JSON, &v); err != nil || v.Status != r.Value.Status {
			t.Fatalf("%s answers %s, its status %s", r.Value.ID, r.JSON, r.Value.Status)
		}
		return r.Value.ID + ":" + string(r.Value.Status)
	}
	tests := []struct {
		name string
		f    store.RequestFilter
		want []string
	}{
		{"all", store.RequestFilter{}, []string{"r1:approved", "r2:expired"}},
		{"dataset", store.RequestFilter{Dataset: "ds1"}, []string{"r1:approved"}},
		{"requester", store.RequestFilter{Requester: "Dept1MSP"}, []string{"r2:expired"}},
		{"owner", store.RequestFilter{Owner: "Dept1MSP"}, []string{"r1:approved"}},
		{"status moved with approval", store.RequestFilter{Status: domain.RequestPending}, []string{}},
		{"approved excludes expired", store.RequestFilter{Status: domain.RequestApproved}, []string{"r1:approved"}},
		{"expired", store.RequestFilter{Status: domain.RequestExpired}, []string{"r2:expired"}},
		{"party as requester or owner", store.RequestFilter{Party: "Dept2MSP"}, []string{"r1:approved", "r2:expired"}},
		{"party with a filter", store.RequestFilter{Party: "Dept3MSP", Dataset: "ds1"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Now = now
			items, _, err := s.ListRequests(ctx, tt.f, store.Page{})
			if err != nil || !slices.Equal(ids(items, reqID), tt.want) {
				t.Fatalf("ListRequests = %v, %v; want %v", ids(items, reqID), err, tt.want)
			}
		})
	}
	ds, _, err := s.ListDeliveries(ctx, store.DeliveryFilter{Request: "r1"}, store.Page{})
	if err != nil || len(ds) != 1 || ds[0].Value.ID != "d1" {
		t.Fatalf("deliveries of r1 = %+v, %v", ds, err)
	}
	ds, _, err = s.ListDeliveries(ctx, store.DeliveryFilter{Party: "Dept3MSP"}, store.Page{})
	if err != nil || len(ds) != 0 {
		t.Fatalf("deliveries of a non-party = %+v, %v", ds, err)
	}
}

func TestTrace(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	ctx := context.Background()
	txID := func(r store.EventRecord) string { return r.TxID }
	tests := []struct {
		name  string
		by    store.TraceBy
		value string
		want  []string
	}{
		{"dataset, with its requests, invalid tx left out", store.TraceDataset, "ds1", []string{"t-ds1", "t-ds1v2", "t-r1", "t-r1a"}},
		{"request", store.TraceRequest, "r1", []string{"t-r1", "t-r1a"}},
		{"department as signer and as party", store.TraceDepartment, "Dept2MSP", []string{"t-ds2", "t-r1", "t-r1a", "t-r2"}},
		{"person", store.TraceActor, l.appr1.Subject, []string{"t-r1a"}},
		{"nothing", store.TraceDataset, "nope", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			page := store.Page{Limit: 1}
			for range 10 {
				items, next, err := s.Trace(ctx, tt.by, tt.value, page)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(items, txID)...)
				if next == "" {
					break
				}
				page.Cursor = next
			}
			if !slices.Equal(append([]string{}, got...), tt.want) {
				t.Fatalf("trace = %v, want %v", got, tt.want)
			}
		})
	}
	items, _, err := s.Trace(ctx, store.TraceRequest, "r1", store.Page{})
	if err != nil || len(items) != 2 {
		t.Fatal(err)
	}
	a := items[1]
	if a.BlockNumber != 3 || a.TxIndex != 0 || a.MSPID != "Dept1MSP" || a.Actor != l.appr1.Subject || a.Role != domain.RoleApprover ||
		a.Type != domain.EventRequestApproved || a.Kind != domain.KindRequest || a.ID != "r1" || a.Status != "approved" ||
		a.Owner != "Dept1MSP" || a.Requester != "Dept2MSP" || len(a.PayloadSHA256) != 64 || !bytes.Contains(a.Event, []byte(`"r1"`)) {
		t.Fatalf("event record = %+v", a)
	}
	hist, _, err := s.EntityEvents(ctx, domain.KindDataset, "ds1", store.Page{})
	if err != nil || !slices.Equal(ids(hist, txID), []string{"t-ds1", "t-ds1v2"}) {
		t.Fatalf("ds1 history = %v, %v", ids(hist, txID), err)
	}
	if _, _, err := s.Trace(ctx, "owner", "x", store.Page{}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("trace by an unknown index: %v", err)
	}
}

// TestTraceRaw checks what the API relies on to send events without
// decoding them: each raw event is exactly the JSON encoding of the record
// Trace decodes, page by page and in TraceEachRaw alike.
func TestTraceRaw(t *testing.T) {
	l := standard(t)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	ctx := context.Background()
	for _, tt := range []struct {
		by    store.TraceBy
		value string
		want  int
	}{{store.TraceDataset, "ds1", 4}, {store.TraceDepartment, "Dept2MSP", 4}, {store.TraceDataset, "nope", 0}} {
		t.Run(string(tt.by)+" "+tt.value, func(t *testing.T) {
			items, _, err := s.Trace(ctx, tt.by, tt.value, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			raw, _, err := s.TraceRaw(ctx, tt.by, tt.value, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			var each [][]byte
			if err := s.TraceEachRaw(ctx, tt.by, tt.value, func(b []byte) error { each = append(each, bytes.Clone(b)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(items) != tt.want || len(raw) != tt.want || len(each) != tt.want {
				t.Fatalf("%d decoded, %d raw, %d each; want %d", len(items), len(raw), len(each), tt.want)
			}
			for i := range items {
				enc, err := json.Marshal(items[i])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, raw[i]) || !bytes.Equal(enc, each[i]) {
					t.Fatalf("event %d:\nencoded %s\nraw     %s\neach    %s", i, enc, raw[i], each[i])
				}
				// The dataset index holds its own copy of each event: it
				// must be the event log's, byte for byte.
				logged, err := s.EventAt(ctx, items[i].BlockNumber, items[i].TxIndex)
				if err != nil {
					t.Fatal(err)
				}
				if enc, _ := json.Marshal(logged); !bytes.Equal(enc, raw[i]) {
					t.Fatalf("event %d in the log:\n%s\nin the trace:\n%s", i, enc, raw[i])
				}
			}
		})
	}
	if _, _, err := s.TraceRaw(ctx, "owner", "x", store.Page{}); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("raw trace by an unknown index: %v", err)
	}
	if err := s.TraceEachRaw(ctx, "owner", "x", func([]byte) error { return nil }); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("raw export by an unknown index: %v", err)
	}
}

func TestCloseStopsGC(t *testing.T) {
	l := standard(t)
	s, err := store.Open(t.TempDir(), store.Options{Channel: "datashare", GCInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, s, l.blocks)
	time.Sleep(20 * time.Millisecond) // let value log GC run a few times
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the GC loop")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// On a random ledger, each trace index walked page by page lists, in
// ledger order, exactly the events about its value (as the mirror's own
// trace entries name them), each page read as one key-ordered scan.
func TestTraceIndexesMatchTheEventLog(t *testing.T) {
	ctx := context.Background()
	l := randomLedger(t, 5, 120, false)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	var all []store.EventRecord
	for _, b := range l.blocks {
		for _, tx := range b.Txs {
			if !tx.Applied {
				continue
			}
			if rec, ok := store.TraceOf(b.Number, tx, writeset.Read(tx)); ok {
				all = append(all, rec)
			}
		}
	}
	about := map[store.TraceBy]func(store.EventRecord) []string{
		store.TraceDataset: func(r store.EventRecord) []string {
			if r.Kind == domain.KindDataset {
				return []string{r.ID, r.DatasetID}
			}
			return []string{r.DatasetID}
		},
		store.TraceRequest: func(r store.EventRecord) []string {
			if r.Kind == domain.KindRequest {
				return []string{r.ID, r.RequestID}
			}
			return []string{r.RequestID}
		},
		store.TraceDepartment: func(r store.EventRecord) []string { return []string{r.MSPID, r.Owner, r.Requester} },
		store.TraceActor:      func(r store.EventRecord) []string { return []string{r.Actor} },
	}
	for by, of := range about {
		values := map[string]bool{}
		for _, r := range all {
			for _, v := range of(r) {
				values[v] = v != ""
			}
		}
		n := 0
		for v, ok := range values {
			if !ok || n > 12 {
				continue
			}
			n++
			var want []string
			for _, r := range all {
				if slices.Contains(of(r), v) {
					want = append(want, r.TxID)
				}
			}
			var got []string
			page := store.Page{Limit: 1 + len(want)/3}
			for pages := 0; ; pages++ {
				items, next, err := s.Trace(ctx, by, v, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) > page.Limit {
					t.Fatalf("%s %s: a page of %d items, limit %d", by, v, len(items), page.Limit)
				}
				got = append(got, ids(items, func(r store.EventRecord) string { return r.TxID })...)
				if next == "" || pages > len(want) {
					break
				}
				page.Cursor = next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("trace by %s %s:\nindex %v\nlog   %v", by, v, got, want)
			}
		}
	}
}
