package identity

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/govshare/ledger/chaincode/domain"
)

// A changed password outlives a restart: it is written to the identities
// file (still 0600), and the old one stops working.
func TestChangePasswordIsSaved(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCredentials(t, dir, "alice", "operator", 0o600)
	hash, _ := bcrypt.GenerateFromPassword([]byte("initial-password"), bcrypt.MinCost)
	raw, _ := json.Marshal([]Entry{{User: "alice", Role: "operator", TokenSHA256: tokenHash("tok-alice"), PasswordBcrypt: string(hash), CertPath: cert, KeyPath: key}})
	path := filepath.Join(dir, "identities.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Load(path, "Dept1MSP")
	if err != nil {
		t.Fatal(err)
	}
	quiet := SessionOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Sleep: func(time.Duration) {}}
	s := NewSessions(d, quiet)
	alice := d.People()[0]
	if err := s.ChangePassword(alice, "initial-password", "a-much-better-one"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identities file after the change: %v %v", fi.Mode(), err)
	}
	d2, err := Load(path, "Dept1MSP")
	if err != nil {
		t.Fatal(err)
	}
	s2 := NewSessions(d2, quiet)
	if _, _, err := s2.SignIn("alice", "initial-password"); err == nil {
		t.Fatal("the old password still works after a restart")
	}
	tok, ss, err := s2.SignIn("alice", "a-much-better-one")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s2.Check(tok); err != nil || p.User != "alice" || ss.User != "alice" {
		t.Fatalf("check: %v %v", p, err)
	}
	// The long-lived token keeps working beside sessions.
	if p, err := s2.Check("tok-alice"); err != nil || p.User != "alice" {
		t.Fatalf("long-lived token: %v", err)
	}
	var de *domain.Error
	if _, err := s2.EndToken("tok-alice"); !errors.As(err, &de) || de.Code != domain.CodeConflict {
		t.Fatalf("ending a long-lived token: %v", err)
	}
	if n := s2.EndUser("alice"); n != 1 {
		t.Fatalf("EndUser ended %d sessions", n)
	}
	if _, err := s2.Check(tok); err == nil || !strings.Contains(err.Error(), "ended") {
		t.Fatalf("after EndUser: %v", err)
	}
}

func TestLoadRejectsBadPasswordHash(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCredentials(t, dir, "alice", "operator", 0o600)
	_, err := New("Dept1MSP", []Entry{{User: "alice", Role: "operator", TokenSHA256: tokenHash("t"), PasswordBcrypt: "plain-text", CertPath: cert, KeyPath: key}})
	if err == nil || !strings.Contains(err.Error(), "not a bcrypt hash") {
		t.Fatalf("err %v", err)
	}
}

// BenchmarkCheck is what authenticating one call costs: a long-lived
// token (constant-time comparison with every person's hash) and a session
// token (that, then one map lookup), among 6 people and 1000 sessions.
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("initial-password"), bcrypt.MinCost)
	var entries []Entry
	for _, u := range []string{"admin", "operator1", "operator2", "approver1", "evaluator1", "auditor1"} {
		cert, key := writeCredentials(b, dir, u, "operator", 0o600)
		entries = append(entries, Entry{User: u, Role: "operator", TokenSHA256: tokenHash("tok-" + u), PasswordBcrypt: string(hash), CertPath: cert, KeyPath: key})
	}
	d, err := New("Dept1MSP", entries)
	if err != nil {
		b.Fatal(err)
	}
	s := NewSessions(d, SessionOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Sleep: func(time.Duration) {}})
	var token string
	for range 1000 {
		if token, _, err = s.SignIn("operator1", "initial-password"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("long-lived", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Check("tok-operator1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Check(token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// With a state file, sessions outlive a restart: a running one still
// checks, an ended one still says it was ended, and the file holds the
// tokens' SHA-256 only (0600). A session of a person no longer in the
// directory (or whose role there is another) is dropped on load, and so
// is one purged (a day past its expiry).
func TestSessionsOutliveARestart(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCredentials(t, dir, "alice", "operator", 0o600)
	bcert, bkey := writeCredentials(t, dir, "bob", "approver", 0o600)
	hash, _ := bcrypt.GenerateFromPassword([]byte("initial-password"), bcrypt.MinCost)
	entries := []Entry{{User: "alice", Role: "operator", TokenSHA256: tokenHash("tok-alice"), PasswordBcrypt: string(hash), CertPath: cert, KeyPath: key},
		{User: "bob", Role: "approver", TokenSHA256: tokenHash("tok-bob"), PasswordBcrypt: string(hash), CertPath: bcert, KeyPath: bkey}}
	path := filepath.Join(dir, "identities.json")
	write := func(es []Entry) {
		raw, _ := json.Marshal(es)
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(entries)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	state := filepath.Join(dir, "data", "sessions.json")
	opts := SessionOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Sleep: func(time.Duration) {},
		Now: func() time.Time { return now }, StateFile: state}
	start := func() *Sessions {
		t.Helper()
		d, err := Load(path, "Dept1MSP")
		if err != nil {
			t.Fatal(err)
		}
		return NewSessions(d, opts)
	}
	s := start()
	running, _, err := s.SignIn("alice", "initial-password")
	if err != nil {
		t.Fatal(err)
	}
	ended, _, err := s.SignIn("alice", "initial-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EndToken(ended); err != nil {
		t.Fatal(err)
	}
	bobs, _, err := s.SignIn("bob", "initial-password")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(state)
	fi, _ := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 || strings.Contains(string(raw), running) || !strings.Contains(string(raw), tokenHash(running)) {
		t.Fatalf("state file (%v, %v): %s", fi.Mode(), err, raw)
	}

	s = start()
	if p, err := s.Check(running); err != nil || p.User != "alice" {
		t.Fatalf("the running session after a restart: %v, %v", p, err)
	}
	if _, err := s.Check(ended); err == nil || !strings.Contains(err.Error(), "the session was ended") {
		t.Fatalf("the ended session after a restart: %v", err)
	}
	if len(s.List()) != 2 {
		t.Fatalf("running sessions after a restart: %+v", s.List())
	}

	// Bob leaves the identities file: his session does not outlive him.
	write(entries[:1])
	s = start()
	if _, err := s.Check(bobs); err == nil {
		t.Fatal("a session outlived its person's removal")
	}
	// A day past the expiry the sessions are gone.
	now = now.Add(8*time.Hour + 25*time.Hour) // the default TTL and a day
	s = start()
	if _, err := s.Check(running); err == nil || !strings.Contains(err.Error(), "not known here") {
		t.Fatalf("a purged session: %v", err)
	}
}
