package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
)

// A transaction applied twice, as when a block applied in parts is
// resumed after a crash, is counted once.
func TestApplyTxTwiceMetersOnce(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	when := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	u := domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 2, Records: 5}
	e := &domain.Event{Version: 1, Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: "u1", Time: when, Usage: &u}
	b := &block.Block{Number: 1}
	tx := block.Tx{Index: 0, ID: "t1", Timestamp: when, Event: e, Applied: true, EventPayload: []byte(`{}`)}
	for range 2 {
		if err := s.update(func(txn *badger.Txn) error { return applyTx(txn, b, tx) }); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Metering(context.Background(), MeterQuery{Bucket: BucketDay, From: when, To: when.Add(time.Hour)})
	if err != nil || len(rows) != 1 || rows[0].Calls != 2 || rows[0].Records != 5 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
}
