//go:build integration

package attack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/network/forge"
)

// Hole 5 of issue 11: scores that nobody checks. PublishScores stored
// whatever document it was given, for any period: 2099-12 was published
// and frozen, and so was the current month. A period can now be published
// only once it is over, and every department's gateway attests each
// published snapshot from its own indexer; GET /v1/scores/snapshots/{period}
// calls it official only when a majority of departments matched it.

// snapshotAnswer is GET /v1/scores/snapshots/{period}.
type snapshotAnswer struct {
	domain.ScoreSnapshot
	Attestations []domain.ScoreAttestation `json:"attestations"`
	domain.Verdict
}

// sha is the hex SHA-256 of s.
func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// period is the month n months from now, UTC.
func period(n int) string {
	now := time.Now().UTC()
	return time.Date(now.Year(), now.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
}

func allPeers(t *testing.T) []*forge.Peer {
	t.Helper()
	peers := make([]*forge.Peer, len(departments))
	for i, m := range departments {
		peers[i] = shared.peer(t, m)
	}
	return peers
}

// ledgerHeight is the height of the Bureau's indexer, once it has caught up.
func ledgerHeight(t *testing.T) uint64 {
	t.Helper()
	var st struct {
		Height       uint64  `json:"height"`
		LedgerHeight *uint64 `json:"ledgerHeight"`
	}
	r := shared.indexer(t, bureau, "auditor", "/internal/status")
	if r.status != http.StatusOK {
		t.Fatalf("status of the indexer of %s: %d %s", bureau, r.status, r.body)
	}
	r.json(t, &st)
	if st.Height == 0 {
		t.Fatalf("the indexer of %s holds no block", bureau)
	}
	return st.Height
}

// TestScoresOfAPeriodNotOverAreRefused: the Bureau's evaluator, with a raw
// client, asks every peer to endorse a snapshot of the current month and
// of 2099-12; every peer refuses, naming the period and when it ends, and
// nothing is on any peer. Through REST the same is a 409.
func TestScoresOfAPeriodNotOverAreRefused(t *testing.T) {
	ev := shared.user(t, bureau, "evaluator1")
	peers := allPeers(t)
	for _, p := range []string{period(0), "2099-12"} {
		t.Run(p, func(t *testing.T) {
			_, end, err := domain.PeriodBounds(p)
			if err != nil {
				t.Fatal(err)
			}
			doc := domain.Scores{Period: p, AsOfBlock: 1, InputDigest: sha("frozen early"), Items: []domain.ScoreItem{
				{MSPID: bureau, Rank: 1, Score: 100, Breakdown: map[string]float64{"supply": 1e6, "supply.norm": 1}},
			}}
			prop := proposal(t, ev, forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
			endorsed, refused := forge.EndorseAll(ctx(t), prop, peers...)
			want := fmt.Sprintf("period %s is not over: it ends at %s", p, end.Format(time.RFC3339))
			for _, err := range refused {
				var ce *forge.ChaincodeError
				if !errors.As(err, &ce) || !strings.Contains(ce.Message, want) {
					t.Errorf("a peer refused the snapshot of %s without saying %q: %v", p, want, err)
				} else {
					t.Logf("refused: %s", ce.Message)
				}
			}
			if len(endorsed) > 0 {
				t.Errorf("ATTACK WENT THROUGH: %d of %d peers endorsed a snapshot of %s, which ends at %s", len(endorsed), len(peers), p, end.Format(time.RFC3339))
				if tx, err := forge.Assemble(prop, endorsed...); err == nil {
					st := shared.commit(t, bureau, tx)
					t.Errorf("the snapshot of %s committed %s in block %d", p, st.Code, st.Block)
				}
			}
			for _, m := range departments {
				if out, err := shared.ledgerRead(t, m, "GetScoreSnapshot", p); err == nil {
					t.Errorf("the peer of %s holds a snapshot of %s: %s", m, p, clip(out))
				} else if !isNotFound(err) {
					t.Errorf("GetScoreSnapshot %s on the peer of %s: %v", p, m, err)
				}
			}
			r := shared.as(t, bureau, "evaluator").must(http.StatusConflict, http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": p})
			if !strings.Contains(string(r.body), want) {
				t.Errorf("REST refusal of %s does not say %q: %s", p, want, r.body)
			}
		})
	}
}

// TestScoresFabricatedSnapshotIsNotOfficial: the Bureau's evaluator publishes,
// with a raw client, a fabricated document for last month (Dept1 at 100, an
// input digest of nothing the ledger holds) at a real block. The contract
// cannot tell, so it commits; then every department's attestor recomputes
// the month on its own indexer at that block, finds another document, and
// says so on the ledger. The snapshot is not official, and the answer names
// who disagrees and why.
func TestScoresFabricatedSnapshotIsNotOfficial(t *testing.T) {
	p := period(-1)
	asOf := ledgerHeight(t) - 1
	doc := domain.Scores{Period: p, AsOfBlock: asOf, InputDigest: sha("fabricated " + p), Items: []domain.ScoreItem{
		{MSPID: victim, Rank: 1, Score: 100, Breakdown: map[string]float64{"supply": 1e6, "supply.norm": 1}},
		{MSPID: bureau, Rank: 2, Score: 0, Breakdown: map[string]float64{"supply": 0, "supply.norm": 0}},
		{MSPID: dept2, Rank: 3, Score: 0, Breakdown: map[string]float64{"supply": 0, "supply.norm": 0}},
		{MSPID: dept3, Rank: 4, Score: 0, Breakdown: map[string]float64{"supply": 0, "supply.norm": 0}},
	}}
	prop := proposal(t, shared.user(t, bureau, "evaluator1"), forge.Invocation{Function: "PublishScores", Args: []string{string(mustJSON(t, doc))}})
	endorsed, refused := forge.EndorseAll(ctx(t), prop, allPeers(t)...)
	switch {
	case len(refused) == 0:
		tx, err := forge.Assemble(prop, endorsed...)
		if err != nil {
			t.Fatal(err)
		}
		st := shared.commit(t, bureau, tx)
		if !st.Valid() {
			t.Fatalf("the fabricated snapshot of %s committed %s: the attack needs it on the ledger", p, st.Code)
		}
		shared.indexed(t, st.Block)
	case strings.Contains(refused[0].Error(), "already published"):
		// An earlier run on this ledger published it; check it is that document.
		out, err := shared.ledgerRead(t, bureau, "GetScoreSnapshot", p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"inputDigest":"`+sha("fabricated "+p)+`"`) {
			t.Skipf("%s was published on this ledger by something else than this test: %s", p, clip(out))
		}
		t.Logf("%s was published by an earlier run of this test", p)
		r := shared.as(t, bureau, "auditor").must(http.StatusOK, http.MethodGet, "/v1/scores/snapshots/"+p, nil)
		var a snapshotAnswer
		r.json(t, &a)
		doc = a.Scores
	default:
		t.Fatalf("the peers refused an evaluator's snapshot of %s, which is over: %v", p, refused)
	}

	a := awaitAttestations(t, p)
	for _, at := range a.Attestations {
		if at.Matched || at.MSPID != at.By.MSPID || at.By.Role != domain.RoleAdmin || at.AsOfBlock != doc.AsOfBlock || at.SnapshotDigest != doc.Digest() {
			t.Errorf("ATTACK WENT THROUGH: %s's attestation of the fabricated %s: %+v", at.MSPID, p, at)
		}
		// What it attests is what its own indexer computes at that block.
		r := shared.indexer(t, at.MSPID, "auditor", fmt.Sprintf("/v1/scores?period=%s&asOfBlock=%d", p, doc.AsOfBlock))
		var mine domain.Scores
		r.json(t, &mine)
		if at.InputDigest != mine.InputDigest || at.ScoresDigest != domain.ItemsDigest(mine.Items) {
			t.Errorf("%s attests inputDigest %s scores %s; its indexer computes %s and %s", at.MSPID, at.InputDigest, at.ScoresDigest, mine.InputDigest, domain.ItemsDigest(mine.Items))
		}
		if !strings.Contains(at.Detail, "published "+doc.InputDigest) {
			t.Errorf("%s's attestation does not say which digest differs: %q", at.MSPID, at.Detail)
		}
	}
	t.Logf("summary: %s", a.Summary)
	// Every honest indexer computes the same document, so they all say the
	// same thing, grouped in one clause.
	want := fmt.Sprintf("matched by 0 of %d departments", len(departments))
	if a.Official || len(a.MatchedBy) != 0 || len(a.DisputedBy) != len(departments) || !strings.HasPrefix(a.Summary, want) ||
		!strings.Contains(a.Summary, "the indexers of BureauMSP, Dept1MSP, Dept2MSP and Dept3MSP disagree: inputDigest "+a.Attestations[0].InputDigest[:12]+"…") ||
		!strings.Contains(a.Summary, "not official") {
		t.Errorf("ATTACK WENT THROUGH: the fabricated snapshot of %s reads official=%v, %q", p, a.Official, a.Summary)
	}
	// Every peer holds the same attestations.
	for _, m := range departments {
		out, err := shared.ledgerRead(t, m, "GetAttestations", p)
		if err != nil {
			t.Errorf("GetAttestations %s on the peer of %s: %v", p, m, err)
			continue
		}
		if !strings.Contains(string(out), `"matched":false`) || strings.Contains(string(out), `"matched":true`) {
			t.Errorf("the peer of %s holds attestations of %s: %s", m, p, clip(out))
		}
	}
	// And no department attests twice, even to change its mind.
	again := domain.AttestationInput{Period: p, SnapshotDigest: doc.Digest(), InputDigest: doc.InputDigest, ScoresDigest: domain.ItemsDigest(doc.Items), Matched: true}
	prop = proposal(t, shared.user(t, victim, "admin"), forge.Invocation{Function: "AttestScores", Args: []string{string(mustJSON(t, again))}})
	if endorsed, refused := forge.EndorseAll(ctx(t), prop, shared.peer(t, victim)); len(endorsed) != 0 || len(refused) != 1 || !strings.Contains(refused[0].Error(), "already attested") {
		t.Errorf("ATTACK WENT THROUGH: %s's second attestation of %s, now matched: endorsed %d, refused %v", victim, p, len(endorsed), refused)
	}
}

// TestScoresHonestSnapshotIsOfficial: the Bureau's evaluator publishes the month
// before last through REST (its gateway computes it on the Bureau's own
// indexer); every department's attestor matches it and it is official.
func TestScoresHonestSnapshotIsOfficial(t *testing.T) {
	p := period(-2)
	r := shared.as(t, bureau, "evaluator").do(http.MethodPost, "/v1/scores/snapshots", map[string]any{"period": p})
	switch r.status {
	case http.StatusCreated:
		shared.settle(t, r)
	case http.StatusConflict:
		t.Logf("%s was already published on this ledger: %s", p, r.body)
	default:
		t.Fatalf("publish %s: %d %s", p, r.status, r.body)
	}
	a := awaitAttestations(t, p)
	for _, at := range a.Attestations {
		if !at.Matched || at.Detail != "" || at.By.Role != domain.RoleAdmin || at.InputDigest != a.InputDigest {
			t.Errorf("%s's attestation of the honest %s: %+v", at.MSPID, p, at)
		}
	}
	t.Logf("summary: %s", a.Summary)
	want := fmt.Sprintf("matched by %d of %d departments; official", len(departments), len(departments))
	if !a.Official || len(a.MatchedBy) != len(departments) || a.Summary != want {
		t.Errorf("the honest snapshot of %s reads official=%v %q, want %q", p, a.Official, a.Summary, want)
	}
}

// TestScoresCoalitionCannotAttestInAnothersName: three departments endorse, with
// their own peers' keys, an attestation "by" Dept1's admin that a period
// matched. The attestation names Dept1 alone, so the peers' validation
// plugin needs Dept1's peer: ENDORSEMENT_POLICY_FAILURE, and nothing on any
// peer. The control with Dept1's peer commits.
func TestScoresCoalitionCannotAttestInAnothersName(t *testing.T) {
	forgedAttestation := func(p string) (string, *forge.Proposal, forge.Action) {
		in := domain.AttestationInput{Period: p, SnapshotDigest: sha("doc"), InputDigest: sha("in"), ScoresDigest: sha("scores"), Matched: true}
		client := shared.user(t, dept2, "admin")
		now := time.Now().UTC()
		prop := proposal(t, client, forge.Invocation{Function: "AttestScores", Args: []string{string(mustJSON(t, in))}, Timestamp: now})
		id := domain.AttestationID(p, victim)
		att := &domain.ScoreAttestation{ID: id, Period: p, MSPID: victim, AsOfBlock: 1, SnapshotDigest: in.SnapshotDigest,
			InputDigest: in.InputDigest, ScoresDigest: in.ScoresDigest, Matched: true, At: now, By: shared.user(t, victim, "admin").Actor()}
		key := entityKey(t, domain.KindAttestation, id)
		var ws forge.RWSet
		ws.Read(key, nil)
		ws.Put(key, mustJSON(t, att))
		mustSetEndorsers(t, &ws, key, victim)
		return id, prop, forge.Action{
			RWSets: []forge.RWSet{ws},
			Event: event(t, domain.Event{Type: domain.EventScoresAttested, Kind: domain.KindAttestation, ID: id, Time: now,
				Actor: client.Actor(), Attestation: att}),
			Payload: mustJSON(t, att),
		}
	}
	// Periods no one publishes, so that no honest attestor writes the key
	// first, and another on each run.
	randomPeriod := func() string { return fmt.Sprintf("%04d-%02d", 1000+rand.IntN(900), 1+rand.IntN(12)) }
	id, prop, action := forgedAttestation(randomPeriod())
	st := shared.commit(t, dept2, shared.forged(t, prop, action, coalition...))
	expectPolicyFailure(t, st, "the coalition's attestation "+id+" in "+victim+"'s name")
	for _, m := range departments {
		out, err := shared.ledgerRead(t, m, "History", string(domain.KindAttestation), id)
		if err == nil {
			t.Errorf("the peer of %s holds the forged attestation %s: %s", m, id, clip(out))
		} else if !isNotFound(err) {
			t.Errorf("History of %s on the peer of %s: %v", id, m, err)
		}
	}
	t.Run("control: with Dept1's peer it commits", func(t *testing.T) {
		id, prop, action := forgedAttestation(randomPeriod())
		st := shared.commit(t, dept2, shared.forged(t, prop, action, append([]string{victim}, coalition...)...))
		if !st.Valid() {
			t.Errorf("the same write set endorsed by %s's peer too committed %s: the forgery above was refused for another reason", victim, st.Code)
		}
		if _, err := shared.ledgerRead(t, victim, "History", string(domain.KindAttestation), id); err != nil {
			t.Errorf("control attestation %s: %v", id, err)
		}
	})
}

// awaitAttestations polls the snapshot of p through the Bureau auditor's
// gateway until every department has attested it.
func awaitAttestations(t *testing.T, p string) snapshotAnswer {
	t.Helper()
	auditorP := shared.as(t, bureau, "auditor")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var a snapshotAnswer
		auditorP.must(http.StatusOK, http.MethodGet, "/v1/scores/snapshots/"+p, nil).json(t, &a)
		if len(a.Attestations) == len(departments) {
			if len(a.Departments) != len(departments) {
				t.Errorf("the snapshot of %s counts departments %v", p, a.Departments)
			}
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes %d of %d departments have attested %s: %s", len(a.Attestations), len(departments), p, a.Summary)
		}
		time.Sleep(time.Second)
	}
}
