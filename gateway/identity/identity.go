// Package identity holds the people a department's gateway acts for: each
// person's bearer token (kept only as a SHA-256), role, X.509 certificate and
// signing key. Every transaction the gateway sends is signed with the calling
// person's own key, so the ledger names the person, never a shared service
// account.
package identity

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fabid "github.com/hyperledger/fabric-gateway/pkg/identity"
	"golang.org/x/crypto/bcrypt"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/config"
)

// Person is one enrolled member of the department, with what is needed to
// sign transactions in their name.
type Person struct {
	MSPID string
	User  string
	Role  domain.Role
	ID    *fabid.X509Identity
	Sign  fabid.Sign

	tokenHash    [sha256.Size]byte
	passwordHash []byte // bcrypt; guarded by Sessions.mu once sessions serve
	// revokedAt is shared by the copies of a person (a copy with another
	// role, with another password) so that revoking one revokes them all.
	revokedAt *atomic.Pointer[time.Time]
}

// RevokedAt is when the person's certificate was revoked here (nil while it
// is not): the gateway then neither authenticates nor signs for them.
func (p *Person) RevokedAt() *time.Time {
	if p.revokedAt == nil {
		return nil
	}
	return p.revokedAt.Load()
}

// Entry is one line of identities.json (config.Identity, the type
// network/ writes it with).
type Entry = config.Identity

// Directory maps bearer tokens to people.
type Directory struct {
	people []*Person
	path   string // the identities file, when loaded from one (password changes and revocations go there)

	mu      sync.Mutex
	entries []Entry // as loaded, with the changes since
}

// Load reads identities.json at path and every certificate and key it names.
// It refuses key files that the group or others can read, because a readable
// key lets anyone on the host sign in that person's name.
func Load(path, mspID string) (*Directory, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identities: %w", err)
	}
	var entries []Entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("parse identities %s: %w", path, err)
	}
	d, err := New(mspID, entries)
	if err != nil {
		return nil, err
	}
	d.path = path
	return d, nil
}

// New builds a directory from entries, loading their certificates and keys.
func New(mspID string, entries []Entry) (*Directory, error) {
	if err := domain.CheckMSPID("mspId", mspID); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("identities: no person is listed")
	}
	d := &Directory{entries: append([]Entry(nil), entries...)}
	users := map[string]bool{}
	tokens := map[[sha256.Size]byte]string{}
	for i, e := range entries {
		p, err := loadPerson(mspID, e)
		if err != nil {
			return nil, fmt.Errorf("identities entry %d (%q): %w", i, e.User, err)
		}
		if users[p.User] {
			return nil, fmt.Errorf("identities entry %d: user %q is listed twice", i, p.User)
		}
		users[p.User] = true
		if other, dup := tokens[p.tokenHash]; dup {
			return nil, fmt.Errorf("identities entry %d (%q): same token as %q", i, p.User, other)
		}
		tokens[p.tokenHash] = p.User
		d.people = append(d.people, p)
	}
	return d, nil
}

func loadPerson(mspID string, e Entry) (*Person, error) {
	if strings.TrimSpace(e.User) == "" {
		return nil, errors.New("user is required")
	}
	role := domain.Role(e.Role)
	if !role.Valid() {
		return nil, fmt.Errorf("role %q is not one of operator, approver, evaluator, auditor, admin", e.Role)
	}
	h, err := hex.DecodeString(e.TokenSHA256)
	if err != nil || len(h) != sha256.Size || strings.ToLower(e.TokenSHA256) != e.TokenSHA256 {
		return nil, errors.New("tokenSha256 must be 64 lowercase hex characters")
	}
	certPEM, err := os.ReadFile(e.CertPath)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := fabid.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", e.CertPath, err)
	}
	if attr, ok, err := certRole(cert); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", e.CertPath, err)
	} else if ok && attr != e.Role {
		// The chaincode reads the role from the certificate; a different role
		// here would make the gateway's own checks disagree with the ledger's.
		return nil, fmt.Errorf("role %q differs from the certificate's role attribute %q", e.Role, attr)
	}
	keyFile, err := findKey(e.KeyPath)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(key, cert) {
		return nil, fmt.Errorf("key %s does not belong to certificate %s", keyFile, e.CertPath)
	}
	id, err := fabid.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	sign, err := fabid.NewPrivateKeySign(key)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", keyFile, err)
	}
	if e.PasswordBcrypt != "" {
		if _, err := bcrypt.Cost([]byte(e.PasswordBcrypt)); err != nil {
			return nil, fmt.Errorf("passwordBcrypt is not a bcrypt hash: %w", err)
		}
	}
	p := &Person{MSPID: mspID, User: e.User, Role: role, ID: id, Sign: sign, revokedAt: new(atomic.Pointer[time.Time])}
	copy(p.tokenHash[:], h)
	p.passwordHash = []byte(e.PasswordBcrypt)
	if e.RevokedAt != nil {
		at := *e.RevokedAt
		p.revokedAt.Store(&at)
	}
	return p, nil
}

// findKey resolves keyPath: a file, or a folder holding exactly one *_sk file
// as fabric-ca-client writes its keystore.
func findKey(keyPath string) (string, error) {
	fi, err := os.Stat(keyPath)
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	if !fi.IsDir() {
		return keyPath, nil
	}
	matches, err := filepath.Glob(filepath.Join(keyPath, "*_sk"))
	if err != nil {
		return "", fmt.Errorf("key folder %s: %w", keyPath, err)
	}
	if len(matches) != 1 {
		return "", fmt.Errorf("key folder %s holds %d *_sk files, want exactly 1", keyPath, len(matches))
	}
	return matches[0], nil
}

func readKey(path string) (crypto.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key %s has mode %04o: group or others may read it; run chmod 600 %s", path, perm, path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := fabid.PrivateKeyFromPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	return key, nil
}

func publicKeyMatches(key crypto.PrivateKey, cert *x509.Certificate) bool {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return false
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// fabricCAAttrsOID is the extension in which fabric-ca writes enrollment attributes.
var fabricCAAttrsOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// certRole returns the "role" attribute a fabric-ca certificate carries, if any.
func certRole(cert *x509.Certificate) (string, bool, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(fabricCAAttrsOID) {
			continue
		}
		var attrs struct {
			Attrs map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(ext.Value, &attrs); err != nil {
			return "", false, fmt.Errorf("attribute extension: %w", err)
		}
		r, ok := attrs.Attrs[domain.RoleAttribute]
		return r, ok, nil
	}
	return "", false, nil
}

// Authenticate returns the person whose token hashes to the same SHA-256 as
// token; ok is false when there is none or they were revoked (the person is
// then returned, to say so). It compares against every person in constant time so that timing
// tells nothing about which hashes exist.
func (d *Directory) Authenticate(token string) (*Person, bool) {
	if token == "" {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	var found *Person
	for _, p := range d.people {
		if subtle.ConstantTimeCompare(sum[:], p.tokenHash[:]) == 1 {
			found = p
		}
	}
	return found, found != nil && found.RevokedAt() == nil
}

// Person returns the person named user, nil if there is none.
func (d *Directory) Person(user string) *Person { return d.person(user) }

// Revoke marks user revoked from now on, in memory and in the identities
// file, so that none of their tokens authenticates again, even after a
// restart. It answers when they were revoked (the first time, if they were
// already).
func (d *Directory) Revoke(user string, at time.Time) (time.Time, error) {
	p := d.person(user)
	if p == nil {
		return time.Time{}, fmt.Errorf("no person %q", user)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if was := p.RevokedAt(); was != nil {
		return *was, nil
	}
	if p.revokedAt == nil {
		return time.Time{}, fmt.Errorf("%s was not loaded from an identities file and cannot be revoked", user)
	}
	at = at.UTC().Truncate(time.Second)
	if err := d.saveEntryLocked(user, func(e *Entry) { e.RevokedAt = &at }); err != nil {
		return time.Time{}, err
	}
	p.revokedAt.Store(&at)
	return at, nil
}

// People returns every person, in file order.
func (d *Directory) People() []*Person { return append([]*Person(nil), d.people...) }
