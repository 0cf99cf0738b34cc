package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/writeset"
)

// The sorted rebuild. A mirror loaded from (nearly) nothing, a rebuild
// from genesis or a replay after a new key layout, does not go through
// Badger's memtables and compactions at all: what a replay costs on that
// path is Badger rewriting each key once per level it passes through (at
// 1M transactions 19 GB of compactions for a 1.6 GB mirror, and the
// collector busy with their buffers), and it grows with the ledger. While
// rebuilding, the blocks' writes go to an external sort instead (sorter.go:
// runs sorted in memory and written compressed, merged in tiers), and when
// the follower is back near the head (SetLoading(false)) the merged stream,
// in key order, is written into the empty Badger by its StreamWriter, as
// tables of its last level: every key is written to disk three or four
// times in all, at any ledger size.
//
// What the apply reads back is served without the mirror: an entity's
// index entries are derived from its last state when the stream passes
// it (not moved at each write), and metering counters are added as the
// runs are merged. The block hooks (the scores, the watch) read and write
// their own keys: they run against a small Badger of their own in the
// scratch folder, with the checkpoint, a block behind on a goroutine of
// their own, and its keys join the stream. A hook's error gives the
// rebuild up at the next block (or at its end).
//
// Readers see the mirror as it was when the rebuild began (no block, or
// block 0) until it is written: Status and WaitFor do not move, while
// Height, which the follower asks, is the rebuild's. A crash loses the
// rebuild: the scratch folder is dropped when the store opens, and a mirror
// caught writing its stream (keys, no checkpoint) is dropped as well; the
// follower then begins again. Close finishes a rebuild under way.
// TestRebuildKeepsTheMirror compares the result, digest for digest, with
// the blocks applied one by one.

// rebuild is a rebuild under way.
type rebuild struct {
	dir    string  // scratch: the sorter's runs and the hooks' Badger
	sorter *sorter // every write but the hooks' and the checkpoint
	hooks  *badger.DB
	// The hooks run a block behind, on a goroutine of their own (and so
	// on the second core), while the next block's transactions are
	// sorted: blocks go to them on fed; done is closed once they have
	// stopped, with their first error in hookErr.
	fed     chan hookBlock
	done    chan struct{}
	hookErr error
	failed  atomic.Bool
	cp      checkpoint // of the last block applied
	st      Status
}

// rebuildFrom is the highest mirror a rebuild begins from: the hooks must
// not have anything to read back of events (their state is loaded from
// the mirror's events after their last stored point), and the genesis
// block has none.
const rebuildFrom = 1

// rebuildSuffix names a rebuild's scratch folder, beside the mirror's.
const rebuildSuffix = ".rebuild"

func (s *Store) rebuildDir() string { return filepath.Clean(s.dir) + rebuildSuffix }

// beginRebuild starts a rebuild from the mirror as it is (at most block
// 0): its keys go into the sorter and the hooks' Badger. applyMu is held.
func (s *Store) beginRebuild() error {
	dir := s.rebuildDir()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	srt, err := newSorter(filepath.Join(dir, "runs"), s.budget.sortBuffer())
	if err != nil {
		return err
	}
	hooks, err := badger.Open(s.budget.hooksOptions(filepath.Join(dir, "hooks")).WithLogger(badgerLogger{s.log}))
	if err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("rebuild: open the hooks' badger: %w", err)
	}
	r := &rebuild{dir: dir, sorter: srt, hooks: hooks, st: s.Status(), fed: make(chan hookBlock, 4), done: make(chan struct{})}
	r.cp = checkpointOf(r.st)
	wb := hooks.NewWriteBatch()
	err = s.dbView(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			switch {
			case bytes.HasPrefix(k, []byte(prefixIdx)):
				// derived again from the entities (finishRebuild)
			case bytes.Equal(k, keyCheckpoint) || isAggregateKey(k):
				if err := wb.Set(k, v); err != nil {
					return err
				}
			case bytes.HasPrefix(k, []byte(prefixEnt)):
				entries, err := entityIndexes(k, v)
				if err != nil {
					return err
				}
				if err := srt.add(opSet, k, withIndexes(v, entries)); err != nil {
					return err
				}
			default:
				if err := srt.add(opSet, k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		err = wb.Flush()
	} else {
		wb.Cancel()
	}
	if err != nil {
		r.drop()
		return fmt.Errorf("rebuild: the mirror's blocks so far: %w", err)
	}
	go r.runHooks(s.hooks)
	s.dbMu.Lock()
	s.rebuild, s.loading = r, true
	s.dbMu.Unlock()
	s.setRebuildHeight(r.cp.Next)
	s.shareMemory(true)
	s.log.Info("mirror rebuilding through the sorter", "from", r.cp.Next, "scratch", dir)
	return nil
}

// hookBlock is a block as its hooks are handed it.
type hookBlock struct {
	number uint64
	events []Event
	cp     checkpoint
}

// runHooks calls the hooks for each block fed, in the hooks' Badger, with
// the block's checkpoint; after an error it only drains what is fed.
func (r *rebuild) runHooks(hooks Hooks) {
	defer close(r.done)
	for hb := range r.fed {
		if r.hookErr != nil {
			continue
		}
		r.hookErr = r.hooks.Update(func(txn *badger.Txn) error {
			if err := hooks.ApplyBlock(Txn{txn}, hb.number, hb.events); err != nil {
				return err
			}
			return setJSON(txn, keyCheckpoint, hb.cp)
		})
		if r.hookErr != nil {
			r.hookErr = fmt.Errorf("block hooks at block %d: %w", hb.number, r.hookErr)
			r.failed.Store(true)
		}
	}
}

// waitHooks stops the hooks' goroutine once it has called them for every
// block fed, and returns its error; it may be called again.
func (r *rebuild) waitHooks() error {
	select {
	case <-r.done:
	default:
		close(r.fed)
		<-r.done
	}
	return r.hookErr
}

// drop removes a rebuild's scratch folder.
func (r *rebuild) drop() {
	r.waitHooks()
	r.sorter.wait() // a run being written in the background
	r.hooks.Close()
	os.RemoveAll(r.dir)
}

// abortRebuild gives a rebuild up after a block failed half way: the
// mirror is as the rebuild found it, and the hooks read their state from
// it again. applyMu is held.
func (s *Store) abortRebuild() {
	s.rebuild.drop()
	s.dbMu.Lock()
	s.rebuild, s.loading = nil, false
	s.dbMu.Unlock()
	s.setRebuildHeight(0)
	s.shareMemory(false)
	s.forgetHook()
}

// shareMemory moves the bound's shares to the rebuild's (on) or back.
func (s *Store) shareMemory(rebuilding bool) {
	goLimit, fileRSS := s.budget.GoLimit, s.budget.FileRSS
	if rebuilding {
		goLimit, fileRSS = s.budget.rebuilding()
	}
	s.trim.setBudget(fileRSS)
	if s.raiseGoLimit {
		debug.SetMemoryLimit(goLimit)
	}
}

func (s *Store) setRebuildHeight(n uint64) {
	s.mu.Lock()
	s.rebuildNext = n
	s.mu.Unlock()
}

// applyRebuild applies block b to the rebuild under way. applyMu is held.
func (s *Store) applyRebuild(b *block.Block) error {
	r := s.rebuild
	if b.Number < r.cp.Next {
		return nil // in already (the hash was checked when it was applied)
	}
	if err := chains(r.cp, b); err != nil {
		return err
	}
	st := statusAfter(r.st.Channel, r.st.GenesisHash, b)
	err := func() error {
		t := sortTarget{r.sorter}
		var evs []Event
		for _, tx := range b.Txs {
			ev, err := applyTx(t, b, tx, false)
			if err != nil {
				return err
			}
			if ev != nil {
				evs = append(evs, *ev)
			}
		}
		if err := blockRecords(t, b, &st); err != nil {
			return err
		}
		if r.failed.Load() {
			return r.waitHooks()
		}
		r.fed <- hookBlock{number: b.Number, events: evs, cp: checkpointOf(st)}
		return nil
	}()
	if err != nil {
		s.abortRebuild()
		return fmt.Errorf("rebuild gave up at block %d (the mirror is as it began, at height %d): %w", b.Number, s.Status().Height, err)
	}
	r.cp, r.st = checkpointOf(st), st
	s.setRebuildHeight(st.Height)
	return nil
}

// sortTarget writes a block's transactions to the sorter: entities with
// their index entries carried along (withIndexes), metering amounts as
// additions.
type sortTarget struct{ s *sorter }

func (t sortTarget) set(key, val []byte) error { return t.s.add(opSet, key, val) }
func (t sortTarget) has([]byte) (bool, error)  { return false, nil }
func (t sortTarget) entity(ent writeset.Entity) error {
	return t.s.add(opSet, entKey(string(ent.Kind), ent.ID), withIndexes(ent.Value, entriesOf(ent.Kind, ent.Record)))
}

// withIndexes is an entity's value as the sorter holds it: the value, its
// index entries, and the entries' length (4 bytes), so that the last state
// of an entity brings its own entries to the end of the rebuild, where
// they are written (writeRebuild) without the value being decoded again.
func withIndexes(val []byte, entries []idxEntry) []byte {
	out := append(make([]byte, 0, len(val)+64), val...)
	for _, e := range entries {
		out = binary.AppendUvarint(out, uint64(len(e.name)))
		out = append(out, e.name...)
		out = binary.AppendUvarint(out, uint64(len(e.value)))
		out = append(out, e.value...)
	}
	return binary.BigEndian.AppendUint32(out, uint32(len(out)-len(val)))
}

// splitIndexes undoes withIndexes.
func splitIndexes(held []byte) (val []byte, entries []idxEntry, err error) {
	if len(held) < 4 {
		return nil, nil, fmt.Errorf("entity of %d bytes has no index entries' length", len(held))
	}
	n := int(binary.BigEndian.Uint32(held[len(held)-4:]))
	if n > len(held)-4 {
		return nil, nil, fmt.Errorf("index entries of %d bytes in an entity of %d", n, len(held))
	}
	val, rest := held[:len(held)-4-n], held[len(held)-4-n:len(held)-4]
	for len(rest) > 0 {
		var e idxEntry
		for _, dst := range []*string{&e.name, &e.value} {
			l, k := binary.Uvarint(rest)
			if k <= 0 || int(l) > len(rest)-k {
				return nil, nil, errors.New("index entries cut short")
			}
			*dst, rest = string(rest[k:k+int(l)]), rest[k+int(l):]
		}
		entries = append(entries, e)
	}
	return val, entries, nil
}

func (t sortTarget) addMeter(keys [3][]byte, amount MeterRow) error {
	v := amount.encode()
	for _, k := range keys {
		if err := t.s.add(opAdd, k, v); err != nil {
			return err
		}
	}
	return nil
}

// finishRebuild writes what the rebuild holds into the mirror, whose
// readers wait meanwhile, and the checkpoint last. applyMu is held.
func (s *Store) finishRebuild() error {
	r := s.rebuild
	err := r.waitHooks()
	if err != nil {
		s.abortRebuild()
		return fmt.Errorf("rebuild gave up (the mirror is as it began, at height %d): %w", s.Status().Height, err)
	}
	s.dbMu.Lock()
	err = s.writeRebuild(r)
	s.rebuild, s.loading = nil, false
	s.dbMu.Unlock()
	r.drop()
	s.setRebuildHeight(0)
	s.shareMemory(false)
	if err != nil {
		// The mirror may hold part of the stream and no checkpoint: drop
		// it, and the hooks' state with it.
		if derr := s.withDB(func(db *badger.DB) error { return db.DropAll() }); derr != nil {
			err = errors.Join(err, derr)
		}
		s.hooks.Reset()
		s.advanced(Status{})
		return fmt.Errorf("rebuild: write the mirror: %w", err)
	}
	s.advanced(r.st)
	s.log.Info("mirror rebuilt", "height", r.st.Height)
	return nil
}

// writeRebuild streams the sorted writes, the index entries derived from
// the entities and the hooks' keys, in key order, into the mirror, then
// writes the checkpoint. dbMu is held.
func (s *Store) writeRebuild(r *rebuild) error {
	idx, err := newSorter(filepath.Join(r.dir, "idx"), s.budget.sortBuffer())
	if err != nil {
		return err
	}
	htxn := r.hooks.NewTransaction(false)
	defer htxn.Discard()
	it := htxn.NewIterator(badger.DefaultIteratorOptions)
	defer it.Close()
	it.Rewind()

	sw := s.db.NewStreamWriter()
	if err := sw.Prepare(); err != nil {
		return err
	}
	out := newStreamOut(s.db, sw)
	defer out.buf.Release()

	idxDone := false
	idxStart := []byte(prefixIdx)
	// below emits, before key k (nil: the end), the hooks' keys and the
	// index entries that sort before it.
	below := func(k []byte) error {
		for {
			next, fromHooks := k, false
			if it.Valid() {
				if hk := it.Item().Key(); next == nil || bytes.Compare(hk, next) < 0 {
					next, fromHooks = hk, true
				}
			}
			if !idxDone && (next == nil || bytes.Compare(next, idxStart) >= 0) {
				idxDone = true
				if err := idx.each(out.add); err != nil {
					return fmt.Errorf("index entries: %w", err)
				}
				continue
			}
			if !fromHooks {
				return nil
			}
			if !bytes.Equal(next, keyCheckpoint) {
				if err := it.Item().Value(func(v []byte) error { return out.add(next, v) }); err != nil {
					return err
				}
			}
			it.Next()
		}
	}
	err = r.sorter.each(func(k, v []byte) error {
		if err := below(k); err != nil {
			return err
		}
		if !bytes.HasPrefix(k, []byte(prefixEnt)) {
			return out.add(k, v)
		}
		val, entries, err := splitIndexes(v)
		if err != nil {
			return fmt.Errorf("%q: %w", k, err)
		}
		if err := out.add(k, val); err != nil {
			return err
		}
		_, id, err := parseEntKey(k)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := idx.add(opSet, idxKey(e.name, e.value, id), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = below(nil)
	}
	if err == nil {
		err = out.endStream()
	}
	if err != nil {
		sw.Cancel()
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return s.db.Update(func(txn *badger.Txn) error { return setJSON(txn, keyCheckpoint, r.cp) })
}

// entityIndexes decodes the entity stored at key (an ent/ key of the
// mirror) and lists its index entries.
func entityIndexes(key, val []byte) ([]idxEntry, error) {
	kind, id, err := parseEntKey(key)
	if err != nil {
		return nil, err
	}
	if len(indexes[kind]) == 0 {
		return nil, nil
	}
	rec, err := domain.NewRecord(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(val, rec); err != nil {
		return nil, fmt.Errorf("entity %s %s: %w", kind, id, err)
	}
	return entriesOf(kind, rec), nil
}

// streamOut hands a StreamWriter keys in strictly increasing order, a
// stream of about one table each (streamChunk), and waits for its tables
// to be written before it opens more than a few streams ahead: Badger's
// StreamWriter builds up to 16 tables at once, each holding its table
// uncompressed and compressed in buffers that double as they fill (about
// 12 MiB for one of 2 MiB), which would put a 1M-transaction rebuild's
// heap at 580 MB; two or three at once keep it within the Go share.
type streamOut struct {
	db     *badger.DB
	sw     *badger.StreamWriter
	buf    *z.Buffer
	kv     pb.KV
	last   []byte
	n      int
	stream uint32 // the stream being written, numbered from 1
	chunk  int    // bytes of keys and values in it
	closed int    // streams done: each has made its table or two
}

// streamChunk is how many bytes of keys and values one stream takes: a
// table of the mirror's last level (2 MiB) holds about three times as
// much uncompressed, so each stream makes one table, seldom two.
const streamChunk = 4 << 20

// streamsAhead is how many streams may be done whose tables are not all
// written.
const streamsAhead = 2

func newStreamOut(db *badger.DB, sw *badger.StreamWriter) *streamOut {
	return &streamOut{db: db, sw: sw, buf: z.NewBuffer(8<<20, "rebuild"), stream: 1}
}

func (o *streamOut) add(k, v []byte) error {
	if o.n > 0 && bytes.Compare(k, o.last) <= 0 {
		return fmt.Errorf("rebuild: key %q after %q", k, o.last)
	}
	o.last, o.n = append(o.last[:0], k...), o.n+1
	o.kv = pb.KV{Key: k, Value: v, Version: 1, StreamId: o.stream}
	badger.KVToBuffer(&o.kv, o.buf)
	if o.chunk += len(k) + len(v); o.chunk >= streamChunk {
		return o.endStream()
	}
	return nil
}

// endStream closes the stream being written and waits, if need be, for
// the tables of the streams before it.
func (o *streamOut) endStream() error {
	if o.chunk == 0 {
		return nil
	}
	o.kv = pb.KV{StreamId: o.stream, StreamDone: true}
	badger.KVToBuffer(&o.kv, o.buf)
	err := o.sw.Write(o.buf)
	o.buf.Reset()
	if err != nil {
		return err
	}
	o.stream, o.chunk, o.closed = o.stream+1, 0, o.closed+1
	return o.pace()
}

// pace waits until at most streamsAhead streams have tables still being
// written: the tables of the last level count those written.
func (o *streamOut) pace() error {
	const stalled = time.Minute
	var (
		seen     = -1
		progress = time.Now()
	)
	for {
		levels := o.db.Levels()
		done := levels[len(levels)-1].NumTables
		if o.closed-done <= streamsAhead {
			return nil
		}
		if done != seen {
			seen, progress = done, time.Now()
		} else if time.Since(progress) > stalled {
			return fmt.Errorf("rebuild: no table written for %s (%d streams done, %d tables)", stalled, o.closed, done)
		}
		time.Sleep(time.Millisecond)
	}
}

// dropUnfinished drops a mirror that holds keys but no checkpoint (a
// rebuild's stream cut short) and a rebuild's scratch folder left behind.
func (s *Store) dropUnfinished() error {
	if err := os.RemoveAll(s.rebuildDir()); err != nil {
		return err
	}
	var cp checkpoint
	empty := true
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if cp, err = readCheckpoint(txn); err != nil {
			return err
		}
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil || cp.Next > 0 || empty {
		return err
	}
	s.log.Warn("mirror holds keys but no checkpoint (a rebuild cut short): dropping it to replay the ledger")
	return s.db.DropAll()
}
