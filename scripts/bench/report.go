package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
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

	// Levels are the load phases at each number of transactions in flight.
	Levels []Level `json:"levels,omitempty"`

	// Raw and REST are the primary level's (Settings.Concurrency).
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
	Levels           []int   `json:"levels"`
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

// Level is the raw and the REST load phase at one number of transactions
// in flight.
type Level struct {
	Concurrency int         `json:"concurrency"`
	Raw         *LoadResult `json:"raw,omitempty"`
	REST        *LoadResult `json:"rest,omitempty"`
	Throughput  float64     `json:"throughputRatio"` // REST tx/s over raw tx/s
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

// restOverhead says where a REST write's time went beyond Fabric's.
func restOverhead(l *LoadResult) string {
	g := l.Gateway
	if g == nil || g.Writes == 0 {
		return ""
	}
	return fmt.Sprintf("; inside the gateways a write took %.0f ms: %.0f ms Fabric endorse-to-commit, %.0f ms waiting for the index", g.HTTPMeanMs, g.FabricMeanMs, g.IndexWaitMean)
}

// retryReasonText explains a path's retries: who retried, and why.
func retryReasonText(l *LoadResult) string {
	s := fmt.Sprintf("%d client retries", l.Retried)
	if l.Gateway != nil {
		s += fmt.Sprintf(" + %d gateway retries (read conflicts at commit)", l.GatewayRetries)
	}
	s += fmt.Sprintf(" for %d commits over the phase", l.PhaseCommitted)
	if len(l.ErrorCodes) > 0 {
		codes := make([]string, 0, len(l.ErrorCodes))
		for c, n := range l.ErrorCodes {
			codes = append(codes, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(codes)
		s += "; failed attempts by code: " + strings.Join(codes, ", ")
	}
	if f := l.Floor; f != nil {
		s += fmt.Sprintf("; %d waits of %.0f ms on average for a peer to commit a block instead (%d given up after 3 s)", f.Waited, f.WaitMeanMs, f.TimedOut)
	}
	return s
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
	for _, lv := range r.Levels {
		n := lv.Concurrency
		if lv.Raw == nil || lv.REST == nil {
			skip(fmt.Sprintf("REST / raw throughput at %d in flight", n), ">= 0.9", "a load phase at this level failed")
		} else {
			add(Target{Name: fmt.Sprintf("REST / raw throughput at %d in flight", n), Want: ">= 0.9", Value: lv.Throughput, Unit: "ratio"},
				lv.Throughput >= 0.9, fmt.Sprintf("REST %.1f tx/s vs raw %.1f tx/s (p50 %.0f vs %.0f ms)%s",
					lv.REST.TxPerSec, lv.Raw.TxPerSec, lv.REST.Latency.P50, lv.Raw.Latency.P50, restOverhead(lv.REST)))
		}
		for _, l := range []*LoadResult{lv.Raw, lv.REST} {
			if l == nil {
				continue
			}
			name := fmt.Sprintf("retries per commit, %s, at %d in flight", l.Path, n)
			add(Target{Name: name, Want: "< 0.2", Value: l.RetriesPerCommit, Unit: "retries/commit"},
				l.RetriesPerCommit < 0.2, retryReasonText(l))
		}
	}
	if len(r.Levels) == 0 {
		skip("REST / raw throughput at each level", ">= 0.9", "load phases skipped")
		skip("retries per commit at each level", "< 0.2", "load phases skipped")
	}
	if r.Ratios != nil && r.Raw != nil && r.REST != nil {
		add(Target{Name: "REST p99 latency / raw p99", Want: "<= 1.1", Value: r.Ratios.P99, Unit: "ratio"},
			r.Ratios.P99 > 0 && r.Ratios.P99 <= 1.1,
			fmt.Sprintf("REST p99 %.0f ms vs raw p99 %.0f ms (p50 %.0f vs %.0f); a REST write also waits for its department's indexer to apply the block",
				r.REST.Latency.P99, r.Raw.Latency.P99, r.REST.Latency.P50, r.Raw.Latency.P50))
	} else {
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
	fmt.Fprintf(tw, "consortium: %d departments, %d %s orderers, BatchTimeout %.0f ms, MaxMessageCount %d; load at %v in flight (%d primary), %.0f s window after %.0f s warm-up\n",
		s.Departments, s.Orderers, s.Consensus, s.BatchTimeoutMs, s.MaxMessageCount, s.Levels, s.Concurrency, s.DurationS, s.WarmupS)

	levels := r.Levels
	if len(levels) == 0 && (r.Raw != nil || r.REST != nil) {
		levels = []Level{{Concurrency: s.Concurrency, Raw: r.Raw, REST: r.REST}}
	}
	if len(levels) > 0 {
		section("LOAD (mix: register, request, approve, deliver, receipt, usage, contribution)")
		row("in flight", "path", "tx/s", "p50 ms", "p99 ms", "max ms", "committed", "retries", "per commit", "floor waits", "failed", "tx/block")
		for _, lv := range levels {
			for _, l := range []*LoadResult{lv.Raw, lv.REST} {
				if l == nil {
					continue
				}
				retries := fmt.Sprint(l.Retried)
				if l.Gateway != nil {
					retries = fmt.Sprintf("%d+%d gw", l.Retried, l.GatewayRetries)
				}
				waits := ""
				if l.Floor != nil {
					waits = fmt.Sprintf("%d, %.0f ms", l.Floor.Waited, l.Floor.WaitMeanMs)
				}
				row(lv.Concurrency, l.Path, l.TxPerSec, l.Latency.P50, l.Latency.P99, l.Latency.Max, l.Committed, retries, l.RetriesPerCommit, waits, l.Failed, l.TxPerBlock)
			}
			if lv.Raw != nil && lv.REST != nil {
				row(lv.Concurrency, "REST / raw", lv.Throughput, ratio(lv.REST.Latency.P50, lv.Raw.Latency.P50), ratio(lv.REST.Latency.P99, lv.Raw.Latency.P99), "", "", "", "", "", "", "")
			}
		}
		row("(retries: the client's retried attempts over the whole phase, + the REST gateways' own; per commit: over the phase's commits; floor waits: waits in which a peer had not committed the block yet, before a step (its own peer, for the previous step's block; REST's X-Min-Block wait is the indexer's and not counted) or after it (its endorsers, for its own block), and their mean)")
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
		row("during", "blocks", "p50 ms", "p99 ms", "max ms", "p50 blocks", "p99 blocks", "max blocks", "unmatched", "peer spread p50/p99 ms")
		for _, x := range []struct {
			name string
			l    *LagResult
		}{{"raw load", r.LagRaw}, {"REST load", r.LagREST}} {
			if x.l != nil {
				row(x.name, x.l.Blocks, x.l.LagMs.P50, x.l.LagMs.P99, x.l.LagMs.Max, x.l.LagBlocks.P50, x.l.LagBlocks.P99, x.l.LagBlocks.Max, x.l.Unmatched,
					fmt.Sprintf("%.0f / %.0f", x.l.PeerSpreadMs.P50, x.l.PeerSpreadMs.P99))
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
