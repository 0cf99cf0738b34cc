package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// LagMonitor watches, for every department, when its peer commits each
// block (the peer's filtered block events, delivered once the block is
// committed) and when its indexer has applied it (a long poll on the
// indexer's /internal/wait, which answers the moment the block is in the
// mirror). The difference is the indexer's lag behind commits, in
// milliseconds; the indexer's height at the moment each block commits
// gives the lag in blocks.
type LagMonitor struct {
	fab    *Fabric
	c      *Consortium
	cancel context.CancelFunc
	wg     sync.WaitGroup
	depts  map[string]*deptLag
	errMu  sync.Mutex
	errs   []string
}

type deptLag struct {
	mu        sync.Mutex
	peerAt    map[uint64]time.Time
	idxAt     map[uint64]time.Time
	validTxs  map[uint64]int
	lagBlocks map[uint64]uint64 // at the commit of block n: blocks committed but not yet indexed, n included
	idxHeight atomic.Uint64
	peerNext  atomic.Uint64 // the next block the peer will commit
}

// LagResult is the indexers' lag over a window.
type LagResult struct {
	Blocks    int                `json:"blocks"`
	LagMs     Dist               `json:"lagMs"`
	LagBlocks Dist               `json:"lagBlocks"`
	ByDept    map[string]DeptLag `json:"byDepartment"`
	// Unmatched counts blocks committed in the window that the indexer had
	// not been seen to apply when the monitor stopped.
	Unmatched  int     `json:"unmatched"`
	TxPerBlock float64 `json:"txPerBlock"`
	// PeerSpreadMs is, for each block of the window that every peer
	// committed, how long after the first peer the last one committed it:
	// how long the next step of a flow may have to wait for its floor.
	PeerSpreadMs Dist     `json:"peerSpreadMs"`
	Errors       []string `json:"errors,omitempty"`
}

// DeptLag is one department's share of a LagResult.
type DeptLag struct {
	LagMs     Dist `json:"lagMs"`
	LagBlocks Dist `json:"lagBlocks"`
	// BehindFirstMs is how long after the first peer this department's
	// peer committed each block.
	BehindFirstMs Dist `json:"peerBehindFirstMs"`
}

// StartLagMonitor starts watching every department from its peer's
// current height on.
func StartLagMonitor(ctx context.Context, fab *Fabric, c *Consortium) (*LagMonitor, error) {
	ctx, cancel := context.WithCancel(ctx)
	m := &LagMonitor{fab: fab, c: c, cancel: cancel, depts: map[string]*deptLag{}}
	for i := range c.Depts {
		d := &c.Depts[i]
		h, err := fab.Height(ctx, d.MSPID)
		if err != nil {
			m.Stop()
			return nil, err
		}
		st, err := m.indexerStatus(ctx, d)
		if err != nil {
			m.Stop()
			return nil, err
		}
		dl := &deptLag{peerAt: map[uint64]time.Time{}, idxAt: map[uint64]time.Time{}, validTxs: map[uint64]int{}, lagBlocks: map[uint64]uint64{}}
		dl.idxHeight.Store(st)
		dl.peerNext.Store(h)
		m.depts[d.MSPID] = dl
		net, err := fab.network(d.MSPID)
		if err != nil {
			m.Stop()
			return nil, err
		}
		events, err := net.FilteredBlockEvents(ctx, client.WithStartBlock(h))
		if err != nil {
			m.Stop()
			return nil, fmt.Errorf("block events of %s: %w", d.MSPID, err)
		}
		m.wg.Add(2)
		go m.watchPeer(ctx, d.MSPID, dl, events)
		go m.watchIndexer(ctx, d, dl)
	}
	return m, nil
}

func (m *LagMonitor) fail(format string, args ...any) {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	if len(m.errs) < 10 {
		m.errs = append(m.errs, fmt.Sprintf(format, args...))
	}
}

func (m *LagMonitor) watchPeer(ctx context.Context, msp string, dl *deptLag, events <-chan *peer.FilteredBlock) {
	defer m.wg.Done()
	for fb := range events {
		now := time.Now()
		n := fb.GetNumber()
		valid := 0
		for _, tx := range fb.GetFilteredTransactions() {
			if tx.GetTxValidationCode() == peer.TxValidationCode_VALID {
				valid++
			}
		}
		indexed := dl.idxHeight.Load()
		lag := uint64(0)
		if n+1 > indexed {
			lag = n + 1 - indexed
		}
		dl.mu.Lock()
		dl.peerAt[n] = now
		dl.validTxs[n] = valid
		dl.lagBlocks[n] = lag
		dl.mu.Unlock()
		dl.peerNext.Store(n + 1)
	}
	if ctx.Err() == nil {
		m.fail("block events of %s ended early", msp)
	}
}

// watchIndexer long-polls the indexer for the next block, again and again.
func (m *LagMonitor) watchIndexer(ctx context.Context, d *Dept, dl *deptLag) {
	defer m.wg.Done()
	for ctx.Err() == nil {
		next := dl.idxHeight.Load()
		height, ok, err := m.wait(ctx, d, next)
		if err != nil {
			if ctx.Err() == nil {
				m.fail("wait on the indexer of %s: %v", d.MSPID, err)
				time.Sleep(200 * time.Millisecond)
			}
			continue
		}
		if !ok {
			continue
		}
		now := time.Now()
		dl.mu.Lock()
		// Blocks applied along with next, before this answer, were applied
		// by now at the latest: an upper bound for them, exact for next.
		for b := next; b < height; b++ {
			dl.idxAt[b] = now
		}
		dl.mu.Unlock()
		dl.idxHeight.Store(max(height, next+1))
	}
}

// wait asks the indexer to answer once block n is applied; ok is false on
// the indexer's timeout.
func (m *LagMonitor) wait(ctx context.Context, d *Dept, n uint64) (height uint64, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/internal/wait?block=%d&timeout=20s", d.Indexer, n), nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := d.IndexerHC.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		var w struct {
			Height uint64 `json:"height"`
		}
		if err := json.Unmarshal(body, &w); err != nil {
			return 0, false, fmt.Errorf("wait answer: %w", err)
		}
		return w.Height, true, nil
	case http.StatusGatewayTimeout:
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("wait: status %d: %s", resp.StatusCode, body)
}

func (m *LagMonitor) indexerStatus(ctx context.Context, d *Dept) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.Indexer+"/internal/status", nil)
	if err != nil {
		return 0, err
	}
	resp, err := d.IndexerHC.Do(req)
	if err != nil {
		return 0, fmt.Errorf("indexer of %s: %w", d.MSPID, err)
	}
	defer resp.Body.Close()
	var st struct {
		Height uint64 `json:"height"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("indexer status of %s: %w", d.MSPID, err)
	}
	return st.Height, nil
}

// CaughtUp waits until every indexer has applied every block its peer
// committed, or ctx ends.
func (m *LagMonitor) CaughtUp(ctx context.Context) error {
	for {
		behind := ""
		for msp, dl := range m.depts {
			if dl.idxHeight.Load() < dl.peerNext.Load() {
				behind = fmt.Sprintf("%s at %d of %d", msp, dl.idxHeight.Load(), dl.peerNext.Load())
			}
		}
		if behind == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("indexers did not catch up (%s): %w", behind, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the watch.
func (m *LagMonitor) Stop() {
	m.cancel()
	m.wg.Wait()
	for _, d := range m.c.Depts {
		d.IndexerHC.CloseIdleConnections()
	}
}

// Result summarises the blocks committed in [from, to].
func (m *LagMonitor) Result(from, to time.Time) LagResult {
	r := LagResult{ByDept: map[string]DeptLag{}}
	var allMs, allBlocks []float64
	first := true
	for _, d := range m.c.Depts {
		dl := m.depts[d.MSPID]
		if dl == nil {
			continue
		}
		var ms, blocks []float64
		txs, nblocks := 0, 0
		dl.mu.Lock()
		for n, t := range dl.peerAt {
			if t.Before(from) || t.After(to) {
				continue
			}
			nblocks++
			txs += dl.validTxs[n]
			blocks = append(blocks, float64(dl.lagBlocks[n]))
			it, ok := dl.idxAt[n]
			if !ok {
				r.Unmatched++
				continue
			}
			// The indexer's own stream may bring a block a moment before the
			// monitor's: that is no lag at all.
			ms = append(ms, max(0, float64(it.Sub(t))/float64(time.Millisecond)))
		}
		dl.mu.Unlock()
		if first {
			r.Blocks = nblocks
			if nblocks > 0 {
				r.TxPerBlock = round3(float64(txs) / float64(nblocks))
			}
			first = false
		}
		r.ByDept[d.MSPID] = DeptLag{LagMs: distOfMs(ms), LagBlocks: distOfMs(blocks)}
		allMs = append(allMs, ms...)
		allBlocks = append(allBlocks, blocks...)
	}
	r.LagMs, r.LagBlocks = distOfMs(allMs), distOfMs(allBlocks)
	spread, behind := m.peerSpread(from, to)
	r.PeerSpreadMs = distOfMs(spread)
	for msp, b := range behind {
		dl := r.ByDept[msp]
		dl.BehindFirstMs = distOfMs(b)
		r.ByDept[msp] = dl
	}
	m.errMu.Lock()
	r.Errors = append(r.Errors, m.errs...)
	m.errMu.Unlock()
	return r
}

// peerSpread lists, for each block every peer committed in [from, to],
// the time from its first peer's commit to its last one's, and by
// department how long after the first its peer committed it.
func (m *LagMonitor) peerSpread(from, to time.Time) ([]float64, map[string][]float64) {
	first, last, seen := map[uint64]time.Time{}, map[uint64]time.Time{}, map[uint64]int{}
	for _, dl := range m.depts {
		dl.mu.Lock()
		for n, t := range dl.peerAt {
			if f, ok := first[n]; !ok || t.Before(f) {
				first[n] = t
			}
			if l, ok := last[n]; !ok || t.After(l) {
				last[n] = t
			}
			seen[n]++
		}
		dl.mu.Unlock()
	}
	var out []float64
	behind := map[string][]float64{}
	for n, c := range seen {
		if c == len(m.depts) && !first[n].Before(from) && !first[n].After(to) {
			out = append(out, float64(last[n].Sub(first[n]))/float64(time.Millisecond))
			for msp, dl := range m.depts {
				dl.mu.Lock()
				behind[msp] = append(behind[msp], float64(dl.peerAt[n].Sub(first[n]))/float64(time.Millisecond))
				dl.mu.Unlock()
			}
		}
	}
	return out, behind
}
