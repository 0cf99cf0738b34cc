package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// Deliveries, corrections, usage records and contributions are shown, like
// requests, to the departments that are party to them and to auditors: the
// rule is domain.CanRead, the list filter domain.ReadableParty.

// optional reads query parameter name and checks it when it is given.
func optional(q url.Values, name string, check func(field, value string) error) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", nil
	}
	return v, check(name, v)
}

// params reads several optional parameters, stopping at the first bad one.
func params(q url.Values, specs ...paramSpec) ([]string, error) {
	out := make([]string, len(specs))
	for i, sp := range specs {
		v, err := optional(q, sp.name, sp.check)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

type paramSpec struct {
	name  string
	check func(field, value string) error
}

func oneOf[T ~string](valid func(T) bool, list string) func(string, string) error {
	return func(field, v string) error {
		if !valid(T(v)) {
			return domain.Errorf(domain.CodeInvalid, "%s %q must be one of %s", field, truncate(v, 40), list)
		}
		return nil
	}
}

// names joins a list of states for a message: "a, b, c".
func names[T ~string](xs []T) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return strings.Join(out, ", ")
}

// listParty is the body of every party-visible list route: authenticate,
// read the page and the filters, then list.
func listParty[T any](s *Server, w http.ResponseWriter, r *http.Request, specs []paramSpec,
	list func(c caller, vals []string, p store.Page) ([]store.Entity[T], string, error)) {
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
	vals, err := params(q, specs...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items, next, err := list(c, vals, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, domain.NewList(items, next))
}

// getParty is the body of every party-visible single-entity route.
// Who may read it is domain.CheckRead's to say; the answer is the ledger's
// bytes (store.Entity).
func getParty[T any, R interface {
	*T
	domain.Record
}](s *Server, w http.ResponseWriter, r *http.Request, kind domain.Kind,
	get func(id string) (*store.Entity[T], error)) {
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
	v, err := get(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := domain.CheckRead(c.actor(), kind, R(&v.Value)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	listParty(s, w, r, []paramSpec{{"request", domain.CheckID},
		{"status", oneOf(domain.DeliveryStatus.Valid, names(domain.DeliveryStatuses))}},
		func(c caller, v []string, p store.Page) ([]store.Entity[domain.Delivery], string, error) {
			f := store.DeliveryFilter{Request: v[0], Status: domain.DeliveryStatus(v[1]), Party: domain.ReadableParty(c.actor())}
			return s.store.ListDeliveries(r.Context(), f, p)
		})
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) {
	getParty(s, w, r, domain.KindDelivery,
		func(id string) (*store.Entity[domain.Delivery], error) { return s.store.GetDelivery(r.Context(), id) })
}

func (s *Server) listCorrections(w http.ResponseWriter, r *http.Request) {
	listParty(s, w, r, []paramSpec{{"delivery", domain.CheckID},
		{"status", oneOf(domain.CorrectionStatus.Valid, names(domain.CorrectionStatuses))}},
		func(c caller, v []string, p store.Page) ([]store.Entity[domain.Correction], string, error) {
			f := store.CorrectionFilter{Delivery: v[0], Status: domain.CorrectionStatus(v[1]), Party: domain.ReadableParty(c.actor())}
			return s.store.ListCorrections(r.Context(), f, p)
		})
}

func (s *Server) getCorrection(w http.ResponseWriter, r *http.Request) {
	getParty(s, w, r, domain.KindCorrection,
		func(id string) (*store.Entity[domain.Correction], error) {
			return s.store.GetCorrection(r.Context(), id)
		})
}

func (s *Server) listUsage(w http.ResponseWriter, r *http.Request) {
	listParty(s, w, r, []paramSpec{{"request", domain.CheckID}},
		func(c caller, v []string, p store.Page) ([]store.Entity[domain.Usage], string, error) {
			return s.store.ListUsage(r.Context(), store.UsageFilter{Request: v[0], Party: domain.ReadableParty(c.actor())}, p)
		})
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) {
	getParty(s, w, r, domain.KindUsage,
		func(id string) (*store.Entity[domain.Usage], error) { return s.store.GetUsage(r.Context(), id) })
}

func (s *Server) listContributions(w http.ResponseWriter, r *http.Request) {
	listParty(s, w, r, []paramSpec{{"dataset", domain.CheckID}, {"contributor", domain.CheckMSPID}},
		func(c caller, v []string, p store.Page) ([]store.Entity[domain.Contribution], string, error) {
			f := store.ContributionFilter{Dataset: v[0], Contributor: v[1], Party: domain.ReadableParty(c.actor())}
			return s.store.ListContributions(r.Context(), f, p)
		})
}

func (s *Server) getContribution(w http.ResponseWriter, r *http.Request) {
	getParty(s, w, r, domain.KindContribution,
		func(id string) (*store.Entity[domain.Contribution], error) {
			return s.store.GetContribution(r.Context(), id)
		})
}
