package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/score"
)

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
// nearest stored point at or below it plus the blocks since (scorestate.go),
// or the period's cached builder when that is nearer. A period the points
// cannot answer is computed by the reference pass from block 0
// (ScoresFromGenesis). The events are read in one read transaction, so that
// blocks applied meanwhile cannot change what it reads. The document's items
// are shared with the cache: callers must not change them.
func (s *Store) Scores(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	e, err := s.scores.entry(m, period)
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
	err = s.view(ctx, func(txn *badger.Txn) error {
		if err := checkAsOf(txn, asOfBlock); err != nil {
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
func (s *Store) ScoresFromGenesis(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	return s.scoresAfresh(ctx, m, period, asOfBlock)
}

// scoresAfresh computes a document from block 0 with a builder of its own.
func (s *Store) scoresAfresh(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	b, err := score.NewBuilder(m, period, asOfBlock)
	if err != nil {
		return nil, err
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
		if err := checkAsOf(txn, asOfBlock); err != nil {
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

// checkAsOf refuses a block the mirror has not applied.
func checkAsOf(txn *badger.Txn, asOfBlock uint64) error {
	cp, err := readCheckpoint(txn)
	if err != nil {
		return err
	}
	if cp.Next == 0 {
		return domain.Errorf(domain.CodeUnavailable, "the index holds no block yet")
	}
	if asOfBlock >= cp.Next {
		return domain.Errorf(domain.CodeInvalid, "asOfBlock %d has not been indexed: the last indexed block is %d", asOfBlock, cp.Next-1).
			WithDetail("lastBlock", fmt.Sprint(cp.Next-1))
	}
	return nil
}

// feedScores adds to b every event of blocks first to last, in ledger order:
// the events the mirror believed (their entity is the one written), not the
// changes it applied from an anomalous transaction's write set.
func feedScores(ctx context.Context, txn *badger.Txn, b *score.Builder, first, last uint64) error {
	return eachScoreInput(ctx, txn, first, last, b.Add)
}

// eachScoreInput hands fn every believed event of blocks first to last.
func eachScoreInput(ctx context.Context, txn *badger.Txn, first, last uint64, fn func(score.Input) error) error {
	return eachEventValue(ctx, txn, first, last, func(v []byte) error {
		// One pass over the record, the event decoded in place rather
		// than kept raw and decoded again: this loop is the whole cost.
		var rec struct {
			TxID          string       `json:"txId"`
			BlockNumber   uint64       `json:"blockNumber"`
			Timestamp     time.Time    `json:"timestamp"`
			PayloadSHA256 string       `json:"payloadSha256"`
			Event         domain.Event `json:"event"`
			Anomaly       string       `json:"anomaly"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode event record: %w", err)
		}
		if rec.Anomaly != "" {
			return nil // a change whose event the mirror does not believe scores nothing
		}
		if rec.Event.Version < 1 || rec.Event.Version > domain.EventVersion {
			return fmt.Errorf("event of tx %s has version %d; this build reads up to %d", rec.TxID, rec.Event.Version, domain.EventVersion)
		}
		return fn(score.Input{TxID: rec.TxID, Block: rec.BlockNumber, Time: rec.Timestamp, PayloadSHA256: rec.PayloadSHA256, Event: &rec.Event})
	})
}

// eachEventValue hands fn the stored record of every event of blocks first
// to last, in ledger order.
func eachEventValue(ctx context.Context, txn *badger.Txn, first, last uint64, fn func([]byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefixEvent)
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Seek(eventKey(pos{Block: first})); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key := it.Item().Key()
		p, err := parsePos(key[len(prefixEvent):])
		if err != nil {
			return err
		}
		if p.Block > last {
			return nil
		}
		if err := it.Item().Value(fn); err != nil {
			return fmt.Errorf("event %d/%d: %w", p.Block, p.Tx, err)
		}
	}
	return nil
}
