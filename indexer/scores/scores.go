// Package scores is the service above the store that answers the
// contribution scores of a period from the mirror: it keeps, as the
// store's block hook, the score aggregates of the live periods in each
// block's own Badger transaction (state.go), and caches a builder and the
// last document of each period asked for. The model itself is package
// score; the mirror, package store, hands it the believed events in
// ledger order (store.Txn.Events) and knows nothing of scores.
package scores

import (
	"context"
	"log/slog"
	"sync"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

// Service answers scores from one store. Attach makes it.
type Service struct {
	st  *store.Store
	log *slog.Logger
	// mu guards live, the builders of the live periods that applying the
	// blocks feeds (ApplyBlock, under the store's writer lock) and a query
	// at the head reads.
	mu    sync.Mutex
	live  liveScores
	cache scoreCache
}

// Attach makes the scores service of st and sets it as st's block hook, so
// that every block applied from now on stores the score aggregates with it.
// Every process that applies blocks to a mirror attaches one first.
// log, when nil, is slog's default.
func Attach(st *store.Store, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, log: log}
	st.AddBlockHook(s)
	return s
}

// maxScoreBuilders bounds the periods (per scoring model) whose builders
// the store keeps open; the least recently asked is dropped first.
const maxScoreBuilders = 8

// scoreCache keeps, for each scoring model and period asked for, a score
// builder fed every event up to some block, and the last document made
// from it. A query as of a later block feeds only the events since, so
// that on a busy ledger a score costs the blocks since the last query
// rather than a pass over the whole event log; a query as of the same block
// costs nothing. Since package score keeps only aggregates, the document
// is the one a fresh pass would give, byte for byte.
type scoreCache struct {
	mu      sync.Mutex
	entries map[string]*scoreEntry
	tick    uint64
}

type scoreEntry struct {
	mu      sync.Mutex
	b       *score.Builder // nil until a query below the head
	next    uint64         // the builder holds every event of the blocks below next
	doc     *domain.Scores
	docAsOf uint64
	used    uint64 // the cache's tick when last asked
}

// entry returns the cache entry of model m and period, made if needed.
func (c *scoreCache) entry(m *score.Model, period string) (*scoreEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := m.Digest() + "\x00" + period
	c.tick++
	if e, ok := c.entries[key]; ok {
		e.used = c.tick
		return e, nil
	}
	if _, _, err := domain.PeriodBounds(period); err != nil {
		return nil, err
	}
	if c.entries == nil {
		c.entries = map[string]*scoreEntry{}
	}
	if len(c.entries) >= maxScoreBuilders {
		oldest := ""
		for k, e := range c.entries {
			if oldest == "" || e.used < c.entries[oldest].used {
				oldest = k
			}
		}
		delete(c.entries, oldest)
	}
	e := &scoreEntry{used: c.tick}
	c.entries[key] = e
	return e, nil
}

// reset forgets every builder: the mirror they were fed from is gone.
func (c *scoreCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}

// Scores computes the score document of period as of block asOfBlock, which
// must have been applied. At the head it is the live period's builder that
// applying the blocks keeps (no read at all); at an earlier block, the
// nearest stored point at or below it plus the blocks since (state.go),
// or the period's cached builder when that is nearer. A period the points
// cannot answer is computed by the reference pass from block 0
// (ScoresFromGenesis). The events are read in one read transaction, so that
// blocks applied meanwhile cannot change what it reads. The document's items
// are shared with the cache: callers must not change them.
func (s *Service) Scores(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	e, err := s.cache.entry(m, period)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.doc != nil && e.docAsOf == asOfBlock {
		doc := *e.doc
		return &doc, nil
	}
	var (
		doc    domain.Scores
		found  bool
		afresh bool
	)
	err = s.st.View(ctx, func(txn store.Txn) error {
		if err := txn.CheckAsOf(asOfBlock); err != nil {
			return err
		}
		var err error
		if doc, found, err = s.liveDoc(m, period, asOfBlock); err != nil || found {
			return err
		}
		// The cached builder, when no stored point is nearer.
		at, kind, found, err := scorePointHead(txn, period, asOfBlock)
		if err != nil {
			return err
		}
		if e.b != nil && e.next <= asOfBlock+1 && kind != pointFinal && (!found || e.next > at) {
			if e.next <= asOfBlock {
				if err := feedScores(ctx, txn, e.b, e.next, asOfBlock); err != nil {
					e.b, e.next = nil, 0 // it may hold part of the blocks
					return err
				}
			}
			e.next = asOfBlock + 1
			doc, err = e.b.SnapshotWith(m, asOfBlock)
			return err
		}
		b, next, err := builderAt(ctx, txn, m, period, asOfBlock)
		if err != nil || b == nil {
			afresh = b == nil
			return err
		}
		e.b, e.next = b, next
		doc, err = b.SnapshotWith(m, asOfBlock)
		return err
	})
	if err != nil {
		return nil, err
	}
	if afresh {
		d, err := s.ScoresFromGenesis(ctx, m, period, asOfBlock)
		if err != nil {
			return nil, err
		}
		doc = *d
	}
	if doc.Items == nil {
		doc.Items = []domain.ScoreItem{}
	}
	e.doc, e.docAsOf = &doc, asOfBlock
	out := doc
	return &out, nil
}

// ScoresFromGenesis is the reference: the document computed by one pass
// over the event log from block 0, with a builder of its own. Scores gives
// the same bytes (the store's tests hold it to that); it is what answers
// when no stored point can.
func (s *Service) ScoresFromGenesis(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	return s.scoresAfresh(ctx, m, period, asOfBlock)
}

// scoresAfresh computes a document from block 0 with a builder of its own.
func (s *Service) scoresAfresh(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	b, err := score.NewBuilder(m, period, asOfBlock)
	if err != nil {
		return nil, err
	}
	err = s.st.View(ctx, func(txn store.Txn) error {
		if err := txn.CheckAsOf(asOfBlock); err != nil {
			return err
		}
		return feedScores(ctx, txn, b, 0, asOfBlock)
	})
	if err != nil {
		return nil, err
	}
	doc := b.Scores()
	if doc.Items == nil {
		doc.Items = []domain.ScoreItem{}
	}
	return &doc, nil
}

// feedScores adds to b every event of blocks first to last, in ledger order:
// the events the mirror believed (their entity is the one written), not the
// changes it applied from an anomalous transaction's write set.
func feedScores(ctx context.Context, txn store.Txn, b *score.Builder, first, last uint64) error {
	return txn.Events(ctx, first, last, func(e store.Event) error { return b.Add(score.Input(e)) })
}
