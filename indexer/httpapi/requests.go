package httpapi

import (
	"net/http"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// listRequests shows a department the requests it is a party to; an auditor
// sees them all.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) {
	listParty(s, w, r, []paramSpec{{"dataset", domain.CheckID}, {"requester", domain.CheckMSPID}, {"owner", domain.CheckMSPID},
		{"status", oneOf(domain.RequestStatus.Valid, names(domain.RequestStatuses))}},
		func(c caller, v []string, p store.Page) ([]store.Entity[domain.Request], string, error) {
			f := store.RequestFilter{Dataset: v[0], Requester: v[1], Owner: v[2], Status: domain.RequestStatus(v[3]),
				Now: s.now(), Party: domain.ReadableParty(c.actor())}
			return s.store.ListRequests(r.Context(), f, p)
		})
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) {
	getParty(s, w, r, domain.KindRequest,
		func(id string) (*store.Entity[domain.Request], error) {
			return s.store.GetRequest(r.Context(), id, s.now())
		})
}
