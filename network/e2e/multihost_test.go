//go:build integration

package e2e

import (
	"errors"
	"os"
	"testing"

	"github.com/govshare/ledger/network/multihost"
)

// multiHost is the layout of a multi-host run (scripts/multihost.sh: each
// node on its own namespace's host, started from its own bundle, the run
// folder a view that links into each host), nil for one host's run folder.
func multiHost(t *testing.T) *multihost.Layout {
	t.Helper()
	l, err := multihost.ReadLayout(shared.run)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// skipOnMultiHost skips a test that needs the one run folder of a
// consortium on one host, saying why.
func skipOnMultiHost(t *testing.T, why string) {
	t.Helper()
	if multiHost(t) != nil {
		t.Skip("multi-host run: " + why)
	}
}
