package block_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
)

var dec = block.Decoder{Chaincode: "ledger"}

func dataset(id, owner string) domain.Dataset {
	return domain.Dataset{ID: id, Owner: owner, Title: "Residents", Fields: []string{"name"},
		UpdateFrequency: "daily", ShareType: domain.ShareConditional, OpenType: domain.OpenRestricted,
		Grade: 2, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
}

func TestDecodeGenesis(t *testing.T) {
	for _, noFilter := range []bool{false, true} {
		t.Run(map[bool]string{false: "with filter", true: "configtxgen without filter"}[noFilter], func(t *testing.T) {
			admin := blocktest.NewIdentity("OrdererMSP", "admin")
			chain := blocktest.NewChain("datashare")
			chain.NoGenesisFilter = noFilter
			b, err := dec.Decode(chain.Genesis(admin))
			if err != nil {
				t.Fatal(err)
			}
			if b.Number != 0 || !b.Config || b.ChannelID != "datashare" || len(b.Txs) != 1 {
				t.Fatalf("genesis decoded as %+v", b)
			}
			tx := b.Txs[0]
			if tx.Type != "CONFIG" || !tx.Valid() || tx.Validation != "VALID" || tx.Applied || tx.Event != nil {
				t.Fatalf("config tx decoded as %+v", tx)
			}
			if tx.Creator.MSPID != "OrdererMSP" || tx.Creator.Subject != admin.Subject {
				t.Fatalf("creator = %+v, want OrdererMSP %q", tx.Creator, admin.Subject)
			}
		})
	}
}

func TestDecodeTransactions(t *testing.T) {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	chain := blocktest.NewChain("datashare")
	genesis, err := dec.Decode(chain.Genesis(op))
	if err != nil {
		t.Fatal(err)
	}
	ev := blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), dataset("ds1", "Dept1MSP"))
	future := *ev
	future.Version = domain.EventVersion + 1
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	raw := chain.Block(
		blocktest.Tx{ID: "valid", Signer: op, Event: ev, Time: at},
		blocktest.Tx{ID: "conflict", Signer: op, Event: ev, Code: peer.TxValidationCode_MVCC_READ_CONFLICT},
		blocktest.Tx{ID: "other-cc", Signer: op, Event: ev, Chaincode: "_lifecycle"},
		blocktest.Tx{ID: "no-event", Signer: op, NoEvent: true},
		blocktest.Tx{ID: "invalid-garbage", Signer: op, RawEvent: []byte("{not json"), EventName: "x", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		blocktest.Tx{ID: "invalid-future", Signer: op, Event: &future, Code: peer.TxValidationCode_MVCC_READ_CONFLICT},
	)
	b, err := dec.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != 1 || b.Config || !bytes.Equal(b.PreviousHash, genesis.Hash) {
		t.Fatalf("block 1 = number %d config %v prev %x, want prev %x", b.Number, b.Config, b.PreviousHash, genesis.Hash)
	}
	want, _ := block.HeaderHash(raw.Header)
	if !bytes.Equal(b.Hash, want) || !bytes.Equal(b.DataHash, raw.Header.DataHash) {
		t.Fatalf("hashes not taken from the header")
	}
	tests := []struct {
		id         string
		validation string
		chaincode  string
		applied    bool
		hasEvent   bool
	}{
		{"valid", "VALID", "ledger", true, true},
		{"conflict", "MVCC_READ_CONFLICT", "ledger", false, true},
		{"other-cc", "VALID", "_lifecycle", false, false},
		{"no-event", "VALID", "ledger", false, false},
		{"invalid-garbage", "ENDORSEMENT_POLICY_FAILURE", "ledger", false, false},
		{"invalid-future", "MVCC_READ_CONFLICT", "ledger", false, false},
	}
	if len(b.Txs) != len(tests) {
		t.Fatalf("got %d txs, want %d", len(b.Txs), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tx := b.Txs[i]
			if tx.Index != i || tx.ID != tt.id || tx.Type != "ENDORSER_TRANSACTION" {
				t.Fatalf("tx = index %d id %q type %q", tx.Index, tx.ID, tx.Type)
			}
			if tx.Validation != tt.validation || tx.Chaincode != tt.chaincode || tx.Applied != tt.applied || (tx.Event != nil) != tt.hasEvent {
				t.Fatalf("tx = validation %s chaincode %q applied %v event %v", tx.Validation, tx.Chaincode, tx.Applied, tx.Event != nil)
			}
			if tx.Creator.MSPID != "Dept1MSP" || !strings.Contains(tx.Creator.Subject, "CN=op1") {
				t.Fatalf("creator = %+v", tx.Creator)
			}
		})
	}
	got := b.Txs[0]
	if !got.Timestamp.Equal(at) || got.Event.ID != "ds1" || got.Event.Dataset.Owner != "Dept1MSP" || !got.Event.Time.Equal(at) {
		t.Fatalf("valid tx = %+v, event %+v", got, got.Event)
	}
	if got.EventName != string(domain.EventDatasetRegistered) || len(got.EventPayload) == 0 {
		t.Fatalf("event name %q payload %d bytes", got.EventName, len(got.EventPayload))
	}
	// The first tx is stamped later than the others: block time is the latest.
	if !b.Time.Equal(at) {
		t.Fatalf("block time %v is not the latest tx time %v", b.Time, at)
	}
}

func TestDecodeRejects(t *testing.T) {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	ev := blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), dataset("ds1", "Dept1MSP"))
	future := *ev
	future.Version = domain.EventVersion + 1
	tests := []struct {
		name   string
		tx     blocktest.Tx
		mutate func(*common.Block)
		want   string
	}{
		{"valid tx with undecodable event", blocktest.Tx{Signer: op, RawEvent: []byte("{"), EventName: "dataset.registered"}, nil, "decode event"},
		{"valid tx with a newer event version", blocktest.Tx{Signer: op, Event: &future}, nil, "not supported"},
		{"event name differs from its type", blocktest.Tx{Signer: op, Event: ev, EventName: "dataset.retired"}, nil, "differs"},
		{"data altered after cutting", blocktest.Tx{Signer: op, Event: ev}, func(b *common.Block) { b.Data.Data[0] = append(b.Data.Data[0], 0) }, "data hash"},
		{"endorser tx without validation code", blocktest.Tx{Signer: op, Event: ev}, func(b *common.Block) {
			b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = nil
		}, "no validation code"},
		{"garbage envelope", blocktest.Tx{Signer: op, Event: ev}, func(b *common.Block) {
			b.Data.Data[0] = []byte{0xff, 0xff}
			b.Header.DataHash = block.DataHash(b.Data)
		}, "envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := blocktest.NewChain("datashare")
			chain.Genesis(op)
			raw := chain.Block(tt.tx)
			if tt.mutate != nil {
				tt.mutate(raw)
			}
			_, err := dec.Decode(raw)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := dec.Decode(&common.Block{}); err == nil {
		t.Fatal("Decode of a block without header succeeded")
	}
}
