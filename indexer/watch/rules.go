// Package watch is the early-warning watch: findings about departments
// that do not keep their obligations once data has left its owner, computed
// from the ledger alone. It reads the events an indexer believes, in ledger
// order, and the end of each block; it keeps only what a later block can
// still turn into a finding or close (approvals that have not ended,
// deliveries whose copies are not settled, corrections and disputes open,
// 29 days of activity counts per department), never the whole history.
//
// Findings are deterministic: every clock-based one (overdue) is judged
// against the latest block's time (the largest transaction timestamp seen),
// never the wall clock, so two indexers at the same height hold the same
// findings, byte for byte. The rules are in WATCH.md beside this package.
package watch

import (
	"fmt"
	"time"
)

// Rules are the watch's windows and thresholds.
type Rules struct {
	// DestroyWithin is, per grade (index 1..4), how long after its
	// approval ended (expired or revoked) a delivered copy may remain
	// undestroyed; 0 means the grade does not require destruction.
	DestroyWithin [5]time.Duration
	// ReceiptWithin is how long a delivery may wait for its receipt.
	ReceiptWithin time.Duration
	// DisputeWithin is how long a disputed delivery may stay without a
	// resolved correction or a matching new delivery.
	DisputeWithin time.Duration
	// CorrectionWithin is how long a correction may stay open.
	CorrectionWithin time.Duration
	// The spike rule: a department's count on one UTC day (requests it
	// created; records it used) is a spike when it is at least SpikeMin
	// and above the mean plus SpikeSigmas standard deviations of its
	// counts on the SpikeDays days before (zeros included), once the
	// department has at least SpikeHistory days of history.
	SpikeMin     int64
	SpikeSigmas  float64
	SpikeDays    int
	SpikeHistory int
}

// DefaultRules are the rules when the consortium policy sets none: copies
// of grade 3 and 4 data destroyed within 30 and 7 days of the approval's
// end, receipts within 7 days, disputes and corrections answered within 30.
func DefaultRules() Rules {
	day := 24 * time.Hour
	return Rules{
		DestroyWithin:    [5]time.Duration{0, 0, 0, 30 * day, 7 * day},
		ReceiptWithin:    7 * day,
		DisputeWithin:    30 * day,
		CorrectionWithin: 30 * day,
		SpikeMin:         10,
		SpikeSigmas:      3,
		SpikeDays:        28,
		SpikeHistory:     7,
	}
}

// Validate refuses rules the watch cannot apply.
func (r Rules) Validate() error {
	for g := 1; g < len(r.DestroyWithin); g++ {
		if r.DestroyWithin[g] < 0 {
			return fmt.Errorf("destroy window of grade %d is negative", g)
		}
	}
	switch {
	case r.ReceiptWithin <= 0, r.DisputeWithin <= 0, r.CorrectionWithin <= 0:
		return fmt.Errorf("the receipt, dispute and correction windows must be positive")
	case r.SpikeMin < 1, r.SpikeSigmas <= 0, r.SpikeDays < 1, r.SpikeHistory < 1 || r.SpikeHistory > r.SpikeDays:
		return fmt.Errorf("the spike rule needs a minimum of 1 or more, positive sigmas, and 1 <= history <= days")
	}
	return nil
}

// destroyWithin is the destroy window of grade g; 0 when none applies.
func (r Rules) destroyWithin(g int) time.Duration {
	if g < 1 || g >= len(r.DestroyWithin) {
		return 0
	}
	return r.DestroyWithin[g]
}
