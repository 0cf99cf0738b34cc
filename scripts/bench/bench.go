package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/network"
)

// Config is the benchmark's settings.
type Config struct {
	Net          network.Options // the consortium (its run folder, binaries), to restart an indexer
	Out          string          // the JSON file
	Concurrency  int             // the primary level: its load phases feed the lag, replay and latency targets
	NoFloor      bool            // calls carry no floor: the next step of a flow may be endorsed by a peer that has not committed the previous one
	Levels       []int           // transactions in flight of each pair of load phases (raw, REST); Concurrency among them
	Warmup       time.Duration
	Duration     time.Duration
	ReplayTxs    int
	ReplayBlock  int // transactions per synthetic block; 0: as the raw phase's blocks
	HotEvents    int
	QuerySamples int
	Settle       time.Duration // longest wait for the synthetic indexer to be idle before its queries
	Quick        bool
	Skip         map[string]bool // phases: load, lag, queries, replay, rebuild, memory
	Work         string          // scratch folder for the synthetic mirror; removed unless Keep
	Keep         bool
	Progress     io.Writer
	Scale        []int // ledger sizes of the scale run; none: the consortium run
}

// Phases that -skip names.
var phaseNames = []string{"load", "queries", "memory", "rebuild", "replay", "synthetic-queries"}

// Bench runs the phases in order on one consortium.
type Bench struct {
	cfg   Config
	c     *Consortium
	net   *network.Net
	fab   *Fabric
	rep   *Report
	log   func(format string, args ...any)
	runID string

	work   string     // scratch folder
	syn    *Synthetic // the replayed synthetic ledger (its blocks dropped)
	mirror string     // and its mirror
}

// Run measures everything the configuration asks for and returns the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	b := &Bench{cfg: cfg, runID: fmt.Sprintf("%x", start.Unix()%0xfffff)}
	b.log = func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	var err error
	if b.c, err = LoadConsortium(cfg.Net.Run); err != nil {
		return nil, err
	}
	quiet := cfg.Net
	quiet.Out = io.Discard
	if b.net, err = network.New(quiet); err != nil {
		return nil, err
	}
	topo := b.net.Topology()
	b.rep = &Report{StartedAt: start.UTC(), Run: cfg.Net.Run, Machine: machine(),
		Settings: Settings{Concurrency: cfg.Concurrency, Levels: cfg.Levels, WarmupS: cfg.Warmup.Seconds(), DurationS: cfg.Duration.Seconds(),
			BatchTimeoutMs: float64(topo.Ordering.BatchTimeout.Milliseconds()), MaxMessageCount: topo.Ordering.MaxMessageCount,
			Orderers: len(topo.Ordering.Nodes), Consensus: topo.Ordering.Consensus, Departments: len(b.c.Depts),
			ReplayTxs: cfg.ReplayTxs, ReplayBlockTxs: cfg.ReplayBlock, HotEvents: cfg.HotEvents, QuerySamples: cfg.QuerySamples, Quick: cfg.Quick}}
	if bt := topo.Ordering.BatchTimeout.Seconds(); bt > 0 {
		b.rep.Settings.ExpectedCeilingS = round3(float64(cfg.Concurrency) / (bt + 0.08))
	}
	if b.fab, err = NewFabric(b.c); err != nil {
		return nil, err
	}
	defer b.fab.Close()

	steps := []struct {
		phase string
		name  string
		f     func(context.Context) error
	}{
		{"load", "load: raw fabric-gateway clients and the REST gateways, at each level of transactions in flight", b.loadLevels},
		{"queries", "queries on the consortium's indexers, through the Bureau's gateway", b.consortiumQueries},
		{"memory", "peak RSS of the gateways and indexers", b.memory},
		{"rebuild", "replay of the consortium's ledger: an indexer rebuilt from genesis", b.rebuild},
		{"replay", "synthetic ledger: build and replay from genesis", b.replay},
		{"synthetic-queries", "queries on a real indexer process serving the replayed mirror", b.syntheticQueries},
	}
	for _, s := range steps {
		if cfg.Skip[s.phase] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		t := time.Now()
		b.log("%s ...", s.name)
		if err := s.f(ctx); err != nil {
			b.rep.Errors = append(b.rep.Errors, fmt.Sprintf("%s: %v", s.name, err))
			b.log("%s FAILED: %v", s.name, err)
			continue
		}
		b.log("%s done (%.1fs)", s.name, time.Since(t).Seconds())
	}
	if b.work != "" && !cfg.Keep {
		os.RemoveAll(b.work)
	}
	b.notes()
	b.rep.judge()
	b.rep.Seconds = round3(time.Since(start).Seconds())
	return b.rep, ctx.Err()
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

func (b *Bench) backoff() Backoff {
	return Backoff{Min: 25 * time.Millisecond, Max: time.Second, Within: 30 * time.Second}
}

// loadLevels runs the raw and the REST load phase at each level, the
// primary level's figures also as the report's Raw and REST.
func (b *Bench) loadLevels(ctx context.Context) error {
	var errs []error
	for _, n := range b.cfg.Levels {
		if ctx.Err() != nil {
			break
		}
		b.log(" %d in flight ...", n)
		lv := Level{Concurrency: n}
		raw, rawLag, rerr := b.loadRaw(ctx, n)
		rest, restLag, serr := b.loadREST(ctx, n)
		lv.Raw, lv.REST = raw, rest
		if raw != nil && rest != nil {
			lv.Throughput = ratio(rest.TxPerSec, raw.TxPerSec)
		}
		b.rep.Levels = append(b.rep.Levels, lv)
		if n == b.cfg.Concurrency {
			b.rep.Raw, b.rep.LagRaw, b.rep.REST, b.rep.LagREST = raw, rawLag, rest, restLag
			if raw != nil && rest != nil {
				b.rep.Ratios = &Ratios{Throughput: lv.Throughput, P50: ratio(rest.Latency.P50, raw.Latency.P50),
					P99: ratio(rest.Latency.P99, raw.Latency.P99)}
			}
		}
		for _, err := range []error{rerr, serr} {
			if err != nil {
				errs = append(errs, fmt.Errorf("%d in flight: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}

// load runs one load phase with the lag monitor watching.
func (b *Bench) load(ctx context.Context, name, path string, sub Submitter, inFlight int) (*LoadResult, *LagResult, error) {
	mon, err := StartLagMonitor(ctx, b.fab, b.c)
	if err != nil {
		return nil, nil, err
	}
	defer mon.Stop()
	cfg := LoadConfig{Name: fmt.Sprintf("%s%d", name, inFlight), RunID: b.runID, Concurrency: inFlight, Warmup: b.cfg.Warmup, Duration: b.cfg.Duration, Backoff: b.backoff(), NoFloor: b.cfg.NoFloor}
	t0 := time.Now()
	res, _ := runLoad(ctx, sub, b.c, cfg)
	res.Path = path
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := mon.CaughtUp(wctx); err != nil {
		b.rep.Errors = append(b.rep.Errors, err.Error())
	}
	lag := mon.Result(t0.Add(cfg.Warmup), t0.Add(cfg.Warmup+cfg.Duration))
	res.Blocks, res.TxPerBlock, res.PeerSpreadMs = lag.Blocks, lag.TxPerBlock, lag.PeerSpreadMs
	b.log("  %s at %d: %.1f tx/s, p50 %.0f ms, p99 %.0f ms, %d committed, %d retried, %d failed; indexer lag p99 %.0f blocks / %.0f ms",
		name, inFlight, res.TxPerSec, res.Latency.P50, res.Latency.P99, res.Committed, res.Retried, res.Failed, lag.LagBlocks.P99, lag.LagMs.P99)
	if res.Committed == 0 {
		return &res, &lag, fmt.Errorf("nothing committed in the window: %s", res.FirstError)
	}
	return &res, &lag, nil
}

func (b *Bench) loadRaw(ctx context.Context, inFlight int) (*LoadResult, *LagResult, error) {
	before := b.fab.FloorStats()
	res, lag, err := b.load(ctx, "raw", "raw fabric-gateway", b.fab, inFlight)
	if res != nil {
		d := floorDiff(b.fab.FloorStats(), before)
		res.Floor = &d
		res.RetriesPerCommit = retriesPerCommit(res.Retried, res.PhaseCommitted)
	}
	return res, lag, err
}

func (b *Bench) loadREST(ctx context.Context, inFlight int) (*LoadResult, *LagResult, error) {
	rest := NewREST(b.c, inFlight)
	defer rest.Close()
	before, merr := scrapeGateways(ctx, b.c)
	res, lag, err := b.load(ctx, "rest", "REST gateways", rest, inFlight)
	if after, aerr := scrapeGateways(ctx, b.c); res != nil {
		if merr == nil && aerr == nil {
			bd := after.minus(before)
			res.Gateway = &bd
			res.GatewayRetries = bd.Retries
			res.Floor = &FloorFigures{Waited: bd.FloorWaited, WaitMeanMs: bd.FloorWaitMeanMs, TimedOut: bd.FloorTimeouts, HeightQueries: bd.HeightQueries}
		} else {
			b.rep.Errors = append(b.rep.Errors, fmt.Sprintf("REST at %d: the gateways' metrics could not be read (%v), so their own retries are not counted", inFlight, errors.Join(merr, aerr)))
		}
		res.RetriesPerCommit = retriesPerCommit(res.Retried+res.GatewayRetries, res.PhaseCommitted)
	}
	return res, lag, err
}

// consortiumQueries asks, through the Bureau's gateway as its evaluator
// and auditor, what users ask of the ledger the load phases wrote.
func (b *Bench) consortiumQueries(ctx context.Context) error {
	d := b.auditDept()
	if d == nil {
		return errors.New("no department has both an evaluator and an auditor")
	}
	hc := b.c.GatewayClient(30*time.Second, 4)
	defer hc.CloseIdleConnections()
	n, warm := b.cfg.QuerySamples, 3
	period := time.Now().UTC().Format("2006-01")
	ds := fmt.Sprintf("bench-%s-raw-1", b.runID)
	where := d.MSPID + " gateway"
	ev, au := asker{hc: hc, base: d.Gateway, header: bearer(d.Users[domain.RoleEvaluator].Token)},
		asker{hc: hc, base: d.Gateway, header: bearer(d.Users[domain.RoleAuditor].Token)}
	b.rep.Queries = append(b.rep.Queries,
		ev.measure(ctx, "scores (consortium)", where, "/v1/scores?period="+period, warm, n, countItems),
		au.measure(ctx, "metering, 30 days by day (consortium)", where, "/v1/metering?bucket=day", warm, n, countItems),
		au.measure(ctx, "trace of one flow's dataset (consortium)", where, "/v1/audit/trace?dataset="+ds+"&limit=1000", warm, n, countItems),
	)
	return nil
}

func (b *Bench) auditDept() *Dept {
	for i := range b.c.Depts {
		d := &b.c.Depts[i]
		if _, ok := d.Users[domain.RoleEvaluator]; ok {
			if _, ok := d.Users[domain.RoleAuditor]; ok {
				return d
			}
		}
	}
	return nil
}

// memory reads every gateway's and indexer's peak RSS.
func (b *Bench) memory(ctx context.Context) error {
	procs, err := b.c.procs("gateway-", "indexer-")
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range procs {
		m, err := readMem(p.PID, p.Bin)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			continue
		}
		kind, _, _ := strings.Cut(p.Name, "-")
		b.rep.Memory = append(b.rep.Memory, memResult(p.Name, kind, "consortium process, since it started", m))
	}
	return errors.Join(errs...)
}

func mb(kb int64) float64 { return round3(float64(kb) / 1024) }

// rebuild replays the consortium's own ledger into the Bureau's indexer
// (the department that answers the queries).
func (b *Bench) rebuild(ctx context.Context) error {
	d := b.auditDept()
	if d == nil {
		d = &b.c.Depts[len(b.c.Depts)-1]
	}
	r, err := replayConsortium(ctx, b.net, b.fab, b.c, d, filepath.Join(b.cfg.Net.ProjectBin, "indexer"))
	if err != nil {
		return err
	}
	b.rep.ReplayConsortium = &r
	b.log("  consortium ledger: %d tx in %d blocks replayed in %.1f s: %.0f tx/s", r.Txs, r.Blocks, r.Seconds, r.TxPerSec)
	procs, err := b.c.procs("indexer-" + d.Slug)
	if err == nil && len(procs) == 1 {
		if m, err := readMem(procs[0].PID, procs[0].Bin); err == nil {
			b.rep.Memory = append(b.rep.Memory, memResult(procs[0].Name+" (rebuilt)", "indexer", "after replaying the consortium ledger from genesis", m))
		}
	}
	return nil
}

// synthetic builds the big ledger, replays it in process, then serves the
// mirror from a real indexer process and times the queries on it.
func (b *Bench) replay(ctx context.Context) error {
	work, err := b.workDir()
	if err != nil {
		return err
	}
	dir := filepath.Join(work, "mirror")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	perBlock := b.cfg.ReplayBlock
	if perBlock <= 0 && b.rep.Raw != nil && b.rep.Raw.TxPerBlock >= 1 {
		perBlock = int(b.rep.Raw.TxPerBlock + 0.5)
	}
	if perBlock <= 0 {
		perBlock = b.cfg.Concurrency
	}
	b.rep.Settings.ReplayBlockTxs = perBlock
	people, err := b.signers()
	if err != nil {
		return err
	}
	t := time.Now()
	syn, err := BuildSynthetic(SyntheticSpec{Channel: b.c.Channel, Txs: b.cfg.ReplayTxs, TxsPerBlock: perBlock, HotEvents: b.cfg.HotEvents,
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 30 * 24 * time.Hour, Flows: b.cfg.Concurrency, People: people})
	if err != nil {
		return err
	}
	build := time.Since(t)
	size := 0
	events := map[string]int{}
	for _, blk := range syn.Blocks {
		size += len(blk)
	}
	for k, v := range syn.Events {
		events[string(k)] = v
	}
	b.rep.SyntheticLedger = &LedgerInfo{Blocks: len(syn.Blocks), Txs: syn.Txs, Events: events, HotDataset: syn.HotDataset,
		HotEvents: b.cfg.HotEvents, Period: syn.Period, From: syn.From, To: syn.To, MB: round3(float64(size) / (1 << 20))}
	b.log("  built %d tx in %d blocks of %d (%.0f MB) in %.1f s", syn.Txs, len(syn.Blocks), perBlock, float64(size)/(1<<20), build.Seconds())

	r, err := replaySynthetic(ctx, syn, dir, b.c.Channel, b.c.Chaincode)
	r.BuildSeconds = round3(build.Seconds())
	if err != nil {
		return err
	}
	b.rep.ReplaySynthetic = &r
	b.log("  replayed in %.1f s: %.0f tx/s, %.0f blocks/s, %.1f MB on disk", r.Seconds, r.TxPerSec, r.BlocksPerS, float64(r.DiskBytes)/(1<<20))
	syn.Blocks = nil // the queries need only its description
	b.syn, b.mirror = syn, dir
	return nil
}

// workDir is the scratch folder, made on first use.
func (b *Bench) workDir() (string, error) {
	if b.work != "" {
		return b.work, nil
	}
	b.work = b.cfg.Work
	if b.work == "" {
		var err error
		if b.work, err = os.MkdirTemp("", "govshare-bench-"); err != nil {
			return "", err
		}
	}
	return b.work, os.MkdirAll(b.work, 0o755)
}

// syntheticQueries serves the replayed mirror from a real indexer process
// and times the queries on it, sampling the process's memory meanwhile.
func (b *Bench) syntheticQueries(ctx context.Context) error {
	syn, dir, work := b.syn, b.mirror, b.work
	if syn == nil {
		return errors.New("no synthetic mirror: the replay phase did not run")
	}
	people, err := b.signers()
	if err != nil {
		return err
	}
	ix, err := startIndexer(ctx, filepath.Join(b.cfg.Net.ProjectBin, "indexer"), work, dir, filepath.Join(work, "cert.pem"), b.c.Channel, b.c.Chaincode)
	if err != nil {
		return err
	}
	defer ix.Stop()
	mem := startMemSampler(ix.PID(), 50*time.Millisecond, "idle after start (Badger compacting the fresh mirror)")
	// Badger compacts a freshly written mirror for a while after it opens:
	// the queries start once the process is idle, as a long-running
	// indexer's would be.
	settled, err := waitIdle(ix.PID(), b.cfg.Settle)
	b.rep.Settings.SettleS = round3(settled.Seconds())
	if err != nil {
		b.rep.Errors = append(b.rep.Errors, fmt.Sprintf("synthetic indexer: %v; querying anyway", err))
	}
	hc := ix.HC
	defer hc.CloseIdleConnections()
	n, warm := b.cfg.QuerySamples, 3
	where := "indexer process, synthetic mirror"
	ev := asker{hc: hc, base: ix.URL, header: callerHeaders("BureauMSP", "evaluator", "evaluator1")}
	au := asker{hc: hc, base: ix.URL, header: callerHeaders("BureauMSP", "auditor", "auditor1")}
	from, to := syn.From.Format(time.RFC3339), syn.To.Format(time.RFC3339)
	hot := syn.HotDataset
	height, err := indexerHeight(ctx, hc, ix.URL)
	if err != nil {
		return err
	}
	steps := []struct {
		name string
		f    func() QueryResult
	}{
		{qScoresCold, func() QueryResult {
			return ev.measureOnce(ctx, qScoresCold, where, "/v1/scores?period="+syn.Period+fmt.Sprintf("&asOfBlock=%d", height-2-uint64(warm+n)), countItems)
		}},
		{qScores, func() QueryResult {
			return ev.measureAdvancing(ctx, qScores, where, "/v1/scores?period="+syn.Period, height-1-uint64(warm+n), warm, n, countItems)
		}},
		{qScoresSame, func() QueryResult {
			return ev.measure(ctx, qScoresSame, where, "/v1/scores?period="+syn.Period, warm, n, countItems)
		}},
		{"metering of one department, one day by hour (synthetic)", func() QueryResult {
			day := syn.From.Add(24 * time.Hour)
			return au.measure(ctx, "metering of one department, one day by hour (synthetic)", where, "/v1/metering?bucket=hour&department="+people[1].MSPID+
				"&from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339), warm, n, countItems)
		}},
		{"metering of the hot dataset, 30 days by day (synthetic)", func() QueryResult {
			return au.measure(ctx, "metering of the hot dataset, 30 days by day (synthetic)", where, "/v1/metering?bucket=day&dataset="+hot+"&from="+from+"&to="+to, warm, n, countItems)
		}},
		{"trace, first page of 1000 (synthetic, 10k events)", func() QueryResult {
			return au.measure(ctx, "trace, first page of 1000 (synthetic, 10k events)", where, "/v1/audit/trace?dataset="+hot+"&limit=1000", warm, n, countItems)
		}},
		{"trace, all 10 pages (synthetic, 10k events)", func() QueryResult {
			return au.measureWalk(ctx, "trace, all 10 pages (synthetic, 10k events)", where, "/v1/audit/trace?dataset="+hot+"&limit=1000", 1, max(n/10, 5))
		}},
		{qTraceExport, func() QueryResult {
			return au.measure(ctx, qTraceExport, where, "/v1/audit/export?dataset="+hot+"&format=json", warm, n, countArray)
		}},
	}
	for _, st := range steps {
		mem.Phase(st.name)
		b.rep.Queries = append(b.rep.Queries, st.f())
	}
	peaks := mem.Stop()
	// The process's own peak, then where it was reached: Badger compacting
	// the freshly written mirror, or the queries (the largest of them).
	if m, err := readMem(ix.PID(), ""); err == nil {
		b.rep.Memory = append(b.rep.Memory, memResult("indexer (synthetic mirror)", "indexer-synthetic",
			fmt.Sprintf("serving the %d-tx mirror; VmHWM since its start", syn.Txs), m))
	}
	var worst phasePeak
	for i, p := range peaks {
		if i == 0 {
			b.rep.Memory = append(b.rep.Memory, MemResult{Process: "  of which: " + p.Phase, Kind: "sample", PeakMB: mb(p.Mem.RSS),
				AnonMB: mb(p.Mem.Anon), FileMB: mb(p.Mem.File), Note: fmt.Sprintf("largest RSS sampled every 50 ms over the %.0f s until it was idle", settled.Seconds())})
			continue
		}
		if p.Mem.RSS > worst.Mem.RSS {
			worst = p
		}
	}
	if worst.Phase != "" {
		b.rep.Memory = append(b.rep.Memory, MemResult{Process: "  of which: the queries", Kind: "sample", PeakMB: mb(worst.Mem.RSS),
			AnonMB: mb(worst.Mem.Anon), FileMB: mb(worst.Mem.File), Note: "largest RSS sampled, during: " + worst.Phase})
	}
	return nil
}

// signers are the consortium's own operators and approvers, so that the
// synthetic ledger's certificates and signatures are the real ones; a
// department whose files cannot be read gets a generated identity.
func (b *Bench) signers() ([]DeptPeople, error) {
	var out []DeptPeople
	for i := range b.c.Depts {
		d := &b.c.Depts[i]
		p := DeptPeople{MSPID: d.MSPID}
		for _, x := range []struct {
			role domain.Role
			into *blocktest.Identity
		}{{domain.RoleOperator, &p.Operator}, {domain.RoleApprover, &p.Approver}} {
			id, err := blocktest.Identity{}, errors.New("no such person")
			if cred, ok := d.Users[x.role]; ok {
				id, err = loadSigner(d.MSPID, b.c.userDir(d, cred.User))
			}
			if err != nil {
				slog.Debug("generated identity", "mspId", d.MSPID, "role", x.role, "err", err)
				id = blocktest.NewIdentity(d.MSPID, string(x.role)+"1")
			}
			*x.into = id
		}
		out = append(out, p)
	}
	return out, nil
}

// notes say what the figures mean where it is not obvious.
func (b *Bench) notes() {
	r := b.rep
	r.Notes = append(r.Notes,
		"tx/s counts transactions committed in the window; latency is per committed attempt, submit to commit status (raw) or to the HTTP answer (REST)",
		"a REST write answers once committed AND once its own department's indexer has applied the block (read-your-writes); the raw path returns at commit",
		"each path retries not_found/unavailable/conflict with backoff (25 ms doubling to 1 s, 30 s at most); retries are counted, not timed, and each committed attempt is timed alone; retries per commit adds, on the REST path, the writes the gateways endorsed again themselves (gateway_fabric_retries_total), all over the whole phase",
		"floors, the same on both paths: each step of a flow is endorsed once the caller's own peer has the block the previous step committed in (REST: X-Min-Block, which the gateway holds until its indexer has it; raw: gwfabric.Heights on the peer), and each write answers once every peer that endorsed it has committed it (the gateway's fabric.Ledger; the raw client the same way): the peers that endorse the next step then see the previous one; 'floor waits' counts the waits in which some peer was behind (-no-floor submits the raw path without them, for comparison; the REST gateways always wait for their endorsers)",
		"peer spread: for each block, how long after the first peer the last one committed it; it is what a step waits for instead of being refused and retried, and it grows with the machine's load",
		"indexer lag: for every department and every block committed in the window, the time from the peer's block event to the indexer's /internal/wait answer; in blocks, how many committed blocks (the new one included) the indexer had not applied when the block committed",
	)
	if r.SyntheticLedger != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("synthetic ledger: %d signed Fabric blocks made with indexer/block/blocktest and the consortium's own certificates, the same mix, %d events on dataset %q, over %s..%s",
			r.SyntheticLedger.Blocks, r.SyntheticLedger.HotEvents, r.SyntheticLedger.HotDataset, r.SyntheticLedger.From.Format("2006-01-02"), r.SyntheticLedger.To.Format("2006-01-02")))
	}
	for _, q := range r.Queries {
		if strings.Contains(q.Where, "synthetic") {
			r.Notes = append(r.Notes, "synthetic queries: the real indexer binary over the replayed mirror (its follower cannot reach a peer, so the mirror stays as replayed), asked directly with the caller headers the gateway sets, once the process is idle (Badger compacts a fresh mirror for a while); one client, one query at a time, each answer read to its end",
				"scores: 'a block later each time' asks asOfBlock one higher per query, which is what a live ledger costs the first query after each block; 'same height again' is every later query until the next block; 'first query after start' reads the period from block 0",
				"trace: 'whole' is GET /v1/audit/export?dataset=<hot>&format=json, every event in one answer; 'first page' is GET /v1/audit/trace with limit=1000; 'all 10 pages' follows nextCursor to the end")
			break
		}
	}
	if r.ReplayConsortium != nil {
		r.Notes = append(r.Notes, "consortium replay: from `indexer rebuild` and the process start to its height reaching the peer's; it includes the peer reading and sending its blocks")
	}
	for _, m := range r.Memory {
		if strings.HasPrefix(m.Process, "gateway-") || strings.HasPrefix(m.Process, "indexer-") {
			r.Notes = append(r.Notes, "consortium RSS is the peak since each process started: a consortium reused from earlier runs carries their history")
			break
		}
	}
}
