//go:build integration

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freezePeer stops a department's peer with SIGSTOP, as a hung process
// would be (its connections stay open, it answers nothing), and resumes it
// with SIGCONT when the test ends, whatever happens. It returns resume, to
// resume it earlier.
func freezePeer(t *testing.T, dept string) (resume func()) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(shared.run, "pids", "peer-"+dept+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(raw))
	if len(fields) == 0 {
		t.Fatalf("empty pid file of peer-%s", dept)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 1 {
		t.Fatalf("pid file of peer-%s: %q", dept, raw)
	}
	resume = func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Errorf("resume peer-%s (pid %d): %v", dept, pid, err)
		}
	}
	t.Cleanup(resume)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop peer-%s (pid %d): %v", dept, pid, err)
	}
	return resume
}

// TestLedgerUnavailable: with Dept1's peer frozen, a write through Dept1's
// gateway answers 503 with Retry-After within the gateway's deadline and
// leaves nothing on the ledger; a ledger read is 503 too, while reads from
// the index still work. Once the peer runs again, the very same write
// succeeds, once: the refused attempt left no trace (or it would be a 409).
func TestLedgerUnavailable(t *testing.T) {
	v := newLedgerView(t)
	op := shared.as(t, "Dept1MSP", "operator")
	existing := uniqueID("frozen-known")
	op.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(existing, "conditional"))
	id := uniqueID("frozen")
	body := newDataset(id, "conditional")
	before := v.snapshot([]entityKey{dsKey(id)}, []string{ownerList("Dept1MSP")})

	// Registered before the freeze, so it runs after the resume: the tests
	// after this one need every gateway to plan Dept1's peer again.
	t.Cleanup(func() { waitEndorsable(t) })
	resume := freezePeer(t, "dept1")
	t.Run("write", func(t *testing.T) {
		start := time.Now()
		r := op.in(t).do(http.MethodPost, "/v1/datasets", body)
		took := time.Since(start)
		wantError(t, r, http.StatusServiceUnavailable, "unavailable", "ledger")
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
			t.Errorf("503 with Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
		}
		// The endorsement times out after 15 s; the whole request is bounded by 30 s.
		if took > 30*time.Second {
			t.Errorf("the 503 took %s, beyond the gateway's 30 s request deadline", took)
		}
	})
	t.Run("ledger read", func(t *testing.T) {
		r := op.in(t).do(http.MethodGet, ledgerPath(existing), nil)
		wantError(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	})
	t.Run("index read still served", func(t *testing.T) {
		op.in(t).must(http.StatusOK, http.MethodGet, "/v1/datasets/"+existing, nil)
	})
	t.Run("readyz reports the frozen peer", func(t *testing.T) {
		r := op.in(t).do(http.MethodGet, "/readyz", nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("/readyz with Dept1's peer frozen: status %d, Retry-After %q, want 503 with Retry-After: %s",
				r.status, r.header.Get("Retry-After"), r.body)
		}
	})
	resume()

	// Wait until the peer answers again, then prove the refused write left nothing.
	eventually(t, 30*time.Second, func() error {
		if r := op.do(http.MethodGet, ledgerPath(existing), nil); r.status != http.StatusOK {
			return fmt.Errorf("ledger read after resume: %d %s", r.status, r.body)
		}
		return nil
	})
	v.unchanged(before)

	// A 503 promises that nothing changed, so the client retries the very
	// same write, as Retry-After invites it to. Until gossip has the resumed
	// peer back in every department's view, the Gateway may still find no
	// set of endorsers; once it does, the write commits (201, not 409: the
	// refused attempt left nothing behind).
	var w datasetWrite
	eventually(t, 60*time.Second, func() error {
		r := op.do(http.MethodPost, "/v1/datasets", body)
		switch {
		case r.status == http.StatusCreated:
			r.json(t, &w)
			return nil
		case r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "":
			return fmt.Errorf("still 503 after resume: %s", r.body)
		}
		t.Fatalf("write after resume: status %d, want 201 (or 503 while gossip recovers): %s", r.status, r.body)
		return nil
	})
	if w.Dataset.ID != id || w.Dataset.Version != 1 {
		t.Fatalf("the write after resume = %+v", w.Dataset)
	}
}
