//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// procSpec is the part of a recorded process spec the tests use.
type procSpec struct {
	Bin  string   `json:"bin"`
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

func readSpec(t *testing.T, name string) procSpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "pids", name+".spec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s procSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("spec of %s: %v", name, err)
	}
	return s
}

// logMark is where a process's log ends now: what a test reads of it
// later starts there, so that earlier runs do not count.
func logMark(t *testing.T, name string) int64 {
	t.Helper()
	st, err := os.Stat(filepath.Join(shared.run, "logs", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// startedHeights lists, from an indexer's log after mark, the height each
// start resumed from ("indexer started" records): 0 is a replay from
// genesis, anything else a resume from its checkpoint. relayout says
// whether some start found a mirror of an older key layout and dropped it
// (an indexer binary rebuilt while the consortium ran), which explains a
// replay from 0 and a digest that changed.
func startedHeights(t *testing.T, name string, mark int64) (heights []uint64, relayout bool) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "logs", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw[min(mark, int64(len(raw))):]), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			Height uint64 `json:"height"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch {
		case rec.Msg == "indexer started":
			heights = append(heights, rec.Height)
		case strings.Contains(rec.Msg, "another key layout"):
			relayout = true
		}
	}
	return heights, relayout
}

// relayoutNote explains a failure caused by an indexer rebuilt mid-run.
func relayoutNote(relayout bool) string {
	if !relayout {
		return ""
	}
	return " (its log shows it dropped a mirror of an older key layout: the indexer binary was rebuilt while the tests ran; " +
		"run the tests against a consortium whose processes run the current build, as scripts/faults.sh arranges)"
}

// TestIndexerKilledUnderLoad: Dept2's indexer is SIGKILLed three times
// while two other departments write, and started again each time. After
// it: every acknowledged write is on every peer and in every department's
// index; each restart resumed from its checkpoint (not from genesis);
// Dept2's mirror has the same digest as every other department's at the
// same height; and a rebuild of Dept2's mirror from genesis ends with that
// same digest again: the crashes lost nothing and applied nothing twice.
func TestIndexerKilledUnderLoad(t *testing.T) {
	faultTest(t)
	const victim, victimMSP, kills = "indexer-dept2", "Dept2MSP", 3
	v := newLedgerView(t)
	mark := logMark(t, victim)

	l := startLoad(uniqueID("ix"), 2*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "BureauMSP", "operator"))
	t.Cleanup(func() { l.finish() })
	for range kills {
		time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
		control(t, 30*time.Second, "kill", victim)
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		control(t, 90*time.Second, "start", victim)
	}
	time.Sleep(time.Second)
	outs := l.finish()
	t.Logf("load: %d writes (%s) while %s was SIGKILLed %d times", len(outs), tally(outs), victim, kills)

	h, digest := v.converged(t)
	checkLoad(t, v, outs)
	resumed, relayout := startedHeights(t, victim, mark)
	if len(resumed) != kills {
		t.Fatalf("%s logged %d starts since the test began, want %d: %v", victim, len(resumed), kills, resumed)
	}
	for _, r := range resumed {
		if r == 0 {
			t.Errorf("a restart of %s replayed from genesis instead of resuming from its checkpoint: %v%s", victim, resumed, relayoutNote(relayout))
		}
	}
	t.Logf("%s resumed from its checkpoint at heights %v; ledger at %d", victim, resumed, h)

	// The mirror must equal one rebuilt from nothing.
	control(t, 30*time.Second, "stop", victim)
	spec := readSpec(t, victim)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, spec.Bin, "rebuild", "-config", spec.Args[len(spec.Args)-1]).CombinedOutput(); err != nil {
		t.Fatalf("rebuild %s: %v\n%s", victim, err, out)
	}
	mark = logMark(t, victim)
	start := time.Now()
	control(t, 90*time.Second, "start", victim)
	rebuilt := mirrorAt(t, victimMSP, h, 90*time.Second)
	if from, _ := startedHeights(t, victim, mark); len(from) != 1 || from[0] != 0 {
		t.Fatalf("after a rebuild %s started from heights %v, want one start from 0", victim, from)
	}
	if rebuilt.Digest != digest {
		t.Fatalf("mirror of %s after SIGKILLs: %s; rebuilt from genesis: %s (height %d)", victim, digest, rebuilt.Digest, h)
	}
	t.Logf("rebuild of %s replayed %d blocks in %s to the same digest %s…", victim, h, time.Since(start).Round(time.Millisecond), digest[:16])
}
