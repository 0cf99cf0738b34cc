package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
)

// Anomalies lists the anomalies in ledger order: the VALID transactions
// whose event the mirror did not believe, or whose writes it could not
// take (package writeset).
func (s *Store) Anomalies(ctx context.Context, p Page) ([]Anomaly, string, error) {
	var items []Anomaly
	next, err := s.list(ctx, []byte(prefixAnom), p, func(_ *badger.Txn, _ []byte, item *badger.Item) (bool, error) {
		var a Anomaly
		if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &a) }); err != nil {
			return false, fmt.Errorf("decode anomaly: %w", err)
		}
		items = append(items, a)
		return true, nil
	})
	if len(items) > p.limit() {
		items = items[:p.limit()]
	}
	return items, next, err
}

// AnomalyAt returns the anomaly of the transaction at position txIndex of
// block n: not_found when that transaction has none.
func (s *Store) AnomalyAt(ctx context.Context, n uint64, txIndex int) (*Anomaly, error) {
	return readAt[Anomaly](ctx, s, anomalyKey(pos{Block: n, Tx: uint32(txIndex)}),
		domain.Errorf(domain.CodeNotFound, "no anomaly at block %d position %d", n, txIndex))
}
