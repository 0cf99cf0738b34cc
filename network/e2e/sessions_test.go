//go:build integration

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/network"
)

// password is msp's role person's initial password from passwords.json,
// and their user name.
func password(t *testing.T, msp, role string) (user, pw string) {
	t.Helper()
	path := filepath.Join(shared.run, "passwords.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []network.Password
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	for _, p := range list {
		if p.MSPID == msp && p.Role == role {
			return p.User, p.Password
		}
	}
	t.Fatalf("no password for %s in %s", role, msp)
	return "", ""
}

type signedIn struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	Session   struct {
		ID   string `json:"id"`
		User string `json:"user"`
	} `json:"session"`
}

// signInAs signs msp's role person in with their password and returns them
// calling with the session token.
func signInAs(t *testing.T, msp, role, pw string) (*person, signedIn) {
	t.Helper()
	user, initial := password(t, msp, role)
	if pw == "" {
		pw = initial
	}
	anon := &person{t: t, mspID: msp, role: role, gateway: shared.gateway(t, msp)}
	var s signedIn
	anon.must(http.StatusCreated, http.MethodPost, "/v1/sessions", map[string]string{"user": user, "password": pw}).json(t, &s)
	if s.Token == "" || s.Session.User != user {
		t.Fatalf("signed in as %s: %+v", user, s)
	}
	if left := time.Until(s.ExpiresAt); left < time.Minute || left > 24*time.Hour {
		t.Fatalf("session expires at %s", s.ExpiresAt)
	}
	p := *anon
	p.token = s.Token
	return &p, s
}

func errorMessage(t *testing.T, r response) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Message
}

// A session signs a write as the person, is listed for the admin without
// its token, and once ended answers 401 saying so.
func TestSessionSignInCallSignOut(t *testing.T) {
	op, s := signInAs(t, "Dept2MSP", "operator", "")
	op.must(http.StatusOK, http.MethodGet, "/v1/me", nil)
	id := uniqueID("ds-session")
	var w struct {
		Dataset struct {
			Owner string `json:"owner"`
		} `json:"dataset"`
	}
	op.must(http.StatusCreated, http.MethodPost, "/v1/datasets", map[string]any{"id": id, "title": "Signed in with a session",
		"description": "sessions e2e", "fields": []string{"a"}, "shareType": "unconditional", "openType": "open", "grade": 1,
		"updateFrequency": "irregular", "derivedFrom": []string{}}).json(t, &w)
	if w.Dataset.Owner != "Dept2MSP" {
		t.Fatalf("owner %q", w.Dataset.Owner)
	}

	admin, _ := signInAs(t, "Dept2MSP", "admin", "")
	list := admin.must(http.StatusOK, http.MethodGet, "/v1/sessions", nil)
	if !strings.Contains(string(list.body), s.Session.ID) || strings.Contains(string(list.body), s.Token) {
		t.Fatalf("session list (want %s, never the token): %s", s.Session.ID, list.body)
	}
	op.must(http.StatusForbidden, http.MethodGet, "/v1/sessions", nil)

	op.must(http.StatusOK, http.MethodDelete, "/v1/sessions/current", nil)
	if msg := errorMessage(t, op.must(http.StatusUnauthorized, http.MethodGet, "/v1/me", nil)); !strings.Contains(msg, "the session was ended") {
		t.Fatalf("ended session: %q", msg)
	}

	// The admin ends another session of the department.
	op2, s2 := signInAs(t, "Dept2MSP", "operator", "")
	admin.must(http.StatusOK, http.MethodDelete, "/v1/sessions/"+s2.Session.ID, nil)
	if msg := errorMessage(t, op2.must(http.StatusUnauthorized, http.MethodGet, "/v1/me", nil)); !strings.Contains(msg, "ended") {
		t.Fatalf("session ended by the admin: %q", msg)
	}
	// Another department's gateway knows nothing of this session.
	if r := op2.at("Dept1MSP").do(http.MethodGet, "/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("a Dept2 session at Dept1: %d", r.status)
	}

	// The long-lived tokens of credentials.json still work, are marked so
	// and cannot be ended.
	for _, c := range shared.creds {
		if c.Kind != network.CredentialLongLived {
			t.Fatalf("credential of %s/%s has kind %q", c.MSPID, c.User, c.Kind)
		}
	}
	ll := shared.as(t, "Dept2MSP", "operator")
	ll.must(http.StatusOK, http.MethodGet, "/v1/me", nil)
	ll.must(http.StatusConflict, http.MethodDelete, "/v1/sessions/current", nil)
}

// Wrong passwords in a row lock the person; the right one is then refused
// with Retry-After; no password reaches the gateway's log.
func TestSessionLockout(t *testing.T) {
	user, pw := password(t, "Dept2MSP", "approver")
	anon := &person{t: t, mspID: "Dept2MSP", gateway: shared.gateway(t, "Dept2MSP")}
	guess := "wrong-" + uniqueID("pw")
	locked := false
	for i := 0; i < 5 && !locked; i++ { // fewer when an earlier run locked it already
		r := anon.must(http.StatusUnauthorized, http.MethodPost, "/v1/sessions", map[string]string{"user": user, "password": guess})
		locked = strings.Contains(errorMessage(t, r), "locked")
	}
	if !locked {
		t.Fatal("5 wrong passwords did not lock the person")
	}
	r := anon.must(http.StatusUnauthorized, http.MethodPost, "/v1/sessions", map[string]string{"user": user, "password": pw})
	if msg := errorMessage(t, r); !strings.Contains(msg, "is locked") || r.header.Get("Retry-After") == "" {
		t.Fatalf("right password while locked: Retry-After %q, %q", r.header.Get("Retry-After"), msg)
	}
	logs, _ := filepath.Glob(filepath.Join(shared.run, "logs", "gateway-*"))
	for _, l := range logs {
		raw, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), guess) || strings.Contains(string(raw), pw) {
			t.Fatalf("a password is in %s", l)
		}
	}
}

// A person changes their password; the old one stops working. The test
// puts the initial one back, so passwords.json stays right.
func TestSessionChangePassword(t *testing.T) {
	p, _ := signInAs(t, "Dept3MSP", "operator", "")
	user, initial := password(t, "Dept3MSP", "operator")
	next := "e2e-" + uniqueID("pw")
	p.must(http.StatusOK, http.MethodPut, "/v1/sessions/password", map[string]string{"current": initial, "new": next})
	t.Cleanup(func() {
		q, _ := signInAs(t, "Dept3MSP", "operator", next)
		q.must(http.StatusOK, http.MethodPut, "/v1/sessions/password", map[string]string{"current": next, "new": initial})
	})
	anon := &person{t: t, mspID: "Dept3MSP", gateway: shared.gateway(t, "Dept3MSP")}
	anon.must(http.StatusUnauthorized, http.MethodPost, "/v1/sessions", map[string]string{"user": user, "password": initial})
	q, _ := signInAs(t, "Dept3MSP", "operator", next)
	q.must(http.StatusOK, http.MethodGet, "/v1/me", nil)
}
