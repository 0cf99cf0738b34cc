//go:build faults

package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// orderer is one ordering node: its process name and operations endpoint.
type orderer struct {
	name string
	ops  string // http://host:port
}

// orderers lists the ordering nodes from their recorded specs: each
// process run by the orderer binary, with the operations address its
// environment gives it.
func orderers(t *testing.T) []orderer {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(shared.run, "pids", "*.spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []orderer
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".spec.json")
		spec := readSpec(t, name)
		if filepath.Base(spec.Bin) != "orderer" {
			continue
		}
		for _, e := range spec.Env {
			if addr, ok := strings.CutPrefix(e, "ORDERER_OPERATIONS_LISTENADDRESS="); ok {
				out = append(out, orderer{name: name, ops: "http://" + addr})
			}
		}
	}
	return out
}

// channelLabel selects the channel's series of a Fabric metric.
func channelLabel() string { return `channel="` + shared.eps.Channel + `"` }

// raftLeader waits until exactly one of nodes reports itself the channel's
// Raft leader (consensus_etcdraft_is_leader 1) and returns it.
func raftLeader(t *testing.T, nodes []orderer, within time.Duration) orderer {
	t.Helper()
	var leader orderer
	eventually(t, within, func() error {
		var leaders []orderer
		for _, o := range nodes {
			v, _, err := metric(context.Background(), o.ops+"/metrics", "consensus_etcdraft_is_leader", channelLabel())
			if err == nil && v == 1 {
				leaders = append(leaders, o)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("%d orderers of %d report being the Raft leader: %v", len(leaders), len(nodes), leaders)
		}
		leader = leaders[0]
		return nil
	})
	return leader
}

// metricOf reads one of o's channel metrics.
func (o orderer) metricOf(name string) (float64, error) {
	v, found, err := metric(context.Background(), o.ops+"/metrics", name, channelLabel())
	if err != nil {
		return 0, fmt.Errorf("%s of %s: %w", name, o.name, err)
	}
	if !found {
		return 0, fmt.Errorf("%s of %s: no such metric", name, o.name)
	}
	return v, nil
}

// height is o's ledger height for the channel.
func (o orderer) height() (uint64, error) {
	v, err := o.metricOf("ledger_blockchain_height")
	return uint64(v), err
}

// follows waits until o holds want blocks.
func follows(o orderer, want uint64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		got, err := o.height()
		if err == nil && got == want {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return err
			}
			return fmt.Errorf("%s at %d blocks after %s, the peers at %d", o.name, got, within, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// orderingWhole reports whether the ordering service is whole: one node
// is the Raft leader and it counts every node as recently active (a node
// that runs but whose Raft loop is stuck never answers the leader).
func orderingWhole(nodes []orderer) error {
	var leaders []orderer
	for _, o := range nodes {
		if v, err := o.metricOf("consensus_etcdraft_is_leader"); err == nil && v == 1 {
			leaders = append(leaders, o)
		}
	}
	if len(leaders) != 1 {
		return fmt.Errorf("%d Raft leaders among %d orderers", len(leaders), len(nodes))
	}
	active, err := leaders[0].metricOf("consensus_etcdraft_active_nodes")
	if err != nil {
		return err
	}
	if int(active) != len(nodes) {
		return fmt.Errorf("the Raft leader %s counts %v of %d orderers active", leaders[0].name, active, len(nodes))
	}
	return nil
}

// waitOrderingWhole waits until orderingWhole holds.
func waitOrderingWhole(nodes []orderer, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		err := orderingWhole(nodes)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// logStamp is the UTC timestamp at the start of a Fabric log line.
var logStamp = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}`)

// votersLine finds the Raft configurations a node switches to, as etcd
// raft logs them ("switched to configuration voters=(1 2 3)").
var votersLine = regexp.MustCompile(`switched to configuration voters=\(([0-9 ]*)\)`)

// stuckAtStart reports whether o's last start left its Raft chain stuck,
// from its log. A restart rebuilds the channel's Raft membership, from a
// snapshot if the node has one, else by replaying the membership changes
// in its WAL, one per orderer. If a few seconds later its configuration
// still names fewer voters than there are orderers, the replay stopped:
// the chain's apply loop is waiting on WALSyncC while the node loop waits
// on applyC, the etcdraft startup deadlock of hyperledger/fabric#4199
// (fixed upstream by PR #4201, after the pinned Fabric commit). The answer
// says what the log shows.
func stuckAtStart(t *testing.T, o orderer, members int) (bool, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "logs", o.name+".log"))
	if err != nil {
		return false, ""
	}
	log := string(raw)
	i := strings.LastIndex(log, "Restarting raft node")
	if i < 0 {
		return false, ""
	}
	// Give a start that has just happened a moment to replay.
	line := log[strings.LastIndex(log[:i], "\n")+1 : i]
	if at, err := time.Parse("2006-01-02 15:04:05.000", logStamp.FindString(line)); err != nil || time.Since(at) < 5*time.Second {
		return false, ""
	}
	voters := 0
	for _, m := range votersLine.FindAllStringSubmatch(log[i:], -1) {
		voters = len(strings.Fields(m[1]))
	}
	if voters >= members {
		return false, ""
	}
	return true, fmt.Sprintf("%s's last start rebuilt a Raft membership of %d of %d orderers from its WAL and stopped there: its Raft chain is stuck "+
		"(the etcdraft startup deadlock of hyperledger/fabric#4199: Chain.apply blocks sending on WALSyncC, chain.go:1183, "+
		"while node.run blocks sending on applyC, node.go:156; fixed upstream by PR #4201, after the pinned Fabric commit)", o.name, voters, members)
}

// reviveOrdering makes the ordering service whole again, whatever a test
// did: every orderer whose Raft chain is stuck at start (see stuckAtStart)
// is killed and started again, up to a bound, since each start replays the
// membership changes anew and may or may not deadlock. A service that is
// not whole with no orderer stuck is given time: a new leader counts the
// others active only a few ticks after its election.
func reviveOrdering(ctx context.Context, t *testing.T) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	nodes := orderers(t)
	restarts := 0
	for {
		err := waitOrderingWhole(nodes, 2*time.Second)
		if err == nil {
			if restarts > 0 {
				t.Logf("the ordering service is whole again after %d restarts of orderers stuck at start", restarts)
			}
			return nil
		}
		var stuck []string
		for _, o := range nodes {
			if ok, _ := stuckAtStart(t, o, len(nodes)); ok {
				stuck = append(stuck, o.name)
			}
		}
		if ctx.Err() != nil || restarts >= 20 {
			return fmt.Errorf("the ordering service is not whole (%w); stuck at start: %v after %d restarts", err, stuck, restarts)
		}
		if len(stuck) == 0 {
			continue
		}
		restarts += len(stuck)
		if out, err := shared.control(ctx, append([]string{"kill"}, stuck...)...); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		if out, err := shared.control(ctx, append([]string{"start"}, stuck...)...); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
	}
}
