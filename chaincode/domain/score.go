package domain

import (
	"regexp"
	"time"
)

// ScoreItem is one department's contribution score for a period, with the
// indicators it was computed from.
type ScoreItem struct {
	MSPID     string             `json:"mspId"`
	Rank      int                `json:"rank"`
	Score     float64            `json:"score"`
	Breakdown map[string]float64 `json:"breakdown"` // encoding/json writes map keys sorted
}

// Scores is the score document of a period: reproducible by anyone from the
// same ledger up to AsOfBlock; InputDigest is the SHA-256 of the inputs.
type Scores struct {
	Period      string      `json:"period"`
	AsOfBlock   uint64      `json:"asOfBlock"`
	InputDigest string      `json:"inputDigest"`
	ModelDigest string      `json:"modelDigest,omitempty"` // SHA-256 of the weights and normalization used
	Items       []ScoreItem `json:"items"`
}

// ScoreSnapshot is a score document published on the ledger by an evaluator.
type ScoreSnapshot struct {
	Scores
	ID          string    `json:"id"`
	PublishedAt time.Time `json:"publishedAt"`
	PublishedBy Actor     `json:"publishedBy"`
}

var periodPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// CheckPeriod checks a YYYY-MM period.
func CheckPeriod(p string) error {
	if !periodPattern.MatchString(p) {
		return Errorf(CodeInvalid, "period %q must be YYYY-MM", truncate(p, 20))
	}
	return nil
}

// PeriodBounds returns the first instant of the period and of the next one, in UTC.
func PeriodBounds(p string) (start, end time.Time, err error) {
	if err := CheckPeriod(p); err != nil {
		return time.Time{}, time.Time{}, err
	}
	start, _ = time.Parse("2006-01", p)
	return start, start.AddDate(0, 1, 0), nil
}

// Validate checks a score document before it is published.
func (s Scores) Validate() error {
	if err := CheckPeriod(s.Period); err != nil {
		return err
	}
	if err := CheckSHA256("inputDigest", s.InputDigest); err != nil {
		return err
	}
	if s.ModelDigest != "" {
		if err := CheckSHA256("modelDigest", s.ModelDigest); err != nil {
			return err
		}
	}
	if len(s.Items) == 0 || len(s.Items) > 1000 {
		return Errorf(CodeInvalid, "items must hold 1 to 1000 scores")
	}
	seen := map[string]bool{}
	for i, it := range s.Items {
		if err := CheckMSPID("items.mspId", it.MSPID); err != nil {
			return err
		}
		if seen[it.MSPID] {
			return Errorf(CodeInvalid, "items list %s twice", it.MSPID)
		}
		seen[it.MSPID] = true
		if it.Rank != i+1 {
			return Errorf(CodeInvalid, "items must be in rank order: item %d has rank %d", i+1, it.Rank)
		}
		if len(it.Breakdown) > 50 {
			return Errorf(CodeInvalid, "breakdown of %s has more than 50 indicators", it.MSPID)
		}
	}
	return nil
}
