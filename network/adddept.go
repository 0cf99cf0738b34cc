package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/chaincode/domain"
)

// A department joins a running consortium in these steps, each by the
// department that owns the key it needs:
//
//  1. the new department starts its CA and enrolls its peer, people,
//     indexer and gateway (its own host);
//  2. a channel configuration update adding its organization (its MSP:
//     root certificates and node OUs; its policies; its anchor peer) is
//     written to a file, unsigned (`consortium add-department -prepare`);
//  3. the admins of as many member departments as the channel's Admins
//     policy requires (MAJORITY Admins) each sign the file on their own
//     host (`peer channel signconfigtx`, or `consortium sign-update`),
//     passing it on;
//  4. the last signer submits it to the ordering service (`peer channel
//     update`, which adds that admin's signature);
//  5. the new department's peer joins the channel from the genesis block
//     and pulls every block; it installs its chaincode package, starts its
//     chaincode server and approves the definition in force for its
//     organization; its indexer replays the whole ledger and its gateway
//     starts;
//  6. a member's admin proposes its admission to the contract's consortium
//     policy, and the admins of a majority of the members approve it, each
//     through its own gateway (ChangeMembership): it votes from then on.
//
// AddDepartment does all of it on this machine, each signature with the
// signing department's own admin. The departments added after `make up`
// are kept in the run folder (added-departments.yaml), which New reads
// after the topology.

const addedDepartmentsFile = "added-departments.yaml"

// loadAddedDepartments appends the departments added to this run folder
// to the topology.
func (n *Net) loadAddedDepartments() error {
	added, err := n.AddedDepartments()
	if err != nil || len(added) == 0 {
		return err
	}
	// A department added and removed since keeps its entry (and ports,
	// which a later one may take): it is not part of the topology.
	removed, err := n.readRemoved()
	if err != nil {
		return err
	}
	added = slices.DeleteFunc(added, func(a Department) bool {
		return slices.ContainsFunc(removed, func(r Removed) bool { return r.MSPID == a.MSPID })
	})
	n.topo.Departments = append(n.topo.Departments, added...)
	if err := n.topo.complete(); err != nil {
		return fmt.Errorf("with the departments of %s: %w", n.path(addedDepartmentsFile), err)
	}
	return nil
}

// ReadDepartmentEntry reads one department's topology entry (the YAML of
// one element of the topology's departments list).
func ReadDepartmentEntry(path string) (Department, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Department{}, err
	}
	var d Department
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return Department{}, fmt.Errorf("department entry %s: %w", path, err)
	}
	return d, nil
}

// Joined is a department added to the running consortium.
type Joined struct {
	Department Department
	Update     string   // the configuration update file
	SignedBy   []string // the MSP IDs whose admins signed it, in order
	Height     uint64   // the new peer's height when it had caught up
	// PolicyVersion is the consortium policy's version that admitted it.
	PolicyVersion int
	Took          time.Duration
}

// AddDepartment adds department d to the running consortium (see above).
func (n *Net) AddDepartment(ctx context.Context, d Department) (*Joined, error) {
	n.start = time.Now()
	start := n.start
	members := slices.Clone(n.topo.Departments)
	if _, ok := n.department(d.MSPID); ok {
		return nil, fmt.Errorf("%s is already a department of this consortium", d.MSPID)
	}
	added, err := n.AddedDepartments()
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(added, func(a Department) bool { return a.MSPID == d.MSPID }) {
		// Its CA, identities and ledger folders are this run folder's
		// still: a department that left joins again under another MSP ID.
		return nil, fmt.Errorf("%s was added to this consortium before and has left it; a department joins again under another MSP ID", d.MSPID)
	}
	// Its ports, unless its entry sets them, are those of the next slot
	// never used: after the founding departments and every department
	// added before, those that left included. A port that a department
	// that left listened on is never another's: the peers' Fabric Gateways
	// keep connections by address, with the TLS root of the department
	// they first found there.
	n.topo.slotPorts(&d, n.nextSlot(added))
	n.topo.Departments = append(n.topo.Departments, d)
	if err := n.topo.complete(); err != nil {
		return nil, err
	}
	d = n.topo.Departments[len(n.topo.Departments)-1]
	for _, port := range d.listenPorts() {
		if !portFree(d.Addr(port)) {
			return nil, fmt.Errorf("%s, a port of %s, is in use", d.Addr(port), d.MSPID)
		}
	}
	j := &Joined{Department: d, Update: n.path("channel", "add-"+d.Slug()+".pb")}

	err = n.step("identities of "+d.MSPID+": its CA, its peer, people, indexer and gateway enrolled", func() error {
		return n.orgIdentities(ctx, n.orgCAs()[d.Slug()], n.deptEnrollments(d))
	})
	if err != nil {
		return nil, err
	}
	// Recorded now: from here on the run folder's processes include the
	// new department's, and `consortium down` stops its CA.
	if err := n.recordAddedDepartment(d); err != nil {
		return nil, err
	}
	err = n.step("channel configuration update adding "+d.MSPID+", unsigned", func() error {
		return n.prepareAddUpdate(ctx, members[0], d, j.Update)
	})
	if err != nil {
		return nil, err
	}
	// MAJORITY Admins: more than half of the member departments sign; the
	// last of them submits the update, which adds its own signature.
	need := len(members)/2 + 1
	signers := members[:need]
	err = n.step(fmt.Sprintf("signed by the admins of %d of %d departments (MAJORITY Admins), submitted by %s's", need, len(members), signers[need-1].MSPID), func() error {
		j.SignedBy, err = n.signAndSubmit(ctx, signers, j.Update)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = n.step("every member's peer holds the new configuration", func() error {
		return n.waitChannelOrg(ctx, members, d.MSPID, true)
	})
	if err != nil {
		return nil, err
	}
	err = n.step(d.MSPID+"'s peer joined from the genesis block and caught up", func() error {
		p, err := n.startPeerNode(ctx, "peer-"+d.Slug(), n.peerEnv(d), d.Addr(d.PeerPort))
		if err != nil {
			return err
		}
		genesis := n.path("channel", n.topo.Channel+".block")
		if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "channel", "join", "-b", genesis); err != nil {
			return logErr(p, fmt.Errorf("join the peer of %s: %w", d.MSPID, err))
		}
		// A member's peer holds every block: catching up with it is
		// holding the whole ledger.
		if j.Height, err = n.catchUp(ctx, members[0], members[0].Addr(members[0].PeerPort), d, d.Addr(d.PeerPort)); err != nil {
			return logErr(p, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = n.step(d.MSPID+"'s chaincode installed, its server running, the definition in force approved", func() error {
		return n.joinChaincode(ctx, d)
	})
	if err != nil {
		return nil, err
	}
	err = n.step("gossip: "+d.MSPID+"'s peer knows every other peer", func() error { return n.waitGossip(ctx) })
	if err != nil {
		return nil, err
	}
	err = n.step(d.MSPID+"'s indexer (a replay of the whole ledger) and gateway", func() error {
		return n.startAddedServices(ctx, d)
	})
	if err != nil {
		return nil, err
	}
	// A voting member from now on: the members' admins admit it to the
	// contract's consortium policy (membership.go).
	p, err := n.ChangeMembership(ctx, domain.MemberChange{Action: domain.MemberAdmit, MSPID: d.MSPID})
	if err != nil {
		return nil, fmt.Errorf("admit %s to the consortium policy: %w", d.MSPID, err)
	}
	j.PolicyVersion = p.Version
	j.Took = time.Since(start)
	return j, nil
}

// nextSlot is the slot of the next department added, given every one
// added before (those that left included): after all of them.
func (n *Net) nextSlot(added []Department) int { return n.founding + len(added) }

// AddedDepartments lists the departments added to this run folder after
// `make up`, those removed since included.
func (n *Net) AddedDepartments() ([]Department, error) {
	var added []Department
	raw, err := os.ReadFile(n.path(addedDepartmentsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, &added); err != nil {
		return nil, fmt.Errorf("%s: %w", n.path(addedDepartmentsFile), err)
	}
	return added, nil
}

func (n *Net) recordAddedDepartment(d Department) error {
	added, err := n.AddedDepartments()
	if err != nil {
		return err
	}
	added = append(added, d)
	out, err := yaml.Marshal(added)
	if err != nil {
		return err
	}
	return writeFileAtomic(n.path(addedDepartmentsFile), append([]byte("# Departments added to this consortium after `make up` (consortium add-department).\n"), out...), 0o644)
}

// fetchConfig reads the channel's configuration as department d's peer's
// admin fetches it from the ordering service.
func (n *Net) fetchConfig(ctx context.Context, d Department) (*common.Config, error) {
	file := n.path("channel", "config-"+d.Slug()+".block")
	o := n.topo.Ordering.Nodes[0]
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "channel", "fetch", "config", file,
		"-c", n.topo.Channel, "-o", o.Addr(o.Port), "--tls", "--cafile", n.ordererCA()); err != nil {
		return nil, err
	}
	return configFromBlock(file)
}

// prepareAddUpdate writes the unsigned update adding department d to the
// channel configuration that member fetches. The new organization's group
// is the one configtxgen makes for it from the same configtx.yaml as the
// genesis block (a scratch channel's genesis block with every department),
// so that it is laid out exactly as the founding departments' are.
func (n *Net) prepareAddUpdate(ctx context.Context, member, d Department, out string) error {
	cur, err := n.fetchConfig(ctx, member)
	if err != nil {
		return fmt.Errorf("fetch the channel configuration: %w", err)
	}
	scratch, err := os.MkdirTemp(n.path("channel"), "add-"+d.Slug()+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if _, err := n.writeConfigtxTo(scratch); err != nil {
		return err
	}
	block := filepath.Join(scratch, "scratch.block")
	env := append(os.Environ(), "FABRIC_CFG_PATH="+scratch)
	if _, err := n.procs.runCmd(ctx, "configtxgen", env, n.bin("configtxgen"),
		"-profile", "DataShare", "-channelID", "scratch", "-outputBlock", block, "-configPath", scratch); err != nil {
		return fmt.Errorf("the organization of %s: %w", d.MSPID, err)
	}
	made, err := configFromBlock(block)
	if err != nil {
		return err
	}
	grp := made.GetChannelGroup().GetGroups()["Application"].GetGroups()[d.MSPID]
	if grp == nil {
		return fmt.Errorf("configtxgen made no organization %s", d.MSPID)
	}
	updated := proto.Clone(cur).(*common.Config)
	updated.ChannelGroup.Groups["Application"].Groups[d.MSPID] = grp
	u, err := configDelta(n.topo.Channel, cur, updated)
	if err != nil {
		return err
	}
	raw, err := updateEnvelope(n.topo.Channel, u)
	if err != nil {
		return err
	}
	return writeFileAtomic(out, raw, 0o644)
}

// signAndSubmit has the admins of every signer but the last sign the
// configuration update in file, each with its own key, and the last one's
// submit it to the ordering service (`peer channel update`, which adds its
// signature). It returns the signers' MSP IDs, as the envelope has them.
func (n *Net) signAndSubmit(ctx context.Context, signers []Department, file string) ([]string, error) {
	for _, s := range signers[:len(signers)-1] {
		if err := n.SignUpdate(ctx, s.MSPID, file); err != nil {
			return nil, err
		}
	}
	last := signers[len(signers)-1]
	o := n.topo.Ordering.Nodes[0]
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+last.Slug(), n.adminEnv(last), n.bin("peer"), "channel", "update",
		"-f", file, "-c", n.topo.Channel, "-o", o.Addr(o.Port), "--tls", "--cafile", n.ordererCA()); err != nil {
		return nil, fmt.Errorf("%s's admin submits the update: %w", last.MSPID, err)
	}
	signed, err := updateSignatures(file)
	if err != nil {
		return nil, err
	}
	return append(signed, last.MSPID), nil
}

// waitChannelOrg waits until the channel configuration every department
// of depts fetches has organization msp (in) or has it no more (!in).
func (n *Net) waitChannelOrg(ctx context.Context, depts []Department, msp string, in bool) error {
	wctx, cancel := withTimeout(ctx, time.Minute)
	defer cancel()
	return parallel(len(depts), func(i int) error {
		for {
			cfg, err := n.fetchConfig(wctx, depts[i])
			if err == nil {
				if _, ok := cfg.GetChannelGroup().GetGroups()["Application"].GetGroups()[msp]; ok == in {
					return nil
				}
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("the channel configuration on %s's peer: %s in it %v, want %v: %v", depts[i].MSPID, msp, !in, in, err)
			case <-time.After(300 * time.Millisecond):
			}
		}
	})
}

// SignUpdate adds department msp's admin's signature to the configuration
// update in file (`peer channel signconfigtx`, with the admin's own key).
func (n *Net) SignUpdate(ctx context.Context, msp, file string) error {
	d, err := n.departmentNamed(msp)
	if err != nil {
		return err
	}
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "channel", "signconfigtx", "-f", file); err != nil {
		return fmt.Errorf("%s's admin signs %s: %w", msp, file, err)
	}
	return nil
}

// joinChaincode installs department d's package of the chaincode in force,
// starts its server and approves the committed definition for d's
// organization (the same version and sequence: a definition is approved
// per organization, and a new one approves the one in force).
func (n *Net) joinChaincode(ctx context.Context, d Department) error {
	cc, err := n.ChaincodeRecord()
	if err != nil {
		return err
	}
	label := cc.Name + "_" + cc.Version
	pkg, err := ccaasPackage(label, d.Addr(d.ChaincodePort))
	if err != nil {
		return err
	}
	srv := ChaincodeServer{PackageID: packageID(label, pkg), Address: d.Addr(d.ChaincodePort), Package: n.path("chaincode", d.Slug()+".tar.gz")}
	if err := writeFileAtomic(srv.Package, pkg, 0o644); err != nil {
		return err
	}
	if _, err := n.procs.runCmd(ctx, "peer-cli-"+d.Slug(), n.adminEnv(d), n.bin("peer"), "lifecycle", "chaincode", "install", srv.Package); err != nil {
		return fmt.Errorf("install on %s: %w", d.MSPID, err)
	}
	p, err := n.procs.start(procSpec{Name: "chaincode-" + d.Slug(), Bin: n.bin("ledgercc"), Order: 3, Dir: n.opts.Run,
		Env:   []string{"CHAINCODE_ID=" + srv.PackageID, "CHAINCODE_SERVER_ADDRESS=" + srv.Address},
		Ready: "tcp:" + srv.Address})
	if err != nil {
		return err
	}
	wctx, cancel := withTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := waitTCP(wctx, p, srv.Address); err != nil {
		return err
	}
	if err := n.approve(ctx, d, n.topo.Ordering.Nodes[0], cc.Name, cc.Version, cc.Sequence, srv.PackageID); err != nil {
		return err
	}
	cc.Servers[d.MSPID] = srv
	if err := n.writeChaincodeRecord(cc); err != nil {
		return err
	}
	// The peer serves the chaincode once its approval is committed.
	wctx, cancel = withTimeout(ctx, time.Minute)
	defer cancel()
	for {
		def, err := n.queryCommitted(wctx, d)
		if err == nil && def.Approvals[d.MSPID] {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("%s's approval is not in the committed definition: %v", d.MSPID, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// startAddedServices writes the new department's service configuration,
// adds its people's credentials, its endpoints and its TLS root to the run
// folder's files, and starts its indexer and gateway; the department then
// sets its profile through its own gateway, as `make up` does for the
// founding ones.
func (n *Net) startAddedServices(ctx context.Context, d Department) error {
	creds, passwords, ep, err := n.writeDeptServiceConfigs(d)
	if err != nil {
		return err
	}
	var allCreds []Credential
	var allPasswords []Password
	if err := readJSONFile(n.path("credentials.json"), &allCreds); err != nil {
		return err
	}
	if err := readJSONFile(n.path("passwords.json"), &allPasswords); err != nil {
		return err
	}
	eps, err := ReadEndpoints(n.opts.Run)
	if err != nil {
		return err
	}
	eps.Departments = append(eps.Departments, ep)
	if err := errors.Join(
		n.writeTLSCA(),
		writeJSON(n.path("credentials.json"), append(allCreds, creds...), 0o600),
		writeJSON(n.path("passwords.json"), append(allPasswords, passwords...), 0o600),
		writeJSON(n.path("endpoints.json"), eps, 0o644),
	); err != nil {
		return err
	}
	if err := n.startDeptServices(ctx, d); err != nil {
		return err
	}
	return n.setProfile(ctx, d)
}
