package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
)

// page reads ?limit= and ?cursor=.
func page(q url.Values) (store.Page, error) {
	n, err := domain.ParseLimit("limit", q.Get("limit"))
	return store.Page{Limit: n, Cursor: q.Get("cursor")}, err
}

func uintParam(v, name string, required bool) (uint64, error) {
	if v == "" {
		if required {
			return 0, domain.Errorf(domain.CodeInvalid, "%s is required", name)
		}
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, domain.Errorf(domain.CodeInvalid, "%s %q must be a non-negative integer", name, truncate(v, 20))
	}
	return n, nil
}

// caller is who the gateway says is asking.
type caller struct {
	MSPID string
	Role  domain.Role
}

func callerOf(r *http.Request) caller {
	return caller{MSPID: r.Header.Get(domain.HeaderCallerMSP), Role: domain.Role(r.Header.Get(domain.HeaderCallerRole))}
}

// actor is the caller as the domain's read rules judge it.
func (c caller) actor() domain.Actor { return domain.Actor{MSPID: c.MSPID, Role: c.Role} }

// require fails when the gateway passed no department.
func (c caller) require() error {
	if c.MSPID == "" {
		return domain.Errorf(domain.CodeUnauthorized, "no caller department (X-Caller-Msp)")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
