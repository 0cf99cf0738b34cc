package domain

import (
	"math"
	"time"
)

// SpikeRule is the early-warning watch's spike rule (indexer/WATCH.md),
// part of the consortium policy so that every indexer judges by the same
// one: a department's count of one metric in one period (requests it
// created; records it used) is a spike when it is at least Min and above
// the mean plus Sigmas population standard deviations of its counts in the
// Periods periods before (zeros included), once it has History periods of
// history. Periods are PeriodHours long, counted from the Unix epoch (24:
// UTC days). A policy without one has DefaultSpikeRule.
type SpikeRule struct {
	PeriodHours float64 `json:"periodHours" yaml:"periodHours"`
	Min         int64   `json:"min" yaml:"min"`
	Sigmas      float64 `json:"sigmas" yaml:"sigmas"`
	Periods     int     `json:"periods" yaml:"periods"`
	History     int     `json:"history" yaml:"history"`
}

// The spike rule's bounds.
const (
	MaxSpikePeriods     = 366
	MaxSpikePeriodHours = 24 * 31
	MaxSpikeSigmas      = 100
)

// DefaultSpikeRule is the rule of a policy that names none: UTC days, at
// least 10, above mean + 3 standard deviations of the 28 days before, once
// 7 days of history are known.
func DefaultSpikeRule() SpikeRule {
	return SpikeRule{PeriodHours: 24, Min: 10, Sigmas: 3, Periods: 28, History: 7}
}

// Period is the length of one period, to the second.
func (r SpikeRule) Period() time.Duration {
	return time.Duration(math.Round(r.PeriodHours*3600)) * time.Second
}

// Validate checks a spike rule.
func (r SpikeRule) Validate() error {
	switch {
	case math.IsNaN(r.PeriodHours) || r.Period() < time.Second || r.PeriodHours > MaxSpikePeriodHours:
		return Errorf(CodeInvalid, "spike.periodHours must be from 1 second (%.6f) to %d hours", 1.0/3600, MaxSpikePeriodHours)
	case r.Min < 1 || r.Min > MaxCount:
		return Errorf(CodeInvalid, "spike.min must be from 1 to %d", MaxCount)
	case math.IsNaN(r.Sigmas) || r.Sigmas <= 0 || r.Sigmas > MaxSpikeSigmas:
		return Errorf(CodeInvalid, "spike.sigmas must be above 0 and at most %d", MaxSpikeSigmas)
	case r.Periods < 1 || r.Periods > MaxSpikePeriods:
		return Errorf(CodeInvalid, "spike.periods must be from 1 to %d", MaxSpikePeriods)
	case r.History < 1 || r.History > r.Periods:
		return Errorf(CodeInvalid, "spike.history must be from 1 to spike.periods (%d)", r.Periods)
	}
	return nil
}

// SpikeOf is the policy's spike rule, DefaultSpikeRule when it names none.
func (p *Policy) SpikeOf() SpikeRule {
	if p == nil || p.Spike == nil {
		return DefaultSpikeRule()
	}
	return *p.Spike
}

func checkSpike(r *SpikeRule) error {
	if r == nil {
		return nil
	}
	return r.Validate()
}

func sameSpike(a, b *SpikeRule) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func cloneSpike(r *SpikeRule) *SpikeRule {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// ProposedSpike is the spike rule applying the proposal gives: its own
// when it names one, else the policy's.
func (in PolicyProposalInput) ProposedSpike(p *Policy) *SpikeRule {
	if in.Spike != nil && in.Member == nil {
		return cloneSpike(in.Spike)
	}
	return cloneSpike(p.Spike)
}
