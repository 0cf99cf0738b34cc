package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ChaincodeRecord is what the run folder knows of the chaincode definition
// in force on the channel and of each department's chaincode server. The
// first deployment writes it (chaincode/current.json) and every upgrade
// rewrites it once the new definition is committed; bundles read it.
type ChaincodeRecord struct {
	Name     string                     `json:"name"`
	Version  string                     `json:"version"`
	Sequence int64                      `json:"sequence"`
	Servers  map[string]ChaincodeServer `json:"servers"` // by MSP ID
}

// ChaincodeServer is one department's chaincode-as-a-service package and
// the server that answers for it.
type ChaincodeServer struct {
	PackageID string `json:"packageId"`
	Address   string `json:"address"` // where the peer dials the server (the package's connection.json)
	Package   string `json:"package"` // the package file
}

func (n *Net) chaincodeRecordPath() string { return n.path("chaincode", "current.json") }

// ChaincodeRecord reads the record of the chaincode in force. A run folder
// made before the record existed gets the first deployment's, derived from
// the topology as that deployment did.
func (n *Net) ChaincodeRecord() (*ChaincodeRecord, error) {
	raw, err := os.ReadFile(n.chaincodeRecordPath())
	if errors.Is(err, os.ErrNotExist) {
		cc := n.topo.Chaincode
		r := &ChaincodeRecord{Name: cc.Name, Version: cc.Version, Sequence: 1, Servers: map[string]ChaincodeServer{}}
		for _, d := range n.topo.Departments {
			file := n.path("chaincode", d.Slug()+".tar.gz")
			pkg, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("chaincode package of %s: %w", d.MSPID, err)
			}
			r.Servers[d.MSPID] = ChaincodeServer{PackageID: packageID(cc.Name+"_"+cc.Version, pkg), Address: d.Addr(d.ChaincodePort), Package: file}
		}
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	var r ChaincodeRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", n.chaincodeRecordPath(), err)
	}
	return &r, nil
}

func (n *Net) writeChaincodeRecord(r *ChaincodeRecord) error {
	return writeJSON(n.chaincodeRecordPath(), r, 0o644)
}

// committedDefinition is what `peer lifecycle chaincode querycommitted`
// says of the chaincode on the channel, as one department's peer holds it.
type committedDefinition struct {
	Sequence         int64           `json:"sequence"`
	Version          string          `json:"version"`
	ValidationPlugin string          `json:"validation_plugin"`
	Approvals        map[string]bool `json:"approvals"`
}

func (n *Net) queryCommitted(ctx context.Context, d Department) (*committedDefinition, error) {
	out, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "querycommitted",
		"--channelID", n.topo.Channel, "--name", n.topo.Chaincode.Name, "-O", "json")
	if err != nil {
		return nil, fmt.Errorf("query the committed definition on %s: %w", d.MSPID, err)
	}
	var def committedDefinition
	if err := json.Unmarshal(out, &def); err != nil {
		return nil, fmt.Errorf("querycommitted on %s: %w (%s)", d.MSPID, err, strings.TrimSpace(string(out)))
	}
	return &def, nil
}

// UpgradeOptions says what upgrade to make.
type UpgradeOptions struct {
	// Version labels the new definition and its packages; the default is
	// the new sequence number. It must differ from the version in force.
	Version string
	// Grace is how long the old chaincode servers keep running after every
	// peer has committed the new definition, so that endorsements begun
	// before finish (default 2s).
	Grace time.Duration
}

// Upgrade is a completed chaincode upgrade.
type Upgrade struct {
	From, To *ChaincodeRecord
	Took     time.Duration
}

// UpgradeChaincode moves the channel to the next chaincode definition
// without stopping the service:
//
//  1. each department builds a new package (label <name>_<version>) whose
//     server listens on its other chaincode port, installs it on its peer,
//     starts that server beside the running one, and approves the next
//     sequence for its organization with its own admin;
//  2. once the approvals satisfy the channel's lifecycle endorsement policy
//     (checkcommitreadiness), the definition is committed;
//  3. when every peer reports the new sequence, and after a grace period
//     for endorsements begun on the old servers, the old servers stop and
//     the new ones take their process names.
//
// Transactions endorsed under the old definition and ordered after the
// new one are invalidated (they read the definition's sequence) and the
// gateways endorse them again (fabric.retryReason), so writes carry on.
func (n *Net) UpgradeChaincode(ctx context.Context, opt UpgradeOptions) (*Upgrade, error) {
	n.start = time.Now()
	start := n.start
	if opt.Grace == 0 {
		opt.Grace = 2 * time.Second
	}
	deps := n.topo.Departments
	cur, err := n.ChaincodeRecord()
	if err != nil {
		return nil, err
	}
	def, err := n.queryCommitted(ctx, deps[0])
	if err != nil {
		return nil, err
	}
	if def.Sequence != cur.Sequence {
		return nil, fmt.Errorf("the channel's definition of %s is at sequence %d, the run folder's record at %d: an upgrade was made elsewhere or did not finish; its record is %s",
			cur.Name, def.Sequence, cur.Sequence, n.chaincodeRecordPath())
	}
	next := def.Sequence + 1
	version := opt.Version
	if version == "" {
		version = strconv.FormatInt(next, 10)
	}
	if version == def.Version {
		return nil, fmt.Errorf("version %q is the one in force: give the new definition another", version)
	}
	label := cur.Name + "_" + version
	to := &ChaincodeRecord{Name: cur.Name, Version: version, Sequence: next, Servers: map[string]ChaincodeServer{}}
	seq := strconv.FormatInt(next, 10)

	n.stepf("upgrade %s from version %s (sequence %d) to version %s (sequence %d)", cur.Name, def.Version, def.Sequence, version, next)
	servers := make([]ChaincodeServer, len(deps))
	err = n.step("each department: new package installed, its server started beside the old one, the definition approved", func() error {
		return parallel(len(deps), func(i int) error {
			d := deps[i]
			s, err := n.prepareUpgrade(ctx, d, cur.Servers[d.MSPID], label)
			if err != nil {
				return err
			}
			servers[i] = s
			return n.approve(ctx, d, n.topo.Ordering.Nodes[i%len(n.topo.Ordering.Nodes)], cur.Name, version, next, s.PackageID)
		})
	})
	if err != nil {
		return nil, err
	}
	for i, d := range deps {
		to.Servers[d.MSPID] = servers[i]
	}
	common := []string{"--channelID", n.topo.Channel, "--name", cur.Name, "--version", version, "--sequence", seq, "--validation-plugin", ValidationPlugin}
	err = n.step("approvals enough to commit", func() error {
		out, err := n.procs.runCmd(ctx, "peer-cli-"+deps[0].Slug(), n.adminEnv(deps[0]), n.bin("peer"),
			append([]string{"lifecycle", "chaincode", "checkcommitreadiness", "-O", "json"}, common...)...)
		if err != nil {
			return err
		}
		var ready struct {
			Approvals map[string]bool `json:"approvals"`
		}
		if err := json.Unmarshal(out, &ready); err != nil {
			return fmt.Errorf("checkcommitreadiness: %w (%s)", err, strings.TrimSpace(string(out)))
		}
		var missing []string
		for _, d := range deps {
			if !ready.Approvals[d.MSPID] {
				missing = append(missing, d.MSPID)
			}
		}
		// The channel's LifecycleEndorsement policy is a majority of the
		// departments' Endorsement policies (configtx.go).
		if approved := len(deps) - len(missing); 2*approved <= len(deps) {
			return fmt.Errorf("%d of %d departments approved; %s still must", approved, len(deps), strings.Join(missing, ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = n.step("definition committed", func() error {
		o := n.topo.Ordering.Nodes[0]
		args := append([]string{"lifecycle", "chaincode", "commit", "-o", o.Addr(o.Port), "--tls", "--cafile", n.ordererCA()}, common...)
		for _, d := range deps {
			args = append(args, "--peerAddresses", d.Addr(d.PeerPort), "--tlsRootCertFiles", filepath.Join(n.peerDir(d), "tls", "ca.crt"))
		}
		_, err := n.procs.runCmd(ctx, "peer-cli-"+deps[0].Slug(), n.adminEnv(deps[0]), n.bin("peer"), args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = n.step(fmt.Sprintf("every peer at sequence %d", next), func() error {
		wctx, cancel := withTimeout(ctx, time.Minute)
		defer cancel()
		return parallel(len(deps), func(i int) error {
			for {
				def, err := n.queryCommitted(wctx, deps[i])
				if err == nil && def.Sequence == next {
					return nil
				}
				select {
				case <-wctx.Done():
					return fmt.Errorf("%s did not reach sequence %d: %v", deps[i].MSPID, next, err)
				case <-time.After(200 * time.Millisecond):
				}
			}
		})
	})
	if err != nil {
		return nil, err
	}
	// The record changes now: the new definition is in force whatever
	// happens to the old servers.
	if err := n.writeChaincodeRecord(to); err != nil {
		return nil, err
	}
	err = n.step("old chaincode servers stopped, the new ones in their place", func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opt.Grace):
		}
		for _, d := range deps {
			if err := n.promoteNextChaincode(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Upgrade{From: cur, To: to, Took: time.Since(start)}, nil
}

// nextChaincodeProc names the process of a department's new chaincode
// server while the old one still runs.
func nextChaincodeProc(d Department) string { return "chaincode-" + d.Slug() + "-next" }

// prepareUpgrade builds, installs and starts department d's server of the
// package labelled label, on the chaincode port that old does not use.
func (n *Net) prepareUpgrade(ctx context.Context, d Department, old ChaincodeServer, label string) (ChaincodeServer, error) {
	addr := d.Addr(d.ChaincodeNextPort)
	if old.Address == addr {
		addr = d.Addr(d.ChaincodePort)
	}
	pkg, err := ccaasPackage(label, addr)
	if err != nil {
		return ChaincodeServer{}, err
	}
	s := ChaincodeServer{PackageID: packageID(label, pkg), Address: addr, Package: n.path("chaincode", d.Slug()+"-"+label+".tar.gz")}
	if err := writeFileAtomic(s.Package, pkg, 0o644); err != nil {
		return s, err
	}
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "install", s.Package); err != nil {
		// Installed by an earlier attempt: fine.
		out, qerr := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "queryinstalled", "-O", "json")
		if qerr != nil || !strings.Contains(string(out), `"`+s.PackageID+`"`) {
			return s, fmt.Errorf("install on %s: %w", d.MSPID, err)
		}
	}
	// A server left by an upgrade that did not finish serves another package.
	if _, err := stopRecorded(n.opts.Run, 5*time.Second, nextChaincodeProc(d)); err != nil {
		return s, err
	}
	p, err := n.procs.start(procSpec{Name: nextChaincodeProc(d), Bin: n.bin("ledgercc"), Order: 3, Dir: n.opts.Run,
		Env:   []string{"CHAINCODE_ID=" + s.PackageID, "CHAINCODE_SERVER_ADDRESS=" + addr},
		Ready: "tcp:" + addr})
	if err != nil {
		return s, err
	}
	wctx, cancel := withTimeout(ctx, 20*time.Second)
	defer cancel()
	return s, waitTCP(wctx, p, addr)
}

// promoteNextChaincode stops department d's old chaincode server and gives
// the new one its process name, so that stop, start and status know it as
// before.
func (n *Net) promoteNextChaincode(d Department) error {
	name, next := "chaincode-"+d.Slug(), nextChaincodeProc(d)
	if _, err := stopRecorded(n.opts.Run, 5*time.Second, name); err != nil {
		return err
	}
	spec, err := readSpec(n.opts.Run, next)
	if err != nil {
		return fmt.Errorf("the new chaincode server of %s: %w", d.MSPID, err)
	}
	spec.Name = name
	raw, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	dir := n.path("pids")
	if err := writeFileAtomic(filepath.Join(dir, name+".spec.json"), raw, 0o600); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, next+".pid"), filepath.Join(dir, name+".pid")); err != nil {
		return err
	}
	return os.Remove(filepath.Join(dir, next+".spec.json"))
}

// ChaincodeStatus is the definition each department's peer holds.
type ChaincodeStatus struct {
	MSPID    string
	Sequence int64
	Version  string
}

// ChaincodeStatuses asks every department's peer for the committed
// definition, in the topology's order.
func (n *Net) ChaincodeStatuses(ctx context.Context) ([]ChaincodeStatus, error) {
	deps := n.topo.Departments
	out := make([]ChaincodeStatus, len(deps))
	err := parallel(len(deps), func(i int) error {
		def, err := n.queryCommitted(ctx, deps[i])
		if err != nil {
			return err
		}
		out[i] = ChaincodeStatus{MSPID: deps[i].MSPID, Sequence: def.Sequence, Version: def.Version}
		return nil
	})
	return out, err
}
