package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured, as written to the JSON file.
type Report struct {
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
	Run       string    `json:"run"`
	Machine   Machine   `json:"machine"`
	Settings  Settings  `json:"settings"`

	Raw  *LoadResult `json:"raw,omitempty"`
	REST *LoadResult `json:"rest,omitempty"`
	// Ratios are REST over raw, from this run.
	Ratios *Ratios `json:"ratios,omitempty"`

	LagRaw  *LagResult `json:"indexerLagRaw,omitempty"`
	LagREST *LagResult `json:"indexerLagRest,omitempty"`

	ReplaySynthetic  *ReplayResult `json:"replaySynthetic,omitempty"`
	ReplayConsortium *ReplayResult `json:"replayConsortium,omitempty"`
	SyntheticLedger  *LedgerInfo   `json:"syntheticLedger,omitempty"`

	Queries []QueryResult `json:"queries,omitempty"`
	Memory  []MemResult   `json:"memory,omitempty"`

	Targets []Target `json:"targets"`
	Notes   []string `json:"notes"`
	Errors  []string `json:"errors,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs      int     `json:"cpus"`
	GoVersion string  `json:"goVersion"`
	LoadAvg   string  `json:"loadAverageAtStart"`
	MemTotal  float64 `json:"memTotalMB,omitempty"`
}

// Settings are the run's parameters.
type Settings struct {
	Concurrency      int     `json:"concurrency"`
	WarmupS          float64 `json:"warmupSeconds"`
	DurationS        float64 `json:"durationSeconds"`
	BatchTimeoutMs   float64 `json:"batchTimeoutMs"`
	MaxMessageCount  int     `json:"maxMessageCount"`
	Orderers         int     `json:"orderers"`
	Consensus        string  `json:"consensus"`
	Departments      int     `json:"departments"`
	ReplayTxs        int     `json:"replayTransactions"`
	ReplayBlockTxs   int     `json:"replayBlockTransactions"`
	HotEvents        int     `json:"hotDatasetEvents"`
	QuerySamples     int     `json:"querySamples"`
	SettleS          float64 `json:"syntheticIndexerSettleSeconds"`
	Quick            bool    `json:"quick"`
	ExpectedCeilingS float64 `json:"expectedClosedLoopTxPerSecond,omitempty"`
}

// Ratios compare the REST path with the raw one at the same concurrency.
type Ratios struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"latencyP50"`
	P99        float64 `json:"latencyP99"`
}

// LedgerInfo describes the synthetic ledger.
type LedgerInfo struct {
	Blocks     int            `json:"blocks"`
	Txs        int            `json:"transactions"`
	Events     map[string]int `json:"events"`
	HotDataset string         `json:"hotDataset"`
	HotEvents  int            `json:"hotDatasetEvents"`
	Period     string         `json:"period"`
	From       time.Time      `json:"from"`
	To         time.Time      `json:"to"`
	MB         float64        `json:"sizeMB"`
}

// MemResult is a process's memory after the runs.
type MemResult struct {
	Process string  `json:"process"`
	Kind    string  `json:"kind"` // gateway, indexer (the consortium's), indexer-synthetic, or sample (a phase's peak within it)
	PeakMB  float64 `json:"peakRssMB"`
	NowMB   float64 `json:"rssMB"`
	AnonMB  float64 `json:"rssAnonMB"` // of now (of the peak, for a sample): the Go heap and stacks
	FileMB  float64 `json:"rssFileMB"` // of now (of the peak, for a sample): mapped files (Badger's tables)
	Note    string  `json:"note,omitempty"`
}

func memResult(process, kind, note string, m procMem) MemResult {
	return MemResult{Process: process, Kind: kind, PeakMB: mb(m.HWM), NowMB: mb(m.RSS), AnonMB: mb(m.Anon), FileMB: mb(m.File), Note: note}
}

// Target is one goal of the issue, judged on this run's figures.
type Target struct {
	Name   string  `json:"name"`
	Want   string  `json:"want"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Met    bool    `json:"met"`
	Judged bool    `json:"judged"` // false when the figure was not measured
	Reason string  `json:"reason,omitempty"`
}

// judge fills r.Targets from the figures.
func (r *Report) judge() {
	var ts []Target
	add := func(t Target, ok bool, reason string) {
		t.Judged = true
		t.Met = ok
		if !ok {
			t.Reason = reason
		}
		ts = append(ts, t)
	}
	skip := func(name, want, why string) {
		ts = append(ts, Target{Name: name, Want: want, Reason: "not measured: " + why})
	}
	if r.Ratios != nil && r.Raw != nil && r.REST != nil {
		add(Target{Name: "REST throughput / raw ceiling", Want: ">= 0.9", Value: r.Ratios.Throughput, Unit: "ratio"},
			r.Ratios.Throughput >= 0.9,
			fmt.Sprintf("REST %.1f tx/s vs raw %.1f tx/s at %d in flight", r.REST.TxPerSec, r.Raw.TxPerSec, r.Raw.Concurrency))
		add(Target{Name: "REST p99 latency / raw p99", Want: "<= 1.1", Value: r.Ratios.P99, Unit: "ratio"},
			r.Ratios.P99 > 0 && r.Ratios.P99 <= 1.1,
			fmt.Sprintf("REST p99 %.0f ms vs raw p99 %.0f ms (p50 %.0f vs %.0f); a REST write also waits for its department's indexer to apply the block",
				r.REST.Latency.P99, r.Raw.Latency.P99, r.REST.Latency.P50, r.Raw.Latency.P50))
	} else {
		skip("REST throughput / raw ceiling", ">= 0.9", "load phases skipped")
		skip("REST p99 latency / raw p99", "<= 1.1", "load phases skipped")
	}
	if r.LagRaw != nil && r.LagRaw.LagBlocks.Count > 0 {
		add(Target{Name: "indexer lag p99 at the ceiling load", Want: "<= 1 block", Value: r.LagRaw.LagBlocks.P99, Unit: "blocks"},
			r.LagRaw.LagBlocks.P99 <= 1,
			fmt.Sprintf("p99 %.0f blocks, %.0f ms behind the peer's commit (max %.0f blocks)", r.LagRaw.LagBlocks.P99, r.LagRaw.LagMs.P99, r.LagRaw.LagBlocks.Max))
	} else {
		skip("indexer lag p99 at the ceiling load", "<= 1 block", "no block committed during the raw phase")
	}
	if s := r.ReplaySynthetic; s != nil {
		ok := s.TxPerSec >= 5000 && s.Txs >= 100000
		reason := fmt.Sprintf("%.0f tx/s over %d transactions", s.TxPerSec, s.Txs)
		if s.Txs < 100000 {
			reason += " (fewer than the 100,000 the target is stated for)"
		}
		add(Target{Name: "replay from genesis (>= 100,000 tx)", Want: ">= 5000 tx/s", Value: s.TxPerSec, Unit: "tx/s"}, ok, reason)
	} else {
		skip("replay from genesis (>= 100,000 tx)", ">= 5000 tx/s", "replay skipped")
	}
	q := func(name string) *QueryResult {
		for i := range r.Queries {
			if r.Queries[i].Name == name && r.Queries[i].Error == "" && r.Queries[i].Latency.Count > 0 {
				return &r.Queries[i]
			}
		}
		return nil
	}
	if t := q(qTraceExport); t != nil {
		add(Target{Name: "trace of a 10,000-event dataset, p99", Want: "< 50 ms", Value: t.Latency.P99, Unit: "ms"},
			t.Latency.P99 < 50, fmt.Sprintf("the whole trace (%d events, %d KB) in one answer: p99 %.1f ms", t.Items, t.Bytes/1024, t.Latency.P99))
	} else {
		skip("trace of a 10,000-event dataset, p99", "< 50 ms", "query phase skipped or failed")
	}
	if t := q(qScores); t != nil {
		add(Target{Name: "score query p99", Want: "< 5 ms", Value: t.Latency.P99, Unit: "ms"},
			t.Latency.P99 < 5, fmt.Sprintf("%s on the %d-transaction ledger: p99 %.1f ms", t.Query, r.settingsTxs(), t.Latency.P99))
	} else {
		skip("score query p99", "< 5 ms", "query phase skipped or failed")
	}
	for _, x := range []struct{ kind, name string }{
		{"gateway", "peak RSS of every gateway (consortium, through the load)"},
		{"indexer", "peak RSS of every indexer (consortium, through the load and a rebuild)"},
		{"indexer-synthetic", "peak RSS of the indexer serving the 100,000-tx mirror"},
	} {
		peak, who := 0.0, ""
		for _, m := range r.Memory {
			if m.Kind == x.kind && m.PeakMB > peak {
				peak, who = m.PeakMB, m.Process
			}
		}
		if who == "" {
			skip(x.name, "< 200 MB", "no such process measured")
			continue
		}
		reason := fmt.Sprintf("%s peaked at %.0f MB", who, peak)
		if x.kind == "indexer-synthetic" {
			for _, m := range r.Memory {
				if m.Kind == "sample" {
					reason += fmt.Sprintf("; %s: %.0f MB (anon %.0f, file %.0f)", strings.TrimPrefix(m.Process, "  of which: "), m.PeakMB, m.AnonMB, m.FileMB)
				}
			}
		}
		add(Target{Name: x.name, Want: "< 200 MB", Value: peak, Unit: "MB"}, peak < 200, reason)
	}
	r.Targets = ts
}

func (r *Report) settingsTxs() int {
	if r.SyntheticLedger != nil {
		return r.SyntheticLedger.Txs
	}
	return 0
}

// Query names used by the targets.
const (
	qScores      = "scores, a block later each time (synthetic)"
	qScoresCold  = "scores, first query after start (synthetic)"
	qScoresSame  = "scores, same height again (synthetic)"
	qTraceExport = "trace, whole (synthetic, 10k events)"
)

// WriteJSON writes the report to path.
func (r *Report) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// PrintTable writes the human summary.
func (r *Report) PrintTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	section := func(title string) { fmt.Fprintf(tw, "\n%s\n", title) }
	row := func(cols ...any) {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = fmt.Sprint(c)
		}
		fmt.Fprintln(tw, "  "+strings.Join(parts, "\t"))
	}
	s := r.Settings
	fmt.Fprintf(tw, "govshare benchmark, %s, %d CPUs (load %s), %.0f s\n", r.StartedAt.Format(time.RFC3339), r.Machine.CPUs, r.Machine.LoadAvg, r.Seconds)
	fmt.Fprintf(tw, "consortium: %d departments, %d %s orderers, BatchTimeout %.0f ms, MaxMessageCount %d; %d in flight, %.0f s window after %.0f s warm-up\n",
		s.Departments, s.Orderers, s.Consensus, s.BatchTimeoutMs, s.MaxMessageCount, s.Concurrency, s.DurationS, s.WarmupS)

	if r.Raw != nil || r.REST != nil {
		section("LOAD (mix: register, request, approve, deliver, receipt, usage, contribution)")
		row("path", "tx/s", "p50 ms", "p99 ms", "max ms", "committed", "retries", "failed", "tx/block")
		for _, l := range []*LoadResult{r.Raw, r.REST} {
			if l != nil {
				row(l.Path, l.TxPerSec, l.Latency.P50, l.Latency.P99, l.Latency.Max, l.Committed, l.Retried, l.Failed, l.TxPerBlock)
			}
		}
		if r.Ratios != nil {
			row("REST / raw", r.Ratios.Throughput, r.Ratios.P50, r.Ratios.P99, "", "", "", "", "")
		}
		if r.REST != nil && r.REST.Gateway != nil {
			g := r.REST.Gateway
			row(fmt.Sprintf("(inside the gateways, mean of %d writes: %.0f ms in all = %.0f ms Fabric endorse-to-commit + %.0f ms waiting for the index + the rest)",
				g.Writes, g.HTTPMeanMs, g.FabricMeanMs, g.IndexWaitMean))
		}
		if s.ExpectedCeilingS > 0 {
			row(fmt.Sprintf("(closed loop bound: %d / (BatchTimeout + ~80 ms) = %.0f tx/s)", s.Concurrency, s.ExpectedCeilingS))
		}
	}
	if r.LagRaw != nil || r.LagREST != nil {
		section("INDEXER LAG behind its own peer's commits (every department, every block in the window)")
		row("during", "blocks", "p50 ms", "p99 ms", "max ms", "p50 blocks", "p99 blocks", "max blocks", "unmatched")
		for _, x := range []struct {
			name string
			l    *LagResult
		}{{"raw load", r.LagRaw}, {"REST load", r.LagREST}} {
			if x.l != nil {
				row(x.name, x.l.Blocks, x.l.LagMs.P50, x.l.LagMs.P99, x.l.LagMs.Max, x.l.LagBlocks.P50, x.l.LagBlocks.P99, x.l.LagBlocks.Max, x.l.Unmatched)
			}
		}
	}
	if r.ReplaySynthetic != nil || r.ReplayConsortium != nil {
		section("REPLAY FROM GENESIS")
		row("ledger", "tx", "blocks", "tx/block", "seconds", "tx/s", "Badger on disk MB")
		for _, x := range []struct {
			name string
			rr   *ReplayResult
		}{{"synthetic (in process)", r.ReplaySynthetic}, {"consortium (indexer process)", r.ReplayConsortium}} {
			if x.rr != nil {
				row(x.name, x.rr.Txs, x.rr.Blocks, x.rr.TxsPerBlock, x.rr.Seconds, x.rr.TxPerSec, fmt.Sprintf("%.1f", float64(x.rr.DiskBytes)/(1<<20)))
			}
		}
	}
	if len(r.Queries) > 0 {
		section("QUERIES (one client, sequential)")
		row("query", "where", "items", "KB", "p50 ms", "p99 ms", "max ms")
		for _, q := range r.Queries {
			if q.Error != "" {
				row(q.Name, q.Where, "error: "+truncate(q.Error, 80))
				continue
			}
			row(q.Name, q.Where, q.Items, q.Bytes/1024, q.Latency.P50, q.Latency.P99, q.Latency.Max)
		}
	}
	if len(r.Memory) > 0 {
		section("MEMORY (peak RSS = VmHWM since the process started)")
		row("process", "peak MB", "now MB", "anon MB", "file MB", "")
		for _, m := range r.Memory {
			now := fmt.Sprintf("%.1f", m.NowMB)
			if m.Kind == "sample" {
				now = ""
			}
			row(m.Process, fmt.Sprintf("%.1f", m.PeakMB), now, fmt.Sprintf("%.1f", m.AnonMB), fmt.Sprintf("%.1f", m.FileMB), m.Note)
		}
	}
	section("TARGETS")
	row("target", "want", "value", "met", "")
	for _, t := range r.Targets {
		met := "MET"
		switch {
		case !t.Judged:
			met = "-"
		case !t.Met:
			met = "MISSED"
		}
		reason := t.Reason
		if t.Met {
			reason = ""
		}
		row(t.Name, t.Want, fmt.Sprintf("%g %s", t.Value, t.Unit), met, reason)
	}
	if len(r.Notes) > 0 {
		section("NOTES")
		for _, n := range r.Notes {
			row("- " + n)
		}
	}
	if len(r.Errors) > 0 {
		section("ERRORS")
		for _, e := range r.Errors {
			row("- " + e)
		}
	}
	tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
