package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Digest is the SHA-256 of the whole mirror: every key and value in key
// order, each length-prefixed so that no two contents hash alike. Two
// mirrors built from the same ledger up to the same height have the same
// digest, however they got there (one run, restarts, crashes, rebuilds).
func (s *Store) Digest(ctx context.Context) ([]byte, error) {
	_, d, err := s.DigestAt(ctx)
	return d, err
}

// DigestAt is Digest with the number of blocks the digest covers, both read
// from one snapshot, so a live indexer can be compared with another.
func (s *Store) DigestAt(ctx context.Context) (height uint64, digest []byte, err error) {
	h := sha256.New()
	err = s.view(ctx, func(txn *badger.Txn) error {
		cp, err := readCheckpoint(txn)
		if err != nil {
			return err
		}
		height = cp.Next
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		var n [8]byte
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			binary.BigEndian.PutUint64(n[:], uint64(len(k)))
			h.Write(n[:])
			h.Write(k)
			if err := item.Value(func(v []byte) error {
				binary.BigEndian.PutUint64(n[:], uint64(len(v)))
				h.Write(n[:])
				h.Write(v)
				return nil
			}); err != nil {
				return fmt.Errorf("read %q: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return height, h.Sum(nil), nil
}

// Reset drops the whole mirror, checkpoint and genesis included: the next
// run replays the ledger from block 0. No block may be applied meanwhile.
func (s *Store) Reset() error {
	s.applyMu.Lock()
	if s.rebuild != nil {
		s.abortRebuild()
	}
	s.applyMu.Unlock()
	if err := s.withDB(func(db *badger.DB) error { return db.DropAll() }); err != nil {
		return fmt.Errorf("drop mirror: %w", err)
	}
	s.applyMu.Lock()
	s.hooks.Reset()
	s.applyMu.Unlock()
	s.advanced(Status{})
	return nil
}
