package scores

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

// The score inputs of each period are kept in the mirror as blocks are
// applied, in the block's own Badger transaction (the store calls the
// Service as its block hook, store.BlockHook): the score builder of
// every live period is fed the block's events, and its state
// (score.Builder.MarshalBinary) is stored as a point
//
//	score/<period>⊥<block:8>   <kind:1><state>: the builder of period after every event of blocks 0..block
//	scorelate/<period>         <block:8>: the first block holding an event of period, or earlier, that came
//	                             after period was closed (see below)
//	meta/scores                {"live":[periods],"closed":period}
//
// every scorePointEvery blocks and whenever the live set changes. A score
// as of block b then costs the nearest point at or below b plus the events
// of fewer than scorePointEvery blocks, whatever the ledger's length: what
// a point holds is the catalog, the profiles, the waiting requests and the
// period's own aggregates.
//
// A period is live from its first event until an event a day past its end
// (scoreGrace): transaction times are the clients' (within the contract's
// skew), so the first blocks of a month may still hold the last minutes of
// the previous one. A new period starts from the history of the live one
// below it (score.Builder.ForPeriod). Closing a period writes its final
// point, which answers for every later block; an event of a closed period
// (or an earlier one) arriving later would change it, so the first such
// block is kept in scorelate/ and the period's scores as of that block or
// later are computed by the slow pass from block 0, as are those of a
// period with no point at or below the block asked (a period before the
// ledger's first event, or one no event has reached yet).
const (
	prefixScore     = "score/"
	prefixScoreLate = "scorelate/"
	scorePointEvery = 32
	scoreGrace      = 24 * time.Hour
)

// keyScoreMeta is under the store's meta/ prefix, which the store reserves
// this key of (store's aggregatePrefixes, with score/ and scorelate/).
var keyScoreMeta = []byte("meta/scores")

const (
	pointRegular byte = 'r'
	pointFinal   byte = 'f'
)

func scorePrefix(period string) []byte { return store.AppendKeyString([]byte(prefixScore), period) }

func scorePointKey(period string, block uint64) []byte {
	return appendUint64(scorePrefix(period), block)
}

func scoreLateKey(period string) []byte { return append([]byte(prefixScoreLate), period...) }

func appendUint64(dst []byte, v uint64) []byte {
	return append(dst, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

type scoreMeta struct {
	Live   []string `json:"live"`
	Closed string   `json:"closed,omitempty"`
}

// liveScores is the in-memory side: the builders of the live periods, fed
// every event of the blocks below next. The follower is the only writer;
// queries at the head read it under mu.
type liveScores struct {
	loaded bool
	next   uint64
	live   []*score.Builder // in period order
	closed string
	// writes are what the block being applied must store: kept so that
	// a retried Badger transaction writes them again without feeding the
	// builders twice.
	writes []kv
}

type kv struct{ k, v []byte }

// liveModel builds the live periods' builders: Add reads no model, and
// a query computes with its own (SnapshotWith).
var liveModel = score.Default()

// loadLive reads the live periods' latest points and brings them up to the
// checkpoint from the event log: fewer than scorePointEvery blocks.
func (s *Service) loadLive(ctx context.Context, txn store.Txn) error {
	ls := &s.live
	*ls = liveScores{}
	height, err := txn.Height()
	if err != nil {
		return err
	}
	var meta scoreMeta
	if _, err := txn.GetJSON(keyScoreMeta, &meta); err != nil {
		return err
	}
	ls.closed = meta.Closed
	from := uint64(0)
	for _, p := range meta.Live {
		at, kind, raw, err := scorePoint(txn, p, math.MaxUint64)
		if err != nil {
			return err
		}
		if raw == nil || kind != pointRegular {
			return fmt.Errorf("live period %s has no point", p)
		}
		b, err := score.LoadBuilder(liveModel, raw, math.MaxUint64)
		if err != nil {
			return err
		}
		ls.live = append(ls.live, b)
		from = at + 1
	}
	if len(ls.live) > 0 && height > from {
		err := txn.Events(ctx, from, height-1, func(e store.Event) error {
			for _, b := range ls.live {
				if err := b.Add(score.Input(e)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	ls.next, ls.loaded = height, true
	return nil
}

// ApplyBlock is the store's block hook (store.BlockHook): it brings the
// live periods through block number, whose believed events are evs in
// ledger order, and writes what the block must store. It runs inside the
// block's Badger transaction; a transaction retried after a conflict finds
// the block fed and writes the same again.
func (s *Service) ApplyBlock(txn store.Txn, number uint64, evs []store.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := &s.live
	if !ls.loaded {
		if err := s.loadLive(context.Background(), txn); err != nil {
			return fmt.Errorf("score state: %w", err)
		}
	}
	if number+1 == ls.next {
		return setAll(txn, ls.writes)
	}
	ins := make([]score.Input, len(evs))
	for i, e := range evs {
		ins[i] = score.Input(e)
	}
	if number != ls.next {
		return fmt.Errorf("score state holds blocks below %d, block %d applied", ls.next, number)
	}
	ls.next = number + 1 // the caller forgets the state if the transaction fails
	ls.writes = ls.writes[:0]
	changed := false
	var late []string
	for _, in := range ins {
		p := in.Time.UTC().Format("2006-01")
		if ls.closed != "" && p <= ls.closed {
			late = append(late, p)
		} else if i := ls.find(p); i < 0 {
			b, err := ls.start(p)
			if err != nil {
				return err
			}
			ls.live = append(ls.live, nil)
			copy(ls.live[-i:], ls.live[-i-1:])
			ls.live[-i-1] = b
			changed = true
		}
		for _, b := range ls.live {
			if err := b.Add(in); err != nil {
				return err
			}
		}
	}
	// Periods a day past their end, once the whole block is in.
	var last time.Time
	for _, in := range ins {
		if in.Time.After(last) {
			last = in.Time
		}
	}
	keep := ls.live[:0]
	for _, b := range ls.live {
		b.Skip(number)
		if _, end := b.Period(); !last.IsZero() && !last.Before(end.Add(scoreGrace)) {
			raw, err := b.MarshalBinary()
			if err != nil {
				return err
			}
			ls.writes = append(ls.writes, kv{scorePointKey(b.PeriodName(), number), append([]byte{pointFinal}, raw...)})
			ls.closed = max(ls.closed, b.PeriodName())
			changed = true
			continue
		}
		keep = append(keep, b)
	}
	ls.live = keep
	if changed || (number+1)%scorePointEvery == 0 {
		for _, b := range ls.live {
			raw, err := b.MarshalBinary()
			if err != nil {
				return err
			}
			ls.writes = append(ls.writes, kv{scorePointKey(b.PeriodName(), number), append([]byte{pointRegular}, raw...)})
		}
	}
	if changed {
		meta := scoreMeta{Closed: ls.closed, Live: []string{}}
		for _, b := range ls.live {
			meta.Live = append(meta.Live, b.PeriodName())
		}
		raw, err := jsonBytes(meta)
		if err != nil {
			return err
		}
		ls.writes = append(ls.writes, kv{keyScoreMeta, raw})
	}
	for _, p := range late {
		k := scoreLateKey(p)
		if found, err := txn.Get(k, func([]byte) error { return nil }); err != nil {
			return err
		} else if found {
			continue // an earlier block is already there
		}
		ls.writes = append(ls.writes, kv{k, appendUint64(nil, number)})
	}
	return setAll(txn, ls.writes)
}

func setAll(txn store.Txn, writes []kv) error {
	for _, w := range writes {
		if err := txn.Set(w.k, w.v); err != nil {
			return err
		}
	}
	return nil
}

// find is the index of period p among the live ones, or -(where it goes)-1.
func (ls *liveScores) find(p string) int {
	for i, b := range ls.live {
		switch n := b.PeriodName(); {
		case n == p:
			return i
		case n > p:
			return -i - 1
		}
	}
	return -len(ls.live) - 1
}

// start makes the builder of a period first reached: from the history of
// the live period below it, which has read every event so far (all are
// before p, or p would be live), or afresh when there is none (then no
// event so far is before p's end: every one is in a later live period).
func (ls *liveScores) start(p string) (*score.Builder, error) {
	var below *score.Builder
	for _, b := range ls.live {
		if b.PeriodName() < p {
			below = b
		}
	}
	if below == nil {
		return score.NewBuilder(liveModel, p, math.MaxUint64)
	}
	return below.ForPeriod(p, math.MaxUint64)
}

// Forget drops the in-memory state: the transaction that fed it failed
// (store.BlockHook).
func (s *Service) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = liveScores{}
}

// Reset drops the in-memory state and every cached builder: the mirror
// they were fed from is gone (store.BlockHook).
func (s *Service) Reset() {
	s.Forget()
	s.cache.reset()
}

// scorePoint reads the newest point of period at or below block: its
// block, kind and state, or a nil state when there is none.
func scorePoint(txn store.Txn, period string, block uint64) (uint64, byte, []byte, error) {
	at, key, found, err := scorePointKeyAt(txn, period, block)
	if err != nil || !found {
		return 0, 0, nil, err
	}
	var v []byte
	if _, err := txn.Get(key, func(val []byte) error { v = bytes.Clone(val); return nil }); err != nil {
		return 0, 0, nil, err
	}
	if len(v) < 1 {
		return 0, 0, nil, fmt.Errorf("score point %s/%d is empty", period, at)
	}
	return at, v[0], v[1:], nil
}

// scorePointKeyAt is the key and block of the newest point of period at or
// below block.
func scorePointKeyAt(txn store.Txn, period string, block uint64) (uint64, []byte, bool, error) {
	prefix := scorePrefix(period)
	key, found, err := txn.Last(prefix, appendUint64(bytes.Clone(prefix), block))
	if err != nil || !found {
		return 0, nil, false, err
	}
	if len(key) != len(prefix)+8 {
		return 0, nil, false, fmt.Errorf("score point key %q", key)
	}
	return beUint64(key[len(prefix):]), key, true, nil
}

// lateBy reports whether an event that a closed period up to period would
// have read arrived in block asOf or before.
func lateBy(txn store.Txn, period string, asOf uint64) (bool, error) {
	late := false
	err := txn.Scan([]byte(prefixScoreLate), func(key, v []byte) (bool, error) {
		p := string(key[len(prefixScoreLate):])
		if p > period {
			return false, nil
		}
		if len(v) != 8 {
			return false, fmt.Errorf("late mark of %s", p)
		}
		late = beUint64(v) <= asOf
		return !late, nil
	})
	return late, err
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// builderAt makes a builder of period holding every event up to block asOf
// from the stored points: the newest at or below asOf and the blocks
// since. It returns nil when the points cannot answer (no point, or a
// closed period that a late event changed); the caller then reads the
// event log from block 0.
func builderAt(ctx context.Context, txn store.Txn, m *score.Model, period string, asOf uint64) (*score.Builder, uint64, error) {
	at, kind, raw, err := scorePoint(txn, period, asOf)
	if err != nil || raw == nil {
		return nil, 0, err
	}
	b, err := score.LoadBuilder(m, raw, math.MaxUint64)
	if err != nil {
		return nil, 0, err
	}
	if kind == pointFinal {
		late, err := lateBy(txn, period, asOf)
		if err != nil || late {
			return nil, 0, err
		}
		b.Skip(asOf)
		return b, asOf + 1, nil
	}
	if at < asOf {
		if err := feedScores(ctx, txn, b, at+1, asOf); err != nil {
			return nil, 0, err
		}
	}
	return b, asOf + 1, nil
}

// liveDoc answers from the live builders when asOf is the last block they
// hold; ok is false otherwise.
func (s *Service) liveDoc(m *score.Model, period string, asOf uint64) (domain.Scores, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := &s.live
	if !ls.loaded {
		// No block applied since the start (or a failed one): read the
		// live builders back now, so that the head answers from memory.
		if err := s.st.View(context.Background(), func(txn store.Txn) error { return s.loadLive(context.Background(), txn) }); err != nil {
			s.live = liveScores{}
			s.log.Warn("score state not loaded: scores are computed from the stored points", "err", err)
			return domain.Scores{}, false, nil
		}
	}
	if ls.next != asOf+1 {
		return domain.Scores{}, false, nil
	}
	i := ls.find(period)
	if i < 0 {
		return domain.Scores{}, false, nil
	}
	doc, err := ls.live[i].SnapshotWith(m, asOf)
	return doc, err == nil, err
}

// scorePointHead is the block of the newest point of period at or below
// block, without its state; found is false when there is none.
func scorePointHead(txn store.Txn, period string, block uint64) (at uint64, kind byte, found bool, err error) {
	at, key, found, err := scorePointKeyAt(txn, period, block)
	if err != nil || !found {
		return 0, 0, false, err
	}
	_, err = txn.Get(key, func(v []byte) error {
		if len(v) > 0 {
			kind = v[0]
		}
		return nil
	})
	return at, kind, true, err
}

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }
