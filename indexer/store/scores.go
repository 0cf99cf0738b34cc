package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/score"
)

// Scores computes the score document of period as of block asOfBlock, which
// must have been applied. It streams the event log from the first block
// to asOfBlock in one read transaction, so that blocks applied meanwhile
// cannot change what it reads; package score keeps only aggregates.
func (s *Store) Scores(ctx context.Context, m *score.Model, period string, asOfBlock uint64) (*domain.Scores, error) {
	b, err := score.NewBuilder(m, period, asOfBlock)
	if err != nil {
		return nil, err
	}
	err = s.view(ctx, func(txn *badger.Txn) error {
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
		return eachEventValue(ctx, txn, asOfBlock, func(v []byte) error {
			// One pass over the record, the event decoded in place rather
			// than kept raw and decoded again: this loop is the whole cost.
			var rec struct {
				TxID          string       `json:"txId"`
				BlockNumber   uint64       `json:"blockNumber"`
				Timestamp     time.Time    `json:"timestamp"`
				PayloadSHA256 string       `json:"payloadSha256"`
				Event         domain.Event `json:"event"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode event record: %w", err)
			}
			if rec.Event.Version < 1 || rec.Event.Version > domain.EventVersion {
				return fmt.Errorf("event of tx %s has version %d; this build reads up to %d", rec.TxID, rec.Event.Version, domain.EventVersion)
			}
			return b.Add(score.Input{TxID: rec.TxID, Block: rec.BlockNumber, Time: rec.Timestamp, PayloadSHA256: rec.PayloadSHA256, Event: &rec.Event})
		})
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

// eachEventValue hands fn the stored record of every event of blocks 0 to
// last, in ledger order.
func eachEventValue(ctx context.Context, txn *badger.Txn, last uint64, fn func([]byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefixEvent)
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p, err := parsePos(it.Item().Key()[len(prefixEvent):])
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
