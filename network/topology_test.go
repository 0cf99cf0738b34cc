package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadTopologyText(t *testing.T, text string) (*Topology, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadTopology(p)
}

const twoDepts = `departments:
  - {mspId: Dept1MSP, name: Public Security Bureau, code: PSB, level: municipal%s}
  - {mspId: Dept2MSP, name: Civil Affairs Bureau, code: CAB, level: municipal%s}
`

// TestTopologyHosts: every node has a host, the top-level one unless it sets
// its own, and addresses and port checks follow it; the repository's
// topology keeps everything on 127.0.0.1.
func TestTopologyHosts(t *testing.T) {
	repo, err := LoadTopology("topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range repo.Departments {
		if d.Host != "127.0.0.1" {
			t.Errorf("%s on %s, want 127.0.0.1", d.MSPID, d.Host)
		}
	}
	for _, o := range repo.Ordering.Nodes {
		if o.Host != "127.0.0.1" {
			t.Errorf("%s on %s, want 127.0.0.1", o.Name, o.Host)
		}
	}
	for _, tc := range []struct {
		name, text string
		want       []string // department hosts, then orderer hosts
		err        string
	}{
		{"default", "host: 198.18.0.1\n" + strings.Replace(twoDepts, "%s", "", 2), []string{"198.18.0.1", "198.18.0.1", "198.18.0.1", "198.18.0.1", "198.18.0.1"}, ""},
		{"per node", "ordering:\n  nodes: [{host: 198.18.1.1}, {}, {host: 198.18.1.3}]\n" +
			strings.Replace(strings.Replace(twoDepts, "%s", ", host: 198.18.0.11", 1), "%s", "", 1),
			[]string{"198.18.0.11", "127.0.0.1", "198.18.1.1", "127.0.0.1", "198.18.1.3"}, ""},
		{"same ports on two hosts", strings.Replace(strings.Replace(twoDepts, "%s", ", host: 198.18.0.11, peerPort: 9051", 1), "%s", ", host: 198.18.0.12, peerPort: 9051", 1),
			[]string{"198.18.0.11", "198.18.0.12", "127.0.0.1", "127.0.0.1", "127.0.0.1"}, ""},
		{"same port on one host", strings.Replace(strings.Replace(twoDepts, "%s", ", peerPort: 9051", 1), "%s", ", peerPort: 9051", 1), nil, "both listen on 127.0.0.1:9051"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := loadTopologyText(t, tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range topo.Departments {
				got = append(got, d.Host)
				if a := d.Addr(d.PeerPort); !strings.HasPrefix(a, d.Host+":") {
					t.Errorf("peer address %s not on %s", a, d.Host)
				}
			}
			for _, o := range topo.Ordering.Nodes {
				got = append(got, o.Host)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("hosts %v, want %v", got, tc.want)
			}
		})
	}
}
