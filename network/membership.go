package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
	"gopkg.in/yaml.v3"

	"github.com/govshare/ledger/chaincode/domain"
)

// A department's membership changes in two places, each by the departments
// that own the keys it needs:
//
//   - the contract's consortium policy (chaincode/domain/membership.go):
//     admit, suspend, reinstate or remove, a policy proposal that one
//     member's admin makes and a majority of the voters' admins approve,
//     each through its own department's gateway, signed by that admin (the
//     voters: the members, less the department suspended or removed);
//   - the channel configuration, for a department that joins
//     (AddDepartment) or leaves (RemoveDepartment): an update signed by the
//     admins of a majority of the channel's organizations (MAJORITY Admins),
//     each with its own key.
//
// A suspension is the policy part only: the department stays on the
// channel, its peer keeps the ledger, its people read and trace, the
// contract refuses every write they sign. A removal records the change on
// the ledger first, then takes the organization out of the channel, so
// that the ledger says when the department left before its peer stops
// receiving blocks.

// ChangeMembership applies change c to the consortium policy on the
// ledger: a proposal by the first voter's admin, approved by the admins of
// as many voters as the majority needs, each through its own gateway. It
// returns the policy afterwards, and does nothing if the policy already
// shows the change (a command run again after it was cut short).
func (n *Net) ChangeMembership(ctx context.Context, c domain.MemberChange) (*domain.Policy, error) {
	tokens, err := n.adminTokens()
	if err != nil {
		return nil, err
	}
	p, err := n.readPolicy(ctx, tokens)
	if err != nil {
		return nil, err
	}
	if done(p, c) {
		n.stepf("the consortium policy (version %d) already shows %s %s", p.Version, c.Action, c.MSPID)
		return p, nil
	}
	if err := p.CheckChange(c); err != nil {
		return nil, err
	}
	pp := &domain.PolicyProposal{Member: &c}
	voters := p.Voters(pp)
	need := p.Needed(pp)
	var signers []Department
	for _, v := range voters {
		if d, ok := n.department(v); ok && tokens[v] != "" {
			signers = append(signers, d)
		}
	}
	if len(signers) < need {
		return nil, fmt.Errorf("%s %s needs the approvals of %d of the voters %v; this run folder has the admins of %d of them", c.Action, c.MSPID, need, voters, len(signers))
	}
	signers = signers[:need]
	var prop struct {
		BlockNumber uint64                `json:"blockNumber"`
		Proposal    domain.PolicyProposal `json:"proposal"`
	}
	err = n.step(fmt.Sprintf("%s %s proposed by %s's admin", c.Action, c.MSPID, signers[0].MSPID), func() error {
		body, _ := json.Marshal(domain.PolicyProposalInput{Member: &c})
		out, err := n.httpJSON(ctx, http.MethodPost, n.topo.GatewayURL(signers[0])+"/v1/policy/proposals", tokens[signers[0].MSPID], body, http.StatusCreated)
		if err != nil {
			return err
		}
		return json.Unmarshal(out, &prop)
	})
	if err != nil {
		return nil, err
	}
	block := prop.BlockNumber
	var res domain.PolicyApprovalResult
	err = n.step(fmt.Sprintf("approved by the admins of %d of the %d voters %v", need, len(voters), voters), func() error {
		for _, s := range signers {
			var ans struct {
				BlockNumber uint64                      `json:"blockNumber"`
				Approval    domain.PolicyApprovalResult `json:"approval"`
			}
			// The approver's gateway waits for the block that holds the
			// proposal (or the approval before), then submits.
			h := http.Header{"X-Min-Block": {strconv.FormatUint(block, 10)}}
			out, err := n.httpJSONWith(ctx, http.MethodPost, n.topo.GatewayURL(s)+"/v1/policy/proposals/"+prop.Proposal.ID+"/approve", tokens[s.MSPID], h, []byte("{}"), http.StatusOK)
			if err != nil {
				return fmt.Errorf("%s's approval: %w", s.MSPID, err)
			}
			if err := json.Unmarshal(out, &ans); err != nil {
				return err
			}
			block, res = ans.BlockNumber, ans.Approval
		}
		if !res.Applied {
			return fmt.Errorf("proposal %s not applied after %d approvals: %v", prop.Proposal.ID, len(signers), res.Approvals)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.stepf("consortium policy version %d: members %v, suspended %v, removed %v", res.Policy.Version, res.Policy.Members, res.Policy.Suspended, res.Policy.Removed)
	return &res.Policy, nil
}

// done reports whether policy p already shows change c.
func done(p *domain.Policy, c domain.MemberChange) bool {
	switch c.Action {
	case domain.MemberAdmit, domain.MemberReinstate:
		return p.Member(c.MSPID)
	case domain.MemberSuspend:
		return p.IsSuspended(c.MSPID)
	case domain.MemberRemove:
		return p.IsRemoved(c.MSPID)
	}
	return false
}

// adminTokens maps each department to its admin's long-lived token.
func (n *Net) adminTokens() (map[string]string, error) {
	var creds []Credential
	if err := readJSONFile(n.path("credentials.json"), &creds); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range creds {
		if c.Role == string(domain.RoleAdmin) && out[c.MSPID] == "" {
			out[c.MSPID] = c.Token
		}
	}
	return out, nil
}

// readPolicy reads the consortium policy through the first department's
// gateway that answers.
func (n *Net) readPolicy(ctx context.Context, tokens map[string]string) (*domain.Policy, error) {
	var errs []error
	for _, d := range n.topo.Departments {
		if tokens[d.MSPID] == "" {
			continue
		}
		out, err := n.httpJSON(ctx, http.MethodGet, n.topo.GatewayURL(d)+"/v1/policy", tokens[d.MSPID], nil, http.StatusOK)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var p domain.Policy
		if err := json.Unmarshal(out, &p); err != nil {
			return nil, fmt.Errorf("the policy through %s: %w", d.MSPID, err)
		}
		return &p, nil
	}
	return nil, fmt.Errorf("read the consortium policy: %w", errors.Join(errs...))
}

// Removed is a department taken out of the consortium.
type Removed struct {
	MSPID    string        `yaml:"mspId" json:"mspId"`
	Policy   int           `yaml:"policyVersion" json:"policyVersion"` // the policy version that records the removal
	Update   string        `yaml:"update" json:"update"`               // the channel configuration update
	SignedBy []string      `yaml:"signedBy" json:"signedBy"`
	At       time.Time     `yaml:"at" json:"at"`
	Took     time.Duration `yaml:"-" json:"-"`
}

const removedDepartmentsFile = "removed-departments.yaml"

// RemoveDepartment takes department msp out of the consortium: the
// contract's policy records its removal (approved by a majority of the
// other members' admins); its organization leaves the channel's
// Application group (an update signed by the admins of a majority of the
// channel's organizations, the department's own not among them); its
// processes stop, their specs move to removed/<slug>/ (its ledger and
// mirror stay in data/), and the run folder forgets it: endpoints.json,
// chaincode/current.json, and removed-departments.yaml, which New reads,
// so that start, status and the other commands no longer expect it.
func (n *Net) RemoveDepartment(ctx context.Context, msp string) (*Removed, error) {
	n.start = time.Now()
	d, err := n.departmentNamed(msp)
	if err != nil {
		return nil, err
	}
	var others []Department
	for _, o := range n.topo.Departments {
		if o.MSPID != msp {
			others = append(others, o)
		}
	}
	if len(others) == 0 {
		return nil, fmt.Errorf("%s is the last department of the consortium", msp)
	}
	r := &Removed{MSPID: msp, Update: n.path("channel", "remove-"+d.Slug()+".pb")}
	p, err := n.ChangeMembership(ctx, domain.MemberChange{Action: domain.MemberRemove, MSPID: msp})
	if err != nil {
		return nil, fmt.Errorf("the contract's part: %w", err)
	}
	r.Policy = p.Version

	cur, err := n.fetchConfig(ctx, others[0])
	if err != nil {
		return nil, fmt.Errorf("fetch the channel configuration: %w", err)
	}
	orgs := cur.GetChannelGroup().GetGroups()["Application"].GetGroups()
	if _, ok := orgs[msp]; ok {
		// MAJORITY Admins of the organizations on the channel, the leaving
		// one counted: more than half sign, none of them the leaving one.
		need := len(orgs)/2 + 1
		if len(others) < need {
			return nil, fmt.Errorf("the update needs %d signatures and %d other departments remain", need, len(others))
		}
		signers := others[:need]
		err = n.step("channel configuration update removing "+msp+", unsigned", func() error {
			updated := proto.Clone(cur).(*common.Config)
			delete(updated.ChannelGroup.Groups["Application"].Groups, msp)
			u, err := configDelta(n.topo.Channel, cur, updated)
			if err != nil {
				return err
			}
			raw, err := updateEnvelope(n.topo.Channel, u)
			if err != nil {
				return err
			}
			return writeFileAtomic(r.Update, raw, 0o644)
		})
		if err != nil {
			return nil, err
		}
		err = n.step(fmt.Sprintf("signed by the admins of %d of %d organizations (MAJORITY Admins), submitted by %s's", need, len(orgs), signers[need-1].MSPID), func() error {
			r.SignedBy, err = n.signAndSubmit(ctx, signers, r.Update)
			return err
		})
		if err != nil {
			return nil, err
		}
		err = n.step("every remaining department's peer holds the new configuration", func() error {
			return n.waitChannelOrg(ctx, others, msp, false)
		})
		if err != nil {
			return nil, err
		}
	} else {
		n.stepf("%s is no longer in the channel configuration", msp)
	}

	err = n.step(msp+"'s processes stopped, their records moved to removed/"+d.Slug(), func() error {
		return n.retireProcesses(d)
	})
	if err != nil {
		return nil, err
	}
	r.At = time.Now().UTC()
	err = n.step("the run folder forgets "+msp+": endpoints, chaincode servers, "+removedDepartmentsFile, func() error {
		return n.forget(r)
	})
	if err != nil {
		return nil, err
	}
	r.Took = time.Since(n.start)
	return r, nil
}

// SuspendDepartment records the suspension of department msp in the
// consortium policy (the contract's part only: the department stays on
// the channel and keeps running).
func (n *Net) SuspendDepartment(ctx context.Context, msp string) (*domain.Policy, error) {
	n.start = time.Now()
	if _, err := n.departmentNamed(msp); err != nil {
		return nil, err
	}
	return n.ChangeMembership(ctx, domain.MemberChange{Action: domain.MemberSuspend, MSPID: msp})
}

// ReinstateDepartment makes a suspended department a member again.
func (n *Net) ReinstateDepartment(ctx context.Context, msp string) (*domain.Policy, error) {
	n.start = time.Now()
	if _, err := n.departmentNamed(msp); err != nil {
		return nil, err
	}
	return n.ChangeMembership(ctx, domain.MemberChange{Action: domain.MemberReinstate, MSPID: msp})
}

// ownedBy reports whether process name belongs to department slug:
// "<kind>-<slug>" or "<kind>-<slug>-<more>".
func ownedBy(name, slug string) bool {
	_, rest, ok := strings.Cut(name, "-")
	return ok && (rest == slug || strings.HasPrefix(rest, slug+"-"))
}

// retireProcesses stops every process of department d and moves its PID
// and spec files out of pids/, so that start no longer starts them.
func (n *Net) retireProcesses(d Department) error {
	specs, err := n.specs()
	if err != nil {
		return err
	}
	var names []string
	for _, s := range specs {
		if ownedBy(s.Name, d.Slug()) {
			names = append(names, s.Name)
		}
	}
	if _, err := stopRecorded(n.opts.Run, 10*time.Second, names...); err != nil {
		return err
	}
	dir := n.path("removed", d.Slug(), "pids")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, name := range names {
		for _, f := range []string{name + ".pid", name + ".spec.json"} {
			err := os.Rename(n.path("pids", f), filepath.Join(dir, f))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// forget drops the removed department from the run folder's files and
// records it in removed-departments.yaml.
func (n *Net) forget(r *Removed) error {
	eps, err := ReadEndpoints(n.opts.Run)
	if err != nil {
		return err
	}
	eps.Departments = slices.DeleteFunc(eps.Departments, func(e EndpointDept) bool { return e.MSPID == r.MSPID })
	if err := writeJSON(n.path("endpoints.json"), eps, 0o644); err != nil {
		return err
	}
	if cc, err := n.ChaincodeRecord(); err == nil {
		delete(cc.Servers, r.MSPID)
		if err := n.writeChaincodeRecord(cc); err != nil {
			return err
		}
	}
	removed, err := n.readRemoved()
	if err != nil {
		return err
	}
	removed = append(slices.DeleteFunc(removed, func(x Removed) bool { return x.MSPID == r.MSPID }), *r)
	out, err := yaml.Marshal(removed)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(n.path(removedDepartmentsFile), append([]byte("# Departments removed from this consortium (consortium remove-department).\n"), out...), 0o644); err != nil {
		return err
	}
	n.topo.Departments = slices.DeleteFunc(n.topo.Departments, func(d Department) bool { return d.MSPID == r.MSPID })
	return nil
}

func (n *Net) readRemoved() ([]Removed, error) {
	raw, err := os.ReadFile(n.path(removedDepartmentsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Removed
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", n.path(removedDepartmentsFile), err)
	}
	return out, nil
}

// dropRemoved takes the departments of removed-departments.yaml out of
// the topology, after their ports were derived (the others keep theirs).
func (n *Net) dropRemoved() error {
	removed, err := n.readRemoved()
	if err != nil {
		return err
	}
	for _, r := range removed {
		n.topo.Departments = slices.DeleteFunc(n.topo.Departments, func(d Department) bool { return d.MSPID == r.MSPID })
	}
	return nil
}
