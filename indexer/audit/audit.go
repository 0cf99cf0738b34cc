// Package audit checks the mirror against the ledger itself: one
// transaction (its block, its place in the block, its validation code, its
// event, whether that event agrees with what the transaction wrote, and the
// entity state the mirror derived from the write set, against the peer's
// world state) and the hash chain over a range of blocks. It reads the
// mirror through the store's records and the ledger through blocks that
// package block has decoded and the peer's state history, so it knows
// neither Badger nor Fabric.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/indexer/writeset"
)

// Mirror is what the audit reads of the index.
type Mirror interface {
	Status() store.Status
	Transactions(ctx context.Context, txID string) ([]store.TxRecord, error)
	Block(ctx context.Context, n uint64) (*store.BlockRecord, error)
	EventAt(ctx context.Context, n uint64, txIndex int) (*store.EventRecord, error)
	AnomalyAt(ctx context.Context, n uint64, txIndex int) (*store.Anomaly, error)
	LatestEvent(ctx context.Context, kind domain.Kind, id string) (*store.EventRecord, error)
	GetEntity(ctx context.Context, kind domain.Kind, id string) (json.RawMessage, error)
}

// Ledger is where the audit reads the ledger: the peer, through package source.
type Ledger interface {
	// Block returns block n as the peer holds it.
	Block(ctx context.Context, n uint64) (*block.Block, error)
	// Range hands fn blocks from to to, in order.
	Range(ctx context.Context, from, to uint64, fn func(*block.Block) error) error
}

// State is where the audit reads the peer's world state: every committed
// version of an entity's key, oldest first, as the peer's history database
// keeps it (the ledger chaincode's History transaction, package source).
// An entity the peer does not hold is a not_found error.
type State interface {
	History(ctx context.Context, kind domain.Kind, id string) ([]Version, error)
}

// Version is one committed change of a key.
type Version struct {
	TxID   string
	Delete bool
	Value  []byte // the value as written; nil for a delete
}

// Check is one comparison between the mirror and the ledger.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Verification is the answer to "is this indexed event really on the ledger?".
type Verification struct {
	Verified    bool    `json:"verified"`
	TxID        string  `json:"txId"`
	BlockNumber uint64  `json:"blockNumber"`
	TxIndex     int     `json:"txIndex"`
	Checks      []Check `json:"checks"`
	// Anomaly is the mirror's record of the transaction's anomaly, if it
	// has one: the event as received, and every check it failed.
	Anomaly *store.Anomaly `json:"anomaly,omitempty"`
}

func (v *Verification) check(name string, ok bool, detail string, args ...any) {
	v.Checks = append(v.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
}

// Auditor checks a mirror against a ledger.
type Auditor struct {
	Mirror Mirror
	Ledger Ledger
	// State reads the peer's world state, for the state.peer check; nil
	// leaves that check out (an indexer wired to a peer always sets it).
	State State
}

// unavailable wraps a failure to read the ledger: the check could not be
// made, which is not the same as a check that failed.
func unavailable(err error, what string) error {
	if domain.ErrorCode(err) == domain.CodeInternal {
		return &domain.Error{Code: domain.CodeUnavailable, Message: fmt.Sprintf("cannot read %s from the peer: %v", what, err)}
	}
	return err
}

// Verify checks the indexed transaction txID against the block that holds
// it on the ledger. An unknown transaction is not_found; a peer that cannot
// be read is unavailable; anything the ledger contradicts is a failed check.
// For a transaction the mirror took, the checks after the block's and the
// position's are: event.payloadSha256 (the event as the mirror keeps it),
// event.record (its trace entry), event.entity (its state, while this is
// the entity's latest change), event.writeSet (the event agrees with what
// the transaction wrote: a failure names the anomaly's check, as package
// writeset judges the ledger's block) and, with a State, state.peer (the
// peer's committed versions of each entity written equal the block's value
// and the mirror's state).
func (a Auditor) Verify(ctx context.Context, txID string) (*Verification, error) {
	recs, err := a.Mirror.Transactions(ctx, txID)
	if err != nil {
		return nil, err
	}
	rec := recs[0]
	for _, r := range recs {
		if r.Applied { // the one the mirror took
			rec = r
			break
		}
	}
	v := &Verification{TxID: txID, BlockNumber: rec.BlockNumber, TxIndex: rec.TxIndex}
	mb, err := a.Mirror.Block(ctx, rec.BlockNumber)
	if err != nil {
		return nil, err
	}
	lb, err := a.Ledger.Block(ctx, rec.BlockNumber)
	if err != nil {
		return nil, unavailable(err, fmt.Sprintf("block %d", rec.BlockNumber))
	}
	hash := hex.EncodeToString(lb.Hash)
	v.check("block.headerHash", hash == mb.Hash, "block %d: the ledger's header hashes to %s, the mirror has %s", lb.Number, hash, mb.Hash)
	prev := hex.EncodeToString(lb.PreviousHash)
	v.check("block.previousHash", prev == mb.PreviousHash, "the ledger's block names previous hash %s, the mirror has %s", prev, mb.PreviousHash)
	dh, computed := hex.EncodeToString(lb.DataHash), hex.EncodeToString(lb.ComputedDataHash)
	v.check("block.dataHash", dh == computed && dh == mb.DataHash,
		"the ledger's header states data hash %s, its data hashes to %s, the mirror has %s", dh, computed, mb.DataHash)

	var lt *block.Tx
	if rec.TxIndex >= 0 && rec.TxIndex < len(lb.Txs) {
		lt = &lb.Txs[rec.TxIndex]
	}
	switch {
	case lt == nil:
		v.check("tx.position", false, "the ledger's block %d holds %d transactions, none at position %d", lb.Number, len(lb.Txs), rec.TxIndex)
	case lt.ID != txID:
		v.check("tx.position", false, "position %d of block %d holds transaction %s", rec.TxIndex, lb.Number, lt.ID)
	default:
		v.check("tx.position", true, "transaction %s is at position %d of block %d", txID, rec.TxIndex, lb.Number)
	}
	if lt == nil || lt.ID != txID {
		return v.done(), nil
	}
	v.check("tx.validationCode", lt.Valid() && lt.ValidationCode == rec.ValidationCode,
		"the ledger marks it %s, the mirror %s", lt.Validation, rec.Validation)

	if !rec.Applied {
		v.check("event.indexed", !lt.Applied, "the mirror holds no event for it; the ledger %s", map[bool]string{true: "has one", false: "has none to apply"}[lt.Applied])
		return v.done(), nil
	}
	r := writeset.Read(*lt)
	ev, err := a.Mirror.EventAt(ctx, rec.BlockNumber, rec.TxIndex)
	if err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
		return nil, err
	}
	an, err := a.Mirror.AnomalyAt(ctx, rec.BlockNumber, rec.TxIndex)
	if err != nil && domain.ErrorCode(err) != domain.CodeNotFound {
		return nil, err
	}
	v.Anomaly = an
	checkPayload(v, lt, ev, an)
	checkRecord(v, lb.Number, lt, r, ev)
	a.checkEntities(ctx, v, lt, r)
	checkWriteSet(v, r, an)
	if a.State != nil {
		if err := a.checkPeerState(ctx, v, lt, r); err != nil {
			return nil, err
		}
	}
	return v.done(), nil
}

func (v *Verification) done() *Verification {
	v.Verified = len(v.Checks) > 0
	for _, c := range v.Checks {
		v.Verified = v.Verified && c.OK
	}
	return v
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkPayload compares the event payload the mirror keeps with the
// ledger's: in the trace entry when the mirror believed the event, in the
// anomaly record when not.
func checkPayload(v *Verification, lt *block.Tx, ev *store.EventRecord, an *store.Anomaly) {
	const name = "event.payloadSha256"
	if lt.EventPayload == nil {
		mirror := ""
		if ev != nil {
			mirror = ev.PayloadSHA256
		}
		if an != nil && an.PayloadSHA256 != "" {
			mirror = an.PayloadSHA256
		}
		v.check(name, mirror == "", "the ledger's transaction carries no ledger event; the mirror %s",
			map[bool]string{true: "keeps none", false: "keeps one hashing to " + mirror}[mirror == ""])
		return
	}
	ls := sum(lt.EventPayload)
	if ev != nil && ev.Anomaly == "" {
		ms := sum(ev.Event)
		v.check(name, ls == ev.PayloadSHA256 && ms == ev.PayloadSHA256,
			"the ledger's payload hashes to %s; the mirror records %s and its copy hashes to %s", ls, ev.PayloadSHA256, ms)
		return
	}
	if an == nil {
		v.check(name, false, "the ledger's payload hashes to %s; the mirror keeps it neither in its trace nor as an anomaly", ls)
		return
	}
	ms := sum(an.Payload)
	v.check(name, ls == an.PayloadSHA256 && ms == an.PayloadSHA256,
		"the ledger's payload hashes to %s; the mirror's anomaly record states %s and its copy hashes to %s", ls, an.PayloadSHA256, ms)
}

// checkRecord compares the mirror's trace entry with the one the
// transaction in the ledger's block makes.
func checkRecord(v *Verification, number uint64, lt *block.Tx, r writeset.Result, ev *store.EventRecord) {
	const name = "event.record"
	want, ok := store.TraceOf(number, *lt, r)
	switch {
	case !ok && ev == nil:
		v.check(name, true, "the ledger's transaction wrote no entity; the mirror traces none")
		return
	case !ok:
		v.check(name, false, "the ledger's transaction wrote no entity; the mirror traces a %s of %s %s", ev.Type, ev.Kind, ev.ID)
		return
	case ev == nil:
		v.check(name, false, "the ledger's transaction wrote %s %s; the mirror holds no trace of it", want.Kind, want.ID)
		return
	}
	var diffs []string
	cmp := func(field, ledger, mirror string) {
		if ledger != mirror {
			diffs = append(diffs, fmt.Sprintf("%s %q != %q", field, ledger, mirror))
		}
	}
	cmp("txId", want.TxID, ev.TxID)
	cmp("type", string(want.Type), string(ev.Type))
	cmp("kind", string(want.Kind), string(ev.Kind))
	cmp("id", want.ID, ev.ID)
	cmp("status", want.Status, ev.Status)
	cmp("datasetId", want.DatasetID, ev.DatasetID)
	cmp("requestId", want.RequestID, ev.RequestID)
	cmp("owner", want.Owner, ev.Owner)
	cmp("requester", want.Requester, ev.Requester)
	cmp("timestamp", want.Timestamp.UTC().Format(time.RFC3339Nano), ev.Timestamp.UTC().Format(time.RFC3339Nano))
	cmp("mspId", want.MSPID, ev.MSPID)
	cmp("actor", want.Actor, ev.Actor)
	cmp("role", string(want.Role), string(ev.Role))
	cmp("anomaly", want.Anomaly, ev.Anomaly)
	cmp("others", fmt.Sprint(want.Others), fmt.Sprint(ev.Others))
	v.check(name, len(diffs) == 0, "%s", orAll(diffs, "the mirror's trace entry matches the ledger's transaction"))
}

// checkEntities compares the mirror's state of each entity the transaction
// wrote with the value in the ledger's block, while the transaction is the
// entity's latest change in the mirror.
func (a Auditor) checkEntities(ctx context.Context, v *Verification, lt *block.Tx, r writeset.Result) {
	const name = "event.entity"
	if len(r.Entities) == 0 {
		v.check(name, true, "the ledger's transaction wrote no entity")
		return
	}
	ok, details := true, []string{}
	for _, ent := range r.Entities {
		latest, err := a.Mirror.LatestEvent(ctx, ent.Kind, ent.ID)
		if err != nil {
			ok = false
			details = append(details, fmt.Sprintf("the mirror cannot find the changes of %s %s: %v", ent.Kind, ent.ID, err))
			continue
		}
		if latest.TxID != lt.ID {
			details = append(details, fmt.Sprintf("%s %s has changed since, in tx %s (block %d); its state is checked against that transaction",
				ent.Kind, ent.ID, latest.TxID, latest.BlockNumber))
			continue
		}
		state, err := a.Mirror.GetEntity(ctx, ent.Kind, ent.ID)
		if err != nil {
			ok = false
			details = append(details, fmt.Sprintf("the mirror holds no state for %s %s: %v", ent.Kind, ent.ID, err))
			continue
		}
		same := bytes.Equal(state, ent.Value)
		ok = ok && same
		details = append(details, fmt.Sprintf("the mirror's state of %s %s %s the value the ledger's transaction wrote",
			ent.Kind, ent.ID, map[bool]string{true: "is", false: "differs from"}[same]))
	}
	v.check(name, ok, "%s", strings.Join(details, "; "))
}

// checkWriteSet reports whether the transaction's event agrees with its
// write set, as package writeset judges the ledger's block, and whether the
// mirror recorded the same.
func checkWriteSet(v *Verification, r writeset.Result, an *store.Anomaly) {
	const name = "event.writeSet"
	if len(r.Failures) == 0 {
		if an != nil {
			v.check(name, false, "the ledger's transaction passes every check, but the mirror records the anomaly %s", an.Check)
			return
		}
		v.check(name, true, "the event agrees with what the transaction wrote")
		return
	}
	f := r.Failures[0]
	detail := f.Check + ": " + f.Detail
	switch {
	case an == nil:
		detail += "; the mirror did not record the anomaly"
	case an.Check != f.Check:
		detail += fmt.Sprintf("; the mirror recorded %s instead", an.Check)
	}
	v.check(name, false, "%s", detail)
}

// checkPeerState compares, for each entity the transaction wrote, the
// peer's committed versions with the value in the block and with the
// mirror's state. An unreachable peer is an error, not a failed check.
func (a Auditor) checkPeerState(ctx context.Context, v *Verification, lt *block.Tx, r writeset.Result) error {
	const name = "state.peer"
	if len(r.Entities) == 0 {
		v.check(name, true, "the ledger's transaction wrote no entity")
		return nil
	}
	ok, details := true, []string{}
	bad := func(format string, args ...any) {
		ok = false
		details = append(details, fmt.Sprintf(format, args...))
	}
	for _, ent := range r.Entities {
		hist, err := a.State.History(ctx, ent.Kind, ent.ID)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			bad("the peer holds no %s %s", ent.Kind, ent.ID)
			continue
		}
		if err != nil {
			return unavailable(err, fmt.Sprintf("the state of %s %s", ent.Kind, ent.ID))
		}
		mine := versionOf(hist, lt.ID)
		switch {
		case mine < 0:
			bad("the peer's history of %s %s holds no version written by this transaction", ent.Kind, ent.ID)
			continue
		case hist[mine].Delete || !sameJSON(hist[mine].Value, ent.Value):
			bad("the peer's version of %s %s from this transaction differs from the value in block %d", ent.Kind, ent.ID, v.BlockNumber)
			continue
		}
		latest, err := a.Mirror.LatestEvent(ctx, ent.Kind, ent.ID)
		if err != nil {
			bad("the mirror cannot find the changes of %s %s: %v", ent.Kind, ent.ID, err)
			continue
		}
		state, err := a.Mirror.GetEntity(ctx, ent.Kind, ent.ID)
		if err != nil {
			bad("the mirror holds no state for %s %s: %v", ent.Kind, ent.ID, err)
			continue
		}
		at := versionOf(hist, latest.TxID)
		switch {
		case at < 0:
			bad("the mirror's state of %s %s comes from tx %s, which the peer's history of it does not hold", ent.Kind, ent.ID, latest.TxID)
		case hist[at].Delete || !sameJSON(hist[at].Value, state):
			bad("the mirror's state of %s %s differs from the peer's version from tx %s", ent.Kind, ent.ID, latest.TxID)
		case at == len(hist)-1:
			details = append(details, fmt.Sprintf("the mirror's state of %s %s is the peer's current state", ent.Kind, ent.ID))
		default:
			details = append(details, fmt.Sprintf("the mirror's state of %s %s is the peer's version from tx %s; the peer holds %d later, not yet indexed",
				ent.Kind, ent.ID, latest.TxID, len(hist)-1-at))
		}
	}
	v.check(name, ok, "%s", strings.Join(details, "; "))
	return nil
}

// versionOf is the index of the last version written by txID, or -1.
func versionOf(hist []Version, txID string) int {
	for i := len(hist) - 1; i >= 0; i-- {
		if hist[i].TxID == txID {
			return i
		}
	}
	return -1
}

// sameJSON reports whether two values are the same bytes or the same JSON:
// the peer's History answer re-encodes the values it returns.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, errA := writeset.Canonical(a)
	cb, errB := writeset.Canonical(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

func orAll(diffs []string, ok string) string {
	if len(diffs) == 0 {
		return ok
	}
	return "the mirror differs from the ledger: " + strings.Join(diffs, "; ")
}
