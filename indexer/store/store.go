// Package store is the indexer's mirror of the ledger in Badger: the latest
// state of every entity, as the transactions wrote it, the trace in ledger
// order, the anomalies (transactions whose event disagrees with what they
// wrote, see package writeset for the apply path), the secondary indexes
// the read API needs, and the checkpoint that says how far the mirror has
// got. It knows Badger and nothing else (not Fabric, not scores): it
// applies blocks that package block has already decoded, and hands a
// service above it (package indexer/scores) each block's believed events
// in the block's own transaction (hook.go). Everything in it can be rebuilt
// from the ledger, and a block is applied with its checkpoint in one Badger
// transaction, so that a crash leaves either all of a block or none of it.
package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/indexer/block"
)

// Errors that the follower must tell apart.
var (
	// ErrGap means a block came before the ones preceding it were applied.
	ErrGap = errors.New("block is beyond the next one")
	// ErrForeignLedger means a block does not belong to the ledger this
	// mirror was built from (another genesis, another channel or a broken
	// hash chain). The mirror must be rebuilt, never merged.
	ErrForeignLedger = block.ErrForeignLedger
)

// Options configure a store.
type Options struct {
	Channel    string        // blocks of any other channel are refused
	GCInterval time.Duration // how often to run value log GC; default 5 minutes
	Logger     *slog.Logger
	// MemoryLimitMB bounds the process's resident set: Badger's options
	// and the trimming of its mapped files follow from it (Budget); the
	// Go runtime's soft limit is the caller's to set, from the same
	// budget. Default DefaultMemoryLimitMB.
	MemoryLimitMB int
	// MemTableSize, when set, overrides the budget's memtable size, which
	// also bounds one transaction (tests use it to split blocks).
	MemTableSize int64
	// RaiseGoLimit lets the store raise the Go runtime's soft memory limit
	// while it rebuilds (MemoryBudget.rebuilding: a rebuild maps few file
	// pages, so the Go share grows and the trimmer's shrinks) and set it
	// back to the budget's GoLimit after: for a process that set the limit
	// from the same budget (cmd/indexer does, unless GOMEMLIMIT is set).
	RaiseGoLimit bool
	// NoSortedRebuild loads a mirror from nothing with Badger's loading
	// options instead of the sorted rebuild (rebuild.go): tests of the
	// loading options use it.
	NoSortedRebuild bool
}

// Store is the mirror. Its methods are safe for concurrent use; blocks are
// applied by one writer, the follower.
type Store struct {
	// dbMu guards db, which SetLoading closes and opens again with other
	// options: every use of db holds it for reading.
	dbMu    sync.RWMutex
	db      *badger.DB
	open    func(loading bool) (*badger.DB, error)
	loading bool // db was opened with the loading options, or a rebuild is under way (bulk.go)
	log     *slog.Logger
	channel string
	dir     string
	budget  MemoryBudget
	// rebuild is the sorted rebuild under way (rebuild.go), guarded by
	// applyMu; noRebuild is Options.NoSortedRebuild.
	rebuild      *rebuild
	noRebuild    bool
	raiseGoLimit bool
	trim         *trimmer

	mu      sync.Mutex
	status  Status
	applied chan struct{} // closed and replaced each time a block is applied
	// rebuildNext is the next block of a rebuild under way, 0 when none:
	// what Height tells the follower, while Status stays as the mirror is.
	rebuildNext uint64

	// applyMu is held while a block is applied, and while a hook is added.
	applyMu sync.Mutex
	hooks   Hooks // none: no aggregates are kept

	stop      chan struct{}
	gcDone    chan struct{}
	trimDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the mirror in dir.
func Open(dir string, opt Options) (*Store, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.GCInterval <= 0 {
		opt.GCInterval = 5 * time.Minute
	}
	budget := Budget(opt.MemoryLimitMB)
	if opt.MemTableSize > 0 {
		budget.MemTableSize = opt.MemTableSize
	}
	openDB := func(loading bool) (*badger.DB, error) {
		b := budget
		if loading {
			b = b.loading()
		}
		db, err := badger.Open(b.apply(badger.DefaultOptions(dir).
			WithLogger(badgerLogger{opt.Logger}).
			WithNumVersionsToKeep(1)))
		if err != nil {
			return nil, fmt.Errorf("open badger in %s: %w", dir, err)
		}
		return db, nil
	}
	trim, err := newTrimmer(dir, budget.FileRSS)
	if err != nil {
		return nil, fmt.Errorf("mirror folder %s: %w", dir, err)
	}
	db, err := openDB(false)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:           db,
		open:         openDB,
		log:          opt.Logger,
		channel:      opt.Channel,
		dir:          dir,
		budget:       budget,
		noRebuild:    opt.NoSortedRebuild,
		raiseGoLimit: opt.RaiseGoLimit,
		trim:         trim,
		applied:      make(chan struct{}),
		stop:         make(chan struct{}),
		gcDone:       make(chan struct{}),
		trimDone:     make(chan struct{}),
	}
	if err := s.dropUnfinished(); err != nil {
		db.Close()
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadStatus(); err != nil {
		db.Close()
		return nil, err
	}
	go s.gcLoop(opt.GCInterval)
	go s.trimLoop(trim, 250*time.Millisecond)
	return s, nil
}

// Close finishes a rebuild under way, stops the background GC and closes
// Badger; later calls do nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.applyMu.Lock()
		if s.rebuild != nil {
			if err := s.finishRebuild(); err != nil {
				s.closeErr = err
			}
		}
		s.applyMu.Unlock()
		close(s.stop)
		<-s.gcDone
		<-s.trimDone
		s.dbMu.Lock()
		defer s.dbMu.Unlock()
		if err := s.db.Close(); err != nil {
			s.closeErr = errors.Join(s.closeErr, fmt.Errorf("close badger: %w", err))
		}
	})
	return s.closeErr
}

// gcLoop reclaims value log space left by overwritten entity states.
func (s *Store) gcLoop(every time.Duration) {
	defer close(s.gcDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		// Each successful run rewrites one file; repeat until there is
		// nothing worth rewriting, checking for Close in between.
		for {
			err := s.withDB(func(db *badger.DB) error { return db.RunValueLogGC(0.5) })
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.log.Warn("value log GC", "err", err)
				}
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// trimLoop keeps the mirror's mapped pages within the budget (trimmer).
func (s *Store) trimLoop(t *trimmer, every time.Duration) {
	defer close(s.trimDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	warned := false // once per run of failures, not every tick
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		_, err := t.trim()
		if err != nil && !warned {
			s.log.Warn("mapped pages of the mirror are not trimmed: its resident set may exceed the memory limit", "err", err)
		}
		warned = err != nil
		if errors.Is(err, errTrimUnsupported) {
			return
		}
	}
}

// checkSchema drops a mirror built by a build whose key layout differs
// (keys.go's schemaVersion): it lacks indexes or aggregates this build
// reads, and the mirror can always be rebuilt from the ledger, so the
// follower simply replays it from block 0.
func (s *Store) checkSchema() error {
	var (
		cp     checkpoint
		schema int
	)
	err := s.db.View(func(txn *badger.Txn) error {
		var err error
		if cp, err = readCheckpoint(txn); err != nil {
			return err
		}
		_, err = readJSON(txn, keySchema, &schema)
		return err
	})
	if err != nil || cp.Next == 0 || schema == schemaVersion {
		return err
	}
	s.log.Warn("mirror was built with another key layout: dropping it to replay the ledger",
		"schema", schema, "want", schemaVersion, "heightWas", cp.Next)
	if err := s.db.DropAll(); err != nil {
		return fmt.Errorf("drop mirror of schema %d: %w", schema, err)
	}
	return nil
}

// loadStatus reads the checkpoint and genesis into memory, where Status and
// WaitFor read them without touching Badger.
func (s *Store) loadStatus() error {
	return s.dbView(func(txn *badger.Txn) error {
		cp, err := readCheckpoint(txn)
		if err != nil {
			return err
		}
		g, err := readGenesis(txn)
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.status = Status{Channel: g.Channel, GenesisHash: g.Hash, Height: cp.Next, LastBlockHash: cp.Hash, LastBlockTime: cp.Time}
		return nil
	})
}

// withDB runs fn with the open Badger, which SetLoading cannot swap meanwhile.
func (s *Store) withDB(fn func(*badger.DB) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return fn(s.db)
}

// dbView runs fn in a read transaction.
func (s *Store) dbView(fn func(*badger.Txn) error) error {
	return s.withDB(func(db *badger.DB) error { return db.View(fn) })
}

// Status returns the mirror's progress.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Rebuilt = s.rebuildNext
	if st.Channel == "" {
		st.Channel = s.channel
	}
	return st
}

// Height is the number of blocks applied, which is the number of the next;
// while a rebuild is under way (rebuild.go), the rebuild's, which readers
// do not see yet (Status).
func (s *Store) Height() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rebuildNext > 0 {
		return s.rebuildNext
	}
	return s.status.Height
}

// WaitFor returns once block n has been applied, or with ctx's error.
func (s *Store) WaitFor(ctx context.Context, n uint64) error {
	for {
		s.mu.Lock()
		done, ch := s.status.Height > n, s.applied
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// advanced records a committed block and wakes the waiters.
func (s *Store) advanced(st Status) {
	s.mu.Lock()
	s.status = st
	close(s.applied)
	s.applied = make(chan struct{})
	s.mu.Unlock()
}

func readCheckpoint(txn *badger.Txn) (checkpoint, error) {
	var cp checkpoint
	_, err := readJSON(txn, keyCheckpoint, &cp)
	return cp, err
}

func readGenesis(txn *badger.Txn) (genesis, error) {
	var g genesis
	_, err := readJSON(txn, keyGenesis, &g)
	return g, err
}

// readJSON decodes the value at key into v; found is false when there is none.
func readJSON(txn *badger.Txn, key []byte, v any) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %q: %w", key, err)
	}
	err = item.Value(func(val []byte) error { return json.Unmarshal(val, v) })
	if err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func setJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return txn.Set(key, b)
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

// badgerLogger sends Badger's logs to slog; its info chatter goes to debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
