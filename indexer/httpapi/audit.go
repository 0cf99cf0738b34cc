package httpapi

import (
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// trace lists, for an auditor, every event about one dataset, request,
// department or person, in ledger order.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if err := c.require(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if c.Role != domain.RoleAuditor {
		s.writeError(w, r, domain.Errorf(domain.CodeForbidden, "tracing is for auditors, not %q", c.Role))
		return
	}
	q := r.URL.Query()
	p, err := page(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var by store.TraceBy
	var value string
	for _, b := range []store.TraceBy{store.TraceDataset, store.TraceRequest, store.TraceDepartment, store.TraceActor} {
		if v := q.Get(string(b)); v != "" {
			if by != "" {
				s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "give one of dataset, request, department or actor, not both %s and %s", by, b))
				return
			}
			by, value = b, v
		}
	}
	switch by {
	case "":
		err = domain.Errorf(domain.CodeInvalid, "give one of dataset, request, department or actor")
	case store.TraceDataset, store.TraceRequest:
		err = domain.CheckID(string(by), value)
	case store.TraceDepartment:
		err = domain.CheckMSPID("department", value)
	case store.TraceActor:
		err = domain.CheckText("actor", value, true, 1024)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, next, err := s.store.Trace(r.Context(), by, value, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}
