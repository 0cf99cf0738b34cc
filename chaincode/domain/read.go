package domain

import (
	"slices"
	"strconv"
	"strings"
)

// Who may read a record, and how much of a list at once: the read rules,
// defined here once. The chaincode names a record's parties as its
// endorsers (Record.Parties), the indexer filters and checks its answers
// with them, and the gateway checks what it reads from the peer with them,
// since every member's peer holds every record.

// PartiesOnly reports whether records of kind k are for their parties (and
// auditors) only: what two departments share. Catalog entries, profiles,
// scores and the policy are for every member.
func (k Kind) PartiesOnly() bool {
	switch k {
	case KindRequest, KindDelivery, KindUsage, KindContribution, KindCorrection:
		return true
	}
	return false
}

// Readers are the departments that may read r besides auditors: its
// parties and, for a request a bureau is to co-approve, those bureaus
// (Request.CoApprovers), sorted.
func Readers(r Record) []string {
	if q, ok := r.(*Request); ok && len(q.CoApprovers) > 0 {
		return MSPSet(append(q.Parties(), q.CoApprovers...)...)
	}
	return r.Parties()
}

// MayRead reports whether department mspID is one of r's Readers.
func MayRead(mspID string, r Record) bool { return slices.Contains(Readers(r), mspID) }

// CanRead reports whether actor may read record r of kind k: an auditor
// reads every record, anyone a record of a public kind, and otherwise only
// its readers (Readers: the departments party to it, and the bureaus that
// are to co-approve a request).
func CanRead(actor Actor, k Kind, r Record) bool {
	return actor.Role == RoleAuditor || !k.PartiesOnly() || MayRead(actor.MSPID, r)
}

// CheckRead is CanRead as an error: forbidden, naming the record's parties.
func CheckRead(actor Actor, k Kind, r Record) error {
	if CanRead(actor, k, r) {
		return nil
	}
	return Errorf(CodeForbidden, "only the departments party to %s, and auditors, may read it: %s %s is between %s; %s is not a party",
		r.RecordID(), k, r.RecordID(), strings.Join(r.Parties(), " and "), actor.MSPID)
}

// ReadableParty is the party filter of the lists actor may read: the
// records its own department is party to, or every record ("") for an
// auditor.
func ReadableParty(actor Actor) string {
	if actor.Role == RoleAuditor {
		return ""
	}
	return actor.MSPID
}

// Paging limits of every list, on the ledger and in the index.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ParseLimit reads a page size given as text (a query parameter, a
// transaction argument): empty means DefaultLimit; otherwise an integer from
// 1 to MaxLimit. field names the parameter in the error.
func ParseLimit(field, v string) (int, error) {
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, Errorf(CodeInvalid, "%s %q must be an integer from 1 to %d", field, truncate(v, 20), MaxLimit).WithDetail("field", field)
	}
	return n, nil
}

// DeliveryStatuses lists every delivery state, in order.
var DeliveryStatuses = []DeliveryStatus{DeliveryDelivered, DeliveryReceived, DeliveryDisputed, DeliveryDestroyed}

// Valid reports whether s is a known delivery state.
func (s DeliveryStatus) Valid() bool {
	for _, x := range DeliveryStatuses {
		if s == x {
			return true
		}
	}
	return false
}

// CorrectionStatuses lists every correction state, in order.
var CorrectionStatuses = []CorrectionStatus{CorrectionOpen, CorrectionResolved}

// Valid reports whether s is a known correction state.
func (s CorrectionStatus) Valid() bool {
	for _, x := range CorrectionStatuses {
		if s == x {
			return true
		}
	}
	return false
}
