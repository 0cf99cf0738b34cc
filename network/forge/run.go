package forge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/govshare/ledger/network"
)

// Run is a consortium's run folder (network.Options.Run, .run by default):
// where every organization's crypto material lies (network/ca.go's layout),
// with the endpoints and the topology that placed the nodes.
type Run struct {
	Dir       string
	Endpoints *network.Endpoints
	Topology  *network.Topology
}

// OpenRun reads a run folder. The topology is the file that brought the
// consortium up (up.json names it), else topology, else
// <dir>/../network/topology.yaml.
func OpenRun(dir, topology string) (*Run, error) {
	eps, err := network.ReadEndpoints(dir)
	if err != nil {
		return nil, fmt.Errorf("forge: %w", err)
	}
	var up struct {
		Topology string `json:"topology"`
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "up.json")); err == nil && json.Unmarshal(raw, &up) == nil && up.Topology != "" {
		topology = up.Topology
	}
	if topology == "" {
		topology = filepath.Join(dir, "..", "network", "topology.yaml")
	}
	topo, err := network.LoadTopology(topology)
	if err != nil {
		return nil, fmt.Errorf("forge: %w", err)
	}
	return &Run{Dir: dir, Endpoints: eps, Topology: topo}, nil
}

func (r *Run) orgDir(mspID string, parts ...string) string {
	slug := network.Department{MSPID: mspID}.Slug()
	return filepath.Join(append([]string{r.Dir, "orgs", slug}, parts...)...)
}

func mspSigner(mspID, mspDir string) (*Signer, error) {
	return LoadSigner(mspID, filepath.Join(mspDir, "signcerts", "cert.pem"), filepath.Join(mspDir, "keystore", "key.pem"))
}

// User is an enrolled person of a department ("operator1", "approver1",
// "admin", ...), with their client certificate and key.
func (r *Run) User(mspID, user string) (*Signer, error) {
	return mspSigner(mspID, r.orgDir(mspID, "users", user, "msp"))
}

// PeerSigner is a department's peer identity: the key with which its peer
// signs endorsements, which the department holds.
func (r *Run) PeerSigner(mspID string) (*Signer, error) {
	return mspSigner(mspID, r.orgDir(mspID, "peer0", "msp"))
}

// DialPeer connects to a department's peer.
func (r *Run) DialPeer(mspID string) (*Peer, error) {
	for _, d := range r.Endpoints.Departments {
		if d.MSPID == mspID {
			return DialPeer(d.Peer, r.orgDir(mspID, "peer0", "tls", "ca.crt"))
		}
	}
	return nil, fmt.Errorf("forge: no department %s in %s", mspID, r.Dir)
}

// DialOrderer connects to the i-th orderer (0-based) of the topology.
func (r *Run) DialOrderer(i int) (*Orderer, error) {
	nodes := r.Topology.Ordering.Nodes
	if i < 0 || i >= len(nodes) {
		return nil, errors.New("forge: no such orderer")
	}
	o := nodes[i]
	return DialOrderer(o.Addr(o.Port), filepath.Join(r.Dir, "orgs", "orderer", "orderers", o.Name, "tls", "ca.crt"))
}
