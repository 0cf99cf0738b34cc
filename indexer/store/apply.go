package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/writeset"
)

// ApplyBlock applies a decoded block: what its valid transactions wrote in
// the ledger's namespace (with their events, where these agree, and their
// anomalies, where not), a record of each transaction and of the block, and
// the checkpoint, all in one Badger transaction. A block already applied is a no-op once its hash is found to
// match; a block beyond the next one is ErrGap; a block that does not chain
// onto the last one, or another channel's, is ErrForeignLedger.
func (s *Store) ApplyBlock(ctx context.Context, b *block.Block) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.channel != "" && b.ChannelID != "" && b.ChannelID != s.channel {
		return fmt.Errorf("block %d is of channel %q, not %q: %w", b.Number, b.ChannelID, s.channel, ErrForeignLedger)
	}
	var (
		st   Status
		noop bool
	)
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.rebuild != nil {
		return s.applyRebuild(b)
	}
	err := s.update(func(txn *badger.Txn) error {
		var err error
		if st, noop, err = check(txn, b); err != nil || noop {
			return err
		}
		resume, err := splitBegun(txn, b.Number)
		if err != nil {
			return err
		}
		var evs []Event
		for _, tx := range b.Txs {
			ev, err := applyTx(txnTarget{txn}, b, tx, resume)
			if err != nil {
				return err
			}
			if ev != nil {
				evs = append(evs, *ev)
			}
		}
		if err := s.callHook(txn, b.Number, evs); err != nil {
			return err
		}
		if resume {
			if err := txn.Delete(keySplit); err != nil {
				return err
			}
		}
		return finishBlock(txn, b, &st)
	})
	if errors.Is(err, badger.ErrTxnTooBig) {
		s.log.Warn("block too big for one transaction: applying it in parts", "block", b.Number, "txs", len(b.Txs))
		s.forgetHook()
		st, noop, err = s.applySplit(b)
	}
	if err != nil {
		s.forgetHook() // it may hold the block that was not applied
		return fmt.Errorf("apply block %d: %w", b.Number, err)
	}
	if !noop {
		s.advanced(st)
	}
	return nil
}

// applySplit applies a block one transaction per Badger transaction, then
// the checkpoint. Each part is idempotent (an entity's old index entries are
// read back from its stored state), so a crash between parts is repaired by
// applying the block again from the checkpoint. Readers may briefly see part
// of the block: the price of a block bigger than Badger's transaction limit.
func (s *Store) applySplit(b *block.Block) (Status, bool, error) {
	var noop bool
	err := s.dbView(func(txn *badger.Txn) error {
		var err error
		_, noop, err = check(txn, b)
		return err
	})
	if err != nil || noop {
		return Status{}, noop, err
	}
	// Marked begun first: if the parts are cut short, applying the block
	// again (in one transaction or in parts) skips the transactions in.
	if err := s.update(func(txn *badger.Txn) error { return txn.Set(keySplit, appendPos(nil, pos{Block: b.Number})) }); err != nil {
		return Status{}, false, err
	}
	var evs []Event
	for _, tx := range b.Txs {
		var ev *Event
		if err := s.update(func(txn *badger.Txn) error {
			var err error
			ev, err = applyTx(txnTarget{txn}, b, tx, true)
			return err
		}); err != nil {
			return Status{}, false, fmt.Errorf("tx %d: %w", tx.Index, err)
		}
		if ev != nil {
			evs = append(evs, *ev)
		}
	}
	var st Status
	err = s.update(func(txn *badger.Txn) error {
		var err error
		if st, noop, err = check(txn, b); err != nil || noop {
			return err
		}
		if err := s.callHook(txn, b.Number, evs); err != nil {
			return err
		}
		if err := txn.Delete(keySplit); err != nil {
			return err
		}
		return finishBlock(txn, b, &st)
	})
	return st, noop, err
}

// splitBegun reports whether block number was begun in parts (applySplit)
// and not finished: then some of its transactions may be in already.
func splitBegun(txn *badger.Txn, number uint64) (bool, error) {
	item, err := txn.Get(keySplit)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var begun bool
	err = item.Value(func(v []byte) error {
		p, err := parsePos(v)
		begun = err == nil && p.Block == number
		return err
	})
	return begun, err
}

// callHook hands the block hooks the block's believed events.
func (s *Store) callHook(txn *badger.Txn, number uint64, evs []Event) error {
	return s.hooks.ApplyBlock(Txn{txn}, number, evs)
}

// forgetHook tells the hooks that the block they were handed was not applied.
func (s *Store) forgetHook() { s.hooks.Forget() }

// update runs fn in a read-write transaction. Conflicts cannot arise with a
// single writer, but Reset or a second writer would cause them: retry.
func (s *Store) update(fn func(*badger.Txn) error) error {
	var err error
	for range 3 {
		if err = s.withDB(func(db *badger.DB) error { return db.Update(fn) }); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}

// check decides whether b is the next block, one already applied, or neither.
func check(txn *badger.Txn, b *block.Block) (Status, bool, error) {
	cp, err := readCheckpoint(txn)
	if err != nil {
		return Status{}, false, err
	}
	g, err := readGenesis(txn)
	if err != nil {
		return Status{}, false, err
	}
	hash := hexs(b.Hash)
	switch {
	case b.Number < cp.Next:
		var rec BlockRecord
		found, err := readJSON(txn, blockKey(b.Number), &rec)
		if err != nil {
			return Status{}, false, err
		}
		if found && rec.Hash != hash {
			return Status{}, false, fmt.Errorf("block %d has hash %s, the mirror has %s: %w", b.Number, hash, rec.Hash, ErrForeignLedger)
		}
		return Status{}, true, nil
	}
	if err := chains(cp, b); err != nil {
		return Status{}, false, err
	}
	return statusAfter(g.Channel, g.Hash, b), false, nil
}

// chains refuses a block that is not the one after the checkpoint cp:
// ErrGap beyond it, ErrForeignLedger when it names another previous hash.
// The apply and a rebuild (rebuild.go) check with it.
func chains(cp checkpoint, b *block.Block) error {
	switch {
	case b.Number > cp.Next:
		return fmt.Errorf("block %d arrived, next is %d: %w", b.Number, cp.Next, ErrGap)
	case b.Number > 0 && hexs(b.PreviousHash) != cp.Hash:
		return fmt.Errorf("block %d names previous hash %x, block %d has %s: %w", b.Number, b.PreviousHash, cp.Next-1, cp.Hash, ErrForeignLedger)
	}
	return nil
}

// statusAfter is the mirror's status once block b is applied to one of
// channel and genesis hash (block 0 names both).
func statusAfter(channel, genesisHash string, b *block.Block) Status {
	hash := hexs(b.Hash)
	st := Status{Channel: channel, GenesisHash: genesisHash, Height: b.Number + 1, LastBlockHash: hash, LastBlockTime: b.Time}
	if b.Number == 0 {
		st.Channel, st.GenesisHash = b.ChannelID, hash
	}
	return st
}

// finishBlock writes the block record, the genesis for block 0 and the checkpoint.
func finishBlock(txn *badger.Txn, b *block.Block, st *Status) error {
	if err := blockRecords(txnTarget{txn}, b, st); err != nil {
		return err
	}
	return setJSON(txn, keyCheckpoint, checkpointOf(*st))
}

// blockRecords writes the block record, and the genesis and the schema
// for block 0: what a block writes besides its transactions and the
// checkpoint.
func blockRecords(t target, b *block.Block, st *Status) error {
	if b.Number == 0 {
		if err := setJSONTo(t, keyGenesis, genesis{Channel: st.Channel, Hash: st.GenesisHash}); err != nil {
			return err
		}
		if err := setJSONTo(t, keySchema, schemaVersion); err != nil {
			return err
		}
	}
	rec := BlockRecord{Number: b.Number, Hash: hexs(b.Hash), PreviousHash: hexs(b.PreviousHash),
		DataHash: hexs(b.DataHash), Time: b.Time, TxCount: len(b.Txs), Config: b.Config}
	return setJSONTo(t, blockKey(b.Number), rec)
}

func checkpointOf(st Status) checkpoint {
	return checkpoint{Next: st.Height, Hash: st.LastBlockHash, Time: st.LastBlockTime}
}

// target is what a block's transactions are written to: the block's
// Badger transaction (txnTarget), or a rebuild's sorted runs (rebuild.go),
// which read nothing back.
type target interface {
	set(key, val []byte) error
	// has reports whether key is in (only a block applied in parts again
	// asks).
	has(key []byte) (bool, error)
	// entity stores an entity as the transaction wrote it, with its index
	// entries.
	entity(ent writeset.Entity) error
	// addMeter adds amount to the counters of a metering row, kept under
	// keys (by time, by dataset, by department).
	addMeter(keys [3][]byte, amount MeterRow) error
}

// txnTarget writes to a Badger transaction.
type txnTarget struct{ txn *badger.Txn }

func (t txnTarget) set(key, val []byte) error        { return t.txn.Set(key, val) }
func (t txnTarget) entity(ent writeset.Entity) error { return putEntity(t.txn, ent) }

func (t txnTarget) has(key []byte) (bool, error) {
	_, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// addMeter reads the row once: its three keys always hold the same counters.
func (t txnTarget) addMeter(keys [3][]byte, amount MeterRow) error {
	var row MeterRow
	item, err := t.txn.Get(keys[0])
	switch {
	case err == nil:
		if err := item.Value(row.decode); err != nil {
			return fmt.Errorf("metering row %q: %w", keys[0], err)
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return fmt.Errorf("read metering row: %w", err)
	}
	row.add(amount)
	v := row.encode()
	for _, k := range keys {
		if err := t.txn.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

func setJSONTo(t target, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return t.set(key, b)
}

// applyTx records a transaction and, when the mirror takes it, the
// entities it wrote (package writeset judges the write set and the event),
// its trace entry and the indexes of both, and its anomaly if it has one.
// It returns the transaction's event when the mirror believes it (the block
// hook is handed it), nil otherwise; a transaction already in (a block
// applied in parts again) still returns its event.
//
// resume is true when the block may be in in part (applySplit, cut short):
// then a transaction already in is found and skipped.
func applyTx(t target, b *block.Block, tx block.Tx, resume bool) (*Event, error) {
	p := pos{Block: b.Number, Tx: uint32(tx.Index)}
	var r writeset.Result
	if tx.Applied {
		r = writeset.Read(tx)
	}
	if tx.ID != "" {
		rec := TxRecord{TxID: tx.ID, BlockNumber: b.Number, TxIndex: tx.Index, Type: tx.Type, Timestamp: tx.Timestamp,
			MSPID: tx.Creator.MSPID, Actor: tx.Creator.Subject, ValidationCode: tx.ValidationCode,
			Validation: tx.Validation, Chaincode: tx.Chaincode, EventName: tx.EventName, Applied: tx.Applied}
		if len(r.Failures) > 0 {
			rec.Anomaly = r.Failures[0].Check
		}
		if err := setJSONTo(t, txKey(tx.ID, p), rec); err != nil {
			return nil, err
		}
	}
	if !tx.Applied {
		return nil, nil
	}
	rec, refs, traced := traceOf(b.Number, tx, r)
	var in *Event
	if traced && r.Event != nil {
		in = &Event{TxID: tx.ID, Block: b.Number, Time: tx.Timestamp, PayloadSHA256: rec.PayloadSHA256, Event: r.Event}
	}
	// A block applied in parts (applySplit) and interrupted is applied again
	// from its first transaction: skip those already in, since the metering
	// counters, unlike everything else, are not idempotent.
	for _, k := range [][]byte{eventKey(p), anomalyKey(p)} {
		if !resume {
			break
		}
		if in2, err := t.has(k); err != nil {
			return nil, fmt.Errorf("tx %s: %w", tx.ID, err)
		} else if in2 {
			return in, nil
		}
	}
	for _, ent := range r.Entities {
		if err := t.entity(ent); err != nil {
			return nil, fmt.Errorf("tx %s: %w", tx.ID, err)
		}
	}
	if len(r.Failures) > 0 {
		if err := setJSONTo(t, anomalyKey(p), anomalyOf(b, tx, r)); err != nil {
			return nil, fmt.Errorf("tx %s: %w", tx.ID, err)
		}
	}
	if !traced {
		return nil, nil // nothing written: there is no change to trace
	}
	primary := r.Primary(tx)
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode event of tx %s: %w", tx.ID, err)
	}
	if err := t.set(eventKey(p), raw); err != nil {
		return nil, err
	}
	if r.Event != nil {
		if err := meter(t, tx.Timestamp, r.Event.Type, r.Entities[primary].Record); err != nil {
			return nil, fmt.Errorf("tx %s: %w", tx.ID, err)
		}
	}
	for _, ix := range eventIndexes(tx, r.Entities, refs) {
		var v []byte
		if ix.name == string(inlineEventIndex) {
			v = raw
		}
		if err := t.set(evIdxKey(ix.name, ix.value, p), v); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// TraceOf is the trace entry the mirror keeps of transaction tx of block
// number, which package writeset judged r: about the primary entity it
// wrote (writeset.Result.Primary); ok is false when it wrote none. The
// audit recomputes it from the peer's block to compare it with the mirror's.
func TraceOf(number uint64, tx block.Tx, r writeset.Result) (rec EventRecord, ok bool) {
	rec, _, ok = traceOf(number, tx, r)
	return rec, ok
}

// traceOf is TraceOf with the cross references of every entity written.
func traceOf(number uint64, tx block.Tx, r writeset.Result) (EventRecord, []writeset.Refs, bool) {
	primary := r.Primary(tx)
	if primary < 0 {
		return EventRecord{}, nil, false
	}
	refs := make([]writeset.Refs, len(r.Entities))
	for i, ent := range r.Entities {
		refs[i], _ = writeset.RefsOf(ent.Record)
	}
	ent := r.Entities[primary]
	rec := EventRecord{
		TxID: tx.ID, BlockNumber: number, TxIndex: tx.Index, Timestamp: tx.Timestamp,
		MSPID: tx.Creator.MSPID, Actor: tx.Creator.Subject, Type: writeset.TypeStateWritten, Kind: ent.Kind, ID: ent.ID,
	}
	if e := r.Event; e != nil {
		if _, known := writeset.RefsOf(ent.Record); !known {
			// A kind this build does not know: the event, which agrees
			// with the write set, is all there is to say of it.
			refs[primary] = writeset.Refs{Status: e.Status, DatasetID: e.DatasetID, RequestID: e.RequestID, Owner: e.Owner, Requester: e.Requester}
		}
		sum := sha256.Sum256(tx.EventPayload)
		rec.Type, rec.Role = e.Type, e.Actor.Role
		rec.PayloadSHA256, rec.Event = hex.EncodeToString(sum[:]), json.RawMessage(tx.EventPayload)
		if rec.MSPID == "" {
			rec.MSPID = e.Actor.MSPID
		}
		if rec.Actor == "" {
			rec.Actor = e.Actor.Subject
		}
	} else {
		rec.Anomaly = r.Failures[0].Check
	}
	pr := refs[primary]
	rec.Status, rec.DatasetID, rec.RequestID, rec.Owner, rec.Requester = pr.Status, pr.DatasetID, pr.RequestID, pr.Owner, pr.Requester
	for i, o := range r.Entities {
		if i != primary {
			rec.Others = append(rec.Others, EntityRef{Kind: o.Kind, ID: o.ID})
		}
	}
	return rec, refs, true
}

// anomalyOf is the record of a transaction that failed a check.
func anomalyOf(b *block.Block, tx block.Tx, r writeset.Result) Anomaly {
	a := Anomaly{
		TxID: tx.ID, BlockNumber: b.Number, TxIndex: tx.Index, Timestamp: tx.Timestamp,
		MSPID: tx.Creator.MSPID, Actor: tx.Creator.Subject,
		Check: r.Failures[0].Check, Detail: r.Failures[0].Detail, Failures: r.Failures,
		EventName: tx.EventName, Writes: []WriteRef{},
	}
	if tx.EventPayload != nil {
		sum := sha256.Sum256(tx.EventPayload)
		a.PayloadSHA256, a.Payload = hex.EncodeToString(sum[:]), tx.EventPayload
		if json.Valid(tx.EventPayload) {
			a.Event = json.RawMessage(tx.EventPayload)
		}
	}
	for _, w := range tx.Writes {
		ref := WriteRef{Key: w.Key, Delete: w.Delete}
		if info, err := domain.ParseKey(w.Key); err == nil && info.Kind() != "" {
			ref.Kind, ref.ID = info.Kind(), info.Attrs[0]
		}
		if !w.Delete {
			sum := sha256.Sum256(w.Value)
			ref.ValueSHA256 = hex.EncodeToString(sum[:])
		}
		a.Writes = append(a.Writes, ref)
	}
	return a
}

// putEntity stores an entity as the transaction wrote it, byte for byte,
// and moves its index entries from the old state's values to the new one's.
func putEntity(txn *badger.Txn, ent writeset.Entity) error {
	key := entKey(string(ent.Kind), ent.ID)
	var old []idxEntry
	item, err := txn.Get(key)
	switch {
	case err == nil:
		if err := item.Value(func(v []byte) error {
			rec, err := domain.NewRecord(ent.Kind)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(v, rec); err != nil {
				return err
			}
			old = entriesOf(ent.Kind, rec)
			return nil
		}); err != nil {
			return fmt.Errorf("old state of %s %s: %w", ent.Kind, ent.ID, err)
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	cur := entriesOf(ent.Kind, ent.Record)
	for _, ix := range old {
		if !contains(cur, ix) {
			if err := txn.Delete(idxKey(ix.name, ix.value, ent.ID)); err != nil {
				return err
			}
		}
	}
	for _, ix := range cur {
		if err := txn.Set(idxKey(ix.name, ix.value, ent.ID), nil); err != nil {
			return err
		}
	}
	return txn.Set(key, ent.Value)
}

// eventIndexes lists the trace indexes of a transaction: the datasets and
// requests its entities concern, every department involved (the signer,
// owners, requesters), the person who signed and each entity itself.
func eventIndexes(tx block.Tx, ents []writeset.Entity, refs []writeset.Refs) []idxEntry {
	var out []idxEntry
	add := func(by TraceBy, value string) {
		if e := (idxEntry{string(by), value}); value != "" && !contains(out, e) {
			out = append(out, e)
		}
	}
	add(TraceDepartment, tx.Creator.MSPID)
	add(TraceActor, tx.Creator.Subject)
	for i, ent := range ents {
		r := refs[i]
		add(TraceDataset, r.DatasetID)
		if ent.Kind == domain.KindDataset {
			add(TraceDataset, ent.ID)
		}
		add(TraceRequest, r.RequestID)
		if ent.Kind == domain.KindRequest {
			add(TraceRequest, ent.ID)
		}
		add(TraceDepartment, r.Owner)
		add(TraceDepartment, r.Requester)
		add(traceEntity, entityValue(string(ent.Kind), ent.ID))
	}
	return out
}
