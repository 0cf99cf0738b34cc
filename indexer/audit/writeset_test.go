package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/audit"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/writeset"
)

// chainState is a fake peer's world state: the history blocktest kept of
// the chain's valid writes, which a test may alter or take down.
type chainState struct {
	mu      sync.Mutex
	chain   *blocktest.Chain
	err     error
	altered map[string][]byte // key -> value served instead of the last version's
}

func (s *chainState) History(_ context.Context, kind domain.Kind, id string) ([]audit.Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	key, err := domain.EntityKey(kind, id)
	if err != nil {
		return nil, err
	}
	h := s.chain.History(key)
	if len(h) == 0 {
		return nil, domain.Errorf(domain.CodeNotFound, "%s %s does not exist", kind, id)
	}
	out := make([]audit.Version, len(h))
	for i, v := range h {
		out[i] = audit.Version{TxID: v.TxID, Delete: v.Delete, Value: v.Value}
	}
	if v, ok := s.altered[key]; ok {
		out[len(out)-1].Value = v
	}
	return out, nil
}

// forgedFixture: block 1 registers ds1 (Dept1) honestly; block 2 holds a
// coalition's transactions: t-content says dataset.updated with a forged
// title while writing ds1's honest v2; t-entity announces ds1 while writing
// ds5; t-silent writes ds6 and sets no event; t-r1 is honest.
func forgedFixture(t *testing.T) (*fixture, *chainState, *blocktest.Chain) {
	t.Helper()
	op1, op2 := blocktest.NewIdentity("Dept1MSP", "op1"), blocktest.NewIdentity("Dept2MSP", "op2")
	a1, a2 := op1.Actor(domain.RoleOperator), op2.Actor(domain.RoleOperator)
	ds := func(id, owner, title string, v int) domain.Dataset {
		return domain.Dataset{ID: id, Owner: owner, Title: title, Fields: []string{"a"}, UpdateFrequency: "daily",
			ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2, Version: v, Status: domain.DatasetActive, DerivedFrom: []string{}}
	}
	w := func(d domain.Dataset) blocktest.Write { return blocktest.EntityWrite(domain.KindDataset, d.ID, d) }
	c := blocktest.NewChain("datashare")
	raw := []*common.Block{
		c.Genesis(op1),
		c.Block(blocktest.Tx{ID: "t-ds1", Signer: op1, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a1, ds("ds1", "Dept1MSP", "Households", 1))}),
		c.Block(
			blocktest.Tx{ID: "t-content", Signer: op2, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a2, ds("ds1", "Dept1MSP", "Forged", 2)),
				Writes: []blocktest.Write{w(ds("ds1", "Dept1MSP", "Households", 2))}},
			blocktest.Tx{ID: "t-entity", Signer: op2, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, a2, ds("ds1", "Dept1MSP", "Forged", 3)),
				Writes: []blocktest.Write{w(ds("ds5", "Dept2MSP", "Five", 1))}},
			blocktest.Tx{ID: "t-silent", Signer: op2, NoEvent: true, Writes: []blocktest.Write{w(ds("ds6", "Dept2MSP", "Six", 1))}},
			blocktest.Tx{ID: "t-r1", Signer: op2, Event: blocktest.RequestEvent(domain.EventRequestCreated, a2, domain.Request{ID: "r1", DatasetID: "ds1",
				Requester: "Dept2MSP", Owner: "Dept1MSP", Fields: []string{"a"}, Purpose: "p", LegalBasis: "l", Status: domain.RequestPending})},
		),
	}
	state := &chainState{chain: c}
	f := &fixture{dir: t.TempDir(), peer: &peerBlocks{blocks: raw}, state: state}
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
	return f, state, c
}

func check(v *audit.Verification, name string) audit.Check {
	for _, c := range v.Checks {
		if c.Name == name {
			return c
		}
	}
	return audit.Check{Name: "missing " + name}
}

func TestVerifyReportsAnomalies(t *testing.T) {
	f, _, _ := forgedFixture(t)
	ctx := context.Background()
	tests := []struct {
		tx      string
		anomaly string // "" for an honest tx
	}{
		{"t-ds1", ""},
		{"t-r1", ""},
		{"t-content", writeset.CheckEventContent},
		{"t-entity", writeset.CheckEventEntity},
		{"t-silent", writeset.CheckEventMissing},
	}
	for _, tt := range tests {
		t.Run(tt.tx, func(t *testing.T) {
			v, err := f.aud.Verify(ctx, tt.tx)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Checks) != 10 {
				t.Fatalf("%d checks: %+v", len(v.Checks), v.Checks)
			}
			ws := check(v, "event.writeSet")
			if tt.anomaly == "" {
				if !v.Verified || v.Anomaly != nil {
					t.Fatalf("an honest tx: %+v", v)
				}
				return
			}
			if v.Verified || ws.OK || !strings.HasPrefix(ws.Detail, tt.anomaly+":") || v.Anomaly == nil || v.Anomaly.Check != tt.anomaly {
				t.Fatalf("anomaly %s not reported: %+v", tt.anomaly, v)
			}
			// The mirror did its part right: every other check passes.
			for _, c := range v.Checks {
				if c.Name != "event.writeSet" && !c.OK {
					t.Errorf("check %s failed too: %s", c.Name, c.Detail)
				}
			}
		})
	}
}

func TestVerifyComparesThePeersState(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		tx       string
		setup    func(*testing.T, *fixture, *chainState, *blocktest.Chain)
		verified bool
		failed   []string
		detail   string // in state.peer's detail
	}{
		{"latest change: the peer's current state", "t-content", nil, false, []string{"event.writeSet"}, "is the peer's current state"},
		{"changed since: the peer's version from this tx", "t-ds1", nil, true, nil, "is the peer's current state"},
		{"the peer ahead of the mirror", "t-r1", func(t *testing.T, f *fixture, s *chainState, c *blocktest.Chain) {
			op2 := blocktest.NewIdentity("Dept2MSP", "op2")
			c.Block(blocktest.Tx{ID: "t-r1x", Signer: op2, Event: blocktest.RequestEvent(domain.EventRequestRevoked, op2.Actor(domain.RoleApprover),
				domain.Request{ID: "r1", DatasetID: "ds1", Requester: "Dept2MSP", Owner: "Dept1MSP", Status: domain.RequestRevoked})})
		}, true, nil, "1 later, not yet indexed"},
		{"the peer's state differs from the mirror's", "t-r1", func(t *testing.T, f *fixture, s *chainState, c *blocktest.Chain) {
			key, _ := domain.EntityKey(domain.KindRequest, "r1")
			s.altered = map[string][]byte{key: []byte(`{"id":"r1","status":"approved"}`)}
		}, false, []string{"state.peer"}, "differs from the value in block 2"},
		{"the mirror's entity tampered with", "t-silent", func(t *testing.T, f *fixture, s *chainState, c *blocktest.Chain) {
			f.tamper(t, "ent/", `"title":"Six"`, func(v []byte) []byte { return bytes.Replace(v, []byte("Six"), []byte("Seven"), 1) })
		}, false, []string{"event.entity", "event.writeSet", "state.peer"}, "differs from the peer's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, s, c := forgedFixture(t)
			if tt.setup != nil {
				tt.setup(t, f, s, c)
			}
			v, err := f.aud.Verify(ctx, tt.tx)
			if err != nil {
				t.Fatal(err)
			}
			var failed []string
			for _, c := range v.Checks {
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			if v.Verified != tt.verified || strings.Join(failed, " ") != strings.Join(tt.failed, " ") {
				t.Fatalf("verified %v, failed %v; want %v, %v: %+v", v.Verified, failed, tt.verified, tt.failed, v.Checks)
			}
			if d := check(v, "state.peer").Detail; !strings.Contains(d, tt.detail) {
				t.Fatalf("state.peer detail %q, want %q in it", d, tt.detail)
			}
		})
	}

	f, s, _ := forgedFixture(t)
	s.err = errors.New("connection refused")
	if _, err := f.aud.Verify(ctx, "t-r1"); domain.ErrorCode(err) != domain.CodeUnavailable {
		t.Fatalf("peer state down: %v", err)
	}
	s.err = domain.Errorf(domain.CodeNotFound, "request r1 does not exist")
	v, err := f.aud.Verify(ctx, "t-r1")
	if err != nil || v.Verified || check(v, "state.peer").OK {
		t.Fatalf("an entity the peer does not hold: %+v, %v", v, err)
	}
}
