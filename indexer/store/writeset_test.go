package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/store"
	"github.com/govshare/ledger/indexer/writeset"
)

// forged builds, on top of the standard ledger, one block per case: a
// coalition's transaction whose event and write set disagree.
func TestApplyFromTheWriteSet(t *testing.T) {
	ctx := context.Background()
	honest := dataset("ds1", "Dept1MSP", domain.ShareUnconditional, 2)
	honest.Version = 2 // ds1 as the standard ledger leaves it
	v3 := honest
	v3.Version, v3.Title = 3, "Title ds1, third version"
	forgedV3 := v3
	forgedV3.Title, forgedV3.ShareType = "Forged by Dept2", domain.ShareNone
	write := func(d domain.Dataset) blocktest.Write { return blocktest.EntityWrite(domain.KindDataset, d.ID, d) }
	// A field a later contract adds to the entity: the mirror keeps it.
	later := write(v3)
	later.Value = append(bytes.TrimSuffix(later.Value, []byte("}")), []byte(`,"steward":"Ms Li"}`)...)
	ds7 := dataset("ds7", "Dept2MSP", domain.ShareConditional, 1)

	tests := []struct {
		name      string
		tx        func(l *ledger) blocktest.Tx
		anomaly   string         // the check the tx fails; "" for none
		ds1       domain.Dataset // ds1 as the mirror must then hold it
		ds1Bytes  []byte         // and its exact bytes, when checked
		traceType domain.EventType
		traced    bool // the tx has a trace entry
	}{
		{"honest update applied from the write set", func(l *ledger) blocktest.Tx {
			return blocktest.Tx{ID: "t-x", Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op1.Actor(domain.RoleOperator), v3)}
		}, "", v3, write(v3).Value, domain.EventDatasetUpdated, true},
		{"honest update with a field this build does not know", func(l *ledger) blocktest.Tx {
			at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			e := blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op1.Actor(domain.RoleOperator), v3)
			e.Time = at
			payload, _ := json.Marshal(e)
			payload = bytes.Replace(payload, write(v3).Value, later.Value, 1)
			return blocktest.Tx{ID: "t-x", Signer: l.op1, Time: at, RawEvent: payload, EventName: string(e.Type), Writes: []blocktest.Write{later}}
		}, "", v3, later.Value, domain.EventDatasetUpdated, true},
		{"forged title: the entity is what was written", func(l *ledger) blocktest.Tx {
			return blocktest.Tx{ID: "t-x", Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op2.Actor(domain.RoleOperator), forgedV3),
				Writes: []blocktest.Write{write(v3)}}
		}, writeset.CheckEventContent, v3, write(v3).Value, writeset.TypeStateWritten, true},
		{"event for an entity the tx did not write", func(l *ledger) blocktest.Tx {
			return blocktest.Tx{ID: "t-x", Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op2.Actor(domain.RoleOperator), forgedV3),
				Writes: []blocktest.Write{write(ds7)}}
		}, writeset.CheckEventEntity, honest, nil, writeset.TypeStateWritten, true},
		{"event and no write at all", func(l *ledger) blocktest.Tx {
			return blocktest.Tx{ID: "t-x", Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op2.Actor(domain.RoleOperator), forgedV3), NoWrites: true}
		}, writeset.CheckEventEntity, honest, nil, "", false},
		{"writes and no event", func(l *ledger) blocktest.Tx {
			return blocktest.Tx{ID: "t-x", Signer: l.op1, NoEvent: true, Writes: []blocktest.Write{write(v3)}}
		}, writeset.CheckEventMissing, v3, write(v3).Value, writeset.TypeStateWritten, true},
		{"unparsable write: never applied", func(l *ledger) blocktest.Tx {
			bad := write(v3)
			bad.Value = []byte(`{"id":"ds1","owner":`)
			return blocktest.Tx{ID: "t-x", Signer: l.op1, Event: blocktest.DatasetEvent(domain.EventDatasetUpdated, l.op1.Actor(domain.RoleOperator), v3),
				Writes: []blocktest.Write{bad}}
		}, writeset.CheckWriteUnparsable, honest, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := standard(t)
			l.block(tt.tx(l))
			// The ledger goes on: a later honest block applies as ever.
			l.block(blocktest.Tx{ID: "t-after", Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, l.op2.Actor(domain.RoleOperator),
				dataset("ds8", "Dept2MSP", domain.ShareConditional, 2))})
			s := open(t, t.TempDir(), store.Options{})
			applyAll(t, s, l.blocks)

			e, err := s.GetDataset(ctx, "ds1")
			if err != nil {
				t.Fatal(err)
			}
			d := e.Value
			if d.Title != tt.ds1.Title || d.Version != tt.ds1.Version || d.ShareType != tt.ds1.ShareType {
				t.Fatalf("ds1 = %q v%d %s, want %q v%d %s", d.Title, d.Version, d.ShareType, tt.ds1.Title, tt.ds1.Version, tt.ds1.ShareType)
			}
			if tt.ds1Bytes != nil {
				raw, err := s.GetEntity(ctx, domain.KindDataset, "ds1")
				if err != nil || !bytes.Equal(raw, tt.ds1Bytes) {
					t.Fatalf("ds1 stored as %s, want the bytes written %s", raw, tt.ds1Bytes)
				}
			}
			// Indexes follow the written entity, never the event.
			items, _, err := s.ListDatasets(ctx, store.DatasetFilter{ShareType: domain.ShareNone}, store.Page{})
			if err != nil || !slices.Equal(ids(items, datasetID), []string{"ds3"}) {
				t.Fatalf("datasets not shared: %v, %v", ids(items, datasetID), err)
			}
			if _, err := s.GetDataset(ctx, "ds8"); err != nil {
				t.Fatalf("the block after: %v", err)
			}

			txs, err := s.Transactions(ctx, "t-x")
			if err != nil || len(txs) != 1 || !txs[0].Applied || txs[0].Anomaly != tt.anomaly {
				t.Fatalf("tx record %+v, %v; want anomaly %q", txs, err, tt.anomaly)
			}
			anomalies, _, err := s.Anomalies(ctx, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.anomaly == "" {
				if len(anomalies) != 0 {
					t.Fatalf("anomalies %+v, want none", anomalies)
				}
			} else {
				if len(anomalies) != 1 {
					t.Fatalf("anomalies %+v, want one", anomalies)
				}
				a := anomalies[0]
				if a.TxID != "t-x" || a.BlockNumber != 4 || a.TxIndex != 0 || a.Check != tt.anomaly || a.Failures[0].Check != tt.anomaly ||
					a.Detail == "" || len(a.Writes) == 0 && tt.ds1Bytes != nil || a.MSPID == "" || a.Actor == "" {
					t.Fatalf("anomaly %+v", a)
				}
				at, err := s.AnomalyAt(ctx, 4, 0)
				if err != nil || at.TxID != "t-x" {
					t.Fatalf("anomaly at 4/0: %+v, %v", at, err)
				}
			}
			ev, err := s.EventAt(ctx, 4, 0)
			if !tt.traced {
				if domain.ErrorCode(err) != domain.CodeNotFound {
					t.Fatalf("trace entry %+v, %v; want none", ev, err)
				}
				return
			}
			if err != nil || ev.Type != tt.traceType || ev.Anomaly != tt.anomaly {
				t.Fatalf("trace entry %+v, %v; want type %s", ev, err, tt.traceType)
			}
			if tt.anomaly != "" && (ev.Role != "" || string(ev.Event) != "null" || ev.PayloadSHA256 != "") {
				t.Fatalf("an anomalous trace entry keeps the event's claims: %+v", ev)
			}
		})
	}
}

// The event as received is kept in the anomaly, byte for byte.
func TestAnomalyKeepsTheEvent(t *testing.T) {
	l := standard(t)
	raw := []byte(`{"v":1, "type":"dataset.updated","kind":"dataset","id":"ds1","dataset":{"id":"ds1","title":"<forged>"}}`)
	l.block(blocktest.Tx{ID: "t-x", Signer: l.op2, RawEvent: raw, EventName: "dataset.updated",
		Writes: []blocktest.Write{blocktest.EntityWrite(domain.KindDataset, "ds7", dataset("ds7", "Dept2MSP", domain.ShareNone, 1))}})
	l.block(blocktest.Tx{ID: "t-y", Signer: l.op2, RawEvent: []byte("not json"), EventName: "x",
		Writes: []blocktest.Write{blocktest.EntityWrite(domain.KindDataset, "ds8", dataset("ds8", "Dept2MSP", domain.ShareNone, 1))}})
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	var got []store.Anomaly
	page := store.Page{Limit: 1}
	for range 5 {
		items, next, err := s.Anomalies(context.Background(), page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, items...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(got) != 2 || got[0].TxID != "t-x" || got[1].TxID != "t-y" {
		t.Fatalf("anomalies %+v", got)
	}
	x, y := got[0], got[1]
	if !bytes.Equal(x.Payload, raw) || x.Check != writeset.CheckEventEntity || !json.Valid(x.Event) || x.EventName != "dataset.updated" {
		t.Fatalf("anomaly %+v", x)
	}
	if len(x.Writes) != 1 || x.Writes[0].Kind != domain.KindDataset || x.Writes[0].ID != "ds7" || len(x.Writes[0].ValueSHA256) != 64 {
		t.Fatalf("writes %+v", x.Writes)
	}
	if !bytes.Equal(y.Payload, []byte("not json")) || string(y.Event) != "null" || y.Check != writeset.CheckEventMalformed {
		t.Fatalf("anomaly %+v", y)
	}
	// ds7 is the ledger's, so it is in the mirror, traced as written.
	hist, _, err := s.EntityEvents(context.Background(), domain.KindDataset, "ds7", store.Page{})
	if err != nil || len(hist) != 1 || hist[0].Type != writeset.TypeStateWritten || hist[0].Owner != "Dept2MSP" {
		t.Fatalf("ds7 history %+v, %v", hist, err)
	}
}

// A forged event feeds neither metering nor scores: only what the mirror
// believes does.
func TestAnomaliesMeterNothing(t *testing.T) {
	l := standard(t)
	at := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	u := domain.Usage{ID: "u1", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 1, Records: 10}
	inflated := u
	inflated.Records = 1 << 40
	a2 := l.op2.Actor(domain.RoleOperator)
	l.block(
		blocktest.Tx{ID: "t-u1", Signer: l.op2, Time: at, Event: blocktest.UsageEvent(a2, inflated), Writes: []blocktest.Write{blocktest.EntityWrite(domain.KindUsage, "u1", u)}},
		blocktest.Tx{ID: "t-u2", Signer: l.op2, Time: at, Event: blocktest.UsageEvent(a2, domain.Usage{ID: "u2", RequestID: "r1", DatasetID: "ds1", Consumer: "Dept2MSP", Owner: "Dept1MSP", Calls: 1, Records: 7})},
	)
	s := open(t, t.TempDir(), store.Options{})
	applyAll(t, s, l.blocks)
	rows, err := s.Metering(context.Background(), store.MeterQuery{Bucket: store.BucketMonth, From: at, To: at.Add(time.Hour)})
	if err != nil || len(rows) != 1 || rows[0].Records != 7 || rows[0].Calls != 1 {
		t.Fatalf("metering %+v, %v", rows, err)
	}
	got, err := s.GetUsage(context.Background(), "u1")
	if err != nil || got.Value.Records != 10 {
		t.Fatalf("u1 %+v, %v", got, err)
	}
}

// Mirrors fed the same blocks, anomalies included, are byte-identical,
// however the blocks were applied (in one transaction or in parts).
func TestAnomalyDigestIsDeterministic(t *testing.T) {
	l := standard(t)
	a2 := l.op2.Actor(domain.RoleOperator)
	var txs []blocktest.Tx
	for i := range 30 {
		d := dataset(fmt.Sprintf("f%02d", i), "Dept2MSP", domain.ShareConditional, 2)
		d.Description = strings.Repeat("x", 3000)
		forged := d
		forged.Title = "forged"
		switch i % 3 {
		case 0:
			txs = append(txs, blocktest.Tx{Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a2, forged),
				Writes: blocktest.ContractWrites(blocktest.DatasetEvent(domain.EventDatasetRegistered, a2, d))})
		case 1:
			txs = append(txs, blocktest.Tx{Signer: l.op2, NoEvent: true, Writes: []blocktest.Write{blocktest.EntityWrite(domain.KindDataset, d.ID, d)}})
		default:
			txs = append(txs, blocktest.Tx{Signer: l.op2, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, a2, d)})
		}
	}
	l.block(txs...)
	a := open(t, t.TempDir(), store.Options{})
	b := open(t, t.TempDir(), store.Options{})
	small := open(t, t.TempDir(), store.Options{MemTableSize: 1 << 20})
	applyAll(t, a, l.blocks)
	applyAll(t, b, l.blocks[:3])
	applyAll(t, b, l.blocks)
	applyAll(t, small, l.blocks)
	if !bytes.Equal(digest(t, a), digest(t, b)) || !bytes.Equal(digest(t, a), digest(t, small)) {
		t.Fatal("mirrors of the same ledger differ")
	}
	items, _, err := a.Anomalies(context.Background(), store.Page{Limit: 1000})
	if err != nil || len(items) != 20 {
		t.Fatalf("%d anomalies, %v; want 20", len(items), err)
	}
}
