package watch

import (
	"time"

	"github.com/govshare/ledger/chaincode/domain"
)

// Kind names what a finding is about.
type Kind string

// The kinds of finding.
const (
	// KindNotDestroyed: a delivered copy not destroyed within the grade's
	// window after its approval expired or was revoked. Closed by the
	// destruction.
	KindNotDestroyed Kind = "copy-not-destroyed"
	// KindUseAfterEnd: usage recorded at or after its request's expiry or
	// revocation, or under a request that was never approved. Nothing
	// closes it.
	KindUseAfterEnd Kind = "use-after-end"
	// KindOveruse: more records used under a request than were delivered
	// for it. Closed by the delivery that covers them.
	KindOveruse Kind = "overuse"
	// KindReceiptOverdue: a delivery without a receipt after the receipt
	// window. Closed by the receipt.
	KindReceiptOverdue Kind = "receipt-overdue"
	// KindDisputeOpen: a disputed delivery with no resolved correction and
	// no matching new delivery after the dispute window. Closed by either.
	KindDisputeOpen Kind = "dispute-open"
	// KindCorrectionOverdue: a correction open beyond its window. Closed
	// by its resolution.
	KindCorrectionOverdue Kind = "correction-overdue"
	// KindFieldsOutside: a delivery of grade 3 or 4 data (FieldsWatchedFrom)
	// that carried a field its request did not name. Closed by the copy's
	// destruction.
	KindFieldsOutside Kind = "fields-outside-request"
	// KindRequestSpike and KindUsageSpike: a department's requests or used
	// records on one day far above its own history (Rules' spike rule).
	// Nothing closes them.
	KindRequestSpike Kind = "request-spike"
	KindUsageSpike   Kind = "usage-spike"
)

// Kinds lists every kind, in order.
var Kinds = []Kind{KindNotDestroyed, KindUseAfterEnd, KindOveruse, KindReceiptOverdue, KindDisputeOpen, KindCorrectionOverdue,
	KindFieldsOutside, KindRequestSpike, KindUsageSpike}

// FieldsWatchedFrom is the lowest grade whose deliveries are checked
// against their request's fields (KindFieldsOutside).
const FieldsWatchedFrom = 3

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// State is open until the transaction that resolves a finding arrives.
type State string

// The finding states.
const (
	StateOpen   State = "open"
	StateClosed State = "closed"
)

// Evidence is one ledger position a finding rests on.
type Evidence struct {
	TxID  string           `json:"txId"`
	Block uint64           `json:"blockNumber"`
	Time  time.Time        `json:"timestamp"`
	Type  domain.EventType `json:"type"`
	Actor domain.Actor     `json:"actor"`
}

// Finding is one early warning. Its ID is the kind and its subject, so the
// same fact gives the same finding on every indexer.
type Finding struct {
	ID         string `json:"id"`
	Kind       Kind   `json:"kind"`
	State      State  `json:"state"`
	Department string `json:"department"` // the department whose obligation it is
	// Person is who acted last for that department in the matter (the
	// receiver of an undestroyed copy, the user of the records); nil when
	// nobody of it has acted.
	Person       *domain.Actor `json:"person,omitempty"`
	DatasetID    string        `json:"datasetId,omitempty"`
	RequestID    string        `json:"requestId,omitempty"`
	DeliveryID   string        `json:"deliveryId,omitempty"`
	CorrectionID string        `json:"correctionId,omitempty"`
	Grade        int           `json:"grade,omitempty"`
	Records      int64         `json:"records,omitempty"` // the records concerned
	Detail       string        `json:"detail"`
	// Due is when a clock-based finding became due; OpenedAt the ledger
	// time at which the watch opened it (the due time or the transaction's).
	Due      *time.Time `json:"due,omitempty"`
	OpenedAt time.Time  `json:"openedAt"`
	Period   string     `json:"period"` // YYYY-MM of OpenedAt
	// OpenedAtBlock is the block whose end (or event) opened it.
	OpenedAtBlock uint64 `json:"openedAtBlock"`
	// ChangedAtBlock is the block of its last change (opened, added to,
	// closed): findings are listed in the order (changedAtBlock, id).
	ChangedAtBlock uint64     `json:"changedAtBlock"`
	Evidence       []Evidence `json:"evidence"`
	ClosedBy       *Evidence  `json:"closedBy,omitempty"`
}

// Sink takes every finding the watch opens, changes or closes, whole, in
// the order it does so; the last one given for an ID is its state.
type Sink func(Finding) error
