package contract

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

func scores() domain.Scores {
	return domain.Scores{
		Period: "2026-02", AsOfBlock: 812, InputDigest: hashA, ModelDigest: hashB,
		Items: []domain.ScoreItem{
			{MSPID: "Dept1MSP", Rank: 1, Score: 81.5, Breakdown: map[string]float64{"volume": 0.9, "influence": 0.4}},
			{MSPID: "Dept2MSP", Rank: 2, Score: 40.25, Breakdown: map[string]float64{"volume": 0.2}},
		},
	}
}

func TestPublishScores(t *testing.T) {
	h := newHarness(t)
	in := scores()
	var s domain.ScoreSnapshot
	out := h.submit(ev3, &s, "PublishScores", jsonOf(t, in))
	if s.ID != "2026-02" || s.Period != "2026-02" || s.AsOfBlock != 812 || s.InputDigest != hashA || s.ModelDigest != hashB ||
		len(s.Items) != 2 || s.Items[0].Breakdown["influence"] != 0.4 || !s.PublishedAt.Equal(h.now) || s.PublishedBy.MSPID != "Dept3MSP" {
		t.Fatalf("snapshot %+v", s)
	}
	e := h.event(out, domain.EventScoreSnapshotPublished, domain.KindSnapshot, "2026-02", ev3)
	if e.Snapshot == nil || e.Snapshot.AsOfBlock != 812 || e.Status != "" || e.Owner != "" {
		t.Errorf("event %+v", e)
	}
	h.wantEndorsers(domain.KindSnapshot, "2026-02", "Dept3MSP")

	var got domain.ScoreSnapshot
	h.query(au3, &got, "GetScoreSnapshot", "2026-02")
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(s)
	if string(a) != string(b) {
		t.Fatalf("GetScoreSnapshot %s, want %s", a, b)
	}

	// One snapshot per period: a later computation is refused, not stored.
	later := scores()
	later.AsOfBlock = 900
	h.reject(ev3, domain.CodeConflict, "scores for period 2026-02 are already published", "PublishScores", jsonOf(t, later))
	later.Period = "2026-01"
	h.submit(ev3, nil, "PublishScores", jsonOf(t, later))

	h.reject(au3, domain.CodeNotFound, "snapshot 2026-04 does not exist", "GetScoreSnapshot", "2026-04")
	h.reject(au3, domain.CodeInvalid, `period "2026-13" must be YYYY-MM`, "GetScoreSnapshot", "2026-13")
}

func TestPublishScoresRejects(t *testing.T) {
	valid := scores()
	tests := []struct {
		name, patch string
		as          who
		code        domain.Code
		want        string
	}{
		{"operator", `{}`, op1, domain.CodeForbidden, "role evaluator is required to publish scores; caller has role operator"},
		{"auditor", `{}`, au3, domain.CodeForbidden, "role evaluator is required to publish scores; caller has role auditor"},
		{"period malformed", `{"period":"2026-2"}`, ev3, domain.CodeInvalid, `period "2026-2" must be YYYY-MM`},
		{"input digest", `{"inputDigest":"x"}`, ev3, domain.CodeInvalid, "inputDigest must be a lowercase hex SHA-256"},
		{"model digest", `{"modelDigest":"x"}`, ev3, domain.CodeInvalid, "modelDigest must be"},
		{"no asOfBlock", `{"asOfBlock":0}`, ev3, domain.CodeInvalid, "asOfBlock is required"},
		{"period not over", `{"period":"2026-03"}`, ev3, domain.CodeConflict, "period 2026-03 is not over: it ends at 2026-04-01T00:00:00Z"},
		{"far future", `{"period":"2099-12"}`, ev3, domain.CodeConflict, "period 2099-12 is not over: it ends at 2100-01-01T00:00:00Z"},
		{"rank order", `{"items":[{"mspId":"Dept1MSP","rank":2,"score":1}]}`, ev3, domain.CodeInvalid, "item 1 has rank 2"},
		{"department twice", `{"items":[{"mspId":"Dept1MSP","rank":1,"score":1},{"mspId":"Dept1MSP","rank":2,"score":1}]}`, ev3, domain.CodeInvalid, "items list Dept1MSP twice"},
		{"bad MSP ID", `{"items":[{"mspId":"!","rank":1,"score":1}]}`, ev3, domain.CodeInvalid, "is not a valid MSP ID"},
		{"unknown field", `{"publishedBy":"me"}`, ev3, domain.CodeInvalid, `unknown field "publishedBy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.reject(tt.as, tt.code, tt.want, "PublishScores", with(t, valid, tt.patch))
		})
	}
}

// TestPublishScoresOnlyOnceThePeriodIsOver: the current month is refused up
// to its last nanosecond and accepted from the first instant of the next
// month, UTC; a period that scored nobody can be published too.
func TestPublishScoresOnlyOnceThePeriodIsOver(t *testing.T) {
	h := newHarness(t)
	in := scores()
	in.Period = "2026-03"
	h.now = time.Date(2026, 3, 31, 23, 59, 59, 999999999, time.UTC)
	h.reject(ev3, domain.CodeConflict, "period 2026-03 is not over: it ends at 2026-04-01T00:00:00Z", "PublishScores", jsonOf(t, in))
	h.now = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var s domain.ScoreSnapshot
	h.submit(ev3, &s, "PublishScores", jsonOf(t, in))
	if s.Period != "2026-03" || !s.PublishedAt.Equal(h.now) {
		t.Fatalf("snapshot %+v", s)
	}
	empty := domain.Scores{Period: "1999-01", AsOfBlock: 3, InputDigest: hashA, Items: []domain.ScoreItem{}}
	var e domain.ScoreSnapshot
	h.submit(ev3, &e, "PublishScores", jsonOf(t, empty))
	if len(e.Items) != 0 || e.Digest() != empty.Digest() {
		t.Fatalf("empty snapshot %+v", e)
	}
	h.reject(ev3, domain.CodeInvalid, "at most 1000 scores", "PublishScores", jsonOf(t, domain.Scores{
		Period: "1999-02", AsOfBlock: 3, InputDigest: hashA, Items: make([]domain.ScoreItem, 1001),
	}))
}
