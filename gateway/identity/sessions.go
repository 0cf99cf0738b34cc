package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/govshare/ledger/chaincode/domain"
)

// Session is one sign-in of a person, as an admin sees it: never the token.
type Session struct {
	ID        string      `json:"id"`
	User      string      `json:"user"`
	Role      domain.Role `json:"role"`
	CreatedAt time.Time   `json:"createdAt"`
	ExpiresAt time.Time   `json:"expiresAt"`
}

// SessionOptions configure Sessions; zero values take the defaults.
type SessionOptions struct {
	TTL         time.Duration // a session's life, default 8 h
	MaxFailures int           // failed sign-ins in a row before a lock, default 5
	LockFor     time.Duration // how long a lock lasts, default 5 min
	// Slowdown is added before checking a password, per failure in a row:
	// the third try waits 2×Slowdown. Default 250 ms.
	Slowdown time.Duration
	Now      func() time.Time
	Sleep    func(time.Duration)
	Logger   *slog.Logger
	// StateFile, when set, is where the sessions are kept across restarts:
	// each session's SHA-256 of its token (never the token), its person
	// and times, written (0600, atomically) whenever a session opens or
	// ends. Without it sessions live in memory and a restart ends them.
	StateFile string
}

// MinPasswordLength is the shortest password a person may choose; bcrypt
// reads at most 72 bytes, so longer ones are refused rather than cut.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 72
)

// Sessions signs people in with their passwords and maps both session
// tokens and the directory's long-lived tokens to people. It keeps only the
// SHA-256 of each session token: in memory, and in SessionOptions.StateFile
// when one is set, so that a gateway restart keeps people signed in
// (without one a restart ends every session; long-lived tokens keep
// working either way).
type Sessions struct {
	dir  *Directory
	opts SessionOptions

	mu       sync.Mutex
	byHash   map[[sha256.Size]byte]*session
	byID     map[string]*session
	failures map[string]*failures // by user name, known users only
}

type session struct {
	Session
	person  *Person
	endedAt time.Time // zero while it runs
}

type failures struct {
	count       int // in a row, including tries still being checked
	lockedUntil time.Time
}

// dummyHash is compared against when the user is unknown, so that the
// answer takes as long as for a known user with a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("govshare-no-such-user"), bcrypt.DefaultCost)

// NewSessions serves sessions for the people of dir.
func NewSessions(dir *Directory, o SessionOptions) *Sessions {
	if o.TTL <= 0 {
		o.TTL = 8 * time.Hour
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.LockFor <= 0 {
		o.LockFor = 5 * time.Minute
	}
	if o.Slowdown <= 0 {
		o.Slowdown = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = time.Sleep
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Sessions{dir: dir, opts: o, byHash: map[[sha256.Size]byte]*session{},
		byID: map[string]*session{}, failures: map[string]*failures{}}
	s.load()
	return s
}

// storedSession is one session as the state file keeps it.
type storedSession struct {
	Session
	TokenSHA256 string     `json:"tokenSha256"`
	EndedAt     *time.Time `json:"endedAt,omitempty"`
}

// load reads the state file, if any: the sessions of people still in the
// directory, with the role they have there, that were not purged. A file
// that cannot be read is reported and left to be written over.
func (s *Sessions) load() {
	if s.opts.StateFile == "" {
		return
	}
	raw, err := os.ReadFile(s.opts.StateFile)
	if os.IsNotExist(err) {
		return
	}
	var stored []storedSession
	if err == nil {
		err = json.Unmarshal(raw, &stored)
	}
	if err != nil {
		s.opts.Logger.Error("sessions: the state file is not readable; starting without sessions", "file", s.opts.StateFile, "err", err)
		return
	}
	now := s.opts.Now()
	kept := 0
	for _, st := range stored {
		sum, err := hex.DecodeString(st.TokenSHA256)
		p := s.dir.person(st.User)
		if err != nil || len(sum) != sha256.Size || p == nil || p.Role != st.Role || now.Sub(st.ExpiresAt) > 24*time.Hour {
			continue
		}
		ss := &session{Session: st.Session, person: p}
		if st.EndedAt != nil {
			ss.endedAt = *st.EndedAt
		}
		s.byHash[[sha256.Size]byte(sum)] = ss
		s.byID[ss.ID] = ss
		kept++
	}
	s.opts.Logger.Info("sessions loaded", "file", s.opts.StateFile, "sessions", kept, "dropped", len(stored)-kept)
}

// saveLocked writes the state file, if any; s.mu is held. A failure is
// logged: the sessions go on in memory, and the next change writes again.
func (s *Sessions) saveLocked() {
	if s.opts.StateFile == "" {
		return
	}
	out := make([]storedSession, 0, len(s.byHash))
	for sum, ss := range s.byHash {
		st := storedSession{Session: ss.Session, TokenSHA256: hex.EncodeToString(sum[:])}
		if !ss.endedAt.IsZero() {
			at := ss.endedAt.UTC()
			st.EndedAt = &at
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	raw, err := json.MarshalIndent(out, "", "  ")
	if err == nil {
		err = writeFileAtomic(s.opts.StateFile, append(raw, '\n'), 0o600)
	}
	if err != nil {
		s.opts.Logger.Error("sessions: the state file was not written; sessions are in memory only until the next change", "file", s.opts.StateFile, "err", err)
	}
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, so that a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// TTL is how long a new session lasts.
func (s *Sessions) TTL() time.Duration { return s.opts.TTL }

// Directory is the people the sessions are for.
func (s *Sessions) Directory() *Directory { return s.dir }

// Authenticate is Check without the reason, for callers that need only yes or no.
func (s *Sessions) Authenticate(token string) (*Person, bool) {
	p, err := s.Check(token)
	return p, err == nil
}

// Check returns the person a long-lived or session token stands for, or an
// unauthorized error that says whether the session expired or was ended.
func (s *Sessions) Check(token string) (*Person, error) {
	if p, ok := s.dir.Authenticate(token); ok {
		return p, nil
	} else if p != nil {
		return nil, revokedError(p)
	}
	sum := sha256.Sum256([]byte(token))
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[sum]
	switch {
	case !ok:
		return nil, domain.Errorf(domain.CodeUnauthorized, "the bearer token is not known here")
	case ss.person.RevokedAt() != nil: // before "ended": revoking ends every session too
		return nil, revokedError(ss.person)
	case !ss.endedAt.IsZero():
		return nil, domain.Errorf(domain.CodeUnauthorized, "the session was ended at %s; sign in again", ss.endedAt.UTC().Format(time.RFC3339)).
			WithDetail("session", "ended")
	case !now.Before(ss.ExpiresAt):
		return nil, domain.Errorf(domain.CodeUnauthorized, "the session expired at %s; sign in again", ss.ExpiresAt.UTC().Format(time.RFC3339)).
			WithDetail("session", "expired")
	}
	return ss.person, nil
}

func revokedError(p *Person) error {
	return domain.Errorf(domain.CodeUnauthorized, "%s was revoked at %s; their tokens and certificate are no longer valid",
		p.User, p.RevokedAt().Format(time.RFC3339)).WithDetail("session", "revoked")
}

// SignIn checks user's password and opens a session. Failures in a row
// slow the next try and, at MaxFailures, lock the user for LockFor; a
// locked user's error carries the detail "retryAfter" (seconds).
func (s *Sessions) SignIn(user, password string) (token string, _ Session, _ error) {
	p := s.dir.person(user)
	if p == nil || len(s.passwordHash(p)) == 0 {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		s.opts.Logger.Warn("sign-in failed", "user", user, "reason", "unknown user or no password set")
		return "", Session{}, wrongPassword()
	}
	if err := s.checkPassword(p, password, "sign-in"); err != nil {
		return "", Session{}, err
	}
	if p.RevokedAt() != nil {
		s.opts.Logger.Warn("sign-in refused", "user", user, "reason", "revoked")
		return "", Session{}, revokedError(p)
	}
	token, id := randomToken(32), "ss-"+randomToken(12)
	now := s.opts.Now().UTC().Truncate(time.Second)
	ss := &session{Session: Session{ID: id, User: p.User, Role: p.Role, CreatedAt: now, ExpiresAt: now.Add(s.opts.TTL)}, person: p}
	s.mu.Lock()
	s.purgeLocked(now)
	s.byHash[sha256.Sum256([]byte(token))] = ss
	s.byID[id] = ss
	s.saveLocked()
	s.mu.Unlock()
	s.opts.Logger.Info("signed in", "user", p.User, "session", id, "expiresAt", ss.ExpiresAt)
	return token, ss.Session, nil
}

func wrongPassword() error {
	return domain.Errorf(domain.CodeUnauthorized, "the user name or the password is wrong")
}

// checkPassword compares password with p's hash under the failure rules.
func (s *Sessions) checkPassword(p *Person, password, what string) error {
	now := s.opts.Now()
	s.mu.Lock()
	f := s.failures[p.User]
	if f == nil {
		f = &failures{}
		s.failures[p.User] = f
	}
	if now.Before(f.lockedUntil) {
		until := f.lockedUntil
		s.mu.Unlock()
		wait := int(until.Sub(now).Seconds() + 0.999)
		s.opts.Logger.Warn(what+" refused", "user", p.User, "reason", "locked", "lockedUntil", until)
		return domain.Errorf(domain.CodeUnauthorized, "%s is locked after %d failed sign-ins until %s; retry after %d s",
			p.User, s.opts.MaxFailures, until.UTC().Format(time.RFC3339), wait).WithDetail("retryAfter", fmt.Sprint(wait))
	}
	delay := time.Duration(f.count) * s.opts.Slowdown
	f.count++ // counted before the check, so that parallel tries cannot pass the limit
	hash := p.passwordHash
	s.mu.Unlock()

	s.opts.Sleep(delay)
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))

	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.failures, p.User)
		return nil
	}
	attrs := []any{"user", p.User, "failures", f.count}
	if f.count >= s.opts.MaxFailures {
		f.lockedUntil, f.count = s.opts.Now().Add(s.opts.LockFor), 0
		attrs = append(attrs, "lockedUntil", f.lockedUntil)
	}
	s.opts.Logger.Warn(what+" failed", attrs...)
	if !f.lockedUntil.IsZero() && f.count == 0 {
		return domain.Errorf(domain.CodeUnauthorized, "the user name or the password is wrong; %s is now locked for %s",
			p.User, s.opts.LockFor).WithDetail("retryAfter", fmt.Sprint(int(s.opts.LockFor.Seconds())))
	}
	return wrongPassword()
}

func (s *Sessions) passwordHash(p *Person) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.passwordHash
}

// purgeLocked forgets sessions a day after they expired: until then an
// expired or ended token still answers which it is.
func (s *Sessions) purgeLocked(now time.Time) {
	for h, ss := range s.byHash {
		if now.Sub(ss.ExpiresAt) > 24*time.Hour {
			delete(s.byHash, h)
			delete(s.byID, ss.ID)
		}
	}
}

// List returns the sessions that run now, oldest first.
func (s *Sessions) List() []Session {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Session{}
	for _, ss := range s.byID {
		if ss.endedAt.IsZero() && now.Before(ss.ExpiresAt) {
			out = append(out, ss.Session)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// End ends the session id.
func (s *Sessions) End(id string) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok || !ss.endedAt.IsZero() || !s.opts.Now().Before(ss.ExpiresAt) {
		return Session{}, domain.Errorf(domain.CodeNotFound, "no running session %s", id)
	}
	ss.endedAt = s.opts.Now()
	s.saveLocked()
	return ss.Session, nil
}

// EndToken ends the session of token. A long-lived token cannot be ended.
func (s *Sessions) EndToken(token string) (Session, error) {
	if _, ok := s.dir.Authenticate(token); ok {
		return Session{}, domain.Errorf(domain.CodeConflict, "this is a long-lived token (credentials.json), not a session; it cannot be ended")
	}
	sum := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byHash[sum]
	if !ok {
		return Session{}, domain.Errorf(domain.CodeUnauthorized, "the bearer token is not known here")
	}
	if ss.endedAt.IsZero() {
		ss.endedAt = s.opts.Now()
		s.saveLocked()
	}
	return ss.Session, nil
}

// EndUser ends every session of user (a revoked person) and answers how many.
func (s *Sessions) EndUser(user string) int {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.byID {
		if ss.User == user && ss.endedAt.IsZero() && now.Before(ss.ExpiresAt) {
			ss.endedAt = now
			n++
		}
	}
	if n > 0 {
		s.saveLocked()
	}
	return n
}

// ChangePassword sets p's password to next once current checks out (under
// the same failure rules as a sign-in), and writes the new hash to the
// identities file the directory was loaded from, so that it outlives a
// restart. The person's sessions keep running.
func (s *Sessions) ChangePassword(p *Person, current, next string) error {
	switch {
	case len(next) < MinPasswordLength:
		return domain.Errorf(domain.CodeInvalid, "the new password must have at least %d characters", MinPasswordLength).WithDetail("field", "new")
	case len(next) > MaxPasswordLength:
		return domain.Errorf(domain.CodeInvalid, "the new password must have at most %d bytes", MaxPasswordLength).WithDetail("field", "new")
	case next == current:
		return domain.Errorf(domain.CodeInvalid, "the new password is the current one").WithDetail("field", "new")
	}
	if len(s.passwordHash(p)) == 0 {
		return domain.Errorf(domain.CodeForbidden, "%s has no password here; ask the department's admin", p.User)
	}
	if err := s.checkPassword(p, current, "password change"); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash the new password: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.dir.savePassword(p.User, string(hash)); err != nil {
		return err
	}
	p.passwordHash = hash
	s.opts.Logger.Info("password changed", "user", p.User)
	return nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

func (d *Directory) person(user string) *Person {
	for _, p := range d.people {
		if p.User == user {
			return p
		}
	}
	return nil
}

// savePassword rewrites the identities file with user's new hash.
func (d *Directory) savePassword(user, hash string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.saveEntryLocked(user, func(e *Entry) { e.PasswordBcrypt = hash })
}

// saveEntryLocked applies change to user's entry and rewrites the
// identities file through a 0600 temporary file renamed over it. A
// directory built with New has no file and keeps the change in memory only.
func (d *Directory) saveEntryLocked(user string, change func(*Entry)) error {
	entries := append([]Entry(nil), d.entries...)
	for i := range entries {
		if entries[i].User == user {
			change(&entries[i])
		}
	}
	if d.path == "" {
		d.entries = entries
		return nil
	}
	raw, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(d.path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("save the identities: %w", err)
	}
	d.entries = entries
	return nil
}

// Of builds a directory of people already loaded, with no long-lived
// tokens and nothing written back (tests and tools; the gateway uses Load).
func Of(people ...*Person) *Directory {
	return &Directory{people: append([]*Person(nil), people...)}
}

// WithPassword returns a copy of p whose password has the bcrypt hash.
func (p *Person) WithPassword(bcryptHash []byte) *Person {
	q := *p
	q.passwordHash = append([]byte(nil), bcryptHash...)
	return &q
}
