//go:build integration

package attack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// TestRolesMintedByADepartment is hole 4 of issue 11: each department's
// own CA issues the role attribute, so Dept2 registers a person with
// role=evaluator at its own fabric-ca and has that person publish a
// fabricated snapshot (Dept2 at 100, asOfBlock 1) with a raw client. The
// consortium policy on the ledger names BureauMSP alone as evaluator: every
// peer must refuse, naming the policy, and nothing may show on any peer,
// indexer or audit trail. Dept2's own peer cannot endorse it in, and a
// majority coalition cannot rewrite the policy's members. Then the honest
// path: a proposal to make Dept2 an evaluator changes nothing after one
// approval, and after a majority of the admins' approvals (each its own
// transaction) every peer holds the new version and honours Dept2's
// evaluator. The test puts the policy back as it found it.
func TestRolesMintedByADepartment(t *testing.T) {
	start := policyOn(t, victim)
	t.Logf("consortium policy version %d: evaluators %v, auditors %v, members %v", start.Version, start.Evaluators, start.Auditors, start.Members)
	if slices.Contains(start.Evaluators, dept2) {
		t.Fatalf("precondition: the policy already names %s as evaluator", dept2)
	}
	for _, m := range departments {
		if !start.Member(m) {
			t.Fatalf("precondition: %s is not a member of %v", m, start.Members)
		}
	}
	minted := mintPerson(t, dept2, domain.RoleEvaluator)
	if minted.Role() != domain.RoleEvaluator {
		t.Fatalf("the minted certificate has role %q", minted.Role())
	}
	t.Logf("%s's CA issued %s with role=%s", dept2, minted.Subject(), minted.Role())
	doc := fabricatedScores()

	t.Run("the minted evaluator publishes a fabricated snapshot", func(t *testing.T) {
		prop := proposal(t, minted, forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
		refusedByEveryPeer(t, prop, "consortium policy")
		shared.absentOnEveryPeer(t, domain.KindSnapshot, "GetScoreSnapshot", doc.Period)
		if r := shared.as(t, auditor, "auditor").do(http.MethodGet, "/v1/scores/snapshots/"+doc.Period, nil); r.status != http.StatusNotFound {
			t.Errorf("the gateway of %s shows a snapshot of %s: %d %s", auditor, doc.Period, r.status, clip(r.body))
		}
		for _, m := range departments {
			if items := shared.trace(t, m, "actor", minted.Subject()); len(items) != 0 {
				t.Errorf("the audit trail of %s's indexer lists the minted evaluator: %v", m, items)
			}
		}
		shared.notInTrace(t, "department", dept2, prop.TxID)
	})

	t.Run("Dept2's own peer endorses it for the minted evaluator", func(t *testing.T) {
		// A department runs its own peer: it can endorse whatever it
		// likes, but the chaincode-level policy wants a majority.
		prop := proposal(t, minted, forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
		now := prop.Timestamp.UTC()
		s := &domain.ScoreSnapshot{Scores: doc, ID: doc.Period, PublishedAt: now, PublishedBy: minted.Actor()}
		key := entityKey(t, domain.KindSnapshot, doc.Period)
		anchor, _ := domain.AnchorKey(dept2)
		var ws forge.RWSet
		ws.Read(key, nil)
		ws.Put(key, mustJSON(t, s))
		ws.Put(anchor, domain.IndexValue)
		mustSetEndorsers(t, &ws, key, dept2)
		tx := shared.forged(t, prop, forge.Action{RWSets: []forge.RWSet{ws}, Payload: mustJSON(t, s),
			Event: event(t, domain.Event{Type: domain.EventScoreSnapshotPublished, Kind: domain.KindSnapshot, ID: doc.Period, Time: now, Actor: minted.Actor(), Snapshot: s})}, dept2)
		st := shared.broadcast(t, dept2, tx)
		expectPolicyFailure(t, st, "the snapshot endorsed by "+dept2+"'s peer alone")
		shared.indexed(t, st.Block)
		shared.absentOnEveryPeer(t, domain.KindSnapshot, "GetScoreSnapshot", doc.Period)
		shared.notInTrace(t, "department", dept2, tx.TxID)
	})

	t.Run("a majority coalition drops Dept1 from the consortium", func(t *testing.T) {
		// Three of four peers satisfy the policy key's majority
		// endorsement policy; the validation plugin's update rule still
		// refuses a change of members.
		forged := start
		forged.Members = slices.DeleteFunc(slices.Clone(start.Members), func(m string) bool { return m == victim })
		forged.Evaluators = slices.Sorted(slices.Values(append(slices.Clone(start.Evaluators), dept2)))
		forged.Auditors = slices.DeleteFunc(slices.Clone(start.Auditors), func(m string) bool { return m == victim })
		forged.Version = start.Version + 1
		forged.UpdatedAt = time.Now().UTC()
		forged.UpdatedBy = shared.user(t, dept2, "admin").Actor()
		var ws forge.RWSet
		ws.Put(entityKey(t, domain.KindPolicy, domain.PolicyID), mustJSON(t, forged))
		prop := proposal(t, shared.user(t, dept2, "admin"), forge.Invocation{Function: "GetPolicy", Timestamp: forged.UpdatedAt})
		tx := shared.forged(t, prop, forge.Action{RWSets: []forge.RWSet{ws}, Payload: mustJSON(t, forged),
			Event: event(t, domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID, Time: forged.UpdatedAt, Actor: forged.UpdatedBy, Policy: &forged})}, coalition...)
		st := shared.broadcast(t, dept2, tx)
		expectPolicyFailure(t, st, "the coalition's policy without "+victim)
		shared.indexed(t, st.Block)
		samePolicyOnEveryPeer(t, start.Version, start.Evaluators, start.Members)

		t.Run("control: the same majority's successor with every member commits", func(t *testing.T) {
			// A majority governs the policy (that is the rule): the same
			// coalition writing the next version with the members kept is
			// VALID, so the refusal above was the members rule. Its
			// content is the current policy's, so nothing else changes.
			next := start
			next.Change = nil // the last version's membership change, if any, is not this one's
			next.Version = start.Version + 1
			next.UpdatedAt = time.Now().UTC()
			next.UpdatedBy = shared.user(t, dept2, "admin").Actor()
			var ws forge.RWSet
			ws.Put(entityKey(t, domain.KindPolicy, domain.PolicyID), mustJSON(t, next))
			prop := proposal(t, shared.user(t, dept2, "admin"), forge.Invocation{Function: "GetPolicy", Timestamp: next.UpdatedAt})
			tx := shared.forged(t, prop, forge.Action{RWSets: []forge.RWSet{ws}, Payload: mustJSON(t, next),
				Event: event(t, domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID, Time: next.UpdatedAt, Actor: next.UpdatedBy, Policy: &next})}, coalition...)
			st := shared.broadcast(t, dept2, tx)
			if !st.Valid() {
				t.Fatalf("the majority's successor committed %s: the refusal above may have had another reason", st.Code)
			}
			shared.indexed(t, st.Block)
			samePolicyOnEveryPeer(t, next.Version, start.Evaluators, start.Members)
			start = next
		})
	})

	t.Run("a majority coalition suspends Dept1 with approvals never signed", func(t *testing.T) {
		// A membership change in the form the contract writes it (one
		// change, a majority of the other members listed as approving),
		// endorsed by three of four peers, but with no proposal and no
		// approval record on the ledger: the plugin reads them
		// (domain.MembershipEvidence) and refuses it.
		c := domain.MemberChange{Action: domain.MemberSuspend, MSPID: victim}
		forged, err := start.AfterChange(c)
		if err != nil {
			t.Fatal(err)
		}
		forged.Change, forged.Version, forged.UpdatedAt = &c, start.Version+1, time.Now().UTC()
		forged.ProposalID, forged.Approvals = "pp-"+strings.Repeat("f", 24), []string{dept2, dept3}
		forged.UpdatedBy = shared.user(t, dept3, "admin").Actor()
		var ws forge.RWSet
		ws.Put(entityKey(t, domain.KindPolicy, domain.PolicyID), mustJSON(t, forged))
		prop := proposal(t, shared.user(t, dept3, "admin"), forge.Invocation{Function: "GetPolicy", Timestamp: forged.UpdatedAt})
		tx := shared.forged(t, prop, forge.Action{RWSets: []forge.RWSet{ws}, Payload: mustJSON(t, forged),
			Event: event(t, domain.Event{Type: domain.EventPolicyUpdated, Kind: domain.KindPolicy, ID: domain.PolicyID, Time: forged.UpdatedAt, Actor: forged.UpdatedBy, Policy: forged})}, coalition...)
		st := shared.broadcast(t, dept2, tx)
		expectPolicyFailure(t, st, "the coalition's suspension of "+victim+" without approvals on the ledger")
		shared.indexed(t, st.Block)
		samePolicyOnEveryPeer(t, start.Version, start.Evaluators, start.Members)
	})

	t.Run("a proposal applies only once a majority of admins approve", func(t *testing.T) {
		want := domain.PolicyProposalInput{Evaluators: append(slices.Clone(start.Evaluators), dept2), Auditors: start.Auditors}.Normalized()
		id := propose(t, dept2, want)
		needed := len(start.Members)/2 + 1

		var approved []string
		for i, m := range []string{dept2, dept3, bureau} {
			res := approve(t, m, id)
			approved = slices.Sorted(slices.Values(append(approved, m)))
			if !slices.Equal(res.Approvals, approved) || res.Needed != needed {
				t.Fatalf("approval by %s: %+v", m, res)
			}
			if i+1 < needed {
				if res.Applied {
					t.Fatalf("approval %d of %d applied the proposal", i+1, needed)
				}
				samePolicyOnEveryPeer(t, start.Version, start.Evaluators, start.Members)
				prop := proposal(t, minted, forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
				refusedByEveryPeer(t, prop, "consortium policy")
				if i == 0 {
					r := shared.as(t, m, "admin").do(http.MethodPost, "/v1/policy/proposals/"+id+"/approve", nil)
					if r.status != http.StatusConflict || !strings.Contains(string(r.body), "approves once") {
						t.Errorf("a second approval by %s: %d %s", m, r.status, r.body)
					}
				}
				continue
			}
			if !res.Applied || res.Policy.Version != start.Version+1 {
				t.Fatalf("approval %d of %d did not apply the proposal: %+v", i+1, needed, res)
			}
		}
		samePolicyOnEveryPeer(t, start.Version+1, want.Evaluators, start.Members)
		var st domain.PolicyProposalStatus
		shared.as(t, victim, "operator").must(http.StatusOK, http.MethodGet, "/v1/policy/proposals/"+id, nil).json(t, &st)
		if st.Status != domain.ProposalApplied || st.AppliedVersion != start.Version+1 || !slices.Equal(st.Approvals, approved) {
			t.Errorf("proposal %s: %+v", id, st)
		}

		// Dept2's evaluators count now: every peer endorses the same
		// person's publication (not submitted: the fabricated document is
		// not worth a snapshot).
		prop := proposal(t, minted, forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
		endorsed, refused := forge.EndorseAll(ctx(t), prop, everyPeer(t)...)
		if len(refused) != 0 || len(endorsed) != len(departments) {
			t.Errorf("after the change %d peers endorsed the minted evaluator, %d refused: %v", len(endorsed), len(refused), refused)
		}

		// Put the policy back, by the same rule.
		back := propose(t, bureau, domain.PolicyProposalInput{Evaluators: start.Evaluators, Auditors: start.Auditors}.Normalized())
		for _, m := range []string{victim, dept3, bureau}[:needed] {
			approve(t, m, back)
		}
		samePolicyOnEveryPeer(t, start.Version+2, start.Evaluators, start.Members)
		r := shared.as(t, dept3, "admin").do(http.MethodPost, "/v1/policy/proposals/"+id+"/approve", nil)
		if r.status != http.StatusConflict {
			t.Errorf("an approval of the applied proposal %s: %d %s", id, r.status, r.body)
		}
		start = policyOn(t, victim)
	})

	t.Run("the gateways follow the policy", func(t *testing.T) {
		// The Bureau's auditor, whose certificate says auditor, loses the
		// role at the Bureau's gateway once the policy no longer grants it
		// (the approval that applies it goes through that gateway, which
		// drops its copy of the policy), and gets it back with the policy.
		au := shared.as(t, auditor, "auditor")
		trace := "/v1/audit/trace?department=" + victim + "&limit=1"
		au.must(http.StatusOK, http.MethodGet, trace, nil)
		without := slices.DeleteFunc(slices.Clone(start.Auditors), func(m string) bool { return m == auditor })
		needed := len(start.Members)/2 + 1
		id := propose(t, dept3, domain.PolicyProposalInput{Evaluators: start.Evaluators, Auditors: without}.Normalized())
		for _, m := range []string{victim, dept3, auditor}[:needed] {
			approve(t, m, id)
		}
		r := au.do(http.MethodGet, trace, nil)
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "the auditor role of "+auditor+" is not honoured") {
			t.Errorf("the Bureau's auditor without the role: %d %s", r.status, clip(r.body))
		}
		var me struct {
			Role string `json:"role"`
		}
		au.must(http.StatusOK, http.MethodGet, "/v1/me", nil).json(t, &me)
		if me.Role != "" {
			t.Errorf("/v1/me says role %q", me.Role)
		}
		back := propose(t, dept3, domain.PolicyProposalInput{Evaluators: start.Evaluators, Auditors: start.Auditors}.Normalized())
		for _, m := range []string{victim, dept3, auditor}[:needed] {
			approve(t, m, back)
		}
		au.must(http.StatusOK, http.MethodGet, trace, nil)
	})
}

// policyOn reads the policy from msp's peer.
func policyOn(t *testing.T, msp string) domain.Policy {
	t.Helper()
	out, err := shared.ledgerRead(t, msp, "GetPolicy")
	if err != nil {
		t.Fatalf("GetPolicy on the peer of %s: %v", msp, err)
	}
	var p domain.Policy
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("GetPolicy on the peer of %s: %s: %v", msp, out, err)
	}
	return p
}

// samePolicyOnEveryPeer checks every peer's policy version, evaluators and members.
func samePolicyOnEveryPeer(t *testing.T, version int, evaluators, members []string) {
	t.Helper()
	for _, m := range departments {
		p := policyOn(t, m)
		if p.Version != version || !slices.Equal(p.Evaluators, evaluators) || !slices.Equal(p.Members, members) {
			t.Errorf("the peer of %s holds policy version %d (evaluators %v, members %v), want version %d (evaluators %v, members %v)",
				m, p.Version, p.Evaluators, p.Members, version, evaluators, members)
		}
	}
}

func everyPeer(t *testing.T) []*forge.Peer {
	t.Helper()
	out := make([]*forge.Peer, len(departments))
	for i, m := range departments {
		out[i] = shared.peer(t, m)
	}
	return out
}

// refusedByEveryPeer sends prop to every peer and checks that each refused
// it with a message containing want; whatever was endorsed anyway is
// submitted, as an attacker would, and must not commit VALID.
func refusedByEveryPeer(t *testing.T, prop *forge.Proposal, want string) {
	t.Helper()
	endorsed, refused := forge.EndorseAll(ctx(t), prop, everyPeer(t)...)
	for _, err := range refused {
		var ce *forge.ChaincodeError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, want) {
			t.Errorf("refused without naming the %s: %v", want, err)
			continue
		}
		t.Logf("refused: %s", ce.Message)
	}
	if len(endorsed) == 0 {
		return
	}
	t.Errorf("ATTACK WENT THROUGH: %d of %d peers endorsed the minted evaluator's %s", len(endorsed), len(departments), prop.TxID)
	tx, err := forge.Assemble(prop, endorsed...)
	if err != nil {
		t.Logf("cannot assemble the endorsements: %v", err)
		return
	}
	if st := shared.commit(t, dept2, tx); st.Valid() {
		t.Errorf("ATTACK WENT THROUGH: committed VALID in block %d", st.Block)
	}
}

// propose submits a policy proposal as msp's admin and returns its ID,
// once every indexer (and so every peer) has it.
func propose(t *testing.T, msp string, in domain.PolicyProposalInput) string {
	t.Helper()
	r := shared.as(t, msp, "admin").must(http.StatusCreated, http.MethodPost, "/v1/policy/proposals", in)
	var out struct {
		Proposal domain.PolicyProposal `json:"proposal"`
	}
	r.json(t, &out)
	if out.Proposal.ID == "" || out.Proposal.ProposedBy.MSPID != msp {
		t.Fatalf("proposal %s", r.body)
	}
	shared.settle(t, r)
	t.Logf("%s proposed %s: evaluators %v, auditors %v, for version %d", msp, out.Proposal.ID, out.Proposal.Evaluators, out.Proposal.Auditors, out.Proposal.BaseVersion)
	return out.Proposal.ID
}

// approve submits msp's approval of proposal id through its own gateway
// and waits until every indexer has it.
func approve(t *testing.T, msp, id string) domain.PolicyApprovalResult {
	t.Helper()
	r := shared.as(t, msp, "admin").must(http.StatusOK, http.MethodPost, "/v1/policy/proposals/"+id+"/approve", nil)
	var out struct {
		TxID        string                      `json:"txId"`
		BlockNumber uint64                      `json:"blockNumber"`
		Approval    domain.PolicyApprovalResult `json:"approval"`
	}
	r.json(t, &out)
	shared.settle(t, r)
	t.Logf("%s approved %s in tx %s (block %d): %d of %d, applied %v, policy version %d",
		msp, id, out.TxID, out.BlockNumber, len(out.Approval.Approvals), out.Approval.Needed, out.Approval.Applied, out.Approval.Policy.Version)
	v := shared.indexer(t, auditor, "auditor", "/v1/audit/verify/"+out.TxID) // the indexer itself: the gateway may not honour the auditor just now
	var va verifyAnswer
	if v.status != http.StatusOK || json.Unmarshal(v.body, &va) != nil || !va.Verified {
		t.Errorf("the audit does not verify %s's approval %s: %d %s", msp, out.TxID, v.status, summary(v))
	}
	return out.Approval
}

// fabricatedScores is the document a made-up evaluator would publish: its
// own department first at 100, as of block 1, for a period long over (a
// different one each run).
func fabricatedScores() domain.Scores {
	n := time.Now().UnixNano()
	sum := sha256.Sum256([]byte(fmt.Sprint("fabricated", n)))
	return domain.Scores{
		Period: fmt.Sprintf("%04d-%02d", 1990+n%30, 1+(n/30)%12), AsOfBlock: 1, InputDigest: hex.EncodeToString(sum[:]),
		Items: []domain.ScoreItem{
			{MSPID: dept2, Rank: 1, Score: 100, Breakdown: map[string]float64{"volume": 1}},
			{MSPID: victim, Rank: 2, Score: 0, Breakdown: map[string]float64{"volume": 0}},
		},
	}
}

// mintPerson registers and enrolls a new person with role at msp's own
// fabric-ca, with the registrar identity the department holds (its client
// home in the run folder), as any department's CA administrator can.
func mintPerson(t *testing.T, msp string, role domain.Role) *forge.Signer {
	t.Helper()
	var slug, host string
	var port int
	for _, d := range shared.run.Topology.Departments {
		if d.MSPID == msp {
			slug, host, port = d.Slug(), d.Host, d.CAPort
		}
	}
	if slug == "" {
		t.Fatalf("no department %s in the topology", msp)
	}
	caDir := filepath.Join(shared.run.Dir, "orgs", slug, "ca")
	tlsArgs := []string{"--tls.certfiles", filepath.Join(caDir, "server", "ca-cert.pem"), "--caname", "ca-" + slug}
	user := uniqueID("minted-" + string(role))
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	secret := hex.EncodeToString(b)
	caClient(t, append([]string{"register", "--home", filepath.Join(caDir, "registrar"), "--mspdir", "msp",
		"-u", fmt.Sprintf("https://%s:%d", host, port), "--id.name", user, "--id.secret", secret, "--id.type", "client",
		"--id.attrs", domain.RoleAttribute + "=" + string(role) + ":ecert"}, tlsArgs...)...)
	home := t.TempDir()
	caClient(t, append([]string{"enroll", "-u", fmt.Sprintf("https://%s:%s@%s:%d", user, secret, host, port),
		"--home", home, "--mspdir", "msp", "--csr.names", "C=CN,O=" + msp}, tlsArgs...)...)
	keys, _ := filepath.Glob(filepath.Join(home, "msp", "keystore", "*_sk"))
	if len(keys) != 1 {
		t.Fatalf("enrolled %s: %d keys", user, len(keys))
	}
	s, err := forge.LoadSigner(msp, filepath.Join(home, "msp", "signcerts", "cert.pem"), keys[0])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// caClient runs fabric-ca-client from the Fabric binaries the consortium
// runs: -fabric-bin of CONSORTIUM, else FABRIC_BIN, else the repository's
// cache beside the run folder.
func caClient(t *testing.T, args ...string) {
	t.Helper()
	dir := os.Getenv("FABRIC_BIN")
	fields := strings.Fields(os.Getenv("CONSORTIUM"))
	for i, f := range fields {
		if (f == "-fabric-bin" || f == "--fabric-bin") && i+1 < len(fields) {
			dir = fields[i+1]
		} else if v, ok := strings.CutPrefix(f, "-fabric-bin="); ok {
			dir = v
		}
	}
	if dir == "" {
		dir = filepath.Join(shared.run.Dir, "..", ".cache", "fabric", "bin")
	}
	bin := filepath.Join(dir, "fabric-ca-client")
	cmd := exec.CommandContext(ctx(t), bin, args...)
	cmd.Env = append(os.Environ(), "FABRIC_CA_CLIENT_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, args[0], err, out)
	}
}
