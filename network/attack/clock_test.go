//go:build integration

package attack

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// clockRefusal is how a peer's refusal of a timestamp must read: the
// chaincode names the clock it judged by.
var clockRefusal = regexp.MustCompile(`(?i)clock|skew|timestamp`)

// TestProposalClockIsChecked is hole 3 of issue 11: the transaction
// timestamp is whatever the client signs. Proposals dated away from the
// peers' clocks go to honest peers: two weeks ago and an hour ahead, which
// Fabric's own TimeWindowCheck auth filter (peer.authentication.timewindow,
// 15 minutes in v3's core.yaml) already refuses before any chaincode runs;
// ten minutes either way, inside that window, which only the contract's
// own skew (5 minutes by default) refuses; and, inside both, transitions
// that run backwards: an approval before its request, a usage before its
// approval. Every honest peer must refuse each one, naming the clock where
// the clock is the reason, and nothing may be committed. A proposal dated
// now still goes through.
func TestProposalClockIsChecked(t *testing.T) {
	owner := shared.as(t, victim, "operator")
	consumer := shared.as(t, dept2, "operator")
	open, cond := uniqueID("open"), uniqueID("cond")
	owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(open, "unconditional"))
	shared.settle(t, owner.must(http.StatusCreated, http.MethodPost, "/v1/datasets", newDataset(cond, "conditional")))
	var approved struct {
		Request domain.Request `json:"request"`
	}
	consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(open)).json(t, &approved)
	if approved.Request.Status != domain.RequestApproved || approved.Request.DecidedAt == nil {
		t.Fatalf("request of unconditional data is %s, want approved", approved.Request.Status)
	}
	pending := make([]domain.Request, 3)
	var last response
	for i := range pending {
		var out struct {
			Request domain.Request `json:"request"`
		}
		last = consumer.must(http.StatusCreated, http.MethodPost, "/v1/requests", newRequest(cond))
		last.json(t, &out)
		if out.Request.Status != domain.RequestPending {
			t.Fatalf("request of conditional data is %s, want pending", out.Request.Status)
		}
		pending[i] = out.Request
	}
	shared.settle(t, last)
	usage := string(mustJSON(t, domain.UsageInput{RequestID: approved.Request.ID, Calls: 3, Records: 300}))

	peers := make([]*forge.Peer, len(departments))
	for i, m := range departments {
		peers[i] = shared.peer(t, m)
	}
	// attempt sends the proposal to every peer and checks each refused it,
	// with a message matching want (any refusal when want is nil). What was
	// endorsed anyway is submitted, as an attacker would.
	attempt := func(t *testing.T, signer *forge.Signer, fn string, args []string, at time.Time, want *regexp.Regexp) *forge.Proposal {
		t.Helper()
		prop := proposal(t, signer, forge.Invocation{Function: fn, Args: args, Timestamp: at})
		endorsed, refused := forge.EndorseAll(ctx(t), prop, peers...)
		for _, err := range refused {
			var ce *forge.ChaincodeError
			msg := err.Error()
			if errors.As(err, &ce) {
				msg = ce.Message
				t.Logf("refused by the chaincode: %v", err)
			} else {
				t.Logf("refused by the peer before the chaincode: %v", err)
			}
			if want != nil && !want.MatchString(msg) {
				t.Errorf("%s dated %s was refused without naming the clock: %v", fn, at.Format(time.RFC3339), err)
			}
		}
		if len(endorsed) == 0 {
			return prop
		}
		e, _ := forge.ParseResponse(endorsed[0])
		t.Errorf("ATTACK WENT THROUGH: %d of %d peers endorsed %s signed by %s dated %s (%s from now): %s",
			len(endorsed), len(peers), fn, signer.Subject(), at.UTC().Format(time.RFC3339), time.Until(at).Round(time.Second), clip(e.Payload))
		tx, err := forge.Assemble(prop, endorsed...)
		if err != nil {
			t.Logf("cannot assemble the endorsements: %v", err)
			return prop
		}
		st := shared.commit(t, dept2, tx)
		if st.Valid() {
			t.Errorf("ATTACK WENT THROUGH: %s dated %s committed VALID in block %d", fn, at.UTC().Format(time.RFC3339), st.Block)
		}
		shared.indexed(t, st.Block)
		return prop
	}

	for _, c := range []struct {
		name string
		at   time.Time
		want *regexp.Regexp
	}{
		{"usage dated two weeks ago", time.Now().Add(-14 * 24 * time.Hour), clockRefusal},
		{"usage dated an hour ahead", time.Now().Add(time.Hour), clockRefusal},
		{"usage dated ten minutes ago", time.Now().Add(-10 * time.Minute), clockRefusal},
		{"usage dated ten minutes ahead", time.Now().Add(10 * time.Minute), clockRefusal},
		{"usage dated before its approval", approved.Request.DecidedAt.Add(-2 * time.Minute), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			prop := attempt(t, shared.user(t, dept2, "operator1"), "RecordUsage", []string{usage}, c.at, c.want)
			id := "us-" + prop.TxID[:24]
			shared.absentOnEveryPeer(t, domain.KindUsage, "GetUsage", id)
			if r := consumer.do(http.MethodGet, "/v1/usage/"+id, nil); r.status != http.StatusNotFound {
				t.Errorf("the gateway of %s shows usage %s: %d %s", dept2, id, r.status, clip(r.body))
			}
			shared.notInTrace(t, "request", approved.Request.ID, prop.TxID)
		})
	}

	for i, c := range []struct {
		name   string
		before time.Duration
		want   *regexp.Regexp
	}{
		{"approval dated two weeks before its request", 14 * 24 * time.Hour, clockRefusal},
		{"approval dated ten minutes before its request", 10 * time.Minute, clockRefusal},
		{"approval dated two minutes before its request", 2 * time.Minute, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rq := pending[i]
			prop := attempt(t, shared.user(t, victim, "approver1"), "ApproveRequest", []string{rq.ID, `{"reason":"backdated"}`},
				rq.CreatedAt.Add(-c.before), c.want)
			shared.notInTrace(t, "request", rq.ID, prop.TxID)
			for _, m := range departments {
				out, err := shared.ledgerRead(t, m, "GetRequest", rq.ID)
				var r domain.Request
				if err != nil || json.Unmarshal(out, &r) != nil || r.Status != domain.RequestPending {
					t.Errorf("request %s on the peer of %s is %s (decided at %v), want pending (err %v)", rq.ID, m, r.Status, r.DecidedAt, err)
				}
			}
			var r domain.Request
			owner.must(http.StatusOK, http.MethodGet, "/v1/requests/"+rq.ID, nil).json(t, &r)
			if r.Status != domain.RequestPending {
				t.Errorf("the gateway of %s shows request %s %s, decided at %v", victim, rq.ID, r.Status, r.DecidedAt)
			}
		})
	}

	t.Run("usage dated now still goes through", func(t *testing.T) {
		prop := proposal(t, shared.user(t, dept2, "operator1"), forge.Invocation{Function: "RecordUsage", Args: []string{usage}})
		endorsed, refused := forge.EndorseAll(ctx(t), prop, peers...)
		if len(refused) > 0 {
			t.Fatalf("honest peers refused an honest usage record: %v", refused)
		}
		tx, err := forge.Assemble(prop, endorsed...)
		if err != nil {
			t.Fatal(err)
		}
		st := shared.commit(t, dept2, tx)
		if !st.Valid() {
			t.Fatalf("an honest usage record committed %s", st.Code)
		}
		shared.indexed(t, st.Block)
		id := "us-" + prop.TxID[:24]
		for _, m := range departments {
			if _, err := shared.ledgerRead(t, m, "GetUsage", id); err != nil {
				t.Errorf("the peer of %s: %v", m, err)
			}
		}
		var u domain.Usage
		consumer.must(http.StatusOK, http.MethodGet, "/v1/usage/"+id, nil).json(t, &u)
		if u.Calls != 3 || u.Consumer != dept2 {
			t.Errorf("usage %s through the gateway: %+v", id, u)
		}
	})
}
