package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options locate everything the consortium needs.
type Options struct {
	Root       string    // repository root (the external builder lives under it)
	Run        string    // run folder: state, logs, PIDs, endpoints; default Root/.run
	Topology   string    // topology file; default Root/network/topology.yaml
	FabricBin  string    // folder with peer, orderer, configtxgen, osnadmin, fabric-ca-*
	ProjectBin string    // folder with ledgercc, gateway, indexer
	FabricCfg  string    // Fabric's sampleconfig folder (core.yaml, orderer.yaml)
	Out        io.Writer // progress lines
}

// Net is the consortium on this machine.
type Net struct {
	opts  Options
	topo  *Topology
	procs *procs
	start time.Time
	// founding is how many departments the topology file lists: the
	// slots (and ports) of the founding departments.
	founding int
}

const ordererOrg = "orderer"

// New loads the topology and prepares to act on the run folder.
func New(opts Options) (*Net, error) {
	if opts.Root == "" {
		return nil, errors.New("network: Root is required")
	}
	if opts.Run == "" {
		opts.Run = filepath.Join(opts.Root, ".run")
	}
	if opts.Topology == "" {
		opts.Topology = filepath.Join(opts.Root, "network", "topology.yaml")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	for _, p := range []*string{&opts.Root, &opts.Run, &opts.Topology, &opts.FabricBin, &opts.ProjectBin, &opts.FabricCfg} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			*p = abs
		}
	}
	topo, err := LoadTopology(opts.Topology)
	if err != nil {
		return nil, err
	}
	n := &Net{opts: opts, topo: topo, procs: newProcs(opts.Run), founding: len(topo.Departments)}
	if err := n.loadAddedDepartments(); err != nil {
		return nil, err
	}
	if err := n.dropRemoved(); err != nil {
		return nil, err
	}
	return n, nil
}

// Topology returns the loaded topology.
func (n *Net) Topology() *Topology { return n.topo }

func (n *Net) path(parts ...string) string {
	return filepath.Join(append([]string{n.opts.Run}, parts...)...)
}

func (n *Net) orgDir(org string, parts ...string) string {
	return n.path(append([]string{"orgs", org}, parts...)...)
}

func (n *Net) ordererDir(o Orderer) string { return n.orgDir(ordererOrg, "orderers", o.Name) }
func (n *Net) peerDir(d Department) string { return n.orgDir(d.Slug(), "peer0") }
func (n *Net) userDir(d Department, user string) string {
	return n.orgDir(d.Slug(), "users", user)
}

func (n *Net) bin(name string) string {
	switch name {
	case "ledgercc", "gateway", "indexer":
		return filepath.Join(n.opts.ProjectBin, name)
	}
	return filepath.Join(n.opts.FabricBin, name)
}

// stepf prints a progress line stamped with the time since Up began.
func (n *Net) stepf(format string, args ...any) {
	fmt.Fprintf(n.opts.Out, "[%6.1fs] %s\n", time.Since(n.start).Seconds(), fmt.Sprintf(format, args...))
}

// step runs one named step and reports its duration.
func (n *Net) step(name string, f func() error) error {
	t := time.Now()
	n.stepf("%s ...", name)
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	n.stepf("%s done (%.1fs)", name, time.Since(t).Seconds())
	return nil
}

// parallel runs f for 0..count-1 at once and returns the first error.
func parallel(count int, f func(i int) error) error {
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = f(i)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// withTimeout is a context for one waiting step.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
