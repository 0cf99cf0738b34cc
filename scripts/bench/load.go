package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	gwfabric "github.com/govshare/ledger/gateway/fabric"
)

// LoadConfig is one load phase: how many transactions in flight, for how long.
type LoadConfig struct {
	Name        string // "raw" or "rest": part of every dataset ID
	RunID       string
	Concurrency int
	Warmup      time.Duration // first stretch, not counted: connections open, caches fill
	Duration    time.Duration // the measured window
	Backoff     Backoff
	NoFloor     bool // submit every call without its floor
}

// LoadResult is what a load phase measured in its window.
type LoadResult struct {
	Path        string  `json:"path"`
	Concurrency int     `json:"concurrency"`
	WindowS     float64 `json:"windowSeconds"`
	Committed   int     `json:"committed"`
	TxPerSec    float64 `json:"txPerSecond"`
	// Latency is per committed attempt: submit to committed (and, for
	// REST, indexed by the caller's department).
	Latency Dist `json:"latency"`
	// CallLatency is from a call's first attempt to its commit, retries
	// and their backoff included.
	CallLatency Dist        `json:"callLatency"`
	ByOp        map[Op]Dist `json:"byOp"`
	Attempts    int         `json:"attempts"`
	Retried     int         `json:"retriedAttempts"`
	// PhaseCommitted counts the calls committed over the whole phase
	// (warm-up and drain included), the span Retried and GatewayRetries
	// are counted over.
	PhaseCommitted int `json:"phaseCommitted"`
	// GatewayRetries are the writes the REST gateways endorsed again
	// themselves (gateway_fabric_retries_total over the phase).
	GatewayRetries int `json:"gatewayRetries,omitempty"`
	// RetriesPerCommit is (Retried + GatewayRetries) / PhaseCommitted.
	RetriesPerCommit float64 `json:"retriesPerCommit"`
	// Floor is how calls waited for every peer to commit the block their
	// previous step landed in.
	Floor      *FloorFigures  `json:"floor,omitempty"`
	Failed     int            `json:"failedCalls"`
	ErrorCodes map[string]int `json:"errorCodes,omitempty"`
	FirstError string         `json:"firstError,omitempty"`
	Flows      int            `json:"flowsStarted"`
	FlowsDone  int            `json:"flowsCompleted"`
	// Blocks and TxPerBlock come from the peer's block events in the window.
	Blocks     int     `json:"blocks"`
	TxPerBlock float64 `json:"txPerBlock"`
	// PeerSpreadMs is how long after the first peer the last committed
	// each block of the window.
	PeerSpreadMs Dist `json:"peerSpreadMs"`
	// Gateway is where a REST write's time went, from the gateways' own
	// metrics over the whole phase (warm-up and retries included).
	Gateway *Breakdown `json:"gatewayBreakdown,omitempty"`
}

// FloorFigures are the waits of calls for their floor over a phase.
type FloorFigures struct {
	Waited        int     `json:"waited"`        // calls that waited for a peer to commit their floor
	WaitMeanMs    float64 `json:"waitMeanMs"`    // how long, on average
	TimedOut      int     `json:"timedOut"`      // of them, endorsed after the longest wait anyway
	HeightQueries int     `json:"heightQueries"` // peer height questions asked
}

func floorDiff(after, before gwfabric.FloorStats) FloorFigures {
	f := FloorFigures{Waited: int(after.Waited - before.Waited), TimedOut: int(after.TimedOut - before.TimedOut),
		HeightQueries: int(after.Queries - before.Queries)}
	if f.Waited > 0 {
		f.WaitMeanMs = round3(float64((after.WaitTime - before.WaitTime).Microseconds()) / 1000 / float64(f.Waited))
	}
	return f
}

func retriesPerCommit(retries, commits int) float64 {
	if commits == 0 {
		return 0
	}
	return round3(float64(retries) / float64(commits))
}

// pair is who plays which part in a flow.
type pair struct{ owner, consumer, contributor string }

// pairsOf lists every ordered (owner, consumer) pair of departments, with
// a third department contributing (the consumer when there are only two).
func pairsOf(c *Consortium) []pair {
	var out []pair
	for _, o := range c.Depts {
		for _, q := range c.Depts {
			if o.MSPID == q.MSPID {
				continue
			}
			p := pair{owner: o.MSPID, consumer: q.MSPID, contributor: q.MSPID}
			for _, t := range c.Depts {
				if t.MSPID != o.MSPID && t.MSPID != q.MSPID {
					p.contributor = t.MSPID
					break
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// runLoad runs flows of the mix with cfg.Concurrency transactions in flight
// (one per worker, each walking its flows step by step) for the warm-up and
// the window, then lets the transactions in flight finish.
func runLoad(ctx context.Context, sub Submitter, c *Consortium, cfg LoadConfig) (LoadResult, []Attempt) {
	pairs := pairsOf(c)
	var (
		mu        sync.Mutex
		attempts  []Attempt
		failed    int
		firstErr  string
		flows     atomic.Int64
		flowsDone atomic.Int64
	)
	record := func(a Attempt) {
		mu.Lock()
		attempts = append(attempts, a)
		mu.Unlock()
	}
	t0 := time.Now()
	winStart, winEnd := t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration)
	stopped := func() bool { return time.Now().After(winEnd) || ctx.Err() != nil }
	validUntil := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)

	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				n := flows.Add(1)
				p := pairs[int(n-1)%len(pairs)]
				f := &Flow{ID: fmt.Sprintf("bench-%s-%s-%d", cfg.RunID, cfg.Name, n), Owner: p.owner, Consumer: p.consumer,
					Contributor: p.contributor, ValidUntil: validUntil}
				done := true
				for _, op := range Ops {
					if stopped() {
						done = false
						break
					}
					call, err := f.Call(op)
					if cfg.NoFloor {
						call.HasAfter, call.noFloor = false, true
					}
					if err == nil {
						var res Committed
						if res, err = runCall(ctx, sub, call, cfg.Backoff, record); err == nil {
							f.Committed(res.Block)
							err = f.Record(op, res.Entity)
						}
					}
					if err != nil {
						mu.Lock()
						failed++
						if firstErr == "" {
							firstErr = err.Error()
						}
						mu.Unlock()
						done = false
						break
					}
				}
				if done {
					flowsDone.Add(1)
				}
			}
		}()
	}
	wg.Wait()

	r := LoadResult{Concurrency: cfg.Concurrency, WindowS: cfg.Duration.Seconds(), Failed: failed, FirstError: firstErr,
		Flows: int(flows.Load()), FlowsDone: int(flowsDone.Load()), ByOp: map[Op]Dist{}, ErrorCodes: map[string]int{}}
	var lat, call []time.Duration
	byOp := map[Op][]time.Duration{}
	for _, a := range attempts {
		r.Attempts++
		if !a.OK {
			r.ErrorCodes[string(a.Code)]++
			if !a.GaveUp {
				r.Retried++
			}
			continue
		}
		r.PhaseCommitted++
		if a.End.Before(winStart) || a.End.After(winEnd) {
			continue
		}
		r.Committed++
		lat = append(lat, a.End.Sub(a.Start))
		call = append(call, a.End.Sub(a.First))
		byOp[a.Op] = append(byOp[a.Op], a.End.Sub(a.Start))
	}
	r.TxPerSec = round3(float64(r.Committed) / cfg.Duration.Seconds())
	r.Latency, r.CallLatency = distOf(lat), distOf(call)
	for op, ds := range byOp {
		r.ByOp[op] = distOf(ds)
	}
	sort.Slice(attempts, func(i, j int) bool { return attempts[i].End.Before(attempts[j].End) })
	return r, attempts
}
