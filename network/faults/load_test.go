//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// outcome is one write of the load: what it tried and how it was answered.
type outcome struct {
	id         string
	by         string // MSP ID of the writer
	start, end time.Time
	status     int // 0 when the call itself failed
	code       string
	message    string
	block      uint64
}

// load registers fresh datasets through some departments' gateways, one
// write after another per writer, and keeps every answer, so that a test
// can hold each acknowledged write to the ledger and the mirrors and each
// refused one to having changed nothing.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	outcomes []outcome
}

// startLoad runs one writer per caller until finish, at most bound.
func startLoad(prefix string, bound time.Duration, writers ...caller) *load {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	l := &load{cancel: cancel}
	for w, p := range writers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%s-w%d-%d", prefix, w, i)
				o := outcome{id: id, by: p.msp, start: time.Now()}
				a, err := p.call(ctx, http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
				o.end = time.Now()
				if err != nil {
					if ctx.Err() != nil {
						// Cut short by finish: the write may or may not
						// have committed; the checks skip status 0.
						o.message = err.Error()
						l.add(o)
						return
					}
					o.message = err.Error()
				} else {
					o.status, o.code, o.message = a.status, a.code(), a.message()
					if a.status == http.StatusCreated {
						var w written
						if json.Unmarshal(a.body, &w) == nil {
							o.block = w.BlockNumber
						}
					}
				}
				l.add(o)
				if o.status != http.StatusCreated {
					// A refused write is retried with a fresh ID after a
					// short pause, as a client following Retry-After would.
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
		}()
	}
	return l
}

func (l *load) add(o outcome) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
}

// snapshot is the outcomes so far.
func (l *load) snapshot() []outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.outcomes)
}

// finish stops the writers and returns every outcome, in start order.
func (l *load) finish() []outcome {
	l.cancel()
	l.wg.Wait()
	out := l.snapshot()
	slices.SortFunc(out, func(a, b outcome) int { return a.start.Compare(b.start) })
	return out
}

// tally counts outcomes by status, for the test log.
func tally(outs []outcome) string {
	counts := map[int]int{}
	for _, o := range outs {
		counts[o.status]++
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		name := fmt.Sprint(s)
		if s == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, counts[s]))
	}
	return strings.Join(parts, ", ")
}

// checkLoad holds the load's outcomes to the ledger and the mirrors: every
// acknowledged write is on the ledger (as every peer has it) and in every
// department's index; no write got an answer other than 201 or one of
// allowed; a refused write whose message does not say it reached ordering
// left nothing on the ledger. It returns how many refused writes had
// reached the ledger anyway (a commit the gateway could not confirm).
func checkLoad(t *testing.T, v *ledgerView, outs []outcome, allowed ...int) (committedAnyway int) {
	t.Helper()
	var top uint64
	for _, o := range outs {
		top = max(top, o.block)
	}
	waitIndexed(t, top+1, 60*time.Second)
	indexes := map[string]map[string]bool{}
	for _, d := range shared.eps.Departments {
		p := shared.as(t, d.MSPID, "operator")
		ids := map[string]bool{}
		for _, owner := range []string{"Dept1MSP", "Dept2MSP", "Dept3MSP", "BureauMSP"} {
			for id := range indexedIDs(t, p, "/v1/datasets?owner="+owner) {
				ids[id] = true
			}
		}
		indexes[d.MSPID] = ids
	}
	for _, o := range outs {
		switch {
		case o.status == http.StatusCreated:
			for msp := range v.nets {
				v.mustGet(t, msp, "Dataset", o.id)
			}
			for msp, ids := range indexes {
				if !ids[o.id] {
					t.Errorf("acknowledged write %s (block %d) missing from the index of %s", o.id, o.block, msp)
				}
			}
		case o.status == 0:
			// No answer: cut short by the end of the load; unknown outcome.
		case slices.Contains(allowed, o.status):
			out, derr := v.get(t, "BureauMSP", "Dataset", o.id)
			if derr == nil {
				committedAnyway++
				if !strings.Contains(o.message, "sent for ordering") {
					t.Errorf("write %s answered %d %q is on the ledger: a refusal that does not say the transaction reached ordering must change nothing: %.200s",
						o.id, o.status, o.message, out)
				}
				for msp, ids := range indexes {
					if !ids[o.id] {
						t.Errorf("write %s is on the ledger but missing from the index of %s", o.id, msp)
					}
				}
			}
		default:
			t.Errorf("write %s by %s answered %d %s %q, want 201 or one of %v", o.id, o.by, o.status, o.code, o.message, allowed)
		}
	}
	return committedAnyway
}

// waitIndexed waits until every department's index holds at least height
// blocks and is level with its own peer (the gateway's /readyz says both),
// so that a write missing from an index afterwards is lost, not late.
func waitIndexed(t *testing.T, height uint64, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for _, d := range shared.eps.Departments {
		anon := caller{msp: d.MSPID, gateway: d.Gateway}
		var last string
		for {
			a, err := anon.call(ctx, http.MethodGet, "/readyz", nil)
			var r struct {
				Index struct {
					Height    uint64 `json:"height"`
					LagBlocks uint64 `json:"lagBlocks"`
				} `json:"index"`
			}
			if err == nil && a.status == http.StatusOK && json.Unmarshal(a.body, &r) == nil &&
				r.Index.Height >= height && r.Index.LagBlocks == 0 {
				break
			}
			last = fmt.Sprintf("%d %s %v", a.status, a.body, err)
			select {
			case <-ctx.Done():
				t.Errorf("the index of %s did not reach height %d level with its peer within %s: %.300s", d.MSPID, height, within, last)
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}
