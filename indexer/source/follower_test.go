package source_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/indexer/store"
)

// fakeLedger serves a fixed chain. Each call to Blocks takes the next
// session script: how many blocks to send before the stream breaks (-1: never
// break, wait for ctx), or an error to fail the call with, or an offset to
// start from instead of the one asked for.
type fakeLedger struct {
	chain []*common.Block

	mu       sync.Mutex
	sessions []session
	starts   []uint64
	// heightAsked, when set, holds back the blocks until the follower has
	// asked the height (closed by Height), so that a test of the loading
	// switch does not race the first poll.
	heightAsked chan struct{}
	askedOnce   sync.Once
}

type session struct {
	send  int // blocks to send before closing; -1 sends all and waits
	err   error
	shift int // added to the start block: a misbehaving peer
}

func (l *fakeLedger) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	if l.heightAsked != nil {
		select {
		case <-l.heightAsked:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l.mu.Lock()
	l.starts = append(l.starts, start)
	s := session{send: -1}
	if len(l.sessions) > 0 {
		s, l.sessions = l.sessions[0], l.sessions[1:]
	}
	l.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		sent := 0
		for i := int(start) + s.shift; i < len(l.chain); i++ {
			if s.send >= 0 && sent == s.send {
				return
			}
			select {
			case ch <- l.chain[i]:
				sent++
			case <-ctx.Done():
				return
			}
		}
		if s.send < 0 {
			<-ctx.Done()
		}
	}()
	return ch, nil
}

func (l *fakeLedger) Height(context.Context) (uint64, error) {
	if l.heightAsked != nil {
		l.askedOnce.Do(func() { close(l.heightAsked) })
	}
	return uint64(len(l.chain)), nil
}

func (l *fakeLedger) startsSeen() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.starts)
}

func makeChain(t *testing.T, n int) []*common.Block {
	t.Helper()
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	c := blocktest.NewChain("datashare")
	out := []*common.Block{c.Genesis(op)}
	for i := 1; i < n; i++ {
		d := domain.Dataset{ID: "ds" + string(rune('a'+i)), Owner: "Dept1MSP", Title: "t", Fields: []string{"f"},
			UpdateFrequency: "daily", ShareType: domain.ShareConditional, OpenType: domain.OpenClosed, Grade: 2,
			Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
		out = append(out, c.Block(blocktest.Tx{Signer: op, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), d)}))
	}
	return out
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir(), store.Options{Channel: "datashare", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func follower(l source.Ledger, s source.Sink) *source.Follower {
	return &source.Follower{Ledger: l, Sink: s, Decoder: block.Decoder{Chaincode: "ledger"}, Log: quiet,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollHeight: time.Millisecond}
}

// runUntil runs f until the store reaches height, then stops it.
func runUntil(t *testing.T, f *source.Follower, s *store.Store, height uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	err := s.WaitFor(wctx, height-1)
	cancel()
	if runErr := <-done; !errors.Is(runErr, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", runErr)
	}
	if err != nil {
		t.Fatalf("store reached height %d of %d: %v", s.Height(), height, err)
	}
}

func TestFollowerResumesFromCheckpoint(t *testing.T) {
	chain := makeChain(t, 8)
	tests := []struct {
		name       string
		sessions   []session
		wantStarts []uint64
	}{
		{"one stream", nil, []uint64{0}},
		{"stream breaks twice", []session{{send: 3}, {send: 2}}, []uint64{0, 3, 5}},
		{"connect fails, then works", []session{{err: errors.New("unavailable")}, {err: errors.New("unavailable")}}, []uint64{0, 0, 0}},
		{"peer resends applied blocks", []session{{send: 4}, {shift: -3, send: -1}}, []uint64{0, 4}},
		{"peer skips a block: a gap, retried", []session{{send: 2}, {shift: 1, send: 1}}, []uint64{0, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &fakeLedger{chain: chain, sessions: slices.Clone(tt.sessions)}
			s := openStore(t)
			f := follower(l, s)
			runUntil(t, f, s, uint64(len(chain)))
			if got := l.startsSeen(); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("stream starts = %v, want %v", got, tt.wantStarts)
			}
			if f.LedgerHeight() != uint64(len(chain)) {
				t.Fatalf("ledger height = %d", f.LedgerHeight())
			}
			if !bytes.Equal(digestOf(t, s), directDigest(t, chain)) {
				t.Fatal("followed mirror differs from one applied directly")
			}
		})
	}
}

func TestFollowerChecksGenesisOnResume(t *testing.T) {
	chain := makeChain(t, 6)
	s := openStore(t)
	dec := block.Decoder{Chaincode: "ledger"}
	for _, raw := range chain[:3] {
		b, _ := dec.Decode(raw)
		if err := s.ApplyBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	l := &fakeLedger{chain: chain, sessions: []session{{send: 1}, {send: 1}}}
	runUntil(t, follower(l, s), s, uint64(len(chain)))
	// Block 0 once, to check the genesis; then from the checkpoint each time.
	if got, want := l.startsSeen(), []uint64{0, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("stream starts = %v, want %v", got, want)
	}
}

// snapshotLedger is a peer joined from a snapshot: it holds the blocks
// from first on only.
type snapshotLedger struct {
	*fakeLedger
	first uint64
}

func (l snapshotLedger) FirstBlock(context.Context) (uint64, error) { return l.first, nil }

func (l snapshotLedger) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	if start < l.first {
		// The peer has no such block: the stream ends with nothing.
		l.fakeLedger.mu.Lock()
		l.fakeLedger.starts = append(l.fakeLedger.starts, start)
		l.fakeLedger.mu.Unlock()
		ch := make(chan *common.Block)
		close(ch)
		return ch, nil
	}
	return l.fakeLedger.Blocks(ctx, start)
}

// A mirror resumed on a peer joined from a snapshot is checked by the last
// block it applied when the peer has it, by the next block's link when the
// peer begins right after the mirror, and is refused (retried, never
// skipping a block) when it stops before the peer's first block.
func TestFollowerResumesOnSnapshotPeer(t *testing.T) {
	chain := makeChain(t, 8)
	dec := block.Decoder{Chaincode: "ledger"}
	mirror := func(t *testing.T, n int) *store.Store {
		s := openStore(t)
		for _, raw := range chain[:n] {
			b, _ := dec.Decode(raw)
			if err := s.ApplyBlock(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	for _, tt := range []struct {
		name       string
		applied    int
		first      uint64
		wantStarts []uint64
	}{
		{"peer holds the mirror's last block", 5, 3, []uint64{4, 5}},
		{"peer begins at the mirror's next block", 5, 5, []uint64{5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := mirror(t, tt.applied)
			l := snapshotLedger{fakeLedger: &fakeLedger{chain: chain}, first: tt.first}
			runUntil(t, follower(l, s), s, uint64(len(chain)))
			if got := l.startsSeen(); !slices.Equal(got, tt.wantStarts) {
				t.Fatalf("stream starts = %v, want %v", got, tt.wantStarts)
			}
		})
	}
	t.Run("mirror stops before the peer's first block", func(t *testing.T) {
		s := mirror(t, 2)
		l := snapshotLedger{fakeLedger: &fakeLedger{chain: chain}, first: 4}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := follower(l, s).Run(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run = %v, want it to keep retrying until ctx ends", err)
		}
		if s.Height() != 2 || len(l.startsSeen()) != 0 {
			t.Fatalf("height %d, streams %v: want the mirror untouched and no stream asked for", s.Height(), l.startsSeen())
		}
	})
	// A block of another ledger at the mirror's last height is fatal, as
	// block 0 of another ledger is.
	t.Run("peer of another ledger", func(t *testing.T) {
		s := mirror(t, 5)
		other := makeChain(t, 8)
		l := snapshotLedger{fakeLedger: &fakeLedger{chain: other}, first: 3}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var fe *source.Fatal
		if err := follower(l, s).Run(ctx); !errors.As(err, &fe) {
			t.Fatalf("Run = %v, want a Fatal error", err)
		}
	})
}

func TestFollowerStopsOnFatal(t *testing.T) {
	ours := makeChain(t, 4)
	theirs := makeChain(t, 2) // another genesis: new identities, other hashes
	broken := makeChain(t, 3)
	broken[2].Data.Data[0] = append(broken[2].Data.Data[0], 0) // data hash no longer matches

	tests := []struct {
		name    string
		before  []*common.Block // applied to the store first
		serve   []*common.Block
		wantErr error
	}{
		{"ledger replaced by a shorter one", ours[:3], theirs, store.ErrForeignLedger},
		{"ledger replaced at the resume point", ours[:2], append(append([]*common.Block{}, ours[:2]...), theirs[1:]...), store.ErrForeignLedger},
		{"undecodable block", nil, broken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t)
			dec := block.Decoder{Chaincode: "ledger"}
			for _, raw := range tt.before {
				b, _ := dec.Decode(raw)
				if err := s.ApplyBlock(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			f := follower(&fakeLedger{chain: tt.serve}, s)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := f.Run(ctx)
			var fatal *source.Fatal
			if !errors.As(err, &fatal) {
				t.Fatalf("Run returned %v, want a Fatal error", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run returned %v, want %v", err, tt.wantErr)
			}
			if s.Height() != uint64(max(len(tt.before), 2)) && tt.before != nil {
				t.Fatalf("height changed to %d", s.Height())
			}
		})
	}
}

// loadingSink is the store, recording each switch of its loading options.
type loadingSink struct {
	*store.Store
	mu       sync.Mutex
	switches []bool
	heights  []uint64
}

func (l *loadingSink) SetLoading(on bool) error {
	l.mu.Lock()
	l.switches = append(l.switches, on)
	l.heights = append(l.heights, l.Height())
	l.mu.Unlock()
	return l.Store.SetLoading(on)
}

// TestFollowerLoadsWhileFarBehind: a mirror far behind the peer switches
// to the loading options, and back near the head; the mirror is the same,
// byte for byte, as one applied block by block with the usual options.
func TestFollowerLoadsWhileFarBehind(t *testing.T) {
	chain := makeChain(t, 40)
	l := &fakeLedger{chain: chain, heightAsked: make(chan struct{})}
	s := &loadingSink{Store: openStore(t)}
	f := follower(l, s)
	f.PollHeight = time.Hour // asked once, at the start: 40 blocks
	f.LoadFrom, f.LoadUntil = 10, 3
	runUntil(t, f, s.Store, uint64(len(chain)))
	s.mu.Lock()
	switches, heights := slices.Clone(s.switches), slices.Clone(s.heights)
	s.mu.Unlock()
	if !slices.Equal(switches, []bool{true, false}) || s.Loading() {
		t.Fatalf("loading switched %v at heights %v, loading now %v; want on, then off", switches, heights, s.Loading())
	}
	if heights[1] < uint64(len(chain))-3 || heights[0] >= heights[1] {
		t.Fatalf("loading switched at heights %v of %d", heights, len(chain))
	}
	if !bytes.Equal(digestOf(t, s.Store), directDigest(t, chain)) {
		t.Fatal("the mirror loaded differs from one applied block by block")
	}
}

// directDigest is the digest of chain applied block by block to a store of
// its own, without a follower.
func directDigest(t *testing.T, chain []*common.Block) []byte {
	t.Helper()
	direct := openStore(t)
	dec := block.Decoder{Chaincode: "ledger"}
	for _, raw := range chain {
		b, err := dec.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := direct.ApplyBlock(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return digestOf(t, direct)
}

func digestOf(t *testing.T, s *store.Store) []byte {
	t.Helper()
	d, err := s.Digest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}
