package writeset_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/writeset"
)

var dec = block.Decoder{Chaincode: "ledger"}

func dataset(id, owner, title string) domain.Dataset {
	return domain.Dataset{ID: id, Owner: owner, Title: title, Fields: []string{"a"}, UpdateFrequency: "daily",
		ShareType: domain.ShareConditional, OpenType: domain.OpenRestricted, Grade: 2, Version: 1,
		Status: domain.DatasetActive, DerivedFrom: []string{}}
}

// decodeTx builds tx into a block of a fresh chain and decodes it back.
func decodeTx(t *testing.T, tx blocktest.Tx) block.Tx {
	t.Helper()
	c := blocktest.NewChain("datashare")
	c.Genesis(tx.Signer)
	b, err := dec.Decode(c.Block(tx))
	if err != nil {
		t.Fatal(err)
	}
	return b.Txs[0]
}

func TestRead(t *testing.T) {
	op1, op2 := blocktest.NewIdentity("Dept1MSP", "op1"), blocktest.NewIdentity("Dept2MSP", "op2")
	a1 := op1.Actor(domain.RoleOperator)
	honest := dataset("ds1", "Dept1MSP", "Households")
	ev := func(d domain.Dataset) *domain.Event { return blocktest.DatasetEvent(domain.EventDatasetUpdated, a1, d) }
	write := func(d domain.Dataset) blocktest.Write { return blocktest.EntityWrite(domain.KindDataset, d.ID, d) }
	forged := honest
	forged.Title = "Households (forged)"
	other := dataset("ds2", "Dept2MSP", "Other")
	retired := honest
	retired.Status = domain.DatasetRetired
	wrongOwner := *ev(honest)
	wrongOwner.Owner = "Dept2MSP"
	wrongKind := *ev(honest)
	wrongKind.Type = domain.EventRequestApproved
	future := *ev(honest)
	future.Version = domain.EventVersion + 1
	early := *ev(honest)
	early.Time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	// A field a later contract adds: written and carried alike, so the
	// event still agrees, and the write keeps it.
	withField := write(honest)
	withField.Value = append(bytes.TrimSuffix(withField.Value, []byte("}")), []byte(`,"steward":"Ms Li"}`)...)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	stamped := ev(honest)
	stamped.Time = at
	evWithField, _ := json.Marshal(stamped)
	evWithField = bytes.Replace(evWithField, write(honest).Value, withField.Value, 1)
	// The same value, differently spaced: the same JSON.
	spaced := write(honest)
	spaced.Value = bytes.ReplaceAll(spaced.Value, []byte(`,"`), []byte(`, "`))

	tests := []struct {
		name     string
		tx       blocktest.Tx
		want     []string // failed checks, in order
		entities []string // kind/id of the entities written
		believed bool
	}{
		{"honest: the contract's writes and event", blocktest.Tx{Signer: op1, Event: ev(honest)}, nil, []string{"dataset/ds1"}, true},
		{"a field this build does not know, in both", blocktest.Tx{Signer: op1, Time: at, RawEvent: evWithField, EventName: "dataset.updated", Writes: []blocktest.Write{withField}},
			nil, []string{"dataset/ds1"}, true},
		{"the same JSON spaced otherwise", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{spaced}}, nil, []string{"dataset/ds1"}, true},
		{"forged title in the event", blocktest.Tx{Signer: op1, Event: ev(forged), Writes: []blocktest.Write{write(honest)}},
			[]string{writeset.CheckEventContent}, []string{"dataset/ds1"}, false},
		{"event for an entity not written", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(other)}},
			[]string{writeset.CheckEventEntity, writeset.CheckEventUnannounced}, []string{"dataset/ds2"}, false},
		{"event and no write at all", blocktest.Tx{Signer: op1, Event: ev(honest), NoWrites: true}, []string{writeset.CheckEventEntity}, nil, false},
		{"writes and no event", blocktest.Tx{Signer: op1, NoEvent: true, Writes: []blocktest.Write{write(honest)}},
			[]string{writeset.CheckEventMissing}, []string{"dataset/ds1"}, false},
		{"an unparsable write", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(honest), {Key: "\x00dataset\x00ds3\x00", Value: []byte("{not json")}}},
			[]string{writeset.CheckWriteUnparsable}, []string{"dataset/ds1"}, false},
		{"a key the contract never forms", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{{Key: "plain", Value: []byte("x")}, write(honest)}},
			[]string{writeset.CheckWriteUnparsable}, []string{"dataset/ds1"}, false},
		{"an entity's value under another ID", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{{Key: write(other).Key, Value: write(honest).Value}}},
			[]string{writeset.CheckWriteUnparsable, writeset.CheckEventEntity}, nil, false},
		{"an entity deleted", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(honest), {Key: write(other).Key, Delete: true}}},
			[]string{writeset.CheckWriteDelete}, []string{"dataset/ds1"}, false},
		{"index and anchor keys, written and deleted, carry nothing", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{
			write(honest), blocktest.AnchorWrite("Dept1MSP"), {Key: "\x00dataset~owner\x00Dept1MSP\x00ds1\x00", Delete: true}}}, nil, []string{"dataset/ds1"}, true},
		{"an index key holding a value", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(honest), {Key: "\x00party\x00Dept1MSP\x00", Value: []byte("x")}}},
			[]string{writeset.CheckWriteUnparsable}, []string{"dataset/ds1"}, false},
		{"a status the entity does not have", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(retired)}},
			[]string{writeset.CheckEventContent, writeset.CheckEventRefs}, []string{"dataset/ds1"}, false},
		{"another owner in the references", blocktest.Tx{Signer: op1, Event: &wrongOwner}, []string{writeset.CheckEventRefs}, []string{"dataset/ds1"}, false},
		{"a type of another kind", blocktest.Tx{Signer: op1, Event: &wrongKind, Writes: []blocktest.Write{write(honest)}}, []string{writeset.CheckEventType}, []string{"dataset/ds1"}, false},
		{"an actor who did not sign", blocktest.Tx{Signer: op2, Event: ev(honest)}, []string{writeset.CheckEventActor}, []string{"dataset/ds1"}, false},
		{"a time that is not the timestamp", blocktest.Tx{Signer: op1, Event: &early}, []string{writeset.CheckEventTime}, []string{"dataset/ds1"}, false},
		{"an entity the event does not name", blocktest.Tx{Signer: op1, Event: ev(honest), Writes: []blocktest.Write{write(honest), write(other)}},
			[]string{writeset.CheckEventUnannounced}, []string{"dataset/ds1", "dataset/ds2"}, false},
		{"an event version this build does not read", blocktest.Tx{Signer: op1, Event: &future, Writes: []blocktest.Write{write(honest)}},
			[]string{writeset.CheckEventVersion}, []string{"dataset/ds1"}, false},
		{"an event that is not JSON", blocktest.Tx{Signer: op1, RawEvent: []byte("{"), EventName: "dataset.updated", Writes: []blocktest.Write{write(honest)}},
			[]string{writeset.CheckEventMalformed}, []string{"dataset/ds1"}, false},
		{"an unreadable read-write set", blocktest.Tx{Signer: op1, Event: ev(honest), RawResults: []byte("rwset")},
			[]string{writeset.CheckWritesUnreadable, writeset.CheckEventEntity}, nil, false},
		{"another chaincode writing the ledger's keys", blocktest.Tx{Signer: op1, Chaincode: "other", Namespace: "ledger", Event: ev(honest)},
			[]string{writeset.CheckEventMissing}, []string{"dataset/ds1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := decodeTx(t, tt.tx)
			if !tx.Applied {
				t.Fatalf("a VALID tx that writes or sets an event must be applied: %+v", tx)
			}
			r := writeset.Read(tx)
			var got []string
			for _, f := range r.Failures {
				if f.Detail == "" {
					t.Errorf("failure %s without detail", f.Check)
				}
				got = append(got, f.Check)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("failures %+v, want %v", r.Failures, tt.want)
			}
			var ents []string
			for _, e := range r.Entities {
				ents = append(ents, string(e.Kind)+"/"+e.ID)
				if e.Record == nil || len(e.Value) == 0 {
					t.Fatalf("entity %s without record or value", e.ID)
				}
			}
			if strings.Join(ents, " ") != strings.Join(tt.entities, " ") {
				t.Fatalf("entities %v, want %v", ents, tt.entities)
			}
			if (r.Event != nil) != tt.believed {
				t.Fatalf("event believed %v, want %v", r.Event != nil, tt.believed)
			}
		})
	}
}

// Every written entity's value is the bytes the block holds, so that the
// mirror stores what the ledger stores.
func TestReadKeepsTheWrittenBytes(t *testing.T) {
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	w := blocktest.EntityWrite(domain.KindDataset, "ds1", dataset("ds1", "Dept1MSP", "T"))
	w.Value = append(bytes.TrimSuffix(w.Value, []byte("}")), []byte(`,"later":{"x":1}}`)...)
	r := writeset.Read(decodeTx(t, blocktest.Tx{Signer: op, NoEvent: true, Writes: []blocktest.Write{w}}))
	if len(r.Entities) != 1 || !bytes.Equal(r.Entities[0].Value, w.Value) || r.Entities[0].Key != w.Key {
		t.Fatalf("entities %+v", r.Entities)
	}
}

// Each entity kind has its references and its event types, so that a kind
// added to the domain is not silently unchecked.
func TestEveryKindIsKnown(t *testing.T) {
	for _, k := range domain.Kinds {
		rec, err := domain.NewRecord(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := writeset.RefsOf(rec); !ok {
			t.Errorf("kind %s has no references in writeset.RefsOf", k)
		}
	}
	// Each event of the contract's builders agrees with the contract's
	// writes (blocktest builds both the contract's way).
	op := blocktest.NewIdentity("Dept1MSP", "op1")
	a := op.Actor(domain.RoleOperator)
	for _, e := range []*domain.Event{
		blocktest.DepartmentEvent(a, domain.Department{MSPID: "Dept1MSP", Name: "One", Code: "1", Level: domain.LevelMunicipal}),
		blocktest.DatasetEvent(domain.EventDatasetRegistered, a, dataset("ds1", "Dept1MSP", "T")),
		blocktest.RequestEvent(domain.EventRequestRevoked, a, domain.Request{ID: "r1", DatasetID: "ds1", Requester: "Dept2MSP", Owner: "Dept1MSP", Status: domain.RequestRevoked}),
		blocktest.RequestEvent(domain.EventRequestCoApproved, a, domain.Request{ID: "r2", DatasetID: "ds1", Requester: "Dept2MSP", Owner: "Dept1MSP", Status: domain.RequestPending, CoApprovedBy: &a}),
		blocktest.DeliveryEvent(domain.EventDeliveryRated, a, domain.Delivery{ID: "d1", RequestID: "r1", DatasetID: "ds1", Owner: "Dept1MSP", Requester: "Dept2MSP", Status: domain.DeliveryReceived}),
		blocktest.UsageEvent(a, domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP"}),
		blocktest.ContributionEvent(a, domain.Contribution{ID: "c1", DatasetID: "ds1", Contributor: "Dept2MSP", Owner: "Dept1MSP"}),
		blocktest.CorrectionEvent(domain.EventCorrectionResolved, a, domain.Correction{ID: "k1", DeliveryID: "d1", RequestID: "r1", DatasetID: "ds1", Owner: "Dept1MSP", Requester: "Dept2MSP", Status: domain.CorrectionResolved}),
		{Version: domain.EventVersion, Type: domain.EventScoreSnapshotPublished, Kind: domain.KindSnapshot, ID: "2026-03", Actor: a,
			Snapshot: &domain.ScoreSnapshot{ID: "2026-03", PublishedBy: a}},
	} {
		t.Run(string(e.Type), func(t *testing.T) {
			r := writeset.Read(decodeTx(t, blocktest.Tx{Signer: op, Event: e}))
			if len(r.Failures) != 0 || r.Event == nil {
				t.Fatalf("the contract's own %s fails: %+v", e.Type, r.Failures)
			}
		})
	}
}
