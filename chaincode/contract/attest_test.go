package contract

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// attestation is what an honest attestor whose indexer computed doc says of
// the published document pub.
func attestation(pub, doc domain.Scores) domain.AttestationInput {
	return domain.AttestationInput{
		Period: pub.Period, SnapshotDigest: pub.Digest(), InputDigest: doc.InputDigest,
		ScoresDigest: domain.ItemsDigest(doc.Items),
		Matched:      doc.InputDigest == pub.InputDigest && domain.ItemsDigest(doc.Items) == domain.ItemsDigest(pub.Items),
	}
}

func TestAttestScores(t *testing.T) {
	h := newHarness(t)
	pub := scores()
	h.submit(ev3, nil, "PublishScores", jsonOf(t, pub))
	h.advance(time.Minute)

	// Dept1's indexer computes the same document.
	var a1 domain.ScoreAttestation
	out := h.submit(ad1, &a1, "AttestScores", jsonOf(t, attestation(pub, pub)))
	if a1.ID != "2026-02.Dept1MSP" || a1.Period != "2026-02" || a1.MSPID != "Dept1MSP" || a1.AsOfBlock != 812 || !a1.Matched ||
		a1.SnapshotDigest != pub.Digest() || a1.InputDigest != hashA || a1.ScoresDigest != domain.ItemsDigest(pub.Items) ||
		!a1.At.Equal(h.now) || a1.By.MSPID != "Dept1MSP" || a1.By.Role != domain.RoleAdmin || a1.By.Subject != ad1.subject() {
		t.Fatalf("attestation %+v", a1)
	}
	e := h.event(out, domain.EventScoresAttested, domain.KindAttestation, "2026-02.Dept1MSP", ad1)
	if e.Attestation == nil || *e.Attestation != a1 || e.Owner != "" || e.Requester != "" {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindAttestation, "2026-02.Dept1MSP", "Dept1MSP")
	// The attestation's key and the attester's anchor, nothing shared.
	if keys := slices.Sorted(func(yield func(string) bool) {
		for k := range out.writes {
			if !yield(k) {
				return
			}
		}
	}); len(keys) != 2 {
		t.Errorf("AttestScores wrote %q, want the attestation and the anchor", keys)
	}

	// Dept2's indexer computes another document: it says so, with what differs.
	other := scores()
	other.InputDigest = hashB
	other.Items[0].Score = 12.5
	in := attestation(pub, other)
	in.Detail = "inputDigest bbbb… differs; Dept1MSP scores 12.5, published 81.5"
	var a2 domain.ScoreAttestation
	h.submit(ad2, &a2, "AttestScores", jsonOf(t, in))
	if a2.Matched || a2.InputDigest != hashB || a2.Detail != in.Detail {
		t.Fatalf("attestation %+v", a2)
	}

	var got domain.Attestations
	h.query(au3, &got, "GetAttestations", "2026-02")
	if got.Period != "2026-02" || !slices.Equal(got.Departments, []string{"BureauMSP", "Dept1MSP", "Dept2MSP", "Dept3MSP", "Dept4MSP"}) ||
		len(got.Attestations) != 2 || got.Attestations[0] != a1 || got.Attestations[1] != a2 {
		t.Fatalf("GetAttestations %+v", got)
	}
	v := domain.Judge(got.Departments, got.Attestations)
	if v.Official || len(v.MatchedBy) != 1 || !strings.HasPrefix(v.Summary, "matched by 1 of 5 departments; Dept2MSP's indexer disagrees") {
		t.Errorf("verdict %+v", v)
	}

	var hist []HistoryEntry
	h.query(au3, &hist, "History", "attestation", "2026-02.Dept1MSP")
	if len(hist) != 1 || hist[0].IsDelete {
		t.Errorf("history of the attestation %+v", hist)
	}
	h.reject(au3, domain.CodeInvalid, "must be <period>.<mspId>", "History", "attestation", "2026-02")
	h.reject(au3, domain.CodeNotFound, "", "History", "attestation", "2026-02.Dept4MSP")

	var list []domain.SnapshotListing
	h.query(ad1, &list, "ListScoreSnapshots")
	if len(list) != 1 || list[0].Period != "2026-02" || list[0].AsOfBlock != 812 || list[0].PublishedBy.MSPID != "Dept3MSP" ||
		!slices.Equal(list[0].AttestedBy, []string{"Dept1MSP", "Dept2MSP"}) {
		t.Fatalf("ListScoreSnapshots %+v", list)
	}

	// Once per department and period, whatever it would say now.
	h.reject(ad1, domain.CodeConflict, "Dept1MSP has already attested the scores of 2026-02", "AttestScores", jsonOf(t, attestation(pub, pub)))
	h.reject(ad2, domain.CodeConflict, "Dept2MSP has already attested", "AttestScores", jsonOf(t, attestation(pub, pub)))
	// A majority of the five departments matching makes it official.
	h.submit(who{"Dept3MSP", "admin", "ad3"}, nil, "AttestScores", jsonOf(t, attestation(pub, pub)))
	h.submit(who{"BureauMSP", "admin", "adb"}, nil, "AttestScores", jsonOf(t, attestation(pub, pub)))
	h.query(au3, &got, "GetAttestations", "2026-02")
	if v := domain.Judge(got.Departments, got.Attestations); !v.Official || len(v.MatchedBy) != 3 || !slices.Equal(v.Pending, []string{"Dept4MSP"}) {
		t.Errorf("verdict after three matches %+v", v)
	}
}

func TestAttestScoresRejects(t *testing.T) {
	pub := scores()
	honest := attestation(pub, pub)
	tests := []struct {
		name, patch string
		as          who
		code        domain.Code
		want        string
	}{
		{"operator", `{}`, op1, domain.CodeForbidden, "role admin is required to attest scores; caller has role operator"},
		{"evaluator", `{}`, ev3, domain.CodeForbidden, "role admin is required to attest scores; caller has role evaluator"},
		{"no role", `{}`, anon, domain.CodeForbidden, "caller has no role attribute"},
		{"no snapshot", `{"period":"2026-01"}`, ad1, domain.CodeNotFound, "snapshot 2026-01 does not exist"},
		{"another document", `{"snapshotDigest":"` + hashB + `"}`, ad1, domain.CodeConflict, "the attestation compares document " + hashB},
		{"matched with other digests", `{"inputDigest":"` + hashB + `"}`, ad1, domain.CodeInvalid, "matched is true but the digests differ"},
		{"not matched with the same digests", `{"matched":false}`, ad1, domain.CodeInvalid, "matched is false but inputDigest and scoresDigest are the snapshot's own"},
		{"period malformed", `{"period":"2026-2"}`, ad1, domain.CodeInvalid, `period "2026-2" must be YYYY-MM`},
		{"digest malformed", `{"scoresDigest":"x"}`, ad1, domain.CodeInvalid, "scoresDigest must be a lowercase hex SHA-256"},
		{"detail over two lines", `{"detail":"a\nb"}`, ad1, domain.CodeInvalid, "detail"},
		{"mspId is the caller's", `{"mspId":"Dept2MSP"}`, ad1, domain.CodeInvalid, `unknown field "mspId"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.submit(ev3, nil, "PublishScores", jsonOf(t, pub))
			h.reject(tt.as, tt.code, tt.want, "AttestScores", with(t, honest, tt.patch))
		})
	}
	t.Run("reads", func(t *testing.T) {
		h := newHarness(t)
		h.reject(au3, domain.CodeNotFound, "snapshot 2026-02 does not exist", "GetAttestations", "2026-02")
		h.reject(au3, domain.CodeInvalid, `period "26-02" must be YYYY-MM`, "GetAttestations", "26-02")
		var list []domain.SnapshotListing
		out := h.query(ad1, &list, "ListScoreSnapshots")
		if out.payload != "[]" {
			t.Errorf("ListScoreSnapshots of an empty ledger: %s", out.payload)
		}
	})
}

// TestAttestationIsAKind: the record is one of the domain's kinds, so the
// peers' validation plugin and the indexers read it back from write sets.
func TestAttestationIsAKind(t *testing.T) {
	h := newHarness(t)
	pub := scores()
	h.submit(ev3, nil, "PublishScores", jsonOf(t, pub))
	out := h.submit(ad1, nil, "AttestScores", jsonOf(t, attestation(pub, pub)))
	k := key(t, domain.KindAttestation, "2026-02.Dept1MSP")
	w, err := domain.ParseWrite(k, out.writes[k])
	if err != nil {
		t.Fatal(err)
	}
	a, ok := w.Record.(*domain.ScoreAttestation)
	if !ok || a.MSPID != "Dept1MSP" || !slices.Equal(w.Parties(), []string{"Dept1MSP"}) {
		t.Fatalf("written %+v parties %v", w.Record, w.Parties())
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(out.events[0].payload, &fields); err != nil || string(fields["attestation"]) != string(out.writes[k]) {
		t.Errorf("the event's attestation %s is not the bytes written %s", fields["attestation"], out.writes[k])
	}
}
