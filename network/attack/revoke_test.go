//go:build integration

package attack

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/govshare/ledger/network"
	"github.com/govshare/ledger/network/forge"
)

// TestRevokedCertificateIsRefusedEverywhere revokes a department's second operator
// through the gateway (POST /v1/people/{user}/revoke, Dept2's admin) and
// then acts as that person with the raw client and the revoked certificate,
// as someone who kept a copy of the key would: every peer refuses new
// proposals, a transaction endorsed before the revocation and sent to the
// orderers after it is invalid on every peer, no ledger, mirror or audit
// trail holds its write, and the gateway no longer takes the person's
// long-lived token, session or password.
//
// Each run revokes the second operator of the first department whose one is
// not revoked yet, so that it can run four times on one consortium.
func TestRevokedCertificateIsRefusedEverywhere(t *testing.T) {
	c := shared
	target := network.SecondOperator
	dept := ""
	for _, m := range []string{dept2, dept3, bureau, victim} {
		if _, err := c.peer(t, m).Evaluate(ctx(t), c.user(t, m, target), "GetDepartment", m); err == nil {
			dept = m
			break
		}
	}
	if dept == "" {
		t.Skip("every department's operator2 was revoked by earlier runs on this consortium: `make down` and run again")
	}
	signer := c.user(t, dept, target)
	serial := signer.Cert.SerialNumber.Text(16)

	// Before: the person is served by every peer and by the gateway.
	for _, m := range departments {
		if _, err := c.peer(t, m).Evaluate(ctx(t), signer, "GetDepartment", dept); err != nil {
			t.Fatalf("before the revocation, the peer of %s refuses %s: %v", m, target, err)
		}
	}
	token := credential(t, dept, target)
	gw := c.endpoint(t, dept).Gateway
	asTarget := &person{t: t, mspID: dept, role: "operator", token: token, gateway: gw}
	asTarget.must(http.StatusOK, http.MethodGet, "/v1/me", nil)
	pw := passwordOf(t, dept, target)
	var sess struct {
		Token string `json:"token"`
	}
	signIn := func() response {
		return (&person{t: t, gateway: gw}).do(http.MethodPost, "/v1/sessions", map[string]string{"user": target, "password": pw})
	}
	r := signIn()
	if r.status != http.StatusCreated {
		t.Fatalf("sign in as %s: %d %s", target, r.status, r.body)
	}
	r.json(t, &sess)
	inSession := &person{t: t, mspID: dept, role: "operator", token: sess.Token, gateway: gw}
	inSession.must(http.StatusOK, http.MethodGet, "/v1/me", nil)

	// A write endorsed while the certificate is good, held back to be sent
	// once it is revoked.
	heldID := uniqueID("revoked-held")
	held := proposal(t, signer, forge.Invocation{Function: "RegisterDataset", Args: []string{string(mustJSON(t, newDataset(heldID, "conditional")))}})
	endorsed, refused := forge.EndorseAll(ctx(t), held, c.peer(t, dept))
	if len(refused) > 0 || len(endorsed) != 1 {
		t.Fatalf("before the revocation, the peer of %s does not endorse %s's dataset: %v", dept, target, refused)
	}
	heldTx, err := forge.Assemble(held, endorsed...)
	if err != nil {
		t.Fatal(err)
	}

	// Refusals before anything is revoked.
	admin := c.as(t, dept, "admin")
	c.as(t, dept, "operator").must(http.StatusForbidden, http.MethodPost, "/v1/people/"+target+"/revoke", nil)
	admin.must(http.StatusNotFound, http.MethodPost, "/v1/people/nobody/revoke", nil)
	admin.must(http.StatusConflict, http.MethodPost, "/v1/people/admin/revoke", nil)
	admin.must(http.StatusBadRequest, http.MethodPost, "/v1/people/"+target+"/revoke", map[string]string{"reason": "because"})
	if _, err := c.peer(t, dept).Evaluate(ctx(t), signer, "GetDepartment", dept); err != nil {
		t.Fatalf("a refused revocation revoked %s: %v", target, err)
	}

	// The revocation.
	before := c.height(t, dept)
	r = admin.must(http.StatusOK, http.MethodPost, "/v1/people/"+target+"/revoke", map[string]string{"reason": "keycompromise"})
	var rev struct {
		User           string   `json:"user"`
		Serial         string   `json:"serial"`
		SessionsEnded  int      `json:"sessionsEnded"`
		CRLSerials     []string `json:"crlSerials"`
		ChannelUpdated bool     `json:"channelUpdated"`
	}
	r.json(t, &rev)
	if rev.User != target || rev.Serial != serial || !slices.Contains(rev.CRLSerials, serial) || !rev.ChannelUpdated || rev.SessionsEnded != 1 {
		t.Fatalf("revocation answer %s: want user %s, serial %s in crlSerials, channelUpdated, one session ended", r.body, target, serial)
	}
	after := c.height(t, dept)
	t.Logf("revoked %s (serial %s): channel height %d -> %d", target, serial, before, after)
	if after > before+2 {
		t.Errorf("the revocation took %d blocks; the configuration update is one", after-before)
	}

	// Every peer refuses the revoked certificate at once: reads and writes.
	for _, m := range departments {
		_, err := c.peer(t, m).Evaluate(ctx(t), signer, "GetDepartment", dept)
		if err == nil {
			t.Errorf("ATTACK WENT THROUGH: the peer of %s serves the revoked %s", m, target)
			continue
		}
		t.Logf("the peer of %s refuses the revoked certificate: %v", m, err)
	}
	fresh := proposal(t, signer, forge.Invocation{Function: "RegisterDataset", Args: []string{string(mustJSON(t, newDataset(uniqueID("revoked-new"), "conditional")))}})
	if ok, _ := forge.EndorseAll(ctx(t), fresh, everyPeer(t)...); len(ok) > 0 {
		t.Errorf("ATTACK WENT THROUGH: %d peers endorsed a proposal signed with the revoked certificate", len(ok))
	}

	// The write endorsed before the revocation: every orderer refuses it
	// (its creator no longer satisfies the channel's Writers), and were one
	// to order it, every peer would mark it invalid.
	accepted := false
	for i := range c.run.Topology.Ordering.Nodes {
		o, err := c.run.DialOrderer(i)
		if err != nil {
			t.Fatal(err)
		}
		err = o.Broadcast(ctx(t), heldTx)
		o.Close()
		if err == nil {
			accepted = true
			t.Errorf("orderer %d accepted the held write of the revoked %s", i, target)
			continue
		}
		if !strings.Contains(err.Error(), "FORBIDDEN") {
			t.Errorf("orderer %d refused the held write, not as forbidden: %v", i, err)
		}
		t.Logf("orderer %d refuses the held write: %v", i, err)
	}
	if accepted {
		if st := c.status(t, dept, heldTx); st.Valid() {
			t.Errorf("ATTACK WENT THROUGH: the held write of the revoked %s committed VALID in block %d", target, st.Block)
		}
	}
	c.indexed(t, c.height(t, dept)-1)
	c.absentOnEveryPeer(t, "dataset", "GetDataset", heldID)
	for _, m := range departments {
		if r := c.indexer(t, m, "auditor", "/v1/datasets/"+heldID); r.status != http.StatusNotFound {
			t.Errorf("the mirror of %s answers %d for the held dataset: %s", m, r.status, clip(r.body))
		}
	}
	c.notInTrace(t, "dataset", heldID, heldTx.TxID)

	// The gateway: every credential of the person is refused, and says why.
	for name, p := range map[string]*person{"long-lived token": asTarget, "session": inSession} {
		r := p.do(http.MethodGet, "/v1/me", nil)
		if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "revoked") {
			t.Errorf("the revoked person's %s: %d %s, want 401 naming the revocation", name, r.status, r.body)
		}
	}
	if r := signIn(); r.status != http.StatusUnauthorized {
		t.Errorf("the revoked person signs in: %d %s", r.status, r.body)
	}

	// Again: nothing left to do, the same answer.
	r = admin.must(http.StatusOK, http.MethodPost, "/v1/people/"+target+"/revoke", nil)
	r.json(t, &rev)
	if rev.ChannelUpdated || !slices.Contains(rev.CRLSerials, serial) {
		t.Errorf("a second revocation: %s, want channelUpdated false and the serial listed", r.body)
	}
	if h := c.height(t, dept); h != after && h > after+1 {
		t.Logf("height moved %d -> %d (other writes)", after, h)
	}

	// The others keep working: the department's first operator writes.
	c.as(t, dept, "operator").must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(uniqueID("after-revoke"), "conditional"))
}

// height is the channel height on msp's peer.
func (c *consortium) height(t *testing.T, msp string) uint64 {
	t.Helper()
	h, err := c.peer(t, msp).Height(ctx(t), c.user(t, msp, "operator1"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// credential is user's long-lived token from credentials.json.
func credential(t *testing.T, msp, user string) string {
	t.Helper()
	for _, cr := range shared.creds {
		if cr.MSPID == msp && cr.User == user {
			return cr.Token
		}
	}
	t.Fatalf("no credential of %s in %s", user, msp)
	return ""
}

// passwordOf is user's initial password from passwords.json.
func passwordOf(t *testing.T, msp, user string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(os.Getenv("GOVSHARE_RUN"), "passwords.json"))
	if err != nil {
		t.Fatal(err)
	}
	var list []network.Password
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p.MSPID == msp && p.User == user {
			return p.Password
		}
	}
	t.Fatal(errors.New("no password of " + user + " in " + msp))
	return ""
}
