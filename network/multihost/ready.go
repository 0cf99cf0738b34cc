package multihost

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/govshare/ledger/network"
)

// WaitReady waits, within ctx, until the laid-out consortium commits
// through every department's gateway: a Raft leader among the orderers
// (a BFT service has none to wait for), every gateway ready, then each
// department's admin sets its profile again through its own gateway (its
// own peer and a majority of the others endorse), retried while gossip
// brings the hosts' peers together. Progress goes to out.
func WaitReady(ctx context.Context, v *View, out io.Writer) error {
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	if v.Topology.Ordering.Consensus == "etcdraft" {
		leader := ""
		if err := poll(ctx, func() error {
			if leader = v.Leader(ctx); leader == "" {
				return fmt.Errorf("no Raft leader among the orderers")
			}
			return nil
		}); err != nil {
			return err
		}
		say("Raft leader: %s", leader)
	}
	for _, d := range v.Topology.Departments {
		if err := poll(ctx, func() error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.Topology.GatewayURL(d)+"/readyz", nil)
			hc, err := network.GatewayClient(v.Dir, 0)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("gateway of %s: readyz %d", d.MSPID, resp.StatusCode)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	say("%d gateways ready", len(v.Topology.Departments))
	for _, d := range v.Topology.Departments {
		body := map[string]string{"name": d.Name, "code": d.Code, "level": string(d.Level)}
		if err := poll(ctx, func() error {
			status, raw, err := v.Call(ctx, d.MSPID, "admin", http.MethodPut, "/v1/departments/me", body)
			if err != nil {
				return err
			}
			if status != http.StatusOK && status != http.StatusCreated {
				return fmt.Errorf("%s sets its profile: status %d: %s", d.MSPID, status, raw)
			}
			return nil
		}); err != nil {
			return err
		}
		say("%s commits through its gateway on %s", d.MSPID, d.Host)
	}
	return nil
}

// poll calls f every half second until it returns nil or ctx ends, and
// then returns f's last error.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
