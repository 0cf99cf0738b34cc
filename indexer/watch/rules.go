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

	"github.com/govshare/ledger/chaincode/domain"
)

// Rules are the watch's windows and thresholds. The windows are per grade
// (index 1..4; 0 means the grade is not watched for it) and come from the
// consortium policy's grade rules on the ledger (FromPolicy) once it has
// any; until then DefaultRules.
type Rules struct {
	// DestroyWithin: how long after its approval ended (expired or
	// revoked) a delivered copy may remain undestroyed.
	DestroyWithin [5]time.Duration `json:"destroyWithin"`
	// ReceiptWithin: how long a delivery may wait for its receipt.
	ReceiptWithin [5]time.Duration `json:"receiptWithin"`
	// AnswerWithin: how long a disputed delivery may stay without a
	// resolved correction or a matching new delivery, and a correction
	// open.
	AnswerWithin [5]time.Duration `json:"answerWithin"`
	// The spike rule (domain.SpikeRule, from the policy): a department's
	// count in one period of SpikePeriod (requests it created; records it
	// used) is a spike when it is at least SpikeMin and above the mean
	// plus SpikeSigmas standard deviations of its counts in the SpikeDays
	// periods before (zeros included), once the department has at least
	// SpikeHistory periods of history. (The names say days: a period is a
	// UTC day unless the policy says otherwise.)
	SpikePeriod  time.Duration `json:"spikePeriod"`
	SpikeMin     int64         `json:"spikeMin"`
	SpikeSigmas  float64       `json:"spikeSigmas"`
	SpikeDays    int           `json:"spikeDays"`
	SpikeHistory int           `json:"spikeHistory"`
}

// DefaultRules are the rules of a ledger whose policy has no grade rules:
// copies of grade 3 and 4 data destroyed within 30 and 7 days of the
// approval's end, receipts within 7 days, disputes and corrections
// answered within 30, for every grade.
func DefaultRules() Rules {
	day := 24 * time.Hour
	all := func(d time.Duration) [5]time.Duration { return [5]time.Duration{0, d, d, d, d} }
	return Rules{
		DestroyWithin: [5]time.Duration{0, 0, 0, 30 * day, 7 * day},
		ReceiptWithin: all(7 * day),
		AnswerWithin:  all(30 * day),
	}.withSpike(domain.DefaultSpikeRule())
}

// withSpike is r with the spike rule s.
func (r Rules) withSpike(s domain.SpikeRule) Rules {
	r.SpikePeriod, r.SpikeMin, r.SpikeSigmas, r.SpikeDays, r.SpikeHistory = s.Period(), s.Min, s.Sigmas, s.Periods, s.History
	return r
}

// FromPolicy is r with the policy's spike rule (its default when it names
// none) and the windows of its grade rules, when it has them
// (chaincode/POLICY.md: destroyWithinDays, receiptWithinDays,
// answerWithinDays); r's windows otherwise.
func (r Rules) FromPolicy(p *domain.Policy) Rules {
	if p == nil {
		return r
	}
	r = r.withSpike(p.SpikeOf())
	if len(p.Grades) == 0 {
		return r
	}
	out := r
	out.DestroyWithin, out.ReceiptWithin, out.AnswerWithin = [5]time.Duration{}, [5]time.Duration{}, [5]time.Duration{}
	for _, g := range p.Grades {
		if g.Grade < 1 || g.Grade > 4 {
			continue
		}
		out.DestroyWithin[g.Grade] = domain.Days(g.DestroyWithinDays)
		out.ReceiptWithin[g.Grade] = domain.Days(g.ReceiptWithinDays)
		out.AnswerWithin[g.Grade] = domain.Days(g.AnswerWithinDays)
	}
	return out
}

// Validate refuses rules the watch cannot apply.
func (r Rules) Validate() error {
	for g := 1; g < 5; g++ {
		if r.DestroyWithin[g] < 0 || r.ReceiptWithin[g] < 0 || r.AnswerWithin[g] < 0 {
			return fmt.Errorf("a window of grade %d is negative", g)
		}
	}
	if r.SpikePeriod < time.Second || r.SpikeMin < 1 || r.SpikeSigmas <= 0 || r.SpikeDays < 1 || r.SpikeHistory < 1 || r.SpikeHistory > r.SpikeDays {
		return fmt.Errorf("the spike rule needs a period of a second or more, a minimum of 1 or more, positive sigmas, and 1 <= history <= periods")
	}
	return nil
}

func window(w [5]time.Duration, g int) time.Duration {
	if g < 1 || g >= len(w) {
		return 0
	}
	return w[g]
}

func (r Rules) destroyWithin(g int) time.Duration { return window(r.DestroyWithin, g) }
func (r Rules) receiptWithin(g int) time.Duration { return window(r.ReceiptWithin, g) }
func (r Rules) answerWithin(g int) time.Duration  { return window(r.AnswerWithin, g) }
