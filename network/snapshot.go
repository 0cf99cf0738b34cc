package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/govshare/ledger/config"
)

// A department's second peer, joined from a ledger snapshot of its first:
// the way a department replaces a host, or adds one, without replaying the
// channel from genesis. It has the department's identity (enrolled at the
// department's CA as peer1), its own ledger folder and the ports the
// topology gives it (peer1Port, ...).

const secondPeer = "peer1"

func (n *Net) peer1Dir(d Department) string  { return n.orgDir(d.Slug(), secondPeer) }
func (n *Net) peer1Proc(d Department) string { return secondPeer + "-" + d.Slug() }

// peer1Env is the second peer's environment: the first peer's, with its
// own identity, addresses and ledger, and the first peer as its gossip
// bootstrap.
func (n *Net) peer1Env(d Department) []string {
	dir := n.peer1Dir(d)
	data := n.path("data", n.peer1Proc(d))
	set := map[string]string{
		"CORE_PEER_ID":                      secondPeer + "." + d.Slug(),
		"CORE_PEER_ADDRESS":                 d.Addr(d.Peer1Port),
		"CORE_PEER_LISTENADDRESS":           d.Addr(d.Peer1Port),
		"CORE_PEER_CHAINCODEADDRESS":        d.Addr(d.Peer1CCPort),
		"CORE_PEER_CHAINCODELISTENADDRESS":  d.Addr(d.Peer1CCPort),
		"CORE_PEER_GOSSIP_BOOTSTRAP":        d.Addr(d.PeerPort),
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT": d.Addr(d.Peer1Port),
		"CORE_PEER_MSPCONFIGPATH":           filepath.Join(dir, "msp"),
		"CORE_PEER_TLS_CERT_FILE":           filepath.Join(dir, "tls", "server.crt"),
		"CORE_PEER_TLS_KEY_FILE":            filepath.Join(dir, "tls", "server.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE":       filepath.Join(dir, "tls", "ca.crt"),
		"CORE_PEER_FILESYSTEMPATH":          data,
		"CORE_LEDGER_SNAPSHOTS_ROOTDIR":     filepath.Join(data, "snapshots"),
		"CORE_OPERATIONS_LISTENADDRESS":     d.Addr(d.Peer1OpsPort),
	}
	env := n.peerEnv(d)
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := set[k]; ok {
			env[i] = k + "=" + v
		}
	}
	return env
}

// PeerHeights is the channel's height on department msp's first peer and,
// if it has one, its second (0 otherwise).
func (n *Net) PeerHeights(ctx context.Context, msp string) (peer0, peer1 uint64, err error) {
	d, err := n.departmentNamed(msp)
	if err != nil {
		return 0, 0, err
	}
	if peer0, err = n.height(ctx, d, d.Addr(d.PeerPort)); err != nil {
		return 0, 0, err
	}
	if _, serr := readSpec(n.opts.Run, n.peer1Proc(d)); serr != nil {
		return peer0, 0, nil
	}
	peer1, err = n.height(ctx, d, d.Addr(d.Peer1Port))
	return peer0, peer1, err
}

// adminEnvAt is the peer CLI acting as d's admin against the peer at addr
// (whose TLS certificate d's CA signed).
func (n *Net) adminEnvAt(d Department, addr string) []string {
	return append(n.adminEnv(d), "CORE_PEER_ADDRESS="+addr)
}

// height is the block height of the channel on the peer at addr.
func (n *Net) height(ctx context.Context, d Department, addr string) (uint64, error) {
	out, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnvAt(d, addr), n.bin("peer"), "channel", "getinfo", "-c", n.topo.Channel)
	if err != nil {
		return 0, err
	}
	s := string(out)
	i := strings.Index(s, "{")
	if i < 0 {
		return 0, fmt.Errorf("getinfo on %s: %q", addr, strings.TrimSpace(s))
	}
	var info struct {
		Height uint64 `json:"height"`
	}
	if err := json.Unmarshal([]byte(s[i:]), &info); err != nil {
		return 0, fmt.Errorf("getinfo on %s: %w", addr, err)
	}
	return info.Height, nil
}

// catchUp waits (3 minutes at most) until department d's peer at addr
// holds at least the height department of's peer at ref had when asked,
// and returns its height. Each department's admin asks its own peer.
func (n *Net) catchUp(ctx context.Context, of Department, ref string, d Department, addr string) (uint64, error) {
	want, err := n.height(ctx, of, ref)
	if err != nil {
		return 0, err
	}
	wctx, cancel := withTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		h, err := n.height(wctx, d, addr)
		if err == nil && h >= want {
			return h, nil
		}
		select {
		case <-wctx.Done():
			return 0, fmt.Errorf("the peer at %s is at height %d, the one at %s was at %d: %v", addr, h, ref, want, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Snapshot asks d's first peer for a snapshot of the channel's ledger at
// its last committed block and waits until the peer has written it. It
// returns the block and the snapshot's folder.
func (n *Net) Snapshot(ctx context.Context, d Department) (block uint64, dir string, err error) {
	tlsRoot := filepath.Join(n.peerDir(d), "tls", "ca.crt")
	for attempt := 1; ; attempt++ {
		h, err := n.height(ctx, d, d.Addr(d.PeerPort))
		if err != nil {
			return 0, "", err
		}
		block = h - 1
		_, err = n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "snapshot", "submitrequest",
			"-c", n.topo.Channel, "-b", strconv.FormatUint(block, 10), "--peerAddress", d.Addr(d.PeerPort), "--tlsRootCertFile", tlsRoot)
		if err == nil {
			break
		}
		// Under load a block can commit between the height read and the
		// request, which the peer refuses for a block already behind it:
		// ask again at the new height.
		var le *LogError
		if attempt < 5 && errors.As(err, &le) && strings.Contains(le.Tail(3), "cannot be less than the last committed block number") {
			continue
		}
		return 0, "", fmt.Errorf("snapshot request to the peer of %s: %w", d.MSPID, err)
	}
	// The peer writes the snapshot under snapshots/temp and renames it
	// into snapshots/completed/<channel>/<block> when it is whole.
	dir = filepath.Join(n.path("data", "peer-"+d.Slug()), "snapshots", "completed", n.topo.Channel, strconv.FormatUint(block, 10))
	wctx, cancel := withTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if _, err := os.Stat(filepath.Join(dir, "_snapshot_additional_metadata.json")); err == nil {
			return block, dir, nil
		}
		select {
		case <-wctx.Done():
			return 0, "", fmt.Errorf("the peer of %s wrote no snapshot at block %d in %s", d.MSPID, block, dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// PeerFromSnapshot is a department's second peer, joined from a snapshot,
// with the department's gateway and indexer moved onto it.
type PeerFromSnapshot struct {
	Department    string
	SnapshotBlock uint64 // the last block in the snapshot
	Snapshot      string
	Peer          string // its address
	Height        uint64 // its height when it had caught up
	IndexerData   string // the mirror the department's indexer now uses, copied from the old one
	Took          time.Duration
}

// AddPeerFromSnapshot snapshots department msp's ledger on its first peer,
// starts a second peer of the department and joins it to the channel from
// the snapshot (`peer channel joinbysnapshot`: it holds the state and the
// transaction IDs as of the snapshot, and pulls only the blocks after it
// from the ordering service), installs the department's chaincode package
// on it, and moves the department onto it: its indexer's mirror is copied
// to a new folder, as a new host would get it from a backup, and the
// indexer carries on from its checkpoint with the blocks of the new peer
// (every block after the snapshot); the gateway endorses and reads through
// the new peer. The first peer keeps running.
func (n *Net) AddPeerFromSnapshot(ctx context.Context, msp string) (*PeerFromSnapshot, error) {
	n.start = time.Now()
	start := n.start
	d, err := n.departmentNamed(msp)
	if err != nil {
		return nil, err
	}
	if _, err := readSpec(n.opts.Run, n.peer1Proc(d)); err == nil {
		return nil, fmt.Errorf("%s already has a second peer (%s): `consortium remove-peer -dept %s` first", msp, n.peer1Proc(d), msp)
	}
	r := &PeerFromSnapshot{Department: msp, Peer: d.Addr(d.Peer1Port)}
	err = n.step("snapshot of "+msp+"'s ledger", func() (err error) {
		r.SnapshotBlock, r.Snapshot, err = n.Snapshot(ctx, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = n.step("second peer enrolled at "+msp+"'s CA", func() error {
		if _, err := os.Stat(filepath.Join(n.peer1Dir(d), "tls", "server.crt")); err == nil {
			return nil // enrolled for an earlier second peer; `consortium renew` keeps it current
		}
		return n.enroll(ctx, n.orgCAs()[d.Slug()], enrollment{user: secondPeer, typ: "peer", dir: n.peer1Dir(d), tls: true, hosts: []string{d.Host}})
	})
	if err != nil {
		return nil, err
	}
	err = n.step("second peer joined from the snapshot and caught up", func() error {
		if err := os.RemoveAll(n.path("data", n.peer1Proc(d))); err != nil {
			return err
		}
		p, err := n.startPeerNode(ctx, n.peer1Proc(d), n.peer1Env(d), d.Addr(d.Peer1Port))
		if err != nil {
			return err
		}
		env := n.adminEnvAt(d, d.Addr(d.Peer1Port))
		if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), env, n.bin("peer"), "channel", "joinbysnapshot", "--snapshotpath", r.Snapshot); err != nil {
			return logErr(p, fmt.Errorf("join the second peer of %s by snapshot: %w", msp, err))
		}
		cc, err := n.ChaincodeRecord()
		if err != nil {
			return err
		}
		if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), env, n.bin("peer"), "lifecycle", "chaincode", "install", cc.Servers[msp].Package); err != nil {
			return fmt.Errorf("install the chaincode on the second peer of %s: %w", msp, err)
		}
		// Caught up: at least the first peer's height when asked.
		if r.Height, err = n.catchUp(ctx, d, d.Addr(d.PeerPort), d, d.Addr(d.Peer1Port)); err != nil {
			return logErr(p, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = n.step("second peer knows every other peer (gossip)", func() error {
		// Its own department's first peer and every other department's:
		// the gateway's endorsement plans come from this membership.
		return n.waitPeersKnown(ctx, "the second peer of "+msp, d.Addr(d.Peer1OpsPort), len(n.topo.Departments))
	})
	if err != nil {
		return nil, err
	}
	err = n.step(msp+"'s indexer and gateway moved onto the second peer", func() (err error) {
		r.IndexerData, err = n.usePeer(ctx, d, secondPeer)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.Took = time.Since(start)
	return r, nil
}

// UsePeer moves department msp's indexer and gateway onto its peer0 or
// peer1; it returns the indexer's mirror folder.
func (n *Net) UsePeer(ctx context.Context, msp, peer string) (string, error) {
	n.start = time.Now()
	d, err := n.departmentNamed(msp)
	if err != nil {
		return "", err
	}
	return n.usePeer(ctx, d, peer)
}

// usePeer points d's indexer and gateway at its peer (peer0 or peer1) and
// restarts them. The indexer's mirror moves to the folder of that peer
// (data/indexer-<dept>[-peer1]), copied from the one in use while the
// indexer is stopped, so that the mirror the indexer carries on from is
// whole and the old one stays as it was.
func (n *Net) usePeer(ctx context.Context, d Department, peer string) (string, error) {
	ref, dataDir := n.peerRef(d), n.path("data", "indexer-"+d.Slug())
	switch peer {
	case "peer0":
	case secondPeer:
		ref = config.Peer{Endpoint: d.Addr(d.Peer1Port), TLSCACert: filepath.Join(n.peer1Dir(d), "tls", "ca.crt")}
		dataDir += "-" + secondPeer
		if _, err := readSpec(n.opts.Run, n.peer1Proc(d)); err != nil {
			return "", fmt.Errorf("%s has no second peer: `consortium peer-from-snapshot -dept %s` first", d.MSPID, d.MSPID)
		}
	default:
		return "", fmt.Errorf("peer %q: peer0 or %s", peer, secondPeer)
	}
	ixName, gwName := "indexer-"+d.Slug(), "gateway-"+d.Slug()
	ixConf, gwConf := n.path("config", ixName+".json"), n.path("config", gwName+".json")
	var ix map[string]any
	if err := readJSONFile(ixConf, &ix); err != nil {
		return "", err
	}
	from, _ := ix["dataDir"].(string)
	if _, err := stopRecorded(n.opts.Run, 10*time.Second, gwName, ixName); err != nil {
		return "", err
	}
	if from != dataDir {
		if err := os.RemoveAll(dataDir); err != nil {
			return "", err
		}
		if out, err := exec.CommandContext(ctx, "cp", "-a", from, dataDir).CombinedOutput(); err != nil {
			return "", fmt.Errorf("copy the mirror %s to %s: %v: %s", from, dataDir, err, out)
		}
	}
	ix["dataDir"], ix["peer"] = dataDir, ref
	if err := writeJSON(ixConf, ix, 0o644); err != nil {
		return "", err
	}
	var gw map[string]any
	if err := readJSONFile(gwConf, &gw); err != nil {
		return "", err
	}
	gw["peer"] = ref
	if err := writeJSON(gwConf, gw, 0o644); err != nil {
		return "", err
	}
	return dataDir, n.Start(ctx, ixName, gwName)
}

// RemovePeer stops department msp's second peer and deletes its ledger and
// its copy of the mirror (its identity stays, for the next second peer);
// the department must use its first peer.
func (n *Net) RemovePeer(msp string) error {
	d, err := n.departmentNamed(msp)
	if err != nil {
		return err
	}
	var gw struct {
		Peer config.Peer `json:"peer"`
	}
	if err := readJSONFile(n.path("config", "gateway-"+d.Slug()+".json"), &gw); err != nil {
		return err
	}
	if gw.Peer.Endpoint == d.Addr(d.Peer1Port) {
		return fmt.Errorf("%s's gateway uses its second peer: `consortium use-peer -dept %s peer0` first", msp, msp)
	}
	if _, err := stopRecorded(n.opts.Run, 10*time.Second, n.peer1Proc(d)); err != nil {
		return err
	}
	for _, f := range []string{
		n.path("pids", n.peer1Proc(d)+".pid"), n.path("pids", n.peer1Proc(d)+".spec.json"),
	} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return errors.Join(os.RemoveAll(n.path("data", n.peer1Proc(d))), os.RemoveAll(n.path("data", "indexer-"+d.Slug()+"-"+secondPeer)))
}

// departmentNamed finds a department of the topology by MSP ID.
func (n *Net) departmentNamed(msp string) (Department, error) {
	if d, ok := n.department(msp); ok {
		return d, nil
	}
	return Department{}, fmt.Errorf("no department %q in %s", msp, n.opts.Topology)
}

func readJSONFile(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
