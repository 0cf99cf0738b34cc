package multihost

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govshare/ledger/network"
)

func repoTopology(t *testing.T) *network.Topology {
	t.Helper()
	topo, err := network.LoadTopology(filepath.Join("..", "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestPlan: every host gets its own address in 198.18.0.0/15 on the
// bridge's /24 (never the bridge's own), a namespace and a link name the
// kernel accepts, and a bundle folder of its own.
func TestPlan(t *testing.T) {
	topo := repoTopology(t)
	l, err := Plan(topo, "/hosts")
	if err != nil {
		t.Fatal(err)
	}
	if want := len(topo.Ordering.Nodes) + len(topo.Departments); len(l.Hosts) != want {
		t.Fatalf("%d hosts, want %d", len(l.Hosts), want)
	}
	gw := netip.MustParsePrefix(l.Gateway)
	seen := map[string]bool{gw.Addr().String(): true}
	for _, h := range l.Hosts {
		a := netip.MustParseAddr(h.Address)
		if !benchmarking.Contains(a) || !gw.Masked().Contains(a) {
			t.Errorf("%s: address %s outside %s or the bridge's %s", h.Name, a, benchmarking, gw.Masked())
		}
		for _, name := range []string{h.Address, h.Netns, h.Link, h.Bundle} {
			if seen[name] {
				t.Errorf("%s: %s is used twice", h.Name, name)
			}
			seen[name] = true
		}
		if len(h.Link) > 15 || !strings.HasPrefix(h.Netns, prefix) {
			t.Errorf("%s: link %q, namespace %q", h.Name, h.Link, h.Netns)
		}
	}
	if h, ok := l.Department("Dept3MSP"); !ok || h.Name != "dept3" || h.Address != "198.18.0.23" || h.Bundle != "/hosts/dept3" {
		t.Errorf("Dept3MSP's host: %+v", h)
	}
	if h, ok := l.Host("orderer1"); !ok || h.Kind != KindOrderer || h.Address != "198.18.0.11" {
		t.Errorf("orderer1's host: %+v", h)
	}
	long := *topo
	long.Departments = append([]network.Department(nil), topo.Departments...)
	long.Departments[0].MSPID = "MinistryOfLongNamesMSP"
	l, err = Plan(&long, "/hosts")
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := l.Department("MinistryOfLongNamesMSP"); len(h.Link) > 15 {
		t.Errorf("link name %q is longer than the kernel takes", h.Link)
	}
}

// TestWriteTopology: the written topology puts every node on its host's
// address and keeps every port.
func TestWriteTopology(t *testing.T) {
	topo := repoTopology(t)
	l, err := Plan(topo, "/hosts")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "topology.yaml")
	if err := l.WriteTopology(topo, dst); err != nil {
		t.Fatal(err)
	}
	got, err := network.LoadTopology(dst)
	if err != nil {
		t.Fatal(err)
	}
	if l.Topology != dst {
		t.Errorf("layout's topology %s, want %s", l.Topology, dst)
	}
	for i, o := range got.Ordering.Nodes {
		h, _ := l.Host(o.Name)
		if o.Host != h.Address || o.Port != topo.Ordering.Nodes[i].Port || o.AdminPort != topo.Ordering.Nodes[i].AdminPort {
			t.Errorf("%s at %s, host %s; ports %d/%d", o.Name, o.Addr(o.Port), h.Address, topo.Ordering.Nodes[i].Port, topo.Ordering.Nodes[i].AdminPort)
		}
	}
	for i, d := range got.Departments {
		h, _ := l.Department(d.MSPID)
		if d.Host != h.Address || d.GatewayPort != topo.Departments[i].GatewayPort || d.Code != topo.Departments[i].Code {
			t.Errorf("%s at %s, host %s", d.MSPID, d.Addr(d.GatewayPort), h.Address)
		}
	}
	if got.Host != "127.0.0.1" || got.Ordering.BatchTimeout != topo.Ordering.BatchTimeout {
		t.Errorf("host %s, batch timeout %s", got.Host, got.Ordering.BatchTimeout)
	}
}

// TestWriteView lays out bundles as the hosts have them and checks the
// view: endpoints on the hosts' addresses and sockets, every department's
// credentials, links to each host's processes, logs, mirrors and
// organization, and the layout.
func TestWriteView(t *testing.T) {
	topo := repoTopology(t)
	base := t.TempDir()
	l, err := Plan(topo, filepath.Join(base, "hosts"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WriteTopology(topo, filepath.Join(base, "topology.yaml")); err != nil {
		t.Fatal(err)
	}
	write := func(path, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range l.Hosts {
		if h.Kind == KindOrderer {
			write(filepath.Join(h.Bundle, "pids", h.Name+".pid"), "1 orderer\n")
			write(filepath.Join(h.Bundle, "orgs", "orderer", "orderers", h.Name, "tls", "ca.crt"), "ca")
			write(filepath.Join(h.Bundle, "orgs", "orderer", "msp", "config.yaml"), "NodeOUs")
			continue
		}
		slug := h.Name
		creds, _ := json.Marshal([]network.Credential{{MSPID: h.MSPID, User: "operator1", Role: "operator", Token: "t-" + slug}})
		write(filepath.Join(h.Bundle, "credentials.json"), string(creds))
		write(filepath.Join(h.Bundle, "passwords.json"), `[{"mspId":"`+h.MSPID+`","user":"operator1"}]`)
		write(filepath.Join(h.Bundle, "pids", "peer-"+slug+".pid"), "1 peer\n")
		write(filepath.Join(h.Bundle, "logs", "peer-"+slug+".log"), "log of "+slug)
		write(filepath.Join(h.Bundle, "data", "indexer-"+slug, "MANIFEST"), "badger")
		write(filepath.Join(h.Bundle, "config", "gateway-"+slug+".json"), "{}")
		write(filepath.Join(h.Bundle, "tls-ca.pem"), "roots")
		write(filepath.Join(h.Bundle, "config", "peer", "core.yaml"), "peer:")
		write(filepath.Join(h.Bundle, "orgs", slug, "users", "operator1", "msp", "keystore", "key.pem"), "key of "+slug)
	}
	secrets := filepath.Join(base, "secrets.json")
	write(secrets, "[]")
	view := filepath.Join(base, "view")
	if err := WriteView(l, view, secrets); err != nil {
		t.Fatal(err)
	}
	v, err := OpenView(view)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Creds) != len(topo.Departments) || len(v.Endpoints.Departments) != len(topo.Departments) {
		t.Fatalf("%d credentials and %d endpoints for %d departments", len(v.Creds), len(v.Endpoints.Departments), len(topo.Departments))
	}
	for _, ep := range v.Endpoints.Departments {
		h, _ := l.Department(ep.MSPID)
		slug := h.Name
		if !strings.HasPrefix(ep.Gateway, "https://"+h.Address+":") || ep.Indexer != "unix:"+filepath.Join(h.Bundle, "sock", "indexer-"+slug+".sock") {
			t.Errorf("%s: gateway %s, indexer %s", ep.MSPID, ep.Gateway, ep.Indexer)
		}
		for rel, want := range map[string]string{
			"logs/peer-" + slug + ".log":                             "log of " + slug,
			"orgs/" + slug + "/users/operator1/msp/keystore/key.pem": "key of " + slug,
			"data/indexer-" + slug + "/MANIFEST":                     "badger",
		} {
			if got, err := os.ReadFile(filepath.Join(view, rel)); err != nil || string(got) != want {
				t.Errorf("%s in the view: %q, %v", rel, got, err)
			}
		}
	}
	for _, rel := range []string{"pids/orderer2.pid", "orgs/orderer/orderers/orderer3/tls/ca.crt", "orgs/orderer/msp/config.yaml",
		"config/gateway-bureau.json", "secrets.json", "up.json", LayoutFile} {
		if _, err := os.Stat(filepath.Join(view, rel)); err != nil {
			t.Errorf("%s: %v", rel, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(view, "config", "peer")); err == nil {
		t.Errorf("config/peer, every host's, is linked from one")
	}
	for _, f := range []string{"", "credentials.json", "passwords.json", "secrets.json"} {
		if fi, err := os.Stat(filepath.Join(view, f)); err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%q in the view: %v, %v", f, fi.Mode(), err)
		}
	}
	if err := WriteView(l, view, ""); err == nil {
		t.Errorf("a view written over an existing one")
	}
}
