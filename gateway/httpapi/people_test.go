package httpapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/people"
)

type fakePeople struct {
	calls []string
	err   error
}

func (f *fakePeople) Revoke(ctx context.Context, admin *identity.Person, user, reason string) (people.Revocation, error) {
	f.calls = append(f.calls, admin.User+">"+user+":"+reason)
	if f.err != nil {
		return people.Revocation{}, f.err
	}
	return people.Revocation{User: user, MSPID: admin.MSPID, Serial: "5c", RevokedAt: time.Unix(0, 0).UTC(), CRLSerials: []string{"5c"}, ChannelUpdated: true}, nil
}

func TestRevokePersonRoute(t *testing.T) {
	f := newFixture(t)
	if rec := f.do(t, http.MethodPost, "/v1/people/operator-user/revoke", "admin", ""); rec.Code != http.StatusServiceUnavailable ||
		!strings.Contains(rec.Body.String(), "not configured to revoke") {
		t.Errorf("without a revoker: %d %s", rec.Code, rec.Body)
	}
	fp := &fakePeople{}
	r, err := NewRouter(Options{Ledger: f.ledger, Index: f.index, Auth: testPeople, Policy: grantingDept1, Logger: f.logger(), People: fp})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	for _, tt := range []struct {
		name, token, path, body string
		want                    int
	}{
		{"an operator", "operator", "/v1/people/approver-user/revoke", "", http.StatusForbidden},
		{"no token", "", "/v1/people/approver-user/revoke", "", http.StatusUnauthorized},
		{"an unknown reason", "admin", "/v1/people/approver-user/revoke", `{"reason":"because"}`, http.StatusBadRequest},
		{"removefromcrl", "admin", "/v1/people/approver-user/revoke", `{"reason":"removefromcrl"}`, http.StatusBadRequest},
		{"an unknown field", "admin", "/v1/people/approver-user/revoke", `{"why":"x"}`, http.StatusBadRequest},
		{"a control character in the user", "admin", "/v1/people/a%07b/revoke", "", http.StatusBadRequest},
	} {
		if rec := f.do(t, http.MethodPost, tt.path, tt.token, tt.body); rec.Code != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body, tt.want)
		}
	}
	if len(fp.calls) != 0 {
		t.Fatalf("refused calls reached the revoker: %v", fp.calls)
	}
	rec := f.do(t, http.MethodPost, "/v1/people/approver-user/revoke", "admin", `{"reason":"keycompromise"}`)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"channelUpdated":true`) {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, http.MethodPost, "/v1/people/operator-user/revoke", "admin", ""); rec.Code != http.StatusOK {
		t.Fatalf("revoke without a body: %d %s", rec.Code, rec.Body)
	}
	if want := []string{"admin-user>approver-user:keycompromise", "admin-user>operator-user:"}; strings.Join(fp.calls, " ") != strings.Join(want, " ") {
		t.Errorf("calls %v, want %v", fp.calls, want)
	}
	fp.err = domain.Errorf(domain.CodeNotFound, "Dept1MSP has no person %q", "ghost")
	if rec := f.do(t, http.MethodPost, "/v1/people/ghost/revoke", "admin", ""); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "ghost") {
		t.Errorf("unknown person: %d %s", rec.Code, rec.Body)
	}
}
