package store

import "github.com/dgraph-io/badger/v4"

// SetSortBuffer makes every rebuild's sorter write a run each n bytes of
// writes, until the returned func is called.
func SetSortBuffer(n int) (restore func()) {
	was := sortBufferForTests
	sortBufferForTests = n
	return func() { sortBufferForTests = was }
}

// DropCheckpoint deletes the checkpoint of the closed mirror in dir, as a
// rebuild's stream cut short leaves it.
func DropCheckpoint(dir string) error {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(txn *badger.Txn) error { return txn.Delete(keyCheckpoint) })
}
