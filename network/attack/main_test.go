//go:build integration

package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network"
	"github.com/govshare/ledger/network/forge"
)

// The departments of network/topology.yaml. Dept1 is the victim
// throughout; the other three are the coalition (three of four: a majority,
// which the chaincode-level policy accepts for a key's creation).
const (
	victim  = "Dept1MSP"
	dept2   = "Dept2MSP"
	dept3   = "Dept3MSP"
	bureau  = "BureauMSP"
	auditor = "BureauMSP" // the only department with an auditor
)

var (
	departments = []string{victim, dept2, dept3, bureau}
	coalition   = []string{dept2, dept3, bureau}
)

// consortium is what the tests know of the running consortium.
type consortium struct {
	run       *forge.Run
	creds     []network.Credential
	ccVersion string // the chaincode definition's version, as honest peers name it

	mu      sync.Mutex
	peers   map[string]*forge.Peer
	signers map[string]*forge.Signer
}

var shared *consortium

func TestMain(m *testing.M) {
	run := os.Getenv("GOVSHARE_RUN")
	if run == "" {
		fmt.Fprintln(os.Stderr, "attack: GOVSHARE_RUN is not set; run `make test-integration`")
		os.Exit(2)
	}
	r, err := forge.OpenRun(run, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack: no consortium:", err)
		os.Exit(2)
	}
	raw, err := os.ReadFile(filepath.Join(run, "credentials.json"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(2)
	}
	c := &consortium{run: r, peers: map[string]*forge.Peer{}, signers: map[string]*forge.Signer{}}
	if err := json.Unmarshal(raw, &c.creds); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(2)
	}
	shared = c
	code := m.Run()
	for _, p := range c.peers {
		p.Close()
	}
	os.Exit(code)
}

// peer is a department's peer, dialled once.
func (c *consortium) peer(t *testing.T, msp string) *forge.Peer {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.peers[msp]; ok {
		return p
	}
	p, err := c.run.DialPeer(msp)
	if err != nil {
		t.Fatal(err)
	}
	c.peers[msp] = p
	return p
}

// user is an enrolled person's identity ("operator1", "approver1", ...).
func (c *consortium) user(t *testing.T, msp, user string) *forge.Signer {
	t.Helper()
	return c.signer(t, msp+"/"+user, func() (*forge.Signer, error) { return c.run.User(msp, user) })
}

// peerKey is the key with which a department's peer signs endorsements:
// the department holds it, so a coalition holds its members' keys.
func (c *consortium) peerKey(t *testing.T, msp string) *forge.Signer {
	t.Helper()
	return c.signer(t, msp+"/peer", func() (*forge.Signer, error) { return c.run.PeerSigner(msp) })
}

func (c *consortium) signer(t *testing.T, k string, load func() (*forge.Signer, error)) *forge.Signer {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.signers[k]; ok {
		return s
	}
	s, err := load()
	if err != nil {
		t.Fatal(err)
	}
	c.signers[k] = s
	return s
}

func (c *consortium) peerKeys(t *testing.T, msps ...string) []*forge.Signer {
	t.Helper()
	out := make([]*forge.Signer, len(msps))
	for i, m := range msps {
		out[i] = c.peerKey(t, m)
	}
	return out
}

// chaincodeVersion is the version honest peers name in their endorsements,
// learnt once from an evaluation, so forged endorsements name the same.
func (c *consortium) chaincodeVersion(t *testing.T) string {
	t.Helper()
	c.mu.Lock()
	v := c.ccVersion
	c.mu.Unlock()
	if v != "" {
		return v
	}
	prop, err := forge.NewProposal(c.user(t, victim, "operator1"), forge.Invocation{Function: "GetDepartment", Args: []string{victim}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.peer(t, victim).Endorse(ctx(t), prop)
	if err != nil {
		t.Fatal(err)
	}
	e, err := forge.ParseResponse(r)
	if err != nil {
		t.Fatal(err)
	}
	if e.ChaincodeVersion == "" {
		t.Fatalf("the peer of %s names no chaincode version (status %d: %s)", victim, e.Status, e.Message)
	}
	c.mu.Lock()
	c.ccVersion = e.ChaincodeVersion
	c.mu.Unlock()
	return e.ChaincodeVersion
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// commit submits tx through the Gateway of via's peer and waits for its
// validation code on that peer.
func (c *consortium) commit(t *testing.T, via string, tx *forge.Transaction) forge.Status {
	t.Helper()
	if err := c.peer(t, via).Submit(ctx(t), tx); err != nil {
		t.Fatalf("submit %s: %v", tx.TxID, err)
	}
	return c.status(t, via, tx)
}

// broadcast submits tx straight to an orderer and waits for its validation
// code on via's peer.
func (c *consortium) broadcast(t *testing.T, via string, tx *forge.Transaction) forge.Status {
	t.Helper()
	o, err := c.run.DialOrderer(0)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Broadcast(ctx(t), tx); err != nil {
		t.Fatalf("broadcast %s: %v", tx.TxID, err)
	}
	return c.status(t, via, tx)
}

// status waits until every peer has committed tx, so that what a peer's
// state does not show it will not show later, and returns via's verdict;
// peers that judge it differently are reported.
func (c *consortium) status(t *testing.T, via string, tx *forge.Transaction) forge.Status {
	t.Helper()
	st, err := c.peer(t, via).CommitStatus(ctx(t), tx.Creator, tx.Channel, tx.TxID)
	if err != nil {
		t.Fatalf("commit status of %s: %v", tx.TxID, err)
	}
	t.Logf("tx %s: %s in block %d", tx.TxID, st.Code, st.Block)
	for _, m := range departments {
		if m == via {
			continue
		}
		o, err := c.peer(t, m).CommitStatus(ctx(t), tx.Creator, tx.Channel, tx.TxID)
		if err != nil {
			t.Fatalf("commit status of %s on the peer of %s: %v", tx.TxID, m, err)
		}
		if o != st {
			t.Errorf("the peer of %s marks tx %s %s in block %d, the peer of %s %s in block %d", m, tx.TxID, o.Code, o.Block, via, st.Code, st.Block)
		}
	}
	return st
}

// forged proposes inv as client, "endorses" action with the peer keys of
// endorsers and assembles the transaction: what a coalition running its
// own chaincode on its own peers can hand to the orderers.
func (c *consortium) forged(t *testing.T, prop *forge.Proposal, a forge.Action, endorsers ...string) *forge.Transaction {
	t.Helper()
	if a.ChaincodeVersion == "" {
		a.ChaincodeVersion = c.chaincodeVersion(t)
	}
	resps, err := forge.Forge(prop, a, c.peerKeys(t, endorsers...)...)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := forge.Assemble(prop, resps...)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func proposal(t *testing.T, client *forge.Signer, inv forge.Invocation) *forge.Proposal {
	t.Helper()
	p, err := forge.NewProposal(client, inv)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ledgerRead evaluates a read of the contract on msp's peer only, as that
// department's operator: what that peer's world state holds. A *forge.ChaincodeError
// is the chaincode's refusal (not_found, ...).
func (c *consortium) ledgerRead(t *testing.T, msp, fn string, args ...string) ([]byte, error) {
	t.Helper()
	return c.peer(t, msp).Evaluate(ctx(t), c.user(t, msp, "operator1"), fn, args...)
}

// absentOnEveryPeer checks that no peer's state, nor its history database,
// holds the entity of kind with id.
func (c *consortium) absentOnEveryPeer(t *testing.T, kind domain.Kind, getFn, id string) {
	t.Helper()
	for _, m := range departments {
		out, err := c.ledgerRead(t, m, getFn, id)
		if err == nil {
			t.Errorf("the peer of %s holds the forged %s %s: %s", m, kind, id, clip(out))
		} else if !isNotFound(err) {
			t.Errorf("%s %s on the peer of %s: %v", getFn, id, m, err)
		}
		out, err = c.ledgerRead(t, m, "History", string(kind), id)
		if err == nil {
			t.Errorf("the history of the peer of %s holds the forged %s %s: %d bytes", m, kind, id, len(out))
		} else if !isNotFound(err) {
			t.Errorf("History %s %s on the peer of %s: %v", kind, id, m, err)
		}
	}
}

func isNotFound(err error) bool {
	var ce *forge.ChaincodeError
	return errors.As(err, &ce) && strings.Contains(ce.Message, string(domain.CodeNotFound))
}

// person is one enrolled person calling one department's gateway.
type person struct {
	t       *testing.T
	mspID   string
	role    string
	token   string
	gateway string
}

func (c *consortium) as(t *testing.T, msp, role string) *person {
	t.Helper()
	for _, cr := range c.creds {
		if cr.MSPID == msp && cr.Role == role {
			return &person{t: t, mspID: msp, role: role, token: cr.Token, gateway: c.endpoint(t, msp).Gateway}
		}
	}
	t.Fatalf("no %s in %s", role, msp)
	return nil
}

func (c *consortium) endpoint(t *testing.T, msp string) network.EndpointDept {
	t.Helper()
	for _, d := range c.run.Endpoints.Departments {
		if d.MSPID == msp {
			return d
		}
	}
	t.Fatalf("no department %s", msp)
	return network.EndpointDept{}
}

type response struct {
	status int
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (p *person) do(method, path string, body any) response {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx(p.t), method, p.gateway+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(p.t, req)
}

func (p *person) must(want int, method, path string, body any) response {
	p.t.Helper()
	r := p.do(method, path, body)
	if r.status != want {
		p.t.Fatalf("%s %s as %s/%s: status %d, want %d: %s", method, path, p.mspID, p.role, r.status, want, r.body)
	}
	return r
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	return sendWith(t, gatewayHTTP, req)
}

func sendWith(t *testing.T, hc *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: out}
}

// indexer asks msp's indexer directly, as its gateway does for a caller of
// msp with role: the audit routes of every department's mirror, though only
// the Bureau has auditors of its own.
func (c *consortium) indexer(t *testing.T, msp, role, path string) response {
	t.Helper()
	// The indexer listens on its department's Unix socket only.
	hc, base, err := network.IndexerClient(c.endpoint(t, msp).Indexer, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Caller-Msp", msp)
	req.Header.Set("X-Caller-Role", role)
	req.Header.Set("X-Caller-User", "attack-test")
	return sendWith(t, hc, req)
}

// indexed waits until every department's indexer has applied block n, so
// that what it does not show, it will not show later.
func (c *consortium) indexed(t *testing.T, n uint64) {
	t.Helper()
	for _, m := range departments {
		r := c.indexer(t, m, "operator", fmt.Sprintf("/internal/wait?block=%d&timeout=30s", n))
		if r.status != http.StatusOK {
			t.Fatalf("indexer of %s did not reach block %d: %d %s", m, n, r.status, r.body)
		}
	}
}

// settle waits until every indexer has what msp's gateway answered for a
// write: blockNumber of its answer.
func (c *consortium) settle(t *testing.T, write response) {
	t.Helper()
	var w struct {
		BlockNumber uint64 `json:"blockNumber"`
	}
	write.json(t, &w)
	c.indexed(t, w.BlockNumber)
}

// trace is an auditor's trace of one thing on msp's indexer.
func (c *consortium) trace(t *testing.T, msp, by, id string) []map[string]any {
	t.Helper()
	r := c.indexer(t, msp, "auditor", "/v1/audit/trace?limit=1000&"+by+"="+id)
	if r.status != http.StatusOK {
		t.Fatalf("trace %s=%s on the indexer of %s: %d %s", by, id, msp, r.status, r.body)
	}
	var out struct {
		Items []map[string]any `json:"items"`
	}
	r.json(t, &out)
	return out.Items
}

// notInTrace checks that no indexer's audit trail of one thing lists txID.
func (c *consortium) notInTrace(t *testing.T, by, id, txID string) {
	t.Helper()
	for _, m := range departments {
		for _, it := range c.trace(t, m, by, id) {
			if it["txId"] == txID {
				t.Errorf("the audit trail of %s=%s on the indexer of %s lists transaction %s as %v", by, id, m, txID, it["type"])
			}
		}
	}
}

// verifyAnswer is GET /v1/audit/verify/{txId}.
type verifyAnswer struct {
	Verified bool `json:"verified"`
	Checks   []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

func (v verifyAnswer) failed() []string {
	var out []string
	for _, c := range v.Checks {
		if !c.OK {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

// clip shortens what a test prints of a record.
func clip(b []byte) string {
	const max = 240
	if len(b) <= max {
		return string(b)
	}
	return string(b[:max]) + fmt.Sprintf("… (%d bytes)", len(b))
}

// summary is a verify answer in one line: the verdict and each check's
// name and outcome, with the detail of those that failed.
func summary(r response) string {
	var v verifyAnswer
	if r.status != http.StatusOK || json.Unmarshal(r.body, &v) != nil {
		return string(r.body)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "verified=%v", v.Verified)
	for _, c := range v.Checks {
		if c.OK {
			fmt.Fprintf(&b, " %s:ok", c.Name)
		} else {
			fmt.Fprintf(&b, " %s:FAILED(%s)", c.Name, c.Detail)
		}
	}
	return b.String()
}

func uniqueID(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()) }

func newDataset(id, share string) map[string]any {
	return map[string]any{
		"id": id, "title": "Household registrations " + id, "description": "Registered households by district",
		"fields": []string{"householdId", "district", "members"}, "shareType": share, "openType": "restricted",
		"grade": 2, "updateFrequency": "daily", "derivedFrom": []string{},
	}
}

func newRequest(datasetID string) map[string]any {
	return map[string]any{
		"datasetId": datasetID, "purpose": "verify benefit eligibility", "legalBasis": "Social Assistance Regulation art. 12",
		"fields": []string{"householdId", "members"}, "validUntil": time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339),
	}
}

// mustJSON is v's JSON, for a transaction argument or a state value.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event is the payload the contract's emit would set for e.
func event(t *testing.T, e domain.Event) *forge.Event {
	t.Helper()
	e.Version = domain.EventVersion
	e.Time = e.Time.UTC()
	return &forge.Event{Name: string(e.Type), Payload: mustJSON(t, e)}
}

func entityKey(t *testing.T, kind domain.Kind, id string) string {
	t.Helper()
	k, err := domain.EntityKey(kind, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
