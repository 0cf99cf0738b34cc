// Command bench measures the local consortium in one run, with one
// transaction mix (register, request, approve, deliver, receipt, usage,
// contribution): the raw ceiling of fabric-gateway clients submitting
// straight to the peers; the same load through the REST gateways at the
// same concurrency; the indexers' lag behind commits under that load;
// replay from genesis of a ledger of 100,000 transactions; query latency
// of scores, metering and a 10,000-event trace; and the peak RSS of the
// gateways and indexers. It prints a table and writes every figure, each
// target and whether it was met to a JSON file.
//
//	bench -run .run -root . -project-bin .cache/bin ...   (scripts/bench.sh passes these)
//	bench -quick                                          a short run: 10 s windows, 50 samples (about 2.5 min here)
//	bench -levels 32,128,256 -no-floor                    the load levels; the raw path without floors, for comparison
//	bench -scale 100000,1000000                           the growth table, offline (no consortium): see scale.go
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if spec := os.Getenv(scaleBuildEnv); spec != "" {
		if err := scaleBuild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench build:", err)
			os.Exit(1)
		}
		return
	}
	if spec := os.Getenv(scaleChildEnv); spec != "" {
		if err := scaleChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "bench replay child:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, profile, err := parseFlags(args)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if len(cfg.Scale) > 0 {
		rep, err := RunScale(ctx, cfg)
		if rep != nil {
			rep.PrintTable(os.Stdout)
			if werr := rep.WriteJSON(cfg.Out); werr != nil {
				return werr
			}
			fmt.Printf("\nfigures written to %s\n", cfg.Out)
		}
		return err
	}
	rep, err := Run(ctx, cfg)
	if rep != nil {
		rep.PrintTable(os.Stdout)
		if werr := rep.WriteJSON(cfg.Out); werr != nil {
			return werr
		}
		fmt.Printf("\nfigures written to %s\n", cfg.Out)
	}
	return err
}

// parseLevels reads -levels and puts primary among them, in increasing order.
func parseLevels(s string, primary int) ([]int, error) {
	seen := map[int]bool{primary: true}
	out := []int{primary}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-levels: %q is not a positive number of transactions in flight", f)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Ints(out)
	return out, nil
}

// parseFlags reads the flags; -quick changes the defaults of those not given.
func parseFlags(args []string) (Config, string, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg Config
	fs.StringVar(&cfg.Net.Root, "root", ".", "repository root")
	fs.StringVar(&cfg.Net.Run, "run", os.Getenv("GOVSHARE_RUN"), "run folder of the consortium (default <root>/.run)")
	fs.StringVar(&cfg.Net.Topology, "topology", os.Getenv("GOVSHARE_TOPOLOGY"), "topology file (default <root>/network/topology.yaml)")
	fs.StringVar(&cfg.Net.FabricBin, "fabric-bin", "", "folder of the Fabric binaries (default <root>/.cache/fabric/bin)")
	fs.StringVar(&cfg.Net.ProjectBin, "project-bin", "", "folder of the project's binaries (default <root>/.cache/bin)")
	fs.StringVar(&cfg.Net.FabricCfg, "fabric-cfg", "", "Fabric's sampleconfig folder")
	fs.StringVar(&cfg.Out, "out", "", "JSON file of the figures (default <run>/bench.json)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "transactions in flight of the primary load level (its phases feed the lag, latency and replay figures); always among -levels")
	fs.BoolVar(&cfg.NoFloor, "no-floor", false, "submit every call without its floor (the block of its flow's previous step), as before issue 13: for comparison")
	levels := fs.String("levels", "32,128,256", "comma-separated transactions in flight: a raw and a REST load phase at each")
	fs.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "load before the window, not counted")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "measured window of each load phase")
	fs.IntVar(&cfg.ReplayTxs, "replay-txs", 100000, "transactions in the synthetic ledger")
	fs.IntVar(&cfg.ReplayBlock, "replay-block-txs", 0, "transactions per synthetic block (0: as many as the raw phase's blocks held)")
	fs.IntVar(&cfg.HotEvents, "hot-events", 10000, "events about the one dataset the trace queries read")
	fs.IntVar(&cfg.QuerySamples, "samples", 200, "measured answers per query")
	fs.DurationVar(&cfg.Settle, "settle", time.Minute, "longest wait for the synthetic indexer to be idle (Badger compacting its fresh mirror) before its queries")
	fs.BoolVar(&cfg.Quick, "quick", false, "a short run: 10 s windows and 50 samples per query (about 2.5 min on 2 cores; the default run about 5.5 min)")
	skip := fs.String("skip", "", "comma-separated phases to leave out: "+strings.Join(phaseNames, ", "))
	fs.StringVar(&cfg.Work, "work", "", "scratch folder for the synthetic mirror (default: a temporary one)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the scratch folder")
	scale := fs.String("scale", "", "comma-separated ledger sizes for the scale run (offline, no consortium): e.g. 100000,1000000[,10000000]")
	profile := fs.String("cpuprofile", "", "write the benchmark process's CPU profile here (the in-process replay shows in it)")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *scale != "" {
		var err error
		if cfg.Scale, err = parseSizes(*scale); err != nil {
			return cfg, "", err
		}
		if !set["samples"] {
			cfg.QuerySamples = 100
		}
	}
	if cfg.Quick {
		if !set["duration"] {
			cfg.Duration = 10 * time.Second
		}
		if !set["warmup"] {
			cfg.Warmup = 3 * time.Second
		}
		if !set["samples"] {
			cfg.QuerySamples = 50
		}
	}
	cfg.Skip = map[string]bool{}
	for _, p := range strings.Split(*skip, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		known := false
		for _, n := range phaseNames {
			known = known || n == p
		}
		if !known {
			return cfg, "", fmt.Errorf("-skip: unknown phase %q (phases: %s)", p, strings.Join(phaseNames, ", "))
		}
		cfg.Skip[p] = true
	}
	root, err := filepath.Abs(cfg.Net.Root)
	if err != nil {
		return cfg, "", err
	}
	cfg.Net.Root = root
	if cfg.Net.Run == "" {
		cfg.Net.Run = filepath.Join(root, ".run")
	}
	if cfg.Net.FabricBin == "" {
		cfg.Net.FabricBin = filepath.Join(root, ".cache", "fabric", "bin")
	}
	if cfg.Net.ProjectBin == "" {
		cfg.Net.ProjectBin = filepath.Join(root, ".cache", "bin")
	}
	if cfg.Out == "" {
		cfg.Out = filepath.Join(cfg.Net.Run, "bench.json")
		if len(cfg.Scale) > 0 {
			cfg.Out = filepath.Join(cfg.Net.Run, "bench-scale.json")
		}
	}
	if cfg.Concurrency < 1 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.QuerySamples < 1 {
		return cfg, "", fmt.Errorf("concurrency, duration and samples must be positive")
	}
	var err2 error
	if cfg.Levels, err2 = parseLevels(*levels, cfg.Concurrency); err2 != nil {
		return cfg, "", err2
	}
	cfg.Progress = os.Stderr
	return cfg, *profile, nil
}
