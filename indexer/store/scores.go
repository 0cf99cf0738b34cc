package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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
	b       *score.Builder
	next    uint64 // the builder holds every event of the blocks below next
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
	b, err := score.NewBuilder(m, period, math.MaxUint64)
	if err != nil {
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
	e := &scoreEntry{b: b, used: c.tick}
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
// must have been applied. The events are read in one read transaction, so
// that blocks applied meanwhile cannot change what it reads; package score
// keeps only aggregates. The period's cached builder answers when it has not
// gone past asOfBlock; an older asOfBlock is computed afresh from block 0.
// The document's items are shared with the cache: callers must not change
// them.
func (s *Store) Scores(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	e, err := s.scores.entry(m, period)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if asOfBlock+1 < e.next {
		return s.scoresAfresh(ctx, m, period, asOfBlock)
	}
	if e.doc != nil && e.docAsOf == asOfBlock {
		doc := *e.doc
		return &doc, nil
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
		if err := checkAsOf(txn, asOfBlock); err != nil {
			return err
		}
		return feedScores(ctx, txn, e.b, e.next, asOfBlock)
	})
	if err != nil {
		if domain.ErrorCode(err) != domain.CodeInvalid && domain.ErrorCode(err) != domain.CodeUnavailable {
			// The builder may hold part of the blocks it was being fed:
			// start the period again on the next query.
			if e.b, err = score.NewBuilder(m, period, math.MaxUint64); err != nil {
				return nil, err
			}
			e.next, e.doc = 0, nil
		}
		return nil, err
	}
	e.next = asOfBlock + 1
	doc, err := e.b.Snapshot(asOfBlock)
	if err != nil {
		return nil, err
	}
	if doc.Items == nil {
		doc.Items = []domain.ScoreItem{}
	}
	e.doc, e.docAsOf = &doc, asOfBlock
	out := doc
	return &out, nil
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
		return b.Add(score.Input{TxID: rec.TxID, Block: rec.BlockNumber, Time: rec.Timestamp, PayloadSHA256: rec.PayloadSHA256, Event: &rec.Event})
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
