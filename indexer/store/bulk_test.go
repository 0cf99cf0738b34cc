package store_test

import (
	"bytes"
	"testing"

	"github.com/govshare/ledger/indexer/store"
)

// TestLoadingKeepsTheMirror replays the same ledger block by block with the
// usual options, and with the loading options switched on and off on the
// way (closed and opened again once while loading, as a crash would leave
// it): both mirrors, score aggregates included, have the same digest.
func TestLoadingKeepsTheMirror(t *testing.T) {
	l := randomLedger(t, 3, 150, true)
	usual := open(t, t.TempDir(), store.Options{})
	applyAll(t, usual, l.blocks)

	dir := t.TempDir()
	loaded := open(t, dir, store.Options{MemTableSize: 1 << 20, NoSortedRebuild: true})
	if err := loaded.SetLoading(true); err != nil {
		t.Fatal(err)
	}
	if !loaded.Loading() {
		t.Fatal("not loading after SetLoading(true)")
	}
	applyAll(t, loaded, l.blocks[:60])
	loaded.Close()
	loaded = open(t, dir, store.Options{MemTableSize: 1 << 20, NoSortedRebuild: true})
	if loaded.Loading() {
		t.Fatal("a store opened again loads before it is asked to")
	}
	if err := loaded.SetLoading(true); err != nil {
		t.Fatal(err)
	}
	applyAll(t, loaded, l.blocks[60:120])
	if err := loaded.SetLoading(false); err != nil {
		t.Fatal(err)
	}
	applyAll(t, loaded, l.blocks[120:])
	if !bytes.Equal(digest(t, usual), digest(t, loaded)) {
		t.Fatal("the mirror loaded differs from the one applied with the usual options")
	}
}
