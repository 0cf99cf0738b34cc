//go:build faults

package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRaftLeaderKilled: the Raft leader of the channel is SIGKILLed while
// two departments write. A new leader is elected among the two left, and
// writes resume within a bound (30 s; the measured figures are logged).
// Every write acknowledged before, during and after is on every peer and
// in every mirror: nothing is lost. A write refused meanwhile (503) is
// absent from the ledger unless its answer said it had reached ordering
// ("look it up before trying again"), in which case it may be there, in
// every mirror too. The killed orderer, started again, catches up to the
// peers' height, follows the next block, and the leader counts all the
// orderers active again.
func TestRaftLeaderKilled(t *testing.T) {
	faultTest(t)
	const recoveryBound = 30 * time.Second
	v := newLedgerView(t)
	nodes := orderers(t)
	if len(nodes) < 3 {
		t.Fatalf("a Raft leader can be lost only with at least 3 orderers; the run has %d", len(nodes))
	}
	old := raftLeader(t, nodes, 30*time.Second)
	var rest []orderer
	for _, o := range nodes {
		if o != old {
			rest = append(rest, o)
		}
	}

	l := startLoad(uniqueID("raft"), 3*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept2MSP", "operator"))
	t.Cleanup(func() { l.finish() })
	time.Sleep(3 * time.Second)
	control(t, 30*time.Second, "kill", old.name)
	killedAt := time.Now()
	// Watch for the new leader while the probe below writes.
	type election struct {
		leader orderer
		after  time.Duration
	}
	elections := make(chan election, 1)
	go func() {
		defer close(elections)
		for time.Since(killedAt) < 30*time.Second {
			var leaders []orderer
			for _, o := range rest {
				if v, _, err := metric(context.Background(), o.ops+"/metrics", "consensus_etcdraft_is_leader", channelLabel()); err == nil && v == 1 {
					leaders = append(leaders, o)
				}
			}
			if len(leaders) == 1 {
				elections <- election{leaders[0], time.Since(killedAt)}
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// Writes resume: a probe writes from the moment of the kill, one write
	// after another, until one commits. (The load's writers may each be
	// stuck meanwhile on a write that was in flight at the kill: its
	// transaction went to the dead leader, and the gateway waits for its
	// commit until the 30 s request deadline.)
	probe := shared.as(t, "BureauMSP", "operator")
	var probes []outcome
	for {
		id := uniqueID("raft-probe")
		o := outcome{id: id, by: probe.msp, start: time.Now()}
		a, err := probe.call(context.Background(), http.MethodPost, "/v1/datasets", newDataset(id, "unconditional"))
		o.end = time.Now()
		if err != nil {
			t.Fatal(err)
		}
		o.status, o.code, o.message = a.status, a.code(), a.message()
		probes = append(probes, o)
		if a.status == http.StatusCreated {
			break
		}
		if a.status != http.StatusServiceUnavailable {
			t.Fatalf("probe write after the leader was killed: %d %s", a.status, a.body)
		}
		if time.Since(killedAt) > recoveryBound {
			t.Fatalf("no write committed within %s of the leader's death: last answer %d %q", recoveryBound, a.status, a.message())
		}
		time.Sleep(200 * time.Millisecond)
	}
	recovery := probes[len(probes)-1].end.Sub(killedAt)
	e, ok := <-elections
	if !ok {
		t.Fatalf("no single Raft leader among %v within 30 s of %s's death", rest, old.name)
	}
	elected, electedAfter := e.leader, e.after
	// Some of the load's writes commit with two orderers of three.
	eventually(t, 45*time.Second, func() error {
		n := 0
		for _, o := range l.snapshot() {
			if o.start.After(killedAt) && o.status == http.StatusCreated {
				n++
			}
		}
		if n < 4 {
			return fmt.Errorf("%d of the load's writes sent after the kill committed, want 4", n)
		}
		return nil
	})

	restartAt := time.Now()
	control(t, 90*time.Second, "start", old.name)
	time.Sleep(3 * time.Second) // and some while it rejoins
	outs := append(l.finish(), probes...)

	var before, during, after []outcome
	for _, o := range outs {
		switch {
		case o.start.Before(killedAt):
			before = append(before, o)
		case o.start.Before(restartAt):
			during = append(during, o)
		default:
			after = append(after, o)
		}
	}
	t.Logf("leader %s killed; %s elected %s later; writes resumed %s after the kill (%d probe writes refused before one committed)",
		old.name, elected.name, electedAfter.Round(time.Millisecond), recovery.Round(time.Millisecond), len(probes)-1)
	t.Logf("writes before the kill: %s; with %s down: %s; after its restart: %s", tally(before), old.name, tally(during), tally(after))
	refusals := map[string][]time.Duration{}
	for _, o := range outs {
		if o.status != http.StatusCreated && o.status != 0 {
			why := fmt.Sprintf("%d %s", o.status, o.message)
			if tx := strings.Index(why, "transaction "); tx >= 0 && len(why) > tx+12+64 {
				why = why[:tx+12] + "…" + why[tx+12+64:] // one line per kind, not per transaction
			}
			refusals[why] = append(refusals[why], o.start.Sub(killedAt).Round(time.Millisecond))
		}
	}
	for why, at := range refusals {
		t.Logf("refused %d times, sent from %s to %s after the kill: %q", len(at), at[0], at[len(at)-1], why)
	}

	h, _ := v.converged(t)
	if n := checkLoad(t, v, outs, http.StatusServiceUnavailable); n > 0 {
		t.Logf("%d writes answered 503 \"sent for ordering but not confirmed\" had committed", n)
	}

	// The killed orderer is back: the leader counts every orderer active,
	// the restarted one holds the peers' height and follows a new block.
	rejoined := func(want uint64) {
		t.Helper()
		err := follows(old, want, 30*time.Second)
		if err == nil {
			err = waitOrderingWhole(nodes, 15*time.Second)
		}
		if err != nil {
			stuck, why := stuckAtStart(t, old, len(nodes))
			if !stuck {
				t.Fatalf("%s did not rejoin: %v", old.name, err)
			}
			// A known cause: report it, start the stuck orderer again as an
			// operator would, and check that it then follows.
			t.Errorf("%s did not rejoin: %v. %s", old.name, err, why)
			unstick(context.Background(), t)
			if err := follows(old, want, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	rejoined(h)
	shared.as(t, "BureauMSP", "operator").write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("raft-after"), "conditional"))
	h2, _ := v.converged(t)
	rejoined(h2)
	t.Logf("%s rejoined: at %d blocks like every peer and counted active by the leader %s, %s after its restart",
		old.name, h2, raftLeader(t, nodes, 10*time.Second).name, time.Since(restartAt).Round(time.Millisecond))
}
