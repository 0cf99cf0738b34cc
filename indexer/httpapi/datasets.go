package httpapi

import (
	"net/http"
	"strconv"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// listDatasets is the catalog: any department sees every entry.
func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := page(q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f := store.DatasetFilter{Owner: q.Get("owner"), ShareType: domain.ShareType(q.Get("shareType"))}
	if f.Owner != "" {
		if err := domain.CheckMSPID("owner", f.Owner); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if f.ShareType != "" && !f.ShareType.Valid() {
		s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "shareType %q must be one of unconditional, conditional, none", truncate(string(f.ShareType), 40)))
		return
	}
	if v := q.Get("grade"); v != "" {
		g, err := strconv.Atoi(v)
		if err != nil || g < domain.GradePublic || g > domain.GradeCore {
			s.writeError(w, r, domain.Errorf(domain.CodeInvalid, "grade %q must be from %d to %d", truncate(v, 20), domain.GradePublic, domain.GradeCore))
			return
		}
		f.Grade = g
	}
	items, next, err := s.store.ListDatasets(r.Context(), f, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := domain.CheckID("id", id); err != nil {
		s.writeError(w, r, err)
		return
	}
	d, err := s.store.GetDataset(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
