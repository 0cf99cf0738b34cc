package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// What the store offers a service above it that keeps aggregates of the
// believed events (package indexer/scores): the events of a range of blocks
// in ledger order, and a hook that each block's apply calls in the block's
// own Badger transaction, so that what the service stores is written
// atomically with the block and its checkpoint. The service's keys live
// under the prefixes keys.go reserves for it (aggregatePrefixes); the store
// writes nothing there itself.

// Event is one believed event: the event of a transaction that wrote its
// entity as the event says (not the change the mirror applied from an
// anomalous transaction's write set, whose event it does not believe).
type Event struct {
	TxID          string
	Block         uint64
	Time          time.Time
	PayloadSHA256 string
	Event         *domain.Event
}

// BlockHook is called by ApplyBlock. The store holds its writer lock around
// every call, so a hook sees the blocks one at a time, in order.
type BlockHook interface {
	// ApplyBlock runs inside the Badger transaction of block number, after
	// its transactions are written and before its checkpoint, with the
	// block's believed events in ledger order. A transaction retried after
	// a conflict calls it again for the same block; one that fails calls
	// Forget.
	ApplyBlock(t Txn, number uint64, events []Event) error
	// Forget drops whatever the hook holds in memory of blocks not
	// committed: the transaction that called ApplyBlock failed.
	Forget()
	// Reset drops everything it holds: the mirror was dropped.
	Reset()
}

// AddBlockHook makes every block applied from now on call h, after the
// hooks added before it. Hooks must be added before the first block is
// applied by this process: a mirror is built with its aggregates or not at
// all.
func (s *Store) AddBlockHook(h BlockHook) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.hooks = append(s.hooks, h)
}

// Hooks is several block hooks called as one, in order: the scores and
// the early-warning watch each keep their own aggregates.
type Hooks []BlockHook

// ApplyBlock calls each hook's ApplyBlock in turn.
func (hs Hooks) ApplyBlock(t Txn, number uint64, events []Event) error {
	for _, h := range hs {
		if err := h.ApplyBlock(t, number, events); err != nil {
			return err
		}
	}
	return nil
}

// Forget calls each hook's Forget.
func (hs Hooks) Forget() {
	for _, h := range hs {
		h.Forget()
	}
}

// Reset calls each hook's Reset.
func (hs Hooks) Reset() {
	for _, h := range hs {
		h.Reset()
	}
}

// Txn is a Badger transaction as a hook or a View reader sees it: the
// checkpoint, the event log and the keys under the aggregate prefixes.
type Txn struct {
	txn *badger.Txn
}

// View runs fn on one consistent snapshot of the mirror.
func (s *Store) View(ctx context.Context, fn func(Txn) error) error {
	return s.view(ctx, func(txn *badger.Txn) error { return fn(Txn{txn}) })
}

// Height is the number of blocks the snapshot holds.
func (t Txn) Height() (uint64, error) {
	cp, err := readCheckpoint(t.txn)
	return cp.Next, err
}

// CheckAsOf refuses a block the snapshot does not hold: unavailable while it
// holds none, invalid (naming the last block) beyond its last.
func (t Txn) CheckAsOf(asOfBlock uint64) error {
	next, err := t.Height()
	if err != nil {
		return err
	}
	if next == 0 {
		return domain.Errorf(domain.CodeUnavailable, "the index holds no block yet")
	}
	if asOfBlock >= next {
		return domain.Errorf(domain.CodeInvalid, "asOfBlock %d has not been indexed: the last indexed block is %d", asOfBlock, next-1).
			WithDetail("lastBlock", fmt.Sprint(next-1))
	}
	return nil
}

// isAggregateKey reports whether key is under an aggregate prefix.
func isAggregateKey(key []byte) bool {
	for _, p := range aggregatePrefixes {
		if bytes.HasPrefix(key, []byte(p)) {
			return true
		}
	}
	return false
}

func checkAggregateKey(key []byte) error {
	if isAggregateKey(key) {
		return nil
	}
	return fmt.Errorf("key %q is not under an aggregate prefix (%s)", key, strings.Join(aggregatePrefixes, ", "))
}

// Get hands fn the value at key (valid only during fn); found is false when
// there is none.
func (t Txn) Get(key []byte, fn func(val []byte) error) (found bool, err error) {
	if err := checkAggregateKey(key); err != nil {
		return false, err
	}
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	return true, item.Value(fn)
}

// GetJSON decodes the value at key into v; found is false when there is none.
func (t Txn) GetJSON(key []byte, v any) (found bool, err error) {
	if err := checkAggregateKey(key); err != nil {
		return false, err
	}
	return readJSON(t.txn, key, v)
}

// Set writes key, which must be under an aggregate prefix.
func (t Txn) Set(key, val []byte) error {
	if err := checkAggregateKey(key); err != nil {
		return err
	}
	return t.txn.Set(key, val)
}

// Delete removes key, which must be under an aggregate prefix.
func (t Txn) Delete(key []byte) error {
	if err := checkAggregateKey(key); err != nil {
		return err
	}
	return t.txn.Delete(key)
}

// Last is the greatest key under prefix that is at most upTo; found is
// false when there is none.
func (t Txn) Last(prefix, upTo []byte) (key []byte, found bool, err error) {
	if err := checkAggregateKey(prefix); err != nil {
		return nil, false, err
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix, opts.Reverse, opts.PrefetchValues = prefix, true, false
	it := t.txn.NewIterator(opts)
	defer it.Close()
	it.Seek(upTo)
	if !it.Valid() {
		return nil, false, nil
	}
	return it.Item().KeyCopy(nil), true, nil
}

// Scan hands fn every key under prefix and its value (both valid only
// during fn), in key order, until fn returns false.
func (t Txn) Scan(prefix []byte, fn func(key, val []byte) (bool, error)) error {
	return t.ScanFrom(prefix, prefix, fn)
}

// ScanFrom is Scan from the first key at or after from.
func (t Txn) ScanFrom(prefix, from []byte, fn func(key, val []byte) (bool, error)) error {
	if err := checkAggregateKey(prefix); err != nil {
		return err
	}
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	// Values are read as the scan goes: a scan that stops early (the
	// watch's deadlines up to a block's time) reads no more than it needs.
	opts.PrefetchValues = false
	it := t.txn.NewIterator(opts)
	defer it.Close()
	for it.Seek(from); it.Valid(); it.Next() {
		more := true
		key := it.Item().Key()
		if err := it.Item().Value(func(v []byte) error {
			var err error
			more, err = fn(key, v)
			return err
		}); err != nil || !more {
			return err
		}
	}
	return nil
}

// Events hands fn every believed event of blocks first to last, in ledger
// order.
func (t Txn) Events(ctx context.Context, first, last uint64, fn func(Event) error) error {
	return eachEventValue(ctx, t.txn, first, last, func(v []byte) error {
		// One pass over the record, the event decoded in place rather
		// than kept raw and decoded again: this loop is the whole cost
		// of a score computed from block 0.
		var rec struct {
			TxID          string       `json:"txId"`
			BlockNumber   uint64       `json:"blockNumber"`
			Timestamp     time.Time    `json:"timestamp"`
			PayloadSHA256 string       `json:"payloadSha256"`
			Event         domain.Event `json:"event"`
			Anomaly       string       `json:"anomaly"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode event record: %w", err)
		}
		if rec.Anomaly != "" {
			return nil // a change whose event the mirror does not believe
		}
		if rec.Event.Version < 1 || rec.Event.Version > domain.EventVersion {
			return fmt.Errorf("event of tx %s has version %d; this build reads up to %d", rec.TxID, rec.Event.Version, domain.EventVersion)
		}
		return fn(Event{TxID: rec.TxID, Block: rec.BlockNumber, Time: rec.Timestamp, PayloadSHA256: rec.PayloadSHA256, Event: &rec.Event})
	})
}

// eachEventValue hands fn the stored record of every event of blocks first
// to last, in ledger order.
func eachEventValue(ctx context.Context, txn *badger.Txn, first, last uint64, fn func([]byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefixEvent)
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Seek(eventKey(pos{Block: first})); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key := it.Item().Key()
		p, err := parsePos(key[len(prefixEvent):])
		if err != nil {
			return err
		}
		if p.Block > last {
			return nil
		}
		if err := it.Item().Value(fn); err != nil {
			return fmt.Errorf("event %d/%d: %w", p.Block, p.Tx, err)
		}
	}
	return nil
}
