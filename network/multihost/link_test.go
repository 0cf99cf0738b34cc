//go:build multihost

package multihost

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The department whose host is unplugged.
const cutMSP = "Dept3MSP"

var view *View

func TestMain(m *testing.M) {
	dir := os.Getenv("GOVSHARE_RUN")
	if dir == "" {
		fmt.Fprintln(os.Stderr, "multihost: GOVSHARE_RUN must name the multi-host view; run `make test-multihost` (scripts/multihost.sh)")
		os.Exit(2)
	}
	v, err := OpenView(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "multihost: not a multi-host view:", err)
		os.Exit(2)
	}
	view = v
	os.Exit(m.Run())
}

// TestLinkCut unplugs one department's host (`ip link set <its veth> down`
// on the bridge): the other departments go on writing records that need
// only their own peers (a dataset needs its owner's peer and a majority of
// the four, which the three connected ones are), each write committed and
// seen at every connected gateway, while the unplugged department's mirror
// stays where it was. Once the link is back, its peer catches up to the
// others' height, its indexer to the same mirror digest as theirs, and it
// writes again, with its own peer endorsing.
func TestLinkCut(t *testing.T) {
	cut, ok := view.Layout.Department(cutMSP)
	if !ok {
		t.Fatalf("no host for %s", cutMSP)
	}
	var others []string
	for _, d := range view.Topology.Departments {
		if d.MSPID != cutMSP {
			others = append(others, d.MSPID)
		}
	}
	before := settled(t, view.Topology.Departments[0].MSPID)
	t.Logf("all peers at height %d; unplugging %s (%s, link %s)", before, cutMSP, cut.Address, cut.Link)

	setLink(t, cut.Link, "down")
	plugged := false
	t.Cleanup(func() {
		if !plugged {
			setLink(t, cut.Link, "up")
		}
	})
	cutAt := time.Now()

	// The others carry on: a first write each, retried while the Gateways
	// learn that the unplugged peer is gone, then more, each at once.
	var written []string
	for _, msp := range others {
		id := uniqueID("cut-first-" + msp)
		eventually(t, 90*time.Second, func() error { return register(msp, id) })
		written = append(written, id)
	}
	t.Logf("%d departments wrote %.1fs after the cut", len(others), time.Since(cutAt).Seconds())
	for round := 0; round < 3; round++ {
		for _, msp := range others {
			id := uniqueID(fmt.Sprintf("cut-%d-%s", round, msp))
			if err := register(msp, id); err != nil {
				t.Fatalf("with %s unplugged: %v", cutMSP, err)
			}
			written = append(written, id)
		}
	}
	for _, id := range written {
		for _, msp := range others {
			eventually(t, 30*time.Second, func() error { return readable(msp, id) })
		}
	}
	during := settled(t, others[0])
	if during <= before {
		t.Fatalf("the connected peers are at height %d, not past %d", during, before)
	}
	// The unplugged department sees none of it: its indexer (reached
	// through its socket, on this machine's file system) stays behind.
	m, err := view.Mirror(ctxFor(t, 10*time.Second), cutMSP)
	if err != nil {
		t.Fatal(err)
	}
	if m.Height >= during {
		t.Fatalf("%s's indexer is at height %d while unplugged, the others at %d", cutMSP, m.Height, during)
	}
	t.Logf("%d writes committed without %s: connected peers at height %d, its mirror at %d", len(written), cutMSP, during, m.Height)

	setLink(t, cut.Link, "up")
	plugged = true
	back := time.Now()
	// The peer redials the orderers with a doubling backoff (and TCP
	// retransmits back off too): after a cut of about half a minute it
	// catches up within seconds or within about as long again (1.8 s and
	// 36 s seen).
	eventually(t, 3*time.Minute, func() error {
		h, err := view.PeerHeight(ctxFor(t, 5*time.Second), cutMSP)
		if err != nil {
			return err
		}
		if h != during {
			return fmt.Errorf("%s's peer at height %d, the others at %d", cutMSP, h, during)
		}
		return nil
	})
	t.Logf("%s's peer caught up to height %d %.1fs after its link returned", cutMSP, during, time.Since(back).Seconds())
	ref := mirrorAt(t, others[0], during)
	got := mirrorAt(t, cutMSP, during)
	if got.Digest != ref.Digest {
		t.Fatalf("at height %d: %s's mirror %s, %s's %s", during, cutMSP, got.Digest, others[0], ref.Digest)
	}
	t.Logf("%s's mirror at height %d has %s's digest %.12s", cutMSP, during, others[0], got.Digest)

	// Plugged in again, it takes part again: a record of its own needs its
	// own peer's endorsement.
	id := uniqueID("back-" + cutMSP)
	eventually(t, 90*time.Second, func() error { return register(cutMSP, id) })
	for _, msp := range others {
		eventually(t, 30*time.Second, func() error { return readable(msp, id) })
	}
}

// register has msp's operator register a dataset with id; a dataset that
// exists already (an earlier attempt that timed out but committed) is
// registered.
func register(msp, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	body := map[string]any{
		"id": id, "title": "Register " + id, "description": "Written across hosts",
		"fields": []string{"recordId", "district"}, "shareType": "conditional", "openType": "restricted",
		"grade": 2, "updateFrequency": "daily", "derivedFrom": []string{},
	}
	status, out, err := view.Call(ctx, msp, "operator", http.MethodPost, "/v1/datasets", body)
	if err != nil {
		return fmt.Errorf("%s registers %s: %w", msp, id, err)
	}
	if status != http.StatusCreated && status != http.StatusConflict {
		return fmt.Errorf("%s registers %s: status %d: %s", msp, id, status, out)
	}
	return nil
}

// readable is nil once msp's gateway serves the dataset id.
func readable(msp, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, out, err := view.Call(ctx, msp, "operator", http.MethodGet, "/v1/datasets/"+id, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("%s reads %s: status %d: %s", msp, id, status, out)
	}
	return nil
}

// settled waits until msp's peer height has not moved for two seconds and
// returns it.
func settled(t *testing.T, msp string) uint64 {
	t.Helper()
	var last uint64
	stable := 0
	for i := 0; i < 300 && stable < 8; i++ {
		h, err := view.PeerHeight(ctxFor(t, 5*time.Second), msp)
		if err != nil {
			t.Fatal(err)
		}
		if h == last {
			stable++
		} else {
			stable, last = 0, h
		}
		time.Sleep(250 * time.Millisecond)
	}
	return last
}

// mirrorAt waits until msp's indexer has applied height blocks and returns
// its mirror's digest.
func mirrorAt(t *testing.T, msp string, height uint64) Mirror {
	t.Helper()
	var m Mirror
	eventually(t, time.Minute, func() error {
		var err error
		if m, err = view.Mirror(ctxFor(t, 10*time.Second), msp); err != nil {
			return err
		}
		if m.Height != height {
			return fmt.Errorf("%s's indexer at height %d, want %d", msp, m.Height, height)
		}
		return nil
	})
	return m
}

// setLink sets a link up or down in the root namespace.
func setLink(t *testing.T, link, state string) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", link, state).CombinedOutput(); err != nil {
		t.Fatalf("ip link set %s %s: %v\n%s", link, state, err, strings.TrimSpace(string(out)))
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", within, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func uniqueID(prefix string) string {
	return fmt.Sprintf("%s-%d", strings.ToLower(prefix), time.Now().UnixNano())
}
