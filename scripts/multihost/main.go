// Command multihost is scripts/multihost.sh's planner: it lays a topology
// out on network namespaces (plan), writes the test view of the hosts
// (view) and waits until the consortium so laid out commits (ready). The
// script does the rest: namespaces, links, processes and their teardown.
//
//	multihost plan -topology <file> -dir <state>   # writes <state>/topology.yaml and multihost.json, prints the plan
//	multihost view -dir <state> -out <dir> [-secrets <file>]
//	multihost ready -dir <view> [-timeout 3m]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/govshare/ledger/network"
	"github.com/govshare/ledger/network/multihost"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "multihost:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: multihost plan|view|ready [flags]")
	}
	fs := flag.NewFlagSet("multihost "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "plan, view: the test's state folder (hosts/ holds each host's bundle); ready: the view")
	topology := fs.String("topology", "", "plan: the topology to lay out")
	out := fs.String("out", "", "view: the folder to write")
	secrets := fs.String("secrets", "", "view: the bootstrap's secrets.json to copy in")
	timeout := fs.Duration("timeout", 3*time.Minute, "ready: how long to wait")
	all := fs.Bool("all", false, "report: show the output of passing tests too")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "report" {
		return report(os.Stdin, os.Stdout, *all)
	}
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	switch args[0] {
	case "plan":
		topo, err := network.LoadTopology(*topology)
		if err != nil {
			return err
		}
		l, err := multihost.Plan(topo, filepath.Join(*dir, "hosts"))
		if err != nil {
			return err
		}
		if err := l.WriteTopology(topo, filepath.Join(*dir, "topology.yaml")); err != nil {
			return err
		}
		if err := l.Write(*dir); err != nil {
			return err
		}
		// One line per thing to make, for the script to read.
		fmt.Printf("bridge %s %s\n", l.Bridge, l.Gateway)
		fmt.Printf("boot %s\n", l.Boot)
		for _, h := range l.Hosts {
			fmt.Printf("host %s %s %s %s %s %s %s\n", h.Name, h.Kind, h.Netns, h.Address, h.Link, h.Bundle, h.MSPID)
		}
		return nil
	case "view":
		l, err := multihost.ReadLayout(*dir)
		if err != nil {
			return err
		}
		return multihost.WriteView(l, *out, *secrets)
	case "ready":
		v, err := multihost.OpenView(*dir)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		return multihost.WaitReady(ctx, v, os.Stdout)
	}
	return fmt.Errorf("unknown command %q", args[0])
}
