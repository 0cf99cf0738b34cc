package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/source"
	"github.com/govshare/ledger/indexer/store"
)

// The scale run (bench -scale 100000,1000000[,10000000]) needs no
// consortium: for each size it builds the synthetic ledger (streamed to a
// file, never held in memory), replays it into a fresh mirror in a child
// process of this binary (its resident set sampled, the ledger's bytes not
// counted), serves the mirror from the real indexer binary and times the
// queries, then prints every figure with its ratio to the smallest size and
// whether each target of issue 13 is met.
//
// The ledger grows at a constant rate, as a province's does: 100,000
// transactions a month over a catalog of scaleCatalog datasets, the hot
// dataset's 10,000 events spread over the whole ledger. The queries ask
// for the last month, the last 30 days and the hot dataset's trace: the
// same answers at every size.
const (
	scaleChildEnv = "GOVSHARE_SCALE_CHILD" // blocks file|mirror folder
	scaleBuildEnv = "GOVSHARE_SCALE_BUILD" // transactions|blocks file: build the ledger only
	// scaleProfileEnv, when set, names a folder where the replay child
	// writes its CPU profile (replay-cpu.pprof) and a heap profile taken
	// at the end of the replay (replay-heap.pprof).
	scaleProfileEnv = "GOVSHARE_SCALE_PROFILE"
	// scaleNoRebuildEnv makes the scale child load with Badger's loading
	// options instead of the sorted rebuild.
	scaleNoRebuildEnv = "GOVSHARE_SCALE_NOREBUILD"
	scaleCatalog      = 2000
	scalePerMonth     = 100000
)

// ScaleStep is one size's figures.
type ScaleStep struct {
	Txs            int     `json:"transactions"`
	Blocks         int     `json:"blocks"`
	BuildSeconds   float64 `json:"buildSeconds"`
	ReplaySeconds  float64 `json:"replaySeconds"`
	ReplayTxPerSec float64 `json:"replayTxPerSecond"`
	ReplayPeakMB   float64 `json:"replayPeakMB"` // VmHWM of the replaying process
	// ReplayCPUSeconds is the CPU (user and system, every thread) the
	// replaying process spent: on a machine other work loads, transactions
	// per CPU second say what the replay costs, whatever share it got.
	ReplayCPUSeconds  float64       `json:"replayCpuSeconds"`
	ReplayTxPerCPUSec float64       `json:"replayTxPerCpuSecond"`
	ServePeakMB       float64       `json:"servePeakMB"` // VmHWM of the indexer serving the fresh mirror
	SettleSeconds     float64       `json:"settleSeconds"`
	DiskBytes         int64         `json:"diskBytes"`
	DiskPerTx         float64       `json:"diskBytesPerTx"`
	Queries           []QueryResult `json:"queries"`
	Errors            []string      `json:"errors,omitempty"`
}

// ScaleReport is the whole scale run.
type ScaleReport struct {
	Started time.Time     `json:"started"`
	Steps   []ScaleStep   `json:"steps"`
	Targets []ScaleTarget `json:"targets"`
}

// ScaleTarget is one Done-when figure of issue 13.
type ScaleTarget struct {
	What   string `json:"what"`
	Size   int    `json:"transactions"`
	Value  string `json:"value"`
	Bound  string `json:"bound"`
	Met    bool   `json:"met"`
	Reason string `json:"reason,omitempty"`
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 20000 {
			return nil, fmt.Errorf("-scale: %q is not a size of at least 20000 transactions", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// RunScale runs the scale run for cfg.Scale.
func RunScale(ctx context.Context, cfg Config) (*ScaleReport, error) {
	rep := &ScaleReport{Started: time.Now().UTC()}
	work := cfg.Work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "govshare-scale-"); err != nil {
			return nil, err
		}
		if !cfg.Keep {
			defer os.RemoveAll(work)
		}
	}
	bin := filepath.Join(cfg.Net.ProjectBin, "indexer")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("the indexer binary %s is needed (make build): %w", bin, err)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(cfg.Progress, format+"\n", a...) }
	for _, n := range cfg.Scale {
		dir := filepath.Join(work, fmt.Sprint(n))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return rep, err
		}
		st, err := scaleStep(ctx, cfg, bin, dir, n, logf)
		rep.Steps = append(rep.Steps, st)
		if err != nil {
			return rep, fmt.Errorf("size %d: %w", n, err)
		}
		if !cfg.Keep {
			os.RemoveAll(dir)
		}
	}
	rep.judge()
	return rep, nil
}

func scaleStep(ctx context.Context, cfg Config, bin, dir string, n int, logf func(string, ...any)) (ScaleStep, error) {
	st := ScaleStep{Txs: n}
	blocksPath := filepath.Join(dir, "blocks")
	t0 := time.Now()
	syn, err := buildScaleLedger(n, cfg.HotEvents, blocksPath)
	if err != nil {
		return st, err
	}
	people := syn.People
	span, start := syn.Span, syn.Start
	st.Blocks, st.BuildSeconds = syn.NBlocks, round3(time.Since(t0).Seconds())
	logf("scale %d: built %d blocks in %.1f s", n, st.Blocks, st.BuildSeconds)

	// The replay, in a child process.
	mirror := filepath.Join(dir, "mirror")
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), scaleChildEnv+"="+blocksPath+"|"+mirror)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return st, err
	}
	if err := cmd.Start(); err != nil {
		return st, err
	}
	mem := startMemSampler(cmd.Process.Pid, 50*time.Millisecond, "replay")
	var child scaleChildResult
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Bytes(); len(line) > 0 && line[0] == '{' {
			if err := json.Unmarshal(line, &child); err != nil {
				return st, fmt.Errorf("replay child said %s: %w", line, err)
			}
		}
	}
	peaks := mem.Stop()
	if err := cmd.Wait(); err != nil {
		return st, fmt.Errorf("replay child: %w", err)
	}
	if !cfg.Keep {
		os.Remove(blocksPath)
	}
	st.ReplaySeconds, st.ReplayTxPerSec = child.Seconds, child.TxPerSec
	if st.ReplayCPUSeconds = child.CPUSeconds; child.CPUSeconds > 0 {
		st.ReplayTxPerCPUSec = round3(float64(child.Txs) / child.CPUSeconds)
	}
	st.ReplayPeakMB = max(child.PeakMB, mb(peaks[0].Mem.RSS))
	disk, _, _ := diskUsage(mirror)
	st.DiskBytes, st.DiskPerTx = disk, round3(float64(disk)/float64(n))
	logf("scale %d: replayed in %.1f s, %.0f tx/s (%.1f CPU s, %.0f tx per CPU s), peak RSS %.0f MB, %.0f MB on disk", n, st.ReplaySeconds, st.ReplayTxPerSec,
		st.ReplayCPUSeconds, st.ReplayTxPerCPUSec, st.ReplayPeakMB, float64(disk)/(1<<20))

	// The real indexer over the fresh mirror.
	ix, err := startIndexer(ctx, bin, dir, mirror, filepath.Join(dir, "cert.pem"), "datashare", "ledger")
	if err != nil {
		return st, err
	}
	defer ix.Stop()
	settled, err := waitIdle(ix.PID(), cfg.Settle)
	st.SettleSeconds = round3(settled.Seconds())
	if err != nil {
		st.Errors = append(st.Errors, fmt.Sprintf("indexer: %v; querying anyway", err))
	}
	height, err := indexerHeight(ctx, ix.HC, ix.URL)
	if err != nil {
		return st, err
	}
	samples, warm := cfg.QuerySamples, 3
	where := "indexer process, synthetic mirror"
	ev := asker{hc: ix.HC, base: ix.URL, header: callerHeaders("BureauMSP", "evaluator", "evaluator1")}
	au := asker{hc: ix.HC, base: ix.URL, header: callerHeaders("BureauMSP", "auditor", "auditor1")}
	end := start.Add(span)
	period := end.Add(-time.Hour).Format("2006-01")
	from, to := end.Add(-30*24*time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)
	day := end.Add(-48 * time.Hour).Truncate(24 * time.Hour)
	hot := syn.HotDataset
	st.Queries = []QueryResult{
		ev.measureOnce(ctx, qScoresCold, where, "/v1/scores?period="+period+fmt.Sprintf("&asOfBlock=%d", height-2-uint64(warm+samples)), countItems),
		ev.measureAdvancing(ctx, qScores, where, "/v1/scores?period="+period, height-1-uint64(warm+samples), warm, samples, countItems),
		ev.measure(ctx, qScoresSame, where, "/v1/scores?period="+period, warm, samples, countItems),
		au.measure(ctx, "metering of one department, one day by hour", where, "/v1/metering?bucket=hour&department="+people[1].MSPID+
			"&from="+day.Format(time.RFC3339)+"&to="+day.Add(24*time.Hour).Format(time.RFC3339), warm, samples, countItems),
		au.measure(ctx, "metering of the hot dataset, 30 days by day", where, "/v1/metering?bucket=day&dataset="+hot+"&from="+from+"&to="+to, warm, samples, countItems),
		au.measure(ctx, "metering of the hot dataset and one department, 30 days by day", where, "/v1/metering?bucket=day&dataset="+hot+"&department="+people[1].MSPID+"&from="+from+"&to="+to, warm, samples, countItems),
		au.measure(ctx, "trace, first page of 1000 (hot dataset, 10k events)", where, "/v1/audit/trace?dataset="+hot+"&limit=1000", warm, samples, countItems),
		au.measure(ctx, "trace by department, first page of 1000", where, "/v1/audit/trace?department="+people[1].MSPID+"&limit=1000", warm, samples, countItems),
		au.measure(ctx, qTraceExport, where, "/v1/audit/export?dataset="+hot+"&format=json", warm, max(samples/5, 5), countArray),
	}
	for _, q := range st.Queries {
		if q.Error != "" {
			st.Errors = append(st.Errors, q.Name+": "+q.Error)
		}
	}
	if m, err := readMem(ix.PID(), ""); err == nil {
		st.ServePeakMB = mb(m.HWM)
	}
	logf("scale %d: indexer peak RSS %.0f MB; first score %.1f ms", n, st.ServePeakMB, st.Queries[0].Latency.P50)
	return st, nil
}

// scaleLedger is what the queries need to know of a scale ledger.
type scaleLedger struct {
	*Synthetic
	People []DeptPeople
	Start  time.Time
	Span   time.Duration
}

// buildScaleLedger writes the scale run's synthetic ledger of n
// transactions to blocksPath (each block its 4-byte big-endian size, then
// the marshalled block).
func buildScaleLedger(n, hotEvents int, blocksPath string) (scaleLedger, error) {
	var people []DeptPeople
	for _, msp := range []string{"BureauMSP", "HealthMSP", "TaxMSP", "TransportMSP"} {
		people = append(people, DeptPeople{MSPID: msp, Operator: blocktest.NewIdentity(msp, "operator1"), Approver: blocktest.NewIdentity(msp, "approver1")})
	}
	span := time.Duration(float64(30*24*time.Hour) * float64(n) / scalePerMonth)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	l := scaleLedger{People: people, Start: start, Span: span}
	f, err := os.Create(blocksPath)
	if err != nil {
		return l, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var size [4]byte
	syn, err := BuildSynthetic(SyntheticSpec{Channel: "datashare", Txs: n, TxsPerBlock: 32, HotEvents: hotEvents, Start: start, Span: span,
		Flows: 32, People: people, Catalog: scaleCatalog, Sink: func(raw []byte) error {
			binary.BigEndian.PutUint32(size[:], uint32(len(raw)))
			w.Write(size[:])
			_, err := w.Write(raw)
			return err
		}})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	l.Synthetic = syn
	return l, err
}

// scaleBuild writes a scale ledger alone (GOVSHARE_SCALE_BUILD=<n>|<blocks
// file>), to replay it again and again with GOVSHARE_SCALE_CHILD.
func scaleBuild(spec string) error {
	ns, path, _ := strings.Cut(spec, "|")
	n, err := strconv.Atoi(ns)
	if err != nil || path == "" {
		return fmt.Errorf("%s=%q: want <transactions>|<blocks file>", scaleBuildEnv, spec)
	}
	t0 := time.Now()
	l, err := buildScaleLedger(n, 10000, path)
	if err != nil {
		return err
	}
	fmt.Printf("built %d blocks of %d transactions in %.1f s: %s\n", l.NBlocks, n, time.Since(t0).Seconds(), path)
	return nil
}

type scaleChildResult struct {
	Txs      int     `json:"txs"`
	Seconds  float64 `json:"seconds"`
	TxPerSec float64 `json:"txPerSec"`
	PeakMB   float64 `json:"peakMB"`
	// CPUSeconds is user and system time of the whole process, every
	// thread (Badger's compactions and flushes too).
	CPUSeconds float64 `json:"cpuSeconds"`
}

// scaleChild replays a blocks file into a fresh mirror, as the follower
// applies a peer's blocks, with the indexer's memory limit, and prints its
// figures as one JSON line.
func scaleChild(spec string) error {
	blocksPath, mirror, _ := strings.Cut(spec, "|")
	ownLimit := os.Getenv("GOMEMLIMIT") == "" // as the indexer: GOMEMLIMIT, when set, overrides the Go share
	if ownLimit {
		debug.SetMemoryLimit(store.Budget(0).GoLimit)
	}
	f, err := os.Open(blocksPath)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	// GOVSHARE_SCALE_NOREBUILD=1 loads with Badger's loading options
	// instead of the sorted rebuild, to compare the two (the mirror is the
	// same, its digest too).
	st, err := store.Open(mirror, store.Options{Channel: "datashare", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RaiseGoLimit: ownLimit, NoSortedRebuild: os.Getenv(scaleNoRebuildEnv) != ""})
	if err != nil {
		return err
	}
	scores.Attach(st, nil)
	findings.Attach(st, nil)
	dec := block.Decoder{Chaincode: "ledger"}
	ctx := context.Background()
	txs := 0
	prof := os.Getenv(scaleProfileEnv)
	if prof != "" {
		stop, err := startProfiles(prof)
		if err != nil {
			return err
		}
		defer stop()
	}
	start := time.Now()
	// As the follower does (source.DecodeAhead): the blocks arrive
	// unmarshalled (gRPC's work, here a goroutine's) and are decoded a few
	// blocks ahead of the one being applied.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	raws := make(chan *common.Block, 8)
	var readErr error
	go func() {
		defer close(raws)
		var size [4]byte
		for i := 0; ; i++ {
			if _, err := io.ReadFull(r, size[:]); err == io.EOF {
				return
			} else if err != nil {
				readErr = err
				return
			}
			raw := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(r, raw); err != nil {
				readErr = err
				return
			}
			b := new(common.Block)
			if err := proto.Unmarshal(raw, b); err != nil {
				readErr = fmt.Errorf("block %d: %w", i, err)
				return
			}
			select {
			case raws <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	// A replay from genesis is far behind the head: the follower loads
	// (store.SetLoading) until it is near it.
	if err := st.SetLoading(true); err != nil {
		return err
	}
	for d := range source.DecodeAhead(ctx, raws, dec, 8) {
		if d.Err != nil {
			return fmt.Errorf("block %d: %w", d.Number, d.Err)
		}
		if d.Number > 0 {
			txs += len(d.Block.Txs)
		}
		if err := st.ApplyBlock(ctx, d.Block); err != nil {
			return err
		}
	}
	if readErr != nil {
		return readErr
	}
	if err := st.SetLoading(false); err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := st.Close(); err != nil {
		return err
	}
	m, err := readMem(os.Getpid(), "")
	if err != nil {
		return err
	}
	var ru syscall.Rusage
	cpu := 0.0
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu = round3(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds())
	}
	raw, _ := json.Marshal(scaleChildResult{Txs: txs, Seconds: round3(elapsed.Seconds()), TxPerSec: round3(float64(txs) / elapsed.Seconds()), PeakMB: mb(m.HWM), CPUSeconds: cpu})
	fmt.Printf("%s\n", raw)
	return nil
}

// judge marks issue 13's targets at every size above the smallest.
func (r *ScaleReport) judge() {
	if len(r.Steps) == 0 {
		return
	}
	base := r.Steps[0]
	for _, s := range r.Steps {
		if len(s.Queries) == 0 {
			continue
		}
		add := func(what, value, bound string, met bool, reason string) {
			r.Targets = append(r.Targets, ScaleTarget{What: what, Size: s.Txs, Value: value, Bound: bound, Met: met, Reason: reason})
		}
		first := s.Queries[0].Latency.P50
		add("first score query after start", fmt.Sprintf("%.1f ms", first), "< 100 ms", first < 100, "")
		if s.Txs != base.Txs {
			for i, q := range s.Queries {
				if i >= len(base.Queries) || i == 0 {
					continue
				}
				b := base.Queries[i].Latency.P99
				add("p99: "+q.Name, fmt.Sprintf("%.2f ms (%.2fx)", q.Latency.P99, ratio(q.Latency.P99, b)), fmt.Sprintf("<= 2 x %.2f ms", b), q.Latency.P99 <= 2*b, "")
			}
		}
		add("replay from genesis", fmt.Sprintf("%.0f tx/s", s.ReplayTxPerSec), ">= 10,000 tx/s", s.ReplayTxPerSec >= 10000,
			"the replay's CPU is what bounds it: the JSON of each transaction, its sort and the block hooks on two cores (indexer/README.md, \"The sorted rebuild\")")
		peak := max(s.ReplayPeakMB, s.ServePeakMB)
		add("peak RSS (replay, and the indexer serving)", fmt.Sprintf("%.0f MB", peak), "<= 256 MB", peak <= 256, "")
	}
	for i := range r.Targets {
		if r.Targets[i].Met {
			r.Targets[i].Reason = ""
		}
	}
}

// PrintTable prints the growth table: each figure at each size, with its
// ratio to the smallest size.
func (r *ScaleReport) PrintTable(out io.Writer) {
	if len(r.Steps) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	base := r.Steps[0]
	fmt.Fprint(tw, "figure")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "\t%d tx", s.Txs)
	}
	fmt.Fprintln(tw)
	row := func(name string, v func(ScaleStep) float64, format string) {
		fmt.Fprint(tw, name)
		b := v(base)
		for _, s := range r.Steps {
			x := v(s)
			if s.Txs == base.Txs {
				fmt.Fprintf(tw, "\t"+format, x)
			} else {
				fmt.Fprintf(tw, "\t"+format+" (%.2fx)", x, ratio(x, b))
			}
		}
		fmt.Fprintln(tw)
	}
	for i, q := range base.Queries {
		i := i
		get := func(f func(Dist) float64) func(ScaleStep) float64 {
			return func(s ScaleStep) float64 {
				if i < len(s.Queries) {
					return f(s.Queries[i].Latency)
				}
				return 0
			}
		}
		if i == 0 {
			row(q.Name+", ms", get(func(d Dist) float64 { return d.P50 }), "%.2f")
			continue
		}
		row(q.Name+", p50 ms", get(func(d Dist) float64 { return d.P50 }), "%.2f")
		row(q.Name+", p99 ms", get(func(d Dist) float64 { return d.P99 }), "%.2f")
	}
	row("replay from genesis, tx/s", func(s ScaleStep) float64 { return s.ReplayTxPerSec }, "%.0f")
	row("replay from genesis, tx per CPU second", func(s ScaleStep) float64 { return s.ReplayTxPerCPUSec }, "%.0f")
	row("replay, peak RSS MB", func(s ScaleStep) float64 { return s.ReplayPeakMB }, "%.0f")
	row("indexer serving the fresh mirror, peak RSS MB", func(s ScaleStep) float64 { return s.ServePeakMB }, "%.0f")
	row("Badger on disk, bytes per tx", func(s ScaleStep) float64 { return s.DiskPerTx }, "%.0f")
	tw.Flush()
	fmt.Fprintln(out)
	for _, t := range r.Targets {
		mark := "met"
		if !t.Met {
			mark = "MISSED"
		}
		line := fmt.Sprintf("%-7s %d tx: %s: %s (target %s)", mark, t.Size, t.What, t.Value, t.Bound)
		if t.Reason != "" {
			line += ": " + t.Reason
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintln(out, "not measured here: throughput at saturation (REST vs raw, retries per commit), which needs the consortium (gateway work)")
	for _, s := range r.Steps {
		for _, e := range s.Errors {
			fmt.Fprintf(out, "%d tx: %s\n", s.Txs, e)
		}
	}
}

// WriteJSON writes the report to path.
func (r *ScaleReport) WriteJSON(path string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// startProfiles starts the CPU profile into dir, and writes a heap
// profile every 10 seconds (replay-heap-<n>.pprof: what is live while the
// mirror loads, not only at its end); the function it returns stops both
// and writes the last heap profile beside them.
func startProfiles(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cpu, err := os.Create(filepath.Join(dir, "replay-cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	writeHeap := func(name string) {
		if heap, err := os.Create(filepath.Join(dir, name)); err == nil {
			pprof.WriteHeapProfile(heap)
			heap.Close()
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-tick.C:
				writeHeap(fmt.Sprintf("replay-heap-%d.pprof", n))
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		pprof.StopCPUProfile()
		cpu.Close()
		writeHeap("replay-heap.pprof")
	}, nil
}
