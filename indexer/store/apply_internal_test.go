package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	e := &domain.Event{Version: 1, Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: "u1", Time: when, Usage: &u,
		DatasetID: "ds1", RequestID: "r1", Owner: "Dept1MSP", Requester: "Dept2MSP"}
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	value, _ := json.Marshal(u)
	key, _ := domain.EntityKey(domain.KindUsage, "u1")
	b := &block.Block{Number: 1}
	tx := block.Tx{Index: 0, ID: "t1", Timestamp: when, Event: e, Applied: true, EventPayload: payload,
		Writes: []block.Write{{Key: key, Value: value}}}
	for range 2 {
		if err := s.update(func(txn *badger.Txn) error { _, err := applyTx(txnTarget{txn}, b, tx, true); return err }); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.Metering(context.Background(), MeterQuery{Bucket: BucketDay, From: when, To: when.Add(time.Hour)})
	if err != nil || len(rows) != 1 || rows[0].Calls != 2 || rows[0].Records != 5 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
}

// A block begun in parts (applySplit) and cut short is applied again in one
// transaction: the transactions already in are skipped, so the metering
// counters count each once; and the finished block leaves no split mark.
func TestBlockBegunInPartsIsResumed(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.ApplyBlock(ctx, &block.Block{Number: 0, Hash: []byte{1}, ChannelID: "datashare"}); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	u := domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 2, Records: 5}
	e := &domain.Event{Version: 1, Type: domain.EventUsageRecorded, Kind: domain.KindUsage, ID: "u1", Time: when, Usage: &u,
		DatasetID: "ds1", RequestID: "r1", Owner: "Dept1MSP", Requester: "Dept2MSP"}
	payload, _ := json.Marshal(e)
	value, _ := json.Marshal(u)
	key, _ := domain.EntityKey(domain.KindUsage, "u1")
	tx := block.Tx{Index: 0, ID: "t1", Timestamp: when, Event: e, Applied: true, EventPayload: payload,
		Writes: []block.Write{{Key: key, Value: value}}}
	b := &block.Block{Number: 1, Hash: []byte{2}, PreviousHash: []byte{1}, Txs: []block.Tx{tx}}
	// What applySplit leaves when cut short after the first part.
	if err := s.update(func(txn *badger.Txn) error {
		if err := txn.Set(keySplit, appendPos(nil, pos{Block: 1})); err != nil {
			return err
		}
		_, err := applyTx(txnTarget{txn}, b, tx, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyBlock(ctx, b); err != nil {
		t.Fatal(err)
	}
	rows, err := s.Metering(ctx, MeterQuery{Bucket: BucketDay, From: when, To: when.Add(time.Hour)})
	if err != nil || len(rows) != 1 || rows[0].Calls != 2 {
		t.Fatalf("rows %+v, %v: want the usage counted once", rows, err)
	}
	if err := s.dbView(func(txn *badger.Txn) error {
		if _, err := txn.Get(keySplit); !errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("split mark after the block: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A mirror written with another key layout is dropped on open, so that the
// follower replays the ledger into the layout this build reads.
func TestOpenDropsAnotherSchema(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyBlock(context.Background(), &block.Block{Number: 0, Hash: []byte{1}, ChannelID: "datashare"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		schema     int
		wantHeight uint64
	}{{schemaVersion, 1}, {schemaVersion - 1, 0}} {
		s, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if s.Height() != 1 && tt.wantHeight == 1 {
			// Re-create what the previous round dropped.
			if err := s.ApplyBlock(context.Background(), &block.Block{Number: 0, Hash: []byte{1}, ChannelID: "datashare"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.update(func(txn *badger.Txn) error { return setJSON(txn, keySchema, tt.schema) }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, err = Open(dir, Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if s.Height() != tt.wantHeight {
			t.Fatalf("schema %v: height %d after reopening, want %d", tt.schema, s.Height(), tt.wantHeight)
		}
		s.Close()
	}
}
