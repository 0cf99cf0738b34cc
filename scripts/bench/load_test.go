package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// ledgerDouble commits every call after a fixed delay, answering with the
// entity the real answer carries, and fails the first attempt of every
// request with not_found, as a peer one block behind does.
type ledgerDouble struct {
	delay time.Duration
	seq   atomic.Int64
	mu    sync.Mutex
	seen  map[string]bool // flows whose request failed once
	calls map[Op]int
}

func (l *ledgerDouble) Submit(ctx context.Context, c Call) (Committed, error) {
	time.Sleep(l.delay)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls[c.Op]++
	if c.Op == OpRequest && !l.seen[c.Path+string(c.Body)] {
		l.seen[c.Path+string(c.Body)] = true
		return Committed{}, &SubmitError{Code: domain.CodeNotFound, Retry: true, Err: fmt.Errorf("dataset not found")}
	}
	n := l.seq.Add(1)
	entity := fmt.Sprintf(`{"id":"e-%d","status":"pending"}`, n)
	return Committed{TxID: fmt.Sprint(n), Block: uint64(n / 4), Entity: []byte(entity)}, nil
}

func TestRunLoad(t *testing.T) {
	c := &Consortium{Depts: []Dept{{MSPID: "Dept1MSP"}, {MSPID: "Dept2MSP"}, {MSPID: "Dept3MSP"}}}
	l := &ledgerDouble{delay: 2 * time.Millisecond, seen: map[string]bool{}, calls: map[Op]int{}}
	cfg := LoadConfig{Name: "raw", RunID: "t", Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond,
		Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond, Within: time.Second}}
	res, attempts := runLoad(context.Background(), l, c, cfg)
	if res.Failed != 0 || res.FirstError != "" {
		t.Fatalf("failed %d: %s", res.Failed, res.FirstError)
	}
	// 4 workers, 2 ms a call: some 600 commits in the window, fewer when
	// the machine is busy, never more.
	if res.Committed < 50 || res.Committed > 4*300/2+4 {
		t.Fatalf("%d committed in the window", res.Committed)
	}
	if res.TxPerSec != round3(float64(res.Committed)/0.3) || res.Latency.Count != res.Committed || res.Latency.P50 < 2 {
		t.Fatalf("result %+v", res)
	}
	if res.ErrorCodes["not_found"] == 0 || res.Retried != res.ErrorCodes["not_found"] {
		t.Fatalf("retries %d, error codes %v", res.Retried, res.ErrorCodes)
	}
	for _, op := range Ops {
		if res.ByOp[op].Count == 0 && l.calls[op] > 0 && op != OpContribution {
			t.Errorf("no %s in the window", op)
		}
	}
	if res.Flows < cfg.Concurrency || res.FlowsDone == 0 || res.FlowsDone > res.Flows {
		t.Fatalf("flows %d started, %d done", res.Flows, res.FlowsDone)
	}
	// Attempts come back in the order they ended, those before and after
	// the window included.
	if len(attempts) <= res.Committed {
		t.Fatalf("%d attempts for %d commits in the window", len(attempts), res.Committed)
	}
	for i := 1; i < len(attempts); i++ {
		if attempts[i].End.Before(attempts[i-1].End) {
			t.Fatal("attempts out of order")
		}
	}
}

func TestPairsOf(t *testing.T) {
	c := &Consortium{Depts: []Dept{{MSPID: "A"}, {MSPID: "B"}, {MSPID: "C"}}}
	ps := pairsOf(c)
	if len(ps) != 6 {
		t.Fatalf("%d pairs, want 6", len(ps))
	}
	for _, p := range ps {
		if p.owner == p.consumer || p.contributor == p.owner || p.contributor == p.consumer {
			t.Fatalf("pair %+v: each part must be another department", p)
		}
	}
	two := pairsOf(&Consortium{Depts: []Dept{{MSPID: "A"}, {MSPID: "B"}}})
	if len(two) != 2 || two[0].contributor != two[0].consumer {
		t.Fatalf("two departments: %+v", two)
	}
}
