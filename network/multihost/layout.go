// Package multihost lays a consortium out on Linux network namespaces that
// stand in for hosts, for the multi-host test (`make test-multihost`,
// scripts/multihost.sh): one namespace per department and per orderer, each
// joined to one bridge by its own veth link and holding its own address in
// the benchmarking range 198.18.0.0/15 (RFC 2544, never routed), each node
// started there from its own bundle. It plans that layout and the topology
// that follows it, writes the view through which a test process on the
// bridge reaches every host (the run-folder files the integration tests
// read, pointing into each host's bundle), and waits until the consortium
// so laid out commits through every department's gateway.
package multihost

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/network"
)

// LayoutFile is the layout's name in the test view (and the state folder).
const LayoutFile = "multihost.json"

// Kinds of host.
const (
	KindOrderer    = "orderer"
	KindDepartment = "department"
)

// Layout is multihost.json: the bridge, the bootstrap namespace and every
// host.
type Layout struct {
	// Bridge is the bridge in the root namespace that every host's link
	// joins, with Gateway (its address, prefix included) for the test
	// process.
	Bridge  string `json:"bridge"`
	Gateway string `json:"gateway"`
	// Boot is the namespace in which the consortium is brought up once,
	// every host's address on its loopback, before each host's bundle is
	// written; it is gone by the time the hosts start.
	Boot     string `json:"boot"`
	Topology string `json:"topology"` // the topology that names every host, as each bundle carries it
	Hosts    []Host `json:"hosts"`
}

// Host is one namespace standing in for one node's host.
type Host struct {
	Name    string `json:"name"` // the orderer's name or the department's slug: its bundle's folder
	Kind    string `json:"kind"`
	MSPID   string `json:"mspId"`
	Netns   string `json:"netns"`
	Address string `json:"address"` // on the bridge's network, the node's `host` in the topology
	// Link is the host's end of its veth pair in the root namespace, on the
	// bridge: `ip link set <link> down` unplugs the host.
	Link   string `json:"link"`
	Bundle string `json:"bundle"` // the folder the host runs from
}

// The addresses: the bridge is .1, orderer k is .10+k, department i .20+i.
var (
	network24    = netip.MustParsePrefix("198.18.0.0/24")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
)

const (
	prefix = "gsmh-" // namespaces
	links  = "gsv-"  // veth ends on the bridge
	bridge = "gsbr0"
)

// Plan lays the topology out: a host per orderer and per department, their
// bundles in hostsDir. The topology names at most 9 orderers and 230
// departments.
func Plan(topo *network.Topology, hostsDir string) (*Layout, error) {
	if len(topo.Ordering.Nodes) > 9 || len(topo.Departments) > 230 {
		return nil, fmt.Errorf("%d orderers and %d departments: the plan has room for 9 and 230", len(topo.Ordering.Nodes), len(topo.Departments))
	}
	l := &Layout{Bridge: bridge, Gateway: addr(1).String() + "/24", Boot: prefix + "boot"}
	add := func(name, kind, msp string, n int) error {
		a := addr(n)
		if !benchmarking.Contains(a) {
			return fmt.Errorf("address %s is outside %s", a, benchmarking)
		}
		link := links + name
		if len(link) > 15 { // IFNAMSIZ - 1
			link = fmt.Sprintf("%s%c%d", links, kind[0], n)
		}
		l.Hosts = append(l.Hosts, Host{Name: name, Kind: kind, MSPID: msp, Netns: prefix + name, Address: a.String(), Link: link,
			Bundle: filepath.Join(hostsDir, name)})
		return nil
	}
	for i, o := range topo.Ordering.Nodes {
		if err := add(o.Name, KindOrderer, topo.Ordering.MSPID, 11+i); err != nil {
			return nil, err
		}
	}
	for i, d := range topo.Departments {
		if err := add(d.Slug(), KindDepartment, d.MSPID, 21+i); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func addr(n int) netip.Addr {
	b := network24.Addr().As4()
	b[3] = byte(n)
	return netip.AddrFrom4(b)
}

// Host returns the host named name.
func (l *Layout) Host(name string) (Host, bool) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Department returns the host of the department mspID.
func (l *Layout) Department(mspID string) (Host, bool) {
	for _, h := range l.Hosts {
		if h.Kind == KindDepartment && h.MSPID == mspID {
			return h, true
		}
	}
	return Host{}, false
}

// WriteTopology writes to dst the topology src with every node on its
// host's address, ports and everything else as src has them, and records
// it as the layout's topology.
func (l *Layout) WriteTopology(src *network.Topology, dst string) error {
	t := *src
	t.Ordering.Nodes = append([]network.Orderer(nil), src.Ordering.Nodes...)
	t.Departments = append([]network.Department(nil), src.Departments...)
	for i := range t.Ordering.Nodes {
		h, ok := l.Host(t.Ordering.Nodes[i].Name)
		if !ok {
			return fmt.Errorf("no host for %s", t.Ordering.Nodes[i].Name)
		}
		t.Ordering.Nodes[i].Host = h.Address
	}
	for i := range t.Departments {
		h, ok := l.Department(t.Departments[i].MSPID)
		if !ok {
			return fmt.Errorf("no host for %s", t.Departments[i].MSPID)
		}
		t.Departments[i].Host = h.Address
	}
	// The ordering organization's CA serves only the bootstrap: its
	// loopback address there is all it needs.
	t.Host = "127.0.0.1"
	raw, err := yaml.Marshal(&t)
	if err != nil {
		return err
	}
	head := []byte("# Written by network/multihost for the multi-host test: every node on its own host.\n")
	if err := os.WriteFile(dst, append(head, raw...), 0o644); err != nil {
		return err
	}
	if _, err := network.LoadTopology(dst); err != nil {
		return fmt.Errorf("the multi-host topology does not load: %w", err)
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	l.Topology = abs
	return nil
}

// Write writes the layout as multihost.json into dir.
func (l *Layout) Write(dir string) error {
	raw, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, LayoutFile), append(raw, '\n'), 0o644)
}

// ReadLayout reads dir's multihost.json; its error wraps os.ErrNotExist
// when dir is not a multi-host view (a run folder of one host).
func ReadLayout(dir string) (*Layout, error) {
	raw, err := os.ReadFile(filepath.Join(dir, LayoutFile))
	if err != nil {
		return nil, err
	}
	var l Layout
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", LayoutFile, err)
	}
	if len(l.Hosts) == 0 {
		return nil, errors.New(LayoutFile + " lists no host")
	}
	return &l, nil
}
