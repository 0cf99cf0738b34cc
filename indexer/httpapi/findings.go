package httpapi

import (
	"context"
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/watch"
)

// Findings answers the early-warning watch's findings (package
// indexer/findings).
type Findings interface {
	List(ctx context.Context, f findings.Filter, limit int, cursor string) ([]watch.Finding, string, error)
	OpenCounts(ctx context.Context) ([]findings.OpenCount, error)
}

// WithFindings sets what answers GET /v1/audit/findings.
func WithFindings(f Findings) Option { return func(s *Server) { s.findings = f } }

// listFindings serves the findings to an auditor, and to a department's
// admin the findings about their own department (what its gateway posts
// to the department's webhook).
func (s *Server) listFindings(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if err := c.require(); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	f, err := findings.ParseFilter(q.Get)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch {
	case c.Role == domain.RoleAuditor:
	case c.Role == domain.RoleAdmin && f.Department == c.MSPID:
	default:
		s.writeError(w, r, domain.Errorf(domain.CodeForbidden, "findings are for auditors, and for an admin those of their own department (department=%s)", c.MSPID))
		return
	}
	p, err := page(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.findings == nil {
		s.writeError(w, r, domain.Errorf(domain.CodeUnavailable, "this index keeps no findings"))
		return
	}
	items, next, err := s.findings.List(r.Context(), f, p.Limit, p.Cursor)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}
