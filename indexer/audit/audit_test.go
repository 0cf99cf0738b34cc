package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/indexer/store"
)

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	dec   = block.Decoder{Chaincode: "ledger"}
)

// peerBlocks is a fake peer: the raw blocks of a chain, which a test may
// alter, or an error.
type peerBlocks struct {
	mu     sync.Mutex
	blocks []*common.Block
	err    error
}

func (p *peerBlocks) Block(_ context.Context, n uint64) (*common.Block, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	if n >= uint64(len(p.blocks)) {
		return nil, errors.New("no such block")
	}
	return p.blocks[n], nil
}

func (p *peerBlocks) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	blocks := p.blocks
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for i := start; i < uint64(len(blocks)); i++ {
			select {
			case ch <- blocks[i]:
			case <-ctx.Done():
				return
			}
		}
		<-ctx.Done()
	}()
	return ch, nil
}

type fixture struct {
	dir   string
	store *store.Store
	peer  *peerBlocks
	state audit.State // the peer's world state; nil for none
	aud   audit.Auditor
}

// newFixture: block 1 registers ds1 and an MVCC-invalid ds9; block 2
// updates ds1 and creates request r1; block 3 approves r1.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	op1, op2 := blocktest.NewIdentity("Dept1MSP", "op1"), blocktest.NewIdentity("Dept2MSP", "op2")
	a1, a2 := op1.Actor(domain.RoleOperator), op2.Actor(domain.RoleOperator)
	ds := func(v int) domain.Dataset {
		return domain.Dataset{ID: "ds1", Owner: "Dept1MSP", Title: "Households", Fields: []string{"a"}, UpdateFrequency: "daily",
			ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2, Version: v, Status: domain.DatasetActive, DerivedFrom: []string{}}
	}
	rq := func(st domain.RequestStatus) domain.Request {
		return domain.Request{ID: "r1", DatasetID: "ds1", Requester: "Dept2MSP", Owner: "Dept1MSP", Fields: []string{"a"},
			Purpose: "benefits", LegalBasis: "law", Status: st, ValidUntil: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	}
	c := blocktest.NewChain("datashare")
	raw := []*common.Block{
		c.Genesis(op1),
		c.Block(
			blocktest.Tx{ID: "t-ds1", Signer: op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds(1))},
			blocktest.Tx{ID: "t-ds9", Signer: op1, Code: peer.TxValidationCode_MVCC_READ_CONFLICT, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds(1))},
		),
		c.Block(
			blocktest.Tx{ID: "t-ds1v2", Signer: op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a1, ds(2))},
			blocktest.Tx{ID: "t-r1", Signer: op2, Event: blocktest.RequestEvent(domain.EventRequestCreated, a2, rq(domain.RequestPending))},
		),
		c.Block(blocktest.Tx{ID: "t-r1a", Signer: op1, Event: blocktest.RequestEvent(domain.EventRequestApproved, a1, rq(domain.RequestApproved))}),
	}
	f := &fixture{dir: t.TempDir(), peer: &peerBlocks{blocks: raw}}
	f.open(t)
	for _, r := range raw {
		b, err := dec.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.ApplyBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	st, err := store.Open(f.dir, store.Options{Channel: "datashare", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	f.aud = audit.Auditor{Mirror: st, Ledger: source.AuditLedger{Reader: f.peer, Decoder: dec}, State: f.state}
}

// tamper closes the store, rewrites in Badger the first value under prefix
// whose value contains marker, and reopens the store.
func (f *fixture) tamper(t *testing.T, prefix, marker string, edit func([]byte) []byte) {
	t.Helper()
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(f.dir).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	done := false
	err = db.Update(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if bytes.Contains(v, []byte(marker)) {
				k := it.Item().KeyCopy(nil)
				done = true
				return txn.Set(k, edit(v))
			}
		}
		return nil
	})
	if err != nil || !done {
		t.Fatalf("tamper %s %s: %v (found %v)", prefix, marker, err, done)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(t)
}

func checks(v *audit.Verification) map[string]bool {
	m := map[string]bool{}
	for _, c := range v.Checks {
		m[c.Name] = c.OK
	}
	return m
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tx := range []string{"t-ds1", "t-ds1v2", "t-r1", "t-r1a"} {
		v, err := f.aud.Verify(ctx, tx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Verified || len(v.Checks) != 9 { // without a State: no state.peer check
			t.Fatalf("%s: %+v", tx, v)
		}
	}
	v, _ := f.aud.Verify(ctx, "t-ds1v2")
	if v.BlockNumber != 2 || v.TxIndex != 0 || v.TxID != "t-ds1v2" {
		t.Fatalf("position %+v", v)
	}
	v, err := f.aud.Verify(ctx, "t-ds9")
	if err != nil || v.Verified || checks(v)["tx.validationCode"] || !checks(v)["block.headerHash"] {
		t.Fatalf("an invalid transaction: %+v, %v", v, err)
	}
	if _, err := f.aud.Verify(ctx, "nope"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("unknown tx: %v", err)
	}
	f.peer.err = errors.New("connection refused")
	if _, err := f.aud.Verify(ctx, "t-ds1"); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("peer down: %v", err)
	}
	f.peer.err = nil
}

func TestVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		tx        string
		tamper    func(*testing.T, *fixture)
		wantFail  string
		stillOKs  []string
		entityMsg string
	}{
		{"entity state rewritten", "t-ds1v2", func(t *testing.T, f *fixture) {
			f.tamper(t, "ent/", `"title":"Households"`, func(v []byte) []byte {
				return bytes.Replace(v, []byte(`"title":"Households"`), []byte(`"title":"Households (edited)"`), 1)
			})
		}, "event.entity", []string{"event.payloadSha256", "block.headerHash"}, ""},
		{"event copy rewritten", "t-r1", func(t *testing.T, f *fixture) {
			f.tamper(t, "event/", `"txId":"t-r1"`, func(v []byte) []byte {
				return bytes.Replace(v, []byte(`benefits`), []byte(`marketing`), 1)
			})
		}, "event.payloadSha256", []string{"tx.position"}, ""},
		{"event record rewritten", "t-r1", func(t *testing.T, f *fixture) {
			f.tamper(t, "event/", `"txId":"t-r1"`, func(v []byte) []byte {
				return bytes.Replace(v, []byte(`"requester":"Dept2MSP"`), []byte(`"requester":"Dept3MSP"`), 1)
			})
		}, "event.record", []string{"event.payloadSha256"}, ""},
		{"block record rewritten", "t-r1", func(t *testing.T, f *fixture) {
			f.tamper(t, "block/", `"number":2`, func(v []byte) []byte {
				return bytes.Replace(v, []byte(`"hash":"`), []byte(`"hash":"00`), 1)
			})
		}, "block.headerHash", []string{"event.payloadSha256", "block.dataHash"}, ""},
		{"ledger block data altered at the peer", "t-r1", func(t *testing.T, f *fixture) {
			altered := proto.Clone(f.peer.blocks[2]).(*common.Block)
			d := altered.Data.Data
			d[0], d[1] = d[1], d[0]
			f.peer.blocks[2] = altered
		}, "block.dataHash", []string{"block.headerHash"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.tamper(t, f)
			v, err := f.aud.Verify(ctx, tt.tx)
			if err != nil {
				t.Fatal(err)
			}
			c := checks(v)
			if v.Verified || c[tt.wantFail] {
				t.Fatalf("tampering not found: %+v", v)
			}
			for _, name := range tt.stillOKs {
				if !c[name] {
					t.Errorf("check %s failed too: %+v", name, v)
				}
			}
		})
	}
}

func TestChain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rep, err := f.aud.Chain(ctx, 0, 3)
	if err != nil || !rep.Verified || rep.Blocks != 4 || len(rep.Checks) != 3 || len(rep.Failures) != 0 {
		t.Fatalf("chain 0-3: %+v, %v", rep, err)
	}
	if rep, err := f.aud.Chain(ctx, 2, 3); err != nil || !rep.Verified || rep.Blocks != 2 {
		t.Fatalf("chain 2-3: %+v, %v", rep, err)
	}
	for _, r := range [][2]uint64{{3, 2}, {0, 4}, {0, audit.MaxChainBlocks}} {
		if _, err := f.aud.Chain(ctx, r[0], r[1]); domain.ErrorCode(err) != domain.CodeInvalid {
			t.Fatalf("chain %v: %v", r, err)
		}
	}
	// The peer serves a block whose data was altered: its data no longer
	// hashes to its header.
	altered := proto.Clone(f.peer.blocks[1]).(*common.Block)
	altered.Data.Data[0], altered.Data.Data[1] = altered.Data.Data[1], altered.Data.Data[0]
	f.peer.blocks[1] = altered
	rep, err = f.aud.Chain(ctx, 0, 3)
	if err != nil || rep.Verified || len(rep.Failures) != 1 || rep.Failures[0].Block != 1 || rep.Failures[0].Check != "dataHash" {
		t.Fatalf("altered data: %+v, %v", rep, err)
	}
	// A peer block whose header was rewritten breaks the link to the next
	// one and disagrees with the mirror.
	hdr := proto.Clone(f.peer.blocks[2]).(*common.Block)
	hdr.Header.DataHash = block.DataHash(hdr.Data)
	hdr.Header.PreviousHash = []byte("forged")
	f.peer.blocks[2] = hdr
	rep, err = f.aud.Chain(ctx, 2, 3)
	names := map[string]bool{}
	for _, fl := range rep.Failures {
		names[fl.Check+"@"+string(rune('0'+fl.Block))] = true
	}
	if err != nil || rep.Verified || !names["headerHash@2"] || !names["previousHash@2"] || !names["previousHash@3"] {
		t.Fatalf("forged header: %+v, %v", rep.Failures, err)
	}
	f.peer.err = errors.New("down")
	if _, err := f.aud.Chain(ctx, 0, 1); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("peer down: %v", err)
	}
	if !strings.Contains(rep.Checks[0].Detail, "of 2 blocks") {
		t.Fatalf("detail %q", rep.Checks[0].Detail)
	}
}
