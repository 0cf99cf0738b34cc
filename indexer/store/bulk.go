package store

import (
	"fmt"
)

// Loading. A mirror far behind its ledger (a rebuild from genesis, an
// indexer that was down for long) applies blocks much faster than it is
// asked anything; what a replay costs is Badger's writes, flushes and
// compactions, not the transactions (indexer/README.md, "Rebuilds from
// genesis"). While loading, Badger runs with the loading options
// (MemoryBudget.loading): within the same memory bound, they trade read
// speed and disk for fewer and cheaper compactions. Blocks are applied
// exactly as otherwise, one Badger transaction each with its checkpoint,
// so a crash while loading resumes from the checkpoint like any other, and
// the mirror holds the same keys and values (its digest is the same).
// Back at the head, SetLoading(false) opens Badger again with the usual
// options; the follower switches both ways by the lag it sees
// (source.Follower). A mirror that holds no block yet, or only block 0,
// is instead rebuilt through the sorter (rebuild.go), which
// SetLoading(false) writes into Badger.

// SetLoading switches Badger to the loading options (on) or back to the
// usual ones: it flushes and closes the mirror and opens it again, which
// readers wait for (about a memtable's flush). On a mirror of at most
// block 0 it begins a sorted rebuild instead (rebuild.go), and off ends
// it: the rebuild is written into Badger, which readers wait for. It does
// nothing when the store already runs so. No block may be applied
// meanwhile (the follower, the only writer, calls it between blocks).
func (s *Store) SetLoading(on bool) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.loading == on {
		return nil
	}
	select {
	case <-s.stop:
		return fmt.Errorf("store is closed")
	default:
	}
	if on && !s.noRebuild && s.Status().Height <= rebuildFrom {
		return s.beginRebuild()
	}
	if !on && s.rebuild != nil {
		return s.finishRebuild()
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close badger to switch loading %v: %w", on, err)
	}
	db, err := s.open(on)
	if err != nil {
		// The mirror is on disk as it was: try the options it had.
		if db, err2 := s.open(s.loading); err2 == nil {
			s.db = db
		}
		return fmt.Errorf("switch loading %v: %w", on, err)
	}
	s.db, s.loading = db, on
	s.log.Info("mirror switched Badger options", "loading", on, "height", s.Height())
	return nil
}

// Loading reports whether Badger runs with the loading options.
func (s *Store) Loading() bool {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	return s.loading
}
