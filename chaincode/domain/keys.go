package domain

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// The world state's key layout, in one place: the contract writes it, the
// peers' validation plugin judges it and the indexers read it back from the
// write sets. Every key is a Fabric composite key,
// "\x00" + objectType + "\x00" + attr + "\x00" ..., the format of the shim's
// CreateCompositeKey:
//
//	(<kind>, id)                one entity: department, dataset, request, ...
//	(dataset~owner, owner, id)  a department's catalog, a prefix scan
//	(party, mspId)              a department's anchor (see AnchorKey)
//
// There are no counters and no shared keys that transactions read: two
// departments acting on different things never conflict.
const (
	compositeSep = "\x00"

	// IndexDatasetByOwner is the object type of the catalog index keys.
	IndexDatasetByOwner = "dataset~owner"
	// AnchorType is the object type of the departments' anchor keys.
	AnchorType = "party"
)

// IndexValue is what an index or anchor key stores: the shim treats an
// empty value as a delete, so it holds one zero byte.
var IndexValue = []byte{0}

// CompositeKey builds a composite key, refusing parts the shim would refuse
// (invalid UTF-8, U+0000, U+10FFFF) so that every layer forms the same key.
func CompositeKey(objectType string, attrs ...string) (string, error) {
	if err := checkKeyPart(objectType); err != nil {
		return "", Errorf(CodeInvalid, "key type %q: %v", truncate(objectType, 40), err)
	}
	var b strings.Builder
	b.WriteString(compositeSep)
	b.WriteString(objectType)
	b.WriteString(compositeSep)
	for _, a := range attrs {
		if err := checkKeyPart(a); err != nil {
			return "", Errorf(CodeInvalid, "key part %q: %v", truncate(a, 40), err)
		}
		b.WriteString(a)
		b.WriteString(compositeSep)
	}
	return b.String(), nil
}

func checkKeyPart(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range s {
		if r == 0 || r == utf8.MaxRune {
			return fmt.Errorf("holds U+%04X", r)
		}
	}
	return nil
}

// SplitKey parses a composite key into its object type and attributes.
func SplitKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, compositeSep) || !strings.HasSuffix(key, compositeSep) || len(key) < 3 {
		return "", nil, fmt.Errorf("key %q is not a composite key", truncate(key, 60))
	}
	parts := strings.Split(key[1:len(key)-1], compositeSep)
	for _, p := range parts {
		if err := checkKeyPart(p); err != nil {
			return "", nil, fmt.Errorf("key %q: %v", truncate(key, 60), err)
		}
	}
	return parts[0], parts[1:], nil
}

// EntityKey is the state key of one entity.
func EntityKey(kind Kind, id string) (string, error) { return CompositeKey(string(kind), id) }

// DatasetOwnerKey is the index key that lists dataset id under its owner.
func DatasetOwnerKey(owner, id string) (string, error) {
	return CompositeKey(IndexDatasetByOwner, owner, id)
}

// AnchorKey is a department's anchor: a key created with the department's
// profile, whose key-level endorsement policy is the department's own peer.
// Every transaction that creates a record naming the department as a party
// also writes it (a blind write, never read, so it causes no MVCC
// conflicts). The write makes the peer's chaincode interest name that policy,
// so Fabric's Gateway plans the department's peer among the endorsers, and
// the key's policy makes the endorsement mandatory. The validation plugin
// (chaincode/validation) checks the same rule directly from the record.
func AnchorKey(mspID string) (string, error) { return CompositeKey(AnchorType, mspID) }

// Record is a stored entity: it knows its ID and the departments it names.
type Record interface {
	RecordID() string
	// Parties are the departments the record names as owner or party, sorted
	// and without repeats: each of their peers must endorse its creation.
	Parties() []string
}

// KeyInfo is what a state key is.
type KeyInfo struct {
	Type  string   // the object type: an entity Kind, IndexDatasetByOwner or AnchorType
	Attrs []string // the key's attributes (the entity ID for an entity key)
}

// Kind is the entity kind of an entity key, or "" for an index or anchor.
func (k KeyInfo) Kind() Kind {
	kind := Kind(k.Type)
	if kind.Valid() {
		return kind
	}
	return ""
}

// ParseKey says what a key of the contract's namespace is, or fails for a
// key the contract never writes.
func ParseKey(key string) (KeyInfo, error) {
	t, attrs, err := SplitKey(key)
	if err != nil {
		return KeyInfo{}, err
	}
	k := KeyInfo{Type: t, Attrs: attrs}
	want := 1
	switch {
	case Kind(t).Valid():
	case t == IndexDatasetByOwner:
		want = 2
	case t == AnchorType:
	default:
		return KeyInfo{}, fmt.Errorf("key %q has unknown type %q", truncate(key, 60), truncate(t, 40))
	}
	if len(attrs) != want {
		return KeyInfo{}, fmt.Errorf("key %q of type %s has %d parts, want %d", truncate(key, 60), t, len(attrs), want)
	}
	for _, a := range attrs {
		if a == "" {
			return KeyInfo{}, fmt.Errorf("key %q of type %s has an empty part", truncate(key, 60), t)
		}
	}
	return k, nil
}

// PrintableKey shows a composite key in a message: separators as '|',
// at most 80 bytes.
func PrintableKey(key string) string {
	return truncate(strings.ReplaceAll(key, compositeSep, "|"), 80)
}

// Kinds lists every entity kind.
var Kinds = []Kind{KindDepartment, KindDataset, KindRequest, KindDelivery, KindUsage, KindContribution, KindCorrection, KindSnapshot, KindAttestation, KindPolicy, KindPolicyProposal, KindPolicyApproval}

// Valid reports whether k is a known entity kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// NewRecord returns an empty entity of kind, to decode into.
func NewRecord(kind Kind) (Record, error) {
	switch kind {
	case KindDepartment:
		return &Department{}, nil
	case KindDataset:
		return &Dataset{}, nil
	case KindRequest:
		return &Request{}, nil
	case KindDelivery:
		return &Delivery{}, nil
	case KindUsage:
		return &Usage{}, nil
	case KindContribution:
		return &Contribution{}, nil
	case KindCorrection:
		return &Correction{}, nil
	case KindSnapshot:
		return &ScoreSnapshot{}, nil
	case KindAttestation:
		return &ScoreAttestation{}, nil
	case KindPolicy:
		return &Policy{}, nil
	case KindPolicyProposal:
		return &PolicyProposal{}, nil
	case KindPolicyApproval:
		return &PolicyApproval{}, nil
	}
	return nil, fmt.Errorf("unknown entity kind %q", truncate(string(kind), 40))
}

// Written is one key-value write of the contract's namespace, read back
// as what it is.
type Written struct {
	Key    string
	Info   KeyInfo
	Record Record // the entity, for an entity key; nil for an index or anchor
}

// ParseWrite decodes one write (not a delete) of the contract's namespace:
// the key must be one the contract forms, an entity's value its JSON with the
// ID the key names, an index's or anchor's value IndexValue.
func ParseWrite(key string, value []byte) (*Written, error) {
	info, err := ParseKey(key)
	if err != nil {
		return nil, err
	}
	w := &Written{Key: key, Info: info}
	kind := info.Kind()
	if kind == "" {
		if string(value) != string(IndexValue) {
			return nil, fmt.Errorf("%s key %q holds %d bytes, not the index marker", info.Type, truncate(key, 60), len(value))
		}
		return w, nil
	}
	rec, err := NewRecord(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(value, rec); err != nil {
		return nil, fmt.Errorf("%s %s: %w", kind, info.Attrs[0], err)
	}
	if rec.RecordID() != info.Attrs[0] {
		return nil, fmt.Errorf("%s key %q holds the record of %q", kind, info.Attrs[0], truncate(rec.RecordID(), 60))
	}
	w.Record = rec
	return w, nil
}

// Parties of a written key: the departments whose peers must endorse its
// creation.
func (w *Written) Parties() []string {
	switch w.Info.Type {
	case IndexDatasetByOwner, AnchorType:
		return []string{w.Info.Attrs[0]}
	}
	return w.Record.Parties()
}

// MSPSet sorts the departments named and drops empties and repeats: the
// one canonical form of a set of departments (parties, endorsers, approvals).
func MSPSet(msps ...string) []string {
	out := make([]string, 0, len(msps))
	for _, m := range msps {
		if m != "" {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	j := 0
	for i, m := range out {
		if i == 0 || m != out[j-1] {
			out[j] = m
			j++
		}
	}
	return out[:j]
}

func (d *Department) RecordID() string   { return d.MSPID }
func (d *Department) Parties() []string  { return MSPSet(d.MSPID) }
func (d *Dataset) RecordID() string      { return d.ID }
func (d *Dataset) Parties() []string     { return MSPSet(d.Owner) }
func (r *Request) RecordID() string      { return r.ID }
func (r *Request) Parties() []string     { return MSPSet(r.Owner, r.Requester) }
func (d *Delivery) RecordID() string     { return d.ID }
func (d *Delivery) Parties() []string    { return MSPSet(d.Owner, d.Requester) }
func (u *Usage) RecordID() string        { return u.ID }
func (u *Usage) Parties() []string       { return MSPSet(u.Consumer, u.Owner) }
func (c *Contribution) RecordID() string { return c.ID }
func (c *Contribution) Parties() []string {
	return MSPSet(c.Contributor, c.Owner)
}
func (c *Correction) RecordID() string     { return c.ID }
func (c *Correction) Parties() []string    { return MSPSet(c.Owner, c.Requester) }
func (s *ScoreSnapshot) RecordID() string  { return s.ID }
func (s *ScoreSnapshot) Parties() []string { return MSPSet(s.PublishedBy.MSPID) }

// An attestation names the attesting department alone: its own peer must
// endorse what its admin says of a snapshot.
func (a *ScoreAttestation) RecordID() string  { return a.ID }
func (a *ScoreAttestation) Parties() []string { return MSPSet(a.MSPID) }
