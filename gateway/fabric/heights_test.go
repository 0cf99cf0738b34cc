package fabric

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// peers is a fake consortium: each department's height, which the test
// raises, and the questions asked of each.
type peers struct {
	mu       sync.Mutex
	height   map[string]uint64
	fail     map[string]error
	asked    map[string]int
	inFlight map[string]int
	maxIn    atomic.Int64
	delay    time.Duration
}

func newPeers(h map[string]uint64) *peers {
	return &peers{height: h, fail: map[string]error{}, asked: map[string]int{}, inFlight: map[string]int{}}
}

func (p *peers) query(ctx context.Context, org string) (uint64, error) {
	p.mu.Lock()
	p.asked[org]++
	p.inFlight[org]++
	if n := int64(p.inFlight[org]); n > p.maxIn.Load() {
		p.maxIn.Store(n)
	}
	p.mu.Unlock()
	time.Sleep(p.delay)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[org]--
	if err := p.fail[org]; err != nil {
		return 0, err
	}
	return p.height[org], nil
}

func (p *peers) set(org string, h uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.height[org] = h
}

func (p *peers) orgs(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for o := range p.height {
		out = append(out, o)
	}
	return out, nil
}

var testHeightOptions = HeightOptions{MaxWait: 2 * time.Second, Interval: time.Millisecond, OrgsEvery: time.Minute,
	DownFor: time.Minute, Query: time.Second}

func TestHeightsAwait(t *testing.T) {
	t.Run("peers already there: asked once, then known", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 11, "B": 11})
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		if err := h.Await(context.Background(), 10, nil); err != nil {
			t.Fatal(err)
		}
		if s := h.Stats(); s.Writes != 1 || s.Waited != 1 || s.Queries != 2 {
			t.Errorf("stats %+v, want 1 wait that asked both peers", s)
		}
		// Known now: a second wait for the same block asks nobody.
		before := p.asked["A"] + p.asked["B"]
		if err := h.Await(context.Background(), 10, []string{"A", "B"}); err != nil {
			t.Fatal(err)
		}
		if after := p.asked["A"] + p.asked["B"]; after != before {
			t.Errorf("asked %d more times for heights already known", after-before)
		}
		if s := h.Stats(); s.Writes != 2 || s.Waited != 1 {
			t.Errorf("stats %+v, want the second wait not to have waited", s)
		}
	})
	t.Run("waits for the peer that is behind, and only the ones named", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 11, "B": 5, "C": 0})
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		done := make(chan error, 1)
		go func() { done <- h.Await(context.Background(), 10, []string{"A", "B"}) }()
		select {
		case err := <-done:
			t.Fatalf("returned (%v) while B is at height 5", err)
		case <-time.After(50 * time.Millisecond):
		}
		p.set("B", 11)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(time.Second):
			t.Fatal("still waiting once B has block 10")
		}
		if p.asked["C"] != 0 {
			t.Errorf("asked C %d times; it was not named", p.asked["C"])
		}
		if s := h.Stats(); s.Waited != 1 || s.TimedOut != 0 || s.WaitTime < 50*time.Millisecond {
			t.Errorf("stats %+v, want one wait of 50 ms or more", s)
		}
	})
	t.Run("one question at a time per peer, however many wait", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 0})
		p.delay = 2 * time.Millisecond
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.Await(context.Background(), uint64(i%5), []string{"A"}); err != nil {
					t.Error(err)
				}
			}()
		}
		time.Sleep(30 * time.Millisecond)
		p.set("A", 5)
		wg.Wait()
		if n := p.maxIn.Load(); n != 1 {
			t.Errorf("%d questions to A in flight at once, want 1", n)
		}
	})
	t.Run("gives up after MaxWait and says so", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 3})
		opt := testHeightOptions
		opt.MaxWait = 40 * time.Millisecond
		h := NewHeights(p.query, p.orgs, opt)
		start := time.Now()
		if err := h.Await(context.Background(), 10, []string{"A"}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("returned after %v, before MaxWait", d)
		}
		if s := h.Stats(); s.TimedOut != 1 {
			t.Errorf("stats %+v, want one timeout", s)
		}
	})
	t.Run("a peer that does not answer is left out", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 11, "B": 0})
		p.fail["B"] = errors.New("connection refused")
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		start := time.Now()
		if err := h.Await(context.Background(), 10, nil); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("waited %v for a peer that is down", d)
		}
		// Left out for DownFor: not asked again meanwhile.
		asked := p.asked["B"]
		if err := h.Await(context.Background(), 10, nil); err != nil {
			t.Fatal(err)
		}
		if p.asked["B"] != asked {
			t.Errorf("asked B again while it is left out")
		}
	})
	t.Run("the caller's context ends the wait", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 0})
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := h.Await(ctx, 10, []string{"A"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the context's", err)
		}
	})
	t.Run("Saw counts as known", func(t *testing.T) {
		p := newPeers(map[string]uint64{"A": 0})
		h := NewHeights(p.query, p.orgs, testHeightOptions)
		h.Saw("A", 8)
		if err := h.Await(context.Background(), 7, []string{"A"}); err != nil {
			t.Fatal(err)
		}
		if p.asked["A"] != 0 {
			t.Errorf("asked A %d times for a height it was seen at", p.asked["A"])
		}
	})
}

func TestFloorAfter(t *testing.T) {
	conflict := func(code peer.TxValidationCode, block string) error {
		e := commitFailure("tx1", code, errors.New("invalid"))
		if block != "" {
			e.Domain.WithDetail("blockNumber", block)
		}
		return e
	}
	for _, c := range []struct {
		name    string
		prev    uint64
		set     bool
		err     error
		want    uint64
		wantSet bool
	}{
		{"MVCC conflict sets the floor", 0, false, conflict(peer.TxValidationCode_MVCC_READ_CONFLICT, "12"), 12, true},
		{"phantom conflict raises it", 5, true, conflict(peer.TxValidationCode_PHANTOM_READ_CONFLICT, "12"), 12, true},
		{"never lowers it", 20, true, conflict(peer.TxValidationCode_MVCC_READ_CONFLICT, "12"), 20, true},
		{"another failure leaves it", 0, false, conflict(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, "12"), 0, false},
		{"no block, no floor", 0, false, conflict(peer.TxValidationCode_MVCC_READ_CONFLICT, ""), 0, false},
		{"no error", 3, true, nil, 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, set := floorAfter(c.prev, c.set, c.err)
			if got != c.want || set != c.wantSet {
				t.Errorf("floorAfter = %d, %v; want %d, %v", got, set, c.want, c.wantSet)
			}
		})
	}
}

// TestEndorsers reads the endorsing departments out of a prepared
// transaction as fabric-gateway holds it.
func TestEndorsers(t *testing.T) {
	endorsement := func(mspID string) *peer.Endorsement {
		id, _ := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: []byte("cert of " + mspID)})
		return &peer.Endorsement{Endorser: id, Signature: []byte("sig")}
	}
	mustB := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cap := mustB(proto.Marshal(&peer.ChaincodeActionPayload{Action: &peer.ChaincodeEndorsedAction{
		ProposalResponsePayload: mustB(proto.Marshal(&peer.ProposalResponsePayload{ProposalHash: []byte("h"),
			Extension: mustB(proto.Marshal(&peer.ChaincodeAction{Response: &peer.Response{Status: 200, Payload: []byte(`{}`)}}))})),
		Endorsements: []*peer.Endorsement{endorsement("Dept2MSP"), endorsement("Dept1MSP"), endorsement("Dept2MSP")},
	}}))
	txBytes := mustB(proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Payload: cap}}}))
	chdr := mustB(proto.Marshal(&common.ChannelHeader{Type: int32(common.HeaderType_ENDORSER_TRANSACTION), TxId: "tx1", ChannelId: "ch"}))
	payload := mustB(proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: chdr}, Data: txBytes}))
	prepared := mustB(proto.Marshal(&gateway.PreparedTransaction{TransactionId: "tx1", Envelope: &common.Envelope{Payload: payload}}))

	conn, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := newPerson(t, "operator1", "operator")
	gw, err := client.Connect(p.ID, client.WithClientConnection(conn), client.WithSign(p.Sign))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	tx, err := gw.NewTransaction(prepared)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Endorsers(tx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "Dept1MSP" || got[1] != "Dept2MSP" {
		t.Errorf("Endorsers = %v, want [Dept1MSP Dept2MSP]", got)
	}
}
