package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
)

func testPeople() []DeptPeople {
	var out []DeptPeople
	for _, msp := range []string{"Dept1MSP", "Dept2MSP", "Dept3MSP"} {
		out = append(out, DeptPeople{MSPID: msp, Operator: blocktest.NewIdentity(msp, "operator1"), Approver: blocktest.NewIdentity(msp, "approver1")})
	}
	return out
}

// TestSyntheticLedger builds a small ledger of the mix, replays it through
// the indexer's decoder and store as the benchmark does, and reads it back:
// every transaction applied, the hot dataset's events all there, the mix
// complete, and scores and metering computed from it.
func TestSyntheticLedger(t *testing.T) {
	spec := SyntheticSpec{Channel: "datashare", Txs: 1000, TxsPerBlock: 16, HotEvents: 120,
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Span: 30 * 24 * time.Hour, Flows: 8, People: testPeople()}
	syn, err := BuildSynthetic(spec)
	if err != nil {
		t.Fatal(err)
	}
	if syn.Txs != spec.Txs || len(syn.Blocks) != 1+(spec.Txs+spec.TxsPerBlock-1)/spec.TxsPerBlock || syn.Period != "2026-03" {
		t.Fatalf("%d tx in %d blocks, period %s", syn.Txs, len(syn.Blocks), syn.Period)
	}
	// The hot dataset's usage comes on top of the flows' own.
	flows := syn.Events[domain.EventDatasetRegistered] - 1
	if flows < 100 || syn.Events[domain.EventRequestCreated] != flows+1 || syn.Events[domain.EventRequestApproved] != flows+1 ||
		syn.Events[domain.EventDeliveryRecorded] < flows-spec.Flows || syn.Events[domain.EventContributionAdded] < flows-spec.Flows {
		t.Fatalf("the mix is off: %v", syn.Events)
	}

	dir := t.TempDir()
	r, err := replaySynthetic(context.Background(), syn, dir, "datashare", "ledger")
	if err != nil {
		t.Fatal(err)
	}
	if r.Txs != spec.Txs || r.Blocks != len(syn.Blocks) || r.TxPerSec <= 0 || r.DiskBytes <= 0 || r.TxsPerBlock < 15 || r.TxsPerBlock > 16 {
		t.Fatalf("replay %+v", r)
	}
	st, err := store.Open(dir, store.Options{Channel: "datashare", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := scores.Attach(st, nil)
	ctx := context.Background()
	if st.Height() != uint64(len(syn.Blocks)) {
		t.Fatalf("height %d, want %d", st.Height(), len(syn.Blocks))
	}
	n := 0
	if err := st.TraceEach(ctx, store.TraceDataset, syn.HotDataset, func(e *store.EventRecord) error {
		n++
		if e.DatasetID != syn.HotDataset || e.Timestamp.Before(spec.Start) || !e.Timestamp.Before(syn.To) {
			t.Fatalf("hot event %+v", e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != spec.HotEvents {
		t.Fatalf("the hot dataset has %d events, want %d", n, spec.HotEvents)
	}
	doc, err := sc.Scores(ctx, score.Default(), syn.Period, st.Height()-1)
	if err != nil || len(doc.Items) != 3 {
		t.Fatalf("scores %+v, %v", doc, err)
	}
	rows, err := st.Metering(ctx, store.MeterQuery{Bucket: store.BucketDay, Dataset: syn.HotDataset, From: syn.From, To: syn.To})
	if err != nil || len(rows) < 25 {
		t.Fatalf("%d metering rows of the hot dataset over 30 days, %v", len(rows), err)
	}
}

func TestSyntheticSpecChecked(t *testing.T) {
	good := SyntheticSpec{Channel: "c", Txs: 100, TxsPerBlock: 10, HotEvents: 10, Start: time.Now(), Span: time.Hour, People: testPeople()}
	for _, tt := range []struct {
		name string
		edit func(*SyntheticSpec)
	}{
		{"one department", func(s *SyntheticSpec) { s.People = s.People[:1] }},
		{"no block size", func(s *SyntheticSpec) { s.TxsPerBlock = 0 }},
		{"more hot events than transactions", func(s *SyntheticSpec) { s.HotEvents = 200 }},
		{"too few hot events for a request", func(s *SyntheticSpec) { s.HotEvents = 2 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.edit(&s)
			if _, err := BuildSynthetic(s); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
