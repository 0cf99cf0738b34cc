package domain

import (
	"strings"
	"testing"
	"time"
)

const (
	digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestCheckPeriodOver(t *testing.T) {
	tests := []struct {
		period string
		now    time.Time
		want   string
	}{
		{"2026-02", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2026-02", time.Date(2026, 2, 28, 23, 59, 59, 999999999, time.UTC), "[conflict] period 2026-02 is not over: it ends at 2026-03-01T00:00:00Z"},
		{"2026-12", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2099-12", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "[conflict] period 2099-12 is not over: it ends at 2100-01-01T00:00:00Z"},
		// 00:30 in UTC+8 on 1 March is still February in UTC.
		{"2026-02", time.Date(2026, 3, 1, 0, 30, 0, 0, time.FixedZone("CST", 8*3600)), "[conflict] period 2026-02 is not over"},
		{"2026-13", time.Now(), `[invalid] period "2026-13" must be YYYY-MM`},
	}
	for _, tt := range tests {
		err := CheckPeriodOver(tt.period, tt.now)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
			t.Errorf("CheckPeriodOver(%s, %v) = %v, want %q", tt.period, tt.now, err, tt.want)
		}
	}
}

func TestDigests(t *testing.T) {
	doc := Scores{Period: "2026-02", AsOfBlock: 9, InputDigest: digestA, Items: []ScoreItem{
		{MSPID: "Dept1MSP", Rank: 1, Score: 81.5, Breakdown: map[string]float64{"b": 0.1, "a": 0.2}},
	}}
	same := doc
	same.Items = []ScoreItem{{MSPID: "Dept1MSP", Rank: 1, Score: 81.5, Breakdown: map[string]float64{"a": 0.2, "b": 0.1}}}
	if doc.Digest() != same.Digest() || ItemsDigest(doc.Items) != ItemsDigest(same.Items) {
		t.Error("the same document has two digests")
	}
	other := doc
	other.Items = []ScoreItem{{MSPID: "Dept1MSP", Rank: 1, Score: 81.500001, Breakdown: map[string]float64{"a": 0.2, "b": 0.1}}}
	if doc.Digest() == other.Digest() || ItemsDigest(doc.Items) == ItemsDigest(other.Items) {
		t.Error("another score has the same digest")
	}
	if ItemsDigest(nil) != ItemsDigest([]ScoreItem{}) || (Scores{Period: "x"}).Digest() != (Scores{Period: "x", Items: []ScoreItem{}}).Digest() {
		t.Error("nil and empty items differ")
	}
	if len(doc.Digest()) != 64 || CheckSHA256("d", doc.Digest()) != nil {
		t.Errorf("digest %q", doc.Digest())
	}
}

func TestAttestationCheck(t *testing.T) {
	snap := &ScoreSnapshot{ID: "2026-02", Scores: Scores{Period: "2026-02", AsOfBlock: 9, InputDigest: digestA,
		Items: []ScoreItem{{MSPID: "Dept1MSP", Rank: 1, Score: 100}}}}
	honest := AttestationInput{Period: "2026-02", SnapshotDigest: snap.Scores.Digest(), InputDigest: digestA, ScoresDigest: ItemsDigest(snap.Items), Matched: true}
	if err := honest.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := honest.Check(snap); err != nil {
		t.Fatal(err)
	}
	disagree := honest
	disagree.InputDigest, disagree.Matched, disagree.Detail = digestB, false, "inputDigest differs"
	if err := disagree.Check(snap); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		in   AttestationInput
		want string
	}{
		"lies matched":    {func() AttestationInput { a := disagree; a.Matched = true; return a }(), "[invalid] matched is true"},
		"lies mismatched": {func() AttestationInput { a := honest; a.Matched = false; return a }(), "[invalid] matched is false"},
		"other document":  {func() AttestationInput { a := honest; a.SnapshotDigest = digestB; return a }(), "[conflict] the attestation compares document"},
	} {
		if err := c.in.Check(snap); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	bad := honest
	bad.Detail = "two\nlines"
	if err := bad.Validate(); err == nil {
		t.Error("a detail over two lines passed")
	}
	bad = honest
	bad.Detail = strings.Repeat("x", MaxAttestationDetail+1)
	if err := bad.Validate(); err == nil {
		t.Error("an overlong detail passed")
	}
}

func TestJudge(t *testing.T) {
	depts := []string{"Dept2MSP", "BureauMSP", "Dept1MSP", "Dept3MSP"}
	att := func(msp string, matched bool) ScoreAttestation {
		return ScoreAttestation{MSPID: msp, Matched: matched, InputDigest: digestB, ScoresDigest: digestA, Detail: "Dept1MSP scores 12.5, published 100"}
	}
	tests := []struct {
		name     string
		atts     []ScoreAttestation
		official bool
		summary  string
	}{
		{"none yet", nil, false, "matched by 0 of 4 departments; not yet attested by BureauMSP, Dept1MSP, Dept2MSP, Dept3MSP; not official: a majority (3 of 4) must match"},
		{"half is not a majority", []ScoreAttestation{att("Dept1MSP", true), att("Dept3MSP", true)}, false,
			"matched by 2 of 4 departments; not yet attested by BureauMSP, Dept2MSP; not official: a majority (3 of 4) must match"},
		{"three of four", []ScoreAttestation{att("Dept1MSP", true), att("Dept2MSP", false), att("Dept3MSP", true), att("BureauMSP", true)}, true,
			"matched by 3 of 4 departments; Dept2MSP's indexer disagrees: inputDigest bbbbbbbbbbbb…, scores digest aaaaaaaaaaaa…; official"},
		{"all refute one document", []ScoreAttestation{att("Dept1MSP", false), att("Dept2MSP", false), att("Dept3MSP", false),
			{MSPID: "BureauMSP", InputDigest: digestA, ScoresDigest: digestA}}, false,
			"matched by 0 of 4 departments; BureauMSP's indexer disagrees: inputDigest aaaaaaaaaaaa…, scores digest aaaaaaaaaaaa…; " +
				"the indexers of Dept1MSP, Dept2MSP and Dept3MSP disagree: inputDigest bbbbbbbbbbbb…, scores digest aaaaaaaaaaaa…; not official: a majority (3 of 4) must match"},
		{"an outsider does not vote", []ScoreAttestation{att("Dept1MSP", true), att("Dept3MSP", true), att("Dept9MSP", true)}, false,
			"matched by 2 of 4 departments; not yet attested by BureauMSP, Dept2MSP; not official: a majority (3 of 4) must match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(depts, tt.atts)
			if v.Official != tt.official || v.Summary != tt.summary {
				t.Errorf("Judge = official %v %q\nwant official %v %q", v.Official, v.Summary, tt.official, tt.summary)
			}
			if len(v.MatchedBy)+len(v.DisputedBy)+len(v.Pending) != 4 {
				t.Errorf("verdict %+v does not account for every department once", v)
			}
		})
	}
	if v := Judge(nil, nil); v.Official || v.Summary != "matched by 0 of 0 departments; not official: no department is on the ledger" {
		t.Errorf("no departments: %+v", v)
	}
}
