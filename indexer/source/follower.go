// Package source follows the ledger: it streams full blocks from a peer
// through the Fabric Gateway and hands them, decoded, to the mirror, always
// resuming from the mirror's own checkpoint. Event streams end (peer
// restarts, network blips) and are not resumed for us, so the follower
// reconnects with capped exponential backoff. It is the only indexer
// package that knows fabric-gateway.
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/indexer/block"
)

// Ledger is where blocks come from: the Gateway, or a fake in tests.
type Ledger interface {
	// Blocks streams blocks from start on; the channel closes when the
	// stream ends or ctx ends.
	Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error)
	// Height is the number of blocks in the peer's ledger.
	Height(ctx context.Context) (uint64, error)
}

// Sink is where decoded blocks go: the store. An error that wraps
// block.ErrForeignLedger ends Run.
type Sink interface {
	Height() uint64 // blocks applied: the next block to ask for
	ApplyBlock(ctx context.Context, b *block.Block) error
}

// LoadingSink is a Sink that can switch to options for applying many
// blocks fast (store.Store.SetLoading): the follower switches it on while
// the mirror is far behind the peer's ledger and off near its head.
type LoadingSink interface {
	Sink
	Loading() bool
	SetLoading(on bool) error
}

// The default lag, in blocks, beyond which the follower loads
// (LoadingSink) and within which it stops: far apart, so that a busy
// ledger does not switch back and forth. A switch costs about a memtable's
// flush.
const (
	DefaultLoadFrom  = 2048
	DefaultLoadUntil = 64
)

// Fatal errors end Run: retrying cannot help, an operator must act
// (rebuild the mirror for another ledger, upgrade for a newer event schema).
type Fatal struct{ Err error }

func (f *Fatal) Error() string { return "fatal: " + f.Err.Error() }
func (f *Fatal) Unwrap() error { return f.Err }

// Follower keeps the mirror up with the ledger.
type Follower struct {
	Ledger     Ledger
	Sink       Sink
	Decoder    block.Decoder
	Log        *slog.Logger
	MinBackoff time.Duration // first wait before reconnecting; default 200ms
	MaxBackoff time.Duration // cap on the wait; default 30s
	PollHeight time.Duration // how often to ask the peer its height; default 10s, <0 never
	// LoadFrom and LoadUntil are the lags that switch a LoadingSink's
	// loading on and off; defaults DefaultLoadFrom and DefaultLoadUntil.
	LoadFrom, LoadUntil uint64

	ledgerHeight atomic.Uint64
	polled       atomic.Bool // ledgerHeight has been asked of the peer at least once
}

// LedgerHeight is the peer's ledger height as last seen: asked from the
// peer, or implied by the latest block received. Zero until known.
func (f *Follower) LedgerHeight() uint64 { return f.ledgerHeight.Load() }

func (f *Follower) seen(h uint64) {
	for {
		old := f.ledgerHeight.Load()
		if h <= old || f.ledgerHeight.CompareAndSwap(old, h) {
			return
		}
	}
}

// Run follows the ledger until ctx ends (returning ctx's error) or a Fatal
// error occurs.
func (f *Follower) Run(ctx context.Context) error {
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	minB, maxB := f.MinBackoff, f.MaxBackoff
	if minB <= 0 {
		minB = 200 * time.Millisecond
	}
	if maxB < minB {
		maxB = max(30*time.Second, minB)
	}
	if f.PollHeight >= 0 {
		go f.pollHeight(ctx, log)
	}
	backoff := minB
	genesisChecked := false
	for {
		progressed, err := f.session(ctx, &genesisChecked, log)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fe := (*Fatal)(nil); errors.As(err, &fe) {
			log.Error("block follower stopped", "err", err, "height", f.Sink.Height())
			return err
		}
		if progressed {
			backoff = minB
		}
		log.Warn("block stream ended; reconnecting", "err", err, "height", f.Sink.Height(), "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxB)
	}
}

// session runs one block stream, from the mirror's checkpoint, until it
// ends. It reports whether any block was applied.
func (f *Follower) session(ctx context.Context, genesisChecked *bool, log *slog.Logger) (bool, error) {
	ctx, cancel := context.WithCancel(ctx) // ending the session ends its stream
	defer cancel()
	start := f.Sink.Height()
	if start > 0 && !*genesisChecked {
		// Resuming checks each new block against the last one applied, but a
		// replaced ledger shorter than the mirror would just look quiet:
		// block 0 (or, after a snapshot, the last block applied) tells at
		// once whether this is still our ledger.
		if err := f.checkGenesis(ctx); err != nil {
			return false, err
		}
		*genesisChecked = true
	}
	blocks, err := f.Ledger.Blocks(ctx, start)
	if err != nil {
		return false, err
	}
	progressed := false
	for d := range DecodeAhead(ctx, blocks, f.Decoder, decodeAhead) {
		f.seen(d.Number + 1)
		if err := f.apply(ctx, d); err != nil {
			return progressed, err
		}
		progressed = true
		*genesisChecked = true
		f.load(d.Number+1, log)
	}
	if err := ctx.Err(); err != nil {
		return progressed, err
	}
	return progressed, errors.New("stream closed")
}

// decodeAhead is how many blocks the follower decodes ahead of the one
// being applied: decoding (protobuf, signatures' certificates, the events'
// JSON) runs on another core meanwhile, which is most of what a replay from
// genesis gains on two cores. A few blocks of 32 transactions: a few MiB.
const decodeAhead = 8

// Decoded is a block as DecodeAhead hands it on: decoded, or the error
// that decoding it gave (then it is the last).
type Decoded struct {
	Number uint64
	Block  *block.Block
	Err    error
}

// DecodeAhead decodes the blocks of raw in a goroutine of its own, up to
// ahead blocks before the reader, and hands them on in order. The channel
// closes after raw closes, after a block that did not decode, or when ctx
// ends.
func DecodeAhead(ctx context.Context, raw <-chan *common.Block, dec block.Decoder, ahead int) <-chan Decoded {
	out := make(chan Decoded, ahead)
	go func() {
		defer close(out)
		for {
			var (
				b  *common.Block
				ok bool
			)
			select {
			case <-ctx.Done():
				return
			case b, ok = <-raw:
				if !ok {
					return
				}
			}
			d := Decoded{Number: b.GetHeader().GetNumber()}
			d.Block, d.Err = dec.Decode(b)
			select {
			case <-ctx.Done():
				return
			case out <- d:
			}
			if d.Err != nil {
				return
			}
		}
	}()
	return out
}

// SnapshotLedger is a Ledger that can say where the peer's ledger begins:
// a peer joined from a snapshot holds no block before the snapshot's end.
type SnapshotLedger interface {
	// FirstBlock is the first block the peer holds (0 unless it joined
	// the channel from a snapshot).
	FirstBlock(ctx context.Context) (uint64, error)
}

// checkGenesis checks, before resuming, that the peer's ledger is the one
// the mirror holds: by block 0, or on a peer joined from a snapshot by the
// last block the mirror applied (applied again, it must have the same
// hash). When the peer's first block is the mirror's next, no block is in
// both: the next block's link to the mirror's last hash is the check. A
// mirror that stops before the peer's first block cannot resume from this
// peer (every block is applied, none is skipped): that is an error the
// follower retries, logged until an operator gives the indexer a mirror at
// or after the snapshot, or another peer.
func (f *Follower) checkGenesis(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var first uint64
	if sl, ok := f.Ledger.(SnapshotLedger); ok {
		var err error
		if first, err = sl.FirstBlock(ctx); err != nil {
			return err
		}
	}
	check := uint64(0)
	if first > 0 {
		start := f.Sink.Height()
		switch {
		case start < first:
			return fmt.Errorf("the peer's ledger begins at block %d (it joined the channel from a snapshot) but the mirror's next block is %d: give this indexer a mirror copied at or after block %d, or follow a peer that holds the blocks from %d", first, start, first-1, start)
		case start == first:
			return nil
		}
		check = start - 1
	}
	blocks, err := f.Ledger.Blocks(ctx, check)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case raw, ok := <-blocks:
		if !ok {
			return fmt.Errorf("stream closed before block %d", check)
		}
		if raw.GetHeader().GetNumber() != check {
			return fmt.Errorf("asked for block %d, got %d", check, raw.GetHeader().GetNumber())
		}
		// Applying an applied block checks its hash and changes nothing.
		f.seen(check + 1)
		d := Decoded{Number: check}
		d.Block, d.Err = f.Decoder.Decode(raw)
		return f.apply(ctx, d)
	}
}

// load switches a LoadingSink's loading on or off by how far the mirror,
// at height, is behind the peer's ledger as last asked; it does nothing
// until the peer has been asked. A failed switch is logged: the sink still
// applies blocks with the options it has.
func (f *Follower) load(height uint64, log *slog.Logger) {
	ls, ok := f.Sink.(LoadingSink)
	if !ok || !f.polled.Load() {
		return
	}
	from, until := f.LoadFrom, f.LoadUntil
	if from == 0 {
		from = DefaultLoadFrom
	}
	if until == 0 {
		until = DefaultLoadUntil
	}
	lag := int64(f.LedgerHeight()) - int64(height)
	on := ls.Loading()
	switch {
	case !on && lag > int64(from):
		on = true
	case on && lag <= int64(until):
		on = false
	default:
		return
	}
	if err := ls.SetLoading(on); err != nil {
		log.Warn("mirror loading options not switched", "loading", on, "err", err)
		return
	}
	log.Info("mirror loading", "on", on, "height", height, "lagBlocks", lag)
}

// apply applies one decoded block. Blocks that cannot be decoded and
// blocks of another ledger are fatal; anything else (a gap, a store error)
// is retried from the checkpoint.
func (f *Follower) apply(ctx context.Context, d Decoded) error {
	if d.Err != nil {
		return &Fatal{Err: fmt.Errorf("decode block %d: %w", d.Number, d.Err)}
	}
	if err := f.Sink.ApplyBlock(ctx, d.Block); err != nil {
		if errors.Is(err, block.ErrForeignLedger) {
			return &Fatal{Err: err}
		}
		return err
	}
	return nil
}

func (f *Follower) pollHeight(ctx context.Context, log *slog.Logger) {
	every := f.PollHeight
	if every == 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, every)
		h, err := f.Ledger.Height(qctx)
		cancel()
		if err == nil {
			f.seen(h)
			f.polled.Store(true)
		} else if ctx.Err() == nil {
			log.Debug("ledger height", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
