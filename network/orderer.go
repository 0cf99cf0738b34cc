package network

import (
	"context"
	"fmt"
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
