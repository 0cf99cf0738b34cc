package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/scores"
	"github.com/govshare/ledger/indexer/store"
)

// synthetic makes a realistic ledger: 8 departments with 5 datasets each,
// then blocks of txsPerBlock transactions cycling through request,
// delivery, receipt, rating, usage and contribution, one minute apart.
func synthetic(blocks, txsPerBlock int) []*common.Block {
	const depts = 8
	ids := make([]blocktest.Identity, depts)
	for i := range ids {
		ids[i] = blocktest.NewIdentity(fmt.Sprintf("Dept%dMSP", i+1), "op")
	}
	c := blocktest.NewChain("datashare")
	c.Clock = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := []*common.Block{c.Genesis(ids[0])}
	var txs []blocktest.Tx
	flush := func() {
		out = append(out, c.Block(txs...))
		txs = nil
	}
	add := func(signer blocktest.Identity, e *domain.Event) {
		c.Clock = c.Clock.Add(time.Minute)
		txs = append(txs, blocktest.Tx{Signer: signer, Event: e, Time: c.Clock})
		if len(txs) == txsPerBlock {
			flush()
		}
	}
	for d := range depts {
		for k := range 5 {
			ds := domain.Dataset{ID: fmt.Sprintf("ds-%d-%d", d, k), Owner: ids[d].MSPID, Title: "Dataset", Description: strings.Repeat("d", 200),
				Fields: []string{"a", "b", "c", "d"}, UpdateFrequency: "daily", ShareType: domain.ShareConditional, OpenType: domain.OpenRestricted,
				Grade: 2, Version: 1, Status: domain.DatasetActive, DerivedFrom: []string{}}
			add(ids[d], blocktest.DatasetEvent(domain.EventDatasetRegistered, ids[d].Actor(domain.RoleOperator), ds))
		}
	}
	hash := strings.Repeat("c", 64)
	for n := 0; len(out) <= blocks; n++ {
		o, r := n%depts, (n+1+n/depts)%depts
		if r == o {
			r = (r + 1) % depts
		}
		owner, req := ids[o], ids[r]
		rid, did := fmt.Sprintf("rq-%06d", n), fmt.Sprintf("dl-%06d", n)
		rq := domain.Request{ID: rid, DatasetID: fmt.Sprintf("ds-%d-%d", o, n%5), Requester: req.MSPID, Owner: owner.MSPID, Fields: []string{"a"},
			Purpose: "benefit checks", LegalBasis: "Regulation 12", ValidUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Status: domain.RequestApproved}
		add(req, blocktest.RequestEvent(domain.EventRequestCreated, req.Actor(domain.RoleOperator), rq))
		dl := domain.Delivery{ID: did, RequestID: rid, DatasetID: rq.DatasetID, Owner: owner.MSPID, Requester: req.MSPID, SHA256: hash,
			Records: int64(100 + n%50), Bytes: 10000, Channel: "sftp", Status: domain.DeliveryDelivered}
		add(owner, blocktest.DeliveryEvent(domain.EventDeliveryRecorded, owner.Actor(domain.RoleOperator), dl))
		dl.Status = domain.DeliveryReceived
		add(req, blocktest.DeliveryEvent(domain.EventDeliveryReceived, req.Actor(domain.RoleOperator), dl))
		dl.Feedback = &domain.Feedback{Timeliness: 1 + n%5, Accuracy: 4, Completeness: 5, Consistency: 3}
		add(req, blocktest.DeliveryEvent(domain.EventDeliveryRated, req.Actor(domain.RoleOperator), dl))
		add(req, blocktest.UsageEvent(req.Actor(domain.RoleOperator), domain.Usage{ID: fmt.Sprintf("us-%06d", n), RequestID: rid,
			DatasetID: rq.DatasetID, Consumer: req.MSPID, Owner: owner.MSPID, Calls: 3, Records: 30}))
		add(req, blocktest.ContributionEvent(req.Actor(domain.RoleOperator), domain.Contribution{ID: fmt.Sprintf("cb-%06d", n),
			DatasetID: rq.DatasetID, Contributor: req.MSPID, Owner: owner.MSPID, Records: 10, Bytes: 1000, SHA256: hash}))
	}
	return out[:blocks+1]
}

func decodeAll(b *testing.B, raw []*common.Block) ([]*block.Block, int) {
	b.Helper()
	var out []*block.Block
	events := 0
	for _, r := range raw {
		d, err := dec.Decode(r)
		if err != nil {
			b.Fatal(err)
		}
		events += len(d.Txs)
		out = append(out, d)
	}
	return out, events
}

// BenchmarkReplay applies a ledger of 200 blocks of 10 events into a fresh
// mirror: how fast an indexer rebuilds.
func BenchmarkReplay(b *testing.B) {
	raw := synthetic(200, 10)
	for _, withDecode := range []bool{false, true} {
		b.Run(map[bool]string{false: "apply", true: "decode+apply"}[withDecode], func(b *testing.B) {
			blocks, events := decodeAll(b, raw)
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				s, err := store.Open(b.TempDir(), store.Options{Channel: "datashare"})
				if err != nil {
					b.Fatal(err)
				}
				scores.Attach(s, nil)
				b.StartTimer()
				start := time.Now()
				for i, blk := range blocks {
					if withDecode {
						if blk, err = dec.Decode(raw[i]); err != nil {
							b.Fatal(err)
						}
					}
					if err := s.ApplyBlock(context.Background(), blk); err != nil {
						b.Fatal(err)
					}
				}
				total += time.Since(start)
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(events*b.N)/total.Seconds(), "events/s")
			b.ReportMetric(float64(len(blocks)*b.N)/total.Seconds(), "blocks/s")
		})
	}
}

// BenchmarkQueries measures the read side on the same ledger: a score
// document over every event, one page of a busy department's trace, and a
// month of daily metering.
func BenchmarkQueries(b *testing.B) {
	raw := synthetic(200, 10)
	blocks, events := decodeAll(b, raw)
	s, err := store.Open(b.TempDir(), store.Options{Channel: "datashare"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := scores.Attach(s, nil)
	for _, blk := range blocks {
		if err := s.ApplyBlock(context.Background(), blk); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	model := score.Default()
	last := uint64(len(blocks) - 1)
	b.Run("scores", func(b *testing.B) {
		for b.Loop() {
			if _, err := sc.Scores(ctx, model, "2026-03", last); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(events), "events")
	})
	b.Run("trace-page", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.Trace(ctx, store.TraceDepartment, "Dept1MSP", store.Page{Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("metering-month-daily", func(b *testing.B) {
		q := store.MeterQuery{Bucket: store.BucketDay, From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
		for b.Loop() {
			if _, err := s.Metering(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
}
