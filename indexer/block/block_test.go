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
	tests := []struct {
		name   string
		tx     blocktest.Tx
		mutate func(*common.Block)
		want   string
	}{
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

// A VALID transaction whose event this build cannot read is decoded, the
// reason kept: the mirror takes its state from the write set and records
// the event as an anomaly, rather than stopping.
func TestDecodeKeepsUnreadableEvents(t *testing.T) {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	ev := blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), dataset("ds1", "Dept1MSP"))
	future := *ev
	future.Version = domain.EventVersion + 1
	writes := blocktest.ContractWrites(ev)
	tests := []struct {
		name string
		tx   blocktest.Tx
		want string
	}{
		{"undecodable event", blocktest.Tx{Signer: op, RawEvent: []byte("{"), EventName: "dataset.registered", Writes: writes}, "decode event"},
		{"a newer event version", blocktest.Tx{Signer: op, Event: &future}, "not supported"},
		{"event name differs from its type", blocktest.Tx{Signer: op, Event: ev, EventName: "dataset.retired"}, "differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := blocktest.NewChain("datashare")
			chain.Genesis(op)
			b, err := dec.Decode(chain.Block(tt.tx))
			if err != nil {
				t.Fatal(err)
			}
			tx := b.Txs[0]
			if tx.Event != nil || !strings.Contains(tx.EventErr, tt.want) || !tx.Applied || len(tx.EventPayload) == 0 {
				t.Fatalf("tx = event %v, err %q, applied %v, payload %d bytes; want no event, an error containing %q", tx.Event, tx.EventErr, tx.Applied, len(tx.EventPayload), tt.want)
			}
			if len(tx.Writes) != len(writes) {
				t.Fatalf("writes %+v, want %d", tx.Writes, len(writes))
			}
		})
	}
}

// The write set of the ledger's namespace is read whichever chaincode the
// transaction invoked; other namespaces, and an unreadable set, are not.
func TestDecodeWrites(t *testing.T) {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	ev := blocktest.DatasetEvent(domain.EventDatasetRegistered, op.Actor(domain.RoleOperator), dataset("ds1", "Dept1MSP"))
	entity := blocktest.EntityWrite(domain.KindDataset, "ds1", ev.Dataset)
	key := entity.Key
	tests := []struct {
		name        string
		tx          blocktest.Tx
		writes      []block.Write
		applied     bool
		writesError bool
	}{
		{"the contract's writes", blocktest.Tx{Signer: op, Event: ev}, nil, true, false},
		{"a given write set and a delete", blocktest.Tx{Signer: op, Event: ev, Writes: []blocktest.Write{entity, {Key: "\x00party\x00Dept1MSP\x00", Delete: true}}},
			[]block.Write{{Key: key, Value: entity.Value}, {Key: "\x00party\x00Dept1MSP\x00", Delete: true}}, true, false},
		{"writes without an event", blocktest.Tx{Signer: op, NoEvent: true, Writes: []blocktest.Write{entity}}, []block.Write{{Key: key, Value: entity.Value}}, true, false},
		{"another chaincode writing the ledger's namespace", blocktest.Tx{Signer: op, Chaincode: "other", Namespace: "ledger", Writes: []blocktest.Write{entity}},
			[]block.Write{{Key: key, Value: entity.Value}}, true, false},
		{"another namespace", blocktest.Tx{Signer: op, Chaincode: "other", Event: ev}, []block.Write{}, false, false},
		{"no writes, no event", blocktest.Tx{Signer: op, NoEvent: true}, []block.Write{}, false, false},
		{"an unreadable read-write set", blocktest.Tx{Signer: op, Event: ev, RawResults: []byte("rwset")}, []block.Write{}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := blocktest.NewChain("datashare")
			chain.Genesis(op)
			b, err := dec.Decode(chain.Block(tt.tx))
			if err != nil {
				t.Fatal(err)
			}
			tx := b.Txs[0]
			if tx.Applied != tt.applied || (tx.WritesErr != "") != tt.writesError {
				t.Fatalf("applied %v, writes error %q", tx.Applied, tx.WritesErr)
			}
			want := tt.writes
			if want == nil {
				for _, w := range blocktest.ContractWrites(ev) {
					want = append(want, block.Write{Key: w.Key, Value: w.Value})
				}
			}
			if len(tx.Writes) != len(want) {
				t.Fatalf("writes %+v, want %+v", tx.Writes, want)
			}
			for i, w := range want {
				g := tx.Writes[i]
				if g.Key != w.Key || g.Delete != w.Delete || !bytes.Equal(g.Value, w.Value) {
					t.Fatalf("write %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
