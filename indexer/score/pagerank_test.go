package score

import (
	"math"
	"testing"
)

func TestPageRank(t *testing.T) {
	p := PageRankParams{Damping: 0.85, MaxIterations: 100, Tolerance: 1e-12}
	// The star: three leaves (0, 1, 2) point at the centre (3), which has no
	// out-edge. Solving leaf = 0.0375 + 0.2125*centre and centre + 3*leaf = 1
	// by hand gives centre = 0.8875/1.6375.
	centre := 0.8875 / 1.6375
	leaf := 0.0375 + 0.2125*centre
	tests := []struct {
		name  string
		n     int
		edges []Edge
		want  []float64
	}{
		{"three-node cycle", 3, []Edge{{0, 1, 1}, {1, 2, 1}, {2, 0, 1}}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"weights do not matter on a cycle", 3, []Edge{{0, 1, 5}, {1, 2, 1}, {2, 0, 100}}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		{"star", 4, []Edge{{0, 3, 1}, {1, 3, 2}, {2, 3, 7}}, []float64{leaf, leaf, leaf, centre}},
		{"no edges: uniform", 2, nil, []float64{0.5, 0.5}},
		{"zero, negative and self-less duplicates", 2, []Edge{{0, 1, 0}, {1, 0, -3}}, []float64{0.5, 0.5}},
		// Two nodes, 0 -> 1 only: 1 = 0.075 + 0.425*p1 + 0.85*p0 ... solved:
		// p0 = 0.075 + 0.425*p1, p0 + p1 = 1 -> p1 = 0.925/1.425.
		{"one edge", 2, []Edge{{0, 1, 3}}, []float64{1 - 0.925/1.425, 0.925 / 1.425}},
		{"split by weight", 3, []Edge{{0, 1, 3}, {0, 2, 1}, {1, 0, 1}, {2, 0, 1}}, nil},
		{"empty", 0, nil, []float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PageRank(tt.n, tt.edges, p)
			if len(got) != tt.n {
				t.Fatalf("%d ranks for %d nodes", len(got), tt.n)
			}
			sum := 0.0
			for _, x := range got {
				sum += x
			}
			if tt.n > 0 && math.Abs(sum-1) > 1e-9 {
				t.Fatalf("ranks sum to %v", sum)
			}
			for i, w := range tt.want {
				if math.Abs(got[i]-w) > 1e-9 {
					t.Fatalf("rank %d = %v, want %v (all %v)", i, got[i], w, got)
				}
			}
			if tt.name == "split by weight" && !(got[1] > got[2] && got[0] > got[1]) {
				t.Fatalf("ranks %v: want 0 > 1 > 2", got)
			}
		})
	}
	// Edge order does not change a bit.
	a := PageRank(4, []Edge{{0, 1, 0.7}, {0, 3, 1}, {1, 3, 2}, {0, 1, 0.1}, {2, 3, 7}, {3, 0, 1}, {0, 1, 0.2}}, p)
	b := PageRank(4, []Edge{{0, 1, 0.1}, {3, 0, 1}, {2, 3, 7}, {0, 1, 0.2}, {1, 3, 2}, {0, 1, 0.7}, {0, 3, 1}}, p)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("edge order changed the ranks: %v vs %v", a, b)
		}
	}
	// One iteration from uniform on the star is not yet converged.
	one := PageRank(4, []Edge{{0, 3, 1}, {1, 3, 1}, {2, 3, 1}}, PageRankParams{Damping: 0.85, MaxIterations: 1})
	if math.Abs(one[3]-centre) < 1e-3 {
		t.Fatalf("maxIterations not honoured: %v", one)
	}
}
