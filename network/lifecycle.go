package network

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Stop stops the named processes (every process when none is named),
// keeping the consortium's state so that Start can bring them back.
func (n *Net) Stop(names ...string) error {
	if err := n.known(names); err != nil {
		return err
	}
	if len(names) == 0 {
		// Clients before servers, so nothing logs a storm of lost connections.
		specs, err := n.specs()
		if err != nil {
			return err
		}
		for order := 5; order >= 0; order-- {
			var batch []string
			for _, s := range specs {
				if s.Order == order {
					batch = append(batch, s.Name)
				}
			}
			if len(batch) == 0 {
				continue
			}
			if _, err := stopRecorded(n.opts.Run, 10*time.Second, batch...); err != nil {
				return err
			}
		}
		_ = os.Remove(n.path("up.json"))
		return writeJSON(n.path("stopped.json"), map[string]time.Time{"stoppedAt": time.Now().UTC()}, 0o644)
	}
	_, err := stopRecorded(n.opts.Run, 10*time.Second, names...)
	return err
}

// Kill sends SIGKILL to the named processes: a crash, for fault tests.
func (n *Net) Kill(names ...string) error {
	if len(names) == 0 {
		return errors.New("name the processes to kill")
	}
	if err := n.known(names); err != nil {
		return err
	}
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return err
	}
	for _, r := range recs {
		for _, name := range names {
			if r.Name == name && r.Alive {
				signalGroup(r.PID, syscall.SIGKILL)
				for i := 0; i < 200 && isOurs(r.PID, r.Bin); i++ {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
	}
	return nil
}

// Start starts the named processes (every recorded process that is not
// running when none is named) from their recorded specs, in dependency
// order, and waits until each is ready.
func (n *Net) Start(ctx context.Context, names ...string) error {
	n.start = time.Now()
	if err := n.known(names); err != nil {
		return err
	}
	specs, err := n.specs()
	if err != nil {
		return err
	}
	if len(specs) == 0 {
		return errors.New("nothing to start: bring the consortium up first")
	}
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return err
	}
	running := map[string]bool{}
	for _, r := range recs {
		running[r.Name] = r.Alive
	}
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	all := len(names) == 0
	for order := 0; order <= 5; order++ {
		var batch []procSpec
		for _, s := range specs {
			if s.Order == order && !running[s.Name] && (all || want[s.Name]) {
				batch = append(batch, s)
			}
		}
		if len(batch) == 0 {
			continue
		}
		err := parallel(len(batch), func(i int) error {
			p, err := n.procs.start(batch[i])
			if err != nil {
				return err
			}
			wctx, cancel := withTimeout(ctx, 60*time.Second)
			defer cancel()
			if strings.HasPrefix(batch[i].Ready, "tcp:") {
				return waitTCP(wctx, p, strings.TrimPrefix(batch[i].Ready, "tcp:"))
			}
			var conf *tls.Config
			if strings.HasPrefix(batch[i].Ready, "https://") { // a gateway
				if conf, err = n.gatewayTLS(); err != nil {
					return err
				}
			}
			return waitHTTP(wctx, p, batch[i].Ready, conf)
		})
		if err != nil {
			n.explain(err)
			return err
		}
		for _, s := range batch {
			n.stepf("started %s", s.Name)
		}
		if order == 1 && all {
			if err := n.waitLeader(ctx); err != nil {
				return err
			}
		}
		if order == 2 {
			// Restarted peers must find the others again before the
			// Gateway can plan endorsements across departments.
			if err := n.waitGossip(ctx); err != nil {
				return err
			}
		}
	}
	if all {
		_ = os.Remove(n.path("stopped.json"))
		rec := upRecord{Topology: n.opts.Topology, StartedAt: n.start.UTC(), Seconds: time.Since(n.start).Seconds()}
		if err := writeJSON(n.path("up.json"), rec, 0o644); err != nil {
			return err
		}
	}
	n.stepf("started in %.1fs", time.Since(n.start).Seconds())
	return nil
}

// specs lists the recorded process specs, by start order then name.
func (n *Net) specs() ([]procSpec, error) {
	files, err := filepath.Glob(n.path("pids", "*.spec.json"))
	if err != nil {
		return nil, err
	}
	var out []procSpec
	for _, f := range files {
		s, err := readSpec(n.opts.Run, strings.TrimSuffix(filepath.Base(f), ".spec.json"))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// known refuses names that are not recorded processes.
func (n *Net) known(names []string) error {
	for _, name := range names {
		if _, err := readSpec(n.opts.Run, name); err != nil {
			return fmt.Errorf("no process named %q in %s", name, n.opts.Run)
		}
	}
	return nil
}
