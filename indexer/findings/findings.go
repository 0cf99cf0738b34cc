// Package findings keeps the early-warning watch's findings (package
// indexer/watch, indexer/WATCH.md) in the mirror: the watch is fed each
// block's believed events as the store's block hook, in the block's own
// Badger transaction, so that the findings a block opens or closes are
// written atomically with the block and its checkpoint, and two mirrors of
// the same ledger hold the same findings (their digests cover them).
//
// Its keys (under the store's aggregate prefixes):
//
//	finding/<id>                              the finding, JSON (watch.Finding)
//	findingchg/<changedAtBlock:8><id>         empty: the findings in the order they last changed
//	meta/watch/<entry>                        the watch's state, entry by entry (watch.Flush: now,
//	                                            requests/<id>, deliveries/<id>, due/<when><kind><id>,
//	                                            ...), as of the block the checkpoint names: each block
//	                                            writes only what it touched, each event reads what it needs
//	meta/findingcounts                        {"<kind>/<department>": open findings}
package findings

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/indexer/watch"
)

const (
	prefixFinding = "finding/"
	prefixChanged = "findingchg/"
	prefixState   = "meta/watch/"
)

var keyCounts = []byte("meta/findingcounts")

func findingKey(id string) []byte { return append([]byte(prefixFinding), id...) }

func changedKey(block uint64, id string) []byte {
	k := binary.BigEndian.AppendUint64([]byte(prefixChanged), block)
	return append(k, id...)
}

// Service keeps the findings of one store. Attach makes it.
type Service struct {
	st  *store.Store
	log *slog.Logger

	mu     sync.Mutex
	w      *watch.Watch
	next   uint64 // the watch holds every event of the blocks below next
	loaded bool
	counts map[string]int64
	// countsChanged says the block being applied changed counts.
	countsChanged bool
	// writes are the block being applied's writes (nil value: a delete),
	// kept so that a retried transaction writes the same again.
	writes []write
	txn    store.Txn // the transaction the sink reads the old rows from
	bad    error     // a sink failure, reported by ApplyBlock
}

type write struct{ k, v []byte }

// Attach makes the findings service of st and adds it to st's block hooks.
func Attach(st *store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, log: log}
	st.AddBlockHook(s)
	return s
}

// load opens the watch over its entries as of the checkpoint (under
// prefixState, read in each block's transaction). A mirror with blocks
// and no state (none can be written without the other) is fed from block
// 0, without writing.
func (s *Service) load(ctx context.Context, txn store.Txn) error {
	height, err := txn.Height()
	if err != nil {
		return err
	}
	s.txn = txn
	discard := func(watch.Finding) error { return nil }
	found, err := txn.Get([]byte(prefixState+"now"), func([]byte) error { return nil })
	if err != nil {
		return err
	}
	if s.w, err = watch.Open(watch.DefaultRules(), discard, entries{s}); err != nil {
		return err
	}
	if !found && height > 0 {
		if err := feed(ctx, txn, s.w, 0, height-1); err != nil {
			return err
		}
	}
	s.counts = map[string]int64{}
	if _, err := txn.GetJSON(keyCounts, &s.counts); err != nil {
		return err
	}
	s.w = s.w.WithSink(s.sink)
	s.next, s.loaded = height, true
	return nil
}

// entries are the watch's entries in the mirror, read in the transaction
// of the block being applied: as of the block before it, since the block's
// own writes are set after the watch has taken it (setAll).
type entries struct{ s *Service }

func (e entries) Get(key string, fn func([]byte) error) (bool, error) {
	return e.s.txn.Get([]byte(prefixState+key), fn)
}

func (e entries) Scan(prefix, from string, fn func(string, []byte) (bool, error)) error {
	return e.s.txn.ScanFrom([]byte(prefixState+prefix), []byte(prefixState+from), func(key, val []byte) (bool, error) {
		return fn(strings.TrimPrefix(string(key), prefixState), val)
	})
}

// feed adds the events of blocks first..last to w, ending each block that
// has any (a block without events moves no clock).
func feed(ctx context.Context, txn store.Txn, w *watch.Watch, first, last uint64) error {
	var block uint64
	var latest time.Time
	started := false
	err := txn.Events(ctx, first, last, func(e store.Event) error {
		if started && e.Block != block {
			if err := w.EndBlock(block, latest); err != nil {
				return err
			}
			latest = time.Time{}
		}
		block, started = e.Block, true
		if e.Time.After(latest) {
			latest = e.Time
		}
		return w.Add(watch.Input{TxID: e.TxID, Block: e.Block, Time: e.Time, Event: e.Event})
	})
	if err != nil || !started {
		return err
	}
	return w.EndBlock(block, latest)
}

// ApplyBlock is the store's block hook: the watch takes block number's
// believed events, and the findings it opens or closes are written.
func (s *Service) ApplyBlock(txn store.Txn, number uint64, evs []store.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		if err := s.load(context.Background(), txn); err != nil {
			return fmt.Errorf("findings state: %w", err)
		}
	}
	if number+1 == s.next {
		return s.setAll(txn)
	}
	if number != s.next {
		return fmt.Errorf("findings state holds blocks below %d, block %d applied", s.next, number)
	}
	s.next = number + 1 // Forget undoes it if the transaction fails
	s.writes, s.txn, s.bad, s.countsChanged = s.writes[:0], txn, nil, false
	var latest time.Time
	for _, e := range evs {
		if e.Time.After(latest) {
			latest = e.Time
		}
		if err := s.w.Add(watch.Input{TxID: e.TxID, Block: e.Block, Time: e.Time, Event: e.Event}); err != nil {
			return err
		}
	}
	if err := s.w.EndBlock(number, latest); err != nil {
		return err
	}
	if s.bad != nil {
		return s.bad
	}
	if s.countsChanged {
		raw, err := json.Marshal(s.counts)
		if err != nil {
			return err
		}
		s.writes = append(s.writes, write{keyCounts, raw})
	}
	// What the block changed in the watch's state, with the block.
	if err := s.w.Flush(func(k string, v []byte) error {
		s.writes = append(s.writes, write{[]byte(prefixState + k), v})
		return nil
	}, func(k string) error {
		s.writes = append(s.writes, write{[]byte(prefixState + k), nil})
		return nil
	}); err != nil {
		return err
	}
	return s.setAll(txn)
}

// sink writes one finding's new state: its row, its place in the order of
// changes, and the open counts.
func (s *Service) sink(f watch.Finding) error {
	if s.bad != nil {
		return s.bad
	}
	var old watch.Finding
	found, err := s.get(f.ID, &old)
	if err != nil {
		s.bad = err
		return err
	}
	if found {
		s.writes = append(s.writes, write{k: changedKey(old.ChangedAtBlock, old.ID)})
		if old.State == watch.StateOpen {
			s.counts[countKey(old)]--
		}
	}
	if f.State == watch.StateOpen {
		s.counts[countKey(f)]++
	}
	if found && old.State == watch.StateOpen || f.State == watch.StateOpen {
		s.countsChanged = true
		for _, k := range []string{countKey(old), countKey(f)} {
			if s.counts[k] == 0 {
				delete(s.counts, k)
			}
		}
	}
	raw, err := json.Marshal(f)
	if err != nil {
		s.bad = err
		return err
	}
	s.writes = append(s.writes, write{findingKey(f.ID), raw}, write{changedKey(f.ChangedAtBlock, f.ID), []byte{}})
	return nil
}

// get reads finding id as this block's writes so far leave it.
func (s *Service) get(id string, f *watch.Finding) (bool, error) {
	k := findingKey(id)
	for i := len(s.writes) - 1; i >= 0; i-- {
		if bytes.Equal(s.writes[i].k, k) {
			return true, json.Unmarshal(s.writes[i].v, f)
		}
	}
	return s.txn.GetJSON(k, f)
}

func countKey(f watch.Finding) string { return string(f.Kind) + "/" + f.Department }

func (s *Service) setAll(txn store.Txn) error {
	// A key written more than once in the block (a finding changed by
	// several of its transactions) is written once, as it was last.
	last := make(map[string]int, len(s.writes))
	for i, w := range s.writes {
		last[string(w.k)] = i
	}
	for i, w := range s.writes {
		if last[string(w.k)] != i {
			continue
		}
		var err error
		if w.v == nil {
			err = txn.Delete(w.k)
		} else {
			err = txn.Set(w.k, w.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Forget drops the in-memory watch: the transaction that fed it failed.
func (s *Service) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w, s.loaded, s.writes = nil, false, nil
}

// Reset drops it too: the mirror is gone.
func (s *Service) Reset() { s.Forget() }

// Filter selects findings; zero fields select all.
type Filter struct {
	Department  string
	Kind        watch.Kind
	State       watch.State
	Period      string // YYYY-MM: opened in that month
	ChangedFrom uint64 // changed at or after this block
}

// ParseFilter reads a filter from query parameters, refusing bad values.
func ParseFilter(get func(string) string) (Filter, error) {
	f := Filter{Department: get("department"), Kind: watch.Kind(get("kind")), State: watch.State(get("state")), Period: get("period")}
	if f.Kind != "" && !f.Kind.Valid() {
		names := make([]string, len(watch.Kinds))
		for i, k := range watch.Kinds {
			names[i] = string(k)
		}
		return f, domain.Errorf(domain.CodeInvalid, "kind %q is not one of %s", f.Kind, strings.Join(names, ", ")).WithDetail("field", "kind")
	}
	if f.State != "" && f.State != watch.StateOpen && f.State != watch.StateClosed {
		return f, domain.Errorf(domain.CodeInvalid, "state %q must be open or closed", f.State).WithDetail("field", "state")
	}
	if f.Period != "" {
		if _, _, err := domain.PeriodBounds(f.Period); err != nil {
			return f, err
		}
	}
	if v := get("changedFrom"); v != "" {
		var n uint64
		if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
			return f, domain.Errorf(domain.CodeInvalid, "changedFrom %q must be a block number", v).WithDetail("field", "changedFrom")
		}
		f.ChangedFrom = n
	}
	return f, nil
}

func (f Filter) match(x *watch.Finding) bool {
	return (f.Department == "" || x.Department == f.Department) && (f.Kind == "" || x.Kind == f.Kind) &&
		(f.State == "" || x.State == f.State) && (f.Period == "" || x.Period == f.Period)
}

// List is a page of the findings f selects, in the order (changedAtBlock,
// id), after cursor (the nextCursor of the previous page).
func (s *Service) List(ctx context.Context, f Filter, limit int, cursor string) ([]watch.Finding, string, error) {
	from := changedKey(f.ChangedFrom, "")
	if cursor != "" {
		raw, err := hex.DecodeString(cursor)
		if err != nil || !bytes.HasPrefix(raw, []byte(prefixChanged)) {
			return nil, "", domain.Errorf(domain.CodeInvalid, "cursor is not one this list gave").WithDetail("field", "cursor")
		}
		from = append(raw, 0) // the key after it
	}
	var items []watch.Finding
	next := ""
	err := s.st.View(ctx, func(txn store.Txn) error {
		n := 0
		return txn.ScanFrom([]byte(prefixChanged), from, func(key, _ []byte) (bool, error) {
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return false, ctx.Err()
			}
			id := string(key[len(prefixChanged)+8:])
			var x watch.Finding
			found, err := txn.GetJSON(findingKey(id), &x)
			if err != nil {
				return false, err
			}
			if !found {
				return false, fmt.Errorf("finding %s is in the order of changes but has no row", id)
			}
			if !f.match(&x) {
				return true, nil
			}
			if len(items) == limit {
				next = hex.EncodeToString(changedKey(items[len(items)-1].ChangedAtBlock, items[len(items)-1].ID))
				return false, nil
			}
			items = append(items, x)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// OpenCount is the open findings of one kind and department.
type OpenCount struct {
	Kind       watch.Kind `json:"kind"`
	Department string     `json:"department"`
	Open       int64      `json:"open"`
}

// OpenCounts are the open findings by kind and department, sorted.
func (s *Service) OpenCounts(ctx context.Context) ([]OpenCount, error) {
	counts := map[string]int64{}
	if err := s.st.View(ctx, func(txn store.Txn) error {
		_, err := txn.GetJSON(keyCounts, &counts)
		return err
	}); err != nil {
		return nil, err
	}
	out := []OpenCount{}
	for k, n := range counts {
		kind, dept, ok := strings.Cut(k, "/")
		if !ok {
			return nil, errors.New("findings counts: a key without its department")
		}
		out = append(out, OpenCount{Kind: watch.Kind(kind), Department: dept, Open: n})
	}
	slices.SortFunc(out, func(a, b OpenCount) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Department, b.Department)
	})
	return out, nil
}
