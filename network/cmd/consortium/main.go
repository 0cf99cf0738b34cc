// Command consortium brings the local consortium up, shows it, and takes it
// down: `consortium up|down|status`; it writes a department's or an
// orderer's bundle (`bundle`) and starts the node from it (`up-department`,
// `up-orderer`, the bundle as run folder); it renews certificates (`renew`)
// and upgrades the chaincode with no pause in service (`upgrade-chaincode`);
// it adds a department (`add-department`) and suspends, reinstates or
// removes one (`suspend-department`, `reinstate-department`,
// `remove-department`).
// The Makefile passes where the binaries and Fabric's sample configuration
// are.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/govshare/ledger/network"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "consortium:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("consortium", flag.ContinueOnError)
	var o network.Options
	fs.StringVar(&o.Root, "root", ".", "repository root")
	fs.StringVar(&o.Run, "run", os.Getenv("GOVSHARE_RUN"), "run folder (default <root>/.run)")
	fs.StringVar(&o.Topology, "topology", os.Getenv("GOVSHARE_TOPOLOGY"), "topology file (default <root>/network/topology.yaml)")
	fs.StringVar(&o.FabricBin, "fabric-bin", "", "folder of the Fabric and Fabric CA binaries")
	fs.StringVar(&o.ProjectBin, "project-bin", "", "folder of ledgercc, gateway and indexer")
	fs.StringVar(&o.FabricCfg, "fabric-cfg", "", "Fabric sampleconfig folder")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: consortium [flags] up|down|status|stop [name...]|start [name...]|kill name...|bundle -dept <mspId>|-orderer <name> -out <dir>|relocate-bundle <dir>|up-department|up-orderer (with -run <bundle>)|renew [-within 720h]|upgrade-chaincode [-version v] [-grace 2s]|peer-from-snapshot -dept <mspId>|use-peer -dept <mspId> peer0|peer1|remove-peer -dept <mspId>|add-department -entry <department.yaml>|sign-update -dept <mspId> <update.pb>|suspend-department -dept <mspId>|reinstate-department -dept <mspId>|remove-department -dept <mspId>")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return fmt.Errorf("a command is expected")
	}
	o.Out = os.Stdout
	if (fs.Arg(0) == "up-department" || fs.Arg(0) == "up-orderer") && o.Topology == "" && o.Run != "" {
		o.Topology = filepath.Join(o.Run, "topology.yaml") // the bundle's
	}
	n, err := network.New(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch fs.Arg(0) {
	case "up":
		return n.Up(ctx)
	case "down":
		return n.Down()
	case "stop":
		return n.Stop(fs.Args()[1:]...)
	case "start":
		return n.Start(ctx, fs.Args()[1:]...)
	case "kill":
		return n.Kill(fs.Args()[1:]...)
	case "bundle":
		return bundle(n, fs.Args()[1:])
	case "up-department":
		return n.UpDepartment(ctx)
	case "up-orderer":
		return n.UpOrderer(ctx)
	case "relocate-bundle":
		if fs.NArg() != 2 {
			return fmt.Errorf("relocate-bundle takes the bundle's folder")
		}
		m, err := network.RelocateBundle(fs.Arg(1))
		if err != nil {
			return err
		}
		who := m.Department
		if m.Orderer != "" {
			who = m.Orderer
		}
		fmt.Printf("bundle of %s now rooted at %s\n", who, m.Root)
		return nil
	case "renew":
		return renew(ctx, n, fs.Args()[1:])
	case "upgrade-chaincode":
		return upgradeChaincode(ctx, n, fs.Args()[1:])
	case "add-department":
		return addDepartment(ctx, n, fs.Args()[1:])
	case "sign-update":
		sf := flag.NewFlagSet("sign-update", flag.ContinueOnError)
		dept := sf.String("dept", "", "the signing department's MSP ID (its admin's key signs)")
		if err := sf.Parse(fs.Args()[1:]); err != nil {
			return err
		}
		if *dept == "" || sf.NArg() != 1 {
			return fmt.Errorf("usage: consortium [flags] sign-update -dept <mspId> <update.pb>")
		}
		return n.SignUpdate(ctx, *dept, sf.Arg(0))
	case "suspend-department", "reinstate-department", "remove-department":
		return membership(ctx, n, fs.Arg(0), fs.Args()[1:])
	case "peer-from-snapshot", "use-peer", "remove-peer":
		return secondPeer(ctx, n, fs.Arg(0), fs.Args()[1:])
	case "status":
		st, err := n.Status()
		if err != nil {
			return err
		}
		if len(st) == 0 {
			fmt.Println("nothing is running")
		} else {
			fmt.Printf("%-22s %8s %-7s %9s\n", "PROCESS", "PID", "STATE", "RSS")
			for _, s := range st {
				state := "running"
				if !s.Alive {
					state = "dead"
				}
				fmt.Printf("%-22s %8d %-7s %7.1fMB\n", s.Name, s.PID, state, float64(s.RSSKB)/1024)
			}
		}
		return printCertificates(n)
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", fs.Arg(0))
}

// printCertificates lists every node's and person's certificate, earliest
// expiry first.
func printCertificates(n *network.Net) error {
	certs, err := n.Certificates()
	if err != nil || len(certs) == 0 {
		return err
	}
	now := time.Now()
	fmt.Printf("\nearliest certificate expiry: %s/%s (%s) on %s, in %.0f days; renew with `consortium renew -within <duration>`\n",
		certs[0].Org, certs[0].Identity, certs[0].Use, certs[0].NotAfter.Format(time.RFC3339), certs[0].NotAfter.Sub(now).Hours()/24)
	fmt.Printf("%-9s %-12s %-10s %-20s %6s  %s\n", "ORG", "IDENTITY", "USE", "NOT AFTER", "DAYS", "LOADED BY")
	for _, c := range certs {
		by := c.Process
		if by == "" {
			by = "(tools)"
		}
		fmt.Printf("%-9s %-12s %-10s %-20s %6.0f  %s\n", c.Org, c.Identity, c.Use, c.NotAfter.Format(time.RFC3339), c.NotAfter.Sub(now).Hours()/24, by)
	}
	return nil
}

// renew re-enrolls the certificates that expire within a window.
func renew(ctx context.Context, n *network.Net, args []string) error {
	fs := flag.NewFlagSet("renew", flag.ContinueOnError)
	within := fs.Duration("within", 30*24*time.Hour, "renew every certificate that expires within this duration from now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *within <= 0 {
		return fmt.Errorf("usage: consortium [flags] renew [-within 720h]")
	}
	r, err := n.Renew(ctx, *within)
	if err != nil {
		return err
	}
	for _, c := range r.Renewed {
		fmt.Printf("renewed %s/%s (%s): now good until %s\n", c.Org, c.Identity, c.Use, c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// addDepartment adds a department to the running consortium.
func addDepartment(ctx context.Context, n *network.Net, args []string) error {
	fs := flag.NewFlagSet("add-department", flag.ContinueOnError)
	entry := fs.String("entry", "", "a YAML file with the department's topology entry (mspId, name, code, level, roles, host, ports)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *entry == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: consortium [flags] add-department -entry <department.yaml>")
	}
	d, err := network.ReadDepartmentEntry(*entry)
	if err != nil {
		return err
	}
	j, err := n.AddDepartment(ctx, d)
	if err != nil {
		return err
	}
	fmt.Printf("%s (%s) joined: the update %s signed by %v; its peer at height %d, its gateway at %s; %.1fs\n",
		j.Department.MSPID, j.Department.Name, j.Update, j.SignedBy, j.Height, n.Topology().GatewayURL(j.Department), j.Took.Seconds())
	return nil
}

// membership suspends, reinstates or removes a department: the contract's
// consortium policy (a proposal approved by a majority of the other
// members' admins), and for a removal the channel configuration too.
func membership(ctx context.Context, n *network.Net, verb string, args []string) error {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	dept := fs.String("dept", "", "the department's MSP ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dept == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: consortium [flags] %s -dept <mspId>", verb)
	}
	switch verb {
	case "remove-department":
		r, err := n.RemoveDepartment(ctx, *dept)
		if err != nil {
			return err
		}
		fmt.Printf("%s removed: consortium policy version %d; channel update %s signed by %v; %.1fs\n", r.MSPID, r.Policy, r.Update, r.SignedBy, r.Took.Seconds())
		return nil
	case "suspend-department":
		p, err := n.SuspendDepartment(ctx, *dept)
		if err != nil {
			return err
		}
		fmt.Printf("%s suspended: consortium policy version %d, members %v, suspended %v\n", *dept, p.Version, p.Members, p.Suspended)
		return nil
	default:
		p, err := n.ReinstateDepartment(ctx, *dept)
		if err != nil {
			return err
		}
		fmt.Printf("%s reinstated: consortium policy version %d, members %v\n", *dept, p.Version, p.Members)
		return nil
	}
}

// secondPeer adds a department's second peer from a snapshot, moves the
// department between its peers, or removes the second peer.
func secondPeer(ctx context.Context, n *network.Net, verb string, args []string) error {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	dept := fs.String("dept", "", "the department's MSP ID")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := 0
	if verb == "use-peer" {
		want = 1
	}
	if *dept == "" || fs.NArg() != want {
		return fmt.Errorf("usage: consortium [flags] peer-from-snapshot -dept <mspId> | use-peer -dept <mspId> peer0|peer1 | remove-peer -dept <mspId>")
	}
	switch verb {
	case "peer-from-snapshot":
		r, err := n.AddPeerFromSnapshot(ctx, *dept)
		if err != nil {
			return err
		}
		fmt.Printf("%s: second peer at %s joined from the snapshot at block %d (%s), caught up at height %d; its indexer (mirror %s) and gateway use it; %.1fs\n",
			r.Department, r.Peer, r.SnapshotBlock, r.Snapshot, r.Height, r.IndexerData, r.Took.Seconds())
		return nil
	case "use-peer":
		dir, err := n.UsePeer(ctx, *dept, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Printf("%s: indexer (mirror %s) and gateway use %s\n", *dept, dir, fs.Arg(0))
		return nil
	default:
		return n.RemovePeer(*dept)
	}
}

// upgradeChaincode moves the channel to the next chaincode definition.
func upgradeChaincode(ctx context.Context, n *network.Net, args []string) error {
	fs := flag.NewFlagSet("upgrade-chaincode", flag.ContinueOnError)
	var opt network.UpgradeOptions
	fs.StringVar(&opt.Version, "version", "", "the new definition's version label (default: its sequence number)")
	fs.DurationVar(&opt.Grace, "grace", 2*time.Second, "how long the old chaincode servers keep serving after every peer has the new definition")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || opt.Grace < 0 {
		return fmt.Errorf("usage: consortium [flags] upgrade-chaincode [-version v] [-grace 2s]")
	}
	u, err := n.UpgradeChaincode(ctx, opt)
	if err != nil {
		return err
	}
	fmt.Printf("chaincode %s: version %s (sequence %d) is in force on every peer, was %s (sequence %d); %.1fs\n",
		u.To.Name, u.To.Version, u.To.Sequence, u.From.Version, u.From.Sequence, u.Took.Seconds())
	for _, d := range n.Topology().Departments {
		s := u.To.Servers[d.MSPID]
		fmt.Printf("  %-10s %s at %s\n", d.MSPID, s.PackageID, s.Address)
	}
	return nil
}

// bundle writes one department's or one orderer's bundle from the run folder.
func bundle(n *network.Net, args []string) error {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	dept := fs.String("dept", "", "the department's MSP ID")
	orderer := fs.String("orderer", "", "the orderer's name (instead of -dept)")
	out := fs.String("out", "", "the bundle's folder (must not exist or be empty)")
	var opt network.BundleOptions
	fs.BoolVar(&opt.WithLedger, "with-ledger", false, "add the node's ledger, for up-department or up-orderer (the node must be stopped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*dept == "") == (*orderer == "") || *out == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: consortium [flags] bundle -dept <mspId>|-orderer <name> -out <dir> [-with-ledger]")
	}
	var m *network.BundleManifest
	var err error
	if *orderer != "" {
		m, err = n.OrdererBundle(*orderer, *out, opt)
	} else {
		m, err = n.Bundle(*dept, *out, opt)
	}
	if err != nil {
		return err
	}
	private := 0
	for _, f := range m.Files {
		if f.Private {
			private++
		}
	}
	who := m.Department
	if m.Orderer != "" {
		who = m.Orderer
	}
	fmt.Printf("bundle of %s: %d files (%d private) in %s, audited: no key or secret but its own\n",
		who, len(m.Files), private, m.Root)
	return nil
}
