package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/gateway/identity"
	"github.com/govshare/ledger/gateway/indexclient"
)

// clock is a settable time for sessions and the router.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	opPassword    = "operator-password-1"
	adminPassword = "admin-password-123"
)

// newSessionFixture is the real router with real identity.Sessions for an
// operator and an admin, a settable clock and no slowdown sleeps.
func newSessionFixture(t *testing.T) (*fixture, *clock, *[]time.Duration) {
	t.Helper()
	hash := func(pw string) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	dir := identity.Of(
		testPeople["operator"].WithPassword(hash(opPassword)),
		testPeople["admin"].WithPassword(hash(adminPassword)),
		testPeople["auditor"], // no password: long-lived token only
	)
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	var slept []time.Duration
	f := &fixture{
		ledger: &fakeLedger{txID: "tx-1", block: 7},
		index:  &fakeIndex{status: indexclient.Status{Height: 8}},
		logs:   &bytes.Buffer{},
	}
	sessions := identity.NewSessions(dir, identity.SessionOptions{
		TTL: time.Hour, Now: clk.now, Logger: f.logger(),
		Sleep: func(d time.Duration) { slept = append(slept, d) },
	})
	r, err := NewRouter(Options{Ledger: f.ledger, Index: f.index, Sessions: sessions, Policy: grantingDept1,
		Logger: f.logger(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.router = r
	return f, clk, &slept
}

func signIn(t *testing.T, f *fixture, user, password string) SignedIn {
	t.Helper()
	rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"`+user+`","password":"`+password+`"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("sign in %s: status %d: %s", user, rec.Code, rec.Body)
	}
	var out SignedIn
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSessionLifecycle(t *testing.T) {
	f, clk, _ := newSessionFixture(t)
	op := signIn(t, f, "operator-user", opPassword)
	if len(op.Token) != 64 || !op.ExpiresAt.Equal(clk.now().Add(time.Hour)) || op.Session.User != "operator-user" {
		t.Fatalf("signed in: %+v", op)
	}
	if rec := f.do(t, http.MethodGet, "/v1/me", op.Token, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"operator-user"`) {
		t.Fatalf("me with a session: %d %s", rec.Code, rec.Body)
	}
	// A write goes to the ledger as the session's person.
	f.do(t, http.MethodPost, "/v1/usage", op.Token, `{"requestId":"rq-1","calls":1,"records":2}`)
	if c := f.ledger.last(t); c.user != "operator-user" {
		t.Fatalf("ledger call as %q", c.user)
	}

	admin := signIn(t, f, "admin-user", adminPassword)
	rec := f.do(t, http.MethodGet, "/v1/sessions", admin.Token, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), op.Token) || strings.Contains(rec.Body.String(), admin.Token) {
		t.Fatal("the session list shows a token")
	}
	var list struct{ Items []identity.Session }
	_ = json.Unmarshal(rec.Body.Bytes(), &list)
	if len(list.Items) != 2 || list.Items[0].User == list.Items[1].User || list.Items[0].ExpiresAt != op.ExpiresAt {
		t.Fatalf("sessions %+v", list.Items)
	}
	if rec := f.do(t, http.MethodGet, "/v1/sessions", op.Token, ""); rec.Code != http.StatusForbidden {
		t.Fatalf("operator lists sessions: %d", rec.Code)
	}

	// Sign out: the token answers 401 and says the session was ended.
	if rec := f.do(t, http.MethodDelete, "/v1/sessions/current", op.Token, ""); rec.Code != http.StatusOK {
		t.Fatalf("sign out: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, http.MethodGet, "/v1/me", op.Token, "")
	if e := errorOf(t, rec); rec.Code != http.StatusUnauthorized || !strings.Contains(e.Message, "the session was ended") {
		t.Fatalf("ended token: %d %+v", rec.Code, e)
	}

	// An admin ends another's session.
	op2 := signIn(t, f, "operator-user", opPassword)
	if rec := f.do(t, http.MethodDelete, "/v1/sessions/"+op2.Session.ID, admin.Token, ""); rec.Code != http.StatusOK {
		t.Fatalf("admin ends a session: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, http.MethodGet, "/v1/me", op2.Token, ""); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "ended") {
		t.Fatalf("session ended by admin: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, http.MethodDelete, "/v1/sessions/"+op2.Session.ID, admin.Token, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("ending it twice: %d", rec.Code)
	}

	// Past its expiry the admin's session says it expired, and when.
	clk.add(time.Hour)
	rec = f.do(t, http.MethodGet, "/v1/me", admin.Token, "")
	if e := errorOf(t, rec); rec.Code != http.StatusUnauthorized || e.Message != "the session expired at 2026-03-01T10:00:00Z; sign in again" {
		t.Fatalf("expired token: %d %+v", rec.Code, e)
	}

	// Long-lived tokens are not sessions and cannot be ended.
	if rec := f.do(t, http.MethodDelete, "/v1/sessions/current", "no-such-token", ""); rec.Code != http.StatusUnauthorized ||
		!strings.Contains(rec.Body.String(), "not known") {
		t.Fatalf("unknown token: %d %s", rec.Code, rec.Body)
	}
}

func TestSessionLockout(t *testing.T) {
	f, clk, slept := newSessionFixture(t)
	for i := 1; i <= 5; i++ {
		rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"operator-user","password":"guess-`+string(rune('0'+i))+`"}`)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("try %d: %d", i, rec.Code)
		}
		if locked := strings.Contains(rec.Body.String(), "locked"); locked != (i == 5) {
			t.Fatalf("try %d: %s", i, rec.Body)
		}
	}
	if want := []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second}; len(*slept) != 5 || (*slept)[4] != want[4] {
		t.Fatalf("slowdowns %v, want %v", *slept, want)
	}
	// Even the right password is refused while locked, with Retry-After.
	rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"operator-user","password":"`+opPassword+`"}`)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Retry-After") != "300" || !strings.Contains(rec.Body.String(), "is locked") {
		t.Fatalf("locked: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	// Another person is not locked.
	signIn(t, f, "admin-user", adminPassword)
	clk.add(5 * time.Minute)
	signIn(t, f, "operator-user", opPassword)

	logs := f.logs.String()
	if strings.Contains(logs, "guess-") || strings.Contains(logs, opPassword) {
		t.Fatal("a password is in the log")
	}
	if n := strings.Count(logs, `"msg":"sign-in failed"`); n != 5 {
		t.Fatalf("%d sign-in failures logged, want 5", n)
	}

	// Unknown users and people without a password get the same answer.
	for _, user := range []string{"nobody", "auditor-user"} {
		rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"`+user+`","password":"x"}`)
		if e := errorOf(t, rec); rec.Code != http.StatusUnauthorized || e.Message != "the user name or the password is wrong" {
			t.Fatalf("%s: %d %+v", user, rec.Code, e)
		}
	}
	if rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"operator-user"}`); rec.Code != http.StatusBadRequest {
		t.Fatalf("no password: %d", rec.Code)
	}
}

func TestChangePassword(t *testing.T) {
	f, _, _ := newSessionFixture(t)
	op := signIn(t, f, "operator-user", opPassword)
	tests := []struct {
		name, body string
		status     int
		code       domain.Code
	}{
		{"too short", `{"current":"` + opPassword + `","new":"short"}`, http.StatusBadRequest, domain.CodeInvalid},
		{"wrong current", `{"current":"nope","new":"a-new-password-42"}`, http.StatusUnauthorized, domain.CodeUnauthorized},
		{"changed", `{"current":"` + opPassword + `","new":"a-new-password-42"}`, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, http.MethodPut, "/v1/sessions/password", op.Token, tt.body)
			if rec.Code != tt.status || (tt.code != "" && errorOf(t, rec).Code != tt.code) {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		})
	}
	if rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"operator-user","password":"`+opPassword+`"}`); rec.Code != http.StatusUnauthorized {
		t.Fatalf("old password still works: %d", rec.Code)
	}
	signIn(t, f, "operator-user", "a-new-password-42")
	if rec := f.do(t, http.MethodGet, "/v1/me", op.Token, ""); rec.Code != http.StatusOK {
		t.Fatalf("the session ended with the password change: %d", rec.Code)
	}
}

// Without Sessions the routes exist and say so.
func TestSessionsOff(t *testing.T) {
	f := newFixture(t)
	if rec := f.do(t, http.MethodPost, "/v1/sessions", "", `{"user":"a","password":"b"}`); rec.Code != http.StatusNotFound {
		t.Fatalf("status %d", rec.Code)
	}
}
