package main

import (
	"math"
	"slices"
	"time"
)

// Dist summarises a set of durations in milliseconds. Percentiles are by
// nearest rank: p99 of 100 samples is the 99th smallest, never an
// interpolation between two, so every figure was actually observed.
type Dist struct {
	Count int     `json:"count"`
	Mean  float64 `json:"meanMs"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

// distOf summarises ds; an empty set gives a zero Dist with Count 0.
func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	return distOfMs(ms)
}

// distOfMs summarises values already in milliseconds (or any unit: lag in
// blocks uses it too).
func distOfMs(v []float64) Dist {
	if len(v) == 0 {
		return Dist{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Dist{
		Count: len(s),
		Mean:  round3(sum / float64(len(s))),
		P50:   round3(rank(s, 0.50)),
		P90:   round3(rank(s, 0.90)),
		P99:   round3(rank(s, 0.99)),
		Max:   round3(s[len(s)-1]),
	}
}

// rank is the nearest-rank percentile of sorted s.
func rank(s []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// ratio is a/b, or 0 when b is 0 (nothing to compare against).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round3(a / b)
}
