// Command consortium brings the local consortium up, shows it, and takes it
// down: `consortium up|down|status`. The Makefile passes where the binaries
// and Fabric's sample configuration are.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

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
		fmt.Fprintln(fs.Output(), "usage: consortium [flags] up|down|status|stop [name...]|start [name...]|kill name...")
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
	case "status":
		st, err := n.Status()
		if err != nil {
			return err
		}
		if len(st) == 0 {
			fmt.Println("nothing is running")
			return nil
		}
		fmt.Printf("%-22s %8s %-7s %9s\n", "PROCESS", "PID", "STATE", "RSS")
		for _, s := range st {
			state := "running"
			if !s.Alive {
				state = "dead"
			}
			fmt.Printf("%-22s %8d %-7s %7.1fMB\n", s.Name, s.PID, state, float64(s.RSSKB)/1024)
		}
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", fs.Arg(0))
}
