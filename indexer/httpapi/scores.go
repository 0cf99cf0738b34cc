package httpapi

import (
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
)

// scoreParams checks who asks and reads ?period= and ?asOfBlock= (the last
// indexed block when absent).
func (s *Server) scoreParams(r *http.Request) (period string, asOf uint64, err error) {
	c := callerOf(r)
	if err := c.require(); err != nil {
		return "", 0, err
	}
	// A department's admin reads them too: its gateway's attestor
	// (gateway/attest) recomputes each published snapshot as the admin who
	// signs the attestation. The gateway's public score routes still admit
	// evaluators and auditors only.
	if c.Role != domain.RoleEvaluator && c.Role != domain.RoleAuditor && c.Role != domain.RoleAdmin {
		return "", 0, domain.Errorf(domain.CodeForbidden, "scores are for evaluators and auditors, not %q", c.Role)
	}
	q := r.URL.Query()
	period = q.Get("period")
	if period == "" {
		return "", 0, domain.Errorf(domain.CodeInvalid, "period is required (YYYY-MM)")
	}
	if err := domain.CheckPeriod(period); err != nil {
		return "", 0, err
	}
	if v := q.Get("asOfBlock"); v != "" {
		asOf, err = uintParam(v, "asOfBlock", false)
		return period, asOf, err
	}
	if h := s.store.Status().Height; h > 0 {
		asOf = h - 1
	}
	return period, asOf, nil
}

// scores answers the ranked scores of a period.
func (s *Server) scores(w http.ResponseWriter, r *http.Request) {
	doc, _, err := s.score(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// departmentScore answers the same document with only one department's item.
func (s *Server) departmentScore(w http.ResponseWriter, r *http.Request) {
	msp := r.PathValue("mspId")
	if err := domain.CheckMSPID("mspId", msp); err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, period, err := s.score(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, it := range doc.Items {
		if it.MSPID == msp {
			doc.Items = []domain.ScoreItem{it}
			writeJSON(w, http.StatusOK, doc)
			return
		}
	}
	s.writeError(w, r, domain.Errorf(domain.CodeNotFound, "department %s has no score for %s: it is not part of the consortium by then", msp, period))
}

// score is the document that r asks (scoreParams), and its period.
func (s *Server) score(r *http.Request) (*domain.Scores, string, error) {
	period, asOf, err := s.scoreParams(r)
	if err != nil {
		return nil, "", err
	}
	if s.scorer == nil {
		return nil, "", domain.Errorf(domain.CodeUnavailable, "this indexer serves no scores")
	}
	doc, err := s.scorer.Scores(r.Context(), s.model, period, asOf)
	return doc, period, err
}
