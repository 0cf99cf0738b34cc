package network

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// peerEnv configures a department's peer through CORE_* overrides of the
// sample core.yaml: no Docker (chaincode runs as a service through the
// repository's external builder), LevelDB state, Prometheus metrics, and a
// short gossip reconnect interval so membership converges in seconds.
func (n *Net) peerEnv(d Department) []string {
	dir := n.peerDir(d)
	tlsDir := filepath.Join(dir, "tls")
	data := n.path("data", "peer-"+d.Slug())
	builder := filepath.Join(n.opts.Root, "network", "builder")
	return []string{
		"FABRIC_CFG_PATH=" + n.peerConfigDir(),
		"FABRIC_LOGGING_SPEC=INFO:gossip=WARNING:comm.grpc.server=WARNING",
		"CORE_PEER_ID=peer0." + d.Slug(),
		"CORE_PEER_ADDRESS=" + d.Addr(d.PeerPort),
		"CORE_PEER_LISTENADDRESS=" + d.Addr(d.PeerPort),
		"CORE_PEER_CHAINCODEADDRESS=" + d.Addr(d.PeerCCPort),
		"CORE_PEER_CHAINCODELISTENADDRESS=" + d.Addr(d.PeerCCPort),
		"CORE_PEER_GOSSIP_BOOTSTRAP=" + d.Addr(d.PeerPort),
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=" + d.Addr(d.PeerPort),
		// Cross-department gossip dials fail until every department has
		// joined; a short reconnect interval makes membership converge in
		// seconds, and short alive intervals let a dead peer drop out of the
		// Gateway's endorsement plans in about ten seconds, not thirty.
		"CORE_PEER_GOSSIP_RECONNECTINTERVAL=2s",
		"CORE_PEER_GOSSIP_ALIVETIMEINTERVAL=2s",
		"CORE_PEER_GOSSIP_ALIVEEXPIRATIONTIMEOUT=10s",
		"CORE_PEER_LOCALMSPID=" + d.MSPID,
		"CORE_PEER_MSPCONFIGPATH=" + filepath.Join(dir, "msp"),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_CERT_FILE=" + filepath.Join(tlsDir, "server.crt"),
		"CORE_PEER_TLS_KEY_FILE=" + filepath.Join(tlsDir, "server.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE=" + filepath.Join(tlsDir, "ca.crt"),
		"CORE_PEER_FILESYSTEMPATH=" + data,
		"CORE_LEDGER_STATE_STATEDATABASE=goleveldb",
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR=" + filepath.Join(data, "snapshots"),
		"CORE_OPERATIONS_LISTENADDRESS=" + d.Addr(d.PeerOpsPort),
		"CORE_METRICS_PROVIDER=prometheus",
		"CORE_VM_ENDPOINT=",
		"CORE_CHAINCODE_EXTERNALBUILDERS=[{name: ccaas_builder, path: " + builder + "}]",
		"CORE_PEER_GATEWAY_ENABLED=true",
	}
}

// ValidationPlugin is the name under which peers load govshare's validation
// plugin (chaincode/validation) and the ledger chaincode's definition names
// it.
const ValidationPlugin = "govshare"

func (n *Net) peerConfigDir() string { return n.path("config", "peer") }

// writePeerConfig writes the peers' core.yaml: the sample one with govshare's
// validation plugin added under handlers.validators (a new map entry, which
// no environment variable can add).
func (n *Net) writePeerConfig() error {
	raw, err := os.ReadFile(filepath.Join(n.opts.FabricCfg, "core.yaml"))
	if err != nil {
		return err
	}
	plugin := n.bin("govshare-validation.so")
	if _, err := os.Stat(plugin); err != nil {
		return fmt.Errorf("the validation plugin was not built (make fabric): %w", err)
	}
	const anchor = "\n    validators:\n"
	s := string(raw)
	if !strings.Contains(s, anchor) {
		return fmt.Errorf("%s/core.yaml has no handlers.validators section", n.opts.FabricCfg)
	}
	s = strings.Replace(s, anchor, anchor+"      "+ValidationPlugin+":\n        name: "+ValidationPlugin+"\n        library: "+plugin+"\n", 1)
	return writeFileAtomic(filepath.Join(n.peerConfigDir(), "core.yaml"), []byte(s), 0o644)
}

// adminEnv is the peer CLI's environment acting as a department's admin
// against its own peer.
func (n *Net) adminEnv(d Department) []string {
	return append(os.Environ(),
		"FABRIC_CFG_PATH="+n.opts.FabricCfg,
		"CORE_PEER_LOCALMSPID="+d.MSPID,
		"CORE_PEER_MSPCONFIGPATH="+filepath.Join(n.userDir(d, "admin"), "msp"),
		"CORE_PEER_ADDRESS="+d.Addr(d.PeerPort),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE="+filepath.Join(n.peerDir(d), "tls", "ca.crt"),
	)
}

// startPeers starts every department's peer and joins it to the channel.
func (n *Net) startPeers(ctx context.Context, block string) error {
	deps := n.topo.Departments
	if err := n.writePeerConfig(); err != nil {
		return err
	}
	procs := make([]*Proc, len(deps))
	for i, d := range deps {
		p, err := n.procs.start(procSpec{Name: "peer-" + d.Slug(), Bin: n.bin("peer"), Args: []string{"node", "start"}, Order: 2,
			Env: n.peerEnv(d), Dir: n.opts.Run, Ready: "tcp:" + d.Addr(d.PeerPort)})
		if err != nil {
			return err
		}
		procs[i] = p
	}
	return parallel(len(deps), func(i int) error {
		d := deps[i]
		wctx, cancel := withTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := waitTCP(wctx, procs[i], d.Addr(d.PeerPort)); err != nil {
			return err
		}
		if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "channel", "join", "-b", block); err != nil {
			return logErr(procs[i], fmt.Errorf("join peer of %s: %w", d.MSPID, err))
		}
		return nil
	})
}

// Metric reads one Prometheus gauge or counter with the given label
// fragment (e.g. `channel="datashare"`) from a node's operations endpoint
// (url: http://<host:opsPort>/metrics); 0 if absent.
func Metric(ctx context.Context, url, name, label string) (float64, error) {
	return metric(ctx, url, name, label)
}

func metric(ctx context.Context, url, name, label string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue
		}
		if label != "" && !strings.Contains(rest, label) {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		return strconv.ParseFloat(fields[len(fields)-1], 64)
	}
	return 0, sc.Err()
}

// waitGossip waits until every peer knows every other peer of the channel:
// the Gateway needs that membership to find other departments' endorsers.
func (n *Net) waitGossip(ctx context.Context) error {
	want := float64(len(n.topo.Departments) - 1)
	wctx, cancel := withTimeout(ctx, 90*time.Second)
	defer cancel()
	for _, d := range n.topo.Departments {
		url := fmt.Sprintf("http://%s/metrics", d.Addr(d.PeerOpsPort))
		for {
			v, err := metric(wctx, url, "gossip_membership_total_peers_known", `channel="`+n.topo.Channel+`"`)
			if err == nil && v >= want {
				break
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("peer of %s knows %v of %v other peers: %w", d.MSPID, v, want, wctx.Err())
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return nil
}

// waitLeader waits until the ordering service has a Raft leader for the
// channel (BFT needs no election wait: its view is ready when joined).
func (n *Net) waitLeader(ctx context.Context) error {
	if n.topo.Ordering.Consensus != "etcdraft" {
		return nil
	}
	wctx, cancel := withTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		for _, o := range n.topo.Ordering.Nodes {
			v, err := metric(wctx, fmt.Sprintf("http://%s/metrics", o.Addr(o.OpsPort)), "consensus_etcdraft_is_leader", `channel="`+n.topo.Channel+`"`)
			if err == nil && v == 1 {
				return nil
			}
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("no Raft leader elected: %w", wctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
