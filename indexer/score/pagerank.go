package score

import (
	"cmp"
	"math"
	"slices"
)

// Edge is a weighted directed edge between nodes numbered from 0.
type Edge struct {
	From, To int
	Weight   float64
}

// PageRank ranks n nodes on weighted directed edges: each node passes
// Damping of its rank along its out-edges in proportion to their weights,
// a node without out-edges (dangling) spreads its rank over every node, and
// 1-Damping is spread evenly. It iterates from the uniform vector until an
// iteration changes the ranks by less than Tolerance (L1) or MaxIterations
// is reached. Edges with a weight <= 0 carry nothing and are dropped, and
// duplicates are merged. The ranks sum to 1.
//
// Every sum runs in a fixed order (nodes by number, edges by (From, To, Weight)) and
// every product is rounded before it is added (the float64 conversions stop
// the compiler fusing multiply-adds on some CPUs), so that every machine
// computes the same bits.
func PageRank(n int, edges []Edge, p PageRankParams) []float64 {
	if n == 0 {
		return nil
	}
	es := make([]Edge, 0, len(edges))
	for _, e := range edges {
		if e.Weight > 0 && e.From >= 0 && e.From < n && e.To >= 0 && e.To < n {
			es = append(es, e)
		}
	}
	slices.SortFunc(es, func(a, b Edge) int {
		if a.From != b.From {
			return a.From - b.From
		}
		if a.To != b.To {
			return a.To - b.To
		}
		// Duplicates too, so that their sum does not depend on the input order.
		return cmp.Compare(a.Weight, b.Weight)
	})
	merged := es[:0]
	for _, e := range es {
		if k := len(merged) - 1; k >= 0 && merged[k].From == e.From && merged[k].To == e.To {
			merged[k].Weight += e.Weight
			continue
		}
		merged = append(merged, e)
	}
	out := make([]float64, n)
	for _, e := range merged {
		out[e.From] += e.Weight
	}
	nf := float64(n)
	d := p.Damping
	pr := make([]float64, n)
	for i := range pr {
		pr[i] = 1 / nf
	}
	next := make([]float64, n)
	for range p.MaxIterations {
		dangling := 0.0
		for i, w := range out {
			if w == 0 {
				dangling += pr[i]
			}
		}
		base := float64((1-d)/nf) + float64(d*dangling)/nf
		for i := range next {
			next[i] = base
		}
		for _, e := range merged {
			share := float64(pr[e.From]*e.Weight) / out[e.From]
			next[e.To] += float64(d * share)
		}
		delta := 0.0
		for i := range pr {
			delta += math.Abs(next[i] - pr[i])
		}
		pr, next = next, pr
		if delta < p.Tolerance {
			break
		}
	}
	return pr
}
