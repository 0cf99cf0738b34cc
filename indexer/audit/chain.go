package audit

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
)

// MaxChainBlocks bounds one hash chain check; MaxFailures bounds the
// failures it lists (it counts them all).
const (
	MaxChainBlocks = 10000
	MaxFailures    = 100
)

// Failure is one block that failed one check.
type Failure struct {
	Block  uint64 `json:"block"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

// ChainReport is the answer of a hash chain check over [From, To].
type ChainReport struct {
	Verified bool      `json:"verified"`
	From     uint64    `json:"from"`
	To       uint64    `json:"to"`
	Blocks   uint64    `json:"blocks"`
	Checks   []Check   `json:"checks"`
	Failures []Failure `json:"failures"`
}

// Chain checks blocks from to to (inclusive), read from the ledger, against
// each other and against the mirror: each header hash, recomputed from the
// ledger's block, equals the mirror's; each block's data hashes to what its
// header states; each block's previousHash equals the header hash of the
// block before it (for from itself, the block before is read too).
func (a Auditor) Chain(ctx context.Context, from, to uint64) (*ChainReport, error) {
	height := a.Mirror.Status().Height
	switch {
	case height == 0:
		return nil, domain.Errorf(domain.CodeUnavailable, "the index holds no block yet")
	case from > to:
		return nil, domain.Errorf(domain.CodeInvalid, "from %d is after to %d", from, to)
	case to >= height:
		return nil, domain.Errorf(domain.CodeInvalid, "to %d has not been indexed: the last indexed block is %d", to, height-1)
	case to-from >= MaxChainBlocks:
		return nil, domain.Errorf(domain.CodeInvalid, "from %d to %d is %d blocks, more than %d", from, to, to-from+1, MaxChainBlocks)
	}
	rep := &ChainReport{From: from, To: to, Failures: []Failure{}}
	counts := map[string]int{}
	fail := func(n uint64, check, detail string, args ...any) {
		counts[check]++
		if len(rep.Failures) < MaxFailures {
			rep.Failures = append(rep.Failures, Failure{Block: n, Check: check, Detail: fmt.Sprintf(detail, args...)})
		}
	}
	start := from
	if from > 0 {
		start = from - 1 // for the link into from
	}
	var prevHash []byte
	err := a.Ledger.Range(ctx, start, to, func(b *block.Block) error {
		defer func() { prevHash = b.Hash }()
		if b.Number < from {
			return nil
		}
		rep.Blocks++
		hash := hex.EncodeToString(b.Hash)
		mb, err := a.Mirror.Block(ctx, b.Number)
		switch {
		case domain.ErrorCode(err) == domain.CodeNotFound:
			fail(b.Number, "headerHash", "the mirror holds no record of block %d", b.Number)
		case err != nil:
			return err
		case mb.Hash != hash:
			fail(b.Number, "headerHash", "the ledger's header hashes to %s, the mirror has %s", hash, mb.Hash)
		case mb.PreviousHash != hex.EncodeToString(b.PreviousHash) || mb.DataHash != hex.EncodeToString(b.DataHash):
			fail(b.Number, "headerHash", "the mirror's record of the header's previous or data hash differs from the ledger's")
		}
		if dh, c := hex.EncodeToString(b.DataHash), hex.EncodeToString(b.ComputedDataHash); dh != c {
			fail(b.Number, "dataHash", "the header states data hash %s, the data hashes to %s", dh, c)
		}
		if b.Number > 0 {
			if p, want := hex.EncodeToString(b.PreviousHash), hex.EncodeToString(prevHash); p != want {
				fail(b.Number, "previousHash", "the block names previous hash %s, block %d hashes to %s", p, b.Number-1, want)
			}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, unavailable(err, fmt.Sprintf("blocks %d to %d", start, to))
	}
	names := []struct{ name, what string }{
		{"headerHash", "header hash recomputed from the ledger equals the mirror's"},
		{"dataHash", "data hashes to the header's data hash"},
		{"previousHash", "previous hash equals the prior block's header hash"},
	}
	rep.Verified = true
	for _, n := range names {
		bad := counts[n.name]
		detail := fmt.Sprintf("%d of %d blocks: %s", rep.Blocks-uint64(bad), rep.Blocks, n.what)
		rep.Checks = append(rep.Checks, Check{Name: n.name, OK: bad == 0, Detail: detail})
		rep.Verified = rep.Verified && bad == 0
	}
	return rep, nil
}
