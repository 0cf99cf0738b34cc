package multihost

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/govshare/ledger/network"
)

// View is a test process's reach into the laid-out consortium, from the
// view folder WriteView wrote: the gateways as the departments' people,
// the indexers over their sockets, the nodes' metrics.
type View struct {
	Dir       string
	Layout    *Layout
	Topology  *network.Topology
	Endpoints *network.Endpoints
	Creds     []network.Credential
}

// OpenView reads a view folder.
func OpenView(dir string) (*View, error) {
	l, err := ReadLayout(dir)
	if err != nil {
		return nil, err
	}
	topo, err := network.LoadTopology(l.Topology)
	if err != nil {
		return nil, err
	}
	eps, err := network.ReadEndpoints(dir)
	if err != nil {
		return nil, err
	}
	v := &View{Dir: dir, Layout: l, Topology: topo, Endpoints: eps}
	raw, err := os.ReadFile(filepath.Join(dir, "credentials.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &v.Creds); err != nil {
		return nil, fmt.Errorf("credentials.json: %w", err)
	}
	return v, nil
}

// Department is the topology's department mspID.
func (v *View) Department(mspID string) (network.Department, error) {
	for _, d := range v.Topology.Departments {
		if d.MSPID == mspID {
			return d, nil
		}
	}
	return network.Department{}, fmt.Errorf("no department %s in %s", mspID, v.Layout.Topology)
}

// Call sends one request to mspID's gateway as its first person of role
// and returns the status and body.
func (v *View) Call(ctx context.Context, mspID, role, method, path string, body any) (int, []byte, error) {
	token := ""
	for _, c := range v.Creds {
		if c.MSPID == mspID && c.Role == role {
			token = c.Token
			break
		}
	}
	if token == "" {
		return 0, nil, fmt.Errorf("no %s of %s in credentials.json", role, mspID)
	}
	d, err := v.Department(mspID)
	if err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Topology.GatewayURL(d)+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc, err := network.GatewayClient(v.Dir, 0)
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, out, err
}

// PeerHeight is the height of the channel's ledger on mspID's peer, from
// its operations endpoint.
func (v *View) PeerHeight(ctx context.Context, mspID string) (uint64, error) {
	d, err := v.Department(mspID)
	if err != nil {
		return 0, err
	}
	h, err := network.Metric(ctx, "http://"+d.Addr(d.PeerOpsPort)+"/metrics", "ledger_blockchain_height", `channel="`+v.Topology.Channel+`"`)
	return uint64(h), err
}

// Mirror is an indexer's /internal/digest: the blocks it applied and the
// digest of its whole mirror.
type Mirror struct {
	Height uint64 `json:"height"`
	Digest string `json:"digest"`
}

// Mirror asks mspID's indexer, over its socket, for its mirror's digest.
func (v *View) Mirror(ctx context.Context, mspID string) (Mirror, error) {
	var m Mirror
	for _, d := range v.Endpoints.Departments {
		if d.MSPID != mspID {
			continue
		}
		hc, base, err := network.IndexerClient(d.Indexer, 10*time.Second)
		if err != nil {
			return m, err
		}
		defer hc.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/internal/digest", nil)
		if err != nil {
			return m, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return m, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return m, fmt.Errorf("indexer of %s: digest: status %d", mspID, resp.StatusCode)
		}
		return m, json.NewDecoder(resp.Body).Decode(&m)
	}
	return m, fmt.Errorf("no department %s in endpoints.json", mspID)
}

// Leader is the Raft leader among the orderers ("" if none is, or the
// ordering service is BFT), from their operations endpoints.
func (v *View) Leader(ctx context.Context) string {
	for _, o := range v.Topology.Ordering.Nodes {
		x, err := network.Metric(ctx, "http://"+o.Addr(o.OpsPort)+"/metrics", "consensus_etcdraft_is_leader", `channel="`+v.Topology.Channel+`"`)
		if err == nil && x == 1 {
			return o.Name
		}
	}
	return ""
}
