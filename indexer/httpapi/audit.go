package httpapi

import (
	"net/http"
	"net/url"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// trace lists, for an auditor, every event about one dataset, request,
// department or person, in ledger order.
func (s *Server) trace(w http.ResponseWriter, r *http.Request) {
	if err := requireAuditor(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p, err := page(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	by, value, err := traceParams(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The events go out as the mirror stores them (the JSON of
	// store.EventRecord): a page of a thousand is not decoded to be encoded again.
	items, next, err := s.store.TraceRaw(r.Context(), by, value, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}

// requireAuditor admits auditors only.
func requireAuditor(r *http.Request) error {
	c := callerOf(r)
	if err := c.require(); err != nil {
		return err
	}
	if c.Role != domain.RoleAuditor {
		return domain.Errorf(domain.CodeForbidden, "audit is for auditors, not %q", c.Role)
	}
	return nil
}

// traceParams reads the one key of a trace: dataset, request, department or actor.
func traceParams(q url.Values) (store.TraceBy, string, error) {
	var by store.TraceBy
	var value string
	for _, b := range []store.TraceBy{store.TraceDataset, store.TraceRequest, store.TraceDepartment, store.TraceActor} {
		if v := q.Get(string(b)); v != "" {
			if by != "" {
				return "", "", domain.Errorf(domain.CodeInvalid, "give one of dataset, request, department or actor, not both %s and %s", by, b)
			}
			by, value = b, v
		}
	}
	var err error
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
	return by, value, err
}
