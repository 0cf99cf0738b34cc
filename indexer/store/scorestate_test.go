package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/govshare/ledger/chaincode/domain"
	"github.com/govshare/ledger/indexer/block"
	"github.com/govshare/ledger/indexer/block/blocktest"
	"github.com/govshare/ledger/indexer/score"
	"github.com/govshare/ledger/indexer/store"
)

// randomLedger is a ledger of nblocks blocks of the whole mix (profiles,
// datasets registered, updated and retired, requests decided or left
// waiting, deliveries received, disputed and rated, usage, contributions
// accepted, corrections) over about four months, its times mostly going
// forward but now and then a few hours back across a month's end, and, if
// late, one event a month and a half back: what a clock off by that much
// would sign.
func randomLedger(t *testing.T, seed uint64, nblocks int, late bool) *ledger {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	l := newLedger(t)
	type dept struct{ op, appr blocktest.Identity }
	var depts []dept
	for i := range 3 {
		msp := fmt.Sprintf("Dept%dMSP", i+1)
		depts = append(depts, dept{blocktest.NewIdentity(msp, "op"), blocktest.NewIdentity(msp, "appr")})
	}
	var (
		datasets   []domain.Dataset
		pending    []domain.Request
		approved   []domain.Request
		deliveries []domain.Delivery
		received   []domain.Delivery
		contribs   []domain.Contribution
		opened     []domain.Correction
	)
	clock := time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	n := 0
	id := func(p string) string { n++; return fmt.Sprintf("%s%04d", p, n) }
	opOf := func(msp string) blocktest.Identity {
		for _, d := range depts {
			if d.op.MSPID == msp {
				return d.op
			}
		}
		panic(msp)
	}
	apprOf := func(msp string) blocktest.Identity {
		for _, d := range depts {
			if d.appr.MSPID == msp {
				return d.appr
			}
		}
		panic(msp)
	}
	pick := func(k int) int { return rng.IntN(k) }
	shares := []domain.ShareType{domain.ShareUnconditional, domain.ShareConditional, domain.ShareNone}
	opens := []domain.OpenType{domain.OpenOpen, domain.OpenRestricted, domain.OpenClosed}
	lateAt := -1
	if late {
		lateAt = nblocks * 3 / 4
	}
	for bn := 0; bn < nblocks; bn++ {
		var txs []blocktest.Tx
		for range 1 + pick(4) {
			clock = clock.Add(time.Duration(rng.Int64N(int64(8 * time.Hour))))
			when := clock
			if pick(10) == 0 {
				when = when.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour)))) // a little back
			}
			if bn == lateAt && len(txs) == 0 {
				when = clock.Add(-45 * 24 * time.Hour)
			}
			var tx blocktest.Tx
			switch k := pick(12); {
			case k == 0 || len(datasets) < 3:
				d := depts[pick(3)]
				ds := dataset(id("ds"), d.op.MSPID, shares[pick(3)], 1+pick(4))
				ds.OpenType = opens[pick(3)]
				datasets = append(datasets, ds)
				tx = blocktest.Tx{Signer: d.op, Event: blocktest.DatasetEvent(domain.EventDatasetRegistered, d.op.Actor(domain.RoleOperator), ds)}
			case k == 1:
				i := pick(len(datasets))
				ds := datasets[i]
				ds.Version++
				typ := domain.EventDatasetUpdated
				if pick(3) == 0 && ds.Status == domain.DatasetActive {
					ds.Status, typ = domain.DatasetRetired, domain.EventDatasetRetired
				} else {
					ds.ShareType, ds.OpenType = shares[pick(3)], opens[pick(3)]
				}
				datasets[i] = ds
				op := opOf(ds.Owner)
				tx = blocktest.Tx{Signer: op, Event: blocktest.DatasetEvent(typ, op.Actor(domain.RoleOperator), ds)}
			case k == 2:
				ds := datasets[pick(len(datasets))]
				req := depts[pick(3)]
				if req.op.MSPID == ds.Owner {
					continue
				}
				r := request(id("rq"), ds.ID, req.op.MSPID, ds.Owner, domain.RequestPending, when.Add(time.Duration(pick(90))*24*time.Hour))
				r.CreatedAt = when
				pending = append(pending, r)
				tx = blocktest.Tx{Signer: req.op, Event: blocktest.RequestEvent(domain.EventRequestCreated, req.op.Actor(domain.RoleOperator), r)}
			case k == 3 && len(pending) > 0:
				i := pick(len(pending))
				r := pending[i]
				pending = append(pending[:i], pending[i+1:]...)
				ap := apprOf(r.Owner)
				a := ap.Actor(domain.RoleApprover)
				typ := domain.EventRequestApproved
				r.Status, r.DecidedAt, r.DecidedBy = domain.RequestApproved, &when, &a
				if pick(3) == 0 {
					typ, r.Status = domain.EventRequestRejected, domain.RequestRejected
				} else {
					approved = append(approved, r)
				}
				tx = blocktest.Tx{Signer: ap, Event: blocktest.RequestEvent(typ, a, r)}
			case (k == 4 || k == 5) && len(approved) > 0:
				r := approved[pick(len(approved))]
				op := opOf(r.Owner)
				d := domain.Delivery{ID: id("dl"), RequestID: r.ID, DatasetID: r.DatasetID, Owner: r.Owner, Requester: r.Requester,
					SHA256: fmt.Sprintf("%064d", n), Records: int64(1 + pick(5000)), Bytes: 100, Channel: "sftp", Status: domain.DeliveryDelivered, DeliveredAt: when}
				deliveries = append(deliveries, d)
				tx = blocktest.Tx{Signer: op, Event: blocktest.DeliveryEvent(domain.EventDeliveryRecorded, op.Actor(domain.RoleOperator), d)}
			case k == 6 && len(deliveries) > 0:
				i := pick(len(deliveries))
				d := deliveries[i]
				deliveries = append(deliveries[:i], deliveries[i+1:]...)
				op := opOf(d.Requester)
				a := op.Actor(domain.RoleOperator)
				d.Status, d.ReceiptSHA256, d.ReceivedAt, d.ReceivedBy = domain.DeliveryReceived, d.SHA256, &when, &a
				if pick(4) == 0 {
					d.Status, d.ReceiptSHA256 = domain.DeliveryDisputed, fmt.Sprintf("%064d", n+1)
				}
				received = append(received, d)
				tx = blocktest.Tx{Signer: op, Event: blocktest.DeliveryEvent(domain.EventDeliveryReceived, a, d)}
			case k == 7 && len(received) > 0:
				d := received[pick(len(received))]
				if d.Feedback != nil {
					continue
				}
				op := opOf(d.Requester)
				d.Feedback = &domain.Feedback{Timeliness: 1 + pick(5), Accuracy: 1 + pick(5), Completeness: 1 + pick(5), Consistency: 1 + pick(5)}
				tx = blocktest.Tx{Signer: op, Event: blocktest.DeliveryEvent(domain.EventDeliveryRated, op.Actor(domain.RoleOperator), d)}
			case k == 8 && len(approved) > 0:
				r := approved[pick(len(approved))]
				op := opOf(r.Requester)
				a := op.Actor(domain.RoleOperator)
				tx = blocktest.Tx{Signer: op, Event: blocktest.UsageEvent(a, domain.Usage{ID: id("us"), RequestID: r.ID, DatasetID: r.DatasetID,
					Consumer: r.Requester, Owner: r.Owner, Calls: int64(1 + pick(9)), Records: int64(pick(900)), At: when, By: a})}
			case k == 9:
				ds := datasets[pick(len(datasets))]
				c := depts[pick(3)]
				if c.op.MSPID == ds.Owner {
					continue
				}
				a := c.op.Actor(domain.RoleOperator)
				cb := domain.Contribution{ID: id("cb"), DatasetID: ds.ID, Contributor: c.op.MSPID, Owner: ds.Owner, Records: int64(1 + pick(1<<20)),
					Bytes: 10, SHA256: fmt.Sprintf("%064d", n), Status: domain.ContributionPending, At: when, By: a}
				contribs = append(contribs, cb)
				e := blocktest.ContributionEvent(a, cb)
				e.Status = string(cb.Status)
				tx = blocktest.Tx{Signer: c.op, Event: e}
			case k == 10 && len(contribs) > 0:
				i := pick(len(contribs))
				cb := contribs[i]
				contribs = append(contribs[:i], contribs[i+1:]...)
				ap := apprOf(cb.Owner)
				cb.Status = domain.ContributionAccepted
				e := blocktest.ContributionEvent(ap.Actor(domain.RoleApprover), cb)
				e.Type, e.Status = domain.EventContributionAccepted, string(cb.Status)
				tx = blocktest.Tx{Signer: ap, Event: e}
			case k == 11 && len(received) > 0:
				if len(opened) > 0 && pick(2) == 0 {
					c := opened[0]
					opened = opened[1:]
					op := opOf(c.Owner)
					a := op.Actor(domain.RoleOperator)
					c.Status, c.Resolution, c.ResolvedAt, c.ResolvedBy = domain.CorrectionResolved, "fixed", &when, &a
					tx = blocktest.Tx{Signer: op, Event: blocktest.CorrectionEvent(domain.EventCorrectionResolved, a, c)}
					break
				}
				d := received[pick(len(received))]
				op := opOf(d.Requester)
				a := op.Actor(domain.RoleOperator)
				c := domain.Correction{ID: id("cr"), DeliveryID: d.ID, RequestID: d.RequestID, DatasetID: d.DatasetID, Requester: d.Requester,
					Owner: d.Owner, Description: "wrong", Status: domain.CorrectionOpen, OpenedAt: when, OpenedBy: a}
				opened = append(opened, c)
				tx = blocktest.Tx{Signer: op, Event: blocktest.CorrectionEvent(domain.EventCorrectionOpened, a, c)}
			default:
				d := depts[pick(3)]
				tx = blocktest.Tx{Signer: d.op, Event: blocktest.DepartmentEvent(d.op.Actor(domain.RoleOperator),
					domain.Department{MSPID: d.op.MSPID, Name: "Department " + d.op.MSPID})}
			}
			tx.ID, tx.Time = id("tx"), when
			txs = append(txs, tx)
		}
		l.block(txs...)
	}
	return l
}

// The scores from the stored aggregates are the reference pass's, byte for
// byte, on random ledgers, for random periods and blocks, on a mirror
// built in one run and on one closed and opened again at random blocks
// (in the middle of a period, with the live period's builder brought back
// from its stored point), asked both at the head as the blocks come and
// afterwards.
func TestScoresFromStoredAggregates(t *testing.T) {
	ctx := context.Background()
	m := score.Default()
	periods := []string{"2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			l := randomLedger(t, seed, 180, seed%2 == 1)
			rng := rand.New(rand.NewPCG(seed, 7))
			check := func(s *store.Store, period string, asOf uint64, what string) {
				t.Helper()
				got, err := scoresOf(s).Scores(ctx, m, period, asOf)
				if err != nil {
					t.Fatalf("%s: scores of %s as of %d: %v", what, period, asOf, err)
				}
				want, err := scoresOf(s).ScoresFromGenesis(ctx, m, period, asOf)
				if err != nil {
					t.Fatal(err)
				}
				x, _ := json.Marshal(got)
				y, _ := json.Marshal(want)
				if string(x) != string(y) {
					t.Fatalf("%s: %s as of %d:\nstored    %s\nreference %s", what, period, asOf, x, y)
				}
			}
			one := open(t, t.TempDir(), store.Options{})
			for _, b := range l.blocks {
				applyAll(t, one, []*block.Block{b})
				if b.Number%7 == 0 {
					check(one, periods[rng.IntN(len(periods))], b.Number, "one run, at the head")
				}
			}

			dir := t.TempDir()
			var two *store.Store
			for i := 0; i < len(l.blocks); {
				j := min(len(l.blocks), i+1+rng.IntN(60))
				two = open(t, dir, store.Options{})
				if i > 0 {
					// Reopened in the middle of a period: the head first.
					check(two, periods[1+rng.IntN(4)], uint64(i-1), "reopened, at the head")
				}
				applyAll(t, two, l.blocks[i:j])
				if j < len(l.blocks) {
					two.Close()
				}
				i = j
			}
			if string(digest(t, one)) != string(digest(t, two)) {
				t.Fatal("the mirrors built in one run and in several differ")
			}
			last := uint64(len(l.blocks) - 1)
			for range 60 {
				p, asOf := periods[rng.IntN(len(periods))], uint64(rng.IntN(int(last)+1))
				check(one, p, asOf, "one run")
				check(two, p, asOf, "several runs")
			}
			// Advancing a block at a time, as a live ledger's queries do.
			p := periods[2+rng.IntN(2)]
			for asOf := last - 40; asOf <= last; asOf++ {
				check(two, p, asOf, "advancing")
			}
		})
	}
}
