package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	level := func(n int, raw, rest float64) Level {
		return Level{Concurrency: n, Throughput: ratio(rest, raw),
			Raw:  &LoadResult{Path: "raw fabric-gateway", TxPerSec: raw, RetriesPerCommit: 0.01, Retried: 1, PhaseCommitted: 100},
			REST: &LoadResult{Path: "REST gateways", TxPerSec: rest, RetriesPerCommit: 0.02, Retried: 1, GatewayRetries: 1, PhaseCommitted: 100, Gateway: &Breakdown{Writes: 100, Retries: 1}}}
	}
	full := func() *Report {
		return &Report{
			Levels:          []Level{level(32, 100, 95), level(128, 120, 110), level(256, 110, 100)},
			Raw:             &LoadResult{Path: "raw", TxPerSec: 100, Concurrency: 32, Latency: Dist{Count: 10, P50: 400, P99: 600}},
			REST:            &LoadResult{Path: "rest", TxPerSec: 95, Concurrency: 32, Latency: Dist{Count: 10, P50: 420, P99: 640}},
			Ratios:          &Ratios{Throughput: 0.95, P50: 1.05, P99: 1.067},
			LagRaw:          &LagResult{LagBlocks: Dist{Count: 5, P99: 1, Max: 1}, LagMs: Dist{Count: 5, P99: 30}},
			ReplaySynthetic: &ReplayResult{Txs: 100000, TxPerSec: 8000},
			SyntheticLedger: &LedgerInfo{Txs: 100000},
			Queries: []QueryResult{
				{Name: qTraceExport, Latency: Dist{Count: 50, P99: 40}, Items: 10000},
				{Name: qScores, Latency: Dist{Count: 50, P99: 3}},
			},
			Memory: []MemResult{{Process: "gateway-dept1", Kind: "gateway", PeakMB: 30}, {Process: "indexer-dept1", Kind: "indexer", PeakMB: 90},
				{Process: "indexer (synthetic mirror)", Kind: "indexer-synthetic", PeakMB: 150}, {Process: "  of which: x", Kind: "sample", PeakMB: 900}},
		}
	}
	met := func(r *Report) map[string]Target {
		r.judge()
		out := map[string]Target{}
		for _, tg := range r.Targets {
			out[tg.Name] = tg
		}
		return out
	}
	t.Run("all met", func(t *testing.T) {
		for name, tg := range met(full()) {
			if !tg.Judged || !tg.Met || tg.Reason != "" {
				t.Errorf("%s: %+v", name, tg)
			}
		}
	})
	tests := []struct {
		name   string
		target string
		edit   func(*Report)
	}{
		{"throughput at 128", "REST / raw throughput at 128 in flight", func(r *Report) { r.Levels[1].Throughput = 0.89 }},
		{"raw retries at 256", "retries per commit, raw fabric-gateway, at 256 in flight", func(r *Report) { r.Levels[2].Raw.RetriesPerCommit = 0.2 }},
		{"REST retries at 32", "retries per commit, REST gateways, at 32 in flight", func(r *Report) { r.Levels[0].REST.RetriesPerCommit = 1.1 }},
		{"p99", "REST p99 latency / raw p99", func(r *Report) { r.Ratios.P99 = 1.2 }},
		{"lag", "indexer lag p99 at the ceiling load", func(r *Report) { r.LagRaw.LagBlocks.P99 = 2 }},
		{"replay rate", "replay from genesis (>= 100,000 tx)", func(r *Report) { r.ReplaySynthetic.TxPerSec = 4000 }},
		{"replay size", "replay from genesis (>= 100,000 tx)", func(r *Report) { r.ReplaySynthetic.Txs = 20000 }},
		{"trace", "trace of a 10,000-event dataset, p99", func(r *Report) { r.Queries[0].Latency.P99 = 50 }},
		{"scores", "score query p99", func(r *Report) { r.Queries[1].Latency.P99 = 5.5 }},
		{"gateway memory", "peak RSS of every gateway (consortium, through the load)", func(r *Report) { r.Memory[0].PeakMB = 201 }},
		{"indexer memory", "peak RSS of every indexer (consortium, through the load and a rebuild)", func(r *Report) { r.Memory[1].PeakMB = 250 }},
		{"big mirror memory", "peak RSS of the indexer serving the 100,000-tx mirror", func(r *Report) { r.Memory[2].PeakMB = 200 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := full()
			tt.edit(r)
			got := met(r)
			tg, ok := got[tt.target]
			if !ok || !tg.Judged || tg.Met || tg.Reason == "" {
				t.Fatalf("%s: %+v", tt.target, tg)
			}
			for name, other := range got {
				if name != tt.target && !other.Met {
					t.Errorf("%s missed too: %+v", name, other)
				}
			}
		})
	}
	t.Run("not measured", func(t *testing.T) {
		r := &Report{}
		for name, tg := range met(r) {
			if tg.Judged || tg.Met || !strings.HasPrefix(tg.Reason, "not measured") {
				t.Errorf("%s: %+v", name, tg)
			}
		}
		if len(r.Targets) != 10 {
			t.Errorf("%d targets, want 10", len(r.Targets))
		}
	})
}

func TestReportOutput(t *testing.T) {
	r := &Report{Raw: &LoadResult{Path: "raw fabric-gateway", TxPerSec: 70}, Queries: []QueryResult{{Name: "q", Error: "boom"}},
		Memory: []MemResult{{Process: "gateway-dept1", Kind: "gateway", PeakMB: 30}, {Process: "indexer-dept1", Kind: "indexer", PeakMB: 300}},
		Notes:  []string{"a note"}}
	r.judge()
	var buf bytes.Buffer
	r.PrintTable(&buf)
	for _, want := range []string{"raw fabric-gateway", "error: boom", "gateway-dept1", "TARGETS", "MISSED", "a note"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	path := filepath.Join(t.TempDir(), "sub", "bench.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil || back.Raw.TxPerSec != 70 || len(back.Targets) != len(r.Targets) {
		t.Fatalf("written %s (%v)", raw, err)
	}
}

func TestParseGatewayMetrics(t *testing.T) {
	text := `# HELP gateway_fabric_call_duration_seconds x
gateway_fabric_call_duration_seconds_sum{call="submit",outcome="ok",tx="RecordUsage"} 4.5
gateway_fabric_call_duration_seconds_count{call="submit",outcome="ok",tx="RecordUsage"} 10
gateway_fabric_call_duration_seconds_sum{call="submit",outcome="not_found",tx="CreateRequest"} 9
gateway_fabric_call_duration_seconds_count{call="submit",outcome="not_found",tx="CreateRequest"} 3
gateway_fabric_call_duration_seconds_sum{call="evaluate",outcome="ok",tx="GetRequest"} 7
gateway_index_wait_duration_seconds_sum{outcome="ok"} 0.3
gateway_index_wait_duration_seconds_count{outcome="ok"} 10
gateway_http_request_duration_seconds_sum{method="POST",route="/v1/usage",status="201"} 5
gateway_http_request_duration_seconds_count{method="POST",route="/v1/usage",status="201"} 10
gateway_http_request_duration_seconds_sum{method="POST",route="/v1/requests",status="404"} 1
gateway_http_request_duration_seconds_sum{method="GET",route="/v1/datasets",status="200"} 2
`
	s, err := parseGatewayMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	b := s.minus(gwSums{})
	if b != (Breakdown{Writes: 10, HTTPMeanMs: 500, FabricMeanMs: 450, IndexWaitMean: 30}) {
		t.Fatalf("%+v", b)
	}
}
