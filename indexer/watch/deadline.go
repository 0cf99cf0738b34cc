package watch

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"time"
)

// kindEnd is the deadline at which a request's approval ends: not a
// finding, the point after which the watch may forget the request.
const kindEnd Kind = "end"

// deadline is a time at which a finding opens unless an event has met the
// obligation first. A deadline is checked against the state when it
// passes, so one moved (a revocation brings a copy's destroy deadline
// forward) or met is simply skipped.
type deadline struct {
	at      time.Time
	kind    Kind
	subject string
}

// deadlines is a min-heap by time, then kind and subject, so that the
// findings of one block open in the same order on every indexer.
type deadlines []deadline

func (h deadlines) Len() int { return len(h) }
func (h deadlines) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.subject < b.subject
}
func (h deadlines) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deadlines) Push(x any)   { *h = append(*h, x.(deadline)) }
func (h *deadlines) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (h *deadlines) push(at time.Time, k Kind, subject string) {
	heap.Push(h, deadline{at: at.UTC(), kind: k, subject: subject})
}

// Save writes the watch's whole state down: JSON, whose maps are in key
// order, so two watches fed the same ledger save the same bytes. The
// mirror keeps it entry by entry instead (Flush, LoadEntries); Save is the
// reference the tests hold those entries to.
func (w *Watch) Save() ([]byte, error) { return json.Marshal(w.st) }

// check refuses a state read back that the watch cannot go on from.
func (w *Watch) check() error {
	for _, m := range []bool{w.st.Datasets.m == nil, w.st.Requests.m == nil, w.st.Deliveries.m == nil, w.st.Corrections.m == nil, w.st.Open.m == nil, w.st.Activity.m == nil} {
		if m {
			return fmt.Errorf("read the watch state: a part is missing")
		}
	}
	// The deadlines are not saved: every one still pending follows from
	// the state, and one that already passed finds its finding open or its
	// obligation met.
	for id, x := range w.st.Deliveries.m {
		if w.st.Requests.m[x.RequestID] == nil {
			return fmt.Errorf("read the watch state: delivery %s has no request %s", id, x.RequestID)
		}
	}
	if err := w.st.Rules.Validate(); err != nil {
		return fmt.Errorf("read the watch state: %w", err)
	}
	return nil
}
