package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/govshare/ledger/chaincode/domain"
)

const (
	digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestSnapshotWithAttestations: the snapshot comes from the ledger with its
// attestations and the verdict; both reads go to the peer, none to the index.
func TestSnapshotWithAttestations(t *testing.T) {
	snap := `{"period":"2025-11","asOfBlock":40,"inputDigest":"` + digestA + `","items":[{"mspId":"Dept1MSP","rank":1,"score":100,"breakdown":{}}],` +
		`"id":"2025-11","publishedAt":"2025-12-02T10:00:00Z","publishedBy":{"mspId":"BureauMSP","subject":"CN=evaluator1","role":"evaluator"}}`
	att := func(msp string, matched bool, input string) string {
		return `{"id":"2025-11.` + msp + `","period":"2025-11","mspId":"` + msp + `","asOfBlock":40,"snapshotDigest":"` + digestA +
			`","inputDigest":"` + input + `","scoresDigest":"` + digestB + `","matched":` + map[bool]string{true: "true", false: "false"}[matched] +
			`,"detail":"","at":"2025-12-02T10:00:05Z","by":{"mspId":"` + msp + `","subject":"CN=admin1","role":"admin"}}`
	}
	tests := []struct {
		name     string
		atts     string
		official bool
		summary  string
	}{
		{"three of four match", `[` + att("BureauMSP", true, digestA) + `,` + att("Dept1MSP", true, digestA) + `,` + att("Dept2MSP", false, digestB) + `,` + att("Dept3MSP", true, digestA) + `]`,
			true, "matched by 3 of 4 departments; Dept2MSP's indexer disagrees: inputDigest bbbbbbbbbbbb…"},
		{"nobody has attested yet", `[]`, false, "matched by 0 of 4 departments; not yet attested by BureauMSP, Dept1MSP, Dept2MSP, Dept3MSP; not official"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ledger.evals = map[string][]byte{
				"GetScoreSnapshot": []byte(snap),
				"GetAttestations":  []byte(`{"period":"2025-11","departments":["BureauMSP","Dept1MSP","Dept2MSP","Dept3MSP"],"attestations":` + tt.atts + `}`),
			}
			rec := f.do(t, "GET", "/v1/scores/snapshots/2025-11", "auditor", "")
			if rec.Code != http.StatusOK {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			var a struct {
				Period       string                    `json:"period"`
				AsOfBlock    uint64                    `json:"asOfBlock"`
				PublishedBy  domain.Actor              `json:"publishedBy"`
				Items        []domain.ScoreItem        `json:"items"`
				Attestations []domain.ScoreAttestation `json:"attestations"`
				Departments  []string                  `json:"departments"`
				MatchedBy    []string                  `json:"matchedBy"`
				Official     bool                      `json:"official"`
				Summary      string                    `json:"summary"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			if a.Period != "2025-11" || a.AsOfBlock != 40 || a.PublishedBy.MSPID != "BureauMSP" || len(a.Items) != 1 || len(a.Departments) != 4 ||
				a.Official != tt.official || !strings.HasPrefix(a.Summary, tt.summary) || a.Attestations == nil || a.MatchedBy == nil {
				t.Fatalf("answer %s", rec.Body)
			}
			if len(f.ledger.calls) != 2 || f.ledger.calls[0].tx != "GetScoreSnapshot" || f.ledger.calls[1].tx != "GetAttestations" ||
				f.ledger.calls[1].args[0] != "2025-11" || f.ledger.calls[1].user != "auditor-user" {
				t.Fatalf("ledger calls %+v", f.ledger.calls)
			}
			if len(f.index.gets) != 0 {
				t.Fatal("a ledger read went to the index")
			}
		})
	}
	t.Run("not published", func(t *testing.T) {
		f := newFixture(t)
		f.ledger.err = txError{domain.Errorf(domain.CodeNotFound, "snapshot 2025-10 does not exist"), "tx-q"}
		rec := f.do(t, "GET", "/v1/scores/snapshots/2025-10", "evaluator", "")
		if rec.Code != http.StatusNotFound || !strings.Contains(errorOf(t, rec).Message, "snapshot 2025-10 does not exist") {
			t.Fatalf("answer %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("operators may not", func(t *testing.T) {
		f := newFixture(t)
		if rec := f.do(t, "GET", "/v1/scores/snapshots/2025-10", "operator", ""); rec.Code != http.StatusForbidden {
			t.Fatalf("answer %d %s", rec.Code, rec.Body)
		}
	})
}

// TestPublishOnlyAfterThePeriod: the fixture's clock is 2026-01-01T00:00Z,
// so 2026-01 and later are refused before the index is asked; a past period
// is computed and submitted, even one that scores nobody.
func TestPublishOnlyAfterThePeriod(t *testing.T) {
	for _, p := range []string{"2026-01", "2099-12"} {
		f := newFixture(t)
		rec := f.do(t, "POST", "/v1/scores/snapshots", "evaluator", `{"period":"`+p+`"}`)
		if rec.Code != http.StatusConflict || !strings.Contains(errorOf(t, rec).Message, "period "+p+" is not over") {
			t.Fatalf("publish %s: %d %s", p, rec.Code, rec.Body)
		}
		if len(f.index.gets) != 0 || len(f.ledger.calls) != 0 {
			t.Fatalf("publish %s reached the index or the ledger", p)
		}
	}
	f := newFixture(t)
	f.index.getBody = `{"period":"2025-12","asOfBlock":12,"inputDigest":"` + digestA + `","items":[]}`
	rec := f.do(t, "POST", "/v1/scores/snapshots", "evaluator", `{"period":"2025-12"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("publish 2025-12: %d %s", rec.Code, rec.Body)
	}
	c := f.ledger.last(t)
	if c.kind != "submit" || c.tx != "PublishScores" || c.args[0] != `{"period":"2025-12","asOfBlock":12,"inputDigest":"`+digestA+`","items":[]}` {
		t.Fatalf("call %+v", c)
	}
}
