package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// upRecord is written when Up completes; its presence with every recorded
// process alive means the consortium is up.
type upRecord struct {
	Topology  string    `json:"topology"`
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
}

// Up brings the whole consortium up, or does nothing if it already runs.
func (n *Net) Up(ctx context.Context) error {
	n.start = time.Now()
	if _, err := os.Stat(n.path("stopped.json")); err == nil {
		n.stepf("consortium was stopped: starting it again with its state")
		if err := n.Start(ctx); err != nil {
			return err
		}
		n.printEndpoints()
		return nil
	}
	if ok, why := n.running(ctx); ok {
		n.stepf("consortium already up")
		n.printEndpoints()
		return nil
	} else if _, err := os.Stat(n.path("up.json")); err == nil {
		// A consortium that came up completely and lost a process since:
		// restart what is down, keeping the ledgers and mirrors.
		n.stepf("consortium is up but %s: restarting what is down", why)
		if err := n.Start(ctx); err != nil {
			return fmt.Errorf("restart: %w (`make down` discards the state and starts afresh)", err)
		}
		n.printEndpoints()
		return nil
	} else if why != "" {
		n.stepf("previous run is incomplete (%s): stopping it first", why)
		if err := n.Down(); err != nil {
			return err
		}
	}
	if err := n.checkTools(); err != nil {
		return err
	}
	if err := n.checkPortsFree(); err != nil {
		return err
	}
	// 0700: the run folder holds keys, logs and the indexers' sockets.
	if err := os.MkdirAll(n.opts.Run, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(n.opts.Run, 0o700); err != nil {
		return err
	}
	var block string
	steps := []struct {
		name string
		f    func() error
	}{
		{"identities: one fabric-ca per organization, every node and person enrolled", func() error { return n.identities(ctx) }},
		{"channel genesis block", func() (err error) { block, err = n.genesisBlock(ctx); return err }},
		{fmt.Sprintf("ordering service: %d %s orderers joined", len(n.topo.Ordering.Nodes), n.topo.Ordering.Consensus), func() error { return n.startOrderers(ctx, block) }},
		{fmt.Sprintf("peers: %d departments joined", len(n.topo.Departments)), func() error { return n.startPeers(ctx, block) }},
		{"ordering service leader", func() error { return n.waitLeader(ctx) }},
		{"chaincode as a service: installed, running, approved, committed", func() error { return n.deployChaincode(ctx) }},
		{"gossip membership converged", func() error { return n.waitGossip(ctx) }},
		{"indexers and gateways ready", func() error {
			if err := n.writeServiceConfigs(); err != nil {
				return err
			}
			return n.startServices(ctx)
		}},
		{"smoke: each department sets its profile through its gateway", func() error { return n.smoke(ctx) }},
	}
	for _, s := range steps {
		if err := n.step(s.name, s.f); err != nil {
			n.explain(err)
			return err
		}
	}
	rec := upRecord{Topology: n.opts.Topology, StartedAt: n.start.UTC(), Seconds: time.Since(n.start).Seconds()}
	if err := writeJSON(n.path("up.json"), rec, 0o644); err != nil {
		return err
	}
	n.stepf("consortium up in %.1fs", rec.Seconds)
	n.printEndpoints()
	return nil
}

// explain prints the tail of the log behind a failure.
func (n *Net) explain(err error) {
	var le *LogError
	if errors.As(err, &le) {
		fmt.Fprintf(n.opts.Out, "--- last lines of %s ---\n%s\n---\n", le.Log, le.Tail(30))
	}
}

func (n *Net) printEndpoints() {
	var parts []string
	for _, d := range n.topo.Departments {
		parts = append(parts, fmt.Sprintf("%s %s", d.MSPID, n.topo.GatewayURL(d)))
	}
	trust := ""
	if !n.topo.PlainHTTP {
		trust = ", their TLS roots in " + n.path(TLSCAFile)
	}
	fmt.Fprintf(n.opts.Out, "gateways: %s (credentials in %s%s)\n", strings.Join(parts, ", "), n.path("credentials.json"), trust)
}

// running reports whether a complete consortium is up; if not, why names
// what is left of an incomplete one ("" when nothing is).
func (n *Net) running(ctx context.Context) (ok bool, why string) {
	recs, err := recorded(n.opts.Run)
	if err != nil || len(recs) == 0 {
		return false, ""
	}
	for _, r := range recs {
		if !r.Alive {
			return false, r.Name + " is not running"
		}
	}
	if _, err := os.Stat(n.path("up.json")); err != nil {
		return false, "the last up did not finish"
	}
	for _, d := range n.topo.Departments {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conf, err := n.gatewayTLS()
		if err == nil {
			err = waitHTTP(cctx, nil, n.topo.GatewayURL(d)+"/readyz", conf)
		}
		cancel()
		if err != nil {
			return false, "gateway of " + d.MSPID + " is not ready"
		}
	}
	return true, ""
}

func (n *Net) checkTools() error {
	for _, b := range []string{"peer", "orderer", "configtxgen", "osnadmin", "fabric-ca-server", "fabric-ca-client", "govshare-validation.so", "ledgercc", "gateway", "indexer"} {
		if _, err := os.Stat(n.bin(b)); err != nil {
			return fmt.Errorf("missing binary %s (run `make build`): %w", n.bin(b), err)
		}
	}
	if _, err := os.Stat(n.opts.FabricCfg + "/core.yaml"); err != nil {
		return fmt.Errorf("the Fabric sample configuration was not found at %s: %w", n.opts.FabricCfg, err)
	}
	return nil
}

// busyPorts waits up to d for every topology port to be released and
// returns those still in use.
func (n *Net) busyPorts(d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		busy := n.usedPorts()
		if len(busy) == 0 || time.Now().After(deadline) {
			return busy
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkPortsFree refuses to start when another program holds a port the
// topology needs, naming it.
func (n *Net) checkPortsFree() error {
	if busy := n.usedPorts(); len(busy) > 0 {
		return fmt.Errorf("ports already in use by another program: %s", strings.Join(busy, ", "))
	}
	return nil
}

// usedPorts lists the topology's listen addresses that something holds.
func (n *Net) usedPorts() []string {
	var busy []string
	t := n.topo
	check := func(addr, what string) {
		if !portFree(addr) {
			busy = append(busy, fmt.Sprintf("%s (%s)", addr, what))
		}
	}
	check(fmt.Sprintf("%s:%d", t.Host, t.Ordering.CAPort), "ordering CA")
	for _, o := range t.Ordering.Nodes {
		check(o.Addr(o.Port), o.Name)
		check(o.Addr(o.AdminPort), o.Name+" admin")
		check(o.Addr(o.OpsPort), o.Name+" operations")
	}
	for _, d := range t.Departments {
		for _, l := range []struct {
			port int
			what string
		}{{d.PeerPort, "peer"}, {d.PeerCCPort, "peer chaincode"}, {d.PeerOpsPort, "peer operations"}, {d.CAPort, "CA"},
			{d.CAOpsPort, "CA operations"}, {d.ChaincodePort, "chaincode"}, {d.ChaincodeNextPort, "chaincode (next)"}, {d.GatewayPort, "gateway"}, {d.IndexerPort, "indexer"}} {
			check(d.Addr(l.port), d.Slug()+" "+l.what)
		}
	}
	return busy
}

// Down stops every process the consortium started, by PID, and removes its
// state, keeping only the built binaries.
func (n *Net) Down() error {
	killed, err := stopRecorded(n.opts.Run, 10*time.Second)
	if len(killed) > 0 {
		fmt.Fprintf(n.opts.Out, "killed after the grace period: %s\n", strings.Join(killed, ", "))
	}
	if err != nil {
		return err
	}
	if busy := n.busyPorts(5 * time.Second); len(busy) > 0 {
		return fmt.Errorf("processes stopped but ports are still in use: %s", strings.Join(busy, ", "))
	}
	entries, err := os.ReadDir(n.opts.Run)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == "bin" {
			continue
		}
		if err := os.RemoveAll(n.path(e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// ProcStatus is one process in Status.
type ProcStatus struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Alive bool   `json:"alive"`
	RSSKB int64  `json:"rssKB"`
}

// Status lists the recorded processes with their state and memory.
func (n *Net) Status() ([]ProcStatus, error) {
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return nil, err
	}
	out := make([]ProcStatus, 0, len(recs))
	for _, r := range recs {
		s := ProcStatus{Name: r.Name, PID: r.PID, Alive: r.Alive}
		if r.Alive {
			s.RSSKB = rssKB(r.PID)
		}
		out = append(out, s)
	}
	return out, nil
}

// ReadEndpoints reads the endpoints file of a run folder.
func ReadEndpoints(run string) (*Endpoints, error) {
	raw, err := os.ReadFile(run + "/endpoints.json")
	if err != nil {
		return nil, err
	}
	var e Endpoints
	return &e, json.Unmarshal(raw, &e)
}
