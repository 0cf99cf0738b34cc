package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/indexclient"
)

// snapshotInput is the body of POST /v1/scores/snapshots.
type snapshotInput struct {
	Period    string  `json:"period"`
	AsOfBlock *uint64 `json:"asOfBlock,omitempty"` // default: the index's last block
}

// publishScores computes a period's scores on the department's own index
// and publishes that document on the ledger as the calling evaluator. Any
// other department can recompute it from its own mirror at the same
// asOfBlock and compare: the document and its inputDigest must be equal.
func (s *server) publishScores(c *gin.Context) {
	var in snapshotInput
	if err := bindJSON(c, &in, false); err != nil {
		s.fail(c, err)
		return
	}
	// The contract refuses a period that is not over; saying so here
	// spares the index a computation that could not be published.
	if err := domain.CheckPeriodOver(in.Period, s.Now()); err != nil {
		s.fail(c, err)
		return
	}
	q := indexclient.Filter{"period": {in.Period}}
	if in.AsOfBlock != nil {
		q.Set("asOfBlock", fmt.Sprint(*in.AsOfBlock))
	}
	raw, err := s.Index.Scores(c.Request.Context(), caller(c), q)
	if err != nil {
		// The index's own error (bad asOfBlock, empty index) says what is wrong.
		s.fail(c, indexFailure(err))
		return
	}
	var scores domain.Scores
	if err := json.Unmarshal(raw, &scores); err != nil {
		s.fail(c, fmt.Errorf("index answered scores that do not decode: %w", err))
		return
	}
	// A period that ended before any department had a profile scores
	// nobody: the document says so, and the attestors check that too.
	if err := scores.Validate(); err != nil {
		s.fail(c, err)
		return
	}
	doc, err := json.Marshal(scores)
	if err != nil {
		s.fail(c, fmt.Errorf("encode scores: %w", err))
		return
	}
	s.write(c, http.StatusCreated, "snapshot", "PublishScores", string(doc))
}

// SnapshotAnswer is GET /v1/scores/snapshots/{period}: the snapshot as
// published, every department's attestation, and what they make of it
// (domain.Judge): official only when a majority of the departments on the
// ledger matched it.
type SnapshotAnswer struct {
	domain.ScoreSnapshot
	Attestations []domain.ScoreAttestation `json:"attestations"`
	domain.Verdict
}

// getSnapshot reads a published score snapshot and its attestations from
// the ledger, through the department's own peer: the authoritative copy,
// whatever the index says.
func (s *server) getSnapshot(c *gin.Context) {
	period := c.Param("period")
	if err := domain.CheckPeriod(period); err != nil {
		s.fail(c, err)
		return
	}
	out, ok := s.evaluate(c, "GetScoreSnapshot", period)
	if !ok {
		return
	}
	var a SnapshotAnswer
	if err := json.Unmarshal(out, &a.ScoreSnapshot); err != nil {
		s.fail(c, fmt.Errorf("GetScoreSnapshot answer: %w", err))
		return
	}
	out, ok = s.evaluate(c, "GetAttestations", period)
	if !ok {
		return
	}
	var atts domain.Attestations
	if err := json.Unmarshal(out, &atts); err != nil {
		s.fail(c, fmt.Errorf("GetAttestations answer: %w", err))
		return
	}
	a.Attestations = atts.Attestations
	if a.Attestations == nil {
		a.Attestations = []domain.ScoreAttestation{}
	}
	if a.Items == nil {
		a.Items = []domain.ScoreItem{}
	}
	a.Verdict = domain.Judge(atts.Departments, atts.Attestations)
	c.JSON(http.StatusOK, a)
}
