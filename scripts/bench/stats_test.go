package main

import (
	"testing"
	"time"
)

func TestDistOf(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Dist
	}{
		{"empty", nil, Dist{}},
		{"one", ms(7), Dist{Count: 1, Mean: 7, P50: 7, P90: 7, P99: 7, Max: 7}},
		{"nearest rank, never interpolated", ms(1, 2, 3, 4), Dist{Count: 4, Mean: 2.5, P50: 2, P90: 4, P99: 4, Max: 4}},
		{"hundred", ms(hundred...), Dist{Count: 100, Mean: 50.5, P50: 50, P90: 90, P99: 99, Max: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := distOf(tt.in); got != tt.want {
				t.Fatalf("distOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	if got := ratio(90, 100); got != 0.9 {
		t.Errorf("ratio(90, 100) = %v", got)
	}
	if got := ratio(1, 0); got != 0 {
		t.Errorf("ratio over zero = %v, want 0", got)
	}
}
