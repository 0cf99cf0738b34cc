package httpapi

import (
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// listRequests shows a department the requests it is a party to; an auditor
// sees them all.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if err := c.require(); err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p, err := page(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := store.RequestFilter{Dataset: q.Get("dataset"), Requester: q.Get("requester"), Owner: q.Get("owner"),
		Status: domain.RequestStatus(q.Get("status")), Now: s.now()}
	checks := []struct {
		name, value string
		check       func(string, string) error
	}{
		{"dataset", f.Dataset, domain.CheckID},
		{"requester", f.Requester, domain.CheckMSPID},
		{"owner", f.Owner, domain.CheckMSPID},
	}
	for _, ck := range checks {
		if ck.value != "" {
			if err := ck.check(ck.name, ck.value); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "status %q must be one of %s", truncate(string(f.Status), 40), names(domain.RequestStatuses)))
		return
	}
	f.Party = domain.ReadableParty(c.actor())
	items, next, err := s.store.ListRequests(r.Context(), f, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	c := callerOf(r)
	if err := c.require(); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := domain.CheckID("id", id); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := s.store.GetRequest(r.Context(), id, s.now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := domain.CheckRead(c.actor(), domain.KindRequest, req); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}
