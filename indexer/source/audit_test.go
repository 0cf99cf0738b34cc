package source_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/source"
)

// reader serves blocks by number from chain, and a stream that skips
// block skip (when set), as a misbehaving peer would.
type reader struct {
	chain []*common.Block
	skip  int
}

func (r reader) Block(_ context.Context, n uint64) (*common.Block, error) {
	return r.chain[min(int(n), len(r.chain)-1)], nil
}

func (r reader) Blocks(ctx context.Context, start uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for i := int(start); i < len(r.chain); i++ {
			if i == r.skip {
				continue
			}
			select {
			case ch <- r.chain[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func TestAuditLedger(t *testing.T) {
	id := blocktest.NewIdentity("Dept1MSP", "op1")
	c := blocktest.NewChain("datashare")
	chain := []*common.Block{c.Genesis(id)}
	for range 4 {
		chain = append(chain, c.Block(blocktest.Tx{Signer: id, NoEvent: true}))
	}
	ctx := context.Background()
	dec := block.Decoder{Chaincode: "ledger"}
	a := source.AuditLedger{Reader: reader{chain: chain, skip: -1}, Decoder: dec}
	b, err := a.Block(ctx, 3)
	if err != nil || b.Number != 3 {
		t.Fatalf("block 3: %v", err)
	}
	if _, err := a.Block(ctx, 9); err == nil || !strings.Contains(err.Error(), "got 4") {
		t.Fatalf("a peer answering another block: %v", err)
	}
	var got []uint64
	if err := a.Range(ctx, 1, 3, func(b *block.Block) error { got = append(got, b.Number); return nil }); err != nil || len(got) != 3 || got[2] != 3 {
		t.Fatalf("range 1-3: %v %v", got, err)
	}
	if err := a.Range(ctx, 3, 6, func(*block.Block) error { return nil }); err == nil || !strings.Contains(err.Error(), "ended before block 5") {
		t.Fatalf("a stream that ends early: %v", err)
	}
	skipping := source.AuditLedger{Reader: reader{chain: chain, skip: 2}, Decoder: dec}
	if err := skipping.Range(ctx, 1, 3, func(*block.Block) error { return nil }); err == nil || !strings.Contains(err.Error(), "expected 2") {
		t.Fatalf("a stream that skips: %v", err)
	}
}
