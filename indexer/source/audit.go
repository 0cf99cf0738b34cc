package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/indexer/block"
)

// BlockReader is where an audit reads blocks from the ledger itself: the
// Gateway (qscc for one block, the block stream for a range), or a fake.
type BlockReader interface {
	Block(ctx context.Context, n uint64) (*common.Block, error)
	Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error)
}

// AuditLedger hands the auditor blocks of the peer's ledger, decoded with
// block.Decoder.Inspect so that a block whose data was altered is reported,
// not refused.
type AuditLedger struct {
	Reader  BlockReader
	Decoder block.Decoder
}

// Block fetches and decodes block n.
func (a AuditLedger) Block(ctx context.Context, n uint64) (*block.Block, error) {
	raw, err := a.Reader.Block(ctx, n)
	if err != nil {
		return nil, err
	}
	if got := raw.GetHeader().GetNumber(); got != n {
		return nil, fmt.Errorf("asked the peer for block %d, got %d", n, got)
	}
	return a.Decoder.Inspect(raw)
}

// Range hands fn blocks from to to (inclusive), in order, read from one
// block stream rather than one query per block.
func (a AuditLedger) Range(ctx context.Context, from, to uint64, fn func(*block.Block) error) error {
	ctx, cancel := context.WithCancel(ctx) // ending early ends the stream
	defer cancel()
	ch, err := a.Reader.Blocks(ctx, from)
	if err != nil {
		return err
	}
	for want := from; want <= to; want++ {
		var raw *common.Block
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r, ok := <-ch:
			if !ok {
				return errors.New("the block stream ended before block " + fmt.Sprint(want))
			}
			raw = r
		}
		if got := raw.GetHeader().GetNumber(); got != want {
			return fmt.Errorf("the block stream sent block %d, expected %d", got, want)
		}
		b, err := a.Decoder.Inspect(raw)
		if err != nil {
			return fmt.Errorf("block %d: %w", want, err)
		}
		if err := fn(b); err != nil {
			return err
		}
		if want == to {
			break // to may be the largest uint64
		}
	}
	return nil
}
