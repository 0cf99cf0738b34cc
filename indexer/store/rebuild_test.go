package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govshare/ledger/indexer/findings"
	"github.com/govshare/ledger/indexer/store"
)

// openWithWatch is open with the early-warning watch attached too, as the
// indexer attaches it: the rebuild runs both hooks against its own Badger.
func openWithWatch(t *testing.T, dir string, opt store.Options) *store.Store {
	t.Helper()
	s := open(t, dir, opt)
	findings.Attach(s, nil)
	return s
}

// TestRebuildKeepsTheMirror rebuilds random ledgers through the sorter
// (runs of a few KiB, so that they merge in tiers), from nothing and from
// block 0, finishing on SetLoading(false) and on Close, and compares every
// mirror, digest for digest, with one applied block by block; readers see
// the mirror as the rebuild found it until it is written.
func TestRebuildKeepsTheMirror(t *testing.T) {
	defer store.SetSortBuffer(4 << 10)()
	for _, seed := range []uint64{3, 11} {
		l := randomLedger(t, seed, 150, true)
		usual := openWithWatch(t, t.TempDir(), store.Options{})
		applyAll(t, usual, l.blocks)
		want := digest(t, usual)

		t.Run("from nothing", func(t *testing.T) {
			s := openWithWatch(t, t.TempDir(), store.Options{})
			if err := s.SetLoading(true); err != nil {
				t.Fatal(err)
			}
			applyAll(t, s, l.blocks[:120])
			if s.Height() != 120 || s.Status().Height != 0 {
				t.Fatalf("rebuilding: height %d, status %d; want 120 and 0", s.Height(), s.Status().Height)
			}
			before := digest(t, s)
			if !bytes.Equal(before, digest(t, openWithWatch(t, t.TempDir(), store.Options{}))) {
				t.Fatal("readers see the rebuild before it is written")
			}
			// A block seen again is in already; one beyond is a gap.
			if err := s.ApplyBlock(context.Background(), l.blocks[50]); err != nil {
				t.Fatal(err)
			}
			if err := s.ApplyBlock(context.Background(), l.blocks[125]); !errors.Is(err, store.ErrGap) {
				t.Fatalf("a block beyond the next: %v, want ErrGap", err)
			}
			if err := s.SetLoading(false); err != nil {
				t.Fatal(err)
			}
			if s.Status().Height != 120 || s.Loading() {
				t.Fatalf("rebuilt: status %d, loading %v", s.Status().Height, s.Loading())
			}
			applyAll(t, s, l.blocks[120:])
			if !bytes.Equal(digest(t, s), want) {
				t.Fatal("the mirror rebuilt differs from the one applied block by block")
			}
		})

		t.Run("from block 0, finished by Close", func(t *testing.T) {
			dir := t.TempDir()
			s := openWithWatch(t, dir, store.Options{})
			applyAll(t, s, l.blocks[:1])
			if err := s.SetLoading(true); err != nil {
				t.Fatal(err)
			}
			applyAll(t, s, l.blocks[1:90])
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir + ".rebuild"); !os.IsNotExist(err) {
				t.Fatalf("scratch folder left: %v", err)
			}
			s = openWithWatch(t, dir, store.Options{})
			if s.Height() != 90 {
				t.Fatalf("opened again at %d, want 90", s.Height())
			}
			applyAll(t, s, l.blocks[90:])
			if !bytes.Equal(digest(t, s), want) {
				t.Fatal("the mirror rebuilt differs from the one applied block by block")
			}
		})
	}
}

// TestRebuildCutShortIsDropped leaves what a crash would (a scratch folder,
// and a mirror holding keys but no checkpoint, as a stream cut short does):
// the store opens at height 0, with neither, and replays.
func TestRebuildCutShortIsDropped(t *testing.T) {
	l := randomLedger(t, 5, 30, false)
	dir := t.TempDir()
	s := openWithWatch(t, dir, store.Options{})
	if err := s.SetLoading(true); err != nil {
		t.Fatal(err)
	}
	applyAll(t, s, l.blocks)
	if err := s.SetLoading(false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := store.DropCheckpoint(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir+".rebuild", "runs"), 0o755); err != nil {
		t.Fatal(err)
	}
	s = openWithWatch(t, dir, store.Options{})
	if s.Height() != 0 {
		t.Fatalf("opened at %d, want 0", s.Height())
	}
	if _, err := os.Stat(dir + ".rebuild"); !os.IsNotExist(err) {
		t.Fatalf("scratch folder left: %v", err)
	}
	if !bytes.Equal(digest(t, s), digest(t, openWithWatch(t, t.TempDir(), store.Options{}))) {
		t.Fatal("keys are left of the mirror without a checkpoint")
	}
	applyAll(t, s, l.blocks)
	usual := openWithWatch(t, t.TempDir(), store.Options{})
	applyAll(t, usual, l.blocks)
	if !bytes.Equal(digest(t, s), digest(t, usual)) {
		t.Fatal("replayed mirror differs")
	}
}

// failingHook fails at one block, once.
type failingHook struct {
	at     uint64
	failed bool
}

func (h *failingHook) ApplyBlock(_ store.Txn, number uint64, _ []store.Event) error {
	if number == h.at && !h.failed {
		h.failed = true
		return errors.New("hook failed on purpose")
	}
	return nil
}
func (h *failingHook) Forget() {}
func (h *failingHook) Reset()  {}

// TestRebuildGivesUpOnAHookError: the hooks run a block behind the
// rebuild; one failing makes a later block (or the end) fail, and the
// mirror is left as the rebuild found it, which then replays block by
// block to the same digest as a mirror never rebuilt.
func TestRebuildGivesUpOnAHookError(t *testing.T) {
	l := randomLedger(t, 9, 60, false)
	usual := openWithWatch(t, t.TempDir(), store.Options{})
	usual.AddBlockHook(&failingHook{at: 1 << 62})
	applyAll(t, usual, l.blocks)

	dir := t.TempDir()
	s := openWithWatch(t, dir, store.Options{})
	s.AddBlockHook(&failingHook{at: 20})
	if err := s.SetLoading(true); err != nil {
		t.Fatal(err)
	}
	var failed error
	for _, b := range l.blocks[:50] {
		if failed = s.ApplyBlock(context.Background(), b); failed != nil {
			break
		}
	}
	if failed == nil {
		failed = s.SetLoading(false)
	}
	if failed == nil || !strings.Contains(failed.Error(), "hook failed on purpose") {
		t.Fatalf("rebuild with a failing hook: %v", failed)
	}
	if s.Height() != 0 || s.Status().Height != 0 || s.Loading() {
		t.Fatalf("after the rebuild gave up: height %d, status %d, loading %v", s.Height(), s.Status().Height, s.Loading())
	}
	if _, err := os.Stat(dir + ".rebuild"); !os.IsNotExist(err) {
		t.Fatalf("scratch folder left: %v", err)
	}
	applyAll(t, s, l.blocks)
	if !bytes.Equal(digest(t, s), digest(t, usual)) {
		t.Fatal("the mirror replayed after the rebuild gave up differs")
	}
}
