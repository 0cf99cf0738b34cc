package network

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// UpDepartment starts one department from its bundle, the Net's run folder
// being the bundle (see Bundle, written with its peer's ledger): its CA, its
// peer (it catches up from the ordering service), its chaincode package
// installed if it is not, and its chaincode server, indexer and gateway.
// The rest of the consortium (orderers, other departments) must be running
// where the topology says. Every process is recorded in the bundle's pids/,
// so Stop and Start work on the bundle as on a run folder.
func (n *Net) UpDepartment(ctx context.Context) error {
	n.start = time.Now()
	m, err := n.ownBundle()
	if err != nil {
		return err
	}
	if m.Orderer != "" {
		return fmt.Errorf("%s is the bundle of %s: start it with up-orderer", n.opts.Run, m.Orderer)
	}
	d, ok := n.department(m.Department)
	if !ok {
		return fmt.Errorf("the bundle's department %s is not in the topology %s", m.Department, n.opts.Topology)
	}
	// The department's approval of the chaincode definition (which package
	// serves it) is private data of its implicit collection, held by its own
	// peer alone: a peer joined afresh from the genesis block cannot fetch
	// it and so cannot run the chaincode. Its ledger must come along.
	if _, err := os.Stat(n.path("data", "peer-"+d.Slug(), "ledgersData")); err != nil {
		return fmt.Errorf("the bundle carries no ledger of %s's peer: stop the department (consortium stop %s) and write its bundle with -with-ledger: %w",
			d.MSPID, strings.Join(departmentProcs(d), " "), err)
	}
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return err
	}
	alive := 0
	for _, r := range recs {
		if r.Alive {
			alive++
		}
	}
	if alive > 0 {
		if alive == len(departmentProcs(d)) {
			n.stepf("%s already up from this bundle", d.MSPID)
			return nil
		}
		return fmt.Errorf("%d of the bundle's processes run: `consortium -run %s stop` first", alive, n.opts.Run)
	}
	for _, port := range d.listenPorts() {
		if !portFree(d.Addr(port)) {
			return fmt.Errorf("%s is in use: does %s still run elsewhere on this host (its run folder)? Stop it first", d.Addr(port), d.MSPID)
		}
	}
	for _, b := range []string{"peer", "fabric-ca-server", "govshare-validation.so", "ledgercc", "gateway", "indexer"} {
		if _, err := os.Stat(n.bin(b)); err != nil {
			return fmt.Errorf("missing binary %s: %w", n.bin(b), err)
		}
	}
	if err := os.Chmod(n.opts.Run, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(n.path("sock"), 0o700); err != nil {
		return err
	}
	slug := d.Slug()
	steps := []struct {
		name string
		f    func() error
	}{
		{"CA of " + d.MSPID, func() error { return n.startBundleCA(ctx, d) }},
		{"peer of " + d.MSPID + " on its ledger", func() error { return n.startBundlePeer(ctx, d) }},
		{"chaincode installed and its server running", func() error {
			pkg := filepath.Join(n.opts.Run, filepath.FromSlash(m.Chaincode.Package))
			if _, err := n.procs.runCmd(ctx, "peer-cli-"+slug, n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "install", pkg); err != nil {
				// Installed by an earlier run: fine.
				out, qerr := n.procs.runCmd(ctx, "peer-cli-"+slug, n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "queryinstalled", "-O", "json")
				if qerr != nil || !strings.Contains(string(out), `"`+m.Chaincode.PackageID+`"`) {
					return fmt.Errorf("install on %s: %w", d.MSPID, err)
				}
			}
			p, err := n.procs.start(procSpec{Name: "chaincode-" + slug, Bin: n.bin("ledgercc"), Order: 3, Dir: n.opts.Run,
				Env:   []string{"CHAINCODE_ID=" + m.Chaincode.PackageID, "CHAINCODE_SERVER_ADDRESS=" + m.Chaincode.Address},
				Ready: "tcp:" + m.Chaincode.Address})
			if err != nil {
				return err
			}
			wctx, cancel := withTimeout(ctx, 20*time.Second)
			defer cancel()
			return waitTCP(wctx, p, m.Chaincode.Address)
		}},
		{"peer knows the other departments' peers", func() error { return n.waitOwnGossip(ctx, d) }},
		{"indexer and gateway ready", func() error {
			ix, err := n.procs.start(procSpec{Name: "indexer-" + slug, Bin: n.bin("indexer"), Order: 4, Dir: n.opts.Run,
				Args: []string{"-config", n.path("config", "indexer-"+slug+".json")}, Ready: n.indexerAddr(d)})
			if err != nil {
				return err
			}
			wctx, cancel := withTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := waitHTTP(wctx, ix, n.indexerAddr(d), nil); err != nil {
				return err
			}
			gwReady := n.topo.GatewayURL(d) + "/readyz"
			gw, err := n.procs.start(procSpec{Name: "gateway-" + slug, Bin: n.bin("gateway"), Order: 5, Dir: n.opts.Run,
				Args: []string{"-config", n.path("config", "gateway-"+slug+".json")}, Ready: gwReady})
			if err != nil {
				return err
			}
			conf, err := n.gatewayTLS()
			if err != nil {
				return err
			}
			return waitHTTP(wctx, gw, gwReady, conf)
		}},
	}
	for _, s := range steps {
		if err := n.step(s.name, s.f); err != nil {
			n.explain(err)
			return err
		}
	}
	n.stepf("%s up from its bundle in %.1fs: gateway %s", d.MSPID, time.Since(n.start).Seconds(), n.topo.GatewayURL(d))
	return nil
}

// ownBundle reads the manifest of the bundle that is the Net's run folder,
// refusing one whose configuration names another folder.
func (n *Net) ownBundle() (*BundleManifest, error) {
	m, err := ReadBundleManifest(n.opts.Run)
	if err != nil {
		return nil, fmt.Errorf("%s is not a bundle: %w", n.opts.Run, err)
	}
	if m.Root != n.opts.Run {
		return nil, fmt.Errorf("the bundle's configuration names %s: run `consortium relocate-bundle %s` first", m.Root, n.opts.Run)
	}
	return m, nil
}

// startBundleCA starts the department's CA server on the home the bundle
// carries; the registrar is in its database already, so its configuration
// names no bootstrap identity.
func (n *Net) startBundleCA(ctx context.Context, d Department) error {
	home := n.orgDir(d.Slug(), "ca", "server")
	name := "ca-" + d.Slug()
	addr := d.Addr(d.CAPort)
	p, err := n.procs.start(procSpec{Name: name, Bin: n.bin("fabric-ca-server"), Order: 0, Ready: "tcp:" + addr, Dir: home, Args: []string{
		"start",
		"--home", home,
		"--port", fmt.Sprint(d.CAPort),
		"--address", d.Host,
		"--ca.name", name,
		"--csr.cn", name,
		"--csr.hosts", "localhost,127.0.0.1," + d.Host,
		"--tls.enabled",
		"--operations.listenaddress", d.Addr(d.CAOpsPort),
		"--metrics.provider", "prometheus",
	}})
	if err != nil {
		return err
	}
	root, err := os.ReadFile(filepath.Join(home, "ca-cert.pem"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(root)
	wctx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	return waitHTTP(wctx, p, "https://"+addr+"/cainfo", &tls.Config{RootCAs: pool})
}

// startBundlePeer starts the department's peer on the ledger the bundle
// carries.
func (n *Net) startBundlePeer(ctx context.Context, d Department) error {
	if err := n.writePeerConfig(); err != nil {
		return err
	}
	_, err := n.startPeerNode(ctx, "peer-"+d.Slug(), n.peerEnv(d), d.Addr(d.PeerPort))
	return err
}

// startPeerNode starts a peer process and waits (30 s at most) until it
// listens at addr.
func (n *Net) startPeerNode(ctx context.Context, name string, env []string, addr string) (*Proc, error) {
	p, err := n.procs.start(procSpec{Name: name, Bin: n.bin("peer"), Args: []string{"node", "start"}, Order: 2,
		Env: env, Dir: n.opts.Run, Ready: "tcp:" + addr})
	if err != nil {
		return nil, err
	}
	wctx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	return p, waitTCP(wctx, p, addr)
}

// waitOwnGossip waits until the department's own peer knows every other
// department's peer (the only peer whose metrics this host can count on
// reaching).
func (n *Net) waitOwnGossip(ctx context.Context, d Department) error {
	return n.waitPeersKnown(ctx, "peer of "+d.MSPID, d.Addr(d.PeerOpsPort), len(n.topo.Departments)-1)
}

// waitPeersKnown waits (90 s at most) until the peer whose operations
// endpoint is at opsAddr knows at least want other peers of the channel.
func (n *Net) waitPeersKnown(ctx context.Context, who, opsAddr string, want int) error {
	wctx, cancel := withTimeout(ctx, 90*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/metrics", opsAddr)
	for {
		v, err := metric(wctx, url, "gossip_membership_total_peers_known", `channel="`+n.topo.Channel+`"`)
		if err == nil && v >= float64(want) {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%s knows %v of %v other peers: %w", who, v, want, wctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// departmentProcs names a department's processes, as `up` records them.
func departmentProcs(d Department) []string {
	s := d.Slug()
	return []string{"gateway-" + s, "indexer-" + s, "chaincode-" + s, "peer-" + s, "ca-" + s}
}
