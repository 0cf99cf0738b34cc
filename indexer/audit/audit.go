// Package audit checks the mirror against the ledger itself: one
// transaction's event (its block, its place in the block, its validation
// code, its payload and the entity state the mirror derived from it) and
// the hash chain over a range of blocks. It reads the mirror through the
// store's records and the ledger through blocks that package block has
// decoded, so it knows neither Badger nor Fabric.
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
)

// Mirror is what the audit reads of the index.
type Mirror interface {
	Status() store.Status
	Transactions(ctx context.Context, txID string) ([]store.TxRecord, error)
	Block(ctx context.Context, n uint64) (*store.BlockRecord, error)
	EventAt(ctx context.Context, n uint64, txIndex int) (*store.EventRecord, error)
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
}

func (v *Verification) check(name string, ok bool, detail string, args ...any) {
	v.Checks = append(v.Checks, Check{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
}

// Auditor checks a mirror against a ledger.
type Auditor struct {
	Mirror Mirror
	Ledger Ledger
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
func (a Auditor) Verify(ctx context.Context, txID string) (*Verification, error) {
	recs, err := a.Mirror.Transactions(ctx, txID)
	if err != nil {
		return nil, err
	}
	rec := recs[0]
	for _, r := range recs {
		if r.Applied { // the one the mirror took an event from
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
	ev, err := a.Mirror.EventAt(ctx, rec.BlockNumber, rec.TxIndex)
	if err != nil {
		if domain.ErrorCode(err) != domain.CodeNotFound {
			return nil, err
		}
		v.check("event.indexed", false, "the mirror's transaction record says applied but it holds no event")
		return v.done(), nil
	}
	a.checkEvent(ctx, v, lt, ev)
	return v.done(), nil
}

func (v *Verification) done() *Verification {
	v.Verified = len(v.Checks) > 0
	for _, c := range v.Checks {
		v.Verified = v.Verified && c.OK
	}
	return v
}

// checkEvent compares the mirror's event record and entity state with the
// event in the ledger's transaction.
func (a Auditor) checkEvent(ctx context.Context, v *Verification, lt *block.Tx, ev *store.EventRecord) {
	if lt.Event == nil {
		v.check("event.payloadSha256", false, "the ledger's transaction carries no ledger event; the mirror has %s", ev.Type)
		return
	}
	ledgerSum := sha256.Sum256(lt.EventPayload)
	mirrorSum := sha256.Sum256(ev.Event)
	ls, ms := hex.EncodeToString(ledgerSum[:]), hex.EncodeToString(mirrorSum[:])
	v.check("event.payloadSha256", ls == ev.PayloadSHA256 && ms == ev.PayloadSHA256,
		"the ledger's payload hashes to %s; the mirror records %s and its copy hashes to %s", ls, ev.PayloadSHA256, ms)

	e := lt.Event
	var diffs []string
	cmp := func(field, ledger, mirror string) {
		if ledger != mirror {
			diffs = append(diffs, fmt.Sprintf("%s %q != %q", field, ledger, mirror))
		}
	}
	cmp("txId", lt.ID, ev.TxID)
	cmp("type", string(e.Type), string(ev.Type))
	cmp("kind", string(e.Kind), string(ev.Kind))
	cmp("id", e.ID, ev.ID)
	cmp("status", e.Status, ev.Status)
	cmp("datasetId", e.DatasetID, ev.DatasetID)
	cmp("requestId", e.RequestID, ev.RequestID)
	cmp("owner", e.Owner, ev.Owner)
	cmp("requester", e.Requester, ev.Requester)
	cmp("timestamp", lt.Timestamp.UTC().Format(time.RFC3339Nano), ev.Timestamp.UTC().Format(time.RFC3339Nano))
	if lt.Creator.MSPID != "" {
		cmp("mspId", lt.Creator.MSPID, ev.MSPID)
	}
	if lt.Creator.Subject != "" {
		cmp("actor", lt.Creator.Subject, ev.Actor)
	}
	v.check("event.record", len(diffs) == 0, "%s", orAll(diffs, "the mirror's event record matches the ledger's transaction and event"))

	// The entity state: the mirror keeps the latest one, so it is this
	// event's only while no later event has changed the entity.
	latest, err := a.Mirror.LatestEvent(ctx, e.Kind, e.ID)
	if err != nil {
		v.check("event.entity", false, "the mirror cannot find the events of %s %s: %v", e.Kind, e.ID, err)
		return
	}
	if latest.BlockNumber != ev.BlockNumber || latest.TxIndex != ev.TxIndex {
		v.check("event.entity", true, "%s %s has changed since, in tx %s (block %d); this event's state is checked through its payload hash",
			e.Kind, e.ID, latest.TxID, latest.BlockNumber)
		return
	}
	state, err := a.Mirror.GetEntity(ctx, e.Kind, e.ID)
	if err != nil {
		v.check("event.entity", false, "the mirror holds no state for %s %s: %v", e.Kind, e.ID, err)
		return
	}
	want, err := entityJSON(e)
	if err != nil {
		v.check("event.entity", false, "the ledger's event has no %s state: %v", e.Kind, err)
		return
	}
	got, err := canonical(state)
	v.check("event.entity", err == nil && bytes.Equal(got, want),
		"the mirror's state of %s %s %s the entity in the ledger's event", e.Kind, e.ID, map[bool]string{true: "equals", false: "differs from"}[err == nil && bytes.Equal(got, want)])
}

// entityJSON is the canonical JSON of the entity an event carries, as this
// build decodes it: what the mirror stores, so that fields a newer chaincode
// adds within event v1 (which the mirror does not keep) are no difference.
func entityJSON(e *domain.Event) ([]byte, error) {
	v := e.Entity()
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(raw, []byte("null")) {
		return nil, fmt.Errorf("no %s state", e.Kind)
	}
	return canonical(raw)
}

// canonical re-encodes JSON with sorted keys and normalized spacing, so
// that two encodings of the same value compare equal. Numbers keep their
// text: json.Number, not float64.
func canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func orAll(diffs []string, ok string) string {
	if len(diffs) == 0 {
		return ok
	}
	return "the mirror differs from the ledger: " + strings.Join(diffs, "; ")
}
