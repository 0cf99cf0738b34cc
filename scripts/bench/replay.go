package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/network"
)

// ReplayResult is one replay of a ledger from genesis into a fresh mirror.
type ReplayResult struct {
	What        string  `json:"what"`
	Blocks      int     `json:"blocks"`
	Txs         int     `json:"transactions"`
	TxsPerBlock float64 `json:"txPerBlock"`
	Seconds     float64 `json:"seconds"`
	TxPerSec    float64 `json:"txPerSecond"`
	BlocksPerS  float64 `json:"blocksPerSecond"`
	// DiskBytes is what the mirror's folder takes on disk (du: allocated
	// blocks); ApparentBytes the sum of its files' sizes (Badger's value
	// log files are sparse while open).
	DiskBytes     int64   `json:"diskBytes"`
	ApparentBytes int64   `json:"apparentBytes"`
	BuildSeconds  float64 `json:"buildSeconds,omitempty"` // making the synthetic ledger, not timed in Seconds
}

// replaySynthetic applies the synthetic ledger to a fresh store in dir the
// way the indexer's follower applies a peer's blocks: unmarshal (gRPC does
// that for the follower), decode, apply, one block after another, with
// Badger's loading options until the last block (timed: switching back
// flushes and reopens).
func replaySynthetic(ctx context.Context, syn *Synthetic, dir, channel, chaincode string) (ReplayResult, error) {
	r := ReplayResult{What: "synthetic ledger, decode + apply into a fresh Badger mirror, in process", Blocks: len(syn.Blocks), Txs: syn.Txs}
	st, err := store.Open(dir, store.Options{Channel: channel, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return r, err
	}
	scores.Attach(st, nil)
	findings.Attach(st, nil)
	dec := block.Decoder{Chaincode: chaincode}
	start := time.Now()
	// Far behind its ledger, the follower applies with Badger's loading
	// options (store.SetLoading) until it reaches the head; so does this.
	if err := st.SetLoading(true); err != nil {
		st.Close()
		return r, err
	}
	for i, raw := range syn.Blocks {
		var b common.Block
		if err := proto.Unmarshal(raw, &b); err != nil {
			st.Close()
			return r, fmt.Errorf("unmarshal block %d: %w", i, err)
		}
		d, err := dec.Decode(&b)
		if err != nil {
			st.Close()
			return r, fmt.Errorf("decode block %d: %w", i, err)
		}
		if err := st.ApplyBlock(ctx, d); err != nil {
			st.Close()
			return r, err
		}
	}
	if err := st.SetLoading(false); err != nil {
		st.Close()
		return r, err
	}
	elapsed := time.Since(start)
	if err := st.Close(); err != nil {
		return r, err
	}
	r.Seconds = round3(elapsed.Seconds())
	r.TxPerSec = round3(float64(r.Txs) / elapsed.Seconds())
	r.BlocksPerS = round3(float64(r.Blocks) / elapsed.Seconds())
	if r.Blocks > 1 {
		r.TxsPerBlock = round3(float64(r.Txs) / float64(r.Blocks-1))
	}
	r.DiskBytes, r.ApparentBytes, err = diskUsage(dir)
	return r, err
}

// diskUsage is du's figure for dir (allocated blocks) and the sum of the
// files' sizes.
func diskUsage(dir string) (disk, apparent int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			disk += st.Blocks * 512
		}
		if !d.IsDir() {
			apparent += info.Size()
		}
		return nil
	})
	return disk, apparent, err
}

// ledgerCount counts the blocks and valid transactions of msp's peer's
// ledger below height, from its filtered blocks.
func ledgerCount(ctx context.Context, fab *Fabric, msp string, height uint64) (txs int, err error) {
	net, err := fab.network(msp)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	events, err := net.FilteredBlockEvents(ctx, client.WithStartBlock(0))
	if err != nil {
		return 0, err
	}
	for fb := range events {
		for _, tx := range fb.GetFilteredTransactions() {
			if tx.GetTxValidationCode() == peer.TxValidationCode_VALID && tx.GetType() == common.HeaderType_ENDORSER_TRANSACTION {
				txs++
			}
		}
		if fb.GetNumber()+1 >= height {
			return txs, nil
		}
	}
	return txs, fmt.Errorf("block events of %s ended before block %d: %w", msp, height-1, ctx.Err())
}

// replayConsortium rebuilds one department's real indexer from genesis:
// stop it, drop its mirror (`indexer rebuild`), start it, and time until
// its height reaches the peer's. The time includes the process start and
// the peer streaming its blocks: the real path, end to end.
func replayConsortium(ctx context.Context, n *network.Net, fab *Fabric, c *Consortium, d *Dept, indexerBin string) (ReplayResult, error) {
	r := ReplayResult{What: fmt.Sprintf("consortium ledger, %s's indexer process rebuilt from genesis, streamed from its peer", d.MSPID)}
	height, err := fab.Height(ctx, d.MSPID)
	if err != nil {
		return r, err
	}
	r.Blocks = int(height)
	if r.Txs, err = ledgerCount(ctx, fab, d.MSPID, height); err != nil {
		return r, err
	}
	name := "indexer-" + d.Slug
	if err := n.Stop(name); err != nil {
		return r, fmt.Errorf("stop %s: %w", name, err)
	}
	cfg := filepath.Join(c.Run, "config", name+".json")
	if out, err := exec.CommandContext(ctx, indexerBin, "rebuild", "-config", cfg).CombinedOutput(); err != nil {
		_ = n.Start(ctx, name)
		return r, fmt.Errorf("indexer rebuild: %w: %s", err, out)
	}
	start := time.Now()
	if err := n.Start(ctx, name); err != nil {
		return r, fmt.Errorf("start %s: %w", name, err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := indexerHeight(sctx, d.IndexerHC, d.Indexer)
		cancel()
		if err == nil && h >= height {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return r, fmt.Errorf("%s did not reach height %d (at %d, %v)", name, height, h, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	r.Seconds = round3(elapsed.Seconds())
	r.TxPerSec = round3(float64(r.Txs) / elapsed.Seconds())
	r.BlocksPerS = round3(float64(r.Blocks) / elapsed.Seconds())
	if r.Blocks > 0 {
		r.TxsPerBlock = round3(float64(r.Txs) / float64(r.Blocks))
	}
	var ixCfg struct {
		DataDir string `json:"dataDir"`
	}
	if raw, err := os.ReadFile(cfg); err == nil && json.Unmarshal(raw, &ixCfg) == nil && ixCfg.DataDir != "" {
		r.DiskBytes, r.ApparentBytes, _ = diskUsage(ixCfg.DataDir)
	}
	return r, nil
}

func indexerHeight(ctx context.Context, hc *http.Client, base string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/internal/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Height uint64 `json:"height"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	return st.Height, nil
}
