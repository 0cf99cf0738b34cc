package network

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ordererEnv configures one orderer through ORDERER_* overrides of the
// sample orderer.yaml: channel participation without a system channel, TLS
// on the client, cluster and admin listeners, state under the run folder.
func (n *Net) ordererEnv(o Orderer, cfgPath string) []string {
	dir := n.ordererDir(o)
	tlsDir := filepath.Join(dir, "tls")
	data := n.path("data", o.Name)
	ca := filepath.Join(tlsDir, "ca.crt")
	return []string{
		"FABRIC_CFG_PATH=" + cfgPath,
		"FABRIC_LOGGING_SPEC=INFO",
		"ORDERER_GENERAL_LISTENADDRESS=" + o.Host,
		fmt.Sprintf("ORDERER_GENERAL_LISTENPORT=%d", o.Port),
		"ORDERER_GENERAL_LOCALMSPID=" + n.topo.Ordering.MSPID,
		"ORDERER_GENERAL_LOCALMSPDIR=" + filepath.Join(dir, "msp"),
		"ORDERER_GENERAL_TLS_ENABLED=true",
		"ORDERER_GENERAL_TLS_PRIVATEKEY=" + filepath.Join(tlsDir, "server.key"),
		"ORDERER_GENERAL_TLS_CERTIFICATE=" + filepath.Join(tlsDir, "server.crt"),
		"ORDERER_GENERAL_TLS_ROOTCAS=[" + ca + "]",
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=" + filepath.Join(tlsDir, "server.crt"),
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=" + filepath.Join(tlsDir, "server.key"),
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=[" + ca + "]",
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none",
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true",
		fmt.Sprintf("ORDERER_ADMIN_LISTENADDRESS=%s", o.Addr(o.AdminPort)),
		"ORDERER_ADMIN_TLS_ENABLED=true",
		"ORDERER_ADMIN_TLS_CERTIFICATE=" + filepath.Join(tlsDir, "server.crt"),
		"ORDERER_ADMIN_TLS_PRIVATEKEY=" + filepath.Join(tlsDir, "server.key"),
		"ORDERER_ADMIN_TLS_ROOTCAS=[" + ca + "]",
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=[" + ca + "]",
		fmt.Sprintf("ORDERER_OPERATIONS_LISTENADDRESS=%s", o.Addr(o.OpsPort)),
		"ORDERER_METRICS_PROVIDER=prometheus",
		"ORDERER_FILELEDGER_LOCATION=" + filepath.Join(data, "ledger"),
		"ORDERER_CONSENSUS_WALDIR=" + filepath.Join(data, "etcdraft", "wal"),
		"ORDERER_CONSENSUS_SNAPDIR=" + filepath.Join(data, "etcdraft", "snapshot"),
	}
}

// ordererConfig returns the folder holding orderer.yaml: the sample one for
// Raft; for BFT a copy with Consensus.Type set, since an environment variable
// can only override a key the file already has.
func (n *Net) ordererConfig() (string, error) {
	if n.topo.Ordering.Consensus != "BFT" {
		return n.opts.FabricCfg, nil
	}
	raw, err := os.ReadFile(filepath.Join(n.opts.FabricCfg, "orderer.yaml"))
	if err != nil {
		return "", err
	}
	s := strings.Replace(string(raw), "\nConsensus:\n", "\nConsensus:\n    Type: BFT\n", 1)
	dir := n.path("config", "orderer")
	if err := writeFileAtomic(filepath.Join(dir, "orderer.yaml"), []byte(s), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// startOrderers starts every orderer and joins each to the channel.
func (n *Net) startOrderers(ctx context.Context, block string) error {
	cfg, err := n.ordererConfig()
	if err != nil {
		return err
	}
	nodes := n.topo.Ordering.Nodes
	procs := make([]*Proc, len(nodes))
	for i, o := range nodes {
		p, err := n.procs.start(procSpec{Name: o.Name, Bin: n.bin("orderer"), Order: 1, Env: n.ordererEnv(o, cfg), Dir: n.opts.Run,
			Ready: "tcp:" + o.Addr(o.Port)})
		if err != nil {
			return err
		}
		procs[i] = p
	}
	return parallel(len(nodes), func(i int) error {
		o := nodes[i]
		wctx, cancel := withTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := waitTCP(wctx, procs[i], o.Addr(o.AdminPort)); err != nil {
			return err
		}
		tlsDir := filepath.Join(n.ordererDir(o), "tls")
		_, err := n.procs.runCmd(ctx, "osnadmin", os.Environ(), n.bin("osnadmin"), "channel", "join",
			"--channelID", n.topo.Channel, "--config-block", block, "-o", o.Addr(o.AdminPort),
			"--ca-file", filepath.Join(tlsDir, "ca.crt"),
			"--client-cert", filepath.Join(tlsDir, "server.crt"),
			"--client-key", filepath.Join(tlsDir, "server.key"))
		if err != nil {
			return logErr(procs[i], fmt.Errorf("join %s to %s: %w", o.Name, n.topo.Channel, err))
		}
		return nil
	})
}

// UpOrderer starts one orderer from its bundle (see OrdererBundle), the
// Net's run folder being the bundle. On the ledger the bundle carries it
// rejoins its cluster where it left off; without one it joins the channel
// with the genesis block and catches up from the other orderers. It does
// not wait for a Raft leader: the cluster elects one once a majority of its
// orderers runs, each started from its own bundle on its own host. The
// process is recorded in the bundle's pids/, so that Stop and Start work on
// the bundle as on a run folder.
func (n *Net) UpOrderer(ctx context.Context) error {
	n.start = time.Now()
	m, err := n.ownBundle()
	if err != nil {
		return err
	}
	if m.Orderer == "" {
		return fmt.Errorf("%s is the bundle of department %s: start it with up-department", n.opts.Run, m.Department)
	}
	o, ok := n.orderer(m.Orderer)
	if !ok {
		return fmt.Errorf("the bundle's orderer %s is not in the topology %s", m.Orderer, n.opts.Topology)
	}
	recs, err := recorded(n.opts.Run)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Alive && r.Name == o.Name {
			n.stepf("%s already up from this bundle", o.Name)
			return nil
		}
	}
	for _, port := range []int{o.Port, o.AdminPort, o.OpsPort} {
		if !portFree(o.Addr(port)) {
			return fmt.Errorf("%s is in use: does %s still run elsewhere on this host (its run folder)? Stop it first", o.Addr(port), o.Name)
		}
	}
	for _, b := range []string{"orderer", "osnadmin"} {
		if _, err := os.Stat(n.bin(b)); err != nil {
			return fmt.Errorf("missing binary %s: %w", n.bin(b), err)
		}
	}
	if err := os.Chmod(n.opts.Run, 0o700); err != nil {
		return err
	}
	cfg, err := n.ordererConfig()
	if err != nil {
		return err
	}
	var p *Proc
	steps := []struct {
		name string
		f    func() error
	}{
		{o.Name + " listening", func() (err error) {
			p, err = n.procs.start(procSpec{Name: o.Name, Bin: n.bin("orderer"), Order: 1, Env: n.ordererEnv(o, cfg), Dir: n.opts.Run,
				Ready: "tcp:" + o.Addr(o.Port)})
			if err != nil {
				return err
			}
			wctx, cancel := withTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := waitTCP(wctx, p, o.Addr(o.Port)); err != nil {
				return err
			}
			return waitTCP(wctx, p, o.Addr(o.AdminPort))
		}},
		{"channel " + n.topo.Channel + " on " + o.Name, func() error { return n.ensureJoined(ctx, o, p) }},
	}
	for _, s := range steps {
		if err := n.step(s.name, s.f); err != nil {
			n.explain(err)
			return err
		}
	}
	n.stepf("%s up from its bundle in %.1fs: %s", o.Name, time.Since(n.start).Seconds(), o.Addr(o.Port))
	return nil
}

// ensureJoined asks the orderer's admin listener whether it has the
// channel (it has, on its own ledger) and joins it with the genesis block
// if not.
func (n *Net) ensureJoined(ctx context.Context, o Orderer, p *Proc) error {
	tlsDir := filepath.Join(n.ordererDir(o), "tls")
	cert, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "server.crt"), filepath.Join(tlsDir, "server.key"))
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	defer hc.CloseIdleConnections()
	url := "https://" + o.Addr(o.AdminPort) + "/participation/v1/channels/" + n.topo.Channel
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return logErr(p, fmt.Errorf("ask %s for its channels: %w", o.Name, err))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		var info struct {
			Status string `json:"status"`
			Height uint64 `json:"height"`
		}
		_ = json.Unmarshal(body, &info)
		n.stepf("%s has %s on its ledger: %s, height %d", o.Name, n.topo.Channel, info.Status, info.Height)
		return nil
	case http.StatusNotFound:
		n.stepf("%s has no ledger of %s: joining with the genesis block", o.Name, n.topo.Channel)
		_, err := n.procs.runCmd(ctx, "osnadmin", os.Environ(), n.bin("osnadmin"), "channel", "join",
			"--channelID", n.topo.Channel, "--config-block", n.path("channel", n.topo.Channel+".block"), "-o", o.Addr(o.AdminPort),
			"--ca-file", filepath.Join(tlsDir, "ca.crt"),
			"--client-cert", filepath.Join(tlsDir, "server.crt"),
			"--client-key", filepath.Join(tlsDir, "server.key"))
		if err != nil {
			return logErr(p, fmt.Errorf("join %s to %s: %w", o.Name, n.topo.Channel, err))
		}
		return nil
	}
	return logErr(p, fmt.Errorf("%s answers %d for its channel %s: %s", o.Name, resp.StatusCode, n.topo.Channel, strings.TrimSpace(string(body))))
}
