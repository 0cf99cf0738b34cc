//go:build faults

package faults

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestRenewUnderLoad renews every node's and person's certificate
// (`consortium renew` with a window longer than their life) while two
// departments keep writing: every certificate is re-issued with a later
// expiry, every process that loads one is restarted one at a time, no
// acknowledged write is lost (on every peer and in every mirror), and
// afterwards every department writes again, signed with its new
// certificates.
func TestRenewUnderLoad(t *testing.T) {
	faultTest(t)
	v := newLedgerView(t)
	net := openNet(t)
	before, err := net.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	prev := map[string]time.Time{}
	for _, c := range before {
		prev[c.Path] = c.NotAfter
	}
	// Certificates are issued to the minute: let the clock pass one so
	// that the renewed ones expire later.
	time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))

	l := startLoad(uniqueID("renew"), 4*time.Minute, shared.as(t, "Dept1MSP", "operator"), shared.as(t, "Dept2MSP", "operator"))
	t.Cleanup(func() { l.finish() })
	start := time.Now()
	control(t, 4*time.Minute, "renew", "-within", "9000h")
	took := time.Since(start)
	time.Sleep(time.Second)
	outs := l.finish()
	t.Logf("renewed in %s; load: %d writes (%s)", took.Round(time.Millisecond), len(outs), tally(outs))

	after, err := net.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("%d certificates after the renewal, %d before", len(after), len(before))
	}
	for _, c := range after {
		if !c.NotAfter.After(prev[c.Path]) {
			t.Errorf("%s/%s (%s) still expires %s", c.Org, c.Identity, c.Use, c.NotAfter)
		}
	}
	if err := allReady(context.Background(), 90*time.Second); err != nil {
		t.Fatalf("after the renewal: %v", err)
	}
	checkLoad(t, v, outs, http.StatusServiceUnavailable)
	for _, d := range shared.eps.Departments {
		shared.as(t, d.MSPID, "operator").write(t, http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("renewed-"+d.MSPID), "unconditional"))
	}
	v.converged(t)
}
